package luatop

import (
	"context"
	"errors"
	"fmt"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/topscript/topscript/stdlib"
	"github.com/topscript/topscript/top"
)

// dispatcher sends a job's rows and records their results. It runs on the
// script's thread; the calls run on the package's runner, as many at once
// as its sizer allows (at most the script's concurrency, else
// MaxAutoConcurrency). Before a write that is not idempotent is sent, its
// intent record is durable; checkpoints of finished calls are durable
// before another call starts, so at most that many calls are ever
// unrecorded, and those are found "sending" by the next run.
type dispatcher struct {
	j     *job
	ctx   context.Context    // the run's: its end stops the job taking rows
	run   *runner            // sends under a context that outlives ctx by JobGrace
	abort context.CancelFunc // cancels the calls in flight
	grace *time.Timer        // set once interrupted with calls in flight
	done  <-chan struct{}    // ctx.Done(), until it has been seen

	next     int // the next row of j.rows to dispatch
	inflight int
	unsent   int   // rows picked but never sent (the job stopped first)
	stopping bool  // no new rows: interrupted, or fatal
	fatal    error // what stopped the job early (interrupts are not errors)
	// storeErr is set once a checkpoint or intent record could not be
	// saved: nothing more is sent, and every answer from then on is
	// reported unknown (its outcome is recorded nowhere).
	storeErr error

	// Rows another process has claimed wait in deferred and are tried
	// again in rounds (queue), every jobClaimPoll (poll), once the other
	// rows are dispatched.
	queue, deferred []*jobRow
	poll            *time.Timer // runs while rows are deferred; nil once it fired
	pollDue         bool
	idleRounds      int  // polls waited with only claimed-elsewhere rows left
	waitLogged      bool // the wait for them has been logged
	unknownSkipped  int  // rows left unknown by an earlier run, not re-sent
	// verifyQ holds the rows that ended unknown in this run, for verify
	// once every other row is done (their reports wait for it).
	verifyQ []*jobRow
}

// dispatch sends the rows and records the results. It returns the error
// that stopped the job early, if any (interrupts are not errors).
func (j *job) dispatch(ctx context.Context) error {
	callCtx, abort := context.WithCancel(context.WithoutCancel(ctx))
	defer abort()
	size := j.h.c.sizerFor(j.spec.concurrency, 1)
	d := &dispatcher{j: j, ctx: ctx, abort: abort, done: ctx.Done(), run: j.h.c.newRunner(callCtx, size, size.most)}
	j.prog.follow(d.run.inFlight)
	defer d.stopTimers()
	for {
		d.fill()
		batch, more := d.await()
		if len(batch) > 0 {
			d.record(batch)
		}
		if !more && !d.verifyQueued() {
			break
		}
	}
	for _, r := range d.verifyQ { // stopped before verify could run
		d.finishUnknown(r, "outcome unknown: the job stopped before verify could settle it", r.prev.RequestID)
	}
	j.sum.Pending = j.rows.len() - d.next + len(d.queue) + len(d.deferred) + d.unsent
	if d.unknownSkipped > 0 {
		j.log.Warn(fmt.Sprintf("job %s: %d rows have an unknown outcome from an earlier run and were not sent again: "+
			"check them on the platform, then forget them with job.reset(name, key) or run once with resend_unknown = true",
			j.spec.name, d.unknownSkipped), "job", j.spec.name, "unknown", d.unknownSkipped)
	}
	if d.storeErr != nil && d.fatal == nil {
		return &storeError{err: d.storeErr, unrecorded: j.sum.Unrecorded, pending: j.sum.Pending, report: j.spec.report}
	}
	return d.fatal
}

// storeError is what stops a job whose checkpoints cannot be saved.
type storeError struct {
	err        error
	unrecorded int
	pending    int
	report     string
}

