package reliability

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/topscript/topscript/sandbox"
	"github.com/topscript/topscript/top"
)

// loadFull runs the full load test: go test -run TestLoad -load.full ./internal/reliability
var loadFull = flag.Bool("load.full", false, "run the full load test (50,000 calls) instead of the bounded one (5,000)")

// The load test's environment, from the parent to the helper process.
const (
	envHelper = "TOPSCRIPT_LOAD_HELPER"
	envURL    = "TOPSCRIPT_LOAD_URL"
	envCalls  = "TOPSCRIPT_LOAD_CALLS"
	envConc   = "TOPSCRIPT_LOAD_CONCURRENCY"
	envItems  = "TOPSCRIPT_LOAD_ITEMS"
)

// loadFaults are on during the load test (bans are left to the fault
// matrix: each holds every caller back for seconds).
var loadFaults = sandbox.Faults{ISP: 0.02, HTTP502: 0.01, ISPApplied: 0.01, HTTP502Applied: 0.005, Drop: 0.01, Truncate: 0.01}

// loadReport is what the helper process prints.
type loadReport struct {
	Calls, OK, Failed  int64
	Attempts           int64 // HTTP requests the client sent
	Kinds              map[string]int64
	Seconds            float64
	GoroutinesBefore   int
	GoroutinesAfter    int
	RSSBefore, RSSPeak int64
	RSSAfter           int64
}

