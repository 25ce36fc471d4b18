package sandbox

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestParseFaults(t *testing.T) {
	f, err := ParseFaults(" isp=0.05, http502=0.01,drop=0.01,truncate=0.01,ban=0.01 ")
	if err != nil {
		t.Fatal(err)
	}
	if f != (Faults{ISP: 0.05, HTTP502: 0.01, Drop: 0.01, Truncate: 0.01, Ban: 0.01}) {
		t.Errorf("%+v", f)
	}
	if f, err := ParseFaults("isp_applied=0.1,http502_applied=0.02"); err != nil || f != (Faults{ISPApplied: 0.1, HTTP502Applied: 0.02}) {
		t.Errorf("applied faults: %+v %v", f, err)
	} else if got, _ := ParseFaults(f.String()); got != f {
		t.Errorf("round trip %q", f.String())
	}
	if got, _ := ParseFaults(f.String()); got != f {
		t.Errorf("round trip %q", f.String())
	}
	if f, err := ParseFaults(""); err != nil || !f.Zero() {
		t.Error(f, err)
	}
	for _, bad := range []string{"isp=2", "isp=-0.1", "isp", "isp=abc", "slow=0.1", "isp=NaN"} {
		_, err := ParseFaults("drop=0.1," + bad)
		if err == nil || !strings.Contains(err.Error(), strconv.Quote(bad)) {
			t.Errorf("%q: %v", bad, err)
		}
	}
	if _, err := New(Options{Faults: Faults{ISP: 3}}); err == nil {
		t.Error("New accepted a probability of 3")
	}
}

func priceArgs(s *Server, price string) (map[string]string, string) {
	it := s.st.items[0]
	id := strconv.FormatInt(it.numIID, 10)
	return map[string]string{"num_iid": id, "properties": it.skus[0].props, "price": price}, id + ":" + it.skus[0].props
}

func TestFaultISPAnd502(t *testing.T) {
	s := newTestServer(t, Options{Faults: Faults{ISP: 1}})
	args, key := priceArgs(s, "77.00")
	e := wantCode(t, doCall(t, s, "taobao.item.sku.price.update", args), "15", "")
	if !strings.HasPrefix(e["sub_code"].(string), "isp.") || e["msg"] != "Remote service error" {
		t.Error(e)
	}
	if price0(s) == 7700 || s.Stats().Writes["taobao.item.sku.price.update"][key] != 0 {
		t.Error("isp fault applied the write")
	}

	s = newTestServer(t, Options{Faults: Faults{HTTP502: 1}})
	args, _ = priceArgs(s, "77.00")
	w := post(s, signed(s, "taobao.item.sku.price.update", args))
	if w.Code != 502 || !strings.Contains(w.Body.String(), "502 Bad Gateway") || price0(s) == 7700 {
		t.Errorf("502: %d %s", w.Code, w.Body)
	}
	if s.Stats().Errors["http502"] != 1 {
		t.Error(s.Stats().Errors)
	}
}

