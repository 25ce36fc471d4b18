package luatop

import (
	"context"
	"fmt"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/topscript/topscript/stdlib"
	"github.com/topscript/topscript/top"
)

// dispatcher sends a job's rows and records their results. It runs on the
// script's thread; the calls run on the package's runner, at most
// concurrency at a time. Checkpoints of finished calls are durable before
// another call starts, so at most concurrency calls are ever unrecorded.
type dispatcher struct {
	j     *job
	ctx   context.Context    // the run's: its end stops the job taking rows
	run   *runner            // sends under a context that outlives ctx by JobGrace
	abort context.CancelFunc // cancels the calls in flight
	grace *time.Timer        // set once interrupted with calls in flight
	done  <-chan struct{}    // ctx.Done(), until it has been seen

	next     int // the next row of j.rows to dispatch
	inflight int
	stopping bool  // no new rows: interrupted, or fatal
	fatal    error // what stopped the job early (interrupts are not errors)

	// Rows another process has claimed wait in deferred and are tried
	// again in rounds (queue), every jobClaimPoll (poll), once the other
	// rows are dispatched.
	queue, deferred []*jobRow
	poll            *time.Timer // runs while rows are deferred; nil once it fired
	pollDue         bool
	idleRounds      int  // polls waited with only claimed-elsewhere rows left
	waitLogged      bool // the wait for them has been logged
	unknownSkipped  int  // rows left unknown by an earlier run, not re-sent
}

// dispatch sends the rows and records the results. It returns the error
// that stopped the job early, if any (interrupts are not errors).
func (j *job) dispatch(ctx context.Context) error {
	callCtx, abort := context.WithCancel(context.WithoutCancel(ctx))
	defer abort()
	conc := j.spec.concurrency
	d := &dispatcher{j: j, ctx: ctx, abort: abort, done: ctx.Done(), run: j.h.c.newRunner(callCtx, conc, conc)}
	defer d.stopTimers()
	for {
		d.fill()
		batch, more := d.await()
		if !more {
			break
		}
		if len(batch) > 0 {
			d.record(batch)
		}
	}
	j.sum.Pending = len(j.rows) - d.next + len(d.queue) + len(d.deferred)
	if d.unknownSkipped > 0 {
		j.log.Warn(fmt.Sprintf("job %s: %d rows have an unknown outcome from an earlier run and were not sent again: "+
			"check them on the platform, then forget them with job.reset(name, key) or run once with resend_unknown = true",
			j.spec.name, d.unknownSkipped), "job", j.spec.name, "unknown", d.unknownSkipped)
	}
	return d.fatal
}

// fill starts rows until every slot is taken or no row is ready.
func (d *dispatcher) fill() {
	for !d.stopping && d.inflight < d.j.spec.concurrency {
		if d.ctx.Err() != nil {
			d.stop()
			return
		}
		r := d.pick()
		if r == nil {
			return
		}
		if err := d.admit(r); err != nil {
			d.fail(err)
			return
		}
	}
}

// pick returns the next row to look at: the input's, then the rows
// claimed elsewhere once their poll is due; nil when none is ready.
func (d *dispatcher) pick() *jobRow {
	if d.next < len(d.j.rows) {
		d.next++
		return d.j.rows[d.next-1]
	}
	if len(d.queue) == 0 && len(d.deferred) > 0 && d.due() {
		d.queue, d.deferred = d.deferred, nil
	}
	if len(d.queue) == 0 {
		return nil
	}
	r := d.queue[0]
	d.queue = d.queue[1:]
	return r
}

// due reports whether the poll of the deferred rows has fired.
func (d *dispatcher) due() bool {
	if d.poll != nil {
		select {
		case <-d.poll.C:
			d.poll, d.pollDue = nil, true
		default:
		}
	}
	if d.pollDue {
		d.pollDue = false
		return true
	}
	return false
}

