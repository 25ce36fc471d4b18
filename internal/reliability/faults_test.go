package reliability

import (
	"encoding/json"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/topscript/topscript/sandbox"
)

// faultCase is one column of the fault matrix.
type faultCase struct {
	name string
	o    worldOptions
}

// faultCases are the faults the matrix injects. Probabilities are high so
// that every workload meets each fault many times; the client makes up to
// 5 attempts with millisecond backoffs.
var faultCases = []faultCase{
	{"isp", worldOptions{faults: sandbox.Faults{ISP: 0.3}}},
	{"http502", worldOptions{faults: sandbox.Faults{HTTP502: 0.3}}},
	// Applied, then the answer is an isp timeout / a 502.
	{"isp_applied", worldOptions{faults: sandbox.Faults{ISPApplied: 0.3}}},
	{"http502_applied", worldOptions{faults: sandbox.Faults{HTTP502Applied: 0.3}}},
	{"drop", worldOptions{faults: sandbox.Faults{Drop: 0.15}}},
	{"truncate", worldOptions{faults: sandbox.Faults{Truncate: 0.15}}},
	// A ban holds every call back for its 1–2 s (+1 s): rare, to keep the
	// test short.
	{"ban", worldOptions{faults: sandbox.Faults{Ban: 0.05}}},
	// Every 6th answer comes after the client's 250 ms timeout.
	{"latency", worldOptions{spikeEvery: 6, spike: 400 * time.Millisecond, timeout: 250 * time.Millisecond}},
	{"all", worldOptions{faults: sandbox.Faults{ISP: 0.06, HTTP502: 0.05, ISPApplied: 0.05, HTTP502Applied: 0.03,
		Drop: 0.04, Truncate: 0.04, Ban: 0.004}}},
}

// matrixTally accumulates what the matrix survived, for the log line that
// RELIABILITY.md quotes.
var matrixTally struct {
	sync.Mutex
	requests, faults, rows, unknown int64
}

func tally(w *world, rows, unknown int) {
	st := w.sb.Stats()
	na, lost, _ := errorTotals(st)
	matrixTally.Lock()
	matrixTally.requests += st.Requests
	matrixTally.faults += na + lost + w.spiked.Load()
	matrixTally.rows += int64(rows)
	matrixTally.unknown += int64(unknown)
	matrixTally.Unlock()
}

// TestFaultMatrix runs each workload under each fault and checks the
// outcome against the sandbox's own counters: nothing lost, nothing
// written twice (idempotent re-sets aside), every write whose outcome the
// answer left open reported unknown and applied at most once, and
// /_sandbox/stats consistent with what the client saw.
func TestFaultMatrix(t *testing.T) {
	for _, fc := range faultCases {
		t.Run(fc.name, func(t *testing.T) {
			t.Run("paged_read", func(t *testing.T) { pagedRead(t, fc) })
			t.Run("call_all", func(t *testing.T) { callAll(t, fc) })
			t.Run("job_stock", func(t *testing.T) { jobStock(t, fc) })
			if fc.name != "ban" {
				t.Run("job_price", func(t *testing.T) { jobPrice(t, fc) })
			}
		})
	}
	matrixTally.Lock()
	t.Logf("fault matrix: %d requests, %d faults injected, %d job rows, %d unknown outcomes, all accounted for",
		matrixTally.requests, matrixTally.faults, matrixTally.rows, matrixTally.unknown)
	matrixTally.Unlock()
}

