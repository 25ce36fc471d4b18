-- channel_shelf.lua — put channel (supply chain) products on or off the
-- shelf from a list.
--
--   topscript run --sandbox scripts/examples/channel_shelf.lua scripts/examples/shelf.csv
--
-- The CSV has the columns product_id and action ("up" or "down"). Each row
-- is one tmall.supplychain.channel.product.upshelf or .downshelf call;
-- putting a product in the state it is already in succeeds. A row with
-- another action fails the run before anything is sent. Checkpointed and
-- reported (channel_shelf.report.csv or arg[2]); exit status 3 when rows
-- failed.

local csv = require("csv")
local excel = require("excel")   -- excel.lua beside this script
local job = require("job")

local input = assert(arg[1], "usage: channel_shelf.lua SHELF.csv [REPORT.csv]")
local report = arg[2] or "channel_shelf.report.csv"
local file = input:match("([^/\\]+)$")

local methods = {
  up = "tmall.supplychain.channel.product.upshelf",
  down = "tmall.supplychain.channel.product.downshelf",
}
local rows = csv.read(input)
local row = excel.reader(input, {"product_id", "action"})
for i, r in ipairs(rows) do
  row(r)
  if not methods[r.action] then
    error(string.format("%s row %d: action must be up or down, got %q", input, i, r.action))
  end
end

local summary = job.run {
  name = "channel_shelf:" .. file,
  rows = rows,
  key = function(r) return r.product_id .. ":" .. r.action end,
  call = function(r) return methods[r.action], {product_id = r.product_id} end,
  report = report,
}
print(string.format("%d products: %d done, %d failed, %d already done, %d unknown",
  summary.total, summary.ok, summary.failed, summary.skipped, summary.unknown))
