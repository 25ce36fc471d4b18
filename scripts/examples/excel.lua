-- excel.lua — what the example scripts share about the spreadsheets
-- operators feed them and open their output in (local excel = require("excel")).
--
-- excel.reader(path, {"num_iid", "price"}) returns a function that takes a
-- row of the file and returns it checked and cleaned:
--   * the first row is checked for every column the script needs; a missing
--     one stops the script naming it and the columns the file has (a file
--     with Chinese headers, or separated by ";", fails here rather than with
--     "attempt to concatenate a nil value");
--   * cells Excel keeps as text, ="3612345000299995456" (what excel.id
--     writes), are read back as their text.
--
-- excel.id(v) writes an id so that Excel keeps every digit: ="...". Excel
-- reads a bare number of more than 15 digits (a 19-digit trade id) as a
-- double and drops the rest, and shows ids of 12 digits and more as
-- 6.00000E+11, which it also saves back into a CSV. ="..." is a formula
-- whose value is the text itself: Excel, WPS and LibreOffice show the
-- digits, and save them as plain text. (A leading tab or apostrophe would
-- stay in the value for every other reader.) excel.reader reads it back.

local M = {}

-- text returns a cell's text: ="..." unwrapped, anything else as it is.
local function text(v)
  if type(v) == "string" then
    local inner = v:match('^="(.*)"$')
    if inner then return (inner:gsub('""', '"')) end
  end
  return v
end
M.text = text

function M.id(v)
  if v == nil or v == "" then return "" end
  return '="' .. tostring(v):gsub('"', '""') .. '"'
end

function M.reader(path, names)
  local checked = false
  return function(row)
    if not checked then
      local missing = {}
      for _, n in ipairs(names) do
        if row[n] == nil then missing[#missing + 1] = n end
      end
      if #missing > 0 then
        local have = {}
        for k in pairs(row) do have[#have + 1] = string.format("%q", k) end
        table.sort(have)
        local msg = string.format("%s: no column %s (the file's columns: %s); the script needs %s",
          path, table.concat(missing, ", "), table.concat(have, ", "), table.concat(names, ", "))
        if #have == 1 then
          local sep = have[1]:match("[;\t|]")
          if sep then
            msg = msg .. string.format("; the header is one column: is the file separated by %q? save it as CSV (comma-separated)", sep)
          end
        end
        error(msg, 0)
      end
      checked = true
    end
    for k, v in pairs(row) do row[k] = text(v) end
    return row
  end
end

return M
