package luatop

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/topscript/topscript/internal/numtext"
	"github.com/topscript/topscript/state"
	"github.com/topscript/topscript/stdlib"
)

// The job module runs bulk jobs: one TOP call per input row, concurrent,
// checkpointed and reported.
//
//	local summary = job.run {
//	  name = "bulk_price",                       -- checkpoint namespace (required)
//	  rows = csv.rows(arg[1]),                   -- iterator or array (required): csv.rows, xlsx.rows, ...
//	  key  = function(r) return r.num_iid .. ":" .. r.properties end,  -- unique per row (required)
//	  call = function(r) return "taobao.item.sku.price.update",
//	           {num_iid = r.num_iid, properties = r.properties, price = r.price} end,
//	  verify = function(r) ... return true end,   -- optional: see "Unknown outcomes"
//	  concurrency = 8,                            -- optional: at most 8 calls in flight (default: sized, below)
//	  report = "prices.report.csv",               -- optional report file
//	  on_result = function(row, result, err) end, -- optional, on the script's thread
//	  resend_unknown = false,                     -- see "Unknown outcomes"
//	  columns = {"num_iid", "properties", "price"}, -- report's input columns (optional)
//	  -- and/or keys mapped to the file's columns, by name or label:
//	  -- columns = {num_iid = "宝贝ID", price = "价格"}
//	}
//	-- summary = {name=, total=, ok=, failed=, skipped=, unknown=, verified=, late=,
//	--            not_sent=, not_started=, dry_run=, report=, report_file=}
//
// # How a job runs
//
// The rows are read first, on the script's thread: the columns option's
// keys are mapped onto them (below), every key is computed and checked (a
// duplicate key is an error naming both rows, raised before anything is
// sent), and the job's checkpoints are listed. The rows go to a row file
// while the job runs (jobrows.go), so a job holds in memory only the rows
// in progress: 100,000 rows cost about what 10,000 do. A report path that
// is the rows' own input file is refused then too.
//
// Then call(row) returns the method, params and optional opts (session,
// timeout, retries, simplify) of each row — returning nothing skips the
// row — and the calls run on goroutines of the package's one runner
// through the host's client, so the throttle, retries, bans and closure
// windows apply to them as to top.call. Results come back to the script's
// thread, where they are checkpointed, written to the report and passed to
// on_result(row, result, err) (err is a TOP error value, result nil on
// failure).
//
// # How many calls in flight
//
// As many as keep the throttle busy at the latency the calls meet: the
// runner's sizer (sizer.go) keeps rate × latency × 1.25 + 1 in flight
// (Little's law), the rate being the tightest [throttle] bucket of the
// calls (a rate learned from code-7 bans included), the latency a moving
// average of the answers, so a gateway slowing from 50 ms to 500 ms gets
// ten times the calls in flight and the quota stays busy. A row waiting
// to be retried does not hold a place another row could use; a code-7
// answer or an isp storm halves the number for a few seconds. It is at
// most MaxAutoConcurrency (64), or the script's concurrency, which caps
// it; with no throttle to size against (no [throttle] qps) it is the
// script's concurrency, else DefaultConcurrency (4). The progress lines
// tell it (in_flight).
//
// The files: jobspec.go (the argument table), jobrows.go (rows, keys, the
// columns mapping, the row file, the report's input columns), jobspool.go
// (the spool files rows and report lines wait in), jobcheckpoint.go
// (checkpoints, intent records, fingerprints, claims), jobdispatch.go (the
// dispatcher: what to send, verify, recording), jobreport.go (the report),
// jobsummary.go (the summary, its groups by error code, its log lines),
// jobprogress.go (the progress display).
//
// # Columns
//
// columns = {num_iid = "宝贝ID", price = "价格"} gives each row the key
// num_iid holding the cell of the column named (or, in a 淘宝助理 export,
// labelled) 宝贝ID, so an operator's own sheet works without renaming its
// columns (sheet.Header.Resolve). The columns are those the rows carry
// (csv.rows, xlsx.rows and their read arrays), else the first row's keys;
// a column that is missing or ambiguous is an error naming the file, the
// key and the column, with the file's columns and a "did you mean". The
// option's array part, if any, names the report's input columns.
//
// # Checkpoints: done for the call that was sent
//
// A row whose call succeeded is checkpointed in the namespace "job:<name>"
// of the state store with a fingerprint of its call as sent (the method
// and every parameter as encoded for the gateway), durably (results that
// arrive together are committed as one batch), before the job sends
// another call. On the next run call(row) is asked again: a row is
// skipped (status "skipped", "done in the run of <time>") only when its
// call is the one checkpointed; a row whose call differs (a changed price
// in the same file) is sent again, and the report says why: "sent again:
// changed since the run of 2026-01-02 15:04:05: price 59.90 → 61.00"
// (values as sent, cut to 64 bytes, secret parameters redacted).
// Checkpoints written before calls were fingerprinted count as done for
// the same call. Failed rows are tried again. job.reset(name) forgets every
// checkpoint of a job (job.reset(name, key) one of them);
// state.open("job:<name>") reads them.
//
// # Intent records
//
// Before a write that cannot be sent twice to the effect of once (the
// catalog says which: a stock increment, taobao.item.quantity.update
// type=2, cannot; a price set can) is sent, its intent record — status
// "sending", with the call's fingerprint — is stored durably (the rows a
// round of the dispatcher starts share one commit), and it is replaced by
// the row's checkpoint when the call ends (removed when it failed). A
// process killed at any moment leaves its calls in flight "sending": the
// next run finds them, and reports them unknown instead of sending them
// again. Writes that can be sent twice get no intent record: a run killed
// with one in flight sends it again, to the same effect. The intent records
// cost one more durable commit a round: BenchmarkJobIntents measures such
// a job at about twice the time a row of one that needs none on a file
// store, against a sandbox that answers at once (about 1 ms a row more);
// a real gateway's latency and the app's throttle are far longer.
//
// # Unknown outcomes
//
// A write whose request may have reached the platform without an answer
// that settles it (a timeout after sending, a dropped connection, an isp
// error or an HTTP 5xx for a write not known idempotent; error kind
// unknown_outcome; or a row found "sending") may or may not have been
// applied. Without verify, the job checkpoints it "unknown", reports it
// with status "unknown" and does not send it again on later runs:
// re-sending could apply it twice. Check those rows on the platform, then
// forget them (job.reset(name, key)) or run the job once with
// resend_unknown = true.
//
// With verify = function(row), the job settles them itself: verify reads
// back whether the row's write is in effect and returns true (it is: the
// row is checkpointed ok for its call, status "ok", "verified: ..."),
// false (it is not: the row is sent, once), or nil (cannot tell: the row
// stays unknown); a second return value, a string, goes into the report.
// verify runs on the script's thread and may call top.call (reads). It
// runs for rows found unknown or sending at the start, and for rows whose
// answer is lost in this run once every other row is done (their report
// lines wait for it), at most once a row a run, never under --dry-run.
// Writes that can be read back (a price, a full stock quantity) can be
// verified; increments cannot — prefer full updates. A row settled by
// verify gets on_result(row, {verified = true}, nil). Unknown rows left
// count as failed for the exit code (topscript run exits 3), since they
// need an operator.
//
// # Several processes
//
// With a store shared by several processes (state.Claimer: the Redis
// backend), each row is claimed before its call is sent and released once
// its checkpoint is saved, so processes running the same job (same name,
// same store) over the same rows split them and send each row once. A row
// another process holds is put aside and looked at again every
// jobClaimPoll once the other rows are dispatched: done there, it counts as
// skipped ("done by another run"); left unknown or sending there, it is
// unknown here (verify settles it); released without a checkpoint (it
// failed there), it is tried here. The store keeps claims alive while the
// process lives; the claims of a process that died expire after their
// lease and its rows are taken over. Dry runs claim nothing.
//
// Every claim carries a fencing token that grows with each new holder,
// and a row's intent record and checkpoint are written only under the
// newest (state.Claimer's Commit). A process paused past its lease
// (SIGSTOP, a frozen VM) that wakes therefore cannot record a row another
// process took over: a claim older than jobClaimRecheck is checked again
// before its call is sent (a lapsed one is not sent), and an answer that
// arrives after the takeover is reported "late" — not counted as done —
// and kept in "job-late:<name>" as a late answer. The process that took
// the row over found its sending record and left it unknown; a later run
// settles it by the late answer to the same call, under the same claim.
//
// # A store that fails
//
// When a checkpoint or an intent record cannot be saved, or a claim or a
// checkpoint cannot be read (Redis gone, a full disk), the job stops
// sending at once: the calls in flight finish, and their rows are reported
// unknown with what was answered ("outcome recorded nowhere: it was
// answered ok, but the checkpoint could not be saved (...)"); rows not sent
// are left for the next run. job.run raises "stopped: the state store
// failed (...)" and the host sees
// JobSummary.StoreError (topscript run exits 3). Rows that were in flight
// have their intent record, so a rerun once the store works finds them
// unknown; it never sends them blindly.
//
// # Report
//
// report names the report file: every input row in input order (however
// the calls finished), with key, status (ok, failed, unknown, skipped,
// not_started, dry_run, late), code, sub_code, message, request_id, line,
// call (what the row sent or, under --dry-run, would send), then the input
// columns — the header the rows carry when they come from csv.rows,
// csv.read, xlsx.rows or xlsx.read, else the columns array, else the
// first row's keys in sorted order — and a closing summary by status and
// error code. A name ending in .xlsx writes a workbook, any other a CSV
// file (UTF-8 with a BOM, for Excel; written by the same writer as
// csv.writer). It is written when the job ends — at its end, on an
// interrupt, --timeout or an error — with the rows never started as
// not_started; under topscript run every run's report is kept under its
// own name and copied to the name given. See jobreport.go.
//
// # Dry run, progress, interrupts
//
// Under --dry-run, writes are not sent but logged with their parameters
// (secrets redacted) and reported as "dry_run"; reads are sent; nothing is
// checkpointed. On a terminal a progress bar (done/total, rate, ETA,
// failures) is redrawn up to 10 times a second; otherwise a progress line is
// logged every 5 seconds for long jobs. A summary line is logged at the
// end, then a line for each group of rows that need an operator (by
// status, code and sub_code, with an example).
// When the run is interrupted (SIGINT, SIGTERM, --timeout) the job stops
// taking rows, lets the calls in flight finish (for up to JobGrace),
// flushes its checkpoints, writes its report (the rows not started
// included) and raises an "interrupted" error.

