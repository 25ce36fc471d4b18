package top

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/topscript/topscript/internal/sandboxtest"
	"github.com/topscript/topscript/sandbox"
)

// batchSandbox starts a sandbox and a client for it whose clock is the
// wall clock plus recorded sleeps (so throttle waits are counted, not slept).
func batchSandbox(t *testing.T, o sandbox.Options, mut func(*Config)) (*sandbox.Server, *Client, *fakeClock) {
	t.Helper()
	s := sandboxtest.Start(t, o)
	cfg := DefaultConfig()
	cfg.Gateway = s.URL()
	cfg.AppKey, cfg.AppSecret, cfg.Session = sandbox.DefaultAppKey, sandbox.DefaultAppSecret, sandbox.DefaultSession
	cfg.Timeout = 5 * time.Second
	if mut != nil {
		mut(&cfg)
	}
	clk := newFakeClock(time.Now())
	return s, newTestClient(t, cfg, WithClock(clk)), clk
}

// sandboxSKU returns a num_iid and the properties of one of its SKUs.
func sandboxSKU(t *testing.T, c *Client) (json.Number, string) {
	t.Helper()
	r, err := c.Call(context.Background(), "taobao.items.onsale.get", Params{"fields": "num_iid", "page_size": 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	items, _, _ := FindList(r.Payload, "items")
	id := items[0].(map[string]any)["num_iid"].(json.Number)
	r, err = c.Call(context.Background(), "taobao.item.seller.get", Params{"num_iid": id, "fields": "num_iid,sku"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	skus, _, _ := FindList(r.Payload, "item.skus")
	return id, skus[0].(map[string]any)["properties"].(string)
}

func TestCallBatchSandbox(t *testing.T) {
	for _, m := range []SignMethod{SignMD5, SignHMAC, SignHMACSHA256} {
		t.Run(string(m), func(t *testing.T) {
			s, c, _ := batchSandbox(t, sandbox.Options{}, func(cfg *Config) { cfg.SignMethod = m })
			id, props := sandboxSKU(t, c)
			s.Reset()
			calls := []BatchCall{
				{Method: "taobao.item.seller.get", Params: Params{"num_iid": id, "fields": "num_iid,title"}},
				{Method: "taobao.item.sku.price.update", Params: Params{"num_iid": id, "properties": props, "price": "9.99"}},
				{Method: "taobao.no.such.method"},
				{Method: "taobao.time.get"},
				{Method: "taobao.item.seller.get", Params: Params{"fields": "num_iid"}}, // missing num_iid: refused locally
				{Method: "taobao.item.seller.get", Params: Params{"num_iid": id, "fields": "title,price"}},
			}
			res, err := c.CallBatch(context.Background(), calls)
			if err != nil || len(res) != len(calls) {
				t.Fatalf("%v, %d results", err, len(res))
			}
			if r := res[0]; r.Err != nil || r.Response.Payload["item"].(map[string]any)["num_iid"] != id {
				t.Errorf("0: %+v", r)
			}
			if r := res[1]; r.Err != nil || r.Response.RequestID == "" {
				t.Errorf("1: %+v", r)
			}
			if e, ok := res[2].Err.(*Error); !ok || e.Code != 22 || e.Method != "taobao.no.such.method" || e.RequestID == "" {
				t.Errorf("2: %v", res[2].Err)
			}
			if r := res[3]; r.Err != nil || r.Response.Payload["time"] == nil {
				t.Errorf("3: %+v", r)
			}
			if KindOf(res[4].Err) != KindInvalid {
				t.Errorf("4: %v", res[4].Err)
			}
			if r := res[5]; r.Err != nil || r.Response.Payload["item"].(map[string]any)["title"] == nil {
				t.Errorf("5: %+v", r)
			}
			st := s.Stats()
			if st.Requests != 1 || st.Calls["taobao.item.seller.get"] != 2 {
				t.Errorf("one HTTP request expected: %+v", st)
			}
			if st.Writes["taobao.item.sku.price.update"][string(id)+":"+props] != 1 {
				t.Errorf("write not applied: %+v", st.Writes)
			}
		})
	}
}

func TestCallBatchSplitsAndGroups(t *testing.T) {
	s, c, _ := batchSandbox(t, sandbox.Options{}, nil)
	var calls []BatchCall
	for range 2*MaxBatchSize + 7 {
		calls = append(calls, BatchCall{Method: "taobao.time.get"})
	}
	// Another session: its own group, alone, so sent through /router/rest.
	calls = append(calls, BatchCall{Method: "taobao.items.onsale.get", Params: Params{"fields": "num_iid"}, Options: &CallOptions{Session: "other-session", Retries: -1}})
	res, err := c.CallBatch(context.Background(), calls)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res[:len(res)-1] {
		if r.Err != nil {
			t.Fatalf("%d: %v", i, r.Err)
		}
	}
	if e, ok := res[len(res)-1].Err.(*Error); !ok || e.Code != 27 {
		t.Errorf("other session: %v", res[len(res)-1].Err)
	}
	if st := s.Stats(); st.Requests != 4 || st.Calls["taobao.time.get"] != int64(2*MaxBatchSize+7) {
		t.Errorf("want 3 batches and 1 single request: %+v", st)
	}
}

// Each sub-request takes one throttle token.
func TestCallBatchThrottle(t *testing.T) {
	_, c, clk := batchSandbox(t, sandbox.Options{QPS: 20}, func(cfg *Config) { cfg.Throttle.QPS = 20 })
	var calls []BatchCall
	for range 20 {
		calls = append(calls, BatchCall{Method: "taobao.time.get"})
	}
	res, err := c.CallBatch(context.Background(), calls)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		if r.Err != nil {
			t.Fatalf("%d: %v", i, r.Err)
		}
	}
	var slept time.Duration
	for _, d := range clk.Sleeps() {
		slept += d
	}
	want := time.Duration(19 * paceMargin * float64(time.Second) / 20)
	if slept < want-time.Millisecond || slept > want+50*time.Millisecond {
		t.Errorf("throttle waited %v, want about %v", slept, want)
	}
}

// The sandbox's per-sub-request QPS limit answers code 7 with a short ban:
// the sub-requests over it wait the ban out and go again as single calls.
func TestCallBatchSubBanRetried(t *testing.T) {
	s := sandboxtest.Start(t, sandbox.Options{QPS: 3})
	cfg := DefaultConfig()
	cfg.Gateway = s.URL()
	cfg.AppKey, cfg.AppSecret, cfg.Session = sandbox.DefaultAppKey, sandbox.DefaultAppSecret, sandbox.DefaultSession
	c := newTestClient(t, cfg)
	calls := make([]BatchCall, 5)
	for i := range calls {
		calls[i] = BatchCall{Method: "taobao.time.get"}
	}
	start := time.Now()
	res, err := c.CallBatch(context.Background(), calls)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		if r.Err != nil {
			t.Errorf("%d: %v", i, r.Err)
		}
	}
	banned := false
	for k := range s.Stats().Errors {
		banned = banned || strings.HasPrefix(k, "7")
	}
	if !banned {
		t.Errorf("no code 7 seen: %+v", s.Stats())
	}
	if el := time.Since(start); el < time.Second {
		t.Errorf("the ban was not waited out: %v", el)
	}
}

// batchGW is a scripted gateway for batch calls: it verifies the batch
// layout and sign and answers each sub-request from sub (or the whole
// request from whole when it returns true); /router/rest calls go to rest.
type batchGW struct {
	t       *testing.T
	srv     *httptest.Server
	batches atomic.Int64
	singles atomic.Int64
	mu      sync.Mutex
	methods [][]string // methods of each batch
	whole   func(n int64, w http.ResponseWriter) bool
	sub     func(n int64, i int, p url.Values) string
	rest    func(n int64, p url.Values, w http.ResponseWriter)
}

func newBatchGW(t *testing.T) *batchGW {
	g := &batchGW{t: t}
	g.srv = httptest.NewServer(http.HandlerFunc(g.serve))
	t.Cleanup(g.srv.Close)
	return g
}

func (g *batchGW) serve(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/router/rest":
		n := g.singles.Add(1)
		if err := r.ParseForm(); err != nil {
			g.t.Errorf("rest: %v", err)
		}
		if g.rest == nil {
			okBody(w, `{"ok":true}`)
			return
		}
		g.rest(n, r.PostForm, w)
		return
	case "/router/batch":
	default:
		g.t.Errorf("unexpected path %s", r.URL.Path)
		return
	}
	n := g.batches.Add(1)
	q := r.URL.Query()
	if q.Get("method") != "" || q.Get("app_key") != testKey || q.Get("session") != testSession || q.Get("format") != "json" {
		g.t.Errorf("batch URL params: %v", q)
	}
	if ct := r.Header.Get("Content-Type"); ct != "text/plain;charset=UTF-8" {
		g.t.Errorf("content type %q", ct)
	}
	body, _ := io.ReadAll(r.Body)
	sys := map[string]string{}
	for k, v := range q {
		sys[k] = v[0]
	}
	want, _ := signWithBody(sys, body, testSecret, SignMethod(sys["sign_method"]))
	if want != sys["sign"] {
		g.t.Errorf("bad batch sign")
	}
	if g.whole != nil && g.whole(n, w) {
		return
	}
	lines := strings.Split(string(body), BatchSeparator)
	var methods, answers []string
	for i, line := range lines {
		p, err := url.ParseQuery(line)
		if err != nil {
			g.t.Errorf("line %d: %v", i, err)
		}
		methods = append(methods, p.Get("method"))
		answers = append(answers, g.sub(n, i, p))
	}
	g.mu.Lock()
	g.methods = append(g.methods, methods)
	g.mu.Unlock()
	okBody(w, strings.Join(answers, BatchSeparator))
}

// batchClient is a fake-clock client of g where methods ending in ".add"
// are non-idempotent writes, ".set" idempotent writes, others reads.
func batchClient(t *testing.T, g *batchGW) (*Client, *fakeClock) {
	c, clk := fakeClient(t, g.srv.URL+"/router/rest", nil)
	c.isWriteFn = func(m string) bool { return strings.HasSuffix(m, ".add") || strings.HasSuffix(m, ".set") }
	c.isIdempotentFn = func(m string, _ map[string]string) bool { return !strings.HasSuffix(m, ".add") }
	return c, clk
}

var testCalls = []BatchCall{
	{Method: "test.item.get", Params: Params{"num_iid": json.Number("3612345000000000123"), "title": "a&b=c\r\n-S-\r\nd"}},
	{Method: "test.stock.add", Params: Params{"n": 1}},
	{Method: "test.price.set", Params: Params{"price": "1.00"}},
}

func TestCallBatchSubErrors(t *testing.T) {
	g := newBatchGW(t)
	g.sub = func(n int64, i int, p url.Values) string {
		switch p.Get("method") {
		case "test.item.get":
			if p.Get("title") != "a&b=c\r\n-S-\r\nd" || p.Get("num_iid") != "3612345000000000123" {
				t.Errorf("params: %v", p)
			}
			return `{"error_response":{"code":15,"msg":"Remote service error","sub_code":"isp.top-remote-connection-timeout","request_id":"r1"}}`
		case "test.stock.add":
			return `{"error_response":{"code":15,"msg":"Remote service error","sub_code":"isv.item-not-exist","sub_msg":"商品不存在","request_id":"r2"}}`
		}
		return `{"price_set_response":{"ok":true,"request_id":"r3"}}`
	}
	g.rest = func(n int64, p url.Values, w http.ResponseWriter) {
		if p.Get("method") != "test.item.get" {
			t.Errorf("single retry of %s", p.Get("method"))
		}
		okBody(w, `{"item":{"num_iid":3612345000000000123}}`)
	}
	c, clk := batchClient(t, g)
	res, err := c.CallBatch(context.Background(), testCalls)
	if err != nil {
		t.Fatal(err)
	}
	if r := res[0]; r.Err != nil || r.Response.Payload["item"].(map[string]any)["num_iid"] != json.Number("3612345000000000123") {
		t.Errorf("isp sub-request not retried: %+v", r)
	}
	if e, ok := res[1].Err.(*Error); !ok || e.Kind != KindISV || e.RequestID != "r2" || e.Method != "test.stock.add" {
		t.Errorf("isv: %v", res[1].Err)
	}
	if r := res[2]; r.Err != nil || r.Response.RequestID != "r3" {
		t.Errorf("ok: %+v", r)
	}
	if g.batches.Load() != 1 || g.singles.Load() != 1 {
		t.Errorf("batches %d singles %d", g.batches.Load(), g.singles.Load())
	}
	if sl := clk.Sleeps(); len(sl) != 1 || sl[0] < time.Second {
		t.Errorf("the retry must wait a backoff first: %v", sl)
	}
}

func TestCallBatchWholeFailures(t *testing.T) {
	type want struct {
		unknownWrite bool  // test.stock.add fails with unknown_outcome
		batches      int64 // batch requests in all
		singles      int64
	}
	cases := []struct {
		name  string
		fail  func(w http.ResponseWriter)
		want  want
		calls []BatchCall
	}{
		{"drop", dropConn, want{unknownWrite: true, batches: 2}, testCalls},
		{"http500", func(w http.ResponseWriter) { w.WriteHeader(500) }, want{unknownWrite: true, batches: 2}, testCalls},
		{"http502", func(w http.ResponseWriter) { w.WriteHeader(502) }, want{unknownWrite: true, batches: 2}, testCalls},
		{"http429", func(w http.ResponseWriter) { w.WriteHeader(429) }, want{batches: 2}, testCalls},
		{"malformed", func(w http.ResponseWriter) { okBody(w, "<html>oops</html>") }, want{unknownWrite: true, batches: 2}, testCalls},
		{"isp", func(w http.ResponseWriter) {
			okBody(w, `{"error_response":{"code":15,"msg":"Remote service error","sub_code":"isp.remote-connection-error"}}`)
		}, want{unknownWrite: true, batches: 2}, testCalls},
		{"isp-unavailable", func(w http.ResponseWriter) {
			okBody(w, `{"error_response":{"code":15,"msg":"Remote service error","sub_code":"isp.top-remote-service-unavailable"}}`)
		}, want{batches: 2}, testCalls},
		// Cut after the first answer: the first is kept, the write is
		// unknown, the idempotent write goes again alone.
		{"truncated", func(w http.ResponseWriter) {
			okBody(w, `{"item":{"num_iid":1}}`+BatchSeparator+`{"stock_add_resp`)
		}, want{unknownWrite: true, batches: 1, singles: 1}, testCalls},
		// Only reads and idempotent writes: the batch goes again whole.
		{"drop-safe", dropConn, want{batches: 2}, []BatchCall{testCalls[0], testCalls[2]}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := newBatchGW(t)
			g.whole = func(n int64, w http.ResponseWriter) bool {
				if n == 1 {
					tc.fail(w)
					return true
				}
				return false
			}
			g.sub = func(n int64, i int, p url.Values) string { return `{"ok":true}` }
			c, clk := batchClient(t, g)
			res, err := c.CallBatch(context.Background(), tc.calls)
			if err != nil {
				t.Fatal(err)
			}
			for i, r := range res {
				m := tc.calls[i].Method
				if m == "test.stock.add" && tc.want.unknownWrite {
					if KindOf(r.Err) != KindUnknownOutcome || !strings.Contains(r.Err.Error(), "test.stock.add: ") {
						t.Errorf("%s: want unknown_outcome, got %v", m, r.Err)
					}
					continue
				}
				if r.Err != nil {
					t.Errorf("%s: %v", m, r.Err)
				}
			}
			if g.batches.Load() != tc.want.batches || g.singles.Load() != tc.want.singles {
				t.Errorf("batches %d singles %d, want %+v", g.batches.Load(), g.singles.Load(), tc.want)
			}
			if tc.name != "truncated" {
				if sl := clk.Sleeps(); len(sl) != 1 || sl[0] < time.Second {
					t.Errorf("sleeps %v: want one backoff ≥ 1s", sl)
				}
			}
			if tc.name == "drop" && len(g.methods) == 1 && strings.Join(g.methods[0], ",") != "test.item.get,test.price.set" {
				t.Errorf("second batch: %v", g.methods)
			}
		})
	}
}