func (e *storeError) Error() string {
	where := ""
	if e.report != "" {
		where = " in " + e.report
	}
	return fmt.Sprintf("stopped: the state store failed (%v): no checkpoint can be saved, so nothing more was sent; "+
		"%d rows have an outcome that is recorded nowhere (reported unknown%s), %d rows were not sent. "+
		"Once the state store works again, a rerun finds the rows that were in flight unknown (never sends them blindly)",
		e.err, e.unrecorded, where, e.pending)
}

func (e *storeError) Unwrap() error { return e.err }

// fill starts rows until the runner's limit is reached or no row is ready.
func (d *dispatcher) fill() {
	var ready []*jobRow
	limit := d.run.limit()
	for !d.stopping && d.inflight+len(ready) < limit {
		if d.ctx.Err() != nil {
			d.stop()
			break
		}
		r := d.pick()
		if r == nil {
			break
		}
		send, err := d.admit(r)
		if err != nil {
			var sf *storeFault
			switch {
			case d.ctx.Err() != nil:
				d.stop() // interrupted while claiming: not an error
			case errors.As(err, &sf):
				d.storeFailed(sf.err)
			default:
				d.fail(err)
			}
			d.unsent++
			break
		}
		if send {
			ready = append(ready, r)
		}
	}
	d.launch(ready)
}

