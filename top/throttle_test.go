package top

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/topscript/topscript/toptime"
)

// 500 calls at 100 qps from many goroutines never run faster than the rate.
// How close to the ideal 5 s they come is a benchmark figure (bench/), not a
// test: a loaded machine may only make it slower.
func TestThrottlePace(t *testing.T) {
	if testing.Short() || RaceEnabled {
		t.Skip("5 s of wall-clock pace; not under -short or -race")
	}
	g := newGW(t, func(_ int64, _ map[string]string, w http.ResponseWriter, _ *http.Request) { okBody(w, `{}`) })
	cfg := testConfig(g.srv.URL)
	cfg.Throttle.QPS = 100
	c := newTestClient(t, cfg)
	start := time.Now()
	var wg sync.WaitGroup
	work := make(chan struct{})
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range work {
				if _, err := c.Call(context.Background(), "taobao.time.get", nil, nil); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	for range 500 {
		work <- struct{}{}
	}
	close(work)
	wg.Wait()
	el := time.Since(start)
	if el < 4990*time.Millisecond {
		t.Errorf("500 calls at 100 qps took %v: faster than the rate allows (ideal 5 s)", el)
	}
	t.Logf("500 calls at 100 qps: %v (elapsed/ideal %.3f)", el, el.Seconds()/5)
	if g.requests.Load() != 500 {
		t.Errorf("requests %d", g.requests.Load())
	}
}

// Method buckets apply to matching methods only, on top of the app bucket;
// SetRate changes rates at run time.
func TestThrottleMethodsAndSetRate(t *testing.T) {
	clk := newFakeClock(time.Date(2024, 1, 1, 0, 0, 0, 0, toptime.Zone))
	th := newThrottle(clk, ThrottleConfig{QPS: 0, Methods: map[string]float64{"taobao.trades.sold.*": 10}})
	ctx := context.Background()
	for range 11 {
		if err := th.take(ctx, "taobao.trades.sold.get"); err != nil {
			t.Fatal(err)
		}
	}
	// 11 calls at 10 qps: 10 waits of 100 ms (+1%).
	if got := sum(clk.Sleeps()); got != 1010*time.Millisecond {
		t.Errorf("trades waits %v, want 1.01s", got)
	}
	before := len(clk.Sleeps())
	for range 50 {
		_ = th.take(ctx, "taobao.items.onsale.get")
	}
	if len(clk.Sleeps()) != before {
		t.Error("unmatched method throttled")
	}
	// The app rate at run time.
	th.set("*", 50)
	clk.sleeps = nil
	for range 51 {
		_ = th.take(ctx, "taobao.items.onsale.get")
	}
	if got := sum(clk.Sleeps()); got < 1009*time.Millisecond || got > 1011*time.Millisecond {
		t.Errorf("app waits %v, want 1.01s", got)
	}
	// Removing limits.
	th.set("", 0)
	th.set("taobao.trades.sold.*", 0)
	clk.sleeps = nil
	for range 100 {
		_ = th.take(ctx, "taobao.trades.sold.get")
	}
	if len(clk.Sleeps()) != 0 {
		t.Errorf("unlimited still waits: %v", clk.Sleeps())
	}
	// Malformed globs match only themselves and never panic.
	th.set("[bad", 1)
	_ = th.take(ctx, "x")
}

func sum(ds []time.Duration) time.Duration {
	var s time.Duration
	for _, d := range ds {
		s += d
	}
	return s
}

// Waiting for the throttle honours the context and gives the slot back.
func TestThrottleContext(t *testing.T) {
	th := newThrottle(toptime.Wall, ThrottleConfig{QPS: 1})
	if err := th.take(context.Background(), "m"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := th.take(ctx, "m"); !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 500*time.Millisecond {
		t.Fatalf("%v after %v", err, time.Since(start))
	}
	th.mu.Lock()
	left := time.Until(th.app.next)
	th.mu.Unlock()
	if left > time.Second {
		t.Errorf("next call at +%v", left)
	}
	if err := th.take(context.Background(), "m"); err != nil {
		t.Fatal(err)
	}
	// Through the client.
	g := newGW(t, func(_ int64, _ map[string]string, w http.ResponseWriter, _ *http.Request) { okBody(w, `{}`) })
	cfg := testConfig(g.srv.URL)
	cfg.Throttle.QPS = 0.5
	c := newTestClient(t, cfg)
	_, _ = c.Call(context.Background(), "taobao.time.get", nil, nil)
	ctx2, cancel2 := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel2()
	_, err := c.Call(ctx2, "taobao.time.get", nil, nil)
	if !errors.Is(err, context.DeadlineExceeded) || g.requests.Load() != 1 {
		t.Errorf("%v requests %d", err, g.requests.Load())
	}
	c.SetRate("*", 0)
	if _, err := c.Call(context.Background(), "taobao.time.get", nil, nil); err != nil {
		t.Error(err)
	}
}