// A batch-level error that is not retryable fails every sub-request, once.
func TestCallBatchWholeNotRetried(t *testing.T) {
	g := newBatchGW(t)
	g.whole = func(n int64, w http.ResponseWriter) bool {
		okBody(w, `{"error_response":{"code":25,"msg":"Invalid signature","request_id":"rq"}}`)
		return true
	}
	c, clk := batchClient(t, g)
	res, err := c.CallBatch(context.Background(), testCalls)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		e, ok := r.Err.(*Error)
		if !ok || e.Code != 25 || e.Method != testCalls[i].Method || e.Kind != KindAuth {
			t.Errorf("%d: %v", i, r.Err)
		}
	}
	if g.batches.Load() != 1 || len(clk.Sleeps()) != 0 {
		t.Errorf("batches %d sleeps %v", g.batches.Load(), clk.Sleeps())
	}
}

// A ban on a sub-request holds its scope back: the other calls of the app
// wait for it too, and the banned call goes again once it is over.
func TestCallBatchSubBanHoldsScope(t *testing.T) {
	g := newBatchGW(t)
	g.sub = func(n int64, i int, p url.Values) string {
		if i == 1 && n == 1 {
			return `{"error_response":{"code":7,"msg":"App Call Limited","sub_code":"accesscontrol.limited-by-app-access-count","sub_msg":"This ban will last for 3 more seconds"}}`
		}
		return `{"ok":true}`
	}
	c, clk := batchClient(t, g)
	res, err := c.CallBatch(context.Background(), testCalls)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		if r.Err != nil {
			t.Errorf("%d: %v", i, r.Err)
		}
	}
	var slept time.Duration
	for _, d := range clk.Sleeps() {
		slept += d
	}
	if slept < 4*time.Second || g.singles.Load() != 1 {
		t.Errorf("slept %v singles %d", slept, g.singles.Load())
	}
	// A later call of the app is not held any more.
	if _, err := c.Call(context.Background(), "test.item.get", nil, nil); err != nil {
		t.Error(err)
	}
	// A long ban fails at once with RetryAfter.
	g.sub = func(n int64, i int, p url.Values) string {
		return `{"error_response":{"code":7,"msg":"App Call Limited","sub_code":"accesscontrol.limited-by-app-access-count","sub_msg":"This ban will last for 31062 more seconds"}}`
	}
	res, _ = c.CallBatch(context.Background(), testCalls)
	for i, r := range res {
		if e, ok := r.Err.(*Error); !ok || e.Kind != KindFlowControl || e.RetryAfter != 31062*time.Second {
			t.Errorf("%d: %v", i, r.Err)
		}
	}
}

