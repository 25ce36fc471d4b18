package tmc_test

import (
	"context"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/topscript/topscript/sandbox"
	"github.com/topscript/topscript/tmc"
)

// BenchmarkConsumeBareHandler: messages a second from a sandbox on loopback
// through the consumer to a handler that does nothing (the floor a Lua
// handler is compared with). Each iteration publishes a backlog of ~2,000
// messages with no consumer connected, then times a consumer taking them
// all (push, decode, handler, confirm).
func BenchmarkConsumeBareHandler(b *testing.B) {
	var msgs int64
	var elapsed time.Duration
	for range b.N {
		b.StopTimer()
		sb := startSandbox(b, sandbox.Options{})
		for sb.TMCStats().Published < 2000 {
			sb.Churn(100)
		}
		pub := sb.TMCStats().Published
		var handled atomic.Int64
		done := make(chan struct{})
		h := func(ctx context.Context, m *tmc.Message) error {
			if handled.Add(1) == pub {
				close(done)
			}
			return nil
		}
		cfg := config(sb)
		cfg.Concurrency = 4
		cfg.Queue = 64
		cfg.DedupWindow = -1 // every message reaches the handler
		b.StartTimer()
		start := time.Now()
		r := run(b, cfg, h)
		<-done
		elapsed += time.Since(start)
		b.StopTimer()
		r.wait(b)
		_ = sb.Close()
		msgs += pub
		b.StartTimer()
	}
	b.ReportMetric(float64(msgs)/elapsed.Seconds(), "msgs/s")
}

// BenchmarkPublishToHandler: the time from a trade event in the sandbox (the
// state change, its message published and pushed) to the handler starting,
// one event at a time; p50 and p99 over b.N events.
func BenchmarkPublishToHandler(b *testing.B) {
	sb := startSandbox(b, sandbox.Options{})
	got := make(chan time.Time, 16)
	h := func(ctx context.Context, m *tmc.Message) error {
		got <- time.Now()
		return nil
	}
	cfg := config(sb)
	cfg.DedupWindow = -1
	r := run(b, cfg, h)
	eventually(b, "the connection", func() bool { return r.c.Stats().Connects == 1 })
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		n := 0
		for _, c := range sb.Churn(1) {
			n += len(c.Topics)
		}
		first := <-got
		for range n - 1 {
			<-got
		}
		lat = append(lat, first.Sub(t0))
	}
	b.StopTimer()
	r.wait(b)
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}
