-- orders.lua — export the shop's trades of the last three months to a CSV.
--
--   topscript run --sandbox scripts/examples/orders.lua orders.csv [status]
--
-- top.each pages through taobao.trades.sold.get with use_has_next = true
-- (the platform's advice for bulk trade queries: no total count to
-- compute, fewer timeouts on busy days) and yields one trade at a time.
-- Ids are 19 digits: they come back as strings holding the exact digits,
-- and are written as ="..." so that Excel keeps them (excel.lua says why).
-- The optional status filters, e.g. WAIT_SELLER_SEND_GOODS.
--
-- Every trade type is asked for by name (trade_types.lua): without `type`
-- the platform returns only five (guarantee_trade — fixed price and
-- auction —, auto_delivery, ec, cod and step) and silently leaves the
-- others out.

local csv = require("csv")
local excel = require("excel")   -- excel.lua beside this script
local log = require("log")
local trade_types = require("trade_types") -- trade_types.lua, next to this script

local out = arg[1] or "orders.csv"
local params = {fields = "tid,status,payment,buyer_nick,created,modified", type = trade_types.all}
if arg[2] then params.status = arg[2] end

local w = csv.writer(out, {"tid", "status", "payment", "buyer_nick", "created", "modified"})
local n = 0
for trade in top.each("taobao.trades.sold.get", params, {use_has_next = true, page_size = 100, items = "trades"}) do
  w:write({
    tid = excel.id(trade.tid), status = trade.status, payment = trade.payment,
    buyer_nick = trade.buyer_nick, created = trade.created, modified = trade.modified,
  })
  n = n + 1
end
w:close()
log.info("trades exported", {trades = n, file = out})
