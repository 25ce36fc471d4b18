package main

import (
	"context"
	"fmt"
	"math"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/topscript/topscript/engine"
	"github.com/topscript/topscript/sandbox"
	"github.com/topscript/topscript/top"
)

// callAllScript defines prepare(n), which builds n calls, and go(conc,
// batch), which runs them through top.call_all and counts failures into
// the global failed (first error in first_error).
const callAllScript = `
function prepare(n)
	calls = {}
	for i = 1, n do calls[i] = {"taobao.item.seller.get", {num_iid = id, fields = "num_iid,title,price"}} end
end
function go(conc, batch)
	failed, first_error = 0, nil
	local opts = {concurrency = conc}
	if batch > 1 then opts.batch = batch end
	for _, r in ipairs(top.call_all(calls, opts)) do
		if not r.ok then
			failed = failed + 1
			first_error = first_error or tostring(r.error)
		end
	end
end`

// callAllBench is a Lua engine over a client of a sandbox, set up with
// callAllScript.
type callAllBench struct {
	s   *sandbox.Server
	c   *top.Client
	eng *engine.Engine
}

func newCallAllBench(ctx context.Context, s *sandbox.Server, mut func(*top.Config)) (*callAllBench, error) {
	cfg := clientConfig(s)
	if mut != nil {
		mut(&cfg)
	}
	c, err := top.NewClient(cfg)
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
	eng.Set("id", lua.LString(id))
	if err := eng.RunString(ctx, "setup.lua", callAllScript); err != nil {
		eng.Close()
		return nil, err
	}
	return &callAllBench{s: s, c: c, eng: eng}, nil
}

func (b *callAllBench) close() { b.eng.Close() }

// run times call_all over n calls; it fails if any call failed.
func (b *callAllBench) run(ctx context.Context, n, conc, batch int) (time.Duration, error) {
	if err := b.eng.RunString(ctx, "prepare.lua", fmt.Sprintf("prepare(%d)", n)); err != nil {
		return 0, err
	}
	t0 := time.Now()
	if err := b.eng.RunString(ctx, "go.lua", fmt.Sprintf("go(%d, %d)", conc, batch)); err != nil {
		return 0, err
	}
	d := time.Since(t0)
	L := b.eng.State()
	if f := lua.LVAsNumber(L.GetGlobal("failed")); f > 0 {
		return d, fmt.Errorf("%v of %d calls failed, first: %s", f, n, L.GetGlobal("first_error").String())
	}
	return d, nil
}

// concurrency measures call_all's throughput at several concurrencies
// against a sandbox answering after cfg.latency, over the ideal
// (concurrency / latency).
func concurrency(ctx context.Context, cfg config, _ *env) (*section, error) {
	sec := &section{title: fmt.Sprintf("Concurrency (top.call_all against --latency %s)", cfg.latency)}
	s, err := sandbox.StartLocal(sandbox.Options{Latency: cfg.latency})
	if err != nil {
		return nil, err
	}
	defer s.Close()
	b, err := newCallAllBench(ctx, s, nil)
	if err != nil {
		return nil, err
	}
	defer b.close()
	if _, err := b.run(ctx, 16, 16, 1); err != nil { // warm up connections
		return nil, err
	}
	for _, conc := range cfg.concLevels {
		n := conc * cfg.concWaves
		if cfg.mode != "test" {
			n = max(n, 32)
		}
		d, err := b.run(ctx, n, conc, 1)
		if err != nil {
			return nil, err
		}
		achieved := float64(n) / d.Seconds()
		ideal := float64(conc) / cfg.latency.Seconds()
		r := achieved / ideal
		m := fmt.Sprintf("concurrency %d: %d calls, %s", conc, n, perSec(achieved))
		if conc == 16 {
			sec.goal(m+", achieved/ideal", ratio(r), "≥ 0.80", r >= 0.8)
		} else {
			sec.add(m+", achieved/ideal", ratio(r))
		}
	}
	sec.note("ideal = concurrency / latency calls/s; each level runs concurrency × %d calls (at least 32).", cfg.concWaves)
	return sec, nil
}

