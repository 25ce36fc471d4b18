package luatop

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/topscript/topscript/sandbox"
	"github.com/topscript/topscript/top"
)

// readJob runs job.run over n rows, each a taobao.item.seller.get of one
// of the sandbox's items (a read: any row may be sent again), the script
// leaving the concurrency to topscript. It sets the globals summary and
// failed.
const readJob = `
	local ids = {}
	for _, it in ipairs(top.call("taobao.items.onsale.get", {fields = "num_iid", page_size = 50}).items) do
		ids[#ids + 1] = it.num_iid
	end
	local rows = {}
	for i = 1, n do rows[i] = {i = tostring(i), num_iid = ids[(i - 1) % #ids + 1]} end
	summary = job.run {
		name = "pace",
		rows = rows,
		key = function(r) return r.i end,
		call = function(r) return "taobao.item.seller.get", {num_iid = r.num_iid, fields = "num_iid,title"} end,
	}
	failed = summary.failed + summary.unknown
`

// paceFixture is a job fixture whose client is throttled at qps.
func paceFixture(t *testing.T, qps float64, o sandbox.Options) *jobFixture {
	cfg := top.DefaultConfig()
	cfg.Throttle.QPS = qps
	return newJobFixture(t, fixtureOptions{sandbox: o, config: &cfg})
}

// runReadJob runs readJob over n rows on its own goroutine; the returned
// channel yields its error when it ends, and stop interrupts it.
func (f *jobFixture) runReadJob(t *testing.T, n int) (done <-chan error, stop func()) {
	L := f.newState(t)
	run(t, L, fmt.Sprintf("n = %d", n))
	ctx, cancel := context.WithCancel(context.Background())
	L.SetContext(ctx)
	ch := make(chan error, 1)
	go func() { ch <- L.DoString(readJob) }()
	return ch, cancel
}

// sampler records the sandbox's requests in flight every 20 ms.
type sampler struct {
	mu      sync.Mutex
	samples []sample
	stop    chan struct{}
}

type sample struct {
	at       time.Time
	inFlight int64
}

func sampleInFlight(sb *sandbox.Server) *sampler {
	s := &sampler{stop: make(chan struct{})}
	go func() {
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-s.stop:
				return
			case now := <-tick.C:
				s.mu.Lock()
				s.samples = append(s.samples, sample{now, sb.Stats().InFlight})
				s.mu.Unlock()
			}
		}
	}()
	return s
}

// mean is the mean of the samples taken in [from, to).
func (s *sampler) mean(from, to time.Time) float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	sum, n := 0.0, 0
	for _, x := range s.samples {
		if !x.at.Before(from) && x.at.Before(to) {
			sum += float64(x.inFlight)
			n++
		}
	}
	if n == 0 {
		return 0
	}
	return sum / float64(n)
}

// progressInFlight is the mean in_flight of the job's progress lines
// logged in [from, to).
func (f *jobFixture) progressInFlight(t *testing.T, from, to time.Time) float64 {
	t.Helper()
	sum, n := 0.0, 0
	for _, line := range strings.Split(f.logs.String(), "\n") {
		if !strings.Contains(line, `msg="job progress"`) {
			continue
		}
		var at time.Time
		var inFlight float64
		for _, field := range strings.Fields(line) {
			k, v, _ := strings.Cut(field, "=")
			switch k {
			case "time":
				at, _ = time.Parse(time.RFC3339Nano, v)
			case "in_flight":
				inFlight, _ = strconv.ParseFloat(v, 64)
			}
		}
		if !at.Before(from) && at.Before(to) {
			sum += inFlight
			n++
		}
	}
	if n == 0 {
		t.Fatalf("no progress line with in_flight between %s and %s:\n%s", from.Format(time.StampMilli), to.Format(time.StampMilli), f.logs.String())
	}
	return sum / float64(n)
}

// setLatency changes the sandbox's latency through its admin endpoint.
func (f *jobFixture) setLatency(t *testing.T, d string) {
	t.Helper()
	resp, err := http.Post(f.srv.URL+"/_sandbox/latency?d="+d, "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("POST /_sandbox/latency?d=%s: %s", d, resp.Status)
	}
}

