package top_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/topscript/topscript/internal/sandboxtest"
	"github.com/topscript/topscript/sandbox"
	"github.com/topscript/topscript/top"
	"github.com/topscript/topscript/toptime"
)

// sandboxConfig points a config at s with its credentials and fast retries.
func sandboxConfig(s *sandbox.Server) top.Config {
	cfg := top.DefaultConfig()
	cfg.Gateway = s.URL()
	cfg.AppKey = sandbox.DefaultAppKey
	cfg.AppSecret = sandbox.DefaultAppSecret
	cfg.Session = sandbox.DefaultSession
	cfg.Retry.Backoff = 5 * time.Millisecond
	cfg.Retry.MaxBackoff = 50 * time.Millisecond
	cfg.Timeout = 5 * time.Second
	return cfg
}

func newClient(t testing.TB, cfg top.Config, opts ...top.Option) *top.Client {
	t.Helper()
	c, err := top.NewClient(cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func code7(st sandbox.Stats) int64 {
	var n int64
	for k, v := range st.Errors {
		if k == "7" || strings.HasPrefix(k, "7/") {
			n += v
		}
	}
	return n
}

func TestSandboxSignMethods(t *testing.T) {
	s := sandboxtest.Start(t, sandbox.Options{})
	for _, m := range []top.SignMethod{top.SignMD5, top.SignHMAC, top.SignHMACSHA256} {
		for _, simplify := range []bool{true, false} {
			cfg := sandboxConfig(s)
			cfg.SignMethod = m
			cfg.Simplify = simplify
			c := newClient(t, cfg)
			r, err := c.Call(context.Background(), "taobao.time.get", nil, nil)
			if err != nil {
				t.Fatalf("%s simplify=%v: %v", m, simplify, err)
			}
			if r.RequestID == "" || r.Payload["time"] == nil {
				t.Errorf("%s simplify=%v: %s", m, simplify, r.Body)
			}
		}
	}
}

func TestSandboxWrongSecretAndStaleTimestamp(t *testing.T) {
	s := sandboxtest.Start(t, sandbox.Options{})
	cfg := sandboxConfig(s)
	cfg.AppSecret = "not-the-secret"
	_, err := newClient(t, cfg).Call(context.Background(), "taobao.time.get", nil, nil)
	var e *top.Error
	if !errors.As(err, &e) || e.Code != 25 || e.Kind != top.KindAuth {
		t.Fatalf("wrong secret: %v", err)
	}
	if s.Stats().Requests != 1 {
		t.Errorf("auth error retried: %d requests", s.Stats().Requests)
	}
	if strings.Contains(err.Error(), "not-the-secret") {
		t.Errorf("secret in error: %v", err)
	}

	clk := top.NewFakeClock(time.Now().Add(-20 * time.Minute))
	_, err = newClient(t, sandboxConfig(s), top.WithClock(clk)).Call(context.Background(), "taobao.time.get", nil, nil)
	if !errors.As(err, &e) || e.Code != 31 || e.Kind != top.KindInvalid {
		t.Fatalf("stale timestamp: %v", err)
	}
}

// A 19-digit tid read from one call and passed to another round-trips.
func TestSandboxBigIDsRoundTrip(t *testing.T) {
	s := sandboxtest.Start(t, sandbox.Options{})
	for _, simplify := range []bool{true, false} {
		cfg := sandboxConfig(s)
		cfg.Simplify = simplify
		c := newClient(t, cfg)
		r, err := c.Call(context.Background(), "taobao.trades.sold.get", top.Params{"fields": "tid,status", "page_size": 5}, nil)
		if err != nil {
			t.Fatal(err)
		}
		trades, _, ok := top.FindList(r.Payload, "trades")
		if !ok || len(trades) == 0 {
			t.Fatalf("no trades: %s", r.Body)
		}
		for _, tr := range trades {
			m := tr.(map[string]any)
			tid, ok := m["tid"].(json.Number)
			if !ok || len(tid.String()) != 19 {
				t.Fatalf("tid %v: want the exact 19 digits", m["tid"])
			}
			full, err := c.Call(context.Background(), "taobao.trade.fullinfo.get", top.Params{"fields": "tid,tid_str", "tid": tid}, nil)
			if err != nil {
				t.Fatal(err)
			}
			trade, _ := full.Payload["trade"].(map[string]any)
			if got := fmt.Sprint(trade["tid"]); got != tid.String() || trade["tid_str"] != tid.String() {
				t.Fatalf("fullinfo tid %v tid_str %v, want %s", got, trade["tid_str"], tid)
			}
		}
	}
}

// With 30% isp faults, 200 reads all succeed.
func TestSandboxISPFaultsRetried(t *testing.T) {
	s := sandboxtest.Start(t, sandbox.Options{Faults: sandbox.Faults{ISP: 0.3}})
	cfg := sandboxConfig(s)
	cfg.Retry.MaxAttempts = 12
	c := newClient(t, cfg)
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	sem := make(chan struct{}, 8)
	for i := range 200 {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			_, err := c.Call(context.Background(), "taobao.items.onsale.get", top.Params{"fields": "num_iid,title", "page_no": i%5 + 1}, nil)
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	st := s.Stats()
	if st.Calls["taobao.items.onsale.get"] <= 200 {
		t.Errorf("no faults injected? %v", st.Calls)
	}
	t.Logf("200 reads: %d calls, errors %v", st.Calls["taobao.items.onsale.get"], st.Errors)
}

// Concurrent callers meeting a ban wait it out once, without hammering.
func TestSandboxBanHoldsCallers(t *testing.T) {
	s := sandboxtest.Start(t, sandbox.Options{})
	c := newClient(t, sandboxConfig(s))
	s.Ban(2 * time.Second)
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
	el := time.Since(start)
	st := s.Stats()
	if st.Requests > callers*2+callers {
		t.Errorf("%d requests for %d callers", st.Requests, callers)
	}
	if el < 2*time.Second || el > 5*time.Second {
		t.Errorf("took %v for a 2 s ban", el)
	}
	t.Logf("2 s ban, %d callers: %d requests, %d code-7 answers, %v", callers, st.Requests, code7(st), el.Round(time.Millisecond))
}

// A ban longer than MaxBanWait fails at once with RetryAfter.
func TestSandboxLongBanFailsAtOnce(t *testing.T) {
	s := sandboxtest.Start(t, sandbox.Options{})
	cfg := sandboxConfig(s)
	cfg.Retry.MaxBanWait = time.Minute
	c := newClient(t, cfg)
	s.Ban(10 * time.Minute)
	start := time.Now()
	_, err := c.Call(context.Background(), "taobao.time.get", nil, nil)
	var e *top.Error
	if !errors.As(err, &e) || e.Kind != top.KindFlowControl || e.RetryAfter < 9*time.Minute || e.RetryAfter > 11*time.Minute {
		t.Fatalf("%v (retry after %v)", err, e.RetryAfter)
	}
	if time.Since(start) > time.Second || s.Stats().Requests != 1 {
		t.Errorf("took %v, %d requests", time.Since(start), s.Stats().Requests)
	}
	// Later calls fail without sending.
	if _, err := c.Call(context.Background(), "taobao.time.get", nil, nil); top.KindOf(err) != top.KindFlowControl || s.Stats().Requests != 1 {
		t.Errorf("second call: %v, %d requests", err, s.Stats().Requests)
	}
}

// A code-7 ban is held in its own scope: the sandbox bans the app, one API
// for every app or one API for this app; the client then holds back every
// call of the app, or only the calls of that API, without sending them.
func TestSandboxBanScopes(t *testing.T) {
	const banned, other = "taobao.time.get", "taobao.items.onsale.get"
	otherParams := top.Params{"fields": "num_iid", "page_size": 1}
	for _, c := range []struct {
		scope   sandbox.BanScope
		subCode string
		others  bool // the app's other APIs are held back too
	}{
		{sandbox.BanApp, "accesscontrol.limited-by-app-access-count", true},
		{sandbox.BanAPI, "accesscontrol.limited-by-api-access-count", false},
		{sandbox.BanAppAPI, "accesscontrol.limited-by-app-api-access-count", false},
	} {
		t.Run(c.subCode, func(t *testing.T) {
			s := sandboxtest.Start(t, sandbox.Options{})
			cfg := sandboxConfig(s)
			cfg.Retry.MaxBanWait = time.Second // a 10-minute ban fails at once
			cl := newClient(t, cfg)
			ctx := context.Background()
			s.BanScoped(c.scope, banned, 10*time.Minute)
			_, err := cl.Call(ctx, banned, nil, nil)
			var e *top.Error
			if !errors.As(err, &e) || e.Kind != top.KindFlowControl || !e.HasSubCode(c.subCode) || e.RetryAfter < 9*time.Minute {
				t.Fatalf("banned call: %v", err)
			}
			sent := s.Stats().Requests
			_, err = cl.Call(ctx, banned, nil, nil)
			if top.KindOf(err) != top.KindFlowControl || s.Stats().Requests != sent {
				t.Errorf("the banned API again: %v, %d sent; want held back, nothing sent", err, s.Stats().Requests-sent)
			}
			_, err = cl.Call(ctx, other, otherParams, nil)
			switch {
			case c.others && (top.KindOf(err) != top.KindFlowControl || s.Stats().Requests != sent):
				t.Errorf("another API under an app ban: %v, %d sent; want held back", err, s.Stats().Requests-sent)
			case !c.others && (err != nil || s.Stats().Requests != sent+1):
				t.Errorf("another API under an API ban: %v, %d sent; want it sent and answered", err, s.Stats().Requests-sent)
			}
		})
	}
}

// An isv error is not retried.
func TestSandboxISVNotRetried(t *testing.T) {
	s := sandboxtest.Start(t, sandbox.Options{})
	c := newClient(t, sandboxConfig(s))
	_, err := c.Call(context.Background(), "taobao.item.seller.get", top.Params{"fields": "num_iid", "num_iid": int64(999999999999)}, nil)
	var e *top.Error
	if !errors.As(err, &e) || e.Kind != top.KindISV || !e.HasSubCode("isv.item-not-exist") {
		t.Fatalf("%v", err)
	}
	if n := s.Stats().Calls["taobao.item.seller.get"]; n != 1 {
		t.Errorf("calls %d", n)
	}
	if !strings.Contains(e.Error(), "; "+e.SubCode+": 商品不存在 (request_id ") || !strings.HasPrefix(e.SubCode, "isv.item-not-exist") {
		t.Errorf("Error() = %s", e.Error())
	}
}

// The client throttle at the gateway's rate never trips its limit.
func TestSandboxThrottleVsGatewayQPS(t *testing.T) {
	if testing.Short() || top.RaceEnabled {
		t.Skip("4 s of wall-clock pace; not under -short or -race")
	}
	s := sandboxtest.Start(t, sandbox.Options{QPS: 50})
	cfg := sandboxConfig(s)
	cfg.Throttle.QPS = 50
	c := newClient(t, cfg)
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for range 200 {
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
	if n := code7(s.Stats()); n != 0 {
		t.Errorf("%d code-7 answers: %v", n, s.Stats().Errors)
	}
}

// Closure windows under a fake clock shared with the sandbox.
func TestSandboxClosures(t *testing.T) {
	start := time.Date(2023, 9, 6, 20, 0, 0, 0, toptime.Zone)
	end := time.Date(2023, 9, 6, 21, 0, 0, 0, toptime.Zone)
	clk := top.NewFakeClock(start.Add(15 * time.Minute))
	s := sandboxtest.Start(t, sandbox.Options{Now: clk.Now})
	cfg := sandboxConfig(s)
	cfg.Closures = []top.Closure{
		{Methods: []string{"taobao.fenxiao.product*"}, Start: start, End: end, Action: top.ClosureWait},
		{Methods: []string{"tmall.supplychain.channel.*"}, Start: start, End: end, Action: top.ClosureFail},
	}
	c := newClient(t, cfg, top.WithClock(clk))

	_, err := c.Call(context.Background(), "tmall.supplychain.channel.product.downshelf", top.Params{"product_id": 1}, nil)
	if top.KindOf(err) != top.KindClosed || s.Stats().Requests != 0 {
		t.Fatalf("fail window: %v, %d requests", err, s.Stats().Requests)
	}
	r, err := c.Call(context.Background(), "taobao.fenxiao.products.get", top.Params{"fields": "skus"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !clk.Now().Equal(end) || len(clk.Sleeps()) != 1 || clk.Sleeps()[0] != 45*time.Minute {
		t.Errorf("resumed at %v after %v", clk.Now(), clk.Sleeps())
	}
	if s.Stats().Requests != 1 || r.RequestID == "" {
		t.Errorf("requests %d", s.Stats().Requests)
	}
}

// Dropped and truncated answers: an idempotent write (a price set) is
// retried and lands; a stock increment is not retried and reports
// unknown_outcome — and every write the gateway applied is accounted for.
func TestSandboxUnknownOutcome(t *testing.T) {
	s := sandboxtest.Start(t, sandbox.Options{Faults: sandbox.Faults{Drop: 0.2, Truncate: 0.1}, Seed: 7})
	cfg := sandboxConfig(s)
	cfg.Retry.MaxAttempts = 10
	c := newClient(t, cfg)
	ctx := context.Background()

	// Find an item with SKUs (reads are retried through the faults).
	var numIID json.Number
	var sku map[string]any
	p := c.Pages(ctx, "taobao.items.onsale.get", top.Params{"fields": "num_iid"}, top.PageOptions{PageSize: 50})
	for numIID == "" {
		r, ok, err := p.Next(ctx)
		if err != nil || !ok {
			t.Fatalf("no item with SKUs: %v", err)
		}
		for _, it := range p.Items(r) {
			id := it.(map[string]any)["num_iid"].(json.Number)
			full, err := c.Call(ctx, "taobao.item.seller.get", top.Params{"fields": "num_iid,sku,sku.sku_id,sku.properties", "num_iid": id}, nil)
			if err != nil {
				t.Fatal(err)
			}
			item, _ := full.Payload["item"].(map[string]any)
			if skus, _, ok := top.FindList(item, "skus"); ok && len(skus) > 0 {
				numIID, sku = id, skus[0].(map[string]any)
				break
			}
		}
	}
	s.Reset()

	var ok, unknown int
	for i := range 40 {
		_, err := c.Call(ctx, "taobao.item.sku.price.update", top.Params{"num_iid": numIID, "properties": sku["properties"], "price": fmt.Sprintf("%d.00", 10+i)}, nil)
		if err != nil {
			t.Fatalf("idempotent write: %v", err)
		}
		_, err = c.Call(ctx, "taobao.item.quantity.update", top.Params{"num_iid": numIID, "sku_id": sku["sku_id"], "quantity": 1, "type": 2}, nil)
		switch top.KindOf(err) {
		case "":
			ok++
		case top.KindUnknownOutcome:
			unknown++
		default:
			t.Fatalf("increment: %v", err)
		}
	}
	st := s.Stats()
	if unknown == 0 {
		t.Error("no unknown outcomes at 30% faults")
	}
	var applied int64
	for _, n := range st.Writes["taobao.item.quantity.update"] {
		applied += n
	}
	if st.Calls["taobao.item.quantity.update"] != 40 || applied != 40 {
		t.Errorf("increments: %d calls, %d applied; ok %d unknown %d", st.Calls["taobao.item.quantity.update"], applied, ok, unknown)
	}
	t.Logf("increments: ok %d, unknown %d; price sets: %d calls for 40", ok, unknown, st.Calls["taobao.item.sku.price.update"])
}

// The cost of one call through the sandbox over loopback HTTP.
func BenchmarkCallSandbox(b *testing.B) {
	s := sandboxtest.Start(b, sandbox.Options{})
	c := newClient(b, sandboxConfig(s))
	ctx := context.Background()
	params := top.Params{"fields": "tid,tid_str,status,payment", "page_size": 20}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Call(ctx, "taobao.trades.sold.get", params, nil); err != nil {
			b.Fatal(err)
		}
	}
}
