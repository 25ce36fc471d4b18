package luatop

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
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
//	  rows = csv.rows(arg[1]),                   -- iterator or array (required)
//	  key  = function(r) return r.num_iid .. ":" .. r.properties end,  -- unique per row (required)
//	  call = function(r) return "taobao.item.sku.price.update",
//	           {num_iid = r.num_iid, properties = r.properties, price = r.price} end,
//	  concurrency = 4,                            -- calls in flight (default 4)
//	  report = "prices.report.csv",               -- optional report file
//	  on_result = function(row, result, err) end, -- optional, on the script's thread
//	  resend_unknown = false,                     -- see "Unknown outcomes"
//	  columns = {"num_iid", "properties", "price"}, -- report's input columns (optional)
//	}
//	-- summary = {name=, total=, ok=, failed=, skipped=, unknown=, not_sent=, dry_run=, report=}
//
// # How a job runs
//
// The rows are read first, on the script's thread: every key is computed
// and checked (a duplicate key is an error naming both rows, raised before
// anything is sent), and the job's checkpoints are looked up. Then call(row)
// returns the method, params and optional opts (session, timeout, retries,
// simplify) of each row still to do — returning nothing skips the row — and
// the calls run on up to concurrency goroutines (the package's one runner)
// through the host's client, so the throttle, retries, bans and closure
// windows apply to them as to top.call. Results come back to the script's
// thread, where they are checkpointed, written to the report and passed to
// on_result(row, result, err) (err is a TOP error value, result nil on
// failure).
//
// The files: jobspec.go (the argument table), jobrows.go (rows, keys and
// the report's input columns), jobcheckpoint.go (checkpoints and claims),
// jobdispatch.go (the dispatcher), jobreport.go (the report),
// jobsummary.go (the summary, its log line and the progress display).
//
// # Checkpoints
//
// A row whose call succeeded is checkpointed in the namespace "job:<name>"
// of the state store, durably (results that arrive together are committed
// as one batch), before the job sends another call: a process killed at any
// moment re-sends at most the calls that were in flight. On the next run,
// rows checkpointed ok are skipped (status "skipped") and failed rows are
// tried again. job.reset(name) forgets every checkpoint of a job (job.reset(name,
// key) one of them); state.open("job:<name>") reads them.
//
// # Several processes
//
// With a store shared by several processes (state.Claimer: the Redis
// backend), each row is claimed before its call is sent and released once
// its checkpoint is saved, so processes running the same job (same name,
// same store) over the same rows split them and send each row once. A row
// another process holds is put aside and looked at again every
// jobClaimPoll once the other rows are dispatched: done there, it counts as
// skipped ("done by another run"); left unknown there, it is not re-sent;
// released without a checkpoint (it failed there), it is tried here. The
// store keeps claims alive while the process lives; the claims of a process
// that died expire after their lease and its rows are taken over. Dry runs
// claim nothing.
//
// # Unknown outcomes
//
// A write whose request may have reached the platform without an answer
// (a timeout after sending, a dropped connection; error kind
// unknown_outcome) is not retried by the client. The job checkpoints it as
// "unknown", reports it with status "unknown" and does not send it again on
// later runs: re-sending could apply it twice. Check those rows on the
// platform, then either forget them (job.reset(name, key)) or run the job
// once with resend_unknown = true. Unknown rows count as failed for the exit
// code (topscript run exits 3), since they need an operator.
//
// # Report
//
// report names a CSV file (UTF-8 with a BOM, for Excel; written by the
// same writer as csv.writer) rewritten by each run and written as rows
// finish: key, status (ok, failed, unknown, skipped, dry_run), code,
// sub_code, message, request_id, then the input columns — the CSV header
// when rows come from csv.rows or csv.read, else columns, else the first
// row's keys in sorted order.
//
// # Dry run, progress, interrupts
//
// Under --dry-run, writes are not sent but logged with their parameters
// (secrets redacted) and reported as "dry_run"; reads are sent; nothing is
// checkpointed. On a terminal a progress bar (done/total, rate, ETA,
// failures) is redrawn up to 10 times a second; otherwise a progress line is
// logged every 5 seconds for long jobs. A summary line is logged at the end.
// When the run is interrupted (SIGINT, SIGTERM, --timeout) the job stops
// taking rows, lets the calls in flight finish (for up to JobGrace),
// flushes its checkpoints and report, and raises an "interrupted" error.