func startServer(t *testing.T, o Options) *Server {
	t.Helper()
	s := newTestServer(t, o)
	if err := s.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func httpPost(s *Server, p map[string]string) (*http.Response, []byte, error) {
	resp, err := http.Post(s.URL(), "application/x-www-form-urlencoded;charset=utf-8", strings.NewReader(form(p)))
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, b, err
}

func TestFaultDropAndTruncate(t *testing.T) {
	s := startServer(t, Options{Faults: Faults{Drop: 1}})
	if !strings.HasPrefix(s.URL(), "http://127.0.0.1:") || !strings.HasSuffix(s.URL(), "/router/rest") {
		t.Fatal(s.URL())
	}
	args, key := priceArgs(s, "77.00")
	if _, _, err := httpPost(s, signed(s, "taobao.item.sku.price.update", args)); err == nil {
		t.Error("drop: got an answer")
	}
	if price0(s) != 7700 || s.Stats().Writes["taobao.item.sku.price.update"][key] != 1 || s.Stats().Errors["drop"] != 1 {
		t.Error("drop must apply the write")
	}

	s = startServer(t, Options{Faults: Faults{Truncate: 1}})
	args, key = priceArgs(s, "66.00")
	resp, body, err := httpPost(s, signed(s, "taobao.item.sku.price.update", args))
	if err != nil || resp.StatusCode != 200 {
		t.Fatal(err)
	}
	var v any
	if json.Unmarshal(body, &v) == nil || !strings.HasPrefix(body2str(body), `{"item_sku_price_update_response":`) {
		t.Errorf("truncate: %s", body)
	}
	if price0(s) != 6600 || s.Stats().Writes["taobao.item.sku.price.update"][key] != 1 {
		t.Error("truncate must apply the write")
	}
}

func body2str(b []byte) string { return string(b) }

func TestBanAndQPS(t *testing.T) {
	s := newTestServer(t, Options{Faults: Faults{Ban: 1}})
	e := wantCode(t, doCall(t, s, "taobao.time.get", nil), "7", "accesscontrol.limited-by-app-access-count")
	if m := e["sub_msg"].(string); m != "This ban will last for 2 more seconds" && m != "This ban will last for 1 more seconds" {
		t.Error(m)
	}
	if e["msg"] != "App Call Limited" {
		t.Error(e)
	}

	s = newTestServer(t, Options{})
	s.Ban(3 * time.Second)
	e = wantCode(t, doCall(t, s, "taobao.time.get", nil), "7", banSubCode)
	if e["sub_msg"] != "This ban will last for 3 more seconds" {
		t.Error(e)
	}
	s.Ban(0)
	mustOK(t, doCall(t, s, "taobao.time.get", nil), "time_get_response")

	// Admin ban endpoint.
	r := httptest.NewRequest(http.MethodPost, "/_sandbox/ban?seconds=30", nil)
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)
	if w.Code != 200 {
		t.Fatal(w.Body)
	}
	e = wantCode(t, doCall(t, s, "taobao.time.get", nil), "7", banSubCode)
	if e["sub_msg"] != "This ban will last for 30 more seconds" {
		t.Error(e)
	}
	s.Reset()
	mustOK(t, doCall(t, s, "taobao.time.get", nil), "time_get_response")

	// QPS: over the rate a call answers 7 and is not applied.
	s = newTestServer(t, Options{QPS: 5})
	args, key := priceArgs(s, "12.00")
	ok, limited := 0, 0
	for i := 0; i < 10; i++ {
		m := doCall(t, s, "taobao.item.sku.price.update", args)
		if e := errOf(m); e != nil {
			if e["sub_msg"] != "This ban will last for 1 more seconds" {
				t.Error(e)
			}
			limited++
		} else {
			ok++
		}
	}
	if ok != 5 || limited != 5 || s.Stats().Writes["taobao.item.sku.price.update"][key] != 5 {
		t.Errorf("ok %d limited %d writes %v", ok, limited, s.Stats().Writes)
	}
	if s.Stats().Errors["7/"+banSubCode] != 5 {
		t.Error(s.Stats().Errors)
	}
}

func TestLatency(t *testing.T) {
	s := newTestServer(t, Options{Latency: 50 * time.Millisecond})
	t0 := time.Now()
	mustOK(t, doCall(t, s, "taobao.time.get", nil), "time_get_response")
	if d := time.Since(t0); d < 50*time.Millisecond {
		t.Errorf("latency %v", d)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Millisecond)
	defer cancel()
	s = newTestServer(t, Options{Latency: time.Hour})
	r := httptest.NewRequest(http.MethodPost, "/router/rest", strings.NewReader(form(signed(s, "taobao.time.get", nil)))).WithContext(ctx)
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	done := make(chan struct{})
	go func() { s.ServeHTTP(httptest.NewRecorder(), r); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		t.Fatal("latency ignored the request context")
	}
}

