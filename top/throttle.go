package top

import (
	"context"
	"math"
	"path"
	"sort"
	"strings"
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
//
// A rate that changes (SetRate, or a rate learned from a ban) paces from
// the last call on at the new rate: a slot reserved at a slow rate does not
// hold the bucket back once it is raised.
//
// # Rates learned from code 7
//
// A bucket whose calls run into a code-7 ban (the app's bucket for a ban of
// the app, the tightest glob matching the method for a ban of one API)
// takes it as the platform's word that the quota is lower than its rate:
// it paces from then on at a ceiling, 95% of the calls it saw leave in the
// second before the banned one (what the gateway let through), or half its
// rate when none left in that second. The ceiling rises again by 2% every
// probeEvery without a ban, up to the rate set, where it is dropped: a
// quota cut for a promotion is found and followed, and its end is found
// too, one ban per probe that oversteps. Only buckets with a rate learn
// (an app with no [throttle] qps waits bans out, as before), and under a
// shared limiter nothing is learned: each process sees only its own calls,
// so the fleet would learn as many rates as it has processes.
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
// departure times of the latest calls (a ring at pos, of at least n), none
// of the last n of which may be within window of a new one. The ring only
// grows: a rate lowered and raised again still knows the calls of the last
// window, so the raise does not let n calls out at once.
type bucket struct {
	qps      float64 // the rate set (for a shared limiter)
	ceiling  float64 // learned from a ban (0: none); the bucket paces at the lower of qps and ceiling
	learned  time.Time
	held     time.Time // the end of the last ban hold the bucket learned from (see cut)
	interval time.Duration
	window   time.Duration
	next     time.Time
	last     time.Time // the last departure
	n        int       // calls allowed within window
	sent     []time.Time
	pos      int
	turn     chan struct{} // capacity 1: held by the caller at the head
	// wake, while the caller at the head sleeps, cuts its sleep short: a
	// rate changed meanwhile (apply) makes it compute its wait again.
	wake context.CancelFunc
}

// maxWindowCalls bounds the ring of a very fast bucket.
const maxWindowCalls = 10000

func newBucket(qps float64) *bucket {
	b := &bucket{turn: make(chan struct{}, 1)}
	b.setRate(qps)
	return b
}

// setRate sets the rate (<= 0: unlimited); a learned ceiling at or above
// it is dropped.
func (b *bucket) setRate(qps float64) {
	b.qps = qps
	if !(qps > 0) || b.ceiling >= qps {
		b.ceiling = 0
	}
	b.apply()
}

// rate is the rate the bucket paces at: the lower of the rate set and the
// learned ceiling (0: unlimited).
func (b *bucket) rate() float64 {
	if b.ceiling > 0 && (!(b.qps > 0) || b.ceiling < b.qps) {
		return b.ceiling
	}
	return b.qps
}

// apply sets the pace and the window for the bucket's rate and wakes the
// caller sleeping at its head (see waitAllowed). The ring grows to hold
// the window's calls, keeping the departures it knows; the next call is
// paced from the last one at the new rate.
func (b *bucket) apply() {
	if b.wake != nil {
		b.wake()
	}
	qps := b.rate()
	b.interval = rateInterval(qps)
	if b.interval == 0 {
		b.window, b.n = 0, 0
		return
	}
	n := int(math.Floor(qps))
	n = max(1, min(n, maxWindowCalls))
	b.window, b.n = time.Duration(n)*b.interval, n
	if len(b.sent) < n {
		ring := make([]time.Time, n)
		// The departures known, oldest first, at the start of the new ring.
		k := len(b.sent)
		for i := range k {
			ring[i] = b.sent[(b.pos+i)%k]
		}
		b.sent, b.pos = ring, k%n
	}
	if !b.last.IsZero() {
		b.next = b.last.Add(b.interval)
	}
}

// allowedAt is the first instant the bucket allows a call (the zero time:
// any time, for a bucket no longer limited).
func (b *bucket) allowedAt() time.Time {
	if b.interval <= 0 {
		return time.Time{}
	}
	at := b.next
	if b.n > 0 {
		// The n-th latest departure.
		if oldest := b.sent[(b.pos-b.n+len(b.sent))%len(b.sent)]; !oldest.IsZero() {
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
	b.last = now
	if len(b.sent) > 0 {
		b.sent[b.pos] = now
		b.pos = (b.pos + 1) % len(b.sent)
	}
}

// departures counts the calls of the ring that left in [from, to). The
// ring holds every call of the last window (no more than n may leave in
// one), so the count is exact for spans up to the window.
func (b *bucket) departures(from, to time.Time) int {
	n := 0
	for _, at := range b.sent {
		if !at.IsZero() && !at.Before(from) && at.Before(to) {
			n++
		}
	}
	return n
}

// Learning a rate from bans (see throttle).
const (
	learnMargin = 0.95             // the ceiling is this share of what the gateway let through
	probeEvery  = 10 * time.Second // a ceiling rises this often without a ban...
	probeStep   = 1.02             // ...by this factor
	minCeiling  = 1.0              // no learned ceiling is below 1 qps (nor above the rate set)
	// minOpen is the least time calls were free to leave before a banned
	// one for the ban to teach a rate (see cut).
	minOpen = 250 * time.Millisecond
)

// cut lowers the bucket's ceiling after a call that left at sentAt ran
// into a ban, at now. A call that left before the last cut or probe tells
// nothing new (the calls in flight when a ban began all answer with it).
//
// The second before is counted only where the bucket's calls were free to
// leave: a ban is waited out (until, the end of its hold), and a call
// banned again right after a hold had no second of calls before it — they
// were held by the client, not refused by the gateway. Over the part of
// the second after the last hold the rate is departures / open time; with
// less than minOpen of it there is nothing to learn from (halving the rate
// then took a 40 qps job down to 19 for six minutes after two bans).
func (b *bucket) cut(sentAt, now, until time.Time) {
	defer func() {
		if until.After(b.held) {
			b.held = until
		}
	}()
	cur := b.rate()
	if !(cur > 0) || sentAt.Before(b.learned) {
		return
	}
	from := sentAt.Add(-time.Second)
	var est float64
	if b.held.After(from) {
		open := sentAt.Sub(b.held)
		if open < minOpen {
			return
		}
		est = learnMargin * float64(b.departures(b.held, sentAt)) / open.Seconds()
	} else if est = learnMargin * float64(b.departures(from, sentAt)); est <= 0 {
		est = cur / 2
	}
	est = max(est, min(minCeiling, b.qps))
	if est >= cur {
		return
	}
	b.ceiling, b.learned = est, now
	b.apply()
}

// probe raises a learned ceiling that has held for probeEvery, dropping it
// once it reaches the rate set.
func (b *bucket) probe(now time.Time) {
	if b.ceiling <= 0 || now.Sub(b.learned) < probeEvery {
		return
	}
	b.ceiling *= probeStep
	b.learned = now
	if b.qps > 0 && b.ceiling >= b.qps {
		b.ceiling = 0
	}
	b.apply()
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
		if b, ok := t.methods[pattern]; ok {
			b.setRate(0) // a caller waiting at it goes at once
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
	now := t.clock.Now()
	var buckets []*bucket
	for _, p := range t.order {
		if b := t.methods[p]; globMatch(p, method) {
			b.probe(now)
			buckets = append(buckets, b)
		}
	}
	t.app.probe(now)
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
		if err := t.waitAllowed(ctx, b); err != nil {
			tk.release()
			return nil, err
		}
	}
	return tk, nil
}

// waitAllowed sleeps, holding b's turn, until b allows a call. The wait
// is computed again whenever the bucket's rate changes (apply cuts the
// sleep short through b.wake): a wait computed at a slow rate would
// otherwise be slept out after the rate was raised, with every caller
// queued behind this one (a bucket set to 0.01 qps and raised to 40 would
// send nothing for 101 s).
func (t *throttle) waitAllowed(ctx context.Context, b *bucket) error {
	for {
		t.mu.Lock()
		wait := b.allowedAt().Sub(t.clock.Now())
		if wait <= 0 {
			t.mu.Unlock()
			return nil
		}
		sctx, cancel := context.WithCancel(ctx)
		b.wake = cancel
		t.mu.Unlock()
		err := t.clock.Sleep(sctx, wait)
		t.mu.Lock()
		b.wake = nil
		t.mu.Unlock()
		cancel()
		if err != nil && ctx.Err() != nil {
			return ctx.Err()
		}
	}
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

// rate is the rate calls of method can go at: the lowest of the buckets
// they take (learned ceilings included); 0 when none limits them. Method
// "" asks for the app's rate.
func (t *throttle) rate(method string) float64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	r := t.app.rate()
	if method == "" {
		return r
	}
	for _, p := range t.order {
		if b := t.methods[p]; globMatch(p, method) {
			if br := b.rate(); br > 0 && (r <= 0 || br < r) {
				r = br
			}
		}
	}
	return r
}

// limited learns from a ban of scope ("app" or "api:<method>") that a
// call of method leaving at sentAt ran into, its calls held until until
// (see throttle): the app's bucket, or the tightest glob matching method,
// paces lower.
func (t *throttle) limited(scope, method string, sentAt, until time.Time) {
	if t.shared != nil || sentAt.IsZero() {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	var b *bucket
	switch {
	case scope == "app":
		b = t.app
	case strings.HasPrefix(scope, "api:"):
		for _, p := range t.order {
			if m := t.methods[p]; globMatch(p, method) && m.interval > 0 && (b == nil || m.rate() < b.rate()) {
				b = m
			}
		}
	}
	if b != nil && b.interval > 0 {
		b.cut(sentAt, t.clock.Now(), until)
	}
}
