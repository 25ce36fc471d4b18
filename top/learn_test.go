package top

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/topscript/topscript/toptime"
)

// A rate raised at run time paces from the last call at the new rate: the
// slot the slow rate reserved does not hold the bucket back (it held it
// for the slow rate's whole interval before).
func TestThrottleRaisedRatePacesAtOnce(t *testing.T) {
	clk := newFakeClock(time.Date(2024, 1, 1, 0, 0, 0, 0, toptime.Zone))
	th := newThrottle(clk, ThrottleConfig{QPS: 0.001}) // one call per 1010 s
	ctx := context.Background()
	if err := th.take(ctx, "m"); err != nil {
		t.Fatal(err)
	}
	th.set("*", 100)
	if err := th.take(ctx, "m"); err != nil {
		t.Fatal(err)
	}
	if got := sum(clk.Sleeps()); got > 11*time.Millisecond {
		t.Errorf("the call after raising the rate to 100 qps waited %v, want ≤ 10.1ms", got)
	}
	// Lowered, the window rule holds over the calls already made: at 2 qps
	// no 3 calls within 1.01 s, so the third waits for the first's window.
	th.set("*", 2)
	clk.sleeps = nil
	if err := th.take(ctx, "m"); err != nil {
		t.Fatal(err)
	}
	if got := sum(clk.Sleeps()); got < 990*time.Millisecond || got > 1010*time.Millisecond {
		t.Errorf("after lowering the rate to 2 qps the call waited %v, want 1.01 s less the 10 ms since the first", got)
	}
}

// takeN takes n tokens of method and returns the departure of the last.
func takeN(t *testing.T, th *throttle, clk *fakeClock, method string, n int) time.Time {
	t.Helper()
	for range n {
		if err := th.take(context.Background(), method); err != nil {
			t.Fatal(err)
		}
	}
	return clk.Now()
}

// A ban makes the bucket pace at 95% of what left in the second before the
// banned call; the ceiling rises 2% every 10 s without a ban and is
// dropped once back at the rate set.
func TestThrottleLearnsFromBans(t *testing.T) {
	clk := newFakeClock(time.Date(2024, 1, 1, 0, 0, 0, 0, toptime.Zone))
	th := newThrottle(clk, ThrottleConfig{QPS: 40})
	takeN(t, th, clk, "m", 20) // 20 calls in 0.48 s
	banned := takeN(t, th, clk, "m", 1)
	inFlight := takeN(t, th, clk, "m", 3)         // sent before its answer came
	clk.now = clk.now.Add(100 * time.Millisecond) // its answer, a latency later
	th.limited("app", "m", banned, time.Time{})
	if got := th.rate("m"); got != 0.95*20 {
		t.Fatalf("after a ban with 20 calls in the second before: rate %v, want 19", got)
	}
	// The bans of the calls in flight then tell nothing new.
	th.limited("app", "m", inFlight, time.Time{})
	if got := th.rate("m"); got != 19 {
		t.Errorf("after the ban of a call in flight: rate %v, want 19 still", got)
	}
	// Once the ban is waited out, paced at 19 qps (+1%).
	clk.now = clk.now.Add(2 * time.Second)
	clk.sleeps = nil
	takeN(t, th, clk, "m", 11)
	if got, want := sum(clk.Sleeps()), time.Duration(10*rateInterval(19)); got < want-time.Millisecond || got > want+time.Millisecond {
		t.Errorf("11 calls at the learned rate waited %v, want %v", got, want)
	}
	// Probing: +2% per 10 s without a ban, until 40, where it is dropped.
	clk.now = clk.now.Add(10 * time.Second)
	takeN(t, th, clk, "m", 1)
	if got := th.rate("m"); got < 19.37 || got > 19.39 {
		t.Errorf("after 10 s: rate %v, want 19.38", got)
	}
	for range 40 {
		clk.now = clk.now.Add(10 * time.Second)
		takeN(t, th, clk, "m", 1)
	}
	if got := th.rate("m"); got != 40 {
		t.Errorf("after 400 s without a ban: rate %v, want 40 (the ceiling dropped)", got)
	}
	th.mu.Lock()
	if th.app.ceiling != 0 {
		t.Errorf("ceiling %v left", th.app.ceiling)
	}
	th.mu.Unlock()
}

