package luatop

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/topscript/topscript/config"
	"github.com/topscript/topscript/internal/syncbuf"
	"github.com/topscript/topscript/sandbox"
	"github.com/topscript/topscript/state"
	"github.com/topscript/topscript/top"
	"github.com/topscript/topscript/toptime"
)

// jobFixture is a sandbox behind a test middleware, a client, a store and
// an Env for job.run tests.
type jobFixture struct {
	sb     *sandbox.Server
	srv    *httptest.Server
	client *top.Client
	store  state.Store
	opts   *Options
	logs   *syncbuf.Buffer
	dir    string

	inflight, maxInflight atomic.Int64
	// drop, when it returns true for a request's params, lets the sandbox
	// apply the call and then closes the connection without an answer;
	// lose closes it without passing the call on (not applied); before
	// sees each request before the sandbox does.
	drop, lose atomic.Pointer[func(url.Values) bool]
	before     atomic.Pointer[func(url.Values)]
	// seen records each request's params.
	mu   sync.Mutex
	seen []url.Values
	jobs []JobSummary
}

type fixtureOptions struct {
	sandbox sandbox.Options
	config  *top.Config // over the default; gateway and credentials are set
	clock   top.Clock
	dryRun  bool
}

func newJobFixture(t *testing.T, o fixtureOptions) *jobFixture {
	t.Helper()
	f := &jobFixture{dir: t.TempDir(), logs: &syncbuf.Buffer{}}
	sb, err := sandbox.New(o.sandbox)
	if err != nil {
		t.Fatal(err)
	}
	f.sb = sb
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	cfg := top.DefaultConfig()
	if o.config != nil {
		cfg = *o.config
	}
	cfg.Gateway = f.srv.URL + "/router/rest"
	cfg.AppKey, cfg.AppSecret, cfg.Session = sandbox.DefaultAppKey, sandbox.DefaultAppSecret, sandbox.DefaultSession
	cfg.Retry.Backoff, cfg.Retry.MaxBackoff = 5*time.Millisecond, 20*time.Millisecond
	var opts []top.Option
	if o.clock != nil {
		opts = append(opts, top.WithClock(o.clock))
	}
	c, err := top.NewClient(cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	f.client = c
	f.store = state.NewMemStore()
	f.opts = &Options{
		Logger: slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Store:  f.store,
		Client: c,
		DryRun: o.dryRun,
		OnJob: func(s JobSummary) {
			f.mu.Lock()
			f.jobs = append(f.jobs, s)
			f.mu.Unlock()
		},
	}
	return f
}

// serve passes requests to the sandbox, counting them and dropping answers
// on demand.
func (f *jobFixture) serve(w http.ResponseWriter, r *http.Request) {
	n := f.inflight.Add(1)
	defer f.inflight.Add(-1)
	for {
		m := f.maxInflight.Load()
		if n <= m || f.maxInflight.CompareAndSwap(m, n) {
			break
		}
	}
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	params := r.URL.Query()
	if form, err := url.ParseQuery(string(body)); err == nil {
		for k, v := range form {
			params[k] = v
		}
	}
	f.mu.Lock()
	f.seen = append(f.seen, params)
	f.mu.Unlock()
	if before := f.before.Load(); before != nil {
		(*before)(params)
	}
	if lose := f.lose.Load(); lose != nil && (*lose)(params) {
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				conn.Close()
				return
			}
		}
	}
	if drop := f.drop.Load(); drop != nil && (*drop)(params) {
		f.sb.ServeHTTP(httptest.NewRecorder(), r) // applied...
		if hj, ok := w.(http.Hijacker); ok {      // ...and the answer lost
			conn, _, err := hj.Hijack()
			if err == nil {
				conn.Close()
				return
			}
		}
	}
	f.sb.ServeHTTP(w, r)
}

// writes returns the sandbox's write counts of method.
func (f *jobFixture) writes(method string) map[string]int64 {
	return f.sb.Stats().Writes[method]
}

