-- bulk_price_xlsx.lua — push SKU prices from an Excel workbook whose columns
-- have the operator's own (Chinese) names, and write the report as a
-- workbook.
--
--   topscript run --sandbox scripts/examples/bulk_price_xlsx.lua scripts/examples/prices.xlsx
--   topscript run bulk_price_xlsx.lua 价格表.xlsx [report.xlsx] [sheet]
--
-- The sheet (the first, or the one named by the third argument) has a
-- header row with the columns 宝贝ID, 销售属性 and 价格: the columns
-- option maps them to the keys the script uses, so the sheet works as the
-- operator keeps it. A missing column stops the run at once, naming it and
-- the columns the sheet has.
--
-- The report (default bulk_price_xlsx.report.xlsx) lists every row of the
-- sheet in its order, with its row number, status, error code and the call
-- it sent, and ends with a summary sheet of the errors by code. Each run's
-- report is kept under its own name (bulk_price_xlsx.report.<run id>.xlsx);
-- the name above holds the latest. Ids are text cells, so every digit
-- survives Excel. Like bulk_price.lua, a rerun sends only what changed or
-- failed.
--
-- The item price: the platform keeps an item's price inside the range of
-- its SKUs' prices and refuses a SKU price that would leave it outside,
-- unless the call moves the item price too. Each row sends its own price
-- as item_price — always inside the range, whichever of the item's rows
-- land first — so the item shows the price of its SKU set last.
-- bulk_price.lua plans the item price instead (it reads each item once).
--
-- topscript keeps as many calls in flight as keep the throttle's qps busy
-- at the gateway's latency (give concurrency = N to cap it).

local xlsx = require("xlsx")
local job = require("job")

local input = assert(arg[1], "usage: bulk_price_xlsx.lua PRICES.xlsx [REPORT.xlsx] [SHEET]")
local report = arg[2] or "bulk_price_xlsx.report.xlsx"
local file = input:match("([^/\\]+)$")

local summary = job.run {
  name = "bulk_price:" .. file,
  rows = xlsx.rows(input, {sheet = arg[3]}),
  columns = {num_iid = "宝贝ID", properties = "销售属性", price = "价格"},
  key = function(r) return r.num_iid .. ":" .. r.properties end,
  call = function(r)
    return "taobao.item.sku.price.update",
      {num_iid = r.num_iid, properties = r.properties, price = r.price, item_price = r.price}
  end,
  report = report,
}
print(string.format("%d SKUs: %d updated, %d failed, %d already done, %d unknown%s",
  summary.total, summary.ok, summary.failed, summary.skipped, summary.unknown,
  summary.dry_run and " (dry run: nothing sent)" or ""))
