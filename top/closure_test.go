package top

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/topscript/topscript/toptime"
)

func TestClosureWindows(t *testing.T) {
	var sentAt []string
	g := newGW(t, func(_ int64, p map[string]string, w http.ResponseWriter, _ *http.Request) {
		sentAt = append(sentAt, p["timestamp"])
		okBody(w, `{}`)
	})
	start := time.Date(2023, 9, 6, 20, 0, 0, 0, toptime.Zone)
	end := time.Date(2023, 9, 6, 21, 0, 0, 0, toptime.Zone)
	cfg := testConfig(g.srv.URL)
	cfg.Closures = []Closure{
		{Methods: []string{"taobao.fenxiao.product*"}, Start: start, End: end, Action: ClosureWait},
		{Methods: []string{"tmall.supplychain.*"}, Start: start, End: end, Action: ClosureFail},
	}
	clk := newFakeClock(start.Add(10 * time.Minute))
	c := newTestClient(t, cfg, WithClock(clk))

	// wait: resumes at the window's end, then sends.
	if _, err := c.Call(context.Background(), "taobao.fenxiao.product.update", Params{"pid": 1}, nil); err != nil {
		t.Fatal(err)
	}
	if s := clk.Sleeps(); len(s) != 1 || s[0] != 50*time.Minute {
		t.Errorf("sleeps %v, want [50m]", s)
	}
	if len(sentAt) != 1 || sentAt[0] != "2023-09-06 21:00:00" {
		t.Errorf("sent at %v", sentAt)
	}

	// fail: KindClosed at once, nothing sent.
	clk2 := newFakeClock(start.Add(time.Minute))
	c2 := newTestClient(t, cfg, WithClock(clk2))
	_, err := c2.Call(context.Background(), "tmall.supplychain.channel.product.downshelf", Params{"product_id": 1}, nil)
	var e *Error
	if !errors.As(err, &e) || e.Kind != KindClosed || e.RetryAfter != 59*time.Minute {
		t.Fatalf("%v", err)
	}
	if g.requests.Load() != 1 || len(clk2.Sleeps()) != 0 {
		t.Errorf("requests %d sleeps %v", g.requests.Load(), clk2.Sleeps())
	}
	// Other methods pass; the window's end is exclusive.
	if _, err := c2.Call(context.Background(), "taobao.time.get", nil, nil); err != nil {
		t.Error(err)
	}
	clk3 := newFakeClock(end)
	c3 := newTestClient(t, cfg, WithClock(clk3))
	if _, err := c3.Call(context.Background(), "tmall.supplychain.channel.product.downshelf", Params{"product_id": 1}, nil); err != nil {
		t.Errorf("at end: %v", err)
	}

	// wait honours the context.
	c4 := newTestClient(t, cfg, WithClock(realClockAt{start.Add(time.Minute)}))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err = c4.Call(ctx, "taobao.fenxiao.product.update", Params{"pid": 1}, nil)
	if !errors.Is(err, context.DeadlineExceeded) || KindOf(err) != KindClosed {
		t.Errorf("ctx: %v", err)
	}
}

// realClockAt reports a fixed time but sleeps for real.
type realClockAt struct{ t time.Time }

func (r realClockAt) Now() time.Time { return r.t }
func (r realClockAt) Sleep(ctx context.Context, d time.Duration) error {
	return toptime.Wall.Sleep(ctx, d)
}

func TestNewClientValidation(t *testing.T) {
	base := testConfig("http://127.0.0.1:1/router/rest")
	bad := []func(*Config){
		func(c *Config) { c.AppKey = "" },
		func(c *Config) { c.AppSecret = "" },
		func(c *Config) { c.Gateway = "ftp://x" },
		func(c *Config) { c.SignMethod = "sha1" },
		func(c *Config) { c.Throttle.Methods = map[string]float64{"[bad": 1} },
		func(c *Config) { c.Throttle.QPS = -1 },
		func(c *Config) {
			c.Closures = []Closure{{Methods: []string{"x"}, Start: time.Now(), End: time.Now().Add(-time.Hour)}}
		},
		func(c *Config) {
			c.Closures = []Closure{{Methods: []string{"x"}, Start: time.Now(), End: time.Now().Add(time.Hour), Action: "nap"}}
		},
	}
	for i, mut := range bad {
		cfg := base
		mut(&cfg)
		if _, err := NewClient(cfg); err == nil {
			t.Errorf("case %d accepted", i)
		} else if containsSecret(err.Error()) {
			t.Errorf("case %d leaks: %v", i, err)
		}
	}
	c, err := NewClient(Config{AppKey: "k", AppSecret: "s3cret"})
	if err != nil {
		t.Fatal(err)
	}
	got := c.Config()
	if got.Gateway != DefaultGateway || got.SignMethod != SignHMACSHA256 || got.Retry.MaxAttempts != 4 ||
		got.Retry.Backoff != time.Second || got.Retry.MaxBanWait != 2*time.Minute || got.AppSecret != "[REDACTED]" {
		t.Errorf("defaults: %+v", got)
	}
}
