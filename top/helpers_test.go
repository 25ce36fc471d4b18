package top

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const (
	testKey     = "12345678"
	testSecret  = "s3cr3t-app-secret"
	testSession = "6100e23657fb0b2d0c78sess10n"
)

// fakeClock advances only when slept on; it records every sleep.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	sleeps []time.Duration
}

func newFakeClock(t time.Time) *fakeClock { return &fakeClock{now: t} }

func (f *fakeClock) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if d > 0 {
		f.sleeps = append(f.sleeps, d)
		f.now = f.now.Add(d)
	}
	return nil
}

func (f *fakeClock) Sleeps() []time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]time.Duration(nil), f.sleeps...)
}

// gw is a scripted test gateway. It parses and verifies every request and
// hands it to reply.
type gw struct {
	t        *testing.T
	srv      *httptest.Server
	requests atomic.Int64
	mu       sync.Mutex
	last     map[string]string
	signs    []string
	reply    func(n int64, p map[string]string, w http.ResponseWriter, r *http.Request)
}

func newGW(t *testing.T, reply func(n int64, p map[string]string, w http.ResponseWriter, r *http.Request)) *gw {
	t.Helper()
	g := &gw{t: t, reply: reply}
	g.srv = httptest.NewServer(http.HandlerFunc(g.serve))
	t.Cleanup(g.srv.Close)
	return g
}

func (g *gw) serve(w http.ResponseWriter, r *http.Request) {
	n := g.requests.Add(1)
	p := map[string]string{}
	ct := r.Header.Get("Content-Type")
	if strings.HasPrefix(ct, "multipart/") {
		if err := r.ParseMultipartForm(1 << 20); err != nil {
			g.t.Errorf("multipart: %v", err)
		}
	} else if err := r.ParseForm(); err != nil {
		g.t.Errorf("form: %v", err)
	}
	for k, v := range r.Form {
		p[k] = v[0]
	}
	if len(r.URL.RawQuery) > 0 {
		g.t.Errorf("query string must be empty, got %q", r.URL.RawQuery)
	}
	want, err := Sign(p, testSecret, SignMethod(p["sign_method"]))
	if err != nil || want != p["sign"] {
		g.t.Errorf("bad sign: got %q want %q (%v)", p["sign"], want, err)
	}
	g.mu.Lock()
	g.last = p
	g.signs = append(g.signs, p["sign"])
	g.mu.Unlock()
	g.reply(n, p, w, r)
}

func (g *gw) lastParams() map[string]string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.last
}

func (g *gw) allSigns() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]string(nil), g.signs...)
}

func okBody(w http.ResponseWriter, body string) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	_, _ = w.Write([]byte(body))
}

func errBody(w http.ResponseWriter, code int, msg, sub, subMsg string) {
	okBody(w, `{"error_response":{"code":`+itoa(code)+`,"msg":"`+msg+`","sub_code":"`+sub+`","sub_msg":"`+subMsg+`","request_id":"req`+itoa(code)+`"}}`)
}

func itoa(n int) string { return strconv.Itoa(n) }

// testConfig is a config for url with small, fast retries.
func testConfig(url string) Config {
	cfg := DefaultConfig()
	cfg.AppKey = testKey
	cfg.AppSecret = testSecret
	cfg.Session = testSession
	cfg.Gateway = url
	cfg.Retry.Backoff = time.Second
	cfg.Retry.MaxBackoff = 30 * time.Second
	return cfg
}

func newTestClient(t *testing.T, cfg Config, opts ...Option) *Client {
	t.Helper()
	c, err := NewClient(cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// debugLogger logs everything to buf.
func debugLogger(buf *bytes.Buffer) *slog.Logger {
	var mu sync.Mutex
	return slog.New(slog.NewTextHandler(&lockedWriter{w: buf, mu: &mu}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
