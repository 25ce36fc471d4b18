package top

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/topscript/topscript/toptime"
)

func fakeClient(t *testing.T, url string, mut func(*Config)) (*Client, *fakeClock) {
	t.Helper()
	cfg := testConfig(url)
	if mut != nil {
		mut(&cfg)
	}
	clk := newFakeClock(time.Date(2024, 11, 11, 0, 0, 0, 0, toptime.Zone))
	return newTestClient(t, cfg, WithClock(clk)), clk
}

func TestRetryISPBackoff(t *testing.T) {
	g := newGW(t, func(n int64, _ map[string]string, w http.ResponseWriter, _ *http.Request) {
		if n <= 2 {
			errBody(w, 15, "Remote service error", "isp.top-remote-connection-timeout", "远程服务调用超时")
			return
		}
		okBody(w, `{"time":"x"}`)
	})
	c, clk := fakeClient(t, g.srv.URL, nil)
	if _, err := c.Call(context.Background(), "taobao.time.get", nil, nil); err != nil {
		t.Fatal(err)
	}
	s := clk.Sleeps()
	if len(s) != 2 || g.requests.Load() != 3 {
		t.Fatalf("sleeps %v requests %d", s, g.requests.Load())
	}
	if s[0] < time.Second || s[0] >= 1500*time.Millisecond {
		t.Errorf("first wait %v, want [1s, 1.5s)", s[0])
	}
	if s[1] < 2*time.Second || s[1] >= 3*time.Second {
		t.Errorf("second wait %v, want [2s, 3s)", s[1])
	}
}

func TestRetryGivesUpAfterMaxAttempts(t *testing.T) {
	g := newGW(t, func(_ int64, _ map[string]string, w http.ResponseWriter, _ *http.Request) {
		errBody(w, 10, "Service Currently Unavailable", "", "")
	})
	c, clk := fakeClient(t, g.srv.URL, func(cfg *Config) { cfg.Retry.MaxAttempts = 3; cfg.Retry.MaxBackoff = 3 * time.Second })
	_, err := c.Call(context.Background(), "taobao.time.get", nil, nil)
	if KindOf(err) != KindISP || g.requests.Load() != 3 || len(clk.Sleeps()) != 2 {
		t.Fatalf("%v requests %d sleeps %v", err, g.requests.Load(), clk.Sleeps())
	}
	for _, s := range clk.Sleeps() {
		if s > 3*time.Second {
			t.Errorf("wait %v over MaxBackoff", s)
		}
	}
	// CallOptions.Retries overrides.
	g.requests.Store(0)
	_, _ = c.Call(context.Background(), "taobao.time.get", nil, &CallOptions{Retries: 0})
	if g.requests.Load() != 1 {
		t.Errorf("Retries 0: %d requests", g.requests.Load())
	}
	g.requests.Store(0)
	_, _ = c.Call(context.Background(), "taobao.time.get", nil, &CallOptions{Retries: 5})
	if g.requests.Load() != 6 {
		t.Errorf("Retries 5: %d requests", g.requests.Load())
	}
}

func TestNeverRetried(t *testing.T) {
	type ans struct {
		code int
		sub  string
	}
	var cur atomic.Value
	g := newGW(t, func(_ int64, _ map[string]string, w http.ResponseWriter, _ *http.Request) {
		a := cur.Load().(ans)
		errBody(w, a.code, "msg", a.sub, "")
	})
	c, clk := fakeClient(t, g.srv.URL, nil)
	var list []ans
	list = append(list, ans{15, "isv.item-not-exist"}, ans{50, "isv.invalid-parameter"})
	for _, code := range []int{11, 12, 13, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 40, 41} {
		list = append(list, ans{code, ""})
	}
	for _, a := range list {
		cur.Store(a)
		g.requests.Store(0)
		_, err := c.Call(context.Background(), "taobao.time.get", nil, nil)
		var e *Error
		if !errors.As(err, &e) || e.Code != a.code {
			t.Fatalf("%v: %v", a, err)
		}
		if g.requests.Load() != 1 {
			t.Errorf("%v retried: %d requests", a, g.requests.Load())
		}
	}
	if len(clk.Sleeps()) != 0 {
		t.Errorf("slept %v", clk.Sleeps())
	}
}