// TestLoad serves a sandbox with faults on and drives it from a second
// process (this test binary re-executed as TestLoadHelperProcess) through
// the client: 5,000 calls at concurrency 64, or 50,000 with -load.full,
// all on loopback. Both sides must survive, the counts must agree (every
// HTTP request the client sent is one the sandbox counted; every call ends
// ok or failed, none lost), and the sandbox's goroutines and RSS must come
// back to their baseline once the load stops.
func TestLoad(t *testing.T) {
	calls, limit := 5000, 60*time.Second
	if *loadFull {
		calls, limit = 50000, 5*time.Minute
	}
	const conc = 64
	items := seedRows(t, 40)

	settle()
	g0, rss0 := runtime.NumGoroutine(), rss()

	sb, err := sandbox.StartLocal(sandbox.Options{Seed: seed, Faults: loadFaults})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range items {
		ids = append(ids, r.numIID+":"+r.props)
	}
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestLoadHelperProcess$", "-test.v")
	cmd.Env = append(os.Environ(), envHelper+"=1", envURL+"="+sb.URL(), envCalls+"="+strconv.Itoa(calls),
		envConc+"="+strconv.Itoa(conc), envItems+"="+strings.Join(ids, ","))
	var peak atomic.Int64
	stopWatch := make(chan struct{})
	var watch sync.WaitGroup
	watch.Add(1)
	go func() { // the sandbox process's peak RSS
		defer watch.Done()
		for {
			if r := rss(); r > peak.Load() {
				peak.Store(r)
			}
			select {
			case <-stopWatch:
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	start := time.Now()
	out, err := cmd.CombinedOutput()
	elapsed := time.Since(start)
	close(stopWatch)
	watch.Wait()
	if err != nil {
		t.Fatalf("helper process: %v (after %s)\n%s", err, elapsed, out)
	}
	var rep loadReport
	found := false
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		if s, ok := strings.CutPrefix(sc.Text(), "LOAD "); ok {
			if err := json.Unmarshal([]byte(s), &rep); err != nil {
				t.Fatal(err)
			}
			found = true
		}
	}
	if !found {
		t.Fatalf("no report from the helper:\n%s", out)
	}

	st := sb.Stats()
	var sbCalls int64
	for _, n := range st.Calls {
		sbCalls += n
	}
	if rep.Calls != int64(calls) || rep.OK+rep.Failed != rep.Calls {
		t.Errorf("helper: %d calls, %d ok + %d failed: calls lost", rep.Calls, rep.OK, rep.Failed)
	}
	if rep.Attempts != st.Requests || sbCalls != st.Requests {
		t.Errorf("the client sent %d requests; the sandbox counted %d requests and %d calls", rep.Attempts, st.Requests, sbCalls)
	}
	na, lost, other := errorTotals(st)
	if len(other) > 0 {
		t.Errorf("unexpected errors: %v", other)
	}
	// Every call here may be retried (reads, idempotent price sets), so
	// each request is either the one success of an ok call or a counted
	// fault.
	if st.Requests != rep.OK+na+lost {
		t.Errorf("%d requests, want %d ok calls + %d faults not applied + %d answers lost", st.Requests, rep.OK, na, lost)
	}
	if rep.GoroutinesAfter > rep.GoroutinesBefore+2 {
		t.Errorf("client process: %d goroutines before, %d after", rep.GoroutinesBefore, rep.GoroutinesAfter)
	}

	if err := sb.Close(); err != nil {
		t.Fatal(err)
	}
	var g1 int
	var rss1 int64
	for deadline := time.Now().Add(10 * time.Second); ; {
		settle()
		g1, rss1 = runtime.NumGoroutine(), rss()
		if g1 <= g0+1 && rss1 <= rss0+64<<20 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if g1 > g0+1 {
		t.Errorf("sandbox process: %d goroutines before, %d after", g0, g1)
	}
	if rss1 > rss0+64<<20 {
		t.Errorf("sandbox process: RSS %d MiB before, %d MiB after", rss0>>20, rss1>>20)
	}
	t.Logf("load: %d calls at concurrency %d in %.1fs (%.0f calls/s) from a second process; %d HTTP requests, %d faults injected (%d not applied, %d answers lost); %d ok, %d failed %v",
		rep.Calls, conc, rep.Seconds, float64(rep.Calls)/rep.Seconds, st.Requests, na+lost, na, lost, rep.OK, rep.Failed, rep.Kinds)
	t.Logf("sandbox process: goroutines %d → %d, RSS %d MiB → peak %d MiB → %d MiB; client process: goroutines %d → %d, RSS %d MiB → peak %d MiB → %d MiB",
		g0, g1, rss0>>20, peak.Load()>>20, rss1>>20, rep.GoroutinesBefore, rep.GoroutinesAfter, rep.RSSBefore>>20, rep.RSSPeak>>20, rep.RSSAfter>>20)
}

// TestLoadHelperProcess is the client side of TestLoad, run in its own
// process; it does nothing in a normal test run.
func TestLoadHelperProcess(t *testing.T) {
	if os.Getenv(envHelper) != "1" {
		t.Skip("the client process of TestLoad")
	}
	calls, _ := strconv.Atoi(os.Getenv(envCalls))
	conc, _ := strconv.Atoi(os.Getenv(envConc))
	items := strings.Split(os.Getenv(envItems), ",")
	if calls <= 0 || conc <= 0 || len(items) == 0 {
		t.Fatal("bad helper environment")
	}
	settle()
	rep := loadReport{Calls: int64(calls), Kinds: map[string]int64{}, GoroutinesBefore: runtime.NumGoroutine(), RSSBefore: rss()}

	var attempts atomic.Int64
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 256
	hc := &http.Client{Transport: countingTransport{tr, &attempts}}
	cfg := top.DefaultConfig()
	cfg.Gateway = os.Getenv(envURL)
	cfg.AppKey, cfg.AppSecret, cfg.Session = sandbox.DefaultAppKey, sandbox.DefaultAppSecret, sandbox.DefaultSession
	cfg.Retry.MaxAttempts, cfg.Retry.Backoff, cfg.Retry.MaxBackoff = 4, time.Millisecond, 4*time.Millisecond
	cfg.Timeout = 10 * time.Second
	c, err := top.NewClient(cfg, top.WithHTTPClient(hc))
	if err != nil {
		t.Fatal(err)
	}

	var ok, failed atomic.Int64
	var mu sync.Mutex
	var peak atomic.Int64
	work := make(chan int)
	var wg sync.WaitGroup
	ctx := context.Background()
	start := time.Now()
	for w := 0; w < conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				it := items[i%len(items)]
				numIID, props, _ := strings.Cut(it, ":")
				var err error
				switch i % 4 {
				case 0:
					_, err = c.Call(ctx, "taobao.time.get", nil, nil)
				case 1:
					_, err = c.Call(ctx, "taobao.item.seller.get", top.Params{"num_iid": numIID, "fields": "num_iid,title,price"}, nil)
				case 2:
					_, err = c.Call(ctx, "taobao.trades.sold.get", top.Params{"fields": "tid,status", "page_no": i%30 + 1, "page_size": 40}, nil)
				default:
					price := fmt.Sprintf("%d.90", 10+i%50) // and the item's, to stay inside its SKUs' range
					_, err = c.Call(ctx, "taobao.item.sku.price.update", top.Params{"num_iid": numIID, "properties": props, "price": price, "item_price": price}, nil)
				}
				if err == nil {
					ok.Add(1)
					continue
				}
				failed.Add(1)
				var te *top.Error
				kind := "other"
				if errors.As(err, &te) {
					kind = string(te.Kind)
				}
				mu.Lock()
				rep.Kinds[kind]++
				mu.Unlock()
			}
		}()
	}
	for i := 0; i < calls; i++ {
		work <- i
		if i%1000 == 0 {
			if r := rss(); r > peak.Load() {
				peak.Store(r)
			}
		}
	}
	close(work)
	wg.Wait()
	rep.Seconds = time.Since(start).Seconds()
	rep.OK, rep.Failed, rep.Attempts = ok.Load(), failed.Load(), attempts.Load()
	rep.RSSPeak = max(peak.Load(), rss())
	tr.CloseIdleConnections()
	settle()
	rep.GoroutinesAfter, rep.RSSAfter = runtime.NumGoroutine(), rss()
	b, _ := json.Marshal(rep)
	fmt.Printf("LOAD %s\n", b)
}

// countingTransport counts the requests it sends.
type countingTransport struct {
	rt http.RoundTripper
	n  *atomic.Int64
}

func (c countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return c.rt.RoundTrip(r)
}

// settle lets finished goroutines exit and returns memory to the OS.
func settle() {
	for i := 0; i < 3; i++ {
		runtime.GC()
		time.Sleep(20 * time.Millisecond)
	}
	debug.FreeOSMemory()
}

// rss returns the resident set size of this process (VmRSS), 0 where
// /proc is missing.
func rss() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(v)
			if len(f) >= 1 {
				kb, _ := strconv.ParseInt(f[0], 10, 64)
				return kb << 10
			}
		}
	}
	return 0
}
