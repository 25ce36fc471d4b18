package luatop_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/topscript/topscript/engine"
	"github.com/topscript/topscript/sandbox"
	"github.com/topscript/topscript/state"
	"github.com/topscript/topscript/top"
)

// benchItem returns a num_iid of the sandbox.
func benchItem(b *testing.B, c *top.Client) json.Number {
	r, err := c.Call(context.Background(), "taobao.items.onsale.get", top.Params{"fields": "num_iid", "page_size": 1}, nil)
	if err != nil {
		b.Fatal(err)
	}
	items, _, _ := top.FindList(r.Payload, "items")
	return items[0].(map[string]any)["num_iid"].(json.Number)
}

const benchFields = "num_iid,title,price,num,sku"

// BenchmarkGoCall is the baseline: taobao.item.seller.get straight from Go.
func BenchmarkGoCall(b *testing.B) {
	_, c := sandboxClient(b, sandbox.Options{})
	id := benchItem(b, c)
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := c.Call(ctx, "taobao.item.seller.get", top.Params{"num_iid": id, "fields": benchFields}, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLuaCall is the same call from a script through top.call
// (params converted from Lua, the result converted to tables).
func BenchmarkLuaCall(b *testing.B) {
	v := newEnv(b, sandbox.Options{}, engine.Options{})
	v.e.Set("id", lua.LString(benchItem(b, v.c)))
	v.e.Set("fields", benchFields)
	v.e.Set("N", b.N)
	b.ResetTimer()
	if err := v.e.RunString(context.Background(), "bench.lua", `
		for i = 1, N do
			local r = top.call("taobao.item.seller.get", {num_iid = id, fields = fields})
		end
	`); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkLuaOverGo interleaves the Go and the Lua call against one
// sandbox and client and reports the Lua/Go time ratio (goal ≤ 1.10).
func BenchmarkLuaOverGo(b *testing.B) {
	v := newEnv(b, sandbox.Options{}, engine.Options{})
	id := benchItem(b, v.c)
	v.e.Set("id", lua.LString(id))
	v.e.Set("fields", benchFields)
	ctx := context.Background()
	// Warm up both paths (connections, caches).
	for i := 0; i < 50; i++ {
		v.c.Call(ctx, "taobao.item.seller.get", top.Params{"num_iid": id, "fields": benchFields}, nil)
	}
	const batch = 50
	if err := v.e.RunString(ctx, "setup.lua", `function bench(n) for i = 1, n do top.call("taobao.item.seller.get", {num_iid = id, fields = fields}) end end`); err != nil {
		b.Fatal(err)
	}
	var goT, luaT time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		for j := 0; j < batch; j++ {
			if _, err := v.c.Call(ctx, "taobao.item.seller.get", top.Params{"num_iid": id, "fields": benchFields}, nil); err != nil {
				b.Fatal(err)
			}
		}
		t1 := time.Now()
		if err := v.e.RunString(ctx, "bench.lua", fmt.Sprintf("bench(%d)", batch)); err != nil {
			b.Fatal(err)
		}
		goT += t1.Sub(t0)
		luaT += time.Since(t1)
	}
	b.ReportMetric(float64(goT.Nanoseconds())/float64(b.N*batch), "go-ns/call")
	b.ReportMetric(float64(luaT.Nanoseconds())/float64(b.N*batch), "lua-ns/call")
	b.ReportMetric(float64(luaT)/float64(goT), "lua/go")
}

// BenchmarkCallAll runs 32 calls through top.call_all against a sandbox
// answering after 20ms, at concurrency 1, 4 and 16, and reports the
// achieved throughput over the ideal (concurrency / latency).
func BenchmarkCallAll(b *testing.B) {
	const latency = 20 * time.Millisecond
	const calls = 32
	for _, conc := range []int{1, 4, 16} {
		b.Run(fmt.Sprintf("concurrency=%d", conc), func(b *testing.B) {
			v := newEnv(b, sandbox.Options{Latency: latency}, engine.Options{})
			v.e.Set("id", lua.LString(benchItem(b, v.c)))
			if err := v.e.RunString(context.Background(), "setup.lua", fmt.Sprintf(`
				calls = {}
				for i = 1, %d do calls[i] = {"taobao.item.seller.get", {num_iid = id, fields = "num_iid,title"}} end
				function bench()
					for _, r in ipairs(top.call_all(calls, {concurrency = %d})) do assert(r.ok, r.error) end
				end`, calls, conc)); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			start := time.Now()
			for i := 0; i < b.N; i++ {
				if err := v.e.RunString(context.Background(), "bench.lua", "bench()"); err != nil {
					b.Fatal(err)
				}
			}
			elapsed := time.Since(start)
			achieved := float64(calls*b.N) / elapsed.Seconds()
			ideal := float64(conc) / latency.Seconds()
			b.ReportMetric(achieved, "calls/s")
			b.ReportMetric(achieved/ideal, "achieved/ideal")
		})
	}
}

// BenchmarkJobIntents runs the same 200-row stock job on a file store
// twice per iteration: with full quantities (type=1, can be sent twice: no
// intent records) and with increments (type=2: an intent record is
// committed, fsynced, before each round of sends). It reports the cost of
// the intent records as the ratio of the two times (intents/floor).
func BenchmarkJobIntents(b *testing.B) {
	st, err := state.OpenFile(filepath.Join(b.TempDir(), "state.db"), state.FileOptions{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	v := newEnv(b, sandbox.Options{}, engine.Options{Store: st})
	var rows []string
	for page := 1; len(rows) < 200; page++ {
		r, err := v.c.Call(context.Background(), "taobao.items.onsale.get", top.Params{"fields": "num_iid", "page_no": page, "page_size": 50}, nil)
		if err != nil {
			b.Fatal(err)
		}
		items, _, _ := top.FindList(r.Payload, "items")
		for _, it := range items {
			id := it.(map[string]any)["num_iid"].(json.Number).String()
			res, err := v.c.Call(context.Background(), "taobao.item.seller.get", top.Params{"num_iid": id, "fields": "sku"}, nil)
			if err != nil {
				b.Fatal(err)
			}
			skus, _, _ := top.FindList(res.Payload["item"].(map[string]any), "skus")
			for _, s := range skus {
				rows = append(rows, fmt.Sprintf("{%q, %q}", id, s.(map[string]any)["sku_id"].(json.Number).String()))
			}
		}
	}
	if err := v.e.RunString(context.Background(), "setup.lua", `
		rows = {`+strings.Join(rows[:200], ",")+`}
		n = 0
		function bench(typ)
			n = n + 1
			local s = require("job").run {
				name = "bench" .. n, rows = rows, concurrency = 4,
				key = function(r) return r[1] .. ":" .. r[2] end,
				call = function(r) return "taobao.item.quantity.update", {num_iid = r[1], sku_id = r[2], type = typ, quantity = 1} end,
			}
			assert(s.ok == #rows, "ok " .. s.ok)
		end`); err != nil {
		b.Fatal(err)
	}
	var floor, intents time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		if err := v.e.RunString(context.Background(), "b.lua", "bench(1)"); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if err := v.e.RunString(context.Background(), "b.lua", "bench(2)"); err != nil {
			b.Fatal(err)
		}
		floor += t1.Sub(t0)
		intents += time.Since(t1)
	}
	b.ReportMetric(float64(floor.Microseconds())/float64(b.N*200), "floor-us/row")
	b.ReportMetric(float64(intents.Microseconds())/float64(b.N*200), "intents-us/row")
	b.ReportMetric(float64(intents)/float64(floor), "intents/floor")
}
