-- bulk_price.lua — push SKU prices from a spreadsheet export.
--
--   topscript run --sandbox scripts/examples/bulk_price.lua scripts/examples/prices.csv
--   topscript run --lock bulk_price.lua prices.csv [report.csv]
--
-- The CSV (UTF-8 or GBK, as Excel saves it) has the columns num_iid,
-- properties and price, one SKU a row. Each row becomes one
-- taobao.item.sku.price.update call; four run at a time under the
-- configured throttle, with retries.
--
-- Safe to run again: every SKU whose price was set is checkpointed (in the
-- [state] store, namespace "job:bulk_price:<file name>"), so after a crash, a
-- Ctrl-C or a failed row, a rerun of the same file sends only what is left.
-- The report (default bulk_price.report.csv in the working directory) lists
-- every row with its status, error code and request_id. The exit status is
-- 3 when rows failed.
--
-- A row is done only for the price that was sent: change prices in the
-- same file and a rerun sends exactly the changed rows (the report says
-- "changed since the run of ...: price 59.90 → 61.00").
--
-- To push the same file again from scratch, forget its checkpoints from a
-- REPL started as the run was (the same --config and --profile: the same
-- store and shop; a --sandbox run keeps none past its end):
--   echo 'require("job").reset("bulk_price:prices.csv")' | topscript repl --profile shop1 --stop-on-error
-- A row whose answer was lost (unknown outcome) is settled by verify below:
-- it reads the SKU's price back; the price in effect means done, another
-- price means not applied (the row is sent once more).

local csv = require("csv")
local excel = require("excel")   -- excel.lua beside this script
local job = require("job")

local input = assert(arg[1], "usage: bulk_price.lua PRICES.csv [REPORT.csv]")
local report = arg[2] or "bulk_price.report.csv"
local file = input:match("([^/\\]+)$")
local row = excel.reader(input, {"num_iid", "properties", "price"})

local summary = job.run {
  name = "bulk_price:" .. file,
  rows = csv.rows(input),
  key = function(r) r = row(r) return r.num_iid .. ":" .. r.properties end,
  call = function(r)
    return "taobao.item.sku.price.update",
      {num_iid = r.num_iid, properties = r.properties, price = r.price}
  end,
  -- Settles a row whose outcome is unknown by reading the SKU's price back.
  verify = function(r)
    local item = top.call("taobao.item.seller.get", {num_iid = r.num_iid, fields = "sku"}).item
    for _, sku in ipairs(item.skus or {}) do
      if sku.properties == r.properties then
        return tonumber(sku.price) == tonumber(r.price), "price in effect: " .. tostring(sku.price)
      end
    end
    return nil, "no SKU " .. r.properties .. " on item " .. r.num_iid
  end,
  concurrency = 4,
  report = report,
}
print(string.format("%d SKUs: %d updated, %d failed, %d already done, %d unknown%s",
  summary.total, summary.ok, summary.failed, summary.skipped, summary.unknown,
  summary.dry_run and " (dry run: nothing sent)" or ""))