// calls counts the requests of method whose param name has value.
func (f *jobFixture) calls(method, name, value string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, p := range f.seen {
		if p.Get("method") == method && (name == "" || p.Get(name) == value) {
			n++
		}
	}
	return n
}

func (f *jobFixture) lastJob(t *testing.T) JobSummary {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.jobs) == 0 {
		t.Fatal("OnJob was not called")
	}
	return f.jobs[len(f.jobs)-1]
}

// pricesCSV writes the first n rows of the example price list to a file.
func (f *jobFixture) pricesCSV(t *testing.T, n int, extra ...string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "scripts", "examples", "prices.csv"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(data), "\n")
	if n+1 > len(lines) {
		t.Fatalf("prices.csv has fewer than %d rows", n)
	}
	out := strings.Join(lines[:n+1], "") + strings.Join(extra, "")
	path := filepath.Join(f.dir, "prices.csv")
	if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// readReport parses a report, checking its BOM.
func readReport(t *testing.T, path string) [][]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(data, []byte("\xEF\xBB\xBF")) {
		t.Errorf("report %s has no BOM", path)
	}
	recs, err := csv.NewReader(bufio.NewReader(bytes.NewReader(data[3:]))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	rows, _ := splitSummary(t, recs)
	return rows
}

// splitSummary splits a CSV report at the row of empty cells before its
// summary: the header and rows, and the summary's rows (each keyed
// "(summary)", status empty).
func splitSummary(t *testing.T, recs [][]string) (rows, summary [][]string) {
	t.Helper()
	rows, summary, ok := SplitCSVReport(recs)
	if !ok {
		t.Errorf("the report's summary is missing or malformed: %q", summary)
	}
	return rows, summary
}

// statuses counts the report's rows by status.
func statuses(recs [][]string) map[string]int {
	m := map[string]int{}
	for _, r := range recs[1:] {
		m[r[1]]++
	}
	return m
}

// priceJob sets each row's SKU price, and the item price to the same:
// item_price equal to one SKU's new price keeps the item inside its SKUs'
// price range (the platform's rule) whatever order the rows land in, so
// these tests of the job itself do not depend on it.
const priceJob = `
	summary = job.run {
		name = "prices",
		rows = csv.rows(input),
		key = function(r) return r.num_iid .. ":" .. r.properties end,
		call = function(r)
			return "taobao.item.sku.price.update", {num_iid = r.num_iid, properties = r.properties, price = r.price, item_price = r.price}
		end,
		concurrency = 4,
		report = report,
		on_result = function(row, result, err)
			results = results + 1
			if err then errors[#errors + 1] = err end
		end,
	}
`

func (f *jobFixture) runPriceJob(t *testing.T, input string) (*lua.LState, string) {
	t.Helper()
	L := f.newState(t)
	report := filepath.Join(f.dir, "report.csv")
	L.SetGlobal("input", lua.LString(input))
	L.SetGlobal("report", lua.LString(report))
	run(t, L, "results = 0; errors = {}")
	run(t, L, priceJob)
	return L, report
}

func summaryOf(t *testing.T, L *lua.LState) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	L.GetGlobal("summary").(*lua.LTable).ForEach(func(k, v lua.LValue) {
		if n, ok := v.(lua.LNumber); ok {
			out[k.String()] = float64(n)
		}
	})
	return out
}

func wantSummary(t *testing.T, got map[string]float64, want map[string]float64) {
	t.Helper()
	for k, v := range want {
		if got[k] != v {
			t.Errorf("summary.%s = %v, want %v (summary %v)", k, got[k], v, got)
		}
	}
}