func TestCallBatchContextCanceled(t *testing.T) {
	g := newBatchGW(t)
	g.sub = func(n int64, i int, p url.Values) string { return `{"ok":true}` }
	c, _ := batchClient(t, g)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res, err := c.CallBatch(ctx, testCalls)
	if err == nil || len(res) != len(testCalls) {
		t.Fatalf("%v %d", err, len(res))
	}
	for i, r := range res {
		if r.Err == nil {
			t.Errorf("%d: no error", i)
		}
	}
	if g.batches.Load() != 0 {
		t.Error("sent after cancel")
	}
	var nilc *Client
	if _, err := nilc.CallBatch(context.Background(), testCalls); err == nil {
		t.Error("nil client")
	}
}

func TestBatchURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://eco.taobao.com/router/rest":   "https://eco.taobao.com/router/batch",
		"http://127.0.0.1:8790/router/rest/":   "http://127.0.0.1:8790/router/batch",
		"http://gw.api.taobao.com/custom/path": "http://gw.api.taobao.com/router/batch",
	} {
		u, err := batchURL(in)
		if err != nil || u.String() != want {
			t.Errorf("%s: %v %v", in, u, err)
		}
	}
}

// Concurrent batches take their tokens one batch at a time, so a gateway
// enforcing the client's own rate never sees them bunched.
func TestCallBatchConcurrentThrottle(t *testing.T) {
	s := sandboxtest.Start(t, sandbox.Options{QPS: 40})
	cfg := DefaultConfig()
	cfg.Gateway = s.URL()
	cfg.AppKey, cfg.AppSecret, cfg.Session = sandbox.DefaultAppKey, sandbox.DefaultAppSecret, sandbox.DefaultSession
	cfg.Throttle.QPS = 40
	cfg.Retry.MaxAttempts = 1
	c := newTestClient(t, cfg)
	var wg sync.WaitGroup
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			calls := make([]BatchCall, 10)
			for i := range calls {
				calls[i] = BatchCall{Method: "taobao.time.get"}
			}
			res, err := c.CallBatch(context.Background(), calls)
			if err != nil {
				t.Error(err)
				return
			}
			for _, r := range res {
				if r.Err != nil {
					t.Error(r.Err)
				}
			}
		}()
	}
	wg.Wait()
}
