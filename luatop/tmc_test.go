package luatop_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/topscript/topscript/engine"
	"github.com/topscript/topscript/internal/syncbuf"
	"github.com/topscript/topscript/luatop"
	"github.com/topscript/topscript/sandbox"
	"github.com/topscript/topscript/tmc"
	"github.com/topscript/topscript/top"
)

// tmcEnv is an engine whose tmc.listen connects to a sandbox with
// test-sized timings (ro.TMC's fields, when set, win).
func tmcEnv(t *testing.T, so sandbox.Options, ro engine.Options, copts ...top.Option) *env {
	t.Helper()
	if so.TMC.Redeliver == 0 {
		so.TMC.Redeliver = 2 * time.Second
	}
	if so.TMC.FailDelay == 0 {
		so.TMC.FailDelay = 20 * time.Millisecond
	}
	s, c := sandboxClient(t, so, copts...)
	out, log := &syncbuf.Buffer{}, &syncbuf.Buffer{}
	if ro.Client == nil {
		ro.Client = c
	}
	ro.Stdout, ro.Stderr = out, log
	ro.Logger = slog.New(slog.NewTextHandler(log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if ro.TMC.URL == "" {
		ro.TMC.URL = s.TMCURL()
	}
	ro.TMC.PullEvery = 50 * time.Millisecond
	ro.TMC.ReconnectMin, ro.TMC.ReconnectMax = 10*time.Millisecond, 50*time.Millisecond
	if ro.TMC.StopTimeout == 0 {
		ro.TMC.StopTimeout = 5 * time.Second
	}
	e, err := engine.New(ro)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	return &env{s: s, c: c, e: e, out: out, log: log}
}

// background runs src on v's engine and returns its error on the channel.
func (v *env) background(ctx context.Context, src string) <-chan error {
	done := make(chan error, 1)
	go func() { done <- v.e.RunString(ctx, "t.lua", src) }()
	return done
}

// waitDone waits for a background run.
func (v *env) waitDone(t *testing.T, done <-chan error, what string) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(60 * time.Second):
		log := v.log.String()
		t.Fatalf("%s: the script did not end; sandbox %+v; log tail:\n%s", what, v.s.TMCStats(), log[max(0, len(log)-3000):])
		return nil
	}
}