// A ban with no call in the second before halves the rate, once however
// many calls it answers; a shared limiter, an unlimited app and the
// session scope learn nothing; an API ban teaches the tightest matching
// glob.
func TestThrottleLearnsScopes(t *testing.T) {
	clk := newFakeClock(time.Date(2024, 1, 1, 0, 0, 0, 0, toptime.Zone))
	th := newThrottle(clk, ThrottleConfig{QPS: 10, Methods: map[string]float64{"taobao.item.*": 8, "taobao.*": 9}})
	takeN(t, th, clk, "x", 1)
	clk.now = clk.now.Add(3 * time.Second)
	first := clk.Now()
	clk.now = clk.now.Add(50 * time.Millisecond)
	th.limited("app", "x", first, time.Time{}) // nothing left in the second before it
	th.limited("app", "x", first, time.Time{})
	if got := th.rate(""); got != 5 {
		t.Errorf("app rate after bans with no call before: %v, want 5 (halved once)", got)
	}
	th.limited("session:abc", "x", clk.Now(), time.Time{})
	if got := th.rate(""); got != 5 {
		t.Errorf("a session ban changed the app rate to %v", got)
	}
	clk.now = clk.now.Add(2 * time.Second)
	th.limited("api:taobao.item.get", "taobao.item.get", clk.Now(), time.Time{})
	if got := th.rate("taobao.item.get"); got != 4 {
		t.Errorf("taobao.item.get after an API ban: %v, want 4 (taobao.item.* halved)", got)
	}
	if got := th.rate("taobao.trade.get"); got != 5 {
		t.Errorf("taobao.trade.get: %v, want 5 (the app's; taobao.* at 9 untouched)", got)
	}
	th.set("taobao.item.*", 6)
	if got := th.rate("taobao.item.get"); got != 4 {
		t.Errorf("SetRate above the ceiling: %v, want 4 (the ceiling holds)", got)
	}
	th.set("taobao.item.*", 3)
	if got := th.rate("taobao.item.get"); got != 3 {
		t.Errorf("SetRate below the ceiling: %v, want 3", got)
	}

	free := newThrottle(clk, ThrottleConfig{})
	free.limited("app", "x", clk.Now(), time.Time{})
	if got := free.rate("x"); got != 0 {
		t.Errorf("an unlimited app learned %v", got)
	}
	shared := newThrottle(clk, ThrottleConfig{QPS: 10})
	shared.shared = newFakeShared()
	shared.limited("app", "x", clk.Now(), time.Time{})
	if got := shared.rate("x"); got != 10 {
		t.Errorf("under a shared limiter the rate became %v", got)
	}
}

// A call waiting for its throttle token when a ban shuts its scope is not
// sent into the ban: it waits the ban out and is sent once, after it.
func TestQueuedCallNotSentIntoBan(t *testing.T) {
	if testing.Short() {
		t.Skip("2 s of ban")
	}
	var banTill atomic.Int64
	g := newGW(t, func(n int64, _ map[string]string, w http.ResponseWriter, _ *http.Request) {
		if n == 1 {
			banTill.Store(time.Now().Add(time.Second).UnixNano())
		}
		if time.Now().UnixNano() < banTill.Load() {
			errBody(w, 7, "App Call Limited", "accesscontrol.limited-by-app-access-count", "This ban will last for 1 more seconds")
			return
		}
		okBody(w, `{"time_get_response":{"time":"2024-01-01 00:00:00"}}`)
	})
	cfg := testConfig(g.srv.URL)
	cfg.Throttle.QPS = 4 // the second call waits 250 ms for its token
	c := newTestClient(t, cfg)
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := c.Call(context.Background(), "taobao.time.get", nil, nil); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if n := g.requests.Load(); n != 3 {
		t.Errorf("%d requests, want 3: the banned call twice, the queued one once, after the ban", n)
	}
}

// Client.Rate is the tightest rate of a method's buckets, the app's for "".
func TestClientRate(t *testing.T) {
	cfg := testConfig("http://127.0.0.1:1")
	cfg.Throttle = ThrottleConfig{QPS: 40, Methods: map[string]float64{"taobao.trades.sold.*": 10, "taobao.*": 50}}
	c := newTestClient(t, cfg)
	for m, want := range map[string]float64{"taobao.trades.sold.get": 10, "taobao.item.get": 40, "": 40} {
		if got := c.Rate(m); got != want {
			t.Errorf("Rate(%q) = %v, want %v", m, got, want)
		}
	}
	c.SetRate("*", 0)
	if got := c.Rate("taobao.item.get"); got != 50 {
		t.Errorf("with the app unlimited: Rate = %v, want 50 (taobao.*)", got)
	}
	if got := (*Client)(nil).Rate("x"); got != 0 {
		t.Errorf("nil client: %v", got)
	}
}

// A call banned right after a ban was waited out had no second of calls
// before it: the client held them. That second tells nothing of the
// gateway's quota and must not cut the rate (it halved it, or worse: a
// 40 qps job ran at 19 for six minutes after two bans). With enough open
// time after the hold, the rate over that time is what is learned.
func TestThrottleLearnsNothingFromItsOwnHold(t *testing.T) {
	clk := newFakeClock(time.Date(2024, 1, 1, 0, 0, 0, 0, toptime.Zone))
	th := newThrottle(clk, ThrottleConfig{QPS: 40})
	takeN(t, th, clk, "m", 40) // a second of calls
	banned := takeN(t, th, clk, "m", 1)
	hold := 2 * time.Second // retry_after 1 s + banSlack
	th.limited("app", "m", banned, clk.Now().Add(hold))
	first := th.rate("m")
	if first != 0.95*39 { // 39 calls left in the second before it
		t.Fatalf("after the first ban: rate %v, want 37.05", first)
	}
	clk.now = clk.now.Add(hold) // waited out
	again := takeN(t, th, clk, "m", 4)
	th.limited("app", "m", again, clk.Now().Add(hold))
	if got := th.rate("m"); got != first {
		t.Errorf("banned again 4 calls after the hold: rate %v, want %v still (the second before was the client's own hold)", got, first)
	}
	// A second of calls after that hold: learned as before.
	clk.now = clk.now.Add(hold)
	takeN(t, th, clk, "m", 40)
	third := takeN(t, th, clk, "m", 1)
	th.limited("app", "m", third, clk.Now().Add(hold))
	if got := th.rate("m"); got < 0.95*35 || got > 0.95*37 {
		t.Errorf("banned after a second of calls at 37 qps: rate %v, want 95%% of the 36 that left (34.2)", got)
	}
}