// batch compares call_all with and without {batch = N} on the same job
// against a sandbox answering after cfg.latency.
func batch(ctx context.Context, cfg config, _ *env) (*section, error) {
	sec := &section{title: fmt.Sprintf("Batch endpoint (call_all {batch = N}, %d calls, concurrency %d, --latency %s)", cfg.batchCalls, cfg.batchConc, cfg.latency)}
	s, err := sandbox.StartLocal(sandbox.Options{Latency: cfg.latency})
	if err != nil {
		return nil, err
	}
	defer s.Close()
	b, err := newCallAllBench(ctx, s, nil)
	if err != nil {
		return nil, err
	}
	defer b.close()
	var base float64
	for _, size := range cfg.batchSizes {
		before := s.Stats().Requests
		d, err := b.run(ctx, cfg.batchCalls, cfg.batchConc, size)
		if err != nil {
			return nil, fmt.Errorf("batch %d: %w", size, err)
		}
		reqs := s.Stats().Requests - before
		rate := float64(cfg.batchCalls) / d.Seconds()
		if size <= 1 {
			base = rate
			sec.add("no batch: calls/s (HTTP requests)", fmt.Sprintf("%s (%d)", perSec(rate), reqs))
			continue
		}
		v := fmt.Sprintf("%s (%d)", perSec(rate), reqs)
		if base > 0 {
			v += fmt.Sprintf(", ×%.1f", rate/base)
		}
		sec.add(fmt.Sprintf("batch = %d: calls/s (HTTP requests), speed-up", size), v)
	}
	sec.note("Each sub-request still takes its own throttle token and counts against the app's quota: batching saves round trips and connections, not quota.")
	return sec, nil
}

// throttlePrecision runs cfg.throttleN calls at cfg.throttleQPS through the
// client's throttle against a sandbox enforcing the same QPS: elapsed over
// ideal (n / qps) and the number of code-7 answers, without and with batching.
func throttlePrecision(ctx context.Context, cfg config, _ *env) (*section, error) {
	sec := &section{title: fmt.Sprintf("Throttle precision (%d calls at %g qps, sandbox --qps %g)", cfg.throttleN, cfg.throttleQPS, cfg.throttleQPS)}
	s, err := sandbox.StartLocal(sandbox.Options{QPS: cfg.throttleQPS})
	if err != nil {
		return nil, err
	}
	defer s.Close()
	for _, size := range []int{1, 10} {
		// A fresh client (fresh buckets) and sandbox limiter for each run.
		b, err := newCallAllBench(ctx, s, func(c *top.Config) { c.Throttle.QPS = cfg.throttleQPS })
		if err != nil {
			return nil, err
		}
		if err := b.eng.RunString(ctx, "prepare.lua", fmt.Sprintf("prepare(%d)", cfg.throttleN)); err != nil {
			b.close()
			return nil, err
		}
		s.Reset() // zero the stats and the sandbox's QPS window (the set-up call)
		d, err := b.run(ctx, cfg.throttleN, 8, size)
		b.close()
		if err != nil {
			return nil, err
		}
		ideal := time.Duration(float64(cfg.throttleN) / cfg.throttleQPS * float64(time.Second))
		r := d.Seconds() / ideal.Seconds()
		n7 := code7(s.Stats())
		label := "call_all, concurrency 8"
		if size > 1 {
			label += fmt.Sprintf(", batch = %d", size)
		}
		sec.goal(fmt.Sprintf("%s: elapsed/ideal (%s / %s)", label, ms(d), ms(ideal)), ratio(r), "within 2% (0.98–1.02)", math.Abs(r-1) <= 0.02)
		sec.goal(label+": code 7 answers", fmt.Sprint(n7), "0", n7 == 0)
	}
	sec.note("The client paces at 1%% under the configured rate (its margin against gateway jitter), so a perfect run reads about 1.01.")
	return sec, nil
}
