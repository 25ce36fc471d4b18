package stdlib

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/topscript/topscript/state"
	"github.com/topscript/topscript/top"
	"github.com/topscript/topscript/top/catalog"
	"github.com/topscript/topscript/toptime"
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
// the calls run on up to concurrency goroutines through the host's client,
// so the throttle, retries, bans and closure windows apply to them as to
// top.call. Results come back to the script's thread, where they are
// checkpointed, written to the report and passed to on_result(row, result,
// err) (err is a TOP error value, result nil on failure).
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
// report names a CSV file (UTF-8 with a BOM, for Excel) rewritten by each
// run and written as rows finish: key, status (ok, failed, unknown,
// skipped, dry_run), code, sub_code, message, request_id, then the input
// columns — the CSV header when rows come from csv.rows or csv.read, else
// columns, else the first row's keys in sorted order.
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

// JobSummary is the outcome of one job.run.
type JobSummary struct {
	Name     string
	Total    int  // input rows
	OK       int  // calls that succeeded this run (dry-run writes included)
	Failed   int  // calls that failed this run
	Skipped  int  // rows done in an earlier run, or whose call returned nothing
	Unknown  int  // rows whose outcome is unknown (this run or an earlier one)
	NotSent  int  // dry-run writes logged instead of sent
	Pending  int  // rows not started because the job was interrupted or failed
	DryRun   bool // run under --dry-run: nothing was checkpointed
	Report   string
	Duration time.Duration
	// Interrupted is true when the run's context ended the job early.
	Interrupted bool
}

// NeedsAttention reports whether rows failed or have an unknown outcome.
func (s JobSummary) NeedsAttention() bool { return s.Failed > 0 || s.Unknown > 0 }

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

func openJob(env *Env) lua.LGFunction {
	return func(L *lua.LState) int {
		newModule(L, map[string]lua.LGFunction{
			"run":   func(L *lua.LState) int { return jobRun(L, env) },
			"reset": func(L *lua.LState) int { return jobReset(L, env) },
		})
		return 1
	}
}

// jobReset is job.reset(name[, key]) → number of checkpoints removed.
func jobReset(L *lua.LState, env *Env) int {
	name, ok := L.Get(1).(lua.LString)
	if !ok || name == "" {
		L.RaiseError("job.reset: the job name must be a non-empty string, got %s", describe(L.Get(1)))
	}
	ns := jobCheckpointNS(string(name))
	ctx := env.context(L)
	st := env.store()
	var keys []string
	switch k := L.Get(2).(type) {
	case *lua.LNilType:
		all, err := st.Keys(ctx, ns)
		if err != nil {
			L.RaiseError("job.reset: %v", err)
		}
		keys = all
	case lua.LString:
		keys = []string{string(k)}
	case lua.LNumber:
		keys = []string{numberString(k)}
	default:
		L.RaiseError("job.reset: the key must be a string, got %s", describe(k))
	}
	n := 0
	for _, k := range keys {
		if _, found, err := st.Get(ctx, ns, k); err != nil {
			L.RaiseError("job.reset: %v", err)
		} else if !found {
			continue
		}
		if err := st.Delete(ctx, ns, k); err != nil {
			L.RaiseError("job.reset: %v", err)
		}
		n++
	}
	L.Push(lua.LNumber(n))
	return 1
}

// jobSpec is job.run's argument table.
type jobSpec struct {
	name          string
	rows          lua.LValue
	key, call     *lua.LFunction
	onResult      *lua.LFunction
	concurrency   int
	report        string
	resendUnknown bool
	columns       []string
}

var jobFields = map[string]bool{
	"name": true, "rows": true, "key": true, "call": true, "concurrency": true,
	"report": true, "on_result": true, "resend_unknown": true, "columns": true,
}

