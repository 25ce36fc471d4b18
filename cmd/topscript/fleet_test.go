package main

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/topscript/topscript/internal/sandboxtest"
	"github.com/topscript/topscript/internal/syncbuf"
	"github.com/topscript/topscript/sandbox"
)

// These tests cover issue #6: a fleet of hosts working for one app key
// shares its throttle, its --lock locks and its job checkpoints through
// [state] backend = "redis", on a real redis-server started for each test.
// The hosts are topscript processes built from this package.

// startRedis starts a redis-server on a free loopback port for the test,
// keeping its data as a fleet's must (AOF), and returns its URL; it skips
// the test when redis-server is not installed.
func startRedis(t *testing.T) string {
	t.Helper()
	return startRedisServer(t, "--save", "", "--appendonly", "yes", "--appendfsync", "everysec").url()
}

// fleetConfig writes a topscript.toml for the fleet into dir: the sandbox's
// credentials, a Redis state backend with a 2 s lease, and extra.
func fleetConfig(t *testing.T, dir string, sb *sandbox.Server, redisURL, extra string) string {
	t.Helper()
	return fleetConfigAt(t, dir, sb.URL(), redisURL, extra)
}

// fleetConfigAt is fleetConfig for a sandbox served at gateway.
func fleetConfigAt(t *testing.T, dir, gateway, redisURL, extra string) string {
	t.Helper()
	return testConfig(t, filepath.Join(dir, "topscript.toml"), gateway, sandbox.DefaultSession,
		fmt.Sprintf("backend = \"redis\"\nredis_url = %q\nlock_lease = \"2s\"\n%s", redisURL, extra))
}

// host is a topscript process of the fleet.
type host struct {
	cmd    *exec.Cmd
	stdout syncbuf.Buffer
	stderr syncbuf.Buffer
}

// startHost starts `topscript args...` in dir.
func startHost(t *testing.T, bin, dir string, args ...string) *host {
	t.Helper()
	h := &host{cmd: exec.Command(bin, args...)}
	h.cmd.Dir = dir
	h.cmd.Stdout, h.cmd.Stderr = &h.stdout, &h.stderr
	if err := h.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if h.cmd.ProcessState == nil {
			h.cmd.Process.Kill()
			h.cmd.Wait()
		}
	})
	return h
}