// A job's calls in flight follow the gateway's latency, changed at run
// time through the sandbox's admin endpoint: at 40 qps, about 1 call in
// flight at 20 ms, rate × latency (12) at 300 ms, and back to about 1 at
// 20 ms. With the old fixed concurrency (4) the 300 ms phase could not
// pass 4.
func TestJobInFlightFollowsLatency(t *testing.T) {
	if testing.Short() {
		t.Skip("9 s of a paced job")
	}
	defer func(d time.Duration) { progressLogEvery = d }(progressLogEvery)
	progressLogEvery = 100 * time.Millisecond // the job's own count, in its progress lines
	f := paceFixture(t, 40, sandbox.Options{Latency: 20 * time.Millisecond})
	f.opts.Progress = io.Discard
	s := sampleInFlight(f.sb)
	defer close(s.stop)
	start := time.Now()
	done, stop := f.runReadJob(t, 40*30) // more rows than the 9 s take: the job is interrupted then
	defer stop()
	phase := func(i int) time.Time { return start.Add(time.Duration(i) * 3 * time.Second) }
	wait := func(at time.Time) {
		select {
		case err := <-done:
			t.Fatalf("the job ended early: %v", err)
		case <-time.After(time.Until(at)):
		}
	}
	wait(phase(1))
	f.setLatency(t, "300ms")
	wait(phase(2))
	f.setLatency(t, "20ms")
	wait(phase(3))
	// The last 1.5 s of each 3 s phase: settled.
	low1 := s.mean(phase(0).Add(1500*time.Millisecond), phase(1))
	high := s.mean(phase(1).Add(1500*time.Millisecond), phase(2))
	low2 := s.mean(phase(2).Add(1500*time.Millisecond), phase(3))
	t.Logf("calls in flight at the sandbox: %.1f at 20ms, %.1f at 300ms, %.1f at 20ms again (40 qps × 300ms = 12)", low1, high, low2)
	// The job's own count (calls on the wire, waiting for the throttle or
	// for a retry) falls too: the sizer's limit, not the throttle, bounds
	// it, so a limit kept from the 300 ms phase would show here.
	jobLow1, jobHigh, jobLow2 := f.progressInFlight(t, phase(0).Add(1500*time.Millisecond), phase(1)),
		f.progressInFlight(t, phase(1).Add(1500*time.Millisecond), phase(2)),
		f.progressInFlight(t, phase(2).Add(1500*time.Millisecond), phase(3))
	t.Logf("the job's calls in flight (progress lines): %.1f, %.1f, %.1f", jobLow1, jobHigh, jobLow2)
	if jobHigh < 0.6*40*0.3 || jobLow1 > 4 || jobLow2 > 4 {
		t.Errorf("the job's calls in flight %.1f → %.1f → %.1f, want about 2 → 16 → 2", jobLow1, jobHigh, jobLow2)
	}
	if high < 0.6*40*0.3 {
		t.Errorf("at 300ms: %.1f calls in flight, want about 12 (40 qps × 0.3 s), at least 7.2", high)
	}
	if high < 3*low1 || high < 3*low2 {
		t.Errorf("in flight did not rise and fall with the latency: %.1f → %.1f → %.1f", low1, high, low2)
	}
	if low2 > 3 {
		t.Errorf("back at 20ms: %.1f in flight, want about 1 (40 qps × 0.02 s)", low2)
	}
	stop()
	if err := <-done; err == nil || !strings.Contains(err.Error(), "interrupted") {
		t.Errorf("the job stopped with %v, want interrupted", err)
	}
}

// The platform cut the quota below the client's rate (sandbox --qps 20,
// client throttle 40): the job settles at the sandbox's rate, the first
// ban waited out, instead of a storm of code 7 (one ban every 2.5 s, 7.7
// calls a second, before the throttle learned from bans).
func TestJobSettlesAtCutQuota(t *testing.T) {
	if testing.Short() {
		t.Skip("12 s of a paced job")
	}
	f := paceFixture(t, 40, sandbox.Options{Latency: 50 * time.Millisecond, QPS: 20})
	const rows = 220 // 12 s at 19 qps
	start := time.Now()
	var mid int64
	var midAt time.Time
	go func() {
		time.Sleep(4 * time.Second)
		midAt, mid = time.Now(), f.sb.Stats().Calls["taobao.item.seller.get"]
	}()
	done, stop := f.runReadJob(t, rows)
	defer stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	el := time.Since(start)
	st := f.sb.Stats()
	code7 := int64(0)
	for k, v := range st.Errors {
		if strings.HasPrefix(k, "7") {
			code7 += v
		}
	}
	calls := st.Calls["taobao.item.seller.get"]
	settled := float64(calls-mid) / time.Since(midAt).Seconds()
	t.Logf("%d rows, %d calls in %.1fs; %d code 7; %.1f calls/s after the first 4 s (the sandbox allows 20)", rows, calls, el.Seconds(), code7, settled)
	sum := f.lastJob(t)
	if sum.Failed != 0 || sum.OK != rows {
		t.Errorf("summary %+v: want every row ok (bans waited out)", sum)
	}
	if code7 > 8 {
		t.Errorf("%d code 7 answers: a storm; want the few calls in flight when the first ban came (and a probe's)", code7)
	}
	if settled < 15 || settled > 21.5 {
		t.Errorf("settled at %.1f calls/s, want the sandbox's 20 (15–21.5)", settled)
	}
}