// Job defaults and bounds.
const (
	// MaxJobConcurrency bounds the concurrency a script gives job.run.
	MaxJobConcurrency = MaxAutoConcurrency
	// JobGrace is how long calls in flight may take to finish once the run
	// is interrupted; after it they are cancelled (a write then reports
	// unknown_outcome when it may have been sent).
	JobGrace = 20 * time.Second
)

// Row statuses, as the report and checkpoints spell them.
const (
	statusOK      = "ok"
	statusFailed  = "failed"
	statusUnknown = "unknown"
	statusSkipped = "skipped"
	statusDryRun  = "dry_run"
	// statusNotStarted is a row the job never got to: the run was
	// interrupted, or the job stopped early.
	statusNotStarted = "not_started"
	// statusLate is a row this run sent whose answer came after its claim
	// had passed to another run: the other run's record stands.
	statusLate = "late"
)

// jobCheckpointNS is the state namespace of a job's checkpoints.
func jobCheckpointNS(name string) string { return "job:" + name }

// openJob builds the job module table.
func (h *host) openJob(L *lua.LState) *lua.LTable {
	mod := L.NewTable()
	L.SetFuncs(mod, map[string]lua.LGFunction{"run": h.jobRun, "reset": h.jobReset})
	return mod
}

// jobReset is job.reset(name[, key]) → number of checkpoints removed. The
// late answers kept for the same rows (jobLateNS) go too; the removal is
// one commit.
func (h *host) jobReset(L *lua.LState) int {
	name, ok := L.Get(1).(lua.LString)
	if !ok || name == "" {
		L.RaiseError("job.reset: the job name must be a non-empty string, got %s", stdlib.Describe(L.Get(1)))
	}
	c := h.ctx(L)
	var key string
	switch k := L.Get(2).(type) {
	case *lua.LNilType:
	case lua.LString:
		key = string(k)
	case lua.LNumber:
		key = numtext.Format(float64(k))
	default:
		L.RaiseError("job.reset: the key must be a string, got %s", stdlib.Describe(k))
	}
	n, err := ResetJob(c, h.store, string(name), key)
	if err != nil {
		L.RaiseError("job.reset: %v", err)
	}
	L.Push(lua.LNumber(n))
	return 1
}

