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
func BenchmarkInstructionHook(b *testing.B) {
	e, err := New(Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	proto, err := compileString("bench.lua", hookBenchSrc)
	if err != nil {
		b.Fatal(err)
	}
	plain := lua.NewState()
	defer plain.Close()
	ctx := context.Background()
	var hooked, floor time.Duration
	for i := 0; i < b.N; i++ {
		start := time.Now()
		if _, err := e.run(ctx, proto, nil, 0); err != nil {
			b.Fatal(err)
		}
		hooked += time.Since(start)

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
	b.ReportMetric(float64(hooked)/float64(floor), "hooked/plain")
}
