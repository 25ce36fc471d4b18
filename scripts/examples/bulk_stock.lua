-- bulk_stock.lua — set SKU stock from a spreadsheet, up to 20 SKUs a call.
--
--   topscript run --sandbox scripts/examples/bulk_stock.lua scripts/examples/stock.csv
--
-- The CSV has the columns num_iid, sku_id and quantity (the stock to set,
-- not a delta). Rows are grouped by item, in file order, and each group of
-- at most 20 SKUs of one item becomes one taobao.skus.quantity.update call
-- (type 1: full quantities, so re-sending one is harmless, and verify can
-- read them back). Calls are
-- checkpointed per group: a rerun of the same file sends only the groups
-- not done yet. Report: bulk_stock.report.csv (or arg[2]); exit status 3
-- when groups failed.

local csv = require("csv")
local excel = require("excel")   -- excel.lua beside this script
local iter = require("iter")
local job = require("job")

local input = assert(arg[1], "usage: bulk_stock.lua STOCK.csv [REPORT.csv]")
local report = arg[2] or "bulk_stock.report.csv"
local file = input:match("([^/\\]+)$")

-- Group the SKUs by item, keeping the file's order.
local by_item, items = {}, {}
local row = excel.reader(input, {"num_iid", "sku_id", "quantity"})
for r in csv.rows(input) do
  r = row(r)
  if not by_item[r.num_iid] then
    by_item[r.num_iid] = {}
    items[#items + 1] = r.num_iid
  end
  table.insert(by_item[r.num_iid], r)
end

-- One job row per call: an item and at most 20 of its SKUs.
local calls = {}
for _, num_iid in ipairs(items) do
  for chunk in iter.chunks(by_item[num_iid], 20) do
    local quantities, ids = {}, {}
    for _, r in ipairs(chunk) do
      quantities[#quantities + 1] = r.sku_id .. ":" .. r.quantity
      ids[#ids + 1] = r.sku_id
    end
    calls[#calls + 1] = {
      num_iid = num_iid,
      sku_ids = table.concat(ids, ","),
      skuid_quantities = table.concat(quantities, ";"),
    }
  end
end

local summary = job.run {
  name = "bulk_stock:" .. file,
  rows = calls,
  key = function(c) return c.num_iid .. ":" .. c.sku_ids end,
  call = function(c)
    return "taobao.skus.quantity.update",
      {num_iid = c.num_iid, type = 1, skuid_quantities = c.skuid_quantities}
  end,
  -- Full quantities can be read back: a group whose answer was lost is
  -- done when every SKU of it holds its quantity, else sent once more.
  -- (Increments, type = 2, cannot be verified: they would stay unknown.)
  verify = function(c)
    local want = {}
    for pair in c.skuid_quantities:gmatch("[^;]+") do
      local id, q = pair:match("^(%d+):(%d+)$")
      want[id] = tonumber(q)
    end
    local item = top.call("taobao.item.seller.get", {num_iid = c.num_iid, fields = "sku"}).item
    for _, sku in ipairs(item.skus or {}) do
      local id = tostring(sku.sku_id)
      if want[id] ~= nil then
        if tonumber(sku.quantity) ~= want[id] then return false, "SKU " .. id .. " holds " .. tostring(sku.quantity) end
        want[id] = nil
      end
    end
    if next(want) ~= nil then return nil, "SKUs not found on the item" end
    return true
  end,
  columns = {"num_iid", "skuid_quantities"},
  report = report,
}
print(string.format("%d calls for %d items: %d ok, %d failed, %d already done, %d unknown",
  summary.total, #items, summary.ok, summary.failed, summary.skipped, summary.unknown))
