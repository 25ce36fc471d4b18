package top

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeShared is an in-memory SharedLimiter and SharedBans: it records the
// waits asked of it and keeps bans in a map, like state.RedisLimiter does in
// Redis for a fleet.
type fakeShared struct {
	mu       sync.Mutex
	waits    []string
	bans     map[string]time.Time
	banReads int
	waitErr  error
}

func newFakeShared() *fakeShared { return &fakeShared{bans: map[string]time.Time{}} }

func (f *fakeShared) Wait(ctx context.Context, key string, qps float64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.waits = append(f.waits, fmt.Sprintf("%s@%.4g", key, qps))
	return f.waitErr
}

func (f *fakeShared) SetBan(ctx context.Context, scope string, until time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if until.After(f.bans[scope]) {
		f.bans[scope] = until
	}
	return nil
}

func (f *fakeShared) BanUntil(ctx context.Context, scope string) (time.Time, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.banReads++
	return f.bans[scope], nil
}

func (f *fakeShared) takeWaits() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	w := f.waits
	f.waits = nil
	return w
}

// With a shared limiter the app bucket and the matching method buckets are
// the limiter's keys "app" and "method:<glob>", at the configured rates
// (SetRate included) less the 1% pace margin; no local bucket sleeps.
func TestSharedThrottleKeys(t *testing.T) {
	g := newGW(t, func(n int64, p map[string]string, w http.ResponseWriter, r *http.Request) { okBody(w, `{"ok":true}`) })
	cfg := testConfig(g.srv.URL)
	cfg.Throttle = ThrottleConfig{QPS: 30, Methods: map[string]float64{"test.trades.*": 5, "test.item.*": 2}}
	clk := newFakeClock(time.Now())
	sh := newFakeShared()
	c := newTestClient(t, cfg, WithClock(clk), WithShared(sh, sh))
	ctx := context.Background()
	call := func(method string) []string {
		t.Helper()
		if _, err := c.Call(ctx, method, nil, nil); err != nil {
			t.Fatal(err)
		}
		return sh.takeWaits()
	}
	q := func(qps float64) string { return fmt.Sprintf("%.4g", qps/paceMargin) }
	if got, want := strings.Join(call("test.trades.list"), " "), "method:test.trades.*@"+q(5)+" app@"+q(30); got != want {
		t.Errorf("waits %q, want %q", got, want)
	}
	if got, want := strings.Join(call("taobao.time.get"), " "), "app@"+q(30); got != want {
		t.Errorf("waits %q, want %q", got, want)
	}
	c.SetRate("test.trades.*", 1)
	c.SetRate("*", 0)
	if got, want := strings.Join(call("test.trades.list"), " "), "method:test.trades.*@"+q(1); got != want {
		t.Errorf("after SetRate: waits %q, want %q", got, want)
	}
	if s := clk.Sleeps(); len(s) != 0 {
		t.Errorf("local sleeps %v: the local buckets must not pace under a shared limiter", s)
	}
}

// A shared limiter that fails (Redis down) fails the call before sending,
// naming the key.
func TestSharedThrottleError(t *testing.T) {
	g := newGW(t, func(n int64, p map[string]string, w http.ResponseWriter, r *http.Request) { okBody(w, `{"ok":true}`) })
	cfg := testConfig(g.srv.URL)
	cfg.Throttle.QPS = 10
	sh := newFakeShared()
	sh.waitErr = errors.New("redis at redis://127.0.0.1:1/0: connection refused")
	c := newTestClient(t, cfg, WithShared(sh, nil))
	_, err := c.Call(context.Background(), "taobao.time.get", nil, nil)
	var te *Error
	if !errors.As(err, &te) || te.Kind != KindTransport || !strings.Contains(te.Error(), "shared throttle app") {
		t.Fatalf("err %v", err)
	}
	if g.requests.Load() != 0 {
		t.Errorf("%d requests sent", g.requests.Load())
	}
}

// A ban one process runs into is published; another process sharing the
// bans is held back before sending until it ends, and reads each scope at
// most every SharedBanRefresh.
func TestSharedBans(t *testing.T) {
	g := newGW(t, func(n int64, p map[string]string, w http.ResponseWriter, r *http.Request) {
		if n == 1 {
			errBody(w, 7, "App Call Limited", "accesscontrol.limited-by-app-access-count", "This ban will last for 2 more seconds")
			return
		}
		okBody(w, `{"ok":true}`)
	})
	clk := newFakeClock(time.Now())
	sh := newFakeShared()
	a := newTestClient(t, testConfig(g.srv.URL), WithClock(clk), WithShared(nil, sh))
	b := newTestClient(t, testConfig(g.srv.URL), WithClock(clk), WithShared(nil, sh))
	ctx := context.Background()

	start := clk.Now()
	_, err := a.Call(ctx, "taobao.time.get", nil, &CallOptions{Retries: 0})
	var te *Error
	if !errors.As(err, &te) || te.Code != 7 {
		t.Fatalf("a: %v", err)
	}
	until := sh.bans["app"]
	if d := until.Sub(start); d < 3*time.Second || d > 4*time.Second {
		t.Fatalf("published ban ends %v after the call, want 3s (2s + slack); bans %v", d, sh.bans)
	}
	if _, err := b.Call(ctx, "taobao.time.get", nil, nil); err != nil {
		t.Fatalf("b: %v", err)
	}
	if !clk.Now().After(until) {
		t.Errorf("b was sent at %v, before the shared ban ended (%v)", clk.Now().Sub(start), until.Sub(start))
	}
	if n := g.requests.Load(); n != 2 {
		t.Errorf("%d requests, want 2 (b held back, not banned again)", n)
	}

	// Reads are cached: calls within SharedBanRefresh read each scope once.
	c := newTestClient(t, testConfig(g.srv.URL), WithClock(clk), WithShared(nil, sh))
	sh.banReads = 0
	for range 5 {
		if _, err := c.Call(ctx, "taobao.time.get", nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	if sh.banReads != 4 { // app, api:taobao.time.get, app-api:taobao.time.get, session:…
		t.Errorf("%d ban reads for 5 calls, want 4 (one per scope)", sh.banReads)
	}
	clk.Sleep(ctx, SharedBanRefresh)
	c.Call(ctx, "taobao.time.get", nil, nil)
	if sh.banReads != 8 {
		t.Errorf("%d ban reads after the refresh period, want 8", sh.banReads)
	}

	// A ban too long to wait out fails at once, without sending.
	sh.SetBan(ctx, "app", clk.Now().Add(time.Hour))
	clk.Sleep(ctx, SharedBanRefresh)
	sent := g.requests.Load()
	_, err = c.Call(ctx, "taobao.time.get", nil, nil)
	if !errors.As(err, &te) || te.Kind != KindFlowControl || te.RetryAfter < 59*time.Minute || g.requests.Load() != sent {
		t.Errorf("long shared ban: %v (retry_after %v), %d sent", err, te.RetryAfter, g.requests.Load()-sent)
	}
}