// dropConn reads the request, then closes the connection without an answer.
func dropConn(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic("no hijacker")
	}
	conn, _, err := hj.Hijack()
	if err == nil {
		conn.Close()
	}
}

// truncate answers half a body.
func truncate(w http.ResponseWriter) {
	w.Header().Set("Content-Length", "100")
	_, _ = w.Write([]byte(`{"item_quantity_update_response":{"it`))
}

func TestUnknownOutcome(t *testing.T) {
	type scenario struct {
		name   string
		fail   func(w http.ResponseWriter)
		unsafe bool // may have reached the gateway
	}
	scenarios := []scenario{
		{"drop", dropConn, true},
		{"truncate", truncate, true},
		{"malformed", func(w http.ResponseWriter) { okBody(w, `<html>oops</html>`) }, true},
		{"http500", func(w http.ResponseWriter) { w.WriteHeader(500) }, true},
		{"http504", func(w http.ResponseWriter) { w.WriteHeader(504) }, true},
		// A 5xx comes after the request was sent: the proxy's 502 is what a
		// backend that did not answer in time looks like.
		{"http502", func(w http.ResponseWriter) { w.WriteHeader(502); _, _ = w.Write([]byte("<html>bad gateway</html>")) }, true},
		{"http503", func(w http.ResponseWriter) { w.WriteHeader(503) }, true},
		{"http429", func(w http.ResponseWriter) { w.WriteHeader(429) }, false},
		// isp.* says the backend failed or timed out, not that nothing was
		// applied; only "service unavailable" does.
		{"isp", func(w http.ResponseWriter) { errBody(w, 15, "Remote service error", "isp.remote-connection-error", "") }, true},
		{"isp-timeout", func(w http.ResponseWriter) {
			errBody(w, 15, "Remote service error", "isp.top-remote-connection-timeout-tmall", "远程服务调用超时")
		}, true},
		{"isp-unknown", func(w http.ResponseWriter) {
			errBody(w, 15, "Remote service error", "isp.top-remote-unknown-error", "")
		}, true},
		{"isp-unavailable", func(w http.ResponseWriter) {
			errBody(w, 15, "Remote service error", "isp.top-remote-service-unavailable", "远程服务不可用")
		}, false},
		{"code10", func(w http.ResponseWriter) {
			okBody(w, `{"error_response":{"code":10,"msg":"Service Currently Unavailable"}}`)
		}, false},
	}
	for _, sc := range scenarios {
		g := newGW(t, func(n int64, _ map[string]string, w http.ResponseWriter, _ *http.Request) {
			if n == 1 {
				sc.fail(w)
				return
			}
			okBody(w, `{"item":{"num_iid":1}}`)
		})
		c, _ := fakeClient(t, g.srv.URL, nil)
		idem := map[string]bool{"test.stock.add": false, "test.price.set": true}
		c.isWriteFn = func(m string) bool { return !strings.HasSuffix(m, ".get") }
		c.isIdempotentFn = func(m string, _ map[string]string) bool { return idem[m] || strings.HasSuffix(m, ".get") }

		// A non-idempotent write.
		_, err := c.Call(context.Background(), "test.stock.add", Params{"n": 1}, nil)
		if sc.unsafe {
			if KindOf(err) != KindUnknownOutcome || g.requests.Load() != 1 {
				t.Errorf("%s: write: %v (requests %d)", sc.name, err, g.requests.Load())
			}
		} else if err != nil || g.requests.Load() != 2 {
			t.Errorf("%s: write not retried: %v (requests %d)", sc.name, err, g.requests.Load())
		}
		// An idempotent write and a read are retried, and so is a write
		// the call declares idempotent.
		yes, no := true, false
		for _, m := range []struct {
			method string
			o      *CallOptions
		}{{"test.price.set", nil}, {"test.item.get", nil}, {"test.stock.add", &CallOptions{Retries: -1, Idempotent: &yes}}} {
			g.requests.Store(0)
			if _, err := c.Call(context.Background(), m.method, nil, m.o); err != nil || g.requests.Load() != 2 {
				t.Errorf("%s: %s: %v (requests %d)", sc.name, m.method, err, g.requests.Load())
			}
		}
		// A write the call declares not idempotent is never sent twice.
		g.requests.Store(0)
		_, err = c.Call(context.Background(), "test.price.set", nil, &CallOptions{Retries: -1, Idempotent: &no})
		if sc.unsafe && (KindOf(err) != KindUnknownOutcome || g.requests.Load() != 1) {
			t.Errorf("%s: idempotent=false: %v (requests %d)", sc.name, err, g.requests.Load())
		}
	}
}

