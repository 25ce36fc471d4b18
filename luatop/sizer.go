package luatop

import (
	"math"
	"sync"
	"time"

	"github.com/topscript/topscript/top"
)

// sizer decides how many tasks the runner keeps in flight: enough to keep
// the throttle of the calls busy at the latency they meet, by Little's law
// (in flight = rate × latency), with headroom so a caller always waits at
// the throttle, bounded by a cap. It learns from what the calls report
// (top.CallTrace): each answer's latency on the wire and its error, and the
// retry backoffs that tasks sit in.
//
//   - The rate is the client's (top.Client.Rate: the tightest bucket of each
//     method, rates learned from bans included), X = the lowest of
//     rate(m) / share(m) over the methods seen (and the app's rate): what
//     the mix of calls can go at. The latency is a moving average per
//     method (each answer weighs sizerAlpha), L = their mean by share.
//     The limit is ceil(X / per-task calls × L × sizerHeadroom) + 1.
//   - A task waiting out a retry backoff holds no connection: each one adds
//     one to the limit, so a row's backoff never idles the quota.
//   - A code-7 answer halves the limit, and so does an isp storm (more than
//     half of the recent answers isp errors or transport failures), at most
//     once a second; a storm also stops the tasks in backoff counting: a
//     sick backend gets fewer calls, not more. The limit grows back
//     linearly over sizerRecovery.
//   - Before the first answer, and when no bucket limits the calls, the
//     limit is fixed: the script's number, else DefaultConcurrency (there
//     is no quota to size against; topscript does not guess one).
//
// Everything is computed from times given by now (a fake clock in tests);
// the sizer never sleeps. It is safe for concurrent use.
type sizer struct {
	now  func() time.Time
	rate func(method string) float64
	// most is the cap (the script's number, else MaxAutoConcurrency); fixed
	// the limit when there is nothing to size against; per the calls one
	// task makes (a batch's size).
	most, fixed, per int

	mu      sync.Mutex
	methods map[string]*methodPace
	waiting int     // tasks in a retry backoff
	sick    float64 // moving share of isp and transport failures among answers
	storm   bool
	// The share of the limit allowed is cut to cut at hit and grows back
	// to 1 over sizerRecovery (see allowed).
	cut     float64
	hit     time.Time
	appRate float64 // top.Client.Rate(""), read again every sizerRateEvery
	appRead time.Time
	grew    func() // called when the limit may have grown (the runner's wake-up)
}

// methodPace is what the sizer knows of one method's calls.
type methodPace struct {
	latency float64 // seconds, moving average
	share   float64 // moving share of the answers
	rate    float64 // top.Client.Rate, read again every sizerRateEvery
	read    time.Time
}

// The sizer's constants.
const (
	// DefaultConcurrency is how many calls job.run and top.call_all keep in
	// flight when nothing tells them how many: before the first answer, and
	// when no throttle bucket limits the calls (a number given by the
	// script replaces it).
	DefaultConcurrency = 4
	// MaxAutoConcurrency is the most calls job.run and top.call_all keep in
	// flight when they size themselves (a number given by the script is the
	// cap instead).
	MaxAutoConcurrency = 64
	sizerHeadroom      = 1.25
	sizerAlpha         = 0.2             // weight of one answer in the latency
	sizerShareAlpha    = 0.05            // ... in a method's share of the calls
	sizerSickAlpha     = 0.1             // ... in the share of failures
	sizerStorm         = 0.5             // failures above this share: a storm
	sizerRecovery      = 5 * time.Second // a halved limit is whole again after this
	sizerRateEvery     = 1 * time.Second // how often a method's rate is read again
	sizerMinShare      = 1.0 / 16        // the limit is never cut below 1/16 (nor 1)
	sizerHalveEvery    = 1 * time.Second // trouble halves the limit at most this often
)

// newSizer returns a sizer for calls whose rates rate tells (nil: none
// limited). given is the script's number (0: none); per the calls a task
// makes.
func newSizer(now func() time.Time, rate func(string) float64, given, per int) *sizer {
	s := &sizer{now: now, rate: rate, most: MaxAutoConcurrency, fixed: DefaultConcurrency, per: max(per, 1),
		methods: map[string]*methodPace{}, cut: 1}
	if given > 0 {
		s.most, s.fixed = given, given
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s
}

// limit is how many tasks may be in flight now.
func (s *sizer) limit() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.limitLocked(s.now())
}