// Rows run concurrently, every one is checkpointed and reported, and a
// rerun skips them all without a call.
func TestJobRunAndRerun(t *testing.T) {
	f := newJobFixture(t, fixtureOptions{sandbox: sandbox.Options{Latency: 10 * time.Millisecond}})
	input := f.pricesCSV(t, 40)
	L, report := f.runPriceJob(t, input)
	wantSummary(t, summaryOf(t, L), map[string]float64{"total": 40, "ok": 40, "failed": 0, "skipped": 0, "unknown": 0})
	if n := L.GetGlobal("results").(lua.LNumber); n != 40 {
		t.Errorf("on_result ran %v times, want 40", n)
	}
	if m := f.maxInflight.Load(); m < 2 || m > 4 {
		t.Errorf("at most %d calls in flight, want 2..4 (concurrency 4)", m)
	}
	writes := f.writes("taobao.item.sku.price.update")
	if len(writes) != 40 {
		t.Errorf("%d SKUs written, want 40", len(writes))
	}
	for k, n := range writes {
		if n != 1 {
			t.Errorf("SKU %s written %d times", k, n)
		}
	}
	keys, _ := f.store.Keys(context.Background(), "job:prices")
	if len(keys) != 40 {
		t.Errorf("%d checkpoints, want 40", len(keys))
	}
	recs := readReport(t, report)
	if got, want := strings.Join(recs[0], ","), "key,status,code,sub_code,message,request_id,line,call,num_iid,properties,price"; got != want {
		t.Errorf("report header %q, want %q", got, want)
	}
	if len(recs) != 41 || statuses(recs)["ok"] != 40 {
		t.Errorf("report: %d rows, statuses %v", len(recs)-1, statuses(recs))
	}
	for _, r := range recs[1:] {
		if r[5] == "" || r[0] != r[8]+":"+r[9] {
			t.Errorf("report row %q: want a request_id and the input columns", r)
		}
	}
	if s := f.lastJob(t); s.OK != 40 || s.NeedsAttention() {
		t.Errorf("OnJob got %+v", s)
	}
	if logs := f.logs.String(); !strings.Contains(logs, `msg="job finished" job=prices total=40 ok=40`) {
		t.Errorf("no summary line in the log:\n%s", logs)
	}

	// Rerun: all skipped, nothing sent.
	before := f.calls("taobao.item.sku.price.update", "", "")
	L, report = f.runPriceJob(t, input)
	wantSummary(t, summaryOf(t, L), map[string]float64{"total": 40, "ok": 0, "skipped": 40})
	if after := f.calls("taobao.item.sku.price.update", "", ""); after != before {
		t.Errorf("rerun sent %d calls, want 0", after-before)
	}
	if st := statuses(readReport(t, report)); st["skipped"] != 40 {
		t.Errorf("rerun report statuses %v, want 40 skipped", st)
	}
}

// A failed row is reported with its codes and sent again on the next run;
// the rows done are not.
func TestJobFailedRowsRetried(t *testing.T) {
	f := newJobFixture(t, fixtureOptions{})
	input := f.pricesCSV(t, 10, "600000153551,1627207:1;20509:1,9.90\n")
	L, report := f.runPriceJob(t, input)
	wantSummary(t, summaryOf(t, L), map[string]float64{"total": 11, "ok": 10, "failed": 1})
	if s := f.lastJob(t); s.Failed != 1 || !s.NeedsAttention() {
		t.Errorf("OnJob got %+v", s)
	}
	if n := L.GetGlobal("errors").(*lua.LTable).Len(); n != 1 {
		t.Errorf("on_result saw %d errors, want 1", n)
	}
	recs := readReport(t, report)
	var bad []string
	for _, r := range recs[1:] {
		if r[1] == "failed" {
			bad = r
		}
	}
	if bad == nil || bad[2] != "15" || top.SubCodeBase(bad[3]) != "isv.invalid-parameter" || bad[4] == "" || bad[5] == "" {
		t.Errorf("failed row reported as %q, want code 15, sub_code isv.invalid-parameter(:…), message, request_id", bad)
	}

	before := f.calls("taobao.item.sku.price.update", "", "")
	L, _ = f.runPriceJob(t, input)
	wantSummary(t, summaryOf(t, L), map[string]float64{"total": 11, "ok": 0, "failed": 1, "skipped": 10})
	if sent := f.calls("taobao.item.sku.price.update", "", "") - before; sent != 1 {
		t.Errorf("rerun sent %d calls, want only the failed row", sent)
	}
}

