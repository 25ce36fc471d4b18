package top_test

import (
	"context"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/topscript/topscript/internal/sandboxtest"
	"github.com/topscript/topscript/sandbox"
)

// A throttle starved of CPU still makes progress (issue #15: a bulk run on
// a host at load ~15 sent nothing for 22 minutes, its workers in
// throttle.acquire). The test starves the process: one P (GOMAXPROCS=1)
// shared with CPU-bound goroutines, so every wake-up of the throttle's
// head waiter comes late, and 32 callers at a 40 qps throttle against a
// sandbox allowing 44 qps, answering in 20 ms and failing 5% of calls
// with isp errors. A quarter of the way in, the script's rate is cut to
// 0.05 qps (a call every 20 s) and raised back 300 ms later, as
// top.throttle would: the waiter at the head must not sleep out the slow
// rate's wait, and the calls after the raise must not crowd the window
// (a code 7 holds every call back 2 s). It fails when no call is answered
// within 4 s of the raise or for 5 s at any time, or when fewer than an
// eighth of the ideal number (40 a second) are: a stall, not a slow
// machine (starved, a call still needs only a few milliseconds of CPU).
//
// TOPSCRIPT_STARVE_SECONDS makes it longer (CI: 8); with
// TOPSCRIPT_STRESS_NG=N it also runs Debian's stress-ng with N CPU hogs
// for its duration, starving the whole machine (opt-in: other work on the
// host suffers too).
func TestThrottleStarvedMakesProgress(t *testing.T) {
	if testing.Short() {
		t.Skip("seconds of wall-clock starvation")
	}
	secs := 8.0
	if v := os.Getenv("TOPSCRIPT_STARVE_SECONDS"); v != "" {
		var err error
		if secs, err = strconv.ParseFloat(v, 64); err != nil || secs <= 0 {
			t.Fatalf("TOPSCRIPT_STARVE_SECONDS=%q: want a number of seconds", v)
		}
	}
	dur := time.Duration(secs * float64(time.Second))
	if v := os.Getenv("TOPSCRIPT_STRESS_NG"); v != "" {
		if _, err := exec.LookPath("stress-ng"); err != nil {
			t.Fatalf("TOPSCRIPT_STRESS_NG=%s: stress-ng is not installed (apt-get install stress-ng)", v)
		}
		cmd := exec.Command("stress-ng", "--cpu", v, "--timeout", strconv.Itoa(int(secs)+5)+"s", "--quiet")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	}

	s := sandboxtest.Start(t, sandbox.Options{QPS: 44, Latency: 20 * time.Millisecond, Faults: sandbox.Faults{ISP: 0.05}})
	cfg := sandboxConfig(s)
	cfg.Throttle.QPS = 40
	c := newClient(t, cfg)

	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	ctx, cancel := context.WithTimeout(context.Background(), dur)
	defer cancel()
	var hogs sync.WaitGroup
	for range 4 {
		hogs.Add(1)
		go func() { // CPU-bound, preempted only by the runtime every 10 ms
			defer hogs.Done()
			n := 0
			for ctx.Err() == nil {
				n++
			}
		}()
	}

	var mu sync.Mutex
	var answers []time.Time
	start := time.Now()
	var wg sync.WaitGroup
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				if _, err := c.Call(ctx, "taobao.time.get", nil, nil); err == nil {
					mu.Lock()
					answers = append(answers, time.Now())
					mu.Unlock()
				}
			}
		}()
	}
	raised := make(chan time.Time, 1)
	go func() {
		select {
		case <-time.After(dur / 4):
		case <-ctx.Done():
			raised <- time.Time{}
			return
		}
		c.SetRate("*", 0.05)
		time.Sleep(300 * time.Millisecond)
		c.SetRate("*", 40)
		raised <- time.Now()
	}()
	wg.Wait()
	hogs.Wait()
	end := time.Now()

	raisedAt := <-raised
	mu.Lock()
	defer mu.Unlock()
	gap, prev := time.Duration(0), start
	afterRaise := end.Sub(raisedAt)
	for _, at := range append(answers, end) {
		gap = max(gap, at.Sub(prev))
		prev = at
		if at.After(raisedAt) {
			afterRaise = min(afterRaise, at.Sub(raisedAt))
		}
	}
	ideal := 40 * dur.Seconds()
	t.Logf("%d calls answered in %s (ideal %.0f), the longest time without an answer %s, the first answer %s after the rate was raised back, %d code 7",
		len(answers), end.Sub(start).Round(time.Millisecond), ideal, gap.Round(time.Millisecond), afterRaise.Round(time.Millisecond), code7(s.Stats()))
	// A code 7 (the starved calls reach the sandbox bunched) holds the
	// calls back for its 1 s ban and banSlack: 2 s, so the bounds are 4 s
	// after the raise (4 s: starved wake-ups come late) and 5 s anywhere.
	if raisedAt.IsZero() {
		t.Fatal("the run ended before the rate was cut")
	}
	if afterRaise >= 4*time.Second {
		t.Errorf("no call answered within %s of the rate raised back to 40 qps: the waiter slept out the 0.05 qps wait", afterRaise.Round(time.Millisecond))
	}
	if gap >= 5*time.Second {
		t.Errorf("no call answered for %s: the starved throttle stalled", gap.Round(time.Millisecond))
	}
	if float64(len(answers)) < ideal/8 {
		t.Errorf("%d calls answered in %s, under an eighth of the ideal %.0f", len(answers), dur, ideal)
	}
}
