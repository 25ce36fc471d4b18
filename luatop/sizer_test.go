package luatop

import (
	"testing"
	"time"

	"github.com/topscript/topscript/top"
)

// fakeNow is a clock for the sizer's tests.
type fakeNow struct{ t time.Time }

func (f *fakeNow) now() time.Time          { return f.t }
func (f *fakeNow) advance(d time.Duration) { f.t = f.t.Add(d) }

// rates returns a Client.Rate stand-in: per method, "" for the app.
func rates(m map[string]float64) func(string) float64 {
	return func(method string) float64 { return m[method] }
}

// feed gives s n answers of method after d, with err.
func feed(s *sizer, clk *fakeNow, method string, d time.Duration, n int, err *top.Error) {
	for range n {
		clk.advance(time.Millisecond)
		s.answered(method, d, err)
	}
}

var (
	errISP = &top.Error{Code: 15, SubCode: "isp.top-remote-connection-timeout", Kind: top.KindISP}
	err7   = &top.Error{Code: 7, Kind: top.KindFlowControl, RetryAfter: time.Second}
)

// Little's law: the limit is rate × latency × 1.25 + 1, following the
// latency up and down; before any answer it is the default (or the
// script's number), and it never passes the cap.
func TestSizerLittlesLaw(t *testing.T) {
	clk := &fakeNow{t: time.Unix(1e9, 0)}
	s := newSizer(clk.now, rates(map[string]float64{"": 40}), 0, 1)
	if got := s.limit(); got != DefaultConcurrency {
		t.Errorf("before any answer: %d, want %d", got, DefaultConcurrency)
	}
	for _, c := range []struct {
		latency time.Duration
		want    int
	}{
		{20 * time.Millisecond, 2},   // ceil(40 × 0.02 × 1.25) + 1
		{250 * time.Millisecond, 14}, // ceil(12.5) + 1
		{500 * time.Millisecond, 26},
		{20 * time.Millisecond, 2},
		{3 * time.Second, MaxAutoConcurrency}, // 151: capped
	} {
		feed(s, clk, "taobao.item.sku.price.update", c.latency, 100, nil)
		if got := s.limit(); got != c.want {
			t.Errorf("at %v: limit %d, want %d", c.latency, got, c.want)
		}
	}
	capped := newSizer(clk.now, rates(map[string]float64{"": 40}), 8, 1)
	if got := capped.limit(); got != 8 {
		t.Errorf("given 8, before any answer: %d", got)
	}
	feed(capped, clk, "m", 500*time.Millisecond, 60, nil)
	if got := capped.limit(); got != 8 {
		t.Errorf("given 8, at 500ms: %d, want the cap 8", got)
	}
	feed(capped, clk, "m", 20*time.Millisecond, 100, nil)
	if got := capped.limit(); got != 2 {
		t.Errorf("given 8, at 20ms: %d, want 2 (the number is a cap, not a floor)", got)
	}
}

// Tasks of 10 calls (batches) need a tenth as many in flight; a mix of
// methods goes at what its tightest bucket allows for its share; with no
// bucket limiting the calls the limit stays fixed.
func TestSizerRatesAndMixes(t *testing.T) {
	clk := &fakeNow{t: time.Unix(1e9, 0)}
	b := newSizer(clk.now, rates(map[string]float64{"": 40}), 0, 10)
	feed(b, clk, "batch of 10 calls", 250*time.Millisecond, 30, nil)
	if got := b.limit(); got != 3 { // 4 batches/s × 0.25 s × 1.25 → 2, + 1
		t.Errorf("batches of 10: %d, want 3", got)
	}

	mix := newSizer(clk.now, rates(map[string]float64{"": 40, "a": 10, "b": 10}), 0, 1)
	for range 200 { // half a, half b
		feed(mix, clk, "a", 200*time.Millisecond, 1, nil)
		feed(mix, clk, "b", 200*time.Millisecond, 1, nil)
	}
	if got := mix.limit(); got < 6 || got > 7 { // 20 calls/s (10 a + 10 b) × 0.2 × 1.25 = 5, + 1
		t.Errorf("a and b at 10 qps each: %d, want 6 (7 as the shares wobble)", got)
	}

	free := newSizer(clk.now, rates(nil), 0, 1)
	feed(free, clk, "m", time.Second, 20, nil)
	if got := free.limit(); got != DefaultConcurrency {
		t.Errorf("no rate: %d, want %d", got, DefaultConcurrency)
	}
	given := newSizer(clk.now, nil, 16, 1)
	feed(given, clk, "m", time.Second, 20, nil)
	if got := given.limit(); got != 16 {
		t.Errorf("no client rate, given 16: %d", got)
	}
}