// job is one job.run in progress.
type job struct {
	h    *host
	L    *lua.LState
	spec *jobSpec
	ns   string
	log  *slog.Logger

	rows    *rowStore
	columns []string
	report  *jobReport
	tally   tally
	prog    *progress
	sum     JobSummary
	start   time.Time

	// claims and token, when the store is a state.Claimer (not under
	// dry-run): each row is claimed before its call is sent, so processes
	// running the same job on one shared store split the rows.
	claims state.Claimer
	token  string
	// storeDown is set once the store failed: nothing more is asked of it
	// but the checkpoints (which are not written either).
	storeDown bool
}

// jobRun is job.run(spec) → summary.
func (h *host) jobRun(L *lua.LState) int {
	spec := checkJobSpec(L)
	if spec.report != "" && h.report != nil {
		spec.report = h.report(spec.report)
	}
	j := &job{h: h, L: L, spec: spec, ns: jobCheckpointNS(spec.name), log: h.c.log, start: h.now()}
	j.sum = JobSummary{Name: spec.name, DryRun: h.c.dryRun, Report: spec.report}
	c := h.ctx(L)
	if cl, ok := h.store.(state.Claimer); ok && !h.c.dryRun {
		j.claims, j.token = cl, state.NewToken()
	}

	if src := stdlib.RowsSource(spec.rows); src != "" && spec.report != "" && samePath(src, spec.report) {
		L.RaiseError("job.run %s: the report %s is the job's input file (%s): writing it would overwrite the input; give the report another path",
			spec.name, spec.report, src)
	}
	err := j.readRows()
	defer j.rows.close()
	if err != nil {
		L.RaiseError("job.run %s: %v", spec.name, err)
	}
	j.sum.Total = j.rows.len()
	if err := j.loadCheckpoints(c); err != nil {
		L.RaiseError("job.run %s: reading checkpoints: %v", spec.name, err)
	}
	if spec.report != "" {
		rep, err := newJobReport(spec.report, h.runID, j.columns, j.rows.len(), h.redact)
		if err != nil {
			L.RaiseError("job.run %s: report: %v", spec.name, err)
		}
		j.report = rep
		defer rep.spool.Close()
		j.sum.ReportFile = rep.file
	}
	j.prog = newProgress(h, spec.name, j.rows.len())
	fatal := j.dispatch(c)
	j.prog.stop()
	if c.Err() != nil {
		j.sum.Interrupted = true
	}
	j.sum.Pending = j.notStarted(j.stopReason(c, fatal))
	j.sum.Groups = j.tally.list()
	if j.report != nil {
		if err := j.writeReportFile(); err != nil && fatal == nil {
			fatal = fmt.Errorf("report %s: %v", spec.report, err)
		}
	}
	j.sum.Duration = h.now().Sub(j.start)
	j.logSummary()
	if h.onJob != nil {
		h.onJob(j.sum)
	}
	if fatal != nil {
		var le *luaError
		if errors.As(fatal, &le) {
			L.Error(le.value, 0) // the script's own error value, unchanged
		}
		L.RaiseError("job.run %s: %v", spec.name, fatal)
	}
	if j.sum.Interrupted {
		L.RaiseError("job.run %s: interrupted: %v (%d rows not started; checkpoints and report are saved: run again to continue)",
			spec.name, context.Cause(c), j.sum.Pending)
	}
	L.Push(j.summaryTable())
	return 1
}

