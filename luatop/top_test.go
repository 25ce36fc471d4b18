package luatop_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/topscript/topscript/engine"
	"github.com/topscript/topscript/internal/sandboxtest"
	"github.com/topscript/topscript/internal/syncbuf"
	"github.com/topscript/topscript/sandbox"
	"github.com/topscript/topscript/top"
)

// sandboxClient runs an in-process sandbox and returns it with a client
// pointed at it.
func sandboxClient(t testing.TB, o sandbox.Options, copts ...top.Option) (*sandbox.Server, *top.Client) {
	t.Helper()
	s := sandboxtest.Start(t, o)
	cfg := top.DefaultConfig()
	cfg.AppKey, cfg.AppSecret, cfg.Session = sandbox.DefaultAppKey, sandbox.DefaultAppSecret, sandbox.DefaultSession
	cfg.Gateway = s.URL()
	cfg.Timeout = 10 * time.Second
	cfg.Retry.Backoff = 10 * time.Millisecond
	c, err := top.NewClient(cfg, copts...)
	if err != nil {
		t.Fatal(err)
	}
	return s, c
}

// inflight is an http.RoundTripper counting concurrent requests.
type inflight struct {
	mu       sync.Mutex
	cur, max int
	next     http.RoundTripper
}

func (f *inflight) RoundTrip(r *http.Request) (*http.Response, error) {
	f.mu.Lock()
	f.cur++
	if f.cur > f.max {
		f.max = f.cur
	}
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.cur--
		f.mu.Unlock()
	}()
	return f.next.RoundTrip(r)
}

func (f *inflight) Max() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.max
}

type env struct {
	s   *sandbox.Server
	c   *top.Client
	e   *engine.Engine
	out *syncbuf.Buffer
	log *syncbuf.Buffer
}

func newEnv(t testing.TB, so sandbox.Options, ro engine.Options, copts ...top.Option) *env {
	t.Helper()
	s, c := sandboxClient(t, so, copts...)
	out, log := &syncbuf.Buffer{}, &syncbuf.Buffer{}
	ro.Client = c
	ro.Stdout, ro.Stderr = out, log
	ro.Logger = slog.New(slog.NewTextHandler(log, nil))
	e, err := engine.New(ro)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	return &env{s: s, c: c, e: e, out: out, log: log}
}

func (v *env) run(t testing.TB, src string) {
	t.Helper()
	if err := v.e.RunString(context.Background(), "t.lua", src); err != nil {
		t.Fatalf("script failed: %v\nstdout:\n%s", err, v.out.String())
	}
}

func TestCallAndTry(t *testing.T) {
	v := newEnv(t, sandbox.Options{}, engine.Options{})
	v.run(t, `
		local top2 = require("top")
		assert(top2 == top, "require('top') is the global")
		local now = top.call("taobao.time.get")
		assert(type(now.time) == "string", "time.get")
		local items = top.call("taobao.items.onsale.get", {fields = "num_iid,title", page_size = 5})
		assert(#items.items == 5, "5 items")
		local id = items.items[1].num_iid
		local item = top.call("taobao.item.seller.get", {num_iid = id, fields = "num_iid,title,sku"}, {timeout = "5s", retries = 1})
		assert(item.item.num_iid == id, "same item")

		-- try: nil, err with the error value's fields
		local r, err = top.try("taobao.item.seller.get", {num_iid = 1, fields = "num_iid"})
		assert(r == nil and err ~= nil)
		assert(err.code == 15 and err.kind == "isv", tostring(err.code) .. " " .. tostring(err.kind))
		assert(err.method == "taobao.item.seller.get")
		assert(type(err.request_id) == "string" and #err.request_id > 0)
		local line = tostring(err)
		assert(line:find("^taobao.item.seller.get: 15 ") and line:find(err.sub_code, 1, true) and line:find("(request_id " .. err.request_id .. ")", 1, true), line)

		-- call raises the same value; pcall catches it
		local ok, e2 = pcall(top.call, "taobao.item.seller.get", {num_iid = 1, fields = "num_iid"})
		assert(not ok and e2.sub_code == err.sub_code)
		assert(top.is_write("taobao.item.sku.price.update") and not top.is_write("taobao.trades.sold.get"))
		assert(top.dry_run == false)
		top.throttle("taobao.time.*", 1000)
		print("ok")
	`)
	if v.out.String() != "ok\n" {
		t.Fatalf("stdout = %q", v.out.String())
	}
}

