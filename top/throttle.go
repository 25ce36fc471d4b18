package top

import (
	"context"
	"math"
	"path"
	"sort"
	"sync"
	"time"
)

// throttle holds the client-side token buckets: one for the app and one per
// method glob. A call takes one token from every bucket whose glob matches
// its method and from the app bucket, waiting (under its context) until all
// of them allow it.
//
// Each bucket paces calls 1/rate apart (burst of one) and, on top of that,
// never lets more than n calls leave within any window of n/rate seconds
// (n = the rate rounded down, at least 1): the rolling-window rule gateways
// count by. Callers line up on the bucket's turn; the caller at the head
// sleeps until the bucket allows a call and takes it at the moment it
// really goes. A late wake-up (a loaded host, a GC pause) is caught up on
// later so the long-run pace stays exact (500 calls at 100 qps take 5.04 s,
// see paceMargin), yet the catch-up can never crowd a window.
type throttle struct {
	clock   Clock
	mu      sync.Mutex // guards the fields below and every bucket's interval and next
	app     *bucket
	methods map[string]*bucket // glob → bucket
	order   []string           // sorted globs, for a stable match (and lock) order
	// shared, when set (WithShared), replaces the buckets' pacing: their
	// rates are asked of it (see waitShared).
	shared SharedLimiter
}

// bucket is one rate. interval is the gap between calls; zero means
// unlimited. next is when the pace allows the next call; sent holds the
// departure times of the last n calls (a ring at pos), none of which may be
// within window of a new one.
type bucket struct {
	qps      float64 // the rate set (for a shared limiter)
	interval time.Duration
	window   time.Duration
	next     time.Time
	sent     []time.Time
	pos      int
	turn     chan struct{} // capacity 1: held by the caller at the head
}

// maxWindowCalls bounds the ring of a very fast bucket.
const maxWindowCalls = 10000

func newBucket(qps float64) *bucket {
	b := &bucket{turn: make(chan struct{}, 1)}
	b.setRate(qps)
	return b
}

// setRate sets the pace and the window for qps (<= 0: unlimited).
func (b *bucket) setRate(qps float64) {
	b.qps = qps
	b.interval = rateInterval(qps)
	if b.interval == 0 {
		b.window, b.sent, b.pos = 0, nil, 0
		return
	}
	n := int(math.Floor(qps))
	n = max(1, min(n, maxWindowCalls))
	b.window = time.Duration(n) * b.interval
	if len(b.sent) != n {
		b.sent, b.pos = make([]time.Time, n), 0
	}
}

// allowedAt is the first instant the bucket allows a call.
func (b *bucket) allowedAt() time.Time {
	at := b.next
	if len(b.sent) > 0 {
		if oldest := b.sent[b.pos]; !oldest.IsZero() {
			if w := oldest.Add(b.window); w.After(at) {
				at = w
			}
		}
	}
	return at
}

// took records a call leaving at now.
func (b *bucket) took(now time.Time) {
	if b.interval <= 0 {
		return
	}
	if now.Sub(b.next) > b.window {
		b.next = now // idle for a window: start afresh, no catch-up burst
	}
	b.next = b.next.Add(b.interval)
	if len(b.sent) > 0 {
		b.sent[b.pos] = now
		b.pos = (b.pos + 1) % len(b.sent)
	}
}

// paceMargin slows every bucket by 1%: a gateway counting calls over a
// rolling window sees them late or early by network and scheduler jitter,
// and a client paced exactly at the gateway's limit would trip it now and
// then. 1% is 10 ms of slack per second of calls.
const paceMargin = 1.01

func newThrottle(clock Clock, cfg ThrottleConfig) *throttle {
	t := &throttle{clock: clock, app: newBucket(cfg.QPS), methods: map[string]*bucket{}}
	for p, q := range cfg.Methods {
		t.setLocked(p, q)
	}
	return t
}

