-- trade_types.lua — every trade type taobao.trades.sold.get and
-- taobao.trades.sold.increment.get document, for their `type` parameter.
--
--   local trade_types = require("trade_types")   -- from a script in this directory
--   top.each("taobao.trades.sold.get", {fields = "tid", type = trade_types.all}, ...)
--
-- Without `type` the platform returns only five: guarantee_trade (a query
-- group of fixed price and auction, not a type a trade carries),
-- auto_delivery, ec, cod and step; trades of every other type are silently
-- left out. A script that wants the shop's trades lists them all.

local list = {
  "fixed", "auction", "step", "independent_simple_trade", "independent_shop_trade",
  "auto_delivery", "ec", "cod", "game_equipment", "shopex_trade", "netcn_trade",
  "external_trade", "instant_trade", "b2c_cod", "hotel_trade", "super_market_trade",
  "super_market_cod_trade", "taohua", "waimai", "o2o_offlinetrade", "nopaid",
  "eticket", "tmall_i18n", "insurance_plus", "finance", "pre_auth_type", "lazada",
}

return {list = list, all = table.concat(list, ",")}