func (s *sizer) limitLocked(now time.Time) int {
	n := s.fixed
	if x, l, ok := s.pace(now); ok {
		// 1e-6: a product that is whole but for rounding stays whole.
		n = int(math.Ceil(x/float64(s.per)*l*sizerHeadroom-1e-6)) + 1
	}
	if !s.storm {
		n += s.waiting
	}
	n = int(float64(n) * s.allowed(now))
	return max(1, min(n, s.most))
}

// allowed is the share of the limit allowed at now: cut at the last
// halving, growing back linearly to 1 over sizerRecovery.
func (s *sizer) allowed(now time.Time) float64 {
	if s.cut >= 1 {
		return 1
	}
	return min(1, s.cut+(1-s.cut)*float64(now.Sub(s.hit))/float64(sizerRecovery))
}

// pace is the rate the calls seen can go at and their mean latency; false
// before any answer or when no bucket limits them.
func (s *sizer) pace(now time.Time) (x, l float64, ok bool) {
	total := 0.0
	for _, m := range s.methods {
		total += m.share
	}
	if total <= 0 {
		return 0, 0, false
	}
	x = math.Inf(1)
	var mean float64
	for name, m := range s.methods {
		if s.rate != nil && now.Sub(m.read) >= sizerRateEvery {
			m.rate, m.read = s.rate(name), now
		}
		share := m.share / total
		mean += share * m.latency
		if m.rate > 0 && share > 0 {
			x = min(x, m.rate/share)
		}
	}
	if s.rate != nil && now.Sub(s.appRead) >= sizerRateEvery {
		s.appRate, s.appRead = s.rate(""), now
	}
	if s.appRate > 0 {
		x = min(x, s.appRate)
	}
	if math.IsInf(x, 1) {
		return 0, 0, false
	}
	return x, mean, true
}

// answered takes in one attempt's answer: its latency on the wire and its
// error (nil: a success).
func (s *sizer) answered(method string, d time.Duration, err *top.Error) {
	s.mu.Lock()
	now := s.now()
	before := s.limitLocked(now)
	m := s.methods[method]
	if m == nil {
		m = &methodPace{latency: d.Seconds()}
		s.methods[method] = m
		if len(s.methods) == 1 {
			m.share = 1
		}
	}
	m.latency += sizerAlpha * (d.Seconds() - m.latency)
	for name, o := range s.methods {
		hit := 0.0
		if name == method {
			hit = 1
		}
		o.share += sizerShareAlpha * (hit - o.share)
	}
	failed := 0.0
	if err != nil && (err.Kind == top.KindISP || err.Kind == top.KindTransport || err.Kind == top.KindUnknownOutcome) {
		failed = 1
	}
	s.sick += sizerSickAlpha * (failed - s.sick)
	s.storm = s.sick > sizerStorm
	if (s.storm || err != nil && err.Kind == top.KindFlowControl) && now.Sub(s.hit) >= sizerHalveEvery {
		s.cut = max(sizerMinShare, s.allowed(now)/2)
		s.hit = now
	}
	s.wakeIfGrown(before, now)
}

// backoff counts a task entering (+1) or leaving (-n) retry backoffs.
func (s *sizer) backoff(n int) {
	s.mu.Lock()
	now := s.now()
	before := s.limitLocked(now)
	s.waiting = max(0, s.waiting+n)
	s.wakeIfGrown(before, now)
}

// wakeIfGrown unlocks s and runs grew when the limit is above before.
func (s *sizer) wakeIfGrown(before int, now time.Time) {
	grown := s.limitLocked(now) > before
	grew := s.grew
	s.mu.Unlock()
	if grown && grew != nil {
		grew()
	}
}

// trace returns the hooks of one task: its answers and backoffs reach the
// sizer; done settles the backoffs it is still counted in.
func (s *sizer) trace() (tr *top.CallTrace, done func()) {
	var mu sync.Mutex
	waits := 0 // this task's backoffs not followed by a send yet
	settle := func(all bool) {
		mu.Lock()
		n := 0
		if waits > 0 {
			n = 1
			if all {
				n = waits
			}
		}
		waits -= n
		mu.Unlock()
		if n > 0 {
			s.backoff(-n)
		}
	}
	tr = &top.CallTrace{
		Sent:     func(string) { settle(false) },
		Answered: s.answered,
		Backoff: func(string, time.Duration) {
			mu.Lock()
			waits++
			mu.Unlock()
			s.backoff(1)
		},
	}
	return tr, func() { settle(true) }
}