// untilConfirmed runs src, a script that listens, until the sandbox has
// every message it published confirmed (the consumer drops some as
// duplicates, so a handler cannot count them), then interrupts it and
// returns the final summary's line.
func (v *env) untilConfirmed(t *testing.T, src string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := v.background(ctx, src)
	deadline := time.Now().Add(30 * time.Second)
	for {
		st := v.s.TMCStats()
		if st.Published > 0 && st.Confirmed == st.Published {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("the script ended: %v\n%s", err, v.log)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("not all confirmed: %+v\n%s", st, v.log)
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	err := v.waitDone(t, done, "interrupted listen")
	var se *engine.ScriptError
	if !errors.As(err, &se) || !strings.Contains(se.Msg, "interrupted") {
		t.Fatalf("want an interrupted script error, got %v\n%s", err, v.log)
	}
	line := regexp.MustCompile(`msg="tmc: stopped"[^\n]*`).FindString(v.log.String())
	if line == "" {
		t.Fatalf("no final summary line:\n%s", v.log)
	}
	return line
}

// field is key=N of a log line.
func field(t *testing.T, line, key string) int {
	t.Helper()
	m := regexp.MustCompile(` ` + key + `=(\d+)`).FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("no %s in %s", key, line)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// churnUntil makes trade events until the run ends.
func churnUntil(s *sandbox.Server, done <-chan error) error {
	for {
		select {
		case err := <-done:
			return err
		default:
		}
		s.Churn(5)
		time.Sleep(2 * time.Millisecond)
	}
}

// global reads a global of the engine's state after a run.
func global(v *env, name string) lua.LValue { return v.e.State().GetGlobal(name) }

// The message table: id exact (a string beyond 2^53), content decoded
// with the tid exact, user_id, nick, time; the handler confirms it; the
// summary counts it; tmc.stop() makes listen return.
func TestTMCListenMessage(t *testing.T) {
	v := tmcEnv(t, sandbox.Options{}, engine.Options{})
	done := v.background(context.Background(), `
local tmc = require("tmc")
assert(tmc.permit() == true)
seen, ids, bad = 0, {}, nil
local summary = tmc.listen{
  topics = {"taobao_trade_*", "taobao_refund_*"},
  handler = function(msg)
    if type(msg.id) ~= "string" or not msg.id:match("^%d+$") then bad = "id " .. tostring(msg.id) end
    if type(msg.content) ~= "table" then bad = "content " .. tostring(msg.content) end
    local tid = msg.content.tid
    if type(tid) ~= "string" or #tid < 17 then bad = "tid " .. tostring(tid) end
    if msg.user_id ~= 2206571234567 then bad = "user_id " .. tostring(msg.user_id) end
    if not msg.time:match("^%d%d%d%d%-%d%d%-%d%d %d%d:%d%d:%d%d$") or type(msg.time_ms) ~= "number" then bad = "time " .. tostring(msg.time) end
    if msg.nick == nil or not msg.topic:match("^taobao_") then bad = "nick/topic" end
    ids[#ids + 1] = msg.id .. " " .. tid
    seen = seen + 1
    if seen == 50 then tmc.stop() end
  end,
}
result = summary
`)
	err := churnUntil(v.s, done)
	if err != nil {
		t.Fatalf("%v\n%s", err, v.log)
	}
	if b := global(v, "bad"); b != lua.LNil {
		t.Fatalf("a message field: %v", b)
	}
	sum := global(v, "result").(*lua.LTable)
	if n := sum.RawGetString("handled"); n.(lua.LNumber) < 50 {
		t.Errorf("summary handled %v", n)
	}
	for _, k := range []string{"received", "failed", "skipped", "duplicates", "lag", "max_lag", "connects"} {
		if _, ok := sum.RawGetString(k).(lua.LNumber); !ok {
			t.Errorf("summary.%s = %v", k, sum.RawGetString(k))
		}
	}
	// Every id and tid is one the sandbox published, digit for digit.
	tids := map[string]bool{}
	for _, c := range v.s.Changes(0) {
		tids[strconv.FormatInt(c.Tid, 10)] = true
	}
	list := global(v, "ids").(*lua.LTable)
	for i := 1; i <= list.Len(); i++ {
		id, tid, _ := strings.Cut(list.RawGetInt(i).String(), " ")
		n, err := strconv.ParseInt(id, 10, 64)
		if err != nil || n <= 1<<53 {
			t.Fatalf("message id %q", id)
		}
		if !tids[tid] {
			t.Fatalf("tid %s is not one of the sandbox's changed trades", tid)
		}
	}
	if !strings.Contains(v.log.String(), "tmc: stopped") {
		t.Errorf("no final summary line:\n%s", v.log)
	}
}

// A handler error fails the message with the error's text (file:line:
// message) and the channel delivers it again: every message ends handled,
// none lost.
func TestTMCListenHandlerErrorRedelivers(t *testing.T) {
	v := tmcEnv(t, sandbox.Options{}, engine.Options{})
	v.s.Permit(nil)
	v.s.Churn(40)
	want := v.s.TMCStats().Published
	line := v.untilConfirmed(t, `
local tmc = require("tmc")
tries = {}
tmc.listen{
  handler = function(msg)
    tries[msg.id] = (tries[msg.id] or 0) + 1
    if tries[msg.id] == 1 then error("first delivery refused") end
  end,
}
`)
	st := v.s.TMCStats()
	ran := 0
	global(v, "tries").(*lua.LTable).ForEach(func(_, n lua.LValue) {
		ran++
		if n.(lua.LNumber) < 2 {
			t.Errorf("a message ran %v times: a failure was not delivered again", n)
		}
	})
	if st.Failed != int64(ran) || st.Redelivered < int64(ran) || field(t, line, "failed") != ran || st.Unconfirmed != 0 {
		t.Errorf("%d messages ran, want each failed once and redelivered: %+v; %s", ran, st, line)
	}
	if ran < int(want)*3/4 {
		t.Errorf("only %d of %d messages reached the handler", ran, want)
	}
	if !regexp.MustCompile(`handler failed[^\n]*error="t\.lua:7: first delivery refused"`).MatchString(v.log.String()) {
		t.Errorf("the failure's log line does not carry the Lua error with its position:\n%.2000s", v.log)
	}
}

// A TOP error raised in a handler fails the message with the error
// value's one line.
func TestTMCListenTopErrorReason(t *testing.T) {
	v := tmcEnv(t, sandbox.Options{}, engine.Options{})
	v.s.Permit(nil)
	v.s.Churn(3)
	v.untilConfirmed(t, `
local tmc = require("tmc")
failed = {}
tmc.listen{handler = function(msg)
  if failed[msg.id] then return end
  failed[msg.id] = true
  top.call("taobao.item.seller.get", {num_iid = 1, fields = "num_iid"})
end}
`)
	if !regexp.MustCompile(`handler failed[^\n]*error="taobao\.item\.seller\.get: 15 Remote service error; isv\.item-not-exist`).MatchString(v.log.String()) {
		t.Errorf("the reason is not the TOP error's line:\n%.3000s", v.log)
	}
}

// Handlers overlap while they wait for the gateway (several calls in
// flight at once) and yet share the script's state: a counter every
// handler increments around its call ends exact.
func TestTMCListenConcurrentHandlersShareState(t *testing.T) {
	rt := &inflight{next: http.DefaultTransport}
	v := tmcEnv(t, sandbox.Options{Latency: 30 * time.Millisecond}, engine.Options{},
		top.WithHTTPClient(&http.Client{Transport: rt}))
	v.s.Permit(nil)
	v.s.Churn(60)
	want := v.s.TMCStats().Published
	line := v.untilConfirmed(t, `
local tmc = require("tmc")
count, active, overlap = 0, 0, 0
tmc.listen{
  concurrency = 8,
  handler = function(msg)
    local c = count
    count = c + 1                     -- no call between the read and the write: atomic
    active = active + 1
    if active > overlap then overlap = active end
    top.call("taobao.trade.fullinfo.get", {tid = msg.content.tid, fields = "tid,status"})
    active = active - 1
  end,
}
`)
	if got, handled := global(v, "count"), field(t, line, "handled"); got != lua.LNumber(handled) || handled < int(want)*3/4 || field(t, line, "failed") != 0 {
		t.Errorf("count = %v; %s (of %d published)", got, line, want)
	}
	if rt.Max() < 2 || global(v, "overlap").(lua.LNumber) < 2 {
		t.Errorf("handlers did not overlap: %d calls in flight at most, %v handlers in hand", rt.Max(), global(v, "overlap"))
	}
}

// The run's interrupt stops listen cleanly: handlers in hand finish their
// calls (not cut by the interrupt) and are confirmed; the run ends
// interrupted.
func TestTMCListenInterruptFinishesInHand(t *testing.T) {
	v := tmcEnv(t, sandbox.Options{Latency: 150 * time.Millisecond}, engine.Options{})
	v.s.Permit(nil)
	v.s.Churn(30)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := v.background(ctx, `
local tmc = require("tmc")
started, finished = 0, 0
tmc.listen{
  concurrency = 4,
  handler = function(msg)
    started = started + 1
    top.call("taobao.trade.fullinfo.get", {tid = msg.content.tid, fields = "tid,status"})
    finished = finished + 1
  end,
}
error("listen returned after an interrupt")
`)
	deadline := time.Now().Add(20 * time.Second)
	for v.s.TMCStats().Confirmed < 4 {
		if time.Now().After(deadline) {
			t.Fatalf("nothing handled: %+v\n%s", v.s.TMCStats(), v.log)
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	err := v.waitDone(t, done, "interrupted listen")
	var se *engine.ScriptError
	if !errors.As(err, &se) || !strings.Contains(se.Msg, "interrupted") {
		t.Fatalf("want an interrupted script error, got %v", err)
	}
	started, finished := global(v, "started"), global(v, "finished")
	if started != finished {
		t.Errorf("%v handlers started, %v finished: the interrupt cut calls in hand", started, finished)
	}
	// Every finished handler's message was confirmed before the stop ended.
	if st := v.s.TMCStats(); st.Confirmed != int64(finished.(lua.LNumber)) {
		t.Errorf("%v handled, %d confirmed: %+v", finished, st.Confirmed, st)
	}
}

// Messages of a topic not listened to are confirmed without the handler
// and counted as skipped.
func TestTMCListenTopicsFilter(t *testing.T) {
	v := tmcEnv(t, sandbox.Options{}, engine.Options{})
	v.s.Permit(nil)
	v.s.Churn(60)
	st0 := v.s.TMCStats()
	created := 0
	for _, c := range v.s.Changes(0) {
		for _, tp := range c.Topics {
			if tp == "taobao_trade_TradeCreate" {
				created++
			}
		}
	}
	if created == 0 || int64(created) == st0.Published {
		t.Fatalf("the churn published %d TradeCreate of %d messages: no mix to filter", created, st0.Published)
	}
	done := v.background(context.Background(), fmt.Sprintf(`
local tmc = require("tmc")
other, n = 0, 0
result = tmc.listen{
  topics = {"taobao_trade_TradeCreate"},
  handler = function(msg)
    if msg.topic ~= "taobao_trade_TradeCreate" then other = other + 1 end
    n = n + 1
    if n == %d then tmc.stop() end
  end,
}
`, created))
	if err := v.waitDone(t, done, "listen"); err != nil {
		t.Fatalf("%v\n%s", err, v.log)
	}
	sum := global(v, "result").(*lua.LTable)
	if global(v, "other") != lua.LNumber(0) || sum.RawGetString("handled") != lua.LNumber(created) ||
		sum.RawGetString("skipped").(lua.LNumber) == 0 {
		t.Errorf("other topics handled %v; summary handled %v (want %d), skipped %v",
			global(v, "other"), sum.RawGetString("handled"), created, sum.RawGetString("skipped"))
	}
	if !strings.Contains(v.log.String(), "a topic not listened to: confirmed unhandled") {
		t.Error("no log line for a skipped message")
	}
}

// The tick runs at the start and then every period while listening; an
// error in it is logged and the next tick still runs.
func TestTMCListenTick(t *testing.T) {
	v := tmcEnv(t, sandbox.Options{}, engine.Options{})
	done := v.background(context.Background(), `
local tmc = require("tmc")
local time = require("time")
ticks, first = 0, nil
result = tmc.listen{
  handler = function(msg) end,
  summary = "10ms",
  tick = {every = "30ms", run = function()
    ticks = ticks + 1
    if ticks == 1 then first = time.unix() end
    if ticks == 2 then error("sweep failed") end
    if ticks == 4 then tmc.stop() end
  end},
}
`)
	if err := v.waitDone(t, done, "listen"); err != nil {
		t.Fatalf("%v\n%s", err, v.log)
	}
	sum := global(v, "result").(*lua.LTable)
	if global(v, "ticks") != lua.LNumber(4) || sum.RawGetString("ticks") != lua.LNumber(4) || sum.RawGetString("ticks_failed") != lua.LNumber(1) {
		t.Errorf("ticks %v; summary ticks %v, failed %v", global(v, "ticks"), sum.RawGetString("ticks"), sum.RawGetString("ticks_failed"))
	}
	if !regexp.MustCompile(`msg="tmc: summary" group=default received=\d+ handled=\d+ failed=\d+ skipped=\d+ duplicates=\d+ in_hand=\d+ lag=\S+ max_lag=\S+ connects=1 ticks=\d+`).MatchString(v.log.String()) {
		t.Errorf("no periodic summary line:\n%s", v.log)
	}
	if !regexp.MustCompile(`tick failed[^\n]*t\.lua:11: sweep failed`).MatchString(v.log.String()) {
		t.Errorf("the tick's failure is not logged with its position:\n%s", v.log)
	}
}

// Under --dry-run handlers run, and every message goes back to the
// channel unconfirmed.
func TestTMCListenDryRunConfirmsNothing(t *testing.T) {
	v := tmcEnv(t, sandbox.Options{}, engine.Options{DryRun: true})
	v.s.Permit(nil)
	v.s.Churn(10)
	want := v.s.TMCStats().Published
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := v.background(ctx, `
local tmc = require("tmc")
seen, n = {}, 0
tmc.listen{handler = function(msg)
  if not seen[msg.id] then seen[msg.id] = true; n = n + 1 end
end}
`)
	deadline := time.Now().Add(30 * time.Second)
	for v.s.TMCStats().Failed < 2*want { // every message back twice: handled, failed back, handled again
		if time.Now().After(deadline) {
			t.Fatalf("%+v\n%s", v.s.TMCStats(), v.log)
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	_ = v.waitDone(t, done, "interrupted listen")
	if st := v.s.TMCStats(); st.Confirmed != 0 || global(v, "n") != lua.LNumber(want) {
		t.Errorf("a dry run confirmed messages, or not every one reached the handler (%v of %d): %+v", global(v, "n"), want, st)
	}
}

// tmc.permit subscribes the shop to the topics it names; a topic the app
// has not is the gateway's error value.
func TestTMCPermit(t *testing.T) {
	v := tmcEnv(t, sandbox.Options{}, engine.Options{})
	v.run(t, `
local tmc = require("tmc")
assert(tmc.permit{topics = {"taobao_trade_TradeBuyerPay", "taobao_trade_TradeSellerShip"}} == true)
local u = top.call("taobao.tmc.user.get", {fields = "user_nick,topics", nick = "topscript沙箱旗舰店"})
local topics = table.concat(u.tmc_user.topics, ",")
assert(topics == "taobao_trade_TradeBuyerPay,taobao_trade_TradeSellerShip", topics)
local ok, err = pcall(tmc.permit, {topics = {"taobao_no_Such"}})
assert(not ok and err.sub_code:match("^[^:]*") == "isv.invalid-parameter", tostring(err)) -- the base, bare or suffixed
`)
}

// Bad arguments name what is wrong; a refused handshake and a missing
// client are errors of the run.
func TestTMCListenErrors(t *testing.T) {
	v := tmcEnv(t, sandbox.Options{}, engine.Options{})
	for _, c := range []struct{ src, want string }{
		{`tmc.listen()`, "tmc.listen: want a table"},
		{`tmc.listen{}`, "handler is required"},
		{`tmc.listen{handler = 1}`, "handler must be a function"},
		{`tmc.listen{handler = print, handlr = 1}`, `unknown field "handlr"`},
		{`tmc.listen{handler = print, concurrency = 0}`, "concurrency must be an integer from 1 to 64"},
		{`tmc.listen{handler = print, concurrency = 1.5}`, "concurrency must be an integer"},
		{`tmc.listen{handler = print, group = ""}`, "group must be a name of 1 to 32 characters"},
		{`tmc.listen{handler = print, topics = {}}`, "topics must be a non-empty list"},
		{`tmc.listen{handler = print, topics = {"a*b"}}`, `a "*" may only end a name`},
		{`tmc.listen{handler = print, topics = {"a,b"}}`, "topics[1] must be a topic name"},
		{`tmc.listen{handler = print, summary = "soon"}`, `summary: bad duration "soon"`},
		{`tmc.listen{handler = print, summary = true}`, "summary must be a period"},
		{`tmc.listen{handler = print, tick = {run = print}}`, "tick.every is required"},
		{`tmc.listen{handler = print, tick = {every = "1m"}}`, "tick.run must be a function"},
		{`tmc.listen{handler = print, tick = {every = "-1m", run = print}}`, "tick.every must be positive"},
		{`tmc.permit{topics = {"taobao_trade_*"}}`, `name each topic (no "*")`},
		{`tmc.permit("x")`, "tmc.permit: want a table"},
	} {
		err := v.e.RunString(context.Background(), "t.lua", `local tmc = require("tmc"); `+c.src)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.src, err, c.want)
		}
	}

	bad := tmcEnv(t, sandbox.Options{}, engine.Options{TMC: tmc.Config{AppKey: sandbox.DefaultAppKey, AppSecret: "wrong"}})
	err := bad.e.RunString(context.Background(), "t.lua", `require("tmc").listen{handler = print}`)
	if err == nil || !strings.Contains(err.Error(), "refused the connection") || strings.Contains(err.Error(), "wrong") {
		t.Errorf("a wrong secret: %v", err)
	}

	e, err := engine.New(engine.Options{Stdout: &syncbuf.Buffer{}, Stderr: &syncbuf.Buffer{}})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	err = e.RunString(context.Background(), "t.lua", `require("tmc").listen{handler = print}`)
	if !errors.Is(err, luatop.ErrNoClient) {
		t.Errorf("no client: %v", err)
	}
}

// time.sleep in a handler lets the other handlers run meanwhile.
func TestTMCListenSleepLetsOthersRun(t *testing.T) {
	v := tmcEnv(t, sandbox.Options{}, engine.Options{})
	v.s.Permit(nil)
	v.s.Churn(20)
	v.untilConfirmed(t, `
local tmc = require("tmc")
local time = require("time")
active, overlap = 0, 0
tmc.listen{
  concurrency = 4,
  handler = function(msg)
    active = active + 1
    if active > overlap then overlap = active end
    time.sleep("30ms")
    active = active - 1
  end,
}
`)
	if o := global(v, "overlap").(lua.LNumber); o < 2 {
		t.Errorf("at most %v handlers asleep at once: time.sleep held the state", o)
	}
}