func checkJobSpec(L *lua.LState) *jobSpec {
	t, ok := L.Get(1).(*lua.LTable)
	if !ok {
		L.RaiseError("job.run: want a table {name=, rows=, key=, call=, ...}, got %s", describe(L.Get(1)))
	}
	var unknown []string
	t.ForEach(func(k, _ lua.LValue) {
		if s, ok := k.(lua.LString); !ok || !jobFields[string(s)] {
			unknown = append(unknown, L.ToStringMeta(k).String())
		}
	})
	if len(unknown) > 0 {
		sort.Strings(unknown)
		L.RaiseError("job.run: unknown field %q (fields: name, rows, key, call, concurrency, report, on_result, resend_unknown, columns)", unknown[0])
	}
	s := &jobSpec{concurrency: DefaultJobConcurrency}
	name, ok := t.RawGetString("name").(lua.LString)
	if !ok || strings.TrimSpace(string(name)) == "" {
		L.RaiseError("job.run: name is required: a non-empty string naming the job's checkpoints, got %s", describe(t.RawGetString("name")))
	}
	s.name = string(name)
	s.rows = t.RawGetString("rows")
	switch s.rows.(type) {
	case *lua.LTable, *lua.LFunction:
	default:
		L.RaiseError("job.run: rows is required: an array or an iterator such as csv.rows(path), got %s", describe(s.rows))
	}
	fn := func(field, what string, required bool) *lua.LFunction {
		v := t.RawGetString(field)
		if f, ok := v.(*lua.LFunction); ok {
			return f
		}
		if v == lua.LNil && !required {
			return nil
		}
		if v == lua.LNil {
			L.RaiseError("job.run: %s is required: %s", field, what)
		}
		L.RaiseError("job.run: %s must be a function (%s), got %s", field, what, describe(v))
		return nil
	}
	s.key = fn("key", "function(row) returning the row's unique key", true)
	s.call = fn("call", "function(row) returning method, params[, opts]", true)
	s.onResult = fn("on_result", "function(row, result, err)", false)
	switch c := t.RawGetString("concurrency").(type) {
	case *lua.LNilType:
	case lua.LNumber:
		if c < 1 || c > MaxJobConcurrency || float64(c) != float64(int(c)) {
			L.RaiseError("job.run: concurrency must be an integer from 1 to %d, got %v", MaxJobConcurrency, c)
		}
		s.concurrency = int(c)
	default:
		L.RaiseError("job.run: concurrency must be a number, got %s", describe(c))
	}
	switch r := t.RawGetString("report").(type) {
	case *lua.LNilType:
	case lua.LString:
		s.report = string(r)
	default:
		L.RaiseError("job.run: report must be a file path, got %s", describe(r))
	}
	switch r := t.RawGetString("resend_unknown").(type) {
	case *lua.LNilType:
	case lua.LBool:
		s.resendUnknown = bool(r)
	default:
		L.RaiseError("job.run: resend_unknown must be a boolean, got %s", describe(r))
	}
	switch c := t.RawGetString("columns").(type) {
	case *lua.LNilType:
	case *lua.LTable:
		for i := 1; i <= c.Len(); i++ {
			s.columns = append(s.columns, L.ToStringMeta(c.RawGetInt(i)).String())
		}
	default:
		L.RaiseError("job.run: columns must be an array of column names, got %s", describe(c))
	}
	return s
}

// jobRow is one input row.
type jobRow struct {
	n     int // position in the input, from 1
	line  int // CSV line when the iterator gave one
	val   lua.LValue
	key   string
	cells []string // input columns for the report
	prev  checkpoint
	// elsewhere is set when prev was written by another process while
	// this job ran (a shared store).
	elsewhere bool
	claimed   bool // this run holds the row's claim
	deferred  bool // another process held the claim when the row came up
}

// where names the row in messages.
func (r *jobRow) where() string {
	if r.line > 0 {
		return fmt.Sprintf("row %d (line %d)", r.n, r.line)
	}
	return fmt.Sprintf("row %d", r.n)
}

// checkpoint is the stored state of a row.
type checkpoint struct {
	Status    string `json:"status"`
	RequestID string `json:"request_id,omitempty"`
	At        string `json:"at,omitempty"`
}

// jobCall is a call ready for a worker: no Lua values.
type jobCall struct {
	row    *jobRow
	method string
	params top.Params
	opts   *top.CallOptions
	dry    bool // a write under dry-run: not sent
}

// jobResult is a worker's answer.
type jobResult struct {
	call *jobCall
	resp *top.Response
	err  error
}

