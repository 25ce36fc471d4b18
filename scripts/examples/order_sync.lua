-- order_sync.lua — incremental order sync: every trade modified since the
-- last run, appended to a JSON-lines file. Made for cron or `topscript
-- schedule` (e.g. every 10 minutes, with --lock).
--
--   topscript run --sandbox scripts/examples/order_sync.lua orders.jsonl [hours]
--
-- It walks taobao.trades.sold.increment.get over 30-minute windows, from
-- the cursor saved by the last run (or `hours` back, default 6, on the
-- first run) to 5 minutes ago, paging each window in reverse (last page
-- first, so trades changing while we page cannot slip past us). After each
-- window the trades are flushed to the file and the cursor is saved in the
-- state store: a run that is killed or interrupted continues from the last
-- finished window. A trade can appear twice (a window boundary, or a window
-- redone after a crash): load the file keyed by tid.
--
-- On a promotion day the trade APIs are throttled hard from 19:45 to 22:00;
-- the platform advises syncing that day's orders after 03:00: schedule the
-- big catch-up then, and lower [throttle.methods] "taobao.trades.sold.*".

local json = require("json")
local log = require("log")
local state = require("state")
local time = require("time")

local out_path = arg[1] or "orders.jsonl"
local hours = tonumber(arg[2]) or 6

local st = state.open("order_sync")
local now = time.now()
local stop_at = time.add(now, "-5m")                 -- the platform lags a little
local cursor = st:get("cursor") or time.add(now, string.format("-%dh", hours))
if cursor >= stop_at then
  return -- nothing new yet
end

local out = assert(io.open(out_path, "a"))
local fields = "tid,status,payment,buyer_nick,created,modified,orders"
local total, windows = 0, 0
for from, to in time.windows(cursor, stop_at, "30m") do
  local n = 0
  for page in top.pages("taobao.trades.sold.increment.get",
      {fields = fields, start_modified = from, end_modified = to},
      {reverse = true, page_size = 100}) do
    for _, trade in ipairs(page.trades or {}) do
      out:write(json.encode(trade), "\n")
      n = n + 1
    end
  end
  out:flush()
  st:set("cursor", to)                                -- this window is done
  total, windows = total + n, windows + 1
  log.debug("order window synced", {from = from, to = to, trades = n})
end
out:close()
log.info("orders synced", {trades = total, windows = windows, ["until"] = stop_at, file = out_path})