// A write whose answer is lost is reported unknown, checkpointed as such
// and not sent again, until the script asks for it.
func TestJobUnknownOutcomeNotResent(t *testing.T) {
	f := newJobFixture(t, fixtureOptions{})
	const lost = "600000153551"
	drop := func(p url.Values) bool { return p.Get("num_iid") == lost }
	f.drop.Store(&drop)
	src := `
		summary = job.run {
			name = "stock",
			rows = {{num_iid = "600000153551", sku = "4100779410358"}, {num_iid = "600001652075", sku = "%s"}},
			key = function(r) return r.num_iid end,
			call = function(r)
				return "taobao.skus.quantity.update", {num_iid = r.num_iid, type = 2, skuid_quantities = r.sku .. ":1"}
			end,
			report = report,
			resend_unknown = resend,
		}
	`
	// The second item's first SKU, from the sandbox.
	res, err := f.client.Call(context.Background(), "taobao.item.seller.get",
		top.Params{"num_iid": "600001652075", "fields": "sku"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	skus, _, _ := top.FindList(res.Payload["item"].(map[string]any), "skus")
	sku := skus[0].(map[string]any)["sku_id"]
	src = strings.Replace(src, "%s", strings.TrimSpace(toString(sku)), 1)

	runJob := func(resend bool) (map[string]float64, [][]string) {
		L := f.newState(t)
		report := filepath.Join(f.dir, "stock.csv")
		L.SetGlobal("report", lua.LString(report))
		L.SetGlobal("resend", lua.LBool(resend))
		run(t, L, src)
		return summaryOf(t, L), readReport(t, report)
	}
	sum, recs := runJob(false)
	wantSummary(t, sum, map[string]float64{"total": 2, "ok": 1, "unknown": 1, "failed": 0})
	if st := statuses(recs); st["unknown"] != 1 || st["ok"] != 1 {
		t.Errorf("report statuses %v", st)
	}
	if n := f.writes("taobao.skus.quantity.update")[lost]; n != 1 {
		t.Fatalf("the lost write reached the sandbox %d times, want 1", n)
	}
	if s := f.lastJob(t); s.Unknown != 1 || !s.NeedsAttention() {
		t.Errorf("OnJob got %+v", s)
	}
	if !strings.Contains(f.logs.String(), "job row outcome unknown") {
		t.Errorf("no warning for the unknown row:\n%s", f.logs.String())
	}

	// Rerun: not re-sent, still reported unknown, with the advice logged.
	f.drop.Store(nil)
	sum, recs = runJob(false)
	wantSummary(t, sum, map[string]float64{"total": 2, "ok": 0, "unknown": 1, "skipped": 1})
	if n := f.writes("taobao.skus.quantity.update")[lost]; n != 1 {
		t.Errorf("rerun re-sent the unknown write (%d writes)", n)
	}
	if st := statuses(recs); st["unknown"] != 1 {
		t.Errorf("rerun report statuses %v", st)
	}
	if !strings.Contains(f.logs.String(), "resend_unknown = true") {
		t.Errorf("no advice on unknown rows in the log:\n%s", f.logs.String())
	}

	// resend_unknown = true sends it once more.
	sum, _ = runJob(true)
	wantSummary(t, sum, map[string]float64{"total": 2, "ok": 1, "unknown": 0, "skipped": 1})
	if n := f.writes("taobao.skus.quantity.update")[lost]; n != 2 {
		t.Errorf("resend_unknown: %d writes, want 2", n)
	}
}

func toString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case interface{ String() string }:
		return x.String()
	}
	return ""
}

