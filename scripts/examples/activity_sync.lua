-- activity_sync.lua — attach items to an opentrade activity, 20 at a time.
--
--   topscript run --sandbox scripts/examples/activity_sync.lua scripts/examples/activity_items.csv [activity_id]
--
-- taobao.opentrade.activity.sync takes at most 20 item ids a call:
-- iter.chunks cuts the list (a CSV with a num_iid column) into groups of
-- 20, sent together with top.call_all (as many at once as the throttle
-- keeps busy). The activity (default 2131) runs from now for 7 days.

local csv = require("csv")
local excel = require("excel")   -- excel.lua beside this script
local iter = require("iter")
local log = require("log")
local time = require("time")

local input = assert(arg[1], "usage: activity_sync.lua ITEMS.csv [ACTIVITY_ID]")
local activity = arg[2] or "2131"
local start = time.now()
local finish = time.add(start, "7d")

local row = excel.reader(input, {"num_iid"})
local calls = {}
for chunk in iter.chunks(csv.rows(input), 20) do
  local ids = {}
  for _, r in ipairs(chunk) do ids[#ids + 1] = row(r).num_iid end
  calls[#calls + 1] = {"taobao.opentrade.activity.sync", {
    activity_id = activity, activity_name = "topscript 示例活动",
    start_time = start, end_time = finish,
    item_id_list = ids,                  -- arrays are sent comma-joined
  }}
end

local failed = 0
for i, res in ipairs(top.call_all(calls)) do
  if not res.ok then
    failed = failed + 1
    log.error("activity sync failed", {chunk = i, error = tostring(res.error)})
  end
end
log.info("activity synced", {activity = activity, calls = #calls, failed = failed})
if failed > 0 then os.exit(3) end
