package luacompile

import (
	"sort"
	"testing"
	"time"

	lua "github.com/yuin/gopher-lua"
	"github.com/yuin/gopher-lua/ast"
)

// The rewrite's cost, measured on the operator scripts in
// scripts/examples:
//
//	go test ./internal/luacompile -run '^$' -bench . -benchtime 2s
//
// BenchmarkCompile/plain is gopher-lua's parse and compile, /rewrite the
// same with Rewrite in between (what the engine runs). BenchmarkRewrite
// times the three steps of every compile of the examples in turn and
// reports the time of Rewrite as a share of parse plus compile
// ("rewrite-%", the median over iterations; the goal is under 5), so a
// busy machine slows both alike.

func compileAll(b *testing.B, srcs []string, rewrite bool) {
	for _, src := range srcs {
		chunk, err := Parse("bench.lua", src)
		if err != nil {
			b.Fatal(err)
		}
		if rewrite {
			chunk = Rewrite(chunk)
		}
		if _, err := compile("bench.lua", src, chunk); err != nil {
			b.Fatal(err)
		}
	}
}

func exampleSources(b *testing.B) []string {
	var srcs []string
	for _, src := range exampleScripts(b) {
		srcs = append(srcs, src)
	}
	sort.Strings(srcs)
	return srcs
}

func BenchmarkCompile(b *testing.B) {
	srcs := exampleSources(b)
	for _, mode := range []struct {
		name    string
		rewrite bool
	}{{"plain", false}, {"rewrite", true}} {
		b.Run(mode.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				compileAll(b, srcs, mode.rewrite)
			}
		})
	}
}

func BenchmarkRewrite(b *testing.B) {
	srcs := exampleSources(b)
	ratios := make([]float64, 0, b.N)
	var total time.Duration
	for i := 0; i < b.N; i++ {
		var compiling, rewriting time.Duration
		for _, src := range srcs {
			t0 := time.Now()
			chunk, err := Parse("bench.lua", src)
			if err != nil {
				b.Fatal(err)
			}
			t1 := time.Now()
			chunk = Rewrite(chunk)
			t2 := time.Now()
			if _, err := compile("bench.lua", src, chunk); err != nil {
				b.Fatal(err)
			}
			t3 := time.Now()
			compiling += t1.Sub(t0) + t3.Sub(t2)
			rewriting += t2.Sub(t1)
		}
		total += compiling
		ratios = append(ratios, float64(rewriting)/float64(compiling))
	}
	sort.Float64s(ratios)
	b.ReportMetric(100*ratios[len(ratios)/2], "rewrite-%")
	b.ReportMetric(float64(total.Nanoseconds())/float64(b.N), "compile-ns/op")
}

// BenchmarkRewriteOnly is the rewrite alone, chunks parsed outside the
// timer.
func BenchmarkRewriteOnly(b *testing.B) {
	srcs := exampleSources(b)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		chunks := make([][]ast.Stmt, 0, len(srcs))
		for _, s := range srcs {
			c, err := Parse("bench.lua", s)
			if err != nil {
				b.Fatal(err)
			}
			chunks = append(chunks, c)
		}
		b.StartTimer()
		for _, c := range chunks {
			Rewrite(c)
		}
	}
}

// BenchmarkRunHoistedLoop: a loop the rewrite hoists (R3) runs as fast as
// the same loop written with the iterator named first, the workaround
// scripts used before ("hoisted-vs-named" near 1).
func BenchmarkRunHoistedLoop(b *testing.B) {
	const setup = `local M = {} function M.get() return M end
function M.range(n) local i = 0 return function() i = i + 1 if i <= n then return i end end end
local s = 0
`
	hoisted, err := Compile("h.lua", setup+"for x in M.get().range(200000) do s = s + x end return s")
	if err != nil {
		b.Fatal(err)
	}
	named, err := Compile("n.lua", setup+"local it = M.get().range(200000) for x in it do s = s + x end return s")
	if err != nil {
		b.Fatal(err)
	}
	if !hoistedInto(hoisted) {
		b.Fatal("the loop was not hoisted")
	}
	L := lua.NewState()
	defer L.Close()
	run := func(p *lua.FunctionProto) {
		L.Push(L.NewFunctionFromProto(p))
		if err := L.PCall(0, 1, nil); err != nil {
			b.Fatal(err)
		}
		if v := L.Get(-1); v != lua.LNumber(200000*200001/2) {
			b.Fatalf("sum %v", v)
		}
		L.Pop(1)
	}
	var th, tn time.Duration
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		run(hoisted)
		t1 := time.Now()
		run(named)
		tn += time.Since(t1)
		th += t1.Sub(t0)
	}
	b.ReportMetric(float64(th)/float64(tn), "hoisted-vs-named")
}

// hoistedInto reports whether p declares the locals R3 introduces.
func hoistedInto(p *lua.FunctionProto) bool {
	for _, l := range p.DbgLocals {
		if l.Name == iterFuncName {
			return true
		}
	}
	return false
}