// admit takes one row: skips it when an earlier run did it, defers it when
// another process holds it, else starts its call. An error stops the job.
func (d *dispatcher) admit(r *jobRow) error {
	j := d.j
	if d.skip(r) {
		return nil
	}
	if j.claims != nil {
		got, err := j.claim(d.ctx, r)
		if err != nil {
			if d.ctx.Err() != nil {
				d.stop() // interrupted while claiming: not an error
				return nil
			}
			return err
		}
		if !got {
			d.deferRow(r)
			return nil
		}
		if d.skip(r) { // done by another process meanwhile
			j.unclaim(r)
			return nil
		}
	}
	req, err := j.prepare(r)
	if err != nil {
		j.unclaim(r)
		return err
	}
	if req == nil {
		j.unclaim(r)
		j.sum.Skipped++
		j.prog.add(statusSkipped)
		j.writeReport(r, statusSkipped, nil, "nothing to send (call returned nil)", "")
		return nil
	}
	r.req = req
	d.inflight++
	d.run.start(r.n-1, req)
	return nil
}

// skip handles a row done in an earlier run (or by another process); it
// reports whether the row is settled without a call.
func (d *dispatcher) skip(r *jobRow) bool {
	j := d.j
	switch r.prev.Status {
	case statusOK:
		j.sum.Skipped++
		j.prog.add(statusSkipped)
		msg := "done in an earlier run"
		if r.elsewhere {
			msg = "done by another run (another process sharing the checkpoints)"
		}
		j.writeReport(r, statusSkipped, nil, msg, r.prev.RequestID)
		return true
	case statusUnknown:
		if j.spec.resendUnknown {
			return false
		}
		j.sum.Unknown++
		j.prog.add(statusUnknown)
		j.writeReport(r, statusUnknown, nil, "outcome unknown since an earlier run: not sent again (verify on the platform, then job.reset or resend_unknown = true)", r.prev.RequestID)
		d.unknownSkipped++
		return true
	}
	return false
}

// deferRow puts aside a row another process holds, starting the poll.
func (d *dispatcher) deferRow(r *jobRow) {
	if len(d.deferred) == 0 && d.poll == nil && !d.pollDue {
		d.poll = time.NewTimer(jobClaimPoll)
	}
	d.deferred = append(d.deferred, r)
}

// await waits for results (all that have arrived), for the poll of the
// deferred rows, or for the run's end. It reports false when nothing is
// left to wait for.
func (d *dispatcher) await() ([]finished, bool) {
	waitPoll := !d.stopping && len(d.deferred) > 0 && len(d.queue) == 0 && d.next == len(d.j.rows)
	if waitPoll && d.poll == nil && !d.pollDue {
		d.poll = time.NewTimer(jobClaimPoll)
	}
	if d.inflight == 0 && !waitPoll {
		return nil, false
	}
	if d.inflight == 0 && d.pollDue {
		return nil, true // the deferred rows are due: fill takes them
	}
	var pollC <-chan time.Time
	if waitPoll && d.poll != nil {
		pollC = d.poll.C
	}
	if d.inflight == 0 {
		d.logIdle() // only rows other processes hold are left
	}
	var batch []finished
	select {
	case f := <-d.run.done:
		batch = append(batch, f)
	case <-pollC:
		d.poll, d.pollDue = nil, true
		return nil, true
	case <-d.done:
		d.done = nil
		d.stop()
		return nil, true
	}
	for {
		select {
		case f := <-d.run.done:
			batch = append(batch, f)
			continue
		default:
		}
		break
	}
	d.inflight -= len(batch)
	return batch, true
}

// logIdle says, once, that the job waits only for rows claimed elsewhere
// once it has waited jobClaimWaitLog for them.
func (d *dispatcher) logIdle() {
	if d.waitLogged {
		return
	}
	d.idleRounds++
	if time.Duration(d.idleRounds)*jobClaimPoll > jobClaimWaitLog {
		d.waitLogged = true
		d.j.log.Info(fmt.Sprintf("job %s: waiting for %d rows claimed by another run (freed when it finishes them, or after the lease if it died)",
			d.j.spec.name, len(d.deferred)), "job", d.j.spec.name, "claimed_elsewhere", len(d.deferred))
	}
}