// A connection refused never sent anything: a write is retried.
func TestConnectionRefusedRetried(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	c, clk := fakeClient(t, "http://"+addr+"/router/rest", nil)
	c.isWriteFn = func(string) bool { return true }
	c.isIdempotentFn = func(string, map[string]string) bool { return false }
	_, err = c.Call(context.Background(), "test.stock.add", nil, nil)
	if KindOf(err) != KindTransport || len(clk.Sleeps()) != 3 {
		t.Fatalf("%v; sleeps %v", err, clk.Sleeps())
	}
	if !strings.Contains(err.Error(), "not sent") {
		t.Errorf("message: %v", err)
	}
}

// A per-attempt timeout after sending: read retried, write unknown.
func TestAttemptTimeout(t *testing.T) {
	g := newGW(t, func(n int64, _ map[string]string, w http.ResponseWriter, r *http.Request) {
		if n == 1 {
			select {
			case <-r.Context().Done():
			case <-time.After(2 * time.Second):
			}
			return
		}
		okBody(w, `{}`)
	})
	c, _ := fakeClient(t, g.srv.URL, nil)
	c.isWriteFn = func(m string) bool { return m == "test.stock.add" }
	c.isIdempotentFn = func(m string, _ map[string]string) bool { return m != "test.stock.add" }
	if _, err := c.Call(context.Background(), "test.item.get", nil, &CallOptions{Timeout: 50 * time.Millisecond, Retries: -1}); err != nil || g.requests.Load() != 2 {
		t.Fatalf("read: %v requests %d", err, g.requests.Load())
	}
	g.requests.Store(0)
	_, err := c.Call(context.Background(), "test.stock.add", nil, &CallOptions{Timeout: 50 * time.Millisecond, Retries: -1})
	if KindOf(err) != KindUnknownOutcome || g.requests.Load() != 1 {
		t.Fatalf("write: %v requests %d", err, g.requests.Load())
	}
}

func TestBanShortWaitsAndRetries(t *testing.T) {
	g := newGW(t, func(n int64, _ map[string]string, w http.ResponseWriter, _ *http.Request) {
		if n == 1 {
			errBody(w, 7, "App Call Limited", "accesscontrol.limited-by-app-access-count", "This ban will last for 5 more seconds")
			return
		}
		okBody(w, `{}`)
	})
	c, clk := fakeClient(t, g.srv.URL, nil)
	if _, err := c.Call(context.Background(), "taobao.time.get", nil, nil); err != nil {
		t.Fatal(err)
	}
	s := clk.Sleeps()
	if len(s) != 1 || s[0] < 6*time.Second || s[0] > 6*time.Second+banJitter {
		t.Errorf("ban wait %v, want 6s + small jitter", s)
	}
}

func TestBanLongFailsAtOnceAndHoldsScope(t *testing.T) {
	g := newGW(t, func(_ int64, p map[string]string, w http.ResponseWriter, _ *http.Request) {
		if p["method"] == "taobao.api.limited" {
			errBody(w, 7, "App Call Limited", "accesscontrol.limited-by-api-access-count", "This ban will last for 600 more seconds")
			return
		}
		errBody(w, 7, "App Call Limited", "accesscontrol.limited-by-app-access-count", "This ban will last for 31062 more seconds")
	})
	c, clk := fakeClient(t, g.srv.URL, nil)
	_, err := c.Call(context.Background(), "taobao.time.get", nil, nil)
	var e *Error
	if !errors.As(err, &e) || e.Kind != KindFlowControl || e.RetryAfter != 31062*time.Second || g.requests.Load() != 1 {
		t.Fatalf("%v requests %d", err, g.requests.Load())
	}
	if len(clk.Sleeps()) != 0 {
		t.Errorf("slept %v", clk.Sleeps())
	}
	// Every call of the app now fails without sending.
	_, err = c.Call(context.Background(), "taobao.trades.sold.get", Params{"fields": "tid"}, nil)
	if !errors.As(err, &e) || e.Kind != KindFlowControl || e.RetryAfter < 31062*time.Second || g.requests.Load() != 1 {
		t.Fatalf("held: %v requests %d", err, g.requests.Load())
	}
	if e.Method != "taobao.trades.sold.get" {
		t.Errorf("method %q", e.Method)
	}

	// An API-scoped ban holds that API only.
	c2, _ := fakeClient(t, g.srv.URL, nil)
	g.requests.Store(0)
	_, _ = c2.Call(context.Background(), "taobao.api.limited", nil, nil)
	_, _ = c2.Call(context.Background(), "taobao.api.limited", nil, nil)
	if g.requests.Load() != 1 {
		t.Errorf("api ban: %d requests", g.requests.Load())
	}
	_, _ = c2.Call(context.Background(), "taobao.time.get", nil, nil)
	if g.requests.Load() != 2 {
		t.Errorf("api ban held another API: %d requests", g.requests.Load())
	}
}

