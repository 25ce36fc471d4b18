package sandbox

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"
)

// The gateway's latency at run time, and the requests it is serving.
//
// Options.Latency is only where the latency starts: SetLatency (or
// POST /_sandbox/latency?d=250ms) changes it while callers call, as a real
// gateway slows down on a promotion day and recovers, and GET
// /_sandbox/latency reads it. A request sleeps the latency in force when it
// arrives. Stats.InFlight is the number of /router/rest and /router/batch
// requests being served at the moment (sleeping their latency included) and
// Stats.PeakInFlight the most at once since the start or the last Reset:
// the concurrency a client really keeps at the gateway.

// MaxLatency is the largest latency SetLatency and /_sandbox/latency take.
const MaxLatency = time.Hour

// latency is the gateway's latency now.
type latency struct{ d atomic.Int64 }

func (l *latency) get() time.Duration  { return time.Duration(l.d.Load()) }
func (l *latency) set(d time.Duration) { l.d.Store(int64(d)) }

// SetLatency makes every request from now on sleep d before it is served.
// d must be between 0 and MaxLatency.
func (s *Server) SetLatency(d time.Duration) error {
	if d < 0 || d > MaxLatency {
		return fmt.Errorf("sandbox: latency must be between 0 and %s, got %s", MaxLatency, d)
	}
	s.latency.set(d)
	return nil
}

// Latency returns the latency requests sleep now.
func (s *Server) Latency() time.Duration { return s.latency.get() }

// serveLatencyAdmin serves GET /_sandbox/latency and POST
// /_sandbox/latency?d=DURATION ("250ms", "1.5s"; "0" for none).
func (s *Server) serveLatencyAdmin(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
	case http.MethodPost:
		v := r.URL.Query().Get("d")
		d, err := time.ParseDuration(v)
		if err != nil {
			http.Error(w, fmt.Sprintf("d: want a duration such as 250ms or 1.5s, got %q", v), http.StatusBadRequest)
			return
		}
		if err := s.SetLatency(d); err != nil {
			http.Error(w, "d: "+err.Error(), http.StatusBadRequest)
			return
		}
	default:
		http.Error(w, "GET or POST only", http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]string{"latency": s.Latency().String()})
}

// serving counts a gateway request from its arrival to its answer.
func (st *stats) serving() (done func()) {
	n := st.inFlight.Add(1)
	for {
		p := st.peak.Load()
		if n <= p || st.peak.CompareAndSwap(p, n) {
			break
		}
	}
	return func() { st.inFlight.Add(-1) }
}