// stopReason says why rows were not started: the run's interrupt, the
// error that stopped the job, or the state store that failed.
func (j *job) stopReason(c context.Context, fatal error) string {
	switch {
	case c.Err() != nil:
		return fmt.Sprintf("the run was interrupted (%v) before the job got to this row", context.Cause(c))
	case j.sum.StoreError != "":
		return "the job stopped when the state store failed (" + j.sum.StoreError + ")"
	case fatal != nil:
		return "the job stopped: " + fatal.Error()
	}
	return "the job ended before it got to this row"
}

// samePath reports whether paths a and b name the same file: the same
// file when both exist (os.SameFile: links, ./ and other spellings), else
// the same cleaned absolute path.
func samePath(a, b string) bool {
	if fa, err := os.Stat(a); err == nil {
		if fb, err := os.Stat(b); err == nil {
			return os.SameFile(fa, fb)
		}
	}
	aa, err1 := filepath.Abs(a)
	bb, err2 := filepath.Abs(b)
	return err1 == nil && err2 == nil && aa == bb
}

// luaError carries an error raised by the script's own functions.
type luaError struct {
	value lua.LValue
	msg   string
}

func (e *luaError) Error() string { return e.msg }

// pcall calls fn with args on the script's thread and returns its results.
// what says what failed ("key function failed on row 3"); its first word
// or two name the callback for the yield guard.
func (j *job) pcall(fn lua.LValue, nret int, what string, args ...lua.LValue) ([]lua.LValue, error) {
	L := j.L
	callback, _, _ := strings.Cut(what, " failed")
	prev, had := j.h.noYield[L]
	j.h.noYield[L] = callback
	defer func() {
		if had {
			j.h.noYield[L] = prev
		} else {
			delete(j.h.noYield, L)
		}
	}()
	base := L.GetTop()
	if err := L.CallByParam(lua.P{Fn: fn, NRet: nret, Protect: true}, args...); err != nil {
		var ae *lua.ApiError
		if errors.As(err, &ae) {
			return nil, &luaError{value: ae.Object, msg: what + ": " + stdlib.FormatLine(L, ae.Object, 300)}
		}
		return nil, fmt.Errorf("%s: %v", what, err)
	}
	rets := make([]lua.LValue, nret)
	for i := 0; i < nret; i++ {
		rets[i] = L.Get(base + 1 + i)
	}
	L.SetTop(base)
	return rets, nil
}