// The fault draws follow the seed.
func TestFaultsDeterministic(t *testing.T) {
	run := func() string {
		s := newTestServer(t, Options{Seed: 3, Faults: Faults{ISP: 0.3}})
		var b strings.Builder
		for i := 0; i < 40; i++ {
			if errOf(doCall(t, s, "taobao.time.get", nil)) != nil {
				b.WriteByte('x')
			} else {
				b.WriteByte('.')
			}
		}
		return b.String()
	}
	a, b := run(), run()
	if a != b || !strings.Contains(a, "x") || !strings.Contains(a, ".") {
		t.Errorf("%s vs %s", a, b)
	}
}

func TestAdminEndpoints(t *testing.T) {
	s := startServer(t, Options{})
	args, key := priceArgs(s, "12.30")
	if _, _, err := httpPost(s, signed(s, "taobao.item.sku.price.update", args)); err != nil {
		t.Fatal(err)
	}
	base := strings.TrimSuffix(s.URL(), "/router/rest")
	resp, err := http.Get(base + "/_sandbox/stats")
	if err != nil {
		t.Fatal(err)
	}
	var st Stats
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err := json.Unmarshal(raw, &st); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{`"requests":1`, `"calls":`, `"errors":`, `"writes":`} {
		if !strings.Contains(string(raw), k) {
			t.Errorf("stats JSON lacks %s: %s", k, raw)
		}
	}
	if st.Writes["taobao.item.sku.price.update"][key] != 1 || st.Calls["taobao.item.sku.price.update"] != 1 {
		t.Errorf("%+v", st)
	}
	resp, err = http.Post(base+"/_sandbox/reset", "", nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatal(err)
	}
	resp.Body.Close()
	if st := s.Stats(); st.Requests != 0 || len(st.Writes) != 0 || price0(s) == 1230 {
		t.Errorf("after reset %+v", st)
	}
	resp, _ = http.Post(base+"/_sandbox/ban?seconds=x", "", nil)
	if resp.StatusCode != 400 {
		t.Error(resp.Status)
	}
	resp.Body.Close()
}

// Concurrent writers and readers stay consistent (run with -race).
func TestConcurrentCalls(t *testing.T) {
	s := newTestServer(t, Options{})
	args, key := priceArgs(s, "10.00")
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				post(s, signed(s, "taobao.item.sku.price.update", args))
				post(s, signed(s, "taobao.item.seller.get", map[string]string{"num_iid": args["num_iid"], "fields": "sku"}))
			}
		}()
	}
	wg.Wait()
	st := s.Stats()
	if st.Writes["taobao.item.sku.price.update"][key] != 160 || st.Requests != 320 {
		t.Errorf("%+v", st)
	}
}

// price0 reads the first SKU price of the first item under the lock.
func price0(s *Server) int64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.st.items[0].skus[0].price
}

// A client pacing at exactly the rate, with a little jitter, is never limited.
func TestQPSPacedClient(t *testing.T) {
	l := newLimiter(50)
	t0 := time.Now()
	for i := 0; i < 200; i++ {
		jitter := time.Duration(i%7-3) * 5 * time.Millisecond // ±15 ms
		if !l.allow(t0.Add(time.Duration(i)*20*time.Millisecond + jitter)) {
			t.Fatalf("call %d limited", i)
		}
	}
	l = newLimiter(50)
	limited := 0
	for i := 0; i < 200; i++ {
		if !l.allow(t0.Add(time.Duration(i) * 15 * time.Millisecond)) { // 66 QPS
			limited++
		}
	}
	if limited == 0 {
		t.Error("66 QPS never limited at 50")
	}
}

