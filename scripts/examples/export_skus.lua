-- export_skus.lua — export the SKUs of every item on sale to a CSV, the
-- starting point of a bulk price or stock change: edit the price or quantity
-- column in Excel, then feed the file to bulk_price.lua or bulk_stock.lua.
--
--   topscript run --sandbox scripts/examples/export_skus.lua skus.csv [limit]
--
-- Columns: num_iid, sku_id, properties, price, quantity, outer_id, title.
-- The optional limit stops after that many SKUs.

local csv = require("csv")
local log = require("log")

local out = arg[1] or "skus.csv"
local limit = tonumber(arg[2])

local w = csv.writer(out, {"num_iid", "sku_id", "properties", "price", "quantity", "outer_id", "title"})
local n = 0
for item in top.each("taobao.items.onsale.get", {fields = "num_iid,title"}, {page_size = 200}) do
  local got = top.call("taobao.item.seller.get", {num_iid = item.num_iid, fields = "num_iid,title,sku"})
  for _, sku in ipairs(got.item.skus or {}) do
    w:write({
      num_iid = tostring(item.num_iid), sku_id = tostring(sku.sku_id), properties = sku.properties,
      price = sku.price, quantity = tostring(sku.quantity), outer_id = sku.outer_id or "", title = item.title,
    })
    n = n + 1
    if limit and n >= limit then break end
  end
  if limit and n >= limit then break end
end
w:close()
log.info("exported SKUs", {skus = n, file = out})