// checkStats checks the sandbox's request counter against the HTTP
// server's, and every call against its outcome: a success or a counted
// fault. okAttempts is the number of attempts the sandbox answered with
// success: the ones the client saw succeed, plus answers delayed past the
// client's timeout.
func checkStats(t *testing.T, w *world, okAttempts int64, methods ...string) {
	t.Helper()
	st := w.sb.Stats()
	if st.Requests != w.hits.Load() {
		t.Errorf("sandbox counted %d requests, the server saw %d", st.Requests, w.hits.Load())
	}
	var calls int64
	for _, n := range st.Calls {
		calls += n
	}
	if calls != st.Requests {
		t.Errorf("%d calls in %d requests", calls, st.Requests)
	}
	na, lost, other := errorTotals(st)
	if len(other) > 0 {
		t.Errorf("unexpected errors: %v", other)
	}
	var mcalls int64
	for _, m := range methods {
		mcalls += st.Calls[m]
	}
	if got := okAttempts + na + lost; mcalls != got {
		t.Errorf("calls of %v = %d, want %d successes + %d not applied + %d lost answers = %d",
			methods, mcalls, okAttempts, na, lost, got)
	}
	t.Logf("%d requests: %d ok, %d faults not applied, %d answers lost, %d delayed past the timeout; errors %v",
		st.Requests, okAttempts-w.spiked.Load(), na, lost, w.spiked.Load(), st.Errors)
}

// pagedRead pages through every trade: the list must be the fault-free
// list exactly (no trade lost or doubled), or the script must fail with a
// TOP error — never a silent partial list.
func pagedRead(t *testing.T, fc faultCase) {
	const src = `
local n = 0
for t in top.each("taobao.trades.sold.get", {fields = "tid", page_size = 100}) do
  n = n + 1
  print(t.tid)
end
io.stderr:write("read ", n, "\n")`
	clean := newWorld(t, worldOptions{})
	want := clean.run("read.lua", src)
	if want.err != nil {
		t.Fatal(want.err)
	}
	w := newWorld(t, fc.o)
	got := w.run("read.lua", src)
	if got.err != nil {
		if !strings.Contains(got.err.Error(), "taobao.trades.sold.get") {
			t.Fatalf("the read failed without naming the call: %v", got.err)
		}
		t.Logf("the read failed cleanly: %v", got.err)
		return
	}
	if got.stdout != want.stdout {
		t.Fatalf("trades differ from the fault-free read: %d lines, want %d", strings.Count(got.stdout, "\n"), strings.Count(want.stdout, "\n"))
	}
	lines := strings.Split(strings.TrimSpace(got.stdout), "\n")
	seen := map[string]bool{}
	for _, l := range lines {
		if seen[l] {
			t.Fatalf("trade %s read twice", l)
		}
		seen[l] = true
	}
	pages := int64((len(lines) + 99) / 100)
	checkStats(t, w, pages+w.spiked.Load(), "taobao.trades.sold.get")
	tally(w, 0, 0)
}

// callAll runs reads and non-idempotent stock increments together: every
// result is in input order; a write that succeeded or whose outcome is
// unknown was applied exactly once, any other failure not at all.
func callAll(t *testing.T, fc faultCase) {
	rows := seedRows(t, 60)
	w := newWorld(t, fc.o)
	res := w.run("all.lua", `
local csv, json = require("csv"), require("json")
local rows = csv.read(arg[1])
local calls = {}
for i, r in ipairs(rows) do
  if i % 2 == 1 then
    calls[#calls + 1] = {"taobao.item.seller.get", {num_iid = r.num_iid, fields = "num_iid"}}
  else
    calls[#calls + 1] = {"taobao.item.quantity.update", {num_iid = r.num_iid, sku_id = r.sku_id, quantity = 1, type = 2}}
  end
end
for i, res in ipairs(top.call_all(calls, {concurrency = 8})) do
  local out = {i = i, ok = res.ok}
  if res.ok then
    out.num_iid = res.result.item and tostring(res.result.item.num_iid)
  else
    out.kind, out.code = res.error.kind, res.error.code
  end
  print(json.encode(out))
end`, writeRowsCSV(t, rows))
	if res.err != nil {
		t.Fatal(res.err)
	}
	st := w.sb.Stats()
	writes := st.Writes["taobao.item.quantity.update"]
	lines := strings.Split(strings.TrimSpace(res.stdout), "\n")
	if len(lines) != len(rows) {
		t.Fatalf("%d results for %d calls", len(lines), len(rows))
	}
	var okWrites, okReads, unknown int64
	for i, l := range lines {
		var out struct {
			I      int    `json:"i"`
			OK     bool   `json:"ok"`
			NumIID string `json:"num_iid"`
			Kind   string `json:"kind"`
		}
		if err := json.Unmarshal([]byte(l), &out); err != nil {
			t.Fatal(err)
		}
		r := rows[i]
		if out.I != i+1 {
			t.Fatalf("result %d out of order: %s", i+1, l)
		}
		if i%2 == 0 { // a read
			if out.OK {
				okReads++
				if out.NumIID != r.numIID {
					t.Errorf("read %d answered for item %s, asked %s", i+1, out.NumIID, r.numIID)
				}
			}
			continue
		}
		n := writes[r.numIID]
		switch {
		case out.OK:
			okWrites++
			if n != 1 {
				t.Errorf("write %d ok but applied %d times", i+1, n)
			}
		case out.Kind == "unknown_outcome":
			// A lost answer or an isp/5xx answer: applied or not, never twice.
			unknown++
			if n > 1 {
				t.Errorf("write %d unknown_outcome, applied %d times", i+1, n)
			}
		default:
			if n != 0 {
				t.Errorf("write %d failed (%s) but applied %d times", i+1, out.Kind, n)
			}
		}
	}
	if w.spiked.Load() == 0 { // spikes cannot be told apart per method
		checkStats(t, w, okWrites+okReads, "taobao.item.quantity.update", "taobao.item.seller.get")
	}
	tally(w, 0, int(unknown))
}

