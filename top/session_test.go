package top

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"sync"
	"testing"
	"time"
)

// source is a SessionSource for tests.
type source struct {
	mu       sync.Mutex
	session  string
	err      error
	asked    int
	rejected []string
	codes    []int
}

func (s *source) Session(context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.asked++
	return s.session, s.err
}

func (s *source) Rejected(session string, e *Error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rejected = append(s.rejected, session)
	s.codes = append(s.codes, e.Code)
}

// A client WithSessions sends its source's session with each call (asked
// once a call, retries included), a call's own session wins, and the
// source hears of 26, 27 and 53 with the session refused — not of other
// errors.
func TestWithSessionsSendsTheSourcesSession(t *testing.T) {
	var fail sync.Map // session → code to answer
	g := newGW(t, func(n int64, p map[string]string, w http.ResponseWriter, r *http.Request) {
		if v, ok := fail.Load(p["session"]); ok {
			errBody(w, v.(int), "refused", "", "")
			return
		}
		if p["session"] == "flaky" && n%2 == 1 {
			errBody(w, 15, "Remote service error", "isp.top-remote-connection-timeout", "")
			return
		}
		okBody(w, `{"time_get_response":{"time":"2020-01-01 00:00:00"}}`)
	})
	base := newTestClient(t, testConfig(g.srv.URL), WithClock(newFakeClock(time.Now())))
	src := &source{session: "shop-a-1"}
	c := base.WithSessions(src)
	ctx := context.Background()
	if _, err := c.Call(ctx, "taobao.time.get", nil, nil); err != nil {
		t.Fatal(err)
	}
	if got := g.lastParams()["session"]; got != "shop-a-1" {
		t.Fatalf("sent session %q, want the source's", got)
	}
	src.session = "shop-a-2" // refreshed
	c.Call(ctx, "taobao.time.get", nil, nil)
	if got := g.lastParams()["session"]; got != "shop-a-2" {
		t.Fatalf("after a refresh: sent %q", got)
	}
	c.Call(ctx, "taobao.time.get", nil, &CallOptions{Session: "own"})
	if got := g.lastParams()["session"]; got != "own" {
		t.Fatalf("a call's own session: sent %q", got)
	}
	if got := base.Config().Session; got == "" {
		t.Error("the base client lost its session")
	}
	if c.Config().Session != "" {
		t.Error("the derived client reports the base's session")
	}
	src.session, src.asked = "flaky", 0
	if _, err := c.Call(ctx, "taobao.time.get", nil, nil); err != nil {
		t.Fatalf("retried call: %v", err)
	}
	if src.asked != 1 {
		t.Errorf("source asked %d times for one call with a retry, want once", src.asked)
	}
	for _, code := range []int{26, 27, 53, 15} {
		s := "refused-" + itoa(code)
		fail.Store(s, code)
		src.session = s
		_, err := c.Call(ctx, "taobao.time.get", nil, nil)
		var te *Error
		if !errors.As(err, &te) || te.Code != code {
			t.Fatalf("code %d: %v", code, err)
		}
		if code == 53 && te.Kind != KindAuth {
			t.Errorf("53 is %s, want auth", te.Kind)
		}
	}
	if want := []string{"refused-26", "refused-27", "refused-53"}; !reflect.DeepEqual(src.rejected, want) {
		t.Errorf("rejected %v, want %v", src.rejected, want)
	}
	// A source that fails ends the call unsent, as an auth error.
	src.err = errors.New("shop a must authorise again")
	before := g.requests.Load()
	_, err := c.Call(ctx, "taobao.time.get", nil, nil)
	if KindOf(err) != KindAuth || g.requests.Load() != before {
		t.Errorf("failing source: %v (kind %s), %d requests sent", err, KindOf(err), g.requests.Load()-before)
	}
}

// Derived clients share the base's throttle and ban hold-backs: a ban one
// of them runs into holds back the others, unsent.
func TestWithSessionsShareThrottleAndBans(t *testing.T) {
	g := newGW(t, func(n int64, p map[string]string, w http.ResponseWriter, r *http.Request) {
		errBody(w, 7, "App Call Limited", "accesscontrol.limited-by-app-access-count", "This ban will last for 60 more seconds")
	})
	cfg := testConfig(g.srv.URL)
	cfg.Retry.MaxBanWait = time.Second
	base := newTestClient(t, cfg, WithClock(newFakeClock(time.Now())))
	a := base.WithSessions(&source{session: "a"})
	b := base.WithSessions(&source{session: "b"})
	if a.throttle != base.throttle || b.throttle != base.throttle || b.gates != a.gates {
		t.Fatal("derived clients have a throttle or gates of their own")
	}
	ctx := context.Background()
	if _, err := a.Call(ctx, "taobao.time.get", nil, nil); KindOf(err) != KindFlowControl {
		t.Fatalf("a: %v", err)
	}
	sent := g.requests.Load()
	_, err := b.Call(ctx, "taobao.time.get", nil, nil)
	var te *Error
	if !errors.As(err, &te) || te.Code != 7 || te.RetryAfter <= 0 || g.requests.Load() != sent {
		t.Errorf("b after a's ban: %v, %d requests sent", err, g.requests.Load()-sent)
	}
}

// Every field of a Client is carried over by WithSessions but the ones it
// sets itself: a field added to Client is not silently left out.
func TestWithSessionsCarriesEveryField(t *testing.T) {
	base := newTestClient(t, testConfig("http://127.0.0.1:1/router/rest"), WithShared(nopLimiter{}, nopBans{}))
	base.isWriteFn = func(string) bool { return true }
	base.isIdempotentFn = func(string, map[string]string) bool { return true }
	d := base.WithSessions(&source{})
	bv, dv := reflect.ValueOf(base).Elem(), reflect.ValueOf(d).Elem()
	for i := range bv.NumField() {
		name := bv.Type().Field(i).Name
		switch name {
		case "cfg", "sessions", "lastStamp":
			continue
		}
		// fmt prints unexported fields: pointers, funcs and channels as
		// their address, the rest by value.
		if fmt.Sprintf("%v", bv.Field(i)) != fmt.Sprintf("%v", dv.Field(i)) {
			t.Errorf("Client.%s is not carried over by WithSessions", name)
		}
	}
}

type nopLimiter struct{}

func (nopLimiter) Wait(context.Context, string, float64) error { return nil }

type nopBans struct{}

func (nopBans) SetBan(context.Context, string, time.Time) error { return nil }
func (nopBans) BanUntil(context.Context, string) (time.Time, error) {
	return time.Time{}, nil
}
