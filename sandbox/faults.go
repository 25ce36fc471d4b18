package sandbox

import (
	"fmt"
	"math"
	"math/rand"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Faults are per-call probabilities (0..1) of injected failures. Each is drawn
// independently from the server's seeded random source; the first that fires
// wins, in the order Ban, HTTP502, ISP (the call is not applied), then
// HTTP502Applied, ISPApplied, Drop, Truncate (the call is applied, the answer
// is an error or is lost).
//
// An isp error or a 502 does not say whether a write was applied: the
// platform answers them when its backend failed or did not answer in time
// (3 s), and a backend that timed out may have applied the write. ISP and
// HTTP502 are the backend failing before it applied anything; ISPApplied and
// HTTP502Applied the backend applying the call and the gateway timing out
// on it. A client cannot tell them apart.
type Faults struct {
	// ISP answers code 15 with an isp.* sub_code; the call is not applied.
	ISP float64 `json:"isp"`
	// HTTP502 answers HTTP 502 with an HTML body; the call is not applied.
	HTTP502 float64 `json:"http502"`
	// ISPApplied applies the call, then answers code 15 with an isp timeout
	// or unknown-error sub_code (counted as "isp_applied" in Stats.Errors).
	ISPApplied float64 `json:"isp_applied"`
	// HTTP502Applied applies the call, then answers HTTP 502 (counted as
	// "http502_applied").
	HTTP502Applied float64 `json:"http502_applied"`
	// Drop applies the call, then closes the connection without an answer.
	Drop float64 `json:"drop"`
	// Truncate applies the call, then sends only the first half of the body.
	Truncate float64 `json:"truncate"`
	// Ban bans the app key for 1–2 s and answers code 7.
	Ban float64 `json:"ban"`
}

// Zero reports whether no fault is enabled.
func (f Faults) Zero() bool {
	return f.ISP == 0 && f.HTTP502 == 0 && f.ISPApplied == 0 && f.HTTP502Applied == 0 && f.Drop == 0 && f.Truncate == 0 && f.Ban == 0
}

// String renders f in the ParseFaults syntax, omitting zero entries.
func (f Faults) String() string {
	var parts []string
	add := func(name string, p float64) {
		if p != 0 {
			parts = append(parts, name+"="+strconv.FormatFloat(p, 'g', -1, 64))
		}
	}
	add("isp", f.ISP)
	add("http502", f.HTTP502)
	add("isp_applied", f.ISPApplied)
	add("http502_applied", f.HTTP502Applied)
	add("drop", f.Drop)
	add("truncate", f.Truncate)
	add("ban", f.Ban)
	return strings.Join(parts, ",")
}

// ParseFaults parses "isp=0.05,http502=0.01,isp_applied=0.01,http502_applied=0.01,drop=0.01,truncate=0.01,ban=0.01".
// Entries are optional, separated by commas (spaces allowed); an empty spec is
// no faults. A bad entry is named in the error.
func ParseFaults(spec string) (Faults, error) {
	var f Faults
	for _, entry := range strings.Split(spec, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		name, val, ok := strings.Cut(entry, "=")
		name = strings.ToLower(strings.TrimSpace(name))
		if !ok {
			return Faults{}, fmt.Errorf("faults: entry %q: want name=probability (e.g. isp=0.05)", entry)
		}
		p, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
		if err != nil || math.IsNaN(p) || p < 0 || p > 1 {
			return Faults{}, fmt.Errorf("faults: entry %q: probability must be a number between 0 and 1", entry)
		}
		switch name {
		case "isp":
			f.ISP = p
		case "http502", "502":
			f.HTTP502 = p
		case "isp_applied":
			f.ISPApplied = p
		case "http502_applied", "502_applied":
			f.HTTP502Applied = p
		case "drop":
			f.Drop = p
		case "truncate":
			f.Truncate = p
		case "ban":
			f.Ban = p
		default:
			return Faults{}, fmt.Errorf("faults: entry %q: unknown fault %q (want isp, http502, isp_applied, http502_applied, drop, truncate or ban)", entry, name)
		}
	}
	return f, nil
}

func (f Faults) validate() error {
	for _, p := range []float64{f.ISP, f.HTTP502, f.ISPApplied, f.HTTP502Applied, f.Drop, f.Truncate, f.Ban} {
		if math.IsNaN(p) || p < 0 || p > 1 {
			return fmt.Errorf("sandbox: fault probabilities must be between 0 and 1 (got %s)", f)
		}
	}
	return nil
}

// fault is the outcome of one roll.
type fault uint8

const (
	faultNone fault = iota
	faultBan
	fault502
	faultISP
	fault502Applied
	faultISPApplied
	faultDrop
	faultTruncate
)

// faultKey names an injected transport fault in Stats.Errors.
func (f fault) statsKey() string {
	switch f {
	case fault502:
		return "http502"
	case fault502Applied:
		return "http502_applied"
	case faultDrop:
		return "drop"
	case faultTruncate:
		return "truncate"
	}
	return ""
}

// roller draws faults from a seeded source.
type roller struct {
	mu  sync.Mutex
	f   Faults
	rng *rand.Rand
}

func newRoller(f Faults, seed int64) *roller {
	return &roller{f: f, rng: rand.New(rand.NewSource(seed ^ 0x5eed_fa17))}
}

func (r *roller) reset(seed int64) {
	r.mu.Lock()
	r.rng = rand.New(rand.NewSource(seed ^ 0x5eed_fa17))
	r.mu.Unlock()
}

// roll returns the fault for one call and, for faultISP, faultISPApplied and
// faultBan, a uniform number to pick a variant.
func (r *roller) roll() (fault, int) {
	if r.f.Zero() {
		return faultNone, 0
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	hit := func(p float64) bool { return p > 0 && r.rng.Float64() < p }
	switch {
	case hit(r.f.Ban):
		return faultBan, r.rng.Intn(1 << 20)
	case hit(r.f.HTTP502):
		return fault502, 0
	case hit(r.f.ISP):
		return faultISP, r.rng.Intn(1 << 20)
	case hit(r.f.HTTP502Applied):
		return fault502Applied, 0
	case hit(r.f.ISPApplied):
		return faultISPApplied, r.rng.Intn(1 << 20)
	case hit(r.f.Drop):
		return faultDrop, 0
	case hit(r.f.Truncate):
		return faultTruncate, 0
	}
	return faultNone, 0
}

var ispFaults = []struct{ code, msg string }{
	{"isp.top-remote-connection-timeout", "远程服务调用超时"},
	{"isp.top-remote-connection-timeout-tmall", "远程服务调用超时"},
	{"isp.top-remote-service-unavailable", "远程服务不可用"},
	{"isp.top-remote-unknown-error", "远程服务未知错误"},
	{"isp.remote-connection-error", "远程连接错误"},
}

func ispError(variant int) *apiErr {
	f := ispFaults[variant%len(ispFaults)]
	return &apiErr{code: 15, msg: "Remote service error", subCode: f.code, subMsg: f.msg}
}

// ispAppliedFaults are the answers of a backend that applied the call and
// did not answer in time.
var ispAppliedFaults = []struct{ code, msg string }{
	{"isp.top-remote-connection-timeout", "远程服务调用超时"},
	{"isp.top-remote-connection-timeout-tmall", "远程服务调用超时"},
	{"isp.top-remote-unknown-error", "远程服务未知错误"},
}

// ispAppliedError is the answer of an isp_applied fault, counted apart.
func ispAppliedError(variant int) *apiErr {
	f := ispAppliedFaults[variant%len(ispAppliedFaults)]
	return &apiErr{code: 15, msg: "Remote service error", subCode: f.code, subMsg: f.msg, statsKey: "isp_applied"}
}

const banSubCode = "accesscontrol.limited-by-app-access-count"

// banError is the code 7 answer for a ban of scope with d left.
func banError(scope BanScope, d time.Duration) *apiErr {
	n := int64(math.Ceil(d.Seconds()))
	if n < 1 {
		n = 1
	}
	return &apiErr{code: 7, msg: "App Call Limited", subCode: scope.subCode(),
		subMsg: "This ban will last for " + strconv.FormatInt(n, 10) + " more seconds"}
}

// limiter is a sliding-window log: at most n calls in any window.
type limiter struct {
	mu     sync.Mutex
	n      int
	window time.Duration
	ring   []time.Time
	pos    int
}

// jitterSlack is the part of the window forgiven to network jitter: a client
// pacing calls at exactly the rate sees them arrive a few milliseconds
// bunched, which must not trip the limit.
const jitterSlack = 0.05

// newLimiter allows qps calls a second; nil means unlimited. A fractional rate
// allows max(1, floor(qps)) calls per n/qps seconds. Calls are counted over
// the window less jitterSlack.
func newLimiter(qps float64) *limiter {
	if qps <= 0 || math.IsInf(qps, 1) || math.IsNaN(qps) {
		return nil
	}
	n := int(math.Floor(qps))
	if n < 1 {
		n = 1
	}
	if n > 1_000_000 {
		return nil
	}
	w := time.Duration(float64(n) / qps * (1 - jitterSlack) * float64(time.Second))
	return &limiter{n: n, window: w, ring: make([]time.Time, n)}
}

func (l *limiter) allow(now time.Time) bool {
	if l == nil {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	oldest := l.ring[l.pos]
	if !oldest.IsZero() && now.Sub(oldest) < l.window {
		return false
	}
	l.ring[l.pos] = now
	l.pos = (l.pos + 1) % l.n
	return true
}

func (l *limiter) reset() {
	if l == nil {
		return
	}
	l.mu.Lock()
	clear(l.ring)
	l.pos = 0
	l.mu.Unlock()
}
