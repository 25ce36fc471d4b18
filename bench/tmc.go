package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/topscript/topscript/engine"
	"github.com/topscript/topscript/sandbox"
	"github.com/topscript/topscript/tmc"
	"github.com/topscript/topscript/top"
)

// tmcConsumer is what every variant shares: a consumer of the sandbox's
// channel with every message reaching its handler (no duplicate check) and
// short timings.
func tmcConsumer(s *sandbox.Server, conc int) tmc.Config {
	return tmc.Config{
		URL: s.TMCURL(), AppKey: sandbox.DefaultAppKey, AppSecret: sandbox.DefaultAppSecret,
		Concurrency: conc, Queue: 64, DedupWindow: -1,
		PullEvery: 50 * time.Millisecond, ReconnectMin: 10 * time.Millisecond, ReconnectMax: 50 * time.Millisecond,
	}
}

// backlog starts a sandbox with the seller subscribed and n or more trade
// messages waiting, no consumer connected yet.
func backlog(n int, latency time.Duration) (*sandbox.Server, *top.Client, error) {
	s, err := sandbox.StartLocal(sandbox.Options{Latency: latency})
	if err != nil {
		return nil, nil, err
	}
	s.Permit(nil)
	for s.TMCStats().Published < int64(n) {
		s.Churn(100)
	}
	c, err := top.NewClient(clientConfig(s))
	if err != nil {
		s.Close()
		return nil, nil, err
	}
	return s, c, nil
}

// tmcEngine is an engine whose tmc.listen consumes s's channel.
func tmcEngine(s *sandbox.Server, c *top.Client, conc int) (*engine.Engine, error) {
	return engine.New(engine.Options{Client: c, Stdout: io.Discard, Stderr: io.Discard, TMC: tmcConsumer(s, conc)})
}

// luaDrain is the Lua handler of the throughput variants: it reads the
// trade id out of the decoded content (and, with call, fetches the trade),
// and stops the listen after the whole backlog.
const luaDrain = `
local tmc = require("tmc")
local n, want, call = 0, tonumber(arg[1]), arg[2] == "call"
tmc.listen{concurrency = tonumber(arg[3]), summary = false, handler = function(msg)
  local tid = msg.content.tid
  if call then top.call("taobao.trade.fullinfo.get", {tid = tid, fields = "tid,status,modified"}) end
  n = n + 1
  if n == want then finished(); tmc.stop() end
end}
`

// drainGo times a bare Go consumer taking s's whole backlog; with call,
// each message fetches its trade through c.
func drainGo(ctx context.Context, s *sandbox.Server, c *top.Client, conc int, call bool) (time.Duration, int64, error) {
	want := s.TMCStats().Published
	var handled atomic.Int64
	done := make(chan struct{})
	h := func(ctx context.Context, m *tmc.Message) error {
		if call {
			tid, err := tidOf(m)
			if err != nil {
				return err
			}
			if _, err := c.Call(ctx, "taobao.trade.fullinfo.get", top.Params{"tid": tid, "fields": "tid,status,modified"}, nil); err != nil {
				return err
			}
		}
		if handled.Add(1) == want {
			close(done)
		}
		return nil
	}
	cons, err := tmc.New(tmcConsumer(s, conc), h)
	if err != nil {
		return 0, 0, err
	}
	rctx, stop := context.WithCancel(ctx)
	ran := make(chan error, 1)
	t0 := time.Now()
	go func() { ran <- cons.Run(rctx) }()
	select {
	case <-done:
	case err := <-ran:
		stop()
		return 0, 0, fmt.Errorf("the Go consumer ended: %v", err)
	case <-time.After(2 * time.Minute):
		stop()
		return 0, 0, errors.New("the Go consumer did not take the backlog in 2 minutes")
	}
	el := time.Since(t0)
	stop()
	<-ran
	return el, want, nil
}

// drainLua times tmc.listen taking s's whole backlog.
func drainLua(ctx context.Context, s *sandbox.Server, c *top.Client, conc int, call bool) (time.Duration, int64, error) {
	want := s.TMCStats().Published
	eng, err := tmcEngine(s, c, conc)
	if err != nil {
		return 0, 0, err
	}
	defer eng.Close()
	mode := "none"
	if call {
		mode = "call"
	}
	var end time.Time // when the last handler finished, as the Go side times it
	eng.Set("finished", eng.State().NewFunction(func(*lua.LState) int {
		end = time.Now()
		return 0
	}))
	rctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	t0 := time.Now()
	// The script's arguments: the backlog, whether to call, the concurrency.
	err = eng.RunString(rctx, "drain.lua", fmt.Sprintf("arg = {%d, %q, %d}\n", want, mode, conc)+luaDrain)
	if err != nil {
		return 0, 0, fmt.Errorf("tmc.listen: %w", err)
	}
	return end.Sub(t0), want, nil
}

// tidOf is a trade message's tid, exact.
func tidOf(m *tmc.Message) (string, error) {
	i := strings.Index(m.Content, `"tid":`)
	if i < 0 {
		return "", fmt.Errorf("message %d without a tid", m.ID)
	}
	j := i + len(`"tid":`)
	k := j
	for k < len(m.Content) && m.Content[k] >= '0' && m.Content[k] <= '9' {
		k++
	}
	return m.Content[j:k], nil
}