// Concurrent callers meeting a ban wait once; they do not hammer.
func TestBanHoldsConcurrentCallers(t *testing.T) {
	var mu sync.Mutex
	var bannedUntil time.Time
	var banned atomic.Int64
	g := newGW(t, func(n int64, _ map[string]string, w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		if n == 1 {
			bannedUntil = time.Now().Add(time.Second)
		}
		in := time.Now().Before(bannedUntil)
		mu.Unlock()
		if in {
			banned.Add(1)
			errBody(w, 7, "App Call Limited", "accesscontrol.limited-by-app-access-count", "This ban will last for 1 more seconds")
			return
		}
		okBody(w, `{}`)
	})
	cfg := testConfig(g.srv.URL)
	c := newTestClient(t, cfg)
	const callers = 8
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := c.Call(context.Background(), "taobao.time.get", nil, nil)
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if n := g.requests.Load(); n > 2*callers {
		t.Errorf("%d requests for %d callers", n, callers)
	}
	if el := time.Since(start); el < 2*time.Second {
		t.Errorf("finished in %v, before the ban (1 s + 1 s) was over", el)
	}
	if banned.Load() > callers {
		t.Errorf("%d banned answers", banned.Load())
	}
}

func TestContextCancelDuringBackoff(t *testing.T) {
	g := newGW(t, func(_ int64, _ map[string]string, w http.ResponseWriter, _ *http.Request) {
		errBody(w, 15, "Remote service error", "isp.top-remote-unknown-error", "")
	})
	c := newTestClient(t, testConfig(g.srv.URL))
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.Call(ctx, "taobao.time.get", nil, nil)
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > time.Second {
		t.Fatalf("%v after %v", err, time.Since(start))
	}
	if KindOf(err) != KindISP || !strings.Contains(err.Error(), "isp.top-remote-unknown-error") {
		t.Errorf("err %v", err)
	}
	// Cancelled before sending: nothing goes out.
	g.requests.Store(0)
	ctx2, cancel2 := context.WithCancel(context.Background())
	cancel2()
	if _, err := c.Call(ctx2, "taobao.time.get", nil, nil); !errors.Is(err, context.Canceled) || g.requests.Load() != 0 {
		t.Errorf("%v requests %d", err, g.requests.Load())
	}
}

func TestBackoffBounds(t *testing.T) {
	c := newTestClient(t, testConfig("http://127.0.0.1:1/"))
	for range 200 {
		for n := 1; n <= 8; n++ {
			d := c.backoff(n)
			if d < time.Second || d > 30*time.Second {
				t.Fatalf("backoff(%d) = %v", n, d)
			}
		}
	}
}

