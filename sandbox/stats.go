package sandbox

import (
	"strconv"
	"sync"
	"sync/atomic"
)

// Stats counts what the sandbox has seen since it started or was last Reset.
type Stats struct {
	// Requests counts HTTP requests to /router/rest and /router/batch (the
	// admin endpoints are not counted).
	Requests int64 `json:"requests"`
	// Calls counts API calls per method (a batch counts each sub-request),
	// whatever their outcome.
	Calls map[string]int64 `json:"calls"`
	// Errors counts error answers keyed "<code>" or "<code>/<sub_code>", and
	// injected faults that applied the call as "isp_applied",
	// "http502_applied", "drop" and "truncate", and HTTP 502 as "http502".
	Errors map[string]int64 `json:"errors"`
	// Writes counts successful write calls applied, per method and object key:
	// "<num_iid>:<properties>" (SKU price), "<num_iid>" (item and SKU
	// quantities), "<pid>" (fenxiao
	// product), "<pid>:<properties>" (fenxiao SKU), "<product_id>" (channel
	// shelf) and "<activity_id>" (activity sync). An idempotent re-set counts
	// again: the count is how many times the write reached the state.
	Writes map[string]map[string]int64 `json:"writes"`
	// InFlight is the number of /router/rest and /router/batch requests
	// being served when the stats were read (their latency included);
	// PeakInFlight the most at once since the start or the last Reset.
	InFlight     int64 `json:"in_flight"`
	PeakInFlight int64 `json:"peak_in_flight"`
}

type stats struct {
	requests atomic.Int64
	inFlight atomic.Int64 // requests being served (latency.go)
	peak     atomic.Int64 // the most at once since reset
	mu       sync.Mutex
	calls    map[string]int64
	errors   map[string]int64
	writes   map[string]map[string]int64
}

func newStats() *stats {
	s := &stats{}
	s.reset()
	return s
}

func (s *stats) reset() {
	s.mu.Lock()
	s.requests.Store(0)
	s.peak.Store(s.inFlight.Load())
	s.calls = map[string]int64{}
	s.errors = map[string]int64{}
	s.writes = map[string]map[string]int64{}
	s.mu.Unlock()
}

func (s *stats) call(method string) {
	s.mu.Lock()
	s.calls[method]++
	s.mu.Unlock()
}

func (s *stats) err(e *apiErr) {
	if e.statsKey != "" {
		s.errKey(e.statsKey)
		return
	}
	key := strconv.Itoa(e.code)
	if e.subCode != "" {
		key += "/" + e.subCode
	}
	s.errKey(key)
}

func (s *stats) errKey(key string) {
	s.mu.Lock()
	s.errors[key]++
	s.mu.Unlock()
}

func (s *stats) write(method string, keys []string) {
	if len(keys) == 0 {
		return
	}
	s.mu.Lock()
	m := s.writes[method]
	if m == nil {
		m = map[string]int64{}
		s.writes[method] = m
	}
	for _, k := range keys {
		m[k]++
	}
	s.mu.Unlock()
}

func (s *stats) snapshot() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := Stats{
		Requests:     s.requests.Load(),
		InFlight:     s.inFlight.Load(),
		PeakInFlight: s.peak.Load(),
		Calls:        make(map[string]int64, len(s.calls)),
		Errors:       make(map[string]int64, len(s.errors)),
		Writes:       make(map[string]map[string]int64, len(s.writes)),
	}
	for k, v := range s.calls {
		out.Calls[k] = v
	}
	for k, v := range s.errors {
		out.Errors[k] = v
	}
	for m, keys := range s.writes {
		c := make(map[string]int64, len(keys))
		for k, v := range keys {
			c[k] = v
		}
		out.Writes[m] = c
	}
	return out
}
