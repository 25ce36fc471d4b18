-- order_sync_tmc.lua — orders synced the moment they change: TMC messages
-- for freshness, and a periodic sweep of taobao.trades.sold.increment.get
-- to catch what push missed. Runs until Ctrl-C or SIGTERM (a clean stop:
-- the handlers in hand finish, their messages are confirmed; exit 130).
--
--   topscript run --sandbox --churn 20 scripts/examples/order_sync_tmc.lua [every] [lookback]
--
-- Each trade or refund message fetches its trade (taobao.trade.fullinfo.get)
-- and writes it to the state store "orders", keyed by tid. Once at the start
-- and then every `every` (default 10m) it sweeps increment.get from where
-- the last sweep ended, less an overlap of 5 minutes (the first time:
-- `lookback` back, default 1h), in 30-minute windows: trades whose messages
-- were lost while the process was down, or that changed at a window's edge,
-- are written too.
--
-- Writes are idempotent by tid, so a message handled twice (a redelivery, a
-- duplicate), a sweep overlapping push, or several processes on one group
-- (a fleet: they split the messages; give them one [state] backend =
-- "redis") never leave an older state over a newer one. A stored order is
-- replaced only by a newer one: a later `modified`, or, in the same second,
-- a fetch made for a later message (its publish time, msg.time_ms). A sweep
-- writes only a trade that is missing or has a later `modified` (in the same
-- second it cannot tell which read is newer).
--
-- Read the orders: state.open("orders"):get(tid) in any script or the REPL
-- with the same configuration (and --sandbox: the state is kept per app and
-- shop), once this run has stopped, e.g.
--   echo 'return #require("state").open("orders"):keys()' | topscript repl --sandbox

local log = require("log")
local state = require("state")
local time = require("time")
local tmc = require("tmc")
local trade_types = require("trade_types") -- every type: without it increment.get answers five

local every = arg[1] or "10m"
local lookback = arg[2] or "1h"
local overlap = "5m"
local fields = "tid,status,payment,buyer_nick,created,modified"

local orders = state.open("orders")
local cursor = state.open("order_sync_tmc")

-- save writes trade (a fullinfo or increment answer) unless the stored
-- order is as new; version orders fetches made in the same second (0 for a
-- sweep). It returns whether it wrote.
local function save(trade, version)
  local tid = tostring(trade.tid)
  local old = orders:get(tid)
  if old ~= nil then
    if trade.modified < old.modified then return false end
    if trade.modified == old.modified then
      if version == 0 or version < (old.version or 0) then return false end
      if old.status == trade.status and old.payment == trade.payment then return false end
    end
  end
  orders:set(tid, {
    tid = tid, status = trade.status, payment = trade.payment, buyer_nick = trade.buyer_nick,
    created = trade.created, modified = trade.modified, version = version,
  })
  return true
end

-- on_message handles one trade or refund message.
local function on_message(msg)
  local tid = type(msg.content) == "table" and msg.content.tid
  if tid == nil then
    log.warn("a message without a tid: confirmed unhandled", {id = msg.id, topic = msg.topic})
    return
  end
  local r = top.call("taobao.trade.fullinfo.get", {tid = tid, fields = fields})
  if save(r.trade, msg.time_ms or 0) then
    log.debug("order synced", {tid = tid, status = r.trade.status, topic = msg.topic, id = msg.id})
  end
end

-- sweep walks increment.get from the last sweep's end less the overlap.
local function sweep()
  local now = time.now()
  local from = time.add(cursor:get("swept_to") or time.add(now, "-" .. lookback), "-" .. overlap)
  local seen, written = 0, 0
  for w_from, w_to in time.windows(from, now, "30m") do
    for page in top.pages("taobao.trades.sold.increment.get",
        {fields = fields, start_modified = w_from, end_modified = w_to, type = trade_types.all},
        {reverse = true, page_size = 100}) do
      for _, trade in ipairs(page.trades or {}) do
        seen = seen + 1
        if save(trade, 0) then written = written + 1 end
      end
    end
    cursor:set("swept_to", w_to)
  end
  log.info("orders swept", {from = from, to = now, trades = seen, written = written})
end

tmc.permit()   -- the shop's messages of every topic the app has: the listen below takes trades and refunds
tmc.listen{
  topics = {"taobao_trade_*", "taobao_refund_*"},   -- other topics are confirmed unhandled
  concurrency = 4,
  handler = on_message,
  tick = {every = every, run = sweep},
}