// jobStock runs a job of non-idempotent stock increments, then reruns it
// until no row is left failed: every row ends ok and applied exactly once,
// or unknown and applied once (its answer lost, or an error answered after
// it was applied) or not at all (an isp or 5xx answer that did not apply
// it: the client cannot tell) — never twice, never re-sent.
func jobStock(t *testing.T, fc faultCase) {
	n := 60
	if fc.name == "ban" {
		n = 40
	}
	rows := seedRows(t, n)
	w := newWorld(t, fc.o)
	input := writeRowsCSV(t, rows)
	report := filepath.Join(t.TempDir(), "stock.report.csv")
	const src = `
local csv, job, json = require("csv"), require("job"), require("json")
local s = job.run {
  name = "stock",
  rows = csv.rows(arg[1]),
  key = function(r) return r.num_iid end,
  call = function(r)
    return "taobao.item.quantity.update", {num_iid = r.num_iid, sku_id = r.sku_id, quantity = 1, type = 2}
  end,
  concurrency = 8,
  report = arg[2],
}
print(json.encode(s))`
	unknownKeys := map[string]bool{}
	unknownApplied := map[string]int64{}
	var okAttempts int64
	for attempt := 1; ; attempt++ {
		before := w.sb.Stats().Writes["taobao.item.quantity.update"]
		res := w.run("stock.lua", src, input, report)
		if res.err != nil {
			t.Fatalf("run %d: %v", attempt, res.err)
		}
		if len(res.jobs) != 1 {
			t.Fatalf("run %d: %d job summaries", attempt, len(res.jobs))
		}
		s := res.jobs[0]
		if s.OK+s.Failed+s.Skipped+s.Unknown != s.Total || s.Total != n {
			t.Fatalf("run %d: summary does not add up: %+v", attempt, s)
		}
		okAttempts += int64(s.OK)
		statuses, _ := readReport(t, report)
		if len(statuses) != n {
			t.Fatalf("run %d: the report has %d rows, want %d", attempt, len(statuses), n)
		}
		after := w.sb.Stats().Writes["taobao.item.quantity.update"]
		for _, r := range rows {
			st := statuses[r.numIID]
			delta := after[r.numIID] - before[r.numIID]
			switch st {
			case "ok":
				if delta != 1 {
					t.Errorf("run %d: row %s ok, applied %d times", attempt, r.numIID, delta)
				}
			case "unknown":
				if !unknownKeys[r.numIID] {
					unknownKeys[r.numIID] = true
					unknownApplied[r.numIID] = delta
					if delta > 1 {
						t.Errorf("run %d: row %s unknown, applied %d times", attempt, r.numIID, delta)
					}
				} else if delta != 0 {
					t.Errorf("run %d: unknown row %s sent again", attempt, r.numIID)
				}
			case "failed":
				if delta != 0 {
					t.Errorf("run %d: row %s failed, applied %d times", attempt, r.numIID, delta)
				}
			case "skipped":
				if delta != 0 {
					t.Errorf("run %d: skipped row %s sent again", attempt, r.numIID)
				}
			default:
				t.Errorf("run %d: row %s has status %q", attempt, r.numIID, st)
			}
		}
		if s.Failed == 0 {
			break
		}
		if attempt == 6 {
			t.Fatalf("rows still failing after %d runs: %+v", attempt, s)
		}
	}
	// In the end: ok rows applied once, unknown rows as they were.
	writes := w.sb.Stats().Writes["taobao.item.quantity.update"]
	var unknownOnce, unknownNone int64
	for _, r := range rows {
		want := int64(1)
		if unknownKeys[r.numIID] {
			want = unknownApplied[r.numIID]
			if want == 1 {
				unknownOnce++
			} else {
				unknownNone++
			}
		}
		if writes[r.numIID] != want {
			t.Errorf("row %s applied %d times, want %d", r.numIID, writes[r.numIID], want)
		}
	}
	// One unknown row per fault that left the outcome open: applied once
	// for each answer lost or failed after applying, not at all for each
	// ambiguous failure that applied nothing.
	st := w.sb.Stats()
	_, lost, _ := errorTotals(st)
	if want := lost + w.spiked.Load(); unknownOnce != want {
		t.Errorf("%d unknown rows applied once, want one per answer lost or failed after applying (%d)", unknownOnce, want)
	}
	if want := ambiguousNotApplied(st); unknownNone != want {
		t.Errorf("%d unknown rows not applied, want one per isp or 502 answer that applied nothing (%d)", unknownNone, want)
	}
	checkStats(t, w, okAttempts+w.spiked.Load(), "taobao.item.quantity.update")
	tally(w, n, len(unknownKeys))
}

