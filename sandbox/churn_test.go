package sandbox

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/topscript/topscript/toptime"
)

// lastChanges is the last change per tid.
func lastChanges(cs []Change) map[int64]Change {
	m := map[int64]Change{}
	for _, c := range cs {
		m[c.Tid] = c
	}
	return m
}

// Every change is visible to fullinfo, increment.get and sold.get, and is
// in the change log.
func TestChurnIsVisibleToReads(t *testing.T) {
	s := newTestServer(t, Options{})
	before := doCall(t, s, "taobao.trades.sold.get", map[string]string{"fields": "tid", "type": allTypes})
	total0, _ := strconv.Atoi(num(path(before, "trades_sold_get_response", "total_results")))

	cs := s.Churn(300)
	if len(cs) != 300 || len(s.Changes(0)) != 300 || len(s.Changes(250)) != 50 {
		t.Fatalf("change log: %d changes, %d logged, %d after 250", len(cs), len(s.Changes(0)), len(s.Changes(250)))
	}
	events := map[string]int{}
	created := 0
	for k, c := range cs {
		events[c.Event]++
		if c.Seq != int64(k+1) || len(c.Topics) == 0 {
			t.Fatalf("change %d: %+v", k, c)
		}
		if c.Event == "created" {
			created++
		}
	}
	for _, e := range []string{"created", "paid", "shipped", "modified", "finished"} {
		if events[e] == 0 {
			t.Errorf("no %q event in 300: %v", e, events)
		}
	}
	last := lastChanges(cs)
	refunded := 0
	for tid, c := range last {
		m := doCall(t, s, "taobao.trade.fullinfo.get", map[string]string{"tid": strconv.FormatInt(tid, 10), "fields": "tid,status,modified,orders.refund_status"})
		tr := mustOK(t, m, "trade_fullinfo_get_response")["trade"].(map[string]any)
		if tr["status"] != c.Status || tr["modified"] != c.Modified {
			t.Fatalf("tid %d: fullinfo %v, change log %+v", tid, tr, c)
		}
		if c.Event == "refunded" {
			refunded++
			if rs := path(tr, "orders", "order").([]any)[0].(map[string]any)["refund_status"]; rs != "SUCCESS" {
				t.Fatalf("refunded trade %d: refund_status %v", tid, rs)
			}
		}
	}

	// increment.get over the last hour holds every changed trade, once, as
	// the change log has it.
	seen := map[int64]int{}
	end := testNow.Format(toptime.Layout)
	start := testNow.Add(-time.Hour).Format(toptime.Layout)
	for page := 1; ; page++ {
		m := doCall(t, s, "taobao.trades.sold.increment.get", map[string]string{"fields": "tid,status,modified",
			"start_modified": start, "end_modified": end, "page_size": "100", "page_no": strconv.Itoa(page), "use_has_next": "true", "type": allTypes})
		r := mustOK(t, m, "trades_sold_increment_get_response")
		trades, _ := path(r, "trades", "trade").([]any)
		for _, x := range trades {
			tr := x.(map[string]any)
			tid, _ := strconv.ParseInt(num(tr["tid"]), 10, 64)
			seen[tid]++
			if c, ok := last[tid]; ok && (tr["status"] != c.Status || tr["modified"] != c.Modified) {
				t.Fatalf("increment.get tid %d: %v, change log %+v", tid, tr, c)
			}
		}
		if r["has_next"] != true {
			break
		}
	}
	for tid := range last {
		if seen[tid] != 1 {
			t.Fatalf("tid %d appears %d times in increment.get", tid, seen[tid])
		}
	}

	after := doCall(t, s, "taobao.trades.sold.get", map[string]string{"fields": "tid", "type": allTypes})
	total1, _ := strconv.Atoi(num(path(after, "trades_sold_get_response", "total_results")))
	if total1 != total0+created {
		t.Fatalf("sold.get total %d -> %d, want %d new trades", total0, total1, created)
	}

	s.Reset()
	if len(s.Changes(0)) != 0 {
		t.Fatal("Reset keeps the change log")
	}
	again := doCall(t, s, "taobao.trades.sold.get", map[string]string{"fields": "tid", "type": allTypes})
	if n, _ := strconv.Atoi(num(path(again, "trades_sold_get_response", "total_results"))); n != total0 {
		t.Fatalf("after Reset: %d trades, want the seed's %d", n, total0)
	}
}

// Options.Churn runs trade events by itself.
func TestChurnRate(t *testing.T) {
	s := newTestServer(t, Options{Churn: 500})
	deadline := time.Now().Add(10 * time.Second)
	for len(s.Changes(0)) < 50 {
		if time.Now().After(deadline) {
			t.Fatalf("only %d changes after 10 s at 500 a second", len(s.Changes(0)))
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := New(Options{Churn: -1}); err == nil {
		t.Fatal("a negative churn is accepted")
	}
}

func TestChurnAdmin(t *testing.T) {
	s := newTestServer(t, Options{})
	do := func(method, target string) (int, map[string][]Change) {
		w := httptest.NewRecorder()
		s.ServeHTTP(w, httptest.NewRequest(method, target, nil))
		var out map[string][]Change
		if w.Code == 200 {
			if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil {
				t.Fatalf("%s %s: %v: %s", method, target, err, w.Body)
			}
		}
		return w.Code, out
	}
	if code, out := do(http.MethodPost, "/_sandbox/churn?n=7"); code != 200 || len(out["changes"]) != 7 {
		t.Fatalf("POST churn: %d %v", code, out)
	}
	if code, out := do(http.MethodGet, "/_sandbox/changes?since=5"); code != 200 || len(out["changes"]) != 2 || out["changes"][0].Seq != 6 {
		t.Fatalf("GET changes since 5: %d %v", code, out)
	}
	if code, out := do(http.MethodGet, "/_sandbox/changes?since=99"); code != 200 || out["changes"] == nil || len(out["changes"]) != 0 {
		t.Fatalf("GET changes past the end: %d %v", code, out)
	}
	for _, c := range []struct{ method, target string }{
		{http.MethodGet, "/_sandbox/churn?n=1"},
		{http.MethodPost, "/_sandbox/churn?n=0"},
		{http.MethodPost, "/_sandbox/churn?n=x"},
		{http.MethodGet, "/_sandbox/changes?since=-1"},
	} {
		if code, _ := do(c.method, c.target); code == 200 {
			t.Errorf("%s %s answered 200", c.method, c.target)
		}
	}
}

func TestChangeLogKeepsTheLatest(t *testing.T) {
	s := newTestServer(t, Options{})
	s.changes.limit = 10
	s.Churn(25)
	cs := s.Changes(0)
	if len(cs) < 5 || len(cs) > 10 || cs[len(cs)-1].Seq != 25 {
		t.Fatalf("kept %d changes ending at %d; want 5 to 10, the latest 25", len(cs), cs[len(cs)-1].Seq)
	}
	if got := s.Changes(23); len(got) != 2 || got[0].Seq != 24 {
		t.Fatalf("Changes(23) = %v", got)
	}
	if got := s.Changes(25); got != nil {
		t.Fatalf("Changes(25) = %v", got)
	}
}