// pick returns the next row to look at: the input's, then the rows
// claimed elsewhere once their poll is due (and rows verify sent back);
// nil when none is ready.
func (d *dispatcher) pick() *jobRow {
	if d.next < d.j.rows.len() {
		d.next++
		return d.j.rows.at(d.next - 1)
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

// admit takes one row: it claims it in a shared store (deferring it when
// another process holds it) and decides, from its checkpoint and its call,
// whether to send it. It reports whether the row is to be sent; an error
// stops the job.
func (d *dispatcher) admit(r *jobRow) (bool, error) {
	j := d.j
	if err := j.loadCheckpoint(d.ctx, r); err != nil {
		return false, err
	}
	if j.claims != nil && !r.claimed {
		got, err := j.claim(d.ctx, r)
		if err != nil {
			return false, err
		}
		if !got {
			d.deferRow(r)
			return false, nil
		}
	}
	send, err := d.decide(r)
	if err != nil || !send {
		j.unclaim(r) // settled without a call (or the job stops)
	}
	return send, err
}

// decide settles a row without a call when its checkpoint allows (done
// for the same call; unknown) and reports whether it is to be sent.
func (d *dispatcher) decide(r *jobRow) (bool, error) {
	j := d.j
	if r.req == nil || r.resend {
		ok, err := j.buildRequest(r)
		if err != nil || !ok {
			if ok = err == nil; ok {
				d.settled(r, statusSkipped, "nothing to send (call returned nil)", "")
			}
			return false, err
		}
	}
	if r.resend {
		return true, nil
	}
	switch r.prev.Status {
	case statusOK:
		if r.prev.Call == "" || r.prev.Call == r.fp {
			msg := "done in " + since(r.prev)
			switch {
			case r.elsewhere:
				msg = "done by another run (another process sharing the checkpoints)"
			case r.prev.Call == "":
				msg += " (checkpointed before calls were fingerprinted: taken as the same call)"
			}
			d.settled(r, statusSkipped, msg, r.prev.RequestID)
			return false, nil
		}
		r.why = "sent again: changed since " + since(r.prev) + ": " + changes(r.prev, r.req.method, r.shown)
		return true, nil
	case statusUnknown, cpSending:
		return d.decideUnknown(r)
	}
	return true, nil
}

// decideUnknown decides a row whose outcome an earlier run (or another
// process) left unknown: settled by a late answer to the same call, by
// verify, sent again with resend_unknown, else reported unknown and not
// sent.
func (d *dispatcher) decideUnknown(r *jobRow) (bool, error) {
	j := d.j
	was := "unknown since " + since(r.prev)
	if r.prev.Status == cpSending {
		was = "unknown: it was being sent by " + since(r.prev) + ", which ended (or lost the row) before recording its answer"
	}
	if late, ok := j.lateAnswer(d.ctx, r); ok && !j.h.c.dryRun {
		switch late.Status {
		case statusOK:
			return false, d.settleOK(r, "settled by a late answer: the run that lost this row to another got ok for the same call", late.RequestID)
		case statusFailed:
			r.why = "sent again: the run that lost this row to another got an error for the same call (not applied)"
			return true, nil
		}
	}
	if j.spec.verify != nil && !j.h.c.dryRun && !r.verified {
		switch v, msg := d.verify(r); v {
		case verifiedApplied:
			return false, d.settleOK(r, "verified: in effect (its outcome was "+was+")"+msg, r.prev.RequestID)
		case verifiedNotApplied:
			r.why = "sent again: verify found it not applied (its outcome was " + was + ")" + msg
			return true, nil
		default:
			d.unknownSkipped++
			d.settled(r, statusUnknown, "outcome "+was+"; verify could not tell"+msg+": not sent again", r.prev.RequestID)
			return false, nil
		}
	}
	if j.spec.resendUnknown {
		r.why = "sent again (resend_unknown): its outcome was " + was
		return true, nil
	}
	d.unknownSkipped++
	d.settled(r, statusUnknown, "outcome "+was+": not sent again (verify on the platform, then job.reset or resend_unknown = true)", r.prev.RequestID)
	return false, nil
}

// Verify's verdicts.
const (
	verifiedUnknown = iota
	verifiedApplied
	verifiedNotApplied
)

// verify runs the job's verify(row), once a row a run: true (the row's
// write is in effect), false (not applied: send it), or nil (cannot
// tell). A failing verify cannot tell; its error is logged and returned
// in the message.
func (d *dispatcher) verify(r *jobRow) (int, string) {
	j := d.j
	r.verified = true
	rets, err := j.pcall(j.spec.verify, 2, "verify failed on "+r.where(), r.val)
	if err != nil {
		j.log.Warn("job: verify failed: the row stays unknown", "job", j.spec.name, "key", r.key, "error", err.Error())
		return verifiedUnknown, " (" + err.Error() + ")"
	}
	msg := ""
	if s, ok := rets[1].(lua.LString); ok && s != "" {
		msg = ": " + string(s)
	}
	switch v := rets[0].(type) {
	case lua.LBool:
		if v {
			return verifiedApplied, msg
		}
		return verifiedNotApplied, msg
	case *lua.LNilType:
		return verifiedUnknown, msg
	}
	j.log.Warn("job: verify returned neither true, false nor nil: the row stays unknown", "job", j.spec.name, "key", r.key, "got", stdlib.Describe(rets[0]))
	return verifiedUnknown, " (verify returned " + stdlib.Describe(rets[0]) + ", want true, false or nil)"
}

// settleOK records r as done for its call without sending it (verified,
// or settled by a late answer), and reports it ok.
func (d *dispatcher) settleOK(r *jobRow, msg, reqID string) error {
	j := d.j
	refused, err := j.commit(d.ctx, map[string][]byte{r.key: j.checkpointFor(r, statusOK, reqID)}, []*jobRow{r})
	if err != nil {
		d.storeFailed(err)
		j.sum.Unknown++
		j.sum.Unrecorded++
		d.report(r, statusUnknown, nil, msg+", but not recorded: the checkpoint could not be saved: "+err.Error(), reqID)
		return nil
	}
	if refused[r.key] {
		r.claimed = false
		d.deferRow(r) // another run took it over meanwhile: look again later
		return nil
	}
	j.sum.OK++
	j.sum.Verified++
	j.prog.add(statusOK)
	j.writeReport(r, statusOK, nil, msg, reqID)
	j.unclaim(r)
	return d.onResult(r, lua.LNil, lua.LNil, true)
}

// settled counts and reports a row settled without a call.
func (d *dispatcher) settled(r *jobRow, status, msg, reqID string) {
	j := d.j
	switch status {
	case statusSkipped:
		j.sum.Skipped++
	case statusUnknown:
		j.sum.Unknown++
	}
	j.prog.add(status)
	j.writeReport(r, status, nil, msg, reqID)
}

// launch sends the rows admitted: in a shared store each row's claim is
// checked once more when it is old, the intent records of the writes that
// are not idempotent are committed (one durable commit), then the calls
// start. Rows another run took over meanwhile are deferred, not sent.
func (d *dispatcher) launch(ready []*jobRow) {
	j := d.j
	if d.stopping {
		for _, r := range ready {
			j.unclaim(r)
		}
		d.unsent += len(ready)
		return
	}
	send := ready[:0:0]
	for i, r := range ready {
		held, err := j.stillHeld(d.ctx, r)
		if err != nil {
			d.storeFailed(err)
			for _, r := range ready[i:] {
				j.unclaim(r)
			}
			for _, r := range send {
				j.unclaim(r)
			}
			d.unsent += len(ready) - i + len(send)
			return
		}
		if !held {
			d.deferRow(r)
			continue
		}
		j.h.c.prepare(r.req, "job", j.spec.name, "key", r.key) // the dry-run gate and its log line
		send = append(send, r)
	}
	intents := map[string][]byte{}
	if !j.h.c.dryRun {
		for _, r := range send {
			if j.h.c.needsIntent(r.req) {
				intents[r.key] = j.checkpointFor(r, cpSending, "")
				r.intent = true
			}
		}
	}
	refused, err := j.commit(d.ctx, intents, send)
	if err != nil {
		d.storeFailed(fmt.Errorf("recording the rows about to be sent: %w", err))
		for _, r := range send {
			j.unclaim(r)
		}
		d.unsent += len(send)
		return
	}
	for _, r := range send {
		if refused[r.key] { // taken over since the claim: not ours to send
			r.claimed, r.intent = false, false
			d.deferRow(r)
			continue
		}
		d.inflight++
		d.run.start(r.n-1, r.req)
	}
}

// deferRow puts aside a row another process holds, starting the poll.
func (d *dispatcher) deferRow(r *jobRow) {
	r.deferred = true
	if len(d.deferred) == 0 && d.poll == nil && !d.pollDue {
		d.poll = time.NewTimer(jobClaimPoll)
	}
	d.deferred = append(d.deferred, r)
}

// await waits for results (all that have arrived), for the poll of the
// deferred rows, for the runner's limit to grow, or for the run's end. It
// reports false when nothing is left to wait for.
func (d *dispatcher) await() ([]finished, bool) {
	waitPoll := !d.stopping && len(d.deferred) > 0 && len(d.queue) == 0 && d.next == d.j.rows.len()
	if waitPoll && d.poll == nil && !d.pollDue {
		d.poll = time.NewTimer(jobClaimPoll)
	}
	if d.inflight == 0 && !waitPoll {
		return nil, len(d.queue) > 0 && !d.stopping
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
	case <-d.run.wake:
		return nil, true // the limit may have grown: fill looks again
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

// storeFailed stops the job at once because a checkpoint or intent record
// could not be saved: the calls in flight finish, and their answers are
// reported unknown (recorded nowhere).
func (d *dispatcher) storeFailed(err error) {
	if d.storeErr == nil {
		d.storeErr = err
		d.j.storeDown = true
		d.j.sum.StoreError = err.Error()
		d.j.log.Error("job: the state store failed: no more rows are sent", "job", d.j.spec.name,
			"error", err.Error(), "in_flight", d.inflight)
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

// buildRequest runs call(row) and converts its results into the row's
// request and fingerprint; false when call returned nothing (the row is
// skipped). The dry-run gate is not applied here (launch does it, for the
// rows actually sent).
func (j *job) buildRequest(r *jobRow) (bool, error) {
	rets, err := j.pcall(j.spec.call, 3, "call function failed on "+r.where(), r.val)
	if err != nil {
		return false, err
	}
	if rets[0] == lua.LNil {
		return false, nil
	}
	method, ok := rets[0].(lua.LString)
	if !ok || method == "" {
		return false, fmt.Errorf("call function returned %s for %s: want a method name, params and optional opts", stdlib.Describe(rets[0]), r.where())
	}
	req := &request{method: string(method)}
	if req.params, err = convParams(rets[1], "params"); err != nil {
		return false, fmt.Errorf("%s: %v", r.where(), err)
	}
	if rets[2] != lua.LNil {
		o, err := parseOpts(rets[2], callOpts{}, callKeys)
		if err != nil {
			return false, fmt.Errorf("%s: %v", r.where(), err)
		}
		req.opts = o.call
	}
	r.req = req
	r.fp, r.shown = callFingerprint(req)
	return true, nil
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

// requestID is the request id of a result, answer or error.
func (res jobResult) requestID() string {
	if res.out.resp != nil {
		return res.out.resp.RequestID
	}
	if res.out.err != nil {
		return res.out.err.RequestID
	}
	return ""
}

// record settles a batch of results: checkpoints first (one durable,
// fenced commit), then the report, the counters and on_result (skipped
// once the job is stopping). A row whose claim passed to another run
// before its answer came is reported late, not done; when the commit
// fails the job stops and the batch is reported unknown.
func (d *dispatcher) record(batch []finished) {
	j := d.j
	results := make([]jobResult, len(batch))
	rows := make([]*jobRow, len(batch))
	for i, f := range batch {
		r := j.rows.at(f.id)
		results[i], rows[i] = jobResult{row: r, out: f.outs[0]}, r
	}
	var refused map[string]bool
	if !j.h.c.dryRun && d.storeErr == nil {
		kv := map[string][]byte{}
		for _, res := range results {
			r := res.row
			switch status, _ := res.status(); status {
			case statusOK, statusUnknown:
				kv[r.key] = j.checkpointFor(r, status, res.requestID())
			case statusFailed:
				if r.intent || r.prev.Status == statusUnknown || r.prev.Status == cpSending {
					kv[r.key] = nil // not applied: forget the intent (a failed row is tried again)
				}
			}
		}
		var err error
		if refused, err = j.commit(d.ctx, kv, rows); err != nil {
			d.storeFailed(err)
		}
	}
	for _, res := range results {
		if err := d.finish(res, refused[res.row.key]); err != nil && d.fatal == nil {
			d.fail(err)
		}
	}
	if err := j.flushReport(); err != nil {
		d.fail(err)
	}
}

// finish reports one result whose checkpoint is saved (or could not be,
// or was refused as late), counts it and runs on_result.
func (d *dispatcher) finish(res jobResult, late bool) error {
	j := d.j
	r := res.row
	status, te := res.status()
	reqID := res.requestID()
	r.intent = false
	switch {
	case d.storeErr != nil && !j.h.c.dryRun:
		what := "its answer was lost too"
		switch status {
		case statusOK:
			what = "it was answered ok"
		case statusFailed:
			what = "it failed (" + errorMessage(te) + ")"
		}
		d.finishUnknown(r, "outcome recorded nowhere: "+what+", but the checkpoint could not be saved ("+d.storeErr.Error()+")", reqID)
		j.sum.Unrecorded++
		return nil
	case late:
		r.claimed = false // the claim is another run's now
		j.sum.Late++
		j.prog.add(statusLate)
		j.log.Warn("job: a row answered after another run took it over: not recorded as done here", "job", j.spec.name, "key", r.key, "status", status)
		j.recordLate(r, status, reqID)
		msg := "answered " + status + " after this run's claim on the row had lapsed and another run took it over: not recorded as done here (the other run's report has the row)"
		if te != nil {
			msg += ": " + errorMessage(te)
		}
		j.writeReport(r, statusLate, nil, msg, reqID)
		return nil
	}
	switch status {
	case statusOK:
		j.sum.OK++
	case statusDryRun:
		j.sum.OK++
		j.sum.NotSent++
	case statusUnknown:
		if j.spec.verify != nil && !r.verified && !d.stopping && !j.h.c.dryRun {
			r.verifyLater = true // keeps its claim; reported once verify has run
			d.verifyQ = append(d.verifyQ, r)
			return nil
		}
		j.sum.Unknown++
		j.log.Warn("job row outcome unknown: not retried", "job", j.spec.name, "key", r.key, "error", te.Error())
	case statusFailed:
		j.sum.Failed++
		j.log.Debug("job row failed", "job", j.spec.name, "key", r.key, "error", te.Error())
	}
	j.unclaim(r)
	j.prog.add(status)
	j.writeReport(r, status, te, r.why, reqID)
	var result, errv lua.LValue = lua.LNil, lua.LNil
	if res.out.resp != nil {
		result = stdlib.ToLua(j.L, res.out.resp.Payload)
	}
	if te != nil {
		errv = TopErrorValue(j.L, te)
	}
	return d.onResult(r, result, errv, false)
}

// finishUnknown reports r unknown, with msg.
func (d *dispatcher) finishUnknown(r *jobRow, msg, reqID string) {
	j := d.j
	j.sum.Unknown++
	j.unclaim(r)
	d.report(r, statusUnknown, nil, msg, reqID)
}

// report counts r's status in the progress and writes its report line.
func (d *dispatcher) report(r *jobRow, status string, te *top.Error, msg, reqID string) {
	d.j.prog.add(status)
	d.j.writeReport(r, status, te, msg, reqID)
}

// onResult runs on_result(row, result, err) unless the job is stopping; a
// row settled by verify gets result {verified = true}.
func (d *dispatcher) onResult(r *jobRow, result, errv lua.LValue, verified bool) error {
	j := d.j
	if j.spec.onResult == nil || d.stopping || d.ctx.Err() != nil {
		return nil
	}
	if verified {
		t := j.L.NewTable()
		t.RawSetString("verified", lua.LTrue)
		result = t
	}
	_, err := j.pcall(j.spec.onResult, 0, "on_result failed on "+r.where(), r.val, result, errv)
	return err
}

// verifyQueued runs verify on the rows that ended unknown in this run,
// once nothing else is left: applied rows are settled ok, rows not applied
// go back to be sent (once), the others are reported unknown. It reports
// whether there is more to do.
func (d *dispatcher) verifyQueued() bool {
	if d.stopping || len(d.verifyQ) == 0 {
		return false
	}
	q := d.verifyQ
	d.verifyQ = nil
	for _, r := range q {
		r.verifyLater = false
		switch v, msg := d.verify(r); v {
		case verifiedApplied:
			if err := d.settleOK(r, "verified: in effect (its answer was lost in this run)"+msg, ""); err != nil {
				d.fail(err)
			}
		case verifiedNotApplied:
			r.resend, r.why = true, "sent again: verify found it not applied (its answer was lost in this run)"+msg
			d.queue = append(d.queue, r)
		default:
			d.finishUnknown(r, "outcome unknown: its answer was lost, and verify could not tell"+msg+": not sent again", "")
		}
	}
	if err := d.j.flushReport(); err != nil {
		d.fail(err)
	}
	return len(d.queue) > 0 && !d.stopping
}

// needsIntent reports whether req must have a durable intent record before
// it is sent: a write that cannot be sent twice, really sent.
func (c *caller) needsIntent(req *request) bool {
	return !req.dry && c.client != nil && c.isWrite(req.method) && !c.client.IsIdempotent(req.method, req.params)
}
