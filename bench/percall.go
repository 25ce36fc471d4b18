package main

import (
	"context"
	"fmt"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/topscript/topscript/sandbox"
	"github.com/topscript/topscript/top"
)

// perCallMethod and perCallFields are the call every variant makes: a
// session read of one item, small answer.
const (
	perCallMethod = "taobao.item.seller.get"
	perCallFields = "num_iid,title,price,num"
)

// perCall compares one call's cost three ways against the same in-process
// sandbox: a top.call loop in Lua, the same loop in Go through the same
// client, and the floor (sign, post, read; no decoding). Rounds are
// interleaved and each variant's best round counts, which keeps the noise
// of a shared machine out of the ratios.
func perCall(ctx context.Context, cfg config, _ *env) (*section, error) {
	sec := &section{title: "Per-call cost (top.call in Lua vs Go vs a bare signed POST)"}
	s, err := sandbox.StartLocal(sandbox.Options{})
	if err != nil {
		return nil, err
	}
	defer s.Close()
	c, err := top.NewClient(clientConfig(s))
	if err != nil {
		return nil, err
	}
	id, err := anItem(ctx, c)
	if err != nil {
		return nil, err
	}
	eng, err := newEngine(c)
	if err != nil {
		return nil, err
	}
	defer eng.Close()
	eng.Set("id", lua.LString(id))
	eng.Set("fields", perCallFields)
	if err := eng.RunString(ctx, "setup.lua", `
		function bench(n)
			for i = 1, n do
				top.call("`+perCallMethod+`", {num_iid = id, fields = fields})
			end
		end`); err != nil {
		return nil, err
	}
	fl := newFloor(s)
	params := top.Params{"num_iid": id, "fields": perCallFields}
	fparams := map[string]string{"num_iid": string(id), "fields": perCallFields}

	variants := []struct {
		name string
		fn   func(n int) error
	}{
		{"floor", func(n int) error {
			for i := 0; i < n; i++ {
				if err := fl.call(ctx, perCallMethod, fparams); err != nil {
					return err
				}
			}
			return nil
		}},
		{"go", func(n int) error {
			for i := 0; i < n; i++ {
				if _, err := c.Call(ctx, perCallMethod, params, nil); err != nil {
					return err
				}
			}
			return nil
		}},
		{"lua", func(n int) error {
			return eng.RunString(ctx, "bench.lua", fmt.Sprintf("bench(%d)", n))
		}},
	}
	// Warm up connections, caches and the compiled chunk.
	for _, v := range variants {
		if err := v.fn(max(cfg.perCallN/10, 5)); err != nil {
			return nil, fmt.Errorf("%s: %w", v.name, err)
		}
	}
	best := map[string]time.Duration{}
	for r := 0; r < cfg.perCallRounds; r++ {
		for k := range variants {
			v := variants[(k+r)%len(variants)] // rotate the order
			t0 := time.Now()
			if err := v.fn(cfg.perCallN); err != nil {
				return nil, fmt.Errorf("%s: %w", v.name, err)
			}
			d := time.Since(t0) / time.Duration(cfg.perCallN)
			if b, ok := best[v.name]; !ok || d < b {
				best[v.name] = d
			}
		}
	}
	fl0, g, l := best["floor"], best["go"], best["lua"]
	sec.add("floor: sign + POST + read, per call", us(fl0))
	sec.add("Go: client.Call, per call", us(g))
	sec.add("Lua: top.call, per call", us(l))
	luaGo := float64(g) / float64(l)
	luaFloor := float64(fl0) / float64(l)
	sec.goal("Lua/Go (calls/s ratio)", ratio(luaGo), "≥ 0.90", luaGo >= 0.9)
	sec.goal("Lua/floor (calls/s ratio)", ratio(luaFloor), "≥ 0.80", luaFloor >= 0.8)
	sec.note("%s with fields %s against an in-process sandbox (no latency) sharing the CPUs; best of %d interleaved rounds of %d calls each.",
		perCallMethod, perCallFields, cfg.perCallRounds, cfg.perCallN)
	return sec, nil
}