func TestUncaughtTopError(t *testing.T) {
	v := newEnv(t, sandbox.Options{}, engine.Options{})
	err := v.e.RunString(context.Background(), "bulk.lua", "local x = 1\n\ntop.call('taobao.item.seller.get', {num_iid = 1, fields = 'num_iid'})")
	var se *engine.ScriptError
	if !errors.As(err, &se) || se.Top == nil {
		t.Fatalf("err = %#v", err)
	}
	if se.File != "bulk.lua" || se.Line != 3 || !strings.HasPrefix(se.Error(), "bulk.lua:3: taobao.item.seller.get: 15 ") {
		t.Fatalf("err = %q", se.Error())
	}
	var te *top.Error
	if !errors.As(err, &te) || te.Kind != top.KindISV || te.RequestID == "" {
		t.Fatalf("top error = %#v", te)
	}
}

func TestBadArguments(t *testing.T) {
	v := newEnv(t, sandbox.Options{}, engine.Options{})
	for _, c := range []struct{ src, want string }{
		{`top.call(1)`, "bad argument #1 to 'top.call' (method must be a string, got number)"},
		{`top.call()`, "bad argument #1 to 'top.call' (method must be a string, got no value)"},
		{`top.call("taobao.time.get", "x")`, "bad argument #2 to 'top.call' (params must be a table, got string)"},
		{`top.try("taobao.time.get", {items = {1, function() end}})`, "bad argument #2 to 'top.try' (params.items[2]: a function cannot be a parameter)"},
		{`top.call("taobao.time.get", nil, {timout = "1s"})`, `bad argument #3 to 'top.call' (unknown option "timout")`},
		{`top.call("taobao.time.get", nil, {timeout = "soon"})`, `bad argument #3 to 'top.call' (opts.timeout: invalid duration "soon"`},
		{`top.call_all({{"taobao.time.get"}, {"taobao.time.get", {f = print}}})`, "bad argument #1 to 'top.call_all' (calls[2].params.f: a function cannot be a parameter)"},
		{`top.call_all("x")`, "bad argument #1 to 'top.call_all' (calls must be a table"},
		{`local t = {}; t.self = t; top.call("taobao.time.get", {t = t})`, "params.t.self: a table cannot contain itself"},
	} {
		err := v.e.RunString(context.Background(), "args.lua", c.src)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "args.lua:1: ") {
			t.Errorf("%s:\n got %v\nwant %s", c.src, err, c.want)
		}
	}
	if n := v.s.Stats().Requests; n != 0 {
		t.Errorf("bad calls reached the gateway: %d requests", n)
	}
}

func TestPagesAndEach(t *testing.T) {
	for _, simplify := range []bool{true, false} {
		name := "simplify"
		if !simplify {
			name = "plain"
		}
		t.Run(name, func(t *testing.T) {
			v := newEnv(t, sandbox.Options{Trades: 250}, engine.Options{})
			v.e.Set("simplify", simplify)
			v.run(t, `
				local opts = {simplify = simplify}
				local first = top.call("taobao.items.onsale.get", {fields = "num_iid", page_size = 1}, opts)
				local total = first.total_results
				assert(type(total) == "number" and total > 30, "total " .. tostring(total))

				local pages, seen = 0, 0
				for page in top.pages("taobao.items.onsale.get", {fields = "num_iid,title", page_size = 30}, opts) do
					pages = pages + 1
					local list = page.items
					if not simplify then list = list.item end
					seen = seen + #list
				end
				assert(seen == total, "pages saw " .. seen .. " of " .. total)
				assert(pages == math.ceil(total / 30), "pages " .. pages)

				-- each: catalog list field, explicit list field, guessed list
				local ids, n = {}, 0
				for item in top.each("taobao.items.onsale.get", {fields = "num_iid,title", page_size = 40}, opts) do
					assert(item.num_iid and item.title, "item fields")
					ids[tostring(item.num_iid)] = true
					n = n + 1
				end
				assert(n == total, "each saw " .. n .. " of " .. total)
				local m = 0
				for _ in top.each("taobao.items.onsale.get", {fields = "num_iid", page_size = 100}, {items = "items", simplify = simplify, page_size = 50}) do m = m + 1 end
				assert(m == total, "each with items saw " .. m)

				local trades = 0
				for t in top.each("taobao.trades.sold.get", {fields = "tid", use_has_next = true, page_size = 100}, opts) do
					assert(type(t.tid) == "string" and #t.tid == 19, "tid " .. tostring(t.tid))
					trades = trades + 1
				end
				assert(trades > 0 and trades <= 250, "trades " .. trades)
				print(n, trades)
			`)
		})
	}
}