// Under dry-run no write is sent and nothing is checkpointed; the writes
// are logged with their parameters.
func TestJobDryRun(t *testing.T) {
	f := newJobFixture(t, fixtureOptions{dryRun: true})
	input := f.pricesCSV(t, 20)
	L, report := f.runPriceJob(t, input)
	sum := summaryOf(t, L)
	wantSummary(t, sum, map[string]float64{"total": 20, "ok": 20, "not_sent": 20})
	if L.GetGlobal("summary").(*lua.LTable).RawGetString("dry_run") != lua.LTrue {
		t.Error("summary.dry_run is not true")
	}
	if w := f.sb.Stats().Writes; len(w) != 0 {
		t.Errorf("dry-run wrote %v", w)
	}
	if n := f.calls("taobao.item.sku.price.update", "", ""); n != 0 {
		t.Errorf("dry-run sent %d writes", n)
	}
	if keys, _ := f.store.Keys(context.Background(), "job:prices"); len(keys) != 0 {
		t.Errorf("dry-run checkpointed %d rows", len(keys))
	}
	if st := statuses(readReport(t, report)); st["dry_run"] != 20 {
		t.Errorf("report statuses %v, want 20 dry_run", st)
	}
	logs := f.logs.String()
	if !strings.Contains(logs, "dry-run: would call taobao.item.sku.price.update") || !strings.Contains(logs, "price=") {
		t.Errorf("dry-run writes not logged with params:\n%s", logs)
	}
	if strings.Contains(logs, sandbox.DefaultSession) || strings.Contains(logs, sandbox.DefaultAppSecret) {
		t.Error("a secret reached the log")
	}

	// Reads are sent under dry-run.
	L = f.newState(t)
	run(t, L, `
		s = job.run{name = "reads", rows = {"600000153551"}, key = function(r) return r end,
			call = function(r) return "taobao.item.seller.get", {num_iid = r, fields = "num_iid"} end}
		assert(s.ok == 1 and s.not_sent == 0)
	`)
	if n := f.calls("taobao.item.seller.get", "", ""); n != 1 {
		t.Errorf("dry-run sent %d reads, want 1", n)
	}
}