// jobPrice runs a job of idempotent SKU price sets: the client retries
// them even when an answer was lost, so every row ends ok, each applied at
// least once, and the extra applications are exactly the lost answers. The
// item price goes along (item_price = the SKU's new price, always inside
// the SKUs' range, whatever order the rows land in).
func jobPrice(t *testing.T, fc faultCase) {
	rows := seedRows(t, 60)
	for i := range rows {
		rows[i].price = strconv.Itoa(100+i) + ".50"
	}
	w := newWorld(t, fc.o)
	report := filepath.Join(t.TempDir(), "price.report.csv")
	res := w.run("price.lua", `
local csv, job = require("csv"), require("job")
job.run {
  name = "price",
  rows = csv.rows(arg[1]),
  key = function(r) return r.num_iid .. ":" .. r.properties end,
  call = function(r)
    return "taobao.item.sku.price.update", {num_iid = r.num_iid, properties = r.properties, price = r.price, item_price = r.price}
  end,
  concurrency = 8,
  report = arg[2],
}`, writeRowsCSV(t, rows), report)
	if res.err != nil {
		t.Fatal(res.err)
	}
	s := res.jobs[0]
	statuses, _ := readReport(t, report)
	writes := w.sb.Stats().Writes["taobao.item.sku.price.update"]
	var applied int64
	var keys []string
	for _, r := range rows {
		k := r.numIID + ":" + r.props
		keys = append(keys, k)
		applied += writes[k]
		if statuses[k] == "ok" && writes[k] < 1 {
			t.Errorf("row %s ok but never applied", k)
		}
		if statuses[k] == "unknown" {
			t.Errorf("row %s unknown: an idempotent write must be retried", k)
		}
	}
	sort.Strings(keys)
	_, lost, _ := errorTotals(w.sb.Stats())
	if want := int64(s.OK) + lost + w.spiked.Load(); applied != want {
		t.Errorf("%d applications, want %d ok + %d lost answers = %d", applied, s.OK, lost+w.spiked.Load(), want)
	}
	checkStats(t, w, int64(s.OK)+w.spiked.Load(), "taobao.item.sku.price.update")
	tally(w, len(rows), 0)
}