func TestReversePages(t *testing.T) {
	v := newEnv(t, sandbox.Options{Trades: 3000}, engine.Options{})
	v.run(t, `
		-- Find a busy day, then walk its increment backwards.
		local now = top.call("taobao.time.get").time
		local y, mo, d = now:match("^(%d+)-(%d+)-(%d+)")
		local total, best = 0, nil
		for back = 0, 40 do
			local t = os.time{year = tonumber(y), month = tonumber(mo), day = tonumber(d) - back, hour = 0}
			local from = os.date("%Y-%m-%d 00:00:00", t)
			local to = os.date("%Y-%m-%d 23:59:59", t)
			local r = top.call("taobao.trades.sold.increment.get", {fields = "tid", start_modified = from, end_modified = to, page_size = 5})
			if (r.total_results or 0) > 10 then best = {from, to, r.total_results} break end
		end
		assert(best, "no busy day")
		local seen, pages = {}, 0
		for page in top.pages("taobao.trades.sold.increment.get", {fields = "tid", start_modified = best[1], end_modified = best[2]}, {reverse = true, page_size = 5}) do
			pages = pages + 1
			for _, t in ipairs(page.trades) do seen[t.tid] = true end
		end
		local n = 0
		for _ in pairs(seen) do n = n + 1 end
		assert(n == best[3], "reverse saw " .. n .. " of " .. best[3])
		assert(pages == math.ceil(best[3] / 5), "pages " .. pages)
	`)
}

func TestBigIDsRoundTrip(t *testing.T) {
	v := newEnv(t, sandbox.Options{Trades: 300}, engine.Options{})
	v.run(t, `
		local n = 0
		for t in top.each("taobao.trades.sold.get", {fields = "tid,status", use_has_next = true, page_size = 100}) do
			assert(type(t.tid) == "string", "a 19-digit tid arrives as a string, got " .. type(t.tid))
			assert(#t.tid == 19, t.tid)
			local full = top.call("taobao.trade.fullinfo.get", {tid = t.tid, fields = "tid,tid_str,status"})
			assert(full.trade.tid == t.tid and full.trade.tid_str == t.tid, "fullinfo " .. tostring(full.trade.tid) .. " for " .. t.tid)
			n = n + 1
		end
		assert(n > 0)
		print(n)
	`)
	if v.out.String() == "0\n" {
		t.Fatal("no trades")
	}
	if st := v.s.Stats(); len(st.Errors) > 0 {
		t.Fatalf("sandbox errors: %v", st.Errors)
	}
}

func TestCallAllOrderAndConcurrency(t *testing.T) {
	const latency = 40 * time.Millisecond
	counter := &inflight{next: http.DefaultTransport}
	v := newEnv(t, sandbox.Options{Latency: latency}, engine.Options{}, top.WithHTTPClient(&http.Client{Transport: counter}))
	v.run(t, `
		local items = top.call("taobao.items.onsale.get", {fields = "num_iid", page_size = 12}).items
		local calls = {}
		for i, it in ipairs(items) do
			calls[i] = {"taobao.item.seller.get", {num_iid = it.num_iid, fields = "num_iid"}}
		end
		calls[5] = {method = "taobao.item.seller.get", params = {num_iid = 1, fields = "num_iid"}}
		local t0 = os.clock()
		local results = top.call_all(calls, {concurrency = 4})
		assert(#results == #calls)
		for i, r in ipairs(results) do
			if i == 5 then
				assert(r.ok == false and r.error.code == 15 and r.error.method == "taobao.item.seller.get", "5 fails")
				assert(tostring(r.error):find("request_id"))
			else
				assert(r.ok == true and r.result.item.num_iid == items[i].num_iid, "result " .. i .. " in order")
			end
		end
		assert(#top.call_all({}) == 0)
	`)
	// 12 calls answering after 40ms each, 4 workers: exactly 4 in flight at the peak.
	if m := counter.Max(); m != 4 {
		t.Fatalf("max in flight = %d, want 4", m)
	}
	if n := v.s.Stats().Calls["taobao.item.seller.get"]; n != 12 {
		t.Fatalf("seller.get calls = %d", n)
	}
}

