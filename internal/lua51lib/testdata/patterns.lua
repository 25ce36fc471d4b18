-- string.find, match, gmatch and gsub over a table of cases, malformed
-- patterns included: what lua5.1 prints is patterns.want.
local function quote(s)
  local t = {}
  for i = 1, #s do
    local b = s:byte(i)
    if b < 32 or b > 126 or b == 34 or b == 92 then t[i] = "\\" .. b else t[i] = string.char(b) end
  end
  return '"' .. table.concat(t) .. '"'
end

local function show(...)
  local n = select("#", ...)
  local t = {}
  for i = 1, n do
    local v = select(i, ...)
    t[i] = type(v) == "string" and quote(v) or tostring(v)
  end
  return "(" .. table.concat(t, ", ") .. ")"
end

local function try(f, ...)
  local r = {pcall(f, ...)}
  if not r[1] then
    return "error: " .. tostring(r[2]):gsub("^[^:]*:%d+: ", "")
  end
  return show(unpack(r, 2, table.maxn(r)))
end

local subjects = {
  "", "a", "hello world", "  trim me  ", "key=value; k2=v2", "(foo(bar))baz", "THE (quick) fox",
  "2024-06-01 12:30:45", "a,b,,c", "x\0y\0z", "aaa", "abcabcabc", "\n\tline\r\n", "日本語 text", "[[x]]",
  "%d%%", "f(a,b)", "alpha beta gamma", "1.5e10 -3 +4.25", "a.b.c",
}
local patterns = {
  "", "a", "^a", "a$", "^$", ".", "..", ".-", ".*", "a*", "a+", "a-", "a?", "^(%s*)(.-)(%s*)$",
  "(%w+)=(%w+)", "%b()", "%bxy", "%f[%w]%w+", "%f[%W]", "()", "(a)(b)(c)", "(a)%1", "((a)(b))",
  "[%d%-]+", "[^%s]+", "[a-c]+", "[%a_][%w_]*", "%d+", "%D+", "%s+", "%S+", "%p+", "%x+", "%u%l+",
  "%c", "%z", "[%z]", "[]]", "[^]]+", "[a-]", "[-a]", "%.", "%%", "^%(", "%)", "(.)%1", "(%d+)-(%d+)-(%d+)",
  "[\128-\255]+", "%w+$", "^%s*$", "(h)(e)(l)(l)(o)", "x*$", ".-b", "[%]]", "[%^a]", "[^%a]",
  -- malformed
  "%", "[a", "(a", "a)", "%b", "%f", "%fa", "(()", "%1", "(a)%2", "[%",
}

for _, s in ipairs(subjects) do
  for _, p in ipairs(patterns) do
    print(show(s, p), "find", try(string.find, s, p))
    print("", "find3", try(string.find, s, p, 3), try(string.find, s, p, -2), try(string.find, s, p, 100))
    print("", "match", try(string.match, s, p))
    print("", "gsub", try(string.gsub, s, p, "<%0>"), try(string.gsub, s, p, "%1", 2))
    local ok, it = pcall(string.gmatch, s, p)
    if ok then
      local got, n = {}, 0
      local ok2, err = pcall(function()
        for a, b in it do
          n = n + 1
          got[#got + 1] = show(a, b)
          if n > 50 then break end
        end
      end)
      print("", "gmatch", table.concat(got, " "), ok2 and "" or ("error: " .. tostring(err):gsub("^[^:]*:%d+: ", "")))
    end
  end
end

-- find with plain and special-free patterns
print(show(string.find("a.b", ".", 1, true)), show(string.find("a+b", "+", 1, true)), show(string.find("abc", "", 10)))
print(show(string.find("abc", "b", -1)), show(string.find("abc", "", 4)), show(string.find("abc", "", 5)))
-- gsub replacements: tables, functions, numbers, false, limits
local t = {hello = "HI", world = false}
print(show(string.gsub("hello world", "%w+", t)))
print(show(string.gsub("hello world", "%w+", function(w) return w:upper() end)))
print(show(string.gsub("hello world", "(o)", function(o) return nil end)))
print(show(string.gsub("abc", "%w", "%%%0%%")))
print(show(string.gsub("abc", "", "-")))
print(show(string.gsub("abc", "b*", "-")))
print(show(string.gsub("abc", "^", ">")))
print(show(string.gsub("abc", "$", "<")))
print(show(string.gsub("abc", "%w", "x", 0)), show(string.gsub("abc", "%w", "x", -1)), show(string.gsub("abc", "%w", "x", 2)))
print(show(string.gsub("abc", "(b)", 7)), show(string.gsub("a b", "()", "%1")))
print(try(string.gsub, "abc", "b", function() return {} end))
print(try(string.gsub, "abc", "b", function() return true end))
print(try(string.gsub, "abc", "b", "%2"))
print((select(2, pcall(string.gsub, "abc", "b", true))):match("string/function/table expected"))
print(show(string.gsub("abc", "b", "%")))
print(show(string.match("  x  ", "^%s*(.-)%s*$")), show(string.match("key = val", "(%w+)%s*=%s*(%w+)")))
local out = {}
for k, v in string.gmatch("a=1, b=2, c=3", "(%w+)=(%w+)") do out[#out + 1] = k .. v .. ";" end
for w in string.gmatch("one two  three", "%a+") do out[#out + 1] = "[" .. w .. "]" end
for p in string.gmatch("abc", "()") do out[#out + 1] = p .. " " end
for x in string.gmatch("^a^a", "^a") do out[#out + 1] = x .. " " end
print(table.concat(out))
