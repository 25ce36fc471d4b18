-- fenxiao_sync.lua — bring distribution (fenxiao) SKUs in line with a
-- spreadsheet: read the products, compare, update only what differs.
--
--   topscript run --sandbox scripts/examples/fenxiao_sync.lua scripts/examples/fenxiao.csv
--
-- The CSV has the columns pid, properties (the SKU), standard_price and
-- quantity; an empty cell leaves that value alone. The current products and
-- SKUs are read with taobao.fenxiao.products.get (30 pids a call), and each
-- SKU whose price or quantity differs is updated with
-- taobao.fenxiao.product.sku.update; SKUs already right are reported
-- "skipped" and cost no call. Checkpointed like every job: a rerun skips
-- the updates already done.
--
-- The fenxiao APIs were closed from 20:00 to 21:00 on the 99 promotion day
-- (see scripts/examples/promotion.toml): with that window configured the
-- job waits it out instead of failing.

local csv = require("csv")
local excel = require("excel")   -- excel.lua beside this script
local iter = require("iter")
local job = require("job")

local input = assert(arg[1], "usage: fenxiao_sync.lua FENXIAO.csv [REPORT.csv]")
local report = arg[2] or "fenxiao_sync.report.csv"
local file = input:match("([^/\\]+)$")
local rows = csv.read(input)
local row = excel.reader(input, {"pid", "properties", "standard_price", "quantity"})
for _, r in ipairs(rows) do row(r) end

-- Read the current SKUs of every product named in the file.
local pids, seen = {}, {}
for _, r in ipairs(rows) do
  if not seen[r.pid] then seen[r.pid] = true; pids[#pids + 1] = r.pid end
end
local current = {}   -- "pid:properties" -> sku
for chunk in iter.chunks(pids, 30) do
  for p in top.each("taobao.fenxiao.products.get", {pids = chunk, fields = "skus"}, {page_size = 50}) do
    for _, sku in ipairs(p.skus or {}) do
      current[tostring(p.pid) .. ":" .. sku.properties] = sku
    end
  end
end

local function money(s) return s and s ~= "" and string.format("%.2f", tonumber(s)) or nil end

local summary = job.run {
  name = "fenxiao_sync:" .. file,
  rows = rows,
  key = function(r) return r.pid .. ":" .. r.properties .. "=" .. r.standard_price .. "/" .. r.quantity end,
  call = function(r)
    local sku = current[r.pid .. ":" .. r.properties]
    local params = {product_id = r.pid, properties = r.properties}
    local changed = sku == nil   -- an unknown SKU: let the platform say so
    if r.standard_price ~= "" and (sku == nil or money(r.standard_price) ~= money(sku.standard_price)) then
      params.standard_price = r.standard_price
      changed = true
    end
    if r.quantity ~= "" and (sku == nil or tonumber(r.quantity) ~= tonumber(sku.quantity)) then
      params.quantity = r.quantity
      changed = true
    end
    if not changed then return nil end   -- already right: skipped
    return "taobao.fenxiao.product.sku.update", params
  end,
  report = report,
}
print(string.format("%d SKUs: %d updated, %d failed, %d unchanged or done, %d unknown",
  summary.total, summary.ok, summary.failed, summary.skipped, summary.unknown))