// A task waiting out a retry backoff adds one to the limit until it sends
// again (or ends); the wake-up runs when the limit grows.
func TestSizerCountsBackoffs(t *testing.T) {
	clk := &fakeNow{t: time.Unix(1e9, 0)}
	s := newSizer(clk.now, rates(map[string]float64{"": 40}), 0, 1)
	woken := 0
	s.grew = func() { woken++ }
	feed(s, clk, "m", 250*time.Millisecond, 60, nil)
	base := s.limit()
	tr1, done1 := s.trace()
	tr2, done2 := s.trace()
	woken = 0
	tr1.Backoff("m", time.Second)
	tr2.Backoff("m", time.Second)
	tr2.Backoff("m", 2*time.Second) // a batch's single retried too
	if got := s.limit(); got != base+3 {
		t.Errorf("three backoffs: %d, want %d", got, base+3)
	}
	if woken != 3 {
		t.Errorf("woken %d times, want 3 (once a growth)", woken)
	}
	tr1.Sent("m")
	if got := s.limit(); got != base+2 {
		t.Errorf("one sent again: %d, want %d", got, base+2)
	}
	tr1.Sent("m") // no backoff left for this task: nothing changes
	done2()
	done1()
	if got := s.limit(); got != base {
		t.Errorf("the tasks ended: %d, want %d", got, base)
	}
}

// A code-7 answer halves the limit (once a second however many come), and
// it grows back over 5 s; an isp storm halves it too and stops counting
// the tasks in backoff, until the answers are well again.
func TestSizerBacksOff(t *testing.T) {
	clk := &fakeNow{t: time.Unix(1e9, 0)}
	s := newSizer(clk.now, rates(map[string]float64{"": 40}), 0, 1)
	feed(s, clk, "m", 500*time.Millisecond, 60, nil)
	if got := s.limit(); got != 26 {
		t.Fatalf("limit %d, want 26", got)
	}
	feed(s, clk, "m", 500*time.Millisecond, 5, err7) // five bans in 5 ms
	if got := s.limit(); got != 13 {
		t.Errorf("after code 7: %d, want 13 (halved once)", got)
	}
	clk.advance(2500 * time.Millisecond)
	if got := s.limit(); got != 19 { // 26 × 0.75
		t.Errorf("2.5 s later: %d, want 19", got)
	}
	clk.advance(3 * time.Second)
	if got := s.limit(); got != 26 {
		t.Errorf("5.5 s later: %d, want 26", got)
	}

	// 10% isp errors are no storm: backoffs count.
	tr, done := s.trace()
	defer done()
	tr.Backoff("m", time.Second)
	for range 20 {
		feed(s, clk, "m", 500*time.Millisecond, 9, nil)
		feed(s, clk, "m", 500*time.Millisecond, 1, errISP)
	}
	if got := s.limit(); got != 27 {
		t.Errorf("10%% isp, one task in backoff: %d, want 27", got)
	}
	// 80%: a storm.
	for range 10 {
		feed(s, clk, "m", 500*time.Millisecond, 1, nil)
		feed(s, clk, "m", 500*time.Millisecond, 4, errISP)
	}
	if got := s.limit(); got != 13 {
		t.Errorf("in an isp storm: %d, want 13 (halved, backoffs not counted)", got)
	}
	clk.advance(time.Second)
	feed(s, clk, "m", 500*time.Millisecond, 4, errISP)
	if got := s.limit(); got != 7 { // 26 × (0.55 / 2)
		t.Errorf("a storm lasting: %d, want 7 (halved again)", got)
	}
	// Well again: the share of failures falls, the limit grows back.
	feed(s, clk, "m", 500*time.Millisecond, 60, nil)
	clk.advance(6 * time.Second)
	if got := s.limit(); got != 27 {
		t.Errorf("well again: %d, want 27", got)
	}
}