func TestCallAllCancel(t *testing.T) {
	v := newEnv(t, sandbox.Options{Latency: 300 * time.Millisecond}, engine.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := v.e.RunString(ctx, "c.lua", `
		local calls = {}
		for i = 1, 20 do calls[i] = {"taobao.time.get"} end
		top.call_all(calls, {concurrency = 2})
		print("not reached")
	`)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
	if time.Since(start) > 2*time.Second {
		t.Fatalf("cancel took %v", time.Since(start))
	}
}

func TestDryRun(t *testing.T) {
	v := newEnv(t, sandbox.Options{}, engine.Options{DryRun: true})
	v.run(t, `
		assert(top.dry_run == true)
		local item = top.call("taobao.items.onsale.get", {fields = "num_iid", page_size = 1}).items[1]
		local r = top.call("taobao.item.quantity.update", {num_iid = item.num_iid, quantity = 5}, {session = "s3cr3t-sess"})
		assert(r.dry_run == true)
		-- A write the real call would refuse fails the dry run the same way.
		local bad, berr = top.try("taobao.item.quantity.update", {num_iid = item.num_iid, quantity = 5, session = "s3cr3t-sess"})
		assert(bad == nil and berr.kind == "invalid" and tostring(berr):find("system parameter"), tostring(berr))
		local r2, err = top.try("taobao.item.quantity.update", {num_iid = item.num_iid, quantity = 6})
		assert(r2.dry_run == true and err == nil)
		local all = top.call_all({{"taobao.item.quantity.update", {num_iid = item.num_iid, quantity = 7}}, {"taobao.time.get"}})
		assert(all[1].ok and all[1].result.dry_run and all[2].ok and all[2].result.time)
	`)
	st := v.s.Stats()
	if len(st.Writes) != 0 {
		t.Fatalf("dry-run wrote: %v", st.Writes)
	}
	if st.Calls["taobao.item.quantity.update"] != 0 {
		t.Fatalf("dry-run sent writes: %v", st.Calls)
	}
	log := v.log.String()
	if strings.Count(log, "dry-run: would call taobao.item.quantity.update") != 3 {
		t.Fatalf("log = %s", log)
	}
	if strings.Contains(log, "s3cr3t-sess") || !strings.Contains(log, "quantity=5") {
		t.Fatalf("log leaks or lacks params: %s", log)
	}
}

func TestNoClient(t *testing.T) {
	e, err := engine.New(engine.Options{Stdout: &bytes.Buffer{}})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	err = e.RunString(context.Background(), "n.lua", `
		assert(top.is_write("taobao.item.quantity.update"))
		local r, err = top.try("taobao.time.get")
		assert(r == nil and err.kind == "invalid" and tostring(err):find("no TOP client"), tostring(err))
	`)
	if err != nil {
		t.Fatal(err)
	}
}

// panicTransport panics on every request, as a broken transport might.
type panicTransport struct{}

func (panicTransport) RoundTrip(*http.Request) (*http.Response, error) { panic("transport exploded") }

// A panic under a call becomes that call's TOP error (kind transport,
// "internal error: ..."), on the script's thread and on worker goroutines
// alike: top.call, call_all (single and batched) and job.run all take the
// one caller path.
func TestPanicGuard(t *testing.T) {
	v := newEnv(t, sandbox.Options{}, engine.Options{}, top.WithHTTPClient(&http.Client{Transport: panicTransport{}}))
	v.run(t, `
		local r, err = top.try("taobao.time.get")
		assert(r == nil and err.kind == "transport" and err.msg:find("internal error: transport exploded"), tostring(err))
		for _, opts in ipairs({{}, {batch = 2}}) do
			local rs = top.call_all({{"taobao.time.get"}, {"taobao.items.onsale.get", {fields = "num_iid"}}}, opts)
			assert(#rs == 2 and not rs[1].ok and not rs[2].ok, "call_all")
			assert(rs[2].error.msg:find("internal error") and rs[2].error.method == "taobao.items.onsale.get", tostring(rs[2].error))
		end
		local s = require("job").run{name = "p", rows = {"a", "b"}, key = function(r) return r end,
			call = function() return "taobao.time.get" end}
		assert(s.failed == 2, "job failed " .. s.failed)
	`)
}

// Under --dry-run a write is checked as the real call would check it
// (Client.Validate), so a dry run reports a bad parameter as the real run
// does, in top.call, call_all (batched too) and job.run; nothing is sent.
// skip_validation turns the checks off for one call, dry run or not.
func TestDryRunValidates(t *testing.T) {
	v := newEnv(t, sandbox.Options{}, engine.Options{DryRun: true})
	v.run(t, `
		local r, err = top.try("taobao.item.sku.price.update", {num_iid = 600000153551, properties = "1627207:28320", price = "cheap"})
		assert(r == nil and err.kind == "invalid" and err.msg == 'price: "cheap" is not a decimal number (as 12.50)', tostring(err))
		local _, err2 = top.try("taobao.item.sku.price.update", {num_iid = 600000153551, price = "9.90"})
		assert(err2 and err2.kind == "invalid" and tostring(err2):find("properties"), tostring(err2))
		for _, opts in ipairs({{}, {batch = 2}}) do
			local rs = top.call_all({
				{"taobao.item.sku.price.update", {num_iid = 600000153551, properties = "1627207:28320", price = "9.90"}},
				{"taobao.item.sku.price.update", {num_iid = "x", properties = "1627207:28320", price = "9.90"}},
			}, opts)
			assert(rs[1].ok and rs[1].result.dry_run, "good write")
			assert(not rs[2].ok and rs[2].error.kind == "invalid" and tostring(rs[2].error):find("num_iid"), tostring(rs[2].error))
		end
		local s = require("job").run {
			name = "dry-validate", rows = {{p = "9.90"}, {p = "cheap"}},
			key = function(r) return r.p end,
			call = function(r) return "taobao.item.sku.price.update", {num_iid = 600000153551, properties = "1627207:28320", price = r.p} end,
		}
		assert(s.failed == 1 and s.total == 2, "job: " .. s.failed .. " failed of " .. s.total)
		-- skip_validation: the checks are off for this call only.
		local ok = top.call("taobao.item.sku.price.update", {num_iid = 600000153551, properties = "1627207:28320", price = "cheap"}, {skip_validation = true})
		assert(ok.dry_run == true)
	`)
	if st := v.s.Stats(); st.Calls["taobao.item.sku.price.update"] != 0 || len(st.Writes) != 0 {
		t.Fatalf("the dry run sent writes: %v", st.Calls)
	}
}

// skip_validation = true sends a call the catalog would refuse (a stale
// doc), and the gateway answers for itself; without it nothing is sent.
func TestSkipValidation(t *testing.T) {
	v := newEnv(t, sandbox.Options{}, engine.Options{})
	v.run(t, `
		local _, err = top.try("taobao.time.get", {not_a_param = "1"})
		assert(err and err.kind == "invalid" and tostring(err):find("not_a_param"), tostring(err))
		local r = top.call("taobao.time.get", {not_a_param = "1"}, {skip_validation = true})
		assert(type(r.time) == "string", "sent")
		local ok, perr = pcall(top.call, "taobao.time.get", nil, {skip_validation = "yes"})
		assert(not ok and tostring(perr):find("opts.skip_validation must be a boolean"), tostring(perr))
	`)
	if n := v.s.Stats().Calls["taobao.time.get"]; n != 1 {
		t.Fatalf("taobao.time.get sent %d times, want once (only with skip_validation)", n)
	}
}

// opts.idempotent overrides the catalog: with every answer an isp timeout
// after the write was applied (isp_applied), a price set declared not
// idempotent is sent once and fails unknown_outcome; by default (the
// catalog: idempotent) it is retried, each attempt applied again.
func TestOptsIdempotent(t *testing.T) {
	v := newEnv(t, sandbox.Options{Faults: sandbox.Faults{ISPApplied: 1}}, engine.Options{})
	v.run(t, `
		local p = {num_iid = "600000153551", properties = "1627207:28320;20509:28315", price = "59.90"}
		local r, err = top.try("taobao.item.sku.price.update", p, {idempotent = false})
		assert(r == nil and err.kind == "unknown_outcome", tostring(err))
		r, err = top.try("taobao.item.sku.price.update", p, {retries = 2})
		assert(r == nil and err.kind == "isp", tostring(err))
		local ok, e = pcall(top.call, "taobao.time.get", nil, {idempotent = "no"})
		assert(not ok and tostring(e):find("opts.idempotent must be a boolean"), tostring(e))
	`)
	if n := v.s.Stats().Writes["taobao.item.sku.price.update"]["600000153551:1627207:28320;20509:28315"]; n != 4 {
		t.Errorf("%d writes applied, want 1 (not idempotent: sent once) + 3 (retried)", n)
	}
}
