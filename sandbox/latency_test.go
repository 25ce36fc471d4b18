package sandbox

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// admin sends an admin request through ServeHTTP.
func admin(s *Server, method, target string) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	s.ServeHTTP(w, httptest.NewRequest(method, target, nil))
	return w
}

// The latency changes at run time through /_sandbox/latency: calls after
// the change sleep the new latency, GET reads it, bad values are refused
// naming the parameter and change nothing.
func TestLatencyAtRunTime(t *testing.T) {
	s := newTestServer(t, Options{Latency: 5 * time.Millisecond})
	timed := func() time.Duration {
		t0 := time.Now()
		mustOK(t, doCall(t, s, "taobao.time.get", nil), "time_get_response")
		return time.Since(t0)
	}
	if d := timed(); d < 5*time.Millisecond {
		t.Errorf("first call took %v, want ≥ 5ms", d)
	}
	w := admin(s, http.MethodPost, "/_sandbox/latency?d=120ms")
	if w.Code != 200 || !strings.Contains(w.Body.String(), `"latency":"120ms"`) {
		t.Fatalf("POST latency: %d %s", w.Code, w.Body)
	}
	if d := timed(); d < 120*time.Millisecond {
		t.Errorf("after POST d=120ms a call took %v", d)
	}
	if got := s.Options().Latency; got != 120*time.Millisecond {
		t.Errorf("Options().Latency = %v", got)
	}
	var got map[string]string
	if err := json.Unmarshal(admin(s, http.MethodGet, "/_sandbox/latency").Body.Bytes(), &got); err != nil || got["latency"] != "120ms" {
		t.Errorf("GET latency: %v %v", got, err)
	}
	admin(s, http.MethodPost, "/_sandbox/latency?d=0")
	if d := timed(); d > 100*time.Millisecond {
		t.Errorf("after d=0 a call took %v", d)
	}
	for _, bad := range []string{"", "fast", "-1s", "2h"} {
		w := admin(s, http.MethodPost, "/_sandbox/latency?d="+bad)
		if w.Code != http.StatusBadRequest || !strings.HasPrefix(w.Body.String(), "d: ") {
			t.Errorf("d=%q: %d %s", bad, w.Code, w.Body)
		}
	}
	if s.Latency() != 0 {
		t.Errorf("a refused value changed the latency to %v", s.Latency())
	}
	if w := admin(s, http.MethodDelete, "/_sandbox/latency"); w.Code != http.StatusMethodNotAllowed {
		t.Errorf("DELETE: %d", w.Code)
	}
	if err := s.SetLatency(-time.Second); err == nil {
		t.Error("SetLatency(-1s) accepted")
	}
}

// Stats.InFlight counts the requests being served, their latency included;
// PeakInFlight the most at once.
func TestInFlight(t *testing.T) {
	s := newTestServer(t, Options{Latency: 200 * time.Millisecond})
	var wg sync.WaitGroup
	for range 5 {
		wg.Add(1)
		go func() { defer wg.Done(); doCall(t, s, "taobao.time.get", nil) }()
	}
	deadline := time.Now().Add(2 * time.Second)
	for s.Stats().InFlight < 5 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if st := s.Stats(); st.InFlight != 5 || st.PeakInFlight != 5 {
		t.Errorf("during 5 calls: in flight %d, peak %d", st.InFlight, st.PeakInFlight)
	}
	wg.Wait()
	if st := s.Stats(); st.InFlight != 0 || st.PeakInFlight != 5 {
		t.Errorf("after: in flight %d, peak %d", st.InFlight, st.PeakInFlight)
	}
	s.Reset()
	if st := s.Stats(); st.PeakInFlight != 0 {
		t.Errorf("after Reset: peak %d", st.PeakInFlight)
	}
}

// The QPS window counts a call when its request arrived, not once its
// latency was slept: a gateway's flow control is at its door, and counted
// after the sleep the calls of a loaded host, whose timers fire late and
// together, reached the window bunched. At 1 qps (one call per 0.95 s), a
// call arriving at 0 s and answered after 1 s of latency, then one
// arriving at 1.3 s with no latency: 1.3 s apart, both allowed (counted
// after the sleep they were 0.3 s apart: code 7).
func TestQPSCountsAtArrival(t *testing.T) {
	s := newTestServer(t, Options{QPS: 1, Latency: time.Second})
	start := time.Now()
	first := make(chan map[string]any, 1)
	go func() { first <- doCall(t, s, "taobao.time.get", nil) }()
	time.Sleep(50 * time.Millisecond) // the first call is asleep in its latency
	if err := s.SetLatency(0); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Until(start.Add(1300 * time.Millisecond)))
	second := doCall(t, s, "taobao.time.get", nil)
	mustOK(t, <-first, "time_get_response")
	if _, ok := second["error_response"]; ok {
		t.Errorf("a call arriving 1.3 s after the first at 1 qps was refused: %v", second)
	}
}
