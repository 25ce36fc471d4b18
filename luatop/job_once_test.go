package luatop

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	lua "github.com/yuin/gopher-lua"

	"github.com/topscript/topscript/state"
	"github.com/topscript/topscript/top"
)

// These tests cover issue #20 (exactly once) and issue #14 item 1 (a row
// is done only for the call that was sent) in job.run.

// Issue #14 item 1, both directions: the same file with the same prices
// sends nothing; the same file with three prices changed sends exactly
// those three rows, and the report says what changed since which run.
func TestJobChangedCallIsSentAgain(t *testing.T) {
	f := newJobFixture(t, fixtureOptions{})
	input := f.pricesCSV(t, 20)
	L, _ := f.runPriceJob(t, input)
	wantSummary(t, summaryOf(t, L), map[string]float64{"total": 20, "ok": 20})

	sent := func() int { return f.calls("taobao.item.sku.price.update", "", "") }
	before := sent()
	L, report := f.runPriceJob(t, input)
	wantSummary(t, summaryOf(t, L), map[string]float64{"total": 20, "ok": 0, "skipped": 20})
	if n := sent() - before; n != 0 {
		t.Errorf("same file, same prices: %d calls sent, want 0", n)
	}
	for _, r := range readReport(t, report)[1:] {
		if r[1] != "skipped" || !strings.HasPrefix(r[4], "done in the run of 20") {
			t.Errorf("skipped row %q: want it done in the run of <time>", r)
		}
	}

	// Three prices change in the same file.
	data, _ := os.ReadFile(input)
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	changed := map[string]string{} // key → "old → new"
	for _, i := range []int{2, 9, 17} {
		cells := strings.Split(lines[i], ",")
		old := cells[2]
		cells[2] = "61.00"
		lines[i] = strings.Join(cells, ",")
		changed[cells[0]+":"+cells[1]] = "price " + old + " → 61.00"
	}
	os.WriteFile(input, []byte(strings.Join(lines, "\n")+"\n"), 0o644)
	before = sent()
	L, report = f.runPriceJob(t, input)
	wantSummary(t, summaryOf(t, L), map[string]float64{"total": 20, "ok": 3, "skipped": 17})
	if n := sent() - before; n != 3 {
		t.Errorf("three prices changed: %d calls sent, want 3", n)
	}
	for _, v := range f.seen[len(f.seen)-3:] {
		if _, ok := changed[v.Get("num_iid")+":"+v.Get("properties")]; !ok || v.Get("price") != "61.00" {
			t.Errorf("sent %s:%s price %s: not one of the changed rows", v.Get("num_iid"), v.Get("properties"), v.Get("price"))
		}
	}
	for _, r := range readReport(t, report)[1:] {
		want, isChanged := changed[r[0]]
		switch {
		case isChanged && (r[1] != "ok" || !strings.Contains(r[4], "sent again: changed since the run of 20") || !strings.HasSuffix(r[4], want)):
			t.Errorf("changed row %q: want ok, \"changed since the run of <time>: %s\"", r, want)
		case !isChanged && r[1] != "skipped":
			t.Errorf("unchanged row %q: want skipped", r)
		}
	}
	t.Logf("changed row reported as: %s", func() string {
		for _, r := range readReport(t, report)[1:] {
			if r[1] == "ok" {
				return r[4]
			}
		}
		return ""
	}())

	// And once sent, the new prices are done too.
	before = sent()
	L, _ = f.runPriceJob(t, input)
	wantSummary(t, summaryOf(t, L), map[string]float64{"total": 20, "ok": 0, "skipped": 20})
	if n := sent() - before; n != 0 {
		t.Errorf("rerun of the changed file: %d calls sent, want 0", n)
	}
}

// stockRows are n SKUs of the sandbox's seed data (scripts/examples/stock.csv).
func stockRows(t *testing.T, n int) [][2]string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "scripts", "examples", "stock.csv"))
	if err != nil {
		t.Fatal(err)
	}
	var out [][2]string
	for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n")[1:] {
		c := strings.Split(l, ",")
		out = append(out, [2]string{c[0], c[1]})
		if len(out) == n {
			break
		}
	}
	return out
}

