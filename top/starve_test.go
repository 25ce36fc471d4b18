package top

import (
	"context"
	"testing"
	"time"

	"github.com/topscript/topscript/toptime"
)

// The caller at the head of a bucket sleeps until the bucket allows its
// call. A rate raised meanwhile (top.throttle, SetRate, a learned ceiling
// probing up or dropped, a glob's limit removed) must cut that sleep short:
// the wait was computed at the old rate, and every caller behind the head
// queues for its turn. A bucket set to 0.05 qps (a call every 20 s) and
// then raised to 100 qps lets the waiting call go at once, not 20 s later.
func TestThrottleRaisedRateWakesTheWaiter(t *testing.T) {
	for _, tc := range []struct {
		name, glob string
		raise      float64
	}{
		{"app raised", "*", 100},
		{"app unlimited", "*", 0},
		{"glob raised", "taobao.item.*", 100},
		{"glob removed", "taobao.item.*", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := ThrottleConfig{Methods: map[string]float64{}}
			if tc.glob == "*" {
				cfg.QPS = 0.05
			} else {
				cfg.Methods[tc.glob] = 0.05
			}
			th := newThrottle(toptime.Wall, cfg)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if err := th.take(ctx, "taobao.item.get"); err != nil {
				t.Fatal(err)
			}
			got := make(chan time.Duration, 1)
			start := time.Now()
			go func() {
				err := th.take(ctx, "taobao.item.get")
				if err != nil && ctx.Err() == nil {
					t.Error(err)
				}
				got <- time.Since(start)
			}()
			time.Sleep(100 * time.Millisecond) // the second call is asleep at the head
			th.set(tc.glob, tc.raise)
			select {
			case d := <-got:
				t.Logf("the second call went after %s", d.Round(time.Millisecond))
			case <-time.After(10 * time.Second):
				cancel()
				<-got
				t.Fatalf("the second call still waits 10 s after the rate was raised to %g (it sleeps out the wait of the old 0.05 qps)", tc.raise)
			}
		})
	}
}

// A rate lowered and raised again keeps the calls of the last window: a
// raise must not let a window's worth of calls out on top of those
// already in it (the gateway counts them over its rolling second and
// bans). A starved caller wakes 900 ms late and the bucket catches up,
// as many calls at once as the window allows; then the rate is cut to 1
// and raised back to 40 (top.throttle, a learned ceiling): the next calls
// still wait for the window, no 41 calls within 40 intervals.
func TestThrottleRateChangeKeepsTheWindow(t *testing.T) {
	clk := newFakeClock(time.Unix(1_700_000_000, 0))
	th := newThrottle(clk, ThrottleConfig{QPS: 40})
	var at []time.Time
	take := func(n int) {
		for range n {
			if err := th.take(context.Background(), "taobao.time.get"); err != nil {
				t.Fatal(err)
			}
			at = append(at, clk.Now())
		}
	}
	take(40)
	clk.Sleep(context.Background(), 900*time.Millisecond) // starved
	take(40)                                              // most of them at once, catching up
	th.set("*", 1)
	th.set("*", 40)
	take(40)
	window := 40 * rateInterval(40)
	for i := 40; i < len(at); i++ {
		if d := at[i].Sub(at[i-40]); d < window {
			t.Fatalf("call %d left %s after call %d: 41 calls within %s", i+1, d, i-39, window)
		}
	}
}