// An interrupt stops taking rows, lets the calls in flight finish and
// saves their checkpoints and report rows before raising "interrupted".
func TestJobInterrupted(t *testing.T) {
	f := newJobFixture(t, fixtureOptions{sandbox: sandbox.Options{Latency: 30 * time.Millisecond}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f.opts.Context = func() context.Context { return ctx }
	input := f.pricesCSV(t, 200)
	L := f.newState(t)
	report := filepath.Join(f.dir, "report.csv")
	L.SetGlobal("input", lua.LString(input))
	L.SetGlobal("report", lua.LString(report))
	L.SetGlobal("interrupt", L.NewFunction(func(L *lua.LState) int { cancel(); return 0 }))
	err := L.DoString(`
		local n = 0
		job.run {
			name = "prices", rows = csv.rows(input), report = report, concurrency = 4,
			key = function(r) return r.num_iid .. ":" .. r.properties end,
			call = function(r)
				return "taobao.item.sku.price.update", {num_iid = r.num_iid, properties = r.properties, price = r.price, item_price = r.price}
			end,
			on_result = function() n = n + 1; if n == 10 then interrupt() end end,
		}
	`)
	if err == nil || !strings.Contains(err.Error(), "interrupted") {
		t.Fatalf("want an interrupted error, got %v", err)
	}
	writes := f.writes("taobao.item.sku.price.update")
	keys, _ := f.store.Keys(context.Background(), "job:prices")
	if len(writes) == 0 || len(writes) >= 200 {
		t.Fatalf("%d writes: the job did not stop early", len(writes))
	}
	if len(keys) != len(writes) {
		t.Errorf("%d writes reached the sandbox but %d were checkpointed: calls in flight were lost", len(writes), len(keys))
	}
	recs := readReport(t, report)
	if st := statuses(recs); st["ok"] != len(writes) {
		t.Errorf("report has %d ok rows, want %d", st["ok"], len(writes))
	}
	if s := f.lastJob(t); !s.Interrupted || s.Pending == 0 {
		t.Errorf("OnJob got %+v, want interrupted with rows not started", s)
	}
}

func TestJobRunErrors(t *testing.T) {
	f := newJobFixture(t, fixtureOptions{})
	L := f.newState(t)
	k := `key = function(r) return r end, `
	c := `call = function(r) return "taobao.time.get" end`
	for _, tc := range []struct {
		src  string
		want []string
	}{
		{`job.run()`, []string{"want a table"}},
		{`job.run{rows = {}, ` + k + c + `}`, []string{"name is required"}},
		{`job.run{name = "j", ` + k + c + `}`, []string{"rows is required"}},
		{`job.run{name = "j", rows = {}, ` + c + `}`, []string{"key is required"}},
		{`job.run{name = "j", rows = {}, ` + k + `}`, []string{"call is required"}},
		{`job.run{name = "j", rows = {}, key = "x", ` + c + `}`, []string{"key must be a function"}},
		{`job.run{name = "j", rows = {}, ` + k + c + `, concurency = 3}`, []string{`unknown field "concurency"`}},
		{`job.run{name = "j", rows = {}, ` + k + c + `, concurrency = 0}`, []string{"concurrency must be an integer"}},
		{`job.run{name = "j", rows = {"a", "b", "a"}, ` + k + c + `}`, []string{`duplicate key "a"`, "row 1", "row 3"}},
		{`job.run{name = "j", rows = {{}}, key = function(r) return nil end, ` + c + `}`, []string{"key function returned no value for row 1"}},
		{`job.run{name = "j", rows = {"a"}, key = function(r) error("boom") end, ` + c + `}`, []string{"boom"}},
		{`job.run{name = "j", rows = {"a"}, ` + k + `call = function(r) return "taobao.time.get", "x" end}`, []string{"params must be a table"}},
		{`job.run{name = "j", rows = {"a"}, ` + k + `call = function(r) return "taobao.time.get", {}, {bogus = 1} end}`, []string{`unknown option "bogus"`}},
	} {
		wantError(t, L, tc.src, tc.want...)
	}
	// Duplicate keys in a CSV name the lines.
	input := f.pricesCSV(t, 3, "600000153551,1627207:28320;20509:28315,1.00\n")
	L.SetGlobal("input", lua.LString(input))
	wantError(t, L, `job.run{name = "j", rows = csv.rows(input), key = function(r) return r.num_iid .. ":" .. r.properties end, `+c+`}`,
		"duplicate key", "row 1 (line 2)", "row 4 (line 5)")
	// Nothing was sent by any of them.
	if n := f.calls("taobao.time.get", "", ""); n != 0 {
		t.Errorf("%d calls sent by failing jobs", n)
	}
}

// A call returning nothing skips the row; job.reset forgets checkpoints.
func TestJobSkipAndReset(t *testing.T) {
	f := newJobFixture(t, fixtureOptions{})
	L := f.newState(t)
	run(t, L, `
		local function go()
			return job.run{name = "t", rows = {"a", "b", "c"}, key = function(r) return r end,
				call = function(r) if r ~= "b" then return "taobao.time.get" end end}
		end
		local s = go()
		assert(s.ok == 2 and s.skipped == 1, "first")
		s = go()
		assert(s.ok == 0 and s.skipped == 3, "second")
		assert(#state.open("job:t"):keys() == 2)
		assert(job.reset("t", "a") == 1)
		s = go()
		assert(s.ok == 1 and s.skipped == 2, "after reset of a")
		assert(job.reset("t") == 2)
		s = go()
		assert(s.ok == 2, "after reset")
	`)
}

// Without a terminal, a long job logs its progress every few seconds.
func TestJobProgressLines(t *testing.T) {
	defer func(d time.Duration) { progressLogEvery = d }(progressLogEvery)
	progressLogEvery = 50 * time.Millisecond
	f := newJobFixture(t, fixtureOptions{sandbox: sandbox.Options{Latency: 20 * time.Millisecond}})
	f.opts.Progress = &bytes.Buffer{} // not a terminal: log lines, no bar
	f.runPriceJob(t, f.pricesCSV(t, 40))
	logs := f.logs.String()
	if !strings.Contains(logs, `msg="job progress" job=prices done=`) || !strings.Contains(logs, "total=40") {
		t.Errorf("no progress lines:\n%s", logs)
	}
	if f.opts.Progress.(*bytes.Buffer).Len() != 0 {
		t.Error("a bar was drawn on a non-terminal")
	}
}

func TestRenderBar(t *testing.T) {
	bar := renderBar("bulk_price", snapshot{done: 500, total: 1000, failed: 2, elapsed: 10 * time.Second})
	for _, want := range []string{"bulk_price [", "500/1000", " 50%", "50.0/s", "ETA 10s", "failed 2"} {
		if !strings.Contains(bar, want) {
			t.Errorf("bar %q lacks %q", bar, want)
		}
	}
	if full := renderBar("j", snapshot{done: 3, total: 3, elapsed: time.Second}); strings.Contains(full, "ETA") || !strings.Contains(full, "100%") {
		t.Errorf("finished bar %q", full)
	}
}

// fakeClock advances a quarter second every time it is read (so time
// passes as calls are made) and jumps on Sleep.
type fakeClock struct {
	mu    sync.Mutex
	now   time.Time
	slept time.Duration
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(250 * time.Millisecond)
	return c.now
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if d > 0 {
		c.now = c.now.Add(d)
		c.slept += d
	}
	return nil
}

// A job running into a closure window of the promotion config waits it
// out: nothing is sent inside the window, and every row ends ok.
func TestJobWaitsOutPromotionClosure(t *testing.T) {
	file, err := config.LoadOptions(config.Options{
		Path: filepath.Join("..", "scripts", "examples", "promotion.toml"), NoCredentials: true,
		Env: func(string) string { return "" },
	})
	if err != nil {
		t.Fatal(err)
	}
	clock := &fakeClock{now: time.Date(2023, 9, 6, 19, 59, 45, 0, toptime.Zone)}
	cfg := file.Client
	f := newJobFixture(t, fixtureOptions{
		config:  &cfg,
		clock:   clock,
		sandbox: sandbox.Options{Now: clock.Now},
	})
	// The fenxiao SKUs of the example list.
	data, err := os.ReadFile(filepath.Join("..", "scripts", "examples", "fenxiao.csv"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(data), "\n")
	input := filepath.Join(f.dir, "fenxiao.csv")
	if err := os.WriteFile(input, []byte(strings.Join(lines[:41], "")), 0o644); err != nil {
		t.Fatal(err)
	}
	L := f.newState(t)
	L.SetGlobal("input", lua.LString(input))
	run(t, L, `
		summary = job.run {
			-- One call at a time: with a fake clock that jumps an hour
			-- when one call waits, a concurrent call's signed timestamp
			-- would look an hour stale to the sandbox.
			name = "fenxiao", rows = csv.rows(input), concurrency = 1,
			key = function(r) return r.pid .. ":" .. r.properties end,
			call = function(r)
				return "taobao.fenxiao.product.sku.update",
					{product_id = r.pid, properties = r.properties, standard_price = r.standard_price}
			end,
		}
	`)
	wantSummary(t, summaryOf(t, L), map[string]float64{"total": 40, "ok": 40, "failed": 0})

	// A call that passed the closure check just before 20:00 may be signed
	// a few (fake) seconds later: the fake clock moves on each reading.
	start := time.Date(2023, 9, 6, 20, 0, 5, 0, toptime.Zone)
	end := time.Date(2023, 9, 6, 21, 0, 0, 0, toptime.Zone)
	var before, inside, after int
	f.mu.Lock()
	for _, p := range f.seen {
		if p.Get("method") != "taobao.fenxiao.product.sku.update" {
			continue
		}
		ts, err := time.ParseInLocation(toptime.Layout, p.Get("timestamp"), toptime.Zone)
		if err != nil {
			t.Fatalf("timestamp %q: %v", p.Get("timestamp"), err)
		}
		switch {
		case ts.Before(start):
			before++
		case ts.Before(end):
			inside++
		default:
			after++
		}
	}
	f.mu.Unlock()
	if before == 0 || after == 0 || inside != 0 {
		t.Errorf("calls before/inside/after the window: %d/%d/%d; want some before, none inside, the rest after", before, inside, after)
	}
	if clock.slept < 55*time.Minute {
		t.Errorf("the client slept %v, want the rest of the window (about an hour)", clock.slept)
	}
}