// The gateway answers a request it cannot read (a 50 MB parameter) with an
// XML error_response, whatever format was asked: it is decoded as the
// gateway's error it is, code 43 and all, and not retried as a malformed
// body. A write's outcome is then known: not sent.
func TestXMLErrorResponse(t *testing.T) {
	g := newGW(t, func(_ int64, _ map[string]string, w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
		_, _ = w.Write([]byte("<?xml version=\"1.0\" encoding=\"utf-8\" ?>\n<error_response><code>43</code><msg>Parameter error</msg>" +
			"<sub_code>isv.parameter-too-large</sub_code><sub_msg>request too large</sub_msg><request_id>xmlreq1</request_id></error_response>"))
	})
	c, clk := fakeClient(t, g.srv.URL, nil)
	for method, params := range map[string]Params{"taobao.time.get": nil, "taobao.item.quantity.update": {"num_iid": 1, "quantity": 1}} {
		g.requests.Store(0)
		_, err := c.Call(context.Background(), method, params, nil)
		var e *Error
		if !errors.As(err, &e) || e.Code != 43 || e.Msg != "Parameter error" || e.SubCode != "isv.parameter-too-large" || e.RequestID != "xmlreq1" || e.Kind != KindInvalid {
			t.Fatalf("%s: %#v", method, err)
		}
		if want := method + ": 43 Parameter error; isv.parameter-too-large: request too large (request_id xmlreq1)"; e.Error() != want {
			t.Errorf("%s: %q, want %q", method, e.Error(), want)
		}
		if n := g.requests.Load(); n != 1 {
			t.Errorf("%s: %d requests, want 1 (not retried)", method, n)
		}
	}
	if len(clk.Sleeps()) != 0 {
		t.Errorf("slept %v", clk.Sleeps())
	}
	// An XML body that is no error_response is still malformed.
	g2 := newGW(t, func(_ int64, _ map[string]string, w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(`<?xml version="1.0"?><time_get_response><time>x</time></time_get_response>`))
	})
	c2, _ := fakeClient(t, g2.srv.URL, nil)
	if _, err := c2.Call(context.Background(), "taobao.time.get", nil, &CallOptions{Retries: 1}); err == nil || !strings.Contains(err.Error(), "malformed") {
		t.Errorf("err = %v, want malformed", err)
	}
}

// A method name with a control character is refused before anything is
// sent, the character named.
func TestControlCharacterInMethod(t *testing.T) {
	g := newGW(t, func(_ int64, _ map[string]string, w http.ResponseWriter, _ *http.Request) { okBody(w, `{"time":"x"}`) })
	c, _ := fakeClient(t, g.srv.URL, nil)
	for _, m := range []string{"taobao.time\x01.get", "taobao.time.get\x00", "taobao\x7f.time.get"} {
		_, err := c.Call(context.Background(), m, nil, nil)
		var e *Error
		if !errors.As(err, &e) || e.Kind != KindInvalid || !strings.Contains(e.Error(), "malformed method name: a control character") {
			t.Errorf("%q: %v", m, err)
		}
		if strings.ContainsAny(e.Error(), "\x00\x01\x7f") {
			t.Errorf("%q: the error shows the raw character: %q", m, e.Error())
		}
	}
	if n := g.requests.Load(); n != 0 {
		t.Errorf("%d requests sent", n)
	}
}

// WithLongBan is told of a ban too long to wait out once, when the gateway
// answers it (not for the calls the shut scope then refuses), and not of a
// ban short enough to wait out; a client for another session shares it.
func TestLongBanHook(t *testing.T) {
	g := newGW(t, func(_ int64, p map[string]string, w http.ResponseWriter, _ *http.Request) {
		if p["method"] == "taobao.api.limited" {
			errBody(w, 7, "App Call Limited", "accesscontrol.limited-by-api-access-count", "This ban will last for 600 more seconds")
			return
		}
		if p["method"] == "taobao.api.brief" {
			errBody(w, 7, "App Call Limited", "accesscontrol.limited-by-api-access-count", "This ban will last for 1 more seconds")
			return
		}
		okBody(w, `{}`)
	})
	var mu sync.Mutex
	var bans []LongBan
	cfg := testConfig(g.srv.URL)
	clk := newFakeClock(time.Date(2024, 11, 11, 0, 0, 0, 0, toptime.Zone))
	c := newTestClient(t, cfg, WithClock(clk), WithLongBan(func(b LongBan) {
		mu.Lock()
		bans = append(bans, b)
		mu.Unlock()
	})).WithSessions(nil)
	for range 3 {
		_, _ = c.Call(context.Background(), "taobao.api.limited", nil, nil)
	}
	_, _ = c.Call(context.Background(), "taobao.api.brief", nil, &CallOptions{Retries: -1})
	if len(bans) != 1 {
		t.Fatalf("told %d times, want once: %+v", len(bans), bans)
	}
	b := bans[0]
	if b.Method != "taobao.api.limited" || b.Scope != "api:taobao.api.limited" || b.Wait != 600*time.Second || b.Err == nil || b.Err.Code != 7 {
		t.Fatalf("told %+v", b)
	}
}