// startBannedHost starts a host like startHost and waits until sb has
// answered one call with code 7 (the host ran into a ban).
func startBannedHost(t *testing.T, sb *sandbox.Server, bin, dir string, args ...string) *host {
	t.Helper()
	h := startHost(t, bin, dir, args...)
	deadline := time.Now().Add(5 * time.Second)
	for codeSeven(sb.Stats().Errors) == 0 {
		if time.Now().After(deadline) || h.cmd.ProcessState != nil {
			t.Fatalf("the host's call was not answered with code 7\n%s", h.stderr.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	return h
}

// wait waits for the host and returns its exit code.
func (h *host) wait() int {
	h.cmd.Wait()
	return h.cmd.ProcessState.ExitCode()
}

func codeSeven(errs map[string]int64) int64 {
	var n int64
	for k, v := range errs {
		if k == "7" || strings.HasPrefix(k, "7/") {
			n += v
		}
	}
	return n
}

// Three hosts at a shared 30 qps against a gateway enforcing 36 qps: the
// aggregate pace is 30 qps (within 10%), and no call is ever banned (each
// host alone would go at 30 qps: 90 together without the shared throttle).
func TestFleetSharedThrottle(t *testing.T) {
	redisURL := startRedis(t)
	bin := binary(t)
	dir := t.TempDir()
	sb := sandboxtest.Start(t, sandbox.Options{QPS: 36})
	cfg := fleetConfig(t, dir, sb, redisURL, "\n[throttle]\nqps = 30\n")
	script := filepath.Join(dir, "poll.lua")
	os.WriteFile(script, []byte(`
local time = require("time")
local stop = time.unix() + tonumber(arg[1])
local n, calls = 0, {}
for i = 1, 4 do calls[i] = {"taobao.time.get"} end
while time.unix() < stop do
  for _, r in ipairs(top.call_all(calls, {concurrency = 4})) do
    if not r.ok then error(tostring(r.error)) end
    n = n + 1
  end
end
print(n)
`), 0o644)

	const runFor = 6 // seconds each host calls
	start := time.Now()
	var hosts []*host
	for range 3 {
		hosts = append(hosts, startHost(t, bin, dir, "run", "--config", cfg, script, strconv.Itoa(runFor)))
	}
	// Measure over a window where all three are calling.
	sample := func(at time.Duration) (time.Time, int64) {
		time.Sleep(time.Until(start.Add(at)))
		return time.Now(), sb.Stats().Requests
	}
	t1, r1 := sample(1500 * time.Millisecond)
	t2, r2 := sample(5 * time.Second)
	pace := float64(r2-r1) / t2.Sub(t1).Seconds()

	var perHost []string
	for i, h := range hosts {
		if code := h.wait(); code != 0 {
			t.Fatalf("host %d: exit %d\n%s", i+1, code, h.stderr.String())
		}
		perHost = append(perHost, strings.TrimSpace(h.stdout.String()))
	}
	stats := sb.Stats()
	t.Logf("aggregate pace %.2f qps over %.1fs (%d calls); per host %v calls in %ds; code 7: %d",
		pace, t2.Sub(t1).Seconds(), r2-r1, perHost, runFor, codeSeven(stats.Errors))
	if pace < 27 || pace > 33 {
		t.Errorf("aggregate pace %.2f qps, want 30 ± 10%%", pace)
	}
	if n := codeSeven(stats.Errors); n != 0 {
		t.Errorf("%d calls answered code 7 (errors %v), want none", n, stats.Errors)
	}
	for i, p := range perHost {
		if n, _ := strconv.Atoi(p); n < runFor*5 {
			t.Errorf("host %d made %s calls: the hosts must share the rate, not starve one", i+1, p)
		}
	}
}

// arrival is one request as the gateway saw it.
type arrival struct {
	at     time.Time
	method string
}

func (a arrival) String() string { return a.method + " at " + a.at.Format("15:04:05.000") }

// recordArrivals serves sb on a loopback port of the test through a handler
// that notes when each gateway request arrives and for which method; it
// returns the gateway URL and the arrivals so far.
func recordArrivals(t *testing.T, sb *sandbox.Server) (string, func() []arrival) {
	t.Helper()
	var mu sync.Mutex
	var seen []arrival
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/router/rest" {
			at := time.Now()
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
			method := r.URL.Query().Get("method")
			if q, err := url.ParseQuery(string(body)); err == nil && q.Get("method") != "" {
				method = q.Get("method")
			}
			mu.Lock()
			seen = append(seen, arrival{at, method})
			mu.Unlock()
		}
		sb.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/router/rest", func() []arrival {
		mu.Lock()
		defer mu.Unlock()
		return append([]arrival(nil), seen...)
	}
}

// The methods of the ban tests' scripts: a.lua calls banMethodA and prints
// "A true"; other.lua calls banMethodOther and prints its argument and
// "true".
const banMethodA, banMethodOther = "taobao.time.get", "taobao.items.onsale.get"

// banFleet sets up a ban test: a sandbox served through recordArrivals, a
// fleet configuration on a real Redis, a.lua and other.lua in dir.
func banFleet(t *testing.T) (bin, dir string, sb *sandbox.Server, cfg string, arrivals func() []arrival) {
	t.Helper()
	redisURL := startRedis(t)
	bin = binary(t)
	dir = t.TempDir()
	sb, err := sandbox.New(sandbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	gateway, arrivals := recordArrivals(t, sb)
	cfg = fleetConfigAt(t, dir, gateway, redisURL, "")
	os.WriteFile(filepath.Join(dir, "a.lua"), []byte(`print("A", top.call("`+banMethodA+`").time ~= nil)`), 0o644)
	os.WriteFile(filepath.Join(dir, "other.lua"), []byte(`
local r = top.call("`+banMethodOther+`", {fields = "num_iid", page_size = 1})
print(arg[1], r.total_results ~= nil)`), 0o644)
	return bin, dir, sb, cfg, arrivals
}

// A code-7 ban one host runs into holds back every host of the fleet until
// it ends: host A's call is answered with a 3 s ban, which A publishes to
// Redis and waits out; host B, started 0.5 s later while the ban is on,
// sends nothing until the ban is over (it learns of the ban from Redis,
// not from a code 7 of its own), and both finish ok.
func TestFleetSharedBan(t *testing.T) {
	// A and B call different methods, so the gateway tells their requests apart.
	const methodA, methodB = banMethodA, banMethodOther
	bin, dir, sb, cfg, arrivals := banFleet(t)

	const ban = 3 * time.Second
	sb.Ban(ban)
	banEnd := time.Now().Add(ban)
	// Start A and wait for its banned call, then start B half a second later.
	a := startBannedHost(t, sb, bin, dir, "run", "--config", cfg, "a.lua")
	time.Sleep(500 * time.Millisecond)
	if time.Now().After(banEnd.Add(-time.Second)) {
		t.Fatal("the test machine is too slow: host B would start after the ban")
	}
	bStart := time.Now()
	b := startHost(t, bin, dir, "run", "--config", cfg, "other.lua", "B")

	var wg sync.WaitGroup
	codes := make([]int, 2)
	for i, h := range []*host{a, b} {
		wg.Add(1)
		go func() { defer wg.Done(); codes[i] = h.wait() }()
	}
	wg.Wait()
	for i, h := range []*host{a, b} {
		if codes[i] != 0 {
			t.Fatalf("host %c: exit %d\n%s%s", 'A'+i, codes[i], h.stdout.String(), h.stderr.String())
		}
	}
	if got := a.stdout.String() + b.stdout.String(); got != "A\ttrue\nB\ttrue\n" {
		t.Errorf("outputs %q", got)
	}

	seen := arrivals()
	var firstB time.Time
	var during []arrival
	for _, r := range seen {
		if r.method == methodB && firstB.IsZero() {
			firstB = r.at
		}
		if r.at.Before(banEnd) {
			during = append(during, r)
		}
	}
	stats := sb.Stats()
	t.Logf("ban 3s; B started %v after the ban began, first B request %v after it ended; %d requests in all (%v), code 7: %d",
		bStart.Sub(banEnd.Add(-ban)).Round(time.Millisecond), firstB.Sub(banEnd).Round(time.Millisecond),
		len(seen), stats.Calls, codeSeven(stats.Errors))
	if n := codeSeven(stats.Errors); n != 1 {
		t.Errorf("%d calls answered code 7 (errors %v), want only host A's first", n, stats.Errors)
	}
	if len(during) != 1 || during[0].method != methodA {
		t.Errorf("requests during the ban: %v, want only host A's first", during)
	}
	if firstB.IsZero() || firstB.Before(banEnd) {
		t.Errorf("host B's first request arrived %v after the ban's end, want after it", firstB.Sub(banEnd))
	}
	if len(seen) != 3 {
		t.Errorf("%d requests reached the gateway (%v), want 3: A banned, A again and B after the ban", len(seen), seen)
	}
}

// A ban of one API (code 7 limited-by-app-api-access-count) is shared in
// its own scope: host A's call of taobao.time.get is answered with a 3 s
// ban of that API, which A publishes to Redis and waits out; host B, also
// calling taobao.time.get, sends nothing until the ban is over; host C,
// calling another API meanwhile, is not held back at all.
func TestFleetSharedBanScope(t *testing.T) {
	const methodA, methodC = banMethodA, banMethodOther
	bin, dir, sb, cfg, arrivals := banFleet(t)

	const ban = 3 * time.Second
	sb.BanScoped(sandbox.BanAppAPI, methodA, ban)
	banEnd := time.Now().Add(ban)
	a := startBannedHost(t, sb, bin, dir, "run", "--config", cfg, "a.lua")
	time.Sleep(300 * time.Millisecond)
	b := startHost(t, bin, dir, "run", "--config", cfg, "a.lua")
	c := startHost(t, bin, dir, "run", "--config", cfg, "other.lua", "C")
	if code := c.wait(); code != 0 || c.stdout.String() != "C\ttrue\n" {
		t.Fatalf("host C: exit %d\n%s%s", code, c.stdout.String(), c.stderr.String())
	}
	cDone := time.Now()
	for i, h := range []*host{a, b} {
		if code := h.wait(); code != 0 || h.stdout.String() != "A\ttrue\n" {
			t.Fatalf("host %c: exit %d\n%s%s", 'A'+i, code, h.stdout.String(), h.stderr.String())
		}
	}
	if cDone.After(banEnd) {
		t.Errorf("host C finished %v after the ban's end: the ban of another API held it back", cDone.Sub(banEnd))
	}
	var during []arrival
	var nA int
	for _, r := range arrivals() {
		if r.at.Before(banEnd) {
			during = append(during, r)
		}
		if r.method == methodA {
			nA++
		}
	}
	if n := codeSeven(sb.Stats().Errors); n != 1 {
		t.Errorf("%d calls answered code 7 (%v), want only host A's first", n, sb.Stats().Errors)
	}
	if len(during) != 2 || during[0].method != methodA || during[1].method != methodC {
		t.Errorf("requests during the ban: %v, want host A's first and host C's", during)
	}
	if nA != 3 {
		t.Errorf("%d requests of %s, want 3: A banned, then A and B after the ban", nA, methodA)
	}
}

// --lock across hosts: while one host holds the lock (even longer than the
// lease: it is renewed), another host's --lock run exits 4 at once. Killed
// with SIGKILL, the holder cannot release it: the lock is free again once
// its lease (2 s) runs out.
func TestFleetLockLease(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("signals")
	}
	redisURL := startRedis(t)
	bin := binary(t)
	sb := sandboxtest.Start(t, sandbox.Options{})
	hostA, hostB := t.TempDir(), t.TempDir()
	cfgA := fleetConfig(t, hostA, sb, redisURL, "")
	cfgB := fleetConfig(t, hostB, sb, redisURL, "")
	marker := filepath.Join(hostA, "holding")
	os.WriteFile(filepath.Join(hostA, "nightly.lua"), []byte(`
local f = assert(io.open(arg[1], "w")); f:close()
require("time").sleep("60s")
`), 0o644)
	os.WriteFile(filepath.Join(hostB, "nightly.lua"), []byte(`print("ran")`), 0o644)

	a := startHost(t, bin, hostA, "run", "--config", cfgA, "--lock", "nightly.lua", marker)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(marker); err == nil {
			break
		}
		if time.Now().After(deadline) || a.cmd.ProcessState != nil {
			t.Fatalf("host A did not start holding the lock\n%s", a.stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	runB := func() (int, string, time.Duration) {
		t.Helper()
		start := time.Now()
		cmd := exec.Command(bin, "run", "--config", cfgB, "--lock", "nightly.lua")
		cmd.Dir = hostB
		out, _ := cmd.CombinedOutput()
		return cmd.ProcessState.ExitCode(), string(out), time.Since(start)
	}

	// A slow holder keeps the lock past its lease.
	time.Sleep(3 * time.Second)
	code, out, took := runB()
	if code != 4 || strings.Contains(out, "ran") || !strings.Contains(out, `lock "nightly (shop 2206571234567)" is held by another run`) {
		t.Fatalf("host B while A holds the lock for 3s (lease 2s): exit %d, want 4\n%s", code, out)
	}
	if took > 2*time.Second {
		t.Errorf("host B took %v to give up: want at once", took)
	}
	t.Logf("held past its lease: host B exit 4 in %v: %s", took.Round(time.Millisecond), strings.TrimSpace(out))

	a.cmd.Process.Signal(syscall.SIGKILL)
	a.wait()
	killed := time.Now()
	if code, out, _ := runB(); code != 4 {
		t.Fatalf("host B right after the kill: exit %d, want 4 (the lease has not run out)\n%s", code, out)
	}
	var freed time.Duration
	for {
		code, out, _ := runB()
		if code == 0 {
			freed = time.Since(killed)
			if out != "ran\n" {
				t.Errorf("host B output %q", out)
			}
			break
		}
		if code != 4 {
			t.Fatalf("host B: exit %d\n%s", code, out)
		}
		if time.Since(killed) > 10*time.Second {
			t.Fatal("the lock of the killed holder was never freed")
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("lock free %v after SIGKILL of its holder (lease 2s, renewed every 667ms)", freed.Round(time.Millisecond))
	if freed > 3*time.Second {
		t.Errorf("freed %v after the kill, want within the 2s lease (+1s slack)", freed)
	}
}

// Two hosts run the same job (same name, same Redis) over the same 400 rows
// at once: they split the rows, every SKU is written exactly once, and each
// host's report covers every row: its own as ok, the other's as skipped.
func TestFleetJobSplit(t *testing.T) {
	redisURL := startRedis(t)
	bin := binary(t)
	dir := t.TempDir()
	sb := sandboxtest.Start(t, sandbox.Options{Latency: 3 * time.Millisecond})
	cfg := fleetConfig(t, dir, sb, redisURL, "\n[throttle]\nqps = 100\n")
	// 400 SKUs of the sandbox's seed data.
	data, err := os.ReadFile(filepath.Join(examplesDir(t), "prices.csv"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(data), "\n")
	const rows = 400
	csvPath := filepath.Join(dir, "prices.csv")
	os.WriteFile(csvPath, []byte(strings.Join(lines[:rows+1], "")), 0o644)
	script := filepath.Join(examplesDir(t), "bulk_price.lua")

	var hosts []*host
	var wg sync.WaitGroup
	for i := range 2 {
		hosts = append(hosts, startHost(t, bin, dir, "run", "--config", cfg, script, csvPath,
			filepath.Join(dir, fmt.Sprintf("report%d.csv", i+1))))
	}
	codes := make([]int, len(hosts))
	for i, h := range hosts {
		wg.Add(1)
		go func() { defer wg.Done(); codes[i] = h.wait() }()
	}
	wg.Wait()
	for i, h := range hosts {
		if codes[i] != 0 {
			t.Fatalf("host %d: exit %d\n%s%s", i+1, codes[i], h.stdout.String(), h.stderr.String())
		}
	}

	writes := sb.Stats().Writes[priceMethod]
	if len(writes) != rows {
		t.Errorf("%d SKUs written, want %d", len(writes), rows)
	}
	for k, n := range writes {
		if n != 1 {
			t.Errorf("SKU %s written %d times, want once", k, n)
		}
	}
	st1, recs1 := report(t, filepath.Join(dir, "report1.csv"))
	st2, recs2 := report(t, filepath.Join(dir, "report2.csv"))
	t.Logf("host 1: %v; host 2: %v; %d SKUs written, each once", st1, st2, len(writes))
	if len(recs1) != rows+1 || len(recs2) != rows+1 {
		t.Errorf("reports have %d and %d rows, want %d each", len(recs1)-1, len(recs2)-1, rows)
	}
	if st1["ok"]+st2["ok"] != rows || st1["skipped"] != st2["ok"] || st2["skipped"] != st1["ok"] {
		t.Errorf("statuses: host 1 %v, host 2 %v: want every row ok on exactly one host and skipped on the other", st1, st2)
	}
	if st1["ok"] < rows/10 || st2["ok"] < rows/10 {
		t.Errorf("host 1 did %d rows, host 2 %d: want the rows split between them", st1["ok"], st2["ok"])
	}
	// Row by row: ok on one side exactly when skipped on the other.
	status := func(recs [][]string) map[string]string {
		m := map[string]string{}
		for _, r := range recs[1:] {
			m[r[0]] = r[1]
		}
		return m
	}
	s1, s2 := status(recs1), status(recs2)
	for k, a := range s1 {
		if b := s2[k]; !(a == "ok" && b == "skipped" || a == "skipped" && b == "ok") {
			t.Errorf("row %s: %s on host 1, %s on host 2", k, a, b)
		}
	}
	for i, h := range hosts {
		if !regexp.MustCompile(`400 SKUs: \d+ updated, 0 failed, \d+ already done, 0 unknown`).MatchString(h.stdout.String()) {
			t.Errorf("host %d stdout: %s", i+1, h.stdout.String())
		}
	}
}

// Redis unreachable or misconfigured: exit 2 at start with the URL in the
// message (password redacted), for run, call and schedule; no fallback to
// local state.
func TestFleetRedisUnreachable(t *testing.T) {
	dir := t.TempDir()
	sb := sandboxtest.Start(t, sandbox.Options{})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close() // nothing listens there now
	url := fmt.Sprintf("redis://:s3cr3t-pw@127.0.0.1:%d/0", port)
	cfg := fleetConfig(t, dir, sb, url, fmt.Sprintf("\n[[schedule]]\nname = \"x\"\ncron = \"@every 1h\"\nscript = %q\n", filepath.Join(dir, "x.lua")))
	os.WriteFile(filepath.Join(dir, "x.lua"), []byte(`print("ran")`), 0o644)
	safe := fmt.Sprintf("redis://:[REDACTED]@127.0.0.1:%d/0", port)
	for _, args := range [][]string{
		{"run", "--config", cfg, filepath.Join(dir, "x.lua")},
		{"call", "--config", cfg, "taobao.time.get"},
		{"schedule", "--config", cfg},
	} {
		code, stdout, stderr := topscript(t, dir, args...)
		if code != 2 || strings.Contains(stdout, "ran") {
			t.Errorf("%s: exit %d, stdout %q; want 2 and nothing run\n%s", args[0], code, stdout, stderr)
		}
		if !strings.Contains(stderr, safe) || !strings.Contains(stderr, "unreachable") || strings.Contains(stderr, "s3cr3t-pw") {
			t.Errorf("%s: stderr does not name %s (password redacted):\n%s", args[0], safe, stderr)
		}
		if _, err := os.Stat(filepath.Join(dir, ".topscript")); err == nil {
			t.Errorf("%s: fell back to local state (.topscript exists)", args[0])
		}
		if args[0] == "run" {
			t.Logf("run: exit %d: %s", code, strings.TrimSpace(stderr))
		}
	}
	if n := sb.Stats().Requests; n != 0 {
		t.Errorf("%d requests reached the gateway", n)
	}
}
