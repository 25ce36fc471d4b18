-- export_skus.lua — export the SKUs of every item on sale to a CSV, the
-- starting point of a bulk price or stock change: edit the price or quantity
-- column in Excel, then feed the file to bulk_price.lua or bulk_stock.lua.
--
--   topscript run --sandbox scripts/examples/export_skus.lua skus.csv [limit]
--
-- Columns: num_iid, sku_id, properties, price, quantity, outer_id, title.
-- The ids are written as ="..." so that Excel shows and saves every digit
-- (excel.lua says why); bulk_price.lua and bulk_stock.lua read them back.
-- The optional limit stops after that many SKUs.

local csv = require("csv")
local excel = require("excel")   -- excel.lua beside this script
local log = require("log")

local out = arg[1] or "skus.csv"
local limit = tonumber(arg[2])

local w = csv.writer(out, {"num_iid", "sku_id", "properties", "price", "quantity", "outer_id", "title"})
local n = 0
for item in top.each("taobao.items.onsale.get", {fields = "num_iid,title"}, {page_size = 200}) do
  local got = top.call("taobao.item.seller.get", {num_iid = item.num_iid, fields = "num_iid,title,sku"})
  for _, sku in ipairs(got.item.skus or {}) do
    w:write({
      num_iid = excel.id(item.num_iid), sku_id = excel.id(sku.sku_id), properties = sku.properties,
      price = sku.price, quantity = tostring(sku.quantity), outer_id = sku.outer_id or "", title = item.title,
    })
    n = n + 1
    if limit and n >= limit then break end
  end
  if limit and n >= limit then break end
end
w:close()
log.info("exported SKUs", {skus = n, file = out})