// tmcBench compares messages a second through a Lua handler (tmc.listen)
// with a bare Go consumer (the floor), on a backlog of trade messages from
// a sandbox on loopback: with an empty handler, and with a handler that
// fetches its trade from a gateway with latency (what a sync does); then
// the time from a trade event to its handler starting, one event at a time.
func tmcBench(ctx context.Context, cfg config, _ *env) (*section, error) {
	sec := &section{title: "TMC messages (tmc.listen vs a bare Go consumer, loopback)"}
	type variant struct {
		name    string
		backlog int
		conc    int
		call    bool
		lat     time.Duration
	}
	for _, v := range []variant{
		{fmt.Sprintf("empty handler, concurrency 4, %d messages", cfg.tmcMessages), cfg.tmcMessages, 4, false, 0},
		{fmt.Sprintf("handler with trade.fullinfo.get (--latency %s), concurrency %d, %d messages", cfg.tmcCallLatency, cfg.tmcCallConc, cfg.tmcCallMessages),
			cfg.tmcCallMessages, cfg.tmcCallConc, true, cfg.tmcCallLatency},
	} {
		best := map[string]float64{}
		for r := 0; r < cfg.tmcRounds; r++ {
			for k, side := range []string{"go", "lua"} {
				if r%2 == 1 { // alternate which side goes first
					side = []string{"lua", "go"}[k]
				}
				s, c, err := backlog(v.backlog, v.lat)
				if err != nil {
					return nil, err
				}
				var el time.Duration
				var n int64
				if side == "go" {
					el, n, err = drainGo(ctx, s, c, v.conc, v.call)
				} else {
					el, n, err = drainLua(ctx, s, c, v.conc, v.call)
				}
				s.Close()
				if err != nil {
					return nil, fmt.Errorf("%s, %s: %w", v.name, side, err)
				}
				if rate := float64(n) / el.Seconds(); rate > best[side] {
					best[side] = rate
				}
			}
		}
		sec.add(v.name+": Go consumer, messages/s", perSec(best["go"]))
		sec.add(v.name+": tmc.listen, messages/s", perSec(best["lua"]))
		ratioLG := best["lua"] / best["go"]
		if v.call {
			sec.goal(v.name+": Lua/Go (messages/s ratio)", ratio(ratioLG), "≥ 0.90", ratioLG >= 0.9)
		} else {
			sec.goal(v.name+": Lua/Go (messages/s ratio)", ratio(ratioLG), "≥ 0.50", ratioLG >= 0.5)
		}
	}

	goLat, err := tmcLatency(ctx, cfg, false)
	if err != nil {
		return nil, fmt.Errorf("latency, Go: %w", err)
	}
	luaLat, err := tmcLatency(ctx, cfg, true)
	if err != nil {
		return nil, fmt.Errorf("latency, Lua: %w", err)
	}
	sec.add("publish → handler, Go consumer: p50 / p99", us(pct(goLat, 50))+" / "+us(pct(goLat, 99)))
	sec.add("publish → handler, tmc.listen: p50 / p99", us(pct(luaLat, 50))+" / "+us(pct(luaLat, 99)))
	sec.note("messages/s: best of %d alternating rounds, each a fresh sandbox with the backlog waiting, timed from the consumer's start (handshake included) to its last handler; every message reaches the handler (no duplicate check). The Lua handler reads msg.content.tid: the message table and its decoded content are in the figure.", cfg.tmcRounds)
	sec.note("publish → handler: %d trade events one at a time (sb.Churn(1): the state change, its message published and pushed), to the handler's first line; the consumer, sandbox and bench share the CPUs.", cfg.tmcLatencyEvents)
	return sec, nil
}

// tmcLatency measures publish → handler start over cfg.tmcLatencyEvents
// events, through Go or through tmc.listen.
func tmcLatency(ctx context.Context, cfg config, viaLua bool) ([]time.Duration, error) {
	s, c, err := backlog(0, 0)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	got := make(chan time.Time, 64)
	rctx, stop := context.WithCancel(ctx)
	defer stop()
	ran := make(chan error, 1)
	if viaLua {
		eng, err := tmcEngine(s, c, 4)
		if err != nil {
			return nil, err
		}
		defer eng.Close()
		eng.Set("mark", eng.State().NewFunction(func(*lua.LState) int {
			got <- time.Now()
			return 0
		}))
		go func() {
			ran <- eng.RunString(rctx, "latency.lua", `require("tmc").listen{summary = false, handler = function(msg) mark() end}`)
		}()
	} else {
		cons, err := tmc.New(tmcConsumer(s, 4), func(ctx context.Context, m *tmc.Message) error {
			got <- time.Now()
			return nil
		})
		if err != nil {
			return nil, err
		}
		go func() { ran <- cons.Run(rctx) }()
	}
	deadline := time.Now().Add(20 * time.Second)
	for s.TMCStats().Connections != 1 {
		if time.Now().After(deadline) {
			return nil, errors.New("the consumer did not connect")
		}
		time.Sleep(time.Millisecond)
	}
	lat := make([]time.Duration, 0, cfg.tmcLatencyEvents)
	for range cfg.tmcLatencyEvents {
		t0 := time.Now()
		n := 0
		for _, ch := range s.Churn(1) {
			n += len(ch.Topics)
		}
		for k := range n {
			select {
			case t := <-got:
				if k == 0 {
					lat = append(lat, t.Sub(t0))
				}
			case err := <-ran:
				return nil, fmt.Errorf("the consumer ended: %v", err)
			case <-time.After(10 * time.Second):
				return nil, errors.New("a message did not reach the handler in 10 s")
			}
		}
	}
	stop()
	<-ran
	return lat, nil
}

// pct is the p-th percentile of ds.
func pct(ds []time.Duration, p int) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(len(s)-1, len(s)*p/100)]
}