// stop takes no more rows; once interrupted, the calls in flight get
// JobGrace to finish.
func (d *dispatcher) stop() {
	if d.stopping {
		return
	}
	d.stopping = true
	if d.ctx.Err() != nil && d.inflight > 0 {
		d.j.log.Warn("job interrupted: waiting for the calls in flight", "job", d.j.spec.name, "in_flight", d.inflight, "grace", JobGrace.String())
		d.grace = time.AfterFunc(JobGrace, d.abort)
	}
}

// fail stops the job with err, the first error only.
func (d *dispatcher) fail(err error) {
	if d.fatal == nil {
		d.fatal = err
	}
	d.stop()
}

func (d *dispatcher) stopTimers() {
	if d.grace != nil {
		d.grace.Stop()
	}
	if d.poll != nil {
		d.poll.Stop()
	}
}

// record settles a batch of results: checkpoints first (one durable
// commit), then the report, the counters and on_result (skipped once the
// job is stopping).
func (d *dispatcher) record(batch []finished) {
	j := d.j
	results := make([]jobResult, len(batch))
	for i, f := range batch {
		r := j.rows[f.id]
		results[i] = jobResult{row: r, out: f.outs[0]}
	}
	if err := j.settle(d.ctx, results, d.fatal != nil || d.stopping); err != nil {
		d.fail(err)
	}
}

// prepare runs call(row) and converts its results into the row's request;
// nil when call returned nothing (the row is skipped).
func (j *job) prepare(r *jobRow) (*request, error) {
	rets, err := j.pcall(j.spec.call, 3, "call function failed on "+r.where(), r.val)
	if err != nil {
		return nil, err
	}
	if rets[0] == lua.LNil {
		return nil, nil
	}
	method, ok := rets[0].(lua.LString)
	if !ok || method == "" {
		return nil, fmt.Errorf("call function returned %s for %s: want a method name, params and optional opts", stdlib.Describe(rets[0]), r.where())
	}
	req := &request{method: string(method)}
	if req.params, err = convParams(rets[1], "params"); err != nil {
		return nil, fmt.Errorf("%s: %v", r.where(), err)
	}
	if rets[2] != lua.LNil {
		o, err := parseOpts(rets[2], callOpts{}, callKeys)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", r.where(), err)
		}
		req.opts = o.call
	}
	j.h.c.prepare(req, "job", j.spec.name, "key", r.key)
	return req, nil
}

// jobResult is a row's call and its outcome.
type jobResult struct {
	row *jobRow
	out outcome
}

// status classifies a result: its status, and the TOP error when it failed.
func (res jobResult) status() (string, *top.Error) {
	te := res.out.err
	switch {
	case te == nil && res.row.req.dry:
		return statusDryRun, nil
	case te == nil:
		return statusOK, nil
	case te.Kind == top.KindUnknownOutcome:
		return statusUnknown, te
	}
	return statusFailed, te
}

// settle records results: checkpoints first (one durable commit), then the
// report, the counters and on_result. quiet skips on_result (the job is
// stopping).
func (j *job) settle(ctx context.Context, results []jobResult, quiet bool) error {
	if !j.h.c.dryRun {
		if err := j.saveCheckpoints(ctx, results); err != nil {
			return err
		}
	}
	var cbErr error
	for _, res := range results {
		status, te := res.status()
		r := res.row
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
		if res.out.resp != nil {
			reqID = res.out.resp.RequestID
		}
		j.writeReport(r, status, te, "", reqID)
		if j.spec.onResult != nil && !quiet && cbErr == nil && ctx.Err() == nil {
			var result, errv lua.LValue = lua.LNil, lua.LNil
			if res.out.resp != nil {
				result = stdlib.ToLua(j.L, res.out.resp.Payload)
			}
			if te != nil {
				errv = TopErrorValue(j.L, te)
			}
			if _, err := j.pcall(j.spec.onResult, 0, "on_result failed on "+r.where(), r.val, result, errv); err != nil {
				cbErr = err
			}
		}
	}
	if err := j.flushReport(); err != nil && cbErr == nil {
		cbErr = err
	}
	return cbErr
}