// job is one job.run in progress.
type job struct {
	env  *Env
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

func jobRun(L *lua.LState, env *Env) int {
	spec := checkJobSpec(L)
	j := &job{env: env, L: L, spec: spec, ns: jobCheckpointNS(spec.name), log: env.logger(), start: time.Now()}
	j.sum = JobSummary{Name: spec.name, DryRun: env.DryRun, Report: spec.report}
	ctx := env.context(L)
	if c, ok := env.store().(state.Claimer); ok && !env.DryRun {
		j.claims, j.token = c, state.NewToken()
	}

	if err := j.readRows(); err != nil {
		L.RaiseError("job.run %s: %v", spec.name, err)
	}
	j.sum.Total = len(j.rows)
	if err := j.loadCheckpoints(ctx); err != nil {
		L.RaiseError("job.run %s: reading checkpoints: %v", spec.name, err)
	}
	if spec.report != "" {
		rep, err := newJobReport(spec.report, j.columns)
		if err != nil {
			L.RaiseError("job.run %s: report: %v", spec.name, err)
		}
		j.report = rep
	}
	j.prog = newProgress(env, spec.name, len(j.rows))
	fatal := j.loop(ctx)
	j.prog.stop()
	if j.report != nil {
		if err := j.report.close(); err != nil && fatal == nil {
			fatal = fmt.Errorf("report %s: %v", spec.report, err)
		}
	}
	j.sum.Duration = time.Since(j.start)
	if ctx.Err() != nil {
		j.sum.Interrupted = true
	}
	j.logSummary()
	if env.OnJob != nil {
		env.OnJob(j.sum)
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
			spec.name, context.Cause(ctx), j.sum.Pending)
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
func (j *job) pcall(fn *lua.LFunction, nret int, what string, args ...lua.LValue) ([]lua.LValue, error) {
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

// readRows reads every row, computes the keys and checks they are unique.
func (j *job) readRows() error {
	var vals []lua.LValue
	var lines []int
	switch src := j.spec.rows.(type) {
	case *lua.LTable:
		n := src.Len()
		for i := 1; i <= n; i++ {
			vals = append(vals, src.RawGetInt(i))
		}
	case *lua.LFunction:
		for {
			rets, err := j.pcall(src, 2, "reading rows")
			if err != nil {
				return err
			}
			if rets[0] == lua.LNil {
				break
			}
			vals = append(vals, rets[0])
			line := 0
			if n, ok := rets[1].(lua.LNumber); ok {
				line = int(n)
			}
			lines = append(lines, line)
		}
	}
	j.columns = j.inputColumns(vals)
	seen := make(map[string]*jobRow, len(vals))
	j.rows = make([]*jobRow, len(vals))
	for i, v := range vals {
		r := &jobRow{n: i + 1, val: v}
		if i < len(lines) {
			r.line = lines[i]
		}
		rets, err := j.pcall(j.spec.key, 1, "key function failed on "+r.where(), v)
		if err != nil {
			return err
		}
		switch k := rets[0].(type) {
		case lua.LString:
			r.key = string(k)
		case lua.LNumber:
			r.key = numberString(k)
		default:
			return fmt.Errorf("key function returned %s for %s: want a non-empty string", describe(k), r.where())
		}
		if r.key == "" {
			return fmt.Errorf("key function returned an empty key for %s", r.where())
		}
		if first, dup := seen[r.key]; dup {
			return fmt.Errorf("duplicate key %q: %s and %s (keys must be unique per row)", r.key, first.where(), r.where())
		}
		seen[r.key] = r
		r.cells = j.cells(v)
		j.rows[i] = r
	}
	return nil
}

// inputColumns decides the report's input columns.
func (j *job) inputColumns(vals []lua.LValue) []string {
	if len(j.spec.columns) > 0 {
		return j.spec.columns
	}
	if h := rememberedColumns(j.L, j.spec.rows); len(h) > 0 {
		return h
	}
	if len(vals) == 0 {
		return nil
	}
	t, ok := vals[0].(*lua.LTable)
	if !ok {
		return []string{"row"}
	}
	var cols []string
	t.ForEach(func(k, v lua.LValue) {
		if s, ok := k.(lua.LString); ok {
			switch v.(type) {
			case lua.LString, lua.LNumber, lua.LBool:
				cols = append(cols, string(s))
			}
		}
	})
	sort.Strings(cols)
	return cols
}

// cells renders a row's input columns.
func (j *job) cells(v lua.LValue) []string {
	out := make([]string, len(j.columns))
	t, ok := v.(*lua.LTable)
	if !ok {
		if len(out) == 1 {
			out[0] = j.L.ToStringMeta(v).String()
		}
		return out
	}
	for i, c := range j.columns {
		switch x := t.RawGetString(c).(type) {
		case *lua.LNilType:
		case lua.LString:
			out[i] = string(x)
		case lua.LNumber:
			out[i] = numberString(x)
		case lua.LBool:
			out[i] = strconv.FormatBool(bool(x))
		}
	}
	return out
}

// loadCheckpoints reads the checkpoints of the job's rows.
func (j *job) loadCheckpoints(ctx context.Context) error {
	st := j.env.store()
	keys, err := st.Keys(ctx, j.ns)
	if err != nil {
		return err
	}
	if len(keys) == 0 {
		return nil
	}
	byKey := make(map[string]*jobRow, len(j.rows))
	for _, r := range j.rows {
		byKey[r.key] = r
	}
	for _, k := range keys {
		r := byKey[k]
		if r == nil {
			continue
		}
		raw, ok, err := st.Get(ctx, j.ns, k)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		r.prev = parseCheckpoint(raw)
	}
	return nil
}

// parseCheckpoint decodes a stored checkpoint (a JSON object, or a bare
// status from older versions).
func parseCheckpoint(raw []byte) checkpoint {
	var cp checkpoint
	if json.Unmarshal(raw, &cp) != nil || cp.Status == "" {
		cp.Status = strings.Trim(string(raw), `"`)
	}
	return cp
}

// loop dispatches the rows and processes the results. It returns the error
// that stopped the job early, if any (interrupts are not errors).
func (j *job) loop(ctx context.Context) error {
	callCtx, abort := context.WithCancel(context.WithoutCancel(ctx))
	defer abort()
	results := make(chan jobResult, j.spec.concurrency)
	var (
		next     int // next row to dispatch
		inflight int
		stopping bool
		fatal    error
		grace    *time.Timer
	)
	done := ctx.Done()
	stop := func() {
		if stopping {
			return
		}
		stopping = true
		if ctx.Err() != nil && inflight > 0 {
			j.log.Warn("job interrupted: waiting for the calls in flight", "job", j.spec.name, "in_flight", inflight, "grace", JobGrace.String())
			grace = time.AfterFunc(JobGrace, abort)
		}
	}
	defer func() {
		if grace != nil {
			grace.Stop()
		}
	}()
	unknownSkipped := 0
	// Rows another process has claimed wait in deferred and are tried
	// again in rounds (queue), every jobClaimPoll, once the other rows are
	// dispatched.
	var queue, deferred []*jobRow
	var retryAt, waitingSince time.Time
	waitLogged := false
	pick := func() *jobRow {
		if next < len(j.rows) {
			next++
			return j.rows[next-1]
		}
		if len(queue) == 0 && len(deferred) > 0 && !time.Now().Before(retryAt) {
			queue, deferred = deferred, nil
		}
		if len(queue) == 0 {
			return nil
		}
		r := queue[0]
		queue = queue[1:]
		return r
	}
	for {
		// Fill the free slots. Checkpoints of finished calls are durable at
		// this point, so at most concurrency calls are ever unrecorded.
		for !stopping && inflight < j.spec.concurrency {
			if ctx.Err() != nil {
				stop()
				break
			}
			r := pick()
			if r == nil {
				break
			}
			if skip, unk := j.skipRow(r); skip {
				if unk {
					unknownSkipped++
				}
				continue
			}
			if j.claims != nil {
				got, err := j.claim(ctx, r)
				if err != nil {
					if ctx.Err() == nil {
						fatal = err
					}
					stop()
					break
				}
				if !got {
					if len(deferred) == 0 {
						retryAt = time.Now().Add(jobClaimPoll)
					}
					deferred = append(deferred, r)
					continue
				}
				if skip, unk := j.skipRow(r); skip { // done by another process meanwhile
					j.unclaim(r)
					if unk {
						unknownSkipped++
					}
					continue
				}
			}
			c, err := j.prepare(r)
			if err != nil {
				j.unclaim(r)
				fatal = err
				stop()
				break
			}
			if c == nil {
				j.unclaim(r)
				j.sum.Skipped++
				j.prog.add(statusSkipped)
				j.writeReport(r, statusSkipped, nil, "nothing to send (call returned nil)", "")
				continue
			}
			inflight++
			go j.work(callCtx, c, results)
		}
		// Rows claimed elsewhere and not due yet: wake up for them.
		var due *time.Timer
		if !stopping && len(deferred) > 0 && len(queue) == 0 && next == len(j.rows) {
			due = time.NewTimer(time.Until(retryAt))
		}
		if inflight == 0 && due == nil {
			break
		}
		if inflight == 0 && !waitLogged {
			// Only rows other processes hold are left.
			if waitingSince.IsZero() {
				waitingSince = time.Now()
			} else if time.Since(waitingSince) > jobClaimWaitLog {
				waitLogged = true
				j.log.Info(fmt.Sprintf("job %s: waiting for %d rows claimed by another run (freed when it finishes them, or after the lease if it died)",
					j.spec.name, len(deferred)), "job", j.spec.name, "claimed_elsewhere", len(deferred))
			}
		}
		var batch []jobResult
		var dueC <-chan time.Time
		if due != nil {
			dueC = due.C
		}
		select {
		case res := <-results:
			batch = append(batch, res)
		case <-dueC:
		case <-done:
			done = nil
			stop()
		}
		if due != nil {
			due.Stop()
		}
		if len(batch) == 0 {
			continue
		}
	drain:
		for {
			select {
			case res := <-results:
				batch = append(batch, res)
			default:
				break drain
			}
		}
		inflight -= len(batch)
		if err := j.finish(ctx, batch, fatal != nil || stopping); err != nil {
			if fatal == nil {
				fatal = err
			}
			stop()
		}
	}
	j.sum.Pending = len(j.rows) - next + len(queue) + len(deferred)
	if unknownSkipped > 0 {
		j.log.Warn(fmt.Sprintf("job %s: %d rows have an unknown outcome from an earlier run and were not sent again: "+
			"check them on the platform, then forget them with job.reset(name, key) or run once with resend_unknown = true",
			j.spec.name, unknownSkipped), "job", j.spec.name, "unknown", unknownSkipped)
	}
	return fatal
}

// skipRow handles a row done in an earlier run; unk is true for an unknown
// outcome that is not re-sent.
func (j *job) skipRow(r *jobRow) (skip, unk bool) {
	switch r.prev.Status {
	case statusOK:
		j.sum.Skipped++
		j.prog.add(statusSkipped)
		msg := "done in an earlier run"
		if r.elsewhere {
			msg = "done by another run (another process sharing the checkpoints)"
		}
		j.writeReport(r, statusSkipped, nil, msg, r.prev.RequestID)
		return true, false
	case statusUnknown:
		if j.spec.resendUnknown {
			return false, false
		}
		j.sum.Unknown++
		j.prog.add(statusUnknown)
		j.writeReport(r, statusUnknown, nil, "outcome unknown since an earlier run: not sent again (verify on the platform, then job.reset or resend_unknown = true)", r.prev.RequestID)
		return true, true
	}
	return false, false
}

// jobClaimPoll is how often rows claimed by another process are tried
// again.
const jobClaimPoll = 200 * time.Millisecond

// jobClaimWaitLog is how long a job waits only for rows claimed elsewhere
// before it says so in the log.
const jobClaimWaitLog = 3 * time.Second

// claim claims r for this job run in the shared store and, once claimed,
// re-reads its checkpoint (another process may have finished it since the
// job started; r.prev then says so). A row deferred once is first looked
// up without claiming: it was most likely done meanwhile. It returns false
// when another process holds the row.
func (j *job) claim(ctx context.Context, r *jobRow) (bool, error) {
	if r.deferred {
		if err := j.reload(ctx, r); err != nil || r.prev.Status == statusOK {
			return err == nil, err
		}
	}
	ok, err := j.claims.Claim(ctx, j.ns, r.key, j.token, 0)
	if err != nil {
		return false, fmt.Errorf("claiming %s (key %q): %v", r.where(), r.key, err)
	}
	if !ok {
		r.deferred = true
		return false, nil
	}
	r.claimed = true
	if err := j.reload(ctx, r); err != nil {
		j.unclaim(r)
		return false, err
	}
	return true, nil
}

// reload re-reads the checkpoint of r.
func (j *job) reload(ctx context.Context, r *jobRow) error {
	raw, found, err := j.env.store().Get(ctx, j.ns, r.key)
	if err != nil {
		return fmt.Errorf("reading the checkpoint of %s: %v", r.where(), err)
	}
	if !found {
		return nil
	}
	cp := parseCheckpoint(raw)
	if cp != r.prev {
		r.prev, r.elsewhere = cp, true
	}
	return nil
}

// unclaim releases the claim on r, if any. A failure only delays other
// processes until the claim's lease runs out, so it is logged, not fatal.
func (j *job) unclaim(r *jobRow) {
	if !r.claimed {
		return
	}
	r.claimed = false
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := j.claims.Unclaim(ctx, j.ns, r.key, j.token); err != nil {
		j.log.Warn("job: cannot release a row's claim (other processes get it after its lease)", "job", j.spec.name, "key", r.key, "error", err.Error())
	}
}

// prepare runs call(row) and converts its results for a worker.
func (j *job) prepare(r *jobRow) (*jobCall, error) {
	rets, err := j.pcall(j.spec.call, 3, "call function failed on "+r.where(), r.val)
	if err != nil {
		return nil, err
	}
	if rets[0] == lua.LNil {
		return nil, nil
	}
	method, ok := rets[0].(lua.LString)
	if !ok || method == "" {
		return nil, fmt.Errorf("call function returned %s for %s: want a method name, params and optional opts", describe(rets[0]), r.where())
	}
	c := &jobCall{row: r, method: string(method)}
	switch p := rets[1].(type) {
	case *lua.LNilType:
	case *lua.LTable:
		g, err := FromLuaAt(p, "params", "a parameter")
		if err != nil {
			return nil, fmt.Errorf("%s: %v", r.where(), err)
		}
		m, ok := g.(map[string]any)
		if !ok {
			if l, isList := g.([]any); isList && len(l) == 0 {
				m = map[string]any{}
			} else {
				return nil, fmt.Errorf("%s: params must be a table of name = value pairs, not a list", r.where())
			}
		}
		c.params = top.Params(m)
	default:
		return nil, fmt.Errorf("%s: params must be a table, got %s", r.where(), describe(p))
	}
	if rets[2] != lua.LNil {
		o, err := jobCallOptions(rets[2])
		if err != nil {
			return nil, fmt.Errorf("%s: %v", r.where(), err)
		}
		c.opts = o
	}
	if j.env.DryRun && j.isWrite(c.method) {
		c.dry = true
		j.logDryRun(c)
	}
	return c, nil
}

func (j *job) isWrite(method string) bool {
	if j.env.Client != nil {
		return j.env.Client.IsWrite(method)
	}
	return catalog.IsWrite(method)
}

// logDryRun logs a write that dry-run does not send, secrets redacted
// (the client's Redact is nil-safe: without a client it hides the secret
// parameters).
func (j *job) logDryRun(c *jobCall) {
	params := j.env.Client.Redact(top.FormatParams(c.params))
	j.log.Info("dry-run: would call "+c.method, "method", c.method, "params", params, "job", j.spec.name, "key", c.row.key)
}

// jobCallOptions converts the opts call(row) may return.
func jobCallOptions(v lua.LValue) (*top.CallOptions, error) {
	t, ok := v.(*lua.LTable)
	if !ok {
		return nil, fmt.Errorf("opts must be a table, got %s", describe(v))
	}
	o := &top.CallOptions{Retries: -1}
	var err error
	t.ForEach(func(k, val lua.LValue) {
		if err != nil {
			return
		}
		name := lua.LVAsString(k)
		known, cerr := SetCallOption(o, name, val)
		switch {
		case cerr != nil:
			err = cerr
		case !known:
			err = fmt.Errorf("unknown option %q (%s)", name, strings.Join(CallOptionNames, ", "))
		}
	})
	return o, err
}

// work performs one call on a worker goroutine. It touches no Lua state.
func (j *job) work(ctx context.Context, c *jobCall, out chan<- jobResult) {
	res := jobResult{call: c}
	defer func() {
		if p := recover(); p != nil {
			res.resp = nil
			res.err = &top.Error{Method: c.method, Kind: top.KindTransport,
				Msg: fmt.Sprintf("internal error: %v", p), Err: fmt.Errorf("%v\n%s", p, debug.Stack())}
		}
		out <- res
	}()
	switch {
	case c.dry:
		res.resp = &top.Response{Method: c.method, Payload: map[string]any{"dry_run": true}}
	case j.env.Client == nil:
		res.err = &top.Error{Method: c.method, Kind: top.KindInvalid, Msg: NoClientMsg}
	default:
		res.resp, res.err = j.env.Client.Call(ctx, c.method, c.params, c.opts)
	}
}

// outcome classifies a result: status, and the TOP error when it failed.
func outcome(res jobResult) (string, *top.Error) {
	if res.err == nil {
		if res.call.dry {
			return statusDryRun, nil
		}
		return statusOK, nil
	}
	var te *top.Error
	if !errors.As(res.err, &te) {
		te = &top.Error{Method: res.call.method, Kind: top.KindTransport, Msg: res.err.Error(), Err: res.err}
	}
	if te.Kind == top.KindUnknownOutcome {
		return statusUnknown, te
	}
	return statusFailed, te
}

// finish records a batch of results: checkpoints first (one durable
// commit), then the report, the counters and on_result. quiet skips
// on_result (the job is stopping).
func (j *job) finish(ctx context.Context, batch []jobResult, quiet bool) error {
	if !j.env.DryRun {
		cps := map[string][]byte{}
		var forget []string
		now := toptime.Format(time.Now())
		for _, res := range batch {
			status, _ := outcome(res)
			cp := checkpoint{Status: status, At: now}
			switch status {
			case statusOK:
				cp.RequestID = res.resp.RequestID
			case statusUnknown:
				_, te := outcome(res)
				cp.RequestID = te.RequestID
			case statusFailed:
				if res.call.row.prev.Status == statusUnknown {
					forget = append(forget, res.call.row.key) // re-sent and failed: an ordinary failed row now
				}
				continue
			default:
				continue
			}
			b, _ := json.Marshal(cp)
			cps[res.call.row.key] = b
		}
		// The checkpoint must be written even when the run was interrupted.
		wctx := context.WithoutCancel(ctx)
		if err := j.env.store().SetMany(wctx, j.ns, cps); err != nil {
			return fmt.Errorf("saving checkpoints: %v", err)
		}
		for _, k := range forget {
			if err := j.env.store().Delete(wctx, j.ns, k); err != nil {
				return fmt.Errorf("saving checkpoints: %v", err)
			}
		}
		// Checkpoints first, then the claims go: another process that
		// claims a row next sees how it ended.
		for _, res := range batch {
			j.unclaim(res.call.row)
		}
	}
	var cbErr error
	for _, res := range batch {
		status, te := outcome(res)
		r := res.call.row
		switch status {
		case statusOK:
			j.sum.OK++
		case statusDryRun:
			j.sum.OK++
			j.sum.NotSent++
		case statusUnknown:
			j.sum.Unknown++
			j.log.Warn("job row outcome unknown: not retried", "job", j.spec.name, "key", r.key, "error", te.Error())
		case statusFailed:
			j.sum.Failed++
			j.log.Debug("job row failed", "job", j.spec.name, "key", r.key, "error", te.Error())
		}
		j.prog.add(status)
		reqID := ""
		if res.resp != nil {
			reqID = res.resp.RequestID
		}
		j.writeReport(r, status, te, "", reqID)
		if j.spec.onResult != nil && !quiet && cbErr == nil && ctx.Err() == nil {
			var result, errv lua.LValue = lua.LNil, lua.LNil
			if res.resp != nil {
				result = ToLua(j.L, res.resp.Payload)
			}
			if te != nil {
				errv = TopErrorValue(j.L, te)
			}
			if _, err := j.pcall(j.spec.onResult, 0, "on_result failed on "+r.where(), r.val, result, errv); err != nil {
				cbErr = err
			}
		}
	}
	if j.report != nil {
		if err := j.report.flush(); err != nil && cbErr == nil {
			cbErr = fmt.Errorf("report %s: %v", j.spec.report, err)
		}
	}
	return cbErr
}

// writeReport adds a row to the report, if there is one.
func (j *job) writeReport(r *jobRow, status string, te *top.Error, msg, reqID string) {
	if j.report == nil {
		return
	}
	code, sub := "", ""
	if te != nil {
		if te.Code != 0 {
			code = strconv.Itoa(te.Code)
		}
		sub = te.SubCode
		msg = errorMessage(te)
		if te.RequestID != "" {
			reqID = te.RequestID
		}
	}
	j.report.row(append([]string{r.key, status, code, sub, msg, reqID}, r.cells...))
}

// errorMessage is the report's message of a TOP error: the sub_msg (the
// useful part of a business error), else the message, with the kind of
// client-side errors.
func errorMessage(te *top.Error) string {
	parts := []string{}
	if te.Msg != "" {
		parts = append(parts, te.Msg)
	}
	if te.SubMsg != "" {
		parts = append(parts, te.SubMsg)
	}
	msg := strings.Join(parts, ": ")
	if te.Code == 0 && te.Kind != "" {
		msg = string(te.Kind) + ": " + msg
	}
	return strings.Join(strings.Fields(msg), " ")
}

// summaryTable is the summary returned to the script.
func (j *job) summaryTable() *lua.LTable {
	L := j.L
	t := L.CreateTable(0, 10)
	s := j.sum
	t.RawSetString("name", lua.LString(s.Name))
	t.RawSetString("total", lua.LNumber(s.Total))
	t.RawSetString("ok", lua.LNumber(s.OK))
	t.RawSetString("failed", lua.LNumber(s.Failed))
	t.RawSetString("skipped", lua.LNumber(s.Skipped))
	t.RawSetString("unknown", lua.LNumber(s.Unknown))
	t.RawSetString("not_sent", lua.LNumber(s.NotSent))
	t.RawSetString("dry_run", lua.LBool(s.DryRun))
	t.RawSetString("seconds", lua.LNumber(s.Duration.Seconds()))
	if s.Report != "" {
		t.RawSetString("report", lua.LString(s.Report))
	}
	return t
}

// logSummary logs the one summary line of the job.
func (j *job) logSummary() {
	s := j.sum
	attrs := []any{"job", s.Name, "total", s.Total, "ok", s.OK, "failed", s.Failed,
		"skipped", s.Skipped, "unknown", s.Unknown, "duration", s.Duration.Round(time.Millisecond).String()}
	if s.DryRun {
		attrs = append(attrs, "dry_run", true, "not_sent", s.NotSent)
	}
	if s.Pending > 0 {
		attrs = append(attrs, "not_started", s.Pending)
	}
	if s.Report != "" {
		attrs = append(attrs, "report", s.Report)
	}
	switch {
	case s.Interrupted:
		j.log.Warn("job interrupted", attrs...)
	case s.NeedsAttention():
		j.log.Warn("job finished with rows needing attention", attrs...)
	default:
		j.log.Info("job finished", attrs...)
	}
}

// jobReport writes the report CSV as rows finish.
type jobReport struct {
	f *os.File
	b *bufio.Writer
	w *csv.Writer
}

// reportColumns are the report's own columns, before the input columns.
var reportColumns = []string{"key", "status", "code", "sub_code", "message", "request_id"}

func newJobReport(path string, input []string) (*jobReport, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	r := &jobReport{f: f, b: bufio.NewWriter(f)}
	r.b.WriteString("\uFEFF")
	r.w = csv.NewWriter(r.b)
	header := append([]string{}, reportColumns...)
	own := map[string]bool{}
	for _, c := range reportColumns {
		own[c] = true
	}
	for _, c := range input {
		if own[c] {
			c = "input_" + c // an input column named like one of ours
		}
		header = append(header, c)
	}
	r.row(header)
	return r, r.flush()
}

func (r *jobReport) row(rec []string) { _ = r.w.Write(rec) }

func (r *jobReport) flush() error {
	r.w.Flush()
	if err := r.w.Error(); err != nil {
		return err
	}
	return r.b.Flush()
}

func (r *jobReport) close() error {
	err := r.flush()
	if cerr := r.f.Close(); err == nil {
		err = cerr
	}
	return err
}

// The CSV header of rows read by csv.rows and csv.read is remembered per
// iterator function (or array) in the Lua state's registry, so job.run can
// give the report the input columns in file order.
const regColumns = "topscript.stdlib.columns"

// rememberColumns records header as the columns of the rows v yields.
func rememberColumns(L *lua.LState, v lua.LValue, header []string) {
	reg, ok := L.G.Registry.RawGetString(regColumns).(*lua.LTable)
	if !ok {
		reg = L.NewTable()
		L.G.Registry.RawSetString(regColumns, reg)
	}
	h := L.CreateTable(len(header), 0)
	for i, c := range header {
		h.RawSetInt(i+1, lua.LString(c))
	}
	reg.RawSet(v, h)
}

// rememberedColumns returns the header recorded for v, if any.
func rememberedColumns(L *lua.LState, v lua.LValue) []string {
	reg, ok := L.G.Registry.RawGetString(regColumns).(*lua.LTable)
	if !ok {
		return nil
	}
	h, ok := reg.RawGet(v).(*lua.LTable)
	if !ok {
		return nil
	}
	out := make([]string, 0, h.Len())
	for i := 1; i <= h.Len(); i++ {
		out = append(out, lua.LVAsString(h.RawGetInt(i)))
	}
	return out
}