// Code 7 comes in three scopes, each with its sub_code: the whole app, one
// API for every app, one API for this app. An API's ban leaves the other
// APIs alone; the admin endpoint sets each.
func TestBanScopes(t *testing.T) {
	s := newTestServer(t, Options{})
	cases := []struct {
		scope   BanScope
		name    string
		subCode string
		others  bool // other APIs are banned too
	}{
		{BanApp, "app", "accesscontrol.limited-by-app-access-count", true},
		{BanAPI, "api", "accesscontrol.limited-by-api-access-count", false},
		{BanAppAPI, "app_api", "accesscontrol.limited-by-app-api-access-count", false},
	}
	for _, c := range cases {
		s.Reset()
		s.BanScoped(c.scope, "taobao.time.get", 5*time.Second)
		e := wantCode(t, doCall(t, s, "taobao.time.get", nil), "7", c.subCode)
		if e["sub_msg"] != "This ban will last for 5 more seconds" || e["msg"] != "App Call Limited" {
			t.Errorf("%s: %v", c.name, e)
		}
		other := doCall(t, s, "taobao.items.onsale.get", map[string]string{"fields": "num_iid", "page_size": "1"})
		if banned := errOf(other) != nil; banned != c.others {
			t.Errorf("%s ban: another API banned = %v, want %v (%v)", c.name, banned, c.others, other)
		}
		s.BanScoped(c.scope, "taobao.time.get", 0)
		mustOK(t, doCall(t, s, "taobao.time.get", nil), "time_get_response")

		// The same through POST /_sandbox/ban.
		r := httptest.NewRequest(http.MethodPost, "/_sandbox/ban?seconds=9&scope="+c.name+"&method=taobao.time.get", nil)
		w := httptest.NewRecorder()
		s.ServeHTTP(w, r)
		if w.Code != 200 {
			t.Fatalf("%s: %d %s", c.name, w.Code, w.Body)
		}
		e = wantCode(t, doCall(t, s, "taobao.time.get", nil), "7", c.subCode)
		if e["sub_msg"] != "This ban will last for 9 more seconds" {
			t.Errorf("%s via the endpoint: %v", c.name, e)
		}
	}
	for _, q := range []string{"seconds=9&scope=nope", "seconds=9&scope=api"} {
		w := httptest.NewRecorder()
		s.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/_sandbox/ban?"+q, nil))
		if w.Code != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400", q, w.Code)
		}
	}
	if _, err := ParseBanScope("x"); err == nil {
		t.Error("ParseBanScope accepted x")
	}
}

// Faults that apply and then fail: the write is applied, and the answer is
// an isp timeout (or unknown error) or an HTTP 502 — what a backend that
// applied the call but did not answer in time looks like. Each is counted
// apart from the faults that apply nothing.
func TestFaultsAppliedThenFailed(t *testing.T) {
	s := newTestServer(t, Options{Faults: Faults{ISPApplied: 1}})
	args, key := priceArgs(s, "77.00")
	seen := map[string]bool{}
	for range 12 {
		e := wantCode(t, doCall(t, s, "taobao.item.sku.price.update", args), "15", "")
		seen[e["sub_code"].(string)] = true
	}
	for sub := range seen {
		if !strings.HasPrefix(sub, "isp.") || !(strings.Contains(sub, "timeout") || strings.Contains(sub, "unknown-error")) {
			t.Errorf("isp_applied answered %s: want an isp timeout or unknown error", sub)
		}
	}
	if price0(s) != 7700 || s.Stats().Writes["taobao.item.sku.price.update"][key] != 12 {
		t.Errorf("isp_applied: price %d, writes %v: want the write applied each time", price0(s), s.Stats().Writes)
	}
	if st := s.Stats().Errors; st["isp_applied"] != 12 || len(st) != 1 {
		t.Errorf("errors %v, want 12 isp_applied", st)
	}
	// A call that fails on its own is answered as it is: nothing was applied.
	wantCode(t, doCall(t, s, "taobao.item.sku.price.update", map[string]string{"num_iid": args["num_iid"], "properties": "1:1", "price": "1"}), "15", "isv.invalid-parameter")

	s = newTestServer(t, Options{Faults: Faults{HTTP502Applied: 1}})
	args, key = priceArgs(s, "66.00")
	w := post(s, signed(s, "taobao.item.sku.price.update", args))
	if w.Code != 502 || !strings.Contains(w.Body.String(), "502 Bad Gateway") {
		t.Errorf("http502_applied: %d %s", w.Code, w.Body)
	}
	if price0(s) != 6600 || s.Stats().Writes["taobao.item.sku.price.update"][key] != 1 || s.Stats().Errors["http502_applied"] != 1 {
		t.Errorf("http502_applied: price %d, stats %+v: want the write applied", price0(s), s.Stats())
	}
}