// stock reads the quantity of every SKU of the items of rows.
func (f *jobFixture) stock(t *testing.T, rows [][2]string) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	seen := map[string]bool{}
	for _, r := range rows {
		if seen[r[0]] {
			continue
		}
		seen[r[0]] = true
		res, err := f.client.Call(context.Background(), "taobao.item.seller.get", top.Params{"num_iid": r[0], "fields": "sku"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		skus, _, _ := top.FindList(res.Payload["item"].(map[string]any), "skus")
		for _, s := range skus {
			m := s.(map[string]any)
			q, _ := m["quantity"].(json.Number).Int64()
			out[r[0]+":"+toString(m["sku_id"])] = q
		}
	}
	return out
}

// stockJob is the non-idempotent job of issue #20: each row adds 1 to a
// SKU's stock (taobao.item.quantity.update type=2). With verify set, the
// rows carry the stock they should end at, and verify reads it back.
const stockJob = `
	local rows = {}
	for _, r in ipairs(input) do rows[#rows + 1] = {num_iid = r[1], sku_id = r[2], want = r[3]} end
	local spec = {
		name = "stock+1",
		rows = rows,
		key = function(r) return r.num_iid .. ":" .. r.sku_id end,
		call = function(r)
			return "taobao.item.quantity.update", {num_iid = r.num_iid, sku_id = r.sku_id, type = 2, quantity = 1}
		end,
		concurrency = 4,
		report = report,
	}
	if with_verify then
		spec.verify = function(r)
			verified = (verified or 0) + 1
			local item = top.call("taobao.item.seller.get", {num_iid = r.num_iid, fields = "sku"}).item
			for _, s in ipairs(item.skus.sku or item.skus) do
				if tostring(s.sku_id) == r.sku_id then return tonumber(s.quantity) == tonumber(r.want) end
			end
		end
	end
	summary = job.run(spec)
`

// runStockJob runs stockJob over rows (want: the stock each should end
// at) and returns the summary, the report and the error raised, if any.
func (f *jobFixture) runStockJob(t *testing.T, rows [][2]string, want map[string]int64, verify bool) (map[string]float64, [][]string, error) {
	t.Helper()
	L := f.newState(t)
	report := filepath.Join(f.dir, "stock-report.csv")
	in := L.NewTable()
	for _, r := range rows {
		row := L.NewTable()
		row.Append(lua.LString(r[0]))
		row.Append(lua.LString(r[1]))
		row.Append(lua.LNumber(want[r[0]+":"+r[1]]))
		in.Append(row)
	}
	L.SetGlobal("input", in)
	L.SetGlobal("report", lua.LString(report))
	L.SetGlobal("with_verify", lua.LBool(verify))
	err := L.DoString(stockJob)
	var sum map[string]float64
	if v, ok := L.GetGlobal("summary").(*lua.LTable); ok {
		sum = map[string]float64{}
		v.ForEach(func(k, v lua.LValue) {
			if n, ok := v.(lua.LNumber); ok {
				sum[k.String()] = float64(n)
			}
		})
	}
	var recs [][]string
	if _, serr := os.Stat(report); serr == nil {
		recs = readReport(t, report)
	}
	return sum, recs, err
}

// moved checks the invariant: every SKU moved by exactly 1, or its
// row is reported unknown and it moved by 0 or 1; never 2; every row in
// the report. It returns how many SKUs moved by 2 or more.
func moved(t *testing.T, rows [][2]string, before, after map[string]int64, recs [][]string) (twice int) {
	t.Helper()
	status := map[string]string{}
	for _, r := range recs[1:] {
		status[r[0]] = r[1]
	}
	for _, r := range rows {
		k := r[0] + ":" + r[1]
		d := after[k] - before[k]
		st, inReport := status[k]
		switch {
		case !inReport:
			t.Errorf("SKU %s (moved by %d) is not in the report", k, d)
		case d >= 2:
			twice++
			t.Errorf("SKU %s moved by %d (%s)", k, d, st)
		case d == 1 && st != "unknown" && st != "ok" && st != "skipped":
			t.Errorf("SKU %s moved by 1, reported %s", k, st)
		case d == 0 && st != "unknown":
			t.Errorf("SKU %s did not move, reported %s", k, st)
		}
	}
	return twice
}

// Issue #20: before a write that is not idempotent is sent, its intent
// record ("sending") is durable: when the request reaches the gateway, the
// store already holds it, with the call's fingerprint. Idempotent writes
// (a price set) get none. A rerun that finds a row "sending" (its run died
// with the call in flight) reports it unknown and does not send it.
func TestJobIntentRecordBeforeSend(t *testing.T) {
	f := newJobFixture(t, fixtureOptions{})
	rows := stockRows(t, 12)
	start := f.stock(t, rows)
	var mu sync.Mutex
	var seenAt []string
	hook := func(p url.Values) {
		if p.Get("method") != "taobao.item.quantity.update" {
			return
		}
		raw, ok, _ := f.store.Get(context.Background(), "job:stock+1", p.Get("num_iid")+":"+p.Get("sku_id"))
		cp := parseCheckpoint(raw)
		mu.Lock()
		defer mu.Unlock()
		if !ok || cp.Status != cpSending || cp.Call == "" || cp.Params["quantity"] != "1" {
			seenAt = append(seenAt, fmt.Sprintf("%s:%s found %q", p.Get("num_iid"), p.Get("sku_id"), raw))
		}
	}
	f.before.Store(&hook)
	want := map[string]int64{}
	for k, q := range start {
		want[k] = q + 1
	}
	sum, recs, err := f.runStockJob(t, rows, want, false)
	if err != nil {
		t.Fatal(err)
	}
	f.before.Store(nil)
	wantSummary(t, sum, map[string]float64{"total": 12, "ok": 12})
	if len(seenAt) > 0 {
		t.Errorf("requests reached the gateway without a sending record: %v", seenAt)
	}
	if moved(t, rows, start, f.stock(t, rows), recs) != 0 {
		t.Fatal("SKUs moved twice")
	}
	// Price sets are idempotent: no intent record.
	input := f.pricesCSV(t, 3)
	var intents atomic.Int32
	priceHook := func(p url.Values) {
		if raw, ok, _ := f.store.Get(context.Background(), "job:prices", p.Get("num_iid")+":"+p.Get("properties")); ok && parseCheckpoint(raw).Status == cpSending {
			intents.Add(1)
		}
	}
	f.before.Store(&priceHook)
	f.runPriceJob(t, input)
	f.before.Store(nil)
	if n := intents.Load(); n != 0 {
		t.Errorf("%d idempotent writes had an intent record", n)
	}

	// A run died with two calls in flight: their records say sending.
	ctx := context.Background()
	for _, r := range rows[:2] {
		k := r[0] + ":" + r[1]
		raw, _, _ := f.store.Get(ctx, "job:stock+1", k)
		cp := parseCheckpoint(raw)
		cp.Status, cp.Holder = cpSending, "host pid 1 dead"
		b, _ := json.Marshal(cp)
		f.store.Set(ctx, "job:stock+1", k, b)
	}
	mid := f.stock(t, rows)
	for k := range want {
		want[k]++
	}
	sum, recs, err = f.runStockJob(t, rows, want, false)
	if err != nil {
		t.Fatal(err)
	}
	wantSummary(t, sum, map[string]float64{"total": 12, "ok": 0, "skipped": 10, "unknown": 2})
	after := f.stock(t, rows)
	for _, r := range recs[1:] {
		if r[1] == "unknown" && !strings.Contains(r[4], "it was being sent by the run of") {
			t.Errorf("unknown row %q: want it said it was being sent", r)
		}
	}
	for _, r := range rows[:2] {
		if k := r[0] + ":" + r[1]; after[k] != mid[k] {
			t.Errorf("SKU %s found sending was sent again (stock %d → %d)", k, mid[k], after[k])
		}
	}
}

// verify settles rows of unknown outcome: for rows left unknown by an
// earlier run, and for rows whose answer is lost in this run (at the end
// of the run). A write applied but unanswered is verified in effect (ok,
// not sent again); one lost before it was applied is verified not applied
// and sent once more; verify returning nil leaves the row unknown.
func TestJobVerifySettlesUnknownRows(t *testing.T) {
	f := newJobFixture(t, fixtureOptions{})
	rows := stockRows(t, 10)
	start := f.stock(t, rows)
	want := map[string]int64{}
	for k, q := range start {
		want[k] = q + 1
	}
	appliedKey := rows[1][0] + ":" + rows[1][1]
	lostKey := rows[4][0] + ":" + rows[4][1]
	once := map[string]*atomic.Bool{appliedKey: {}, lostKey: {}}
	match := func(key string) func(url.Values) bool {
		return func(p url.Values) bool {
			return p.Get("method") == "taobao.item.quantity.update" && p.Get("num_iid")+":"+p.Get("sku_id") == key &&
				once[key].CompareAndSwap(false, true)
		}
	}
	drop, lose := match(appliedKey), match(lostKey)
	f.drop.Store(&drop)
	f.lose.Store(&lose)
	sum, recs, err := f.runStockJob(t, rows, want, true)
	if err != nil {
		t.Fatal(err)
	}
	f.drop.Store(nil)
	f.lose.Store(nil)
	wantSummary(t, sum, map[string]float64{"total": 10, "ok": 10, "verified": 1, "unknown": 0})
	after := f.stock(t, rows)
	if twice := moved(t, rows, start, after, recs); twice != 0 {
		t.Fatalf("%d SKUs moved twice", twice)
	}
	for _, r := range recs[1:] {
		switch r[0] {
		case appliedKey:
			if r[1] != "ok" || !strings.HasPrefix(r[4], "verified: in effect") {
				t.Errorf("applied, unanswered row reported %q", r)
			}
		case lostKey:
			if r[1] != "ok" || !strings.HasPrefix(r[4], "sent again: verify found it not applied") {
				t.Errorf("lost row reported %q", r)
			}
		}
	}
	if len(recs) != 11 {
		t.Errorf("report has %d rows, want 10 (one each)", len(recs)-1)
	}

	// Rows unknown from an earlier run: verify true settles, false resends.
	ctx := context.Background()
	for i, r := range rows[:3] {
		k := r[0] + ":" + r[1]
		raw, _, _ := f.store.Get(ctx, "job:stock+1", k)
		cp := parseCheckpoint(raw)
		cp.Status = []string{statusUnknown, cpSending, statusUnknown}[i]
		b, _ := json.Marshal(cp)
		f.store.Set(ctx, "job:stock+1", k, b)
	}
	want[rows[2][0]+":"+rows[2][1]]++ // this one's write "was not applied": verify says false
	sum, recs, err = f.runStockJob(t, rows, want, true)
	if err != nil {
		t.Fatal(err)
	}
	wantSummary(t, sum, map[string]float64{"total": 10, "ok": 3, "verified": 2, "skipped": 7, "unknown": 0})
	final := f.stock(t, rows)
	for _, r := range rows {
		if k := r[0] + ":" + r[1]; final[k] != want[k] {
			t.Errorf("SKU %s at %d, want %d", k, final[k], want[k])
		}
	}

	// verify returning nil: unknown stays unknown, not sent.
	k := rows[0][0] + ":" + rows[0][1]
	raw, _, _ := f.store.Get(ctx, "job:stock+1", k)
	cp := parseCheckpoint(raw)
	cp.Status = statusUnknown
	b, _ := json.Marshal(cp)
	f.store.Set(ctx, "job:stock+1", k, b)
	L := f.newState(t)
	L.SetGlobal("report", lua.LString(filepath.Join(f.dir, "nil.csv")))
	run(t, L, fmt.Sprintf(`summary = job.run{name = "stock+1", rows = {{num_iid = %q, sku_id = %q}},
		key = function(r) return r.num_iid .. ":" .. r.sku_id end,
		call = function(r) return "taobao.item.quantity.update", {num_iid = r.num_iid, sku_id = r.sku_id, type = 2, quantity = 1} end,
		verify = function(r) return nil, "increments cannot be read back" end, report = report}`, rows[0][0], rows[0][1]))
	wantSummary(t, summaryOf(t, L), map[string]float64{"total": 1, "unknown": 1, "ok": 0})
	if got := f.stock(t, rows[:1])[k]; got != final[k] {
		t.Errorf("a row verify could not tell was sent (stock %d → %d)", final[k], got)
	}
	if recs := readReport(t, filepath.Join(f.dir, "nil.csv")); !strings.Contains(recs[1][4], "verify could not tell: increments cannot be read back") {
		t.Errorf("report %q", recs[1])
	}
}

// Fencing: a run whose claim on a row lapsed while its call was in flight
// (the process was paused past its lease) and was taken over by another
// run cannot record the row as done: its answer is reported "late" and
// kept as a late answer; the row's record stays the other run's. A later
// run that finds the row unknown settles it by that late answer (same
// call, same claim) instead of sending it again.
func TestJobLateAnswerIsFenced(t *testing.T) {
	f := newJobFixture(t, fixtureOptions{})
	cs := newClaimStore()
	f.opts.Store = cs
	f.store = cs
	rows := stockRows(t, 6)
	start := f.stock(t, rows)
	target := rows[3][0] + ":" + rows[3][1]
	const ns = "job:stock+1"
	var took atomic.Bool
	hook := func(p url.Values) {
		if p.Get("num_iid")+":"+p.Get("sku_id") == target && took.CompareAndSwap(false, true) {
			cs.lapse(ns, target) // this run is "paused" past its lease...
			if f, _ := cs.Claim(context.Background(), ns, target, "other host pid 2", 0); f < 2 {
				t.Errorf("the other run got fencing token %d", f)
			}
			// ...the other run finds the sending record and leaves it unknown.
		}
	}
	f.before.Store(&hook)
	sum, recs, err := f.runStockJob(t, rows, nil, false)
	f.before.Store(nil)
	if err != nil {
		t.Fatal(err)
	}
	wantSummary(t, sum, map[string]float64{"total": 6, "ok": 5, "late": 1})
	if s := f.lastJob(t); s.Late != 1 || !s.NeedsAttention() {
		t.Errorf("OnJob got %+v", s)
	}
	for _, r := range recs[1:] {
		if r[0] == target && (r[1] != "late" || !strings.Contains(r[4], "answered ok after this run's claim on the row had lapsed")) {
			t.Errorf("the late row reported %q", r)
		}
	}
	raw, _, _ := cs.Get(context.Background(), ns, target)
	if cp := parseCheckpoint(raw); cp.Status != cpSending || cp.Fence != 1 {
		t.Errorf("the row's record is %s: the late answer overwrote it (want the sending record of fencing token 1)", raw)
	}
	if raw, ok, _ := cs.Get(context.Background(), jobLateNS("stock+1"), target); !ok || parseCheckpoint(raw).Status != statusOK {
		t.Errorf("no late answer recorded: %s", raw)
	}
	cs.Unclaim(context.Background(), ns, target, "other host pid 2")

	// A later run: the row was being sent under token 1, and the late
	// answer to that same call says ok: settled, not sent.
	sum, recs, err = f.runStockJob(t, rows, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	wantSummary(t, sum, map[string]float64{"total": 6, "ok": 1, "skipped": 5, "unknown": 0})
	if twice := moved(t, rows, start, f.stock(t, rows), recs); twice != 0 {
		t.Errorf("%d SKUs moved twice", twice)
	}
	for _, r := range recs[1:] {
		if r[0] == target && (r[1] != "ok" || !strings.Contains(r[4], "settled by a late answer")) {
			t.Errorf("the row settled by its late answer reported %q", r)
		}
	}
}

// failingStore fails every Commit from the n-th on, as Redis killed or a
// full disk does.
type failingStore struct {
	*state.MemStore
	commits, failFrom atomic.Int64
	failGets          atomic.Bool
}

var errDiskFull = errors.New("write state.db: no space left on device")

// Get fails once the commits have failed and failGets is set (the store
// is gone for reads too).
func (s *failingStore) Get(ctx context.Context, ns, key string) ([]byte, bool, error) {
	if s.failGets.Load() && s.commits.Load() >= s.failFrom.Load()-1 {
		return nil, false, errDiskFull
	}
	return s.MemStore.Get(ctx, ns, key)
}

func (s *failingStore) Commit(ctx context.Context, ns string, kv map[string][]byte, fences map[string]int64) ([]string, error) {
	if s.commits.Add(1) >= s.failFrom.Load() {
		return nil, errDiskFull
	}
	return s.MemStore.Commit(ctx, ns, kv, fences)
}

// Issue #20 case 2: a checkpoint that cannot be saved stops new sends at
// once; the rows whose answers can no longer be recorded are reported
// unknown (with what was answered), the job raises an error saying so
// (the CLI exits 3), and a rerun with a working store never sends a row
// twice: every SKU moved by exactly 1, or is unknown and moved by 0 or 1.
func TestJobStoreFailureStopsSends(t *testing.T) {
	f := newJobFixture(t, fixtureOptions{})
	fs := &failingStore{MemStore: state.NewMemStore()}
	fs.failFrom.Store(12)
	f.opts.Store, f.store = fs, fs
	rows := stockRows(t, 60)
	start := f.stock(t, rows)
	sum, recs, err := f.runStockJob(t, rows, nil, false)
	if err == nil || !strings.Contains(err.Error(), "stopped: the state store failed") || !strings.Contains(err.Error(), "no space left on device") {
		t.Fatalf("job.run: %v, want it stopped on the store's failure", err)
	}
	if sum != nil {
		t.Errorf("job.run returned a summary: %v", sum)
	}
	s := f.lastJob(t)
	if s.StoreError == "" || s.Unrecorded == 0 || !s.NeedsAttention() {
		t.Errorf("OnJob got %+v: want StoreError and unrecorded rows", s)
	}
	sent := int64(0)
	for _, w := range f.writes("taobao.item.quantity.update") {
		sent += w
	}
	st := statuses(recs)
	if int(sent) != st["ok"]+st["unknown"] || st["unknown"] != s.Unrecorded {
		t.Errorf("%d writes applied, report %v, %d unrecorded: every write sent must be in the report", sent, st, s.Unrecorded)
	}
	if sent >= 60 {
		t.Errorf("%d rows sent: sends did not stop", sent)
	}
	for _, r := range recs[1:] {
		if r[1] == "unknown" && !strings.Contains(r[4], "recorded nowhere: it was answered ok, but the checkpoint could not be saved") {
			t.Errorf("unrecorded row %q", r)
		}
	}
	t.Logf("store failed at commit 12: %d rows sent, report %v, message: %v", sent, st, err)

	// The store works again: a rerun. Rows in flight at the failure have
	// their sending record: unknown, not sent. The rest are sent.
	fs.failFrom.Store(1 << 40)
	sum, recs, err = f.runStockJob(t, rows, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	after := f.stock(t, rows)
	if twice := moved(t, rows, start, after, recs); twice != 0 {
		t.Errorf("%d SKUs moved twice after the rerun", twice)
	}
	t.Logf("rerun: %v", statuses(recs))
	if sum["unknown"] == 0 {
		t.Errorf("no row unknown on the rerun: the rows whose checkpoint failed must be")
	}
}

// Issue #20: a report path that is the job's input file is refused before
// anything is sent (bulk_price.lua same.csv same.csv overwrote the input).
func TestJobReportOverInputRefused(t *testing.T) {
	f := newJobFixture(t, fixtureOptions{})
	input := f.pricesCSV(t, 3)
	orig, _ := os.ReadFile(input)
	L := f.newState(t)
	for _, spelled := range []string{input, filepath.Join(filepath.Dir(input), ".", filepath.Base(input))} {
		for _, reader := range []string{"csv.rows(input)", "csv.read(input)"} {
			L.SetGlobal("input", lua.LString(input))
			L.SetGlobal("report", lua.LString(spelled))
			wantError(t, L, `job.run{name = "p", rows = `+reader+`, report = report, key = function(r) return r.num_iid .. r.properties end,
				call = function(r) return "taobao.item.sku.price.update", {num_iid = r.num_iid, properties = r.properties, price = r.price} end}`,
				"is the job's input file", "give the report another path")
		}
	}
	if len(f.seen) != 0 {
		t.Errorf("%d requests sent", len(f.seen))
	}
	if now, _ := os.ReadFile(input); string(now) != string(orig) {
		t.Error("the input file was changed")
	}
}

// A store that fails on a read while the job claims its next row (Redis
// gone) stops the job the same way: exit 3 (JobSummary.StoreError), not a
// script error, and nothing more sent.
func TestJobStoreFailureOnRead(t *testing.T) {
	f := newJobFixture(t, fixtureOptions{})
	fs := &failingStore{MemStore: state.NewMemStore()}
	fs.failFrom.Store(6)
	fs.failGets.Store(true)
	f.opts.Store, f.store = fs, fs
	rows := stockRows(t, 40)
	_, recs, err := f.runStockJob(t, rows, nil, false)
	if err == nil || !strings.Contains(err.Error(), "stopped: the state store failed") {
		t.Fatalf("job.run: %v", err)
	}
	s := f.lastJob(t)
	if s.StoreError == "" {
		t.Errorf("OnJob got %+v: want StoreError", s)
	}
	sent := 0
	for _, w := range f.writes("taobao.item.quantity.update") {
		sent += int(w)
	}
	if st := statuses(recs); sent != st["ok"]+st["unknown"] || sent >= 40 {
		t.Errorf("%d writes sent, report %v", sent, st)
	}
}