// rateInterval converts qps to the gap between calls (0 = unlimited).
func rateInterval(qps float64) time.Duration {
	if !(qps > 0) || qps > 1e9 {
		return 0
	}
	return time.Duration(paceMargin * float64(time.Second) / qps)
}

// set changes the rate of a glob ("" or "*" = the app). qps <= 0 removes
// the limit.
func (t *throttle) set(pattern string, qps float64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.setLocked(pattern, qps)
}

func (t *throttle) setLocked(pattern string, qps float64) {
	if pattern == "" || pattern == "*" {
		t.app.setRate(qps)
		return
	}
	if rateInterval(qps) == 0 {
		if _, ok := t.methods[pattern]; ok {
			delete(t.methods, pattern)
			t.sortLocked()
		}
		return
	}
	if b, ok := t.methods[pattern]; ok {
		b.setRate(qps)
		return
	}
	t.methods[pattern] = newBucket(qps)
	t.sortLocked()
}

func (t *throttle) sortLocked() {
	t.order = t.order[:0]
	for p := range t.methods {
		t.order = append(t.order, p)
	}
	sort.Strings(t.order)
}

// globMatch reports whether method matches a path.Match-style glob; a
// malformed glob only matches itself.
func globMatch(pattern, method string) bool {
	ok, err := path.Match(pattern, method)
	if err != nil {
		return pattern == method
	}
	return ok
}

// ticket holds the turns of the buckets a call needs, once they all allow
// it. commit records the departure right before the request is written and
// hands the turns on; release hands them on without taking a token (the
// call was not sent). Both are idempotent; a nil ticket is a no-op.
type ticket struct {
	t       *throttle
	buckets []*bucket
	done    bool
}

func (tk *ticket) commit() {
	if tk == nil || tk.done {
		return
	}
	now := tk.t.clock.Now()
	tk.t.mu.Lock()
	for _, b := range tk.buckets {
		b.took(now)
	}
	tk.t.mu.Unlock()
	tk.release()
}

func (tk *ticket) release() {
	if tk == nil || tk.done {
		return
	}
	tk.done = true
	for _, b := range tk.buckets {
		<-b.turn
	}
}

// acquire waits until every matching method bucket and the app bucket
// allow a call of method and returns a ticket holding their turns; the
// caller must commit or release it. It returns ctx.Err() if the context
// ends first. A method no bucket limits gets a nil ticket. Under a shared
// limiter (WithShared) the wait is the limiter's and the ticket is nil.
func (t *throttle) acquire(ctx context.Context, method string) (*ticket, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if t.shared != nil {
		return nil, t.waitShared(ctx, method)
	}
	t.mu.Lock()
	var buckets []*bucket
	for _, p := range t.order {
		if globMatch(p, method) {
			buckets = append(buckets, t.methods[p])
		}
	}
	if t.app.interval > 0 {
		buckets = append(buckets, t.app) // always last: a fixed lock order
	}
	t.mu.Unlock()
	if len(buckets) == 0 {
		return nil, nil
	}
	tk := &ticket{t: t}
	// Take the turns in order, waiting at each until its bucket allows a
	// call; a bucket whose turn we hold stays allowed.
	for _, b := range buckets {
		select {
		case b.turn <- struct{}{}:
			tk.buckets = append(tk.buckets, b)
		case <-ctx.Done():
			tk.release()
			return nil, ctx.Err()
		}
		for {
			t.mu.Lock()
			wait := b.allowedAt().Sub(t.clock.Now())
			t.mu.Unlock()
			if wait <= 0 {
				break
			}
			if err := t.clock.Sleep(ctx, wait); err != nil {
				tk.release()
				return nil, err
			}
		}
	}
	return tk, nil
}

// take is acquire and commit at once.
func (t *throttle) take(ctx context.Context, method string) error {
	tk, err := t.acquire(ctx, method)
	if err != nil {
		return err
	}
	tk.commit()
	return nil
}