// Job defaults and bounds.
const (
	// DefaultJobConcurrency is job.run's concurrency when none is given.
	DefaultJobConcurrency = 4
	// MaxJobConcurrency bounds job.run's concurrency.
	MaxJobConcurrency = 64
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
)

// jobCheckpointNS is the state namespace of a job's checkpoints.
func jobCheckpointNS(name string) string { return "job:" + name }

// openJob builds the job module table.
func (h *host) openJob(L *lua.LState) *lua.LTable {
	mod := L.NewTable()
	L.SetFuncs(mod, map[string]lua.LGFunction{"run": h.jobRun, "reset": h.jobReset})
	return mod
}

// jobReset is job.reset(name[, key]) → number of checkpoints removed.
func (h *host) jobReset(L *lua.LState) int {
	name, ok := L.Get(1).(lua.LString)
	if !ok || name == "" {
		L.RaiseError("job.reset: the job name must be a non-empty string, got %s", stdlib.Describe(L.Get(1)))
	}
	ns := jobCheckpointNS(string(name))
	c := h.ctx(L)
	var keys []string
	switch k := L.Get(2).(type) {
	case *lua.LNilType:
		all, err := h.store.Keys(c, ns)
		if err != nil {
			L.RaiseError("job.reset: %v", err)
		}
		keys = all
	case lua.LString:
		keys = []string{string(k)}
	case lua.LNumber:
		keys = []string{numtext.Format(float64(k))}
	default:
		L.RaiseError("job.reset: the key must be a string, got %s", stdlib.Describe(k))
	}
	n := 0
	for _, k := range keys {
		if _, found, err := h.store.Get(c, ns, k); err != nil {
			L.RaiseError("job.reset: %v", err)
		} else if !found {
			continue
		}
		if err := h.store.Delete(c, ns, k); err != nil {
			L.RaiseError("job.reset: %v", err)
		}
		n++
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

	rows    []*jobRow
	columns []string
	report  *jobReport
	prog    *progress
	sum     JobSummary
	start   time.Time

	// claims and token, when the store is a state.Claimer (not under
	// dry-run): each row is claimed before its call is sent, so processes
	// running the same job on one shared store split the rows.
	claims state.Claimer
	token  string
}

// jobRun is job.run(spec) → summary.
func (h *host) jobRun(L *lua.LState) int {
	spec := checkJobSpec(L)
	j := &job{h: h, L: L, spec: spec, ns: jobCheckpointNS(spec.name), log: h.c.log, start: h.now()}
	j.sum = JobSummary{Name: spec.name, DryRun: h.c.dryRun, Report: spec.report}
	c := h.ctx(L)
	if cl, ok := h.store.(state.Claimer); ok && !h.c.dryRun {
		j.claims, j.token = cl, state.NewToken()
	}

	if err := j.readRows(); err != nil {
		L.RaiseError("job.run %s: %v", spec.name, err)
	}
	j.sum.Total = len(j.rows)
	if err := j.loadCheckpoints(c); err != nil {
		L.RaiseError("job.run %s: reading checkpoints: %v", spec.name, err)
	}
	if spec.report != "" {
		rep, err := newJobReport(spec.report, j.columns)
		if err != nil {
			L.RaiseError("job.run %s: report: %v", spec.name, err)
		}
		j.report = rep
	}
	j.prog = newProgress(h, spec.name, len(j.rows))
	fatal := j.dispatch(c)
	j.prog.stop()
	if j.report != nil {
		if err := j.report.close(); err != nil && fatal == nil {
			fatal = fmt.Errorf("report %s: %v", spec.report, err)
		}
	}
	j.sum.Duration = h.now().Sub(j.start)
	if c.Err() != nil {
		j.sum.Interrupted = true
	}
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

// luaError carries an error raised by the script's own functions.
type luaError struct {
	value lua.LValue
	msg   string
}

func (e *luaError) Error() string { return e.msg }

// pcall calls fn with args on the script's thread and returns its results.
func (j *job) pcall(fn lua.LValue, nret int, what string, args ...lua.LValue) ([]lua.LValue, error) {
	L := j.L
	base := L.GetTop()
	if err := L.CallByParam(lua.P{Fn: fn, NRet: nret, Protect: true}, args...); err != nil {
		var ae *lua.ApiError
		if errors.As(err, &ae) {
			return nil, &luaError{value: ae.Object, msg: what + ": " + L.ToStringMeta(ae.Object).String()}
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
