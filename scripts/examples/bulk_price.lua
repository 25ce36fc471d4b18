-- bulk_price.lua — push SKU prices from a spreadsheet export.
--
--   topscript run --sandbox scripts/examples/bulk_price.lua scripts/examples/prices.csv
--   topscript run --lock bulk_price.lua prices.csv [report.csv] [-- --no-item-price]
--
-- The CSV (UTF-8 or GBK, as Excel saves it) has the columns num_iid,
-- properties and price, one SKU a row. Each row becomes one
-- taobao.item.sku.price.update call, under the configured throttle, with
-- retries; topscript keeps as many in flight as keep the throttle's qps
-- busy at the gateway's latency (give concurrency = N to cap it).
--
-- The item price. The platform keeps an item's price inside the range of
-- its SKUs' prices: a SKU price that would leave the item price outside
-- fails ("isv.invalid-parameter") unless the same call moves the item price
-- with item_price. So, before the first row of an item is sent, the item's
-- SKUs are read once (taobao.item.seller.get) and every row of the item
-- sends an item_price: the item's current price when the new SKU prices
-- keep it in their range, else that price brought into the new range (the
-- cheapest SKU's price when the prices go up) — adjusted per row so that
-- the call is accepted whichever of the item's other rows have landed
-- before it (they run concurrently). That plan is kept in the state store
-- (namespace "bulk_price_plan:<file name>") and used again while the
-- item's rows in the file stay the same, so a rerun sends the same calls
-- and reads no item again. --no-item-price sends no item_price at all.
--
-- Safe to run again: every SKU whose price was set is checkpointed (in the
-- [state] store, namespace "job:bulk_price:<file name>"), so after a crash, a
-- Ctrl-C or a failed row, a rerun of the same file sends only what is left.
-- The report (default bulk_price.report.csv in the working directory) lists
-- every row with its status, error code and request_id. The exit status is
-- 3 when rows failed.
--
-- A row is done only for the price that was sent: change prices in the
-- same file and a rerun sends exactly the changed rows, and the other rows
-- of their items when the item price planned for them moves (the report
-- says "changed since the run of ...: price 59.90 → 61.00").
--
-- To push the same file again from scratch, forget its checkpoints with
-- the same --config, --profile and --shop as the run (the same store and
-- shop; a --sandbox run keeps none past its end); the item price plan goes
-- with them (a job without checkpoints plans again):
--   topscript job reset bulk_price:prices.csv --profile shop1
-- A row whose outcome is open (its answer lost, or an isp timeout or a 502:
-- the platform may have applied it) is settled by verify below, not sent
-- again blindly: it reads the SKU's price back; the price in effect means
-- done, another price means not applied (the row is sent once more).

local csv = require("csv")
local excel = require("excel")   -- excel.lua beside this script
local job = require("job")
local state = require("state")

local positional, item_price_logic = {}, true
for _, a in ipairs(arg) do
  if a == "--no-item-price" then item_price_logic = false else positional[#positional + 1] = a end
end
local input = assert(positional[1], "usage: bulk_price.lua PRICES.csv [REPORT.csv] [--no-item-price]")
local report = positional[2] or "bulk_price.report.csv"
local file = input:match("([^/\\]+)$")
local row = excel.reader(input, {"num_iid", "properties", "price"})

-- Prices in cents (nil when the text is not a price: such a row is sent as
-- it is, and the platform names what is wrong).
local function cents(s)
  local n = tonumber(s and (tostring(s):gsub("^%s+", ""):gsub("%s+$", "")))
  if not n or n < 0 then return nil end
  return math.floor(n * 100 + 0.5)
end
local function yuan(c) return string.format("%d.%02d", math.floor(c / 100), c % 100) end
local function props(s) return (tostring(s or ""):gsub("%s", "")) end

local rows = csv.read(input)
local by_item = {} -- num_iid -> its rows
for _, r in ipairs(rows) do
  row(r) -- checks the columns, reads ="..." cells back
  local list = by_item[r.num_iid]
  if not list then list = {}; by_item[r.num_iid] = list end
  list[#list + 1] = r
end

-- item_prices(num_iid) reads the item once and returns the item_price to
-- send with each of its rows (props -> yuan), or {} when the item cannot be
-- read (its rows then fail on their own, e.g. no such item).
--
-- A row r sets SKU r to n_r while the item's other rows may or may not
-- have landed: SKU s is at its old price o_s or its new one n_s (o_s for
-- SKUs not in the file). The item price sent with r must be inside the
-- range of every such state: at least lo_r = min(n_r, min_s max(o_s, n_s))
-- and at most hi_r = max(n_r, max_s min(o_s, n_s)); n_r itself always is.
-- Each row sends the target — the current price brought into the final
-- range — clamped into its own [lo_r, hi_r]; when the prices all go one
-- way (or the current price is safe anyway) that is the target for every
-- row.
local function item_prices(num_iid)
  local res = top.try("taobao.item.seller.get", {num_iid = num_iid, fields = "num_iid,price,sku"})
  if not res or not res.item then return {} end
  local skus = res.item.skus or {}
  if skus.sku then skus = skus.sku end -- simplify = false
  local price = cents(res.item.price)
  if not price or #skus == 0 then return {} end
  local old, new = {}, {}
  for _, s in ipairs(skus) do
    local p = cents(s.price)
    if p then old[props(s.properties)] = p; new[props(s.properties)] = p end
  end
  local mine = {}
  for _, r in ipairs(by_item[num_iid]) do
    local k, p = props(r.properties), cents(r.price)
    if old[k] and p then new[k] = p; mine[#mine + 1] = k end
  end
  local fmin, fmax = math.huge, -math.huge
  for _, p in pairs(new) do
    fmin = math.min(fmin, p)
    fmax = math.max(fmax, p)
  end
  local target = math.max(fmin, math.min(fmax, price))
  local out = {}
  for _, k in ipairs(mine) do
    local lo, hi = new[k], new[k]
    for s, o in pairs(old) do
      if s ~= k then
        lo = math.min(lo, math.max(o, new[s]))
        hi = math.max(hi, math.min(o, new[s]))
      end
    end
    out[k] = yuan(math.max(lo, math.min(hi, target)))
  end
  return out
end

-- The plans of earlier runs, by item, with the item's rows they were made
-- for; a job without checkpoints (new, or reset) plans afresh.
local plans = state.open("bulk_price_plan:" .. file)
local fresh = #state.open("job:bulk_price:" .. file):keys() == 0
local function signature(num_iid)
  local parts = {}
  for _, r in ipairs(by_item[num_iid]) do parts[#parts + 1] = props(r.properties) .. "=" .. tostring(r.price) end
  table.sort(parts)
  return table.concat(parts, ";")
end
local planned = {} -- num_iid -> its plan, made (or found) on the item's first row
local function plan_for(num_iid)
  local plan = planned[num_iid]
  if plan then return plan end
  local sig = signature(num_iid)
  local saved = (not fresh) and plans:get(num_iid)
  if type(saved) == "table" and saved.sig == sig then
    plan = saved.prices
  else
    plan = item_prices(num_iid)
    if not top.dry_run and next(plan) then plans:set(num_iid, {sig = sig, prices = plan}) end
  end
  planned[num_iid] = plan
  return plan
end

local summary = job.run {
  name = "bulk_price:" .. file,
  rows = rows,
  key = function(r) return r.num_iid .. ":" .. r.properties end,
  call = function(r)
    local params = {num_iid = r.num_iid, properties = r.properties, price = r.price}
    if item_price_logic then
      params.item_price = plan_for(r.num_iid)[props(r.properties)]
    end
    -- Not idempotent for this job: a price set could be sent again after an
    -- answer that leaves its outcome open (an isp timeout, a 502, a lost
    -- answer), but verify settles those rows by reading the price back
    -- instead, so each SKU is written once.
    return "taobao.item.sku.price.update", params, {idempotent = false}
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
  report = report,
}
print(string.format("%d SKUs: %d updated, %d failed, %d already done, %d unknown%s",
  summary.total, summary.ok, summary.failed, summary.skipped, summary.unknown,
  summary.dry_run and " (dry run: nothing sent)" or ""))
