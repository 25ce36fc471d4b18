package engine

import (
	"context"
	"testing"
	"time"

	lua "github.com/yuin/gopher-lua"
)

// hookBenchSrc is instruction-bound Lua with concatenations in it.
const hookBenchSrc = `
local n, s = 0, ""
for i = 1, 200000 do
  n = n + i % 7
  if i % 100 == 0 then s = "k" .. i .. ":" .. n end
end
return s`

// BenchmarkInstructionHook reports what the instruction hook (and the
// concatenation check) costs: the same chunk run by the engine (hooked
// context) and by a bare gopher-lua state with a plain context, the
// floor, interleaved in one run. The metric is hooked/plain time.
func BenchmarkInstructionHook(b *testing.B) { againstPlain(b, hookBenchSrc, "hooked/plain") }

// againstPlain runs src in the engine and in a bare gopher-lua state with
// a plain context, interleaved, and reports the ratio of their times.
func againstPlain(b *testing.B, src, metric string) {
	e, err := New(Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	proto, err := compileString("bench.lua", src)
	if err != nil {
		b.Fatal(err)
	}
	plain := lua.NewState()
	defer plain.Close()
	ctx := context.Background()
	var ours, floor time.Duration
	for i := 0; i < b.N; i++ {
		start := time.Now()
		if _, err := e.run(ctx, proto, nil, 0); err != nil {
			b.Fatal(err)
		}
		ours += time.Since(start)

		start = time.Now()
		pctx, cancel := context.WithCancel(ctx)
		plain.SetContext(pctx)
		plain.Push(plain.NewFunctionFromProto(proto))
		if err := plain.PCall(0, 0, nil); err != nil {
			b.Fatal(err)
		}
		plain.RemoveContext()
		cancel()
		floor += time.Since(start)
	}
	b.ReportMetric(float64(ours)/float64(floor), metric)
}

// patternBenchSrc is what scripts do with patterns: split lines, trim,
// squeeze spaces, pick fields.
const patternBenchSrc = `
local line = "342161316540874753,  连衣裙 summer dress ,  129.00 , 2024-06-01 12:30:45"
local n = 0
for i = 1, 3000 do
  local id, title, price = line:match("^(%d+),%s*(.-)%s*,%s*([%d.]+)")
  local t = title:gsub("%s+", " ")
  for f in line:gmatch("[^,]+") do n = n + #f end
  if line:find("dress", 1, true) and t:find("^%S") then n = n + 1 end
end
return n`

// BenchmarkPatterns reports the interruptible Lua 5.1 pattern functions
// against gopher-lua's own (the floor), on the same chunk in one run.
func BenchmarkPatterns(b *testing.B) { againstPlain(b, patternBenchSrc, "ours/gopher-lua") }
