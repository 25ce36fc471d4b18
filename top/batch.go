package top

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Batch calls go to the gateway's batch endpoint (/router/batch, next to
// /router/rest): one HTTP request carries many sub-requests.
//
//   - The system params (app_key, timestamp, v, format, sign_method,
//     partner_id, session, simplify; no method) travel in the URL.
//   - The body is text/plain;charset=UTF-8: one urlencoded line per
//     sub-request (method plus its own params), lines joined by
//     BatchSeparator.
//   - The sign covers the sorted system params followed by the raw body.
//   - The answer is one envelope per sub-request, in order, joined by the
//     same separator; each decodes like a single call's answer.
//
// Every sub-request takes its own token from the throttle (a batch of 20
// costs what 20 calls cost, as the gateway counts them), waits out closure
// windows and bans like a single call, and is retried under the client's
// one policy, by the same decision function as single calls (retry in
// retry.go):
//
//   - A failure of the batch as a whole (connection, HTTP status, a body
//     that is not one envelope per sub-request, a batch-level
//     error_response) is judged for each sub-request: retryable failures
//     send the batch again after a backoff — except, when the request may
//     have reached the gateway, its writes not known to be idempotent,
//     which fail with KindUnknownOutcome while its reads and idempotent
//     writes go again.
//   - A sub-request's own error is judged on its own: isp.* and flow-control
//     errors are retried as single calls (after a backoff, or once a ban is
//     over), with the attempts the sub-request has left; a sub-answer that
//     is missing or malformed counts as a failure that reached the gateway.

// BatchSeparator joins the sub-requests of a batch and their answers.
const BatchSeparator = "\r\n-S-\r\n"

// MaxBatchSize is the most sub-requests CallBatch puts in one HTTP request;
// larger inputs are split. It is the sandbox's limit; the real gateway's
// is not documented.
const MaxBatchSize = 50

// BatchCall is one sub-request of CallBatch.
type BatchCall struct {
	Method  string
	Params  Params
	Options *CallOptions // nil means defaults; Session and Simplify group calls into batches
}

// BatchResult is the outcome of one BatchCall: Response on success, else
// Err, an *Error.
type BatchResult struct {
	Response *Response
	Err      error
}

// batchSub is one sub-request on its way.
type batchSub struct {
	idx   int
	cl    *call
	tries int // attempts used
}

// CallBatch performs calls through the batch endpoint and returns their
// outcomes in input order; each call succeeds or fails on its own, with the
// same *Error values a single Call gives. Calls are grouped by session and
// simplify (both are batch-wide system params), each group sent as batches
// of at most MaxBatchSize, one after another. A call with file params, or
// alone in its group, goes through /router/rest as a single Call.
//
// The error is non-nil only when the client is nil or ctx ended before
// every call was done (the calls it cut short carry the context's error).
func (c *Client) CallBatch(ctx context.Context, calls []BatchCall) ([]BatchResult, error) {
	if c == nil {
		return nil, &Error{Kind: KindInvalid, Msg: "nil client"}
	}
	if ctx == nil {
		ctx = context.Background()
	}
	out := make([]BatchResult, len(calls))
	type groupKey struct {
		session  string
		simplify bool
	}
	var order []groupKey
	groups := map[groupKey][]*batchSub{}
	var singles, all []*batchSub
	for i, bc := range calls {
		cl, err := c.prepare(bc.Method, bc.Params, bc.Options)
		if err != nil {
			out[i].Err = err
			continue
		}
		if e := c.useSource(ctx, cl, bc.Options); e != nil {
			out[i].Err = e
			continue
		}
		s := &batchSub{idx: i, cl: cl}
		all = append(all, s)
		if len(cl.files) > 0 {
			singles = append(singles, s)
			continue
		}
		k := groupKey{cl.session, cl.simplify}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], s)
	}
	for _, k := range order {
		subs := groups[k]
		for len(subs) > 0 {
			n := min(len(subs), MaxBatchSize)
			if n == 1 {
				singles = append(singles, subs[0])
			} else {
				c.runBatch(ctx, subs[:n], out)
			}
			subs = subs[n:]
		}
	}
	for _, s := range singles {
		resp, err := c.do(ctx, s.cl)
		out[s.idx] = result(resp, err)
	}
	for _, s := range all {
		c.noteRefused(s.cl, out[s.idx].Err)
	}
	if err := ctx.Err(); err != nil {
		return out, err
	}
	return out, nil
}

// result makes a BatchResult.
func result(resp *Response, err error) BatchResult {
	if err != nil {
		return BatchResult{Err: err}
	}
	return BatchResult{Response: resp}
}

// batchFailure is the failure of a whole batch attempt.
type batchFailure = attemptResult

// runBatch sends one batch (2..MaxBatchSize sub-requests sharing session
// and simplify) under the retry policy and fills out. Each sub-request's
// answer, and a failure of the whole batch, is judged for each sub-request
// by the one decision function (retry): a whole batch that may go again is
// sent again (after a backoff unless a ban holds it back); a sub-request
// that may go again goes as a single call, with the attempts it has left.
func (c *Client) runBatch(ctx context.Context, subs []*batchSub, out []BatchResult) {
	fail := func(s *batchSub, e *Error) { out[s.idx] = BatchResult{Err: e} }
	var singles []*batchSub // sub-requests to send again as single calls
	var noWait []bool       // ...with no backoff first (a ban gate waits, or it was waited for)
	pending := append([]*batchSub(nil), subs...)
	tr := callTrace(ctx)
	for attempt := 1; len(pending) > 0; attempt++ {
		// Admission, per sub-request: closure windows, bans, the throttle.
		ready := pending[:0:0]
		for _, s := range pending {
			if e := c.admit(ctx, s.cl); e != nil {
				fail(s, e)
				continue
			}
			ready = append(ready, s)
		}
		if len(ready) == 1 {
			// What is left of the batch is one call: send it as one.
			singles, noWait = append(singles, ready[0]), append(noWait, true)
			break
		}
		if len(ready) == 0 {
			break
		}
		if err := c.takeTokens(ctx, ready); err != nil {
			// The caller gave up while the batch waited for its tokens.
			for _, r := range ready {
				fail(r, c.ctxError(r.cl, "waiting for the throttle", err, nil))
			}
			break
		}
		for _, s := range ready {
			s.tries++
		}

		tr.sent(batchLabel(len(ready)))
		start := c.clock.Now()
		parts, whole := c.batchAttempt(ctx, ready)
		d := c.clock.Now().Sub(start)
		c.logBatch(len(ready), attempt, d, whole)
		tr.answered(batchLabel(len(ready)), d, batchError(parts, whole))

		pending = nil
		backoff := false
		for i, s := range ready {
			var res attemptResult
			if whole != nil {
				res = *whole
				se := *whole.err
				se.Method = s.cl.method
				res.err = &se
			} else {
				res = parts[i]
			}
			res.sent = start
			if res.err == nil {
				out[s.idx] = BatchResult{Response: res.resp}
				continue
			}
			next := c.retry(ctx, s.cl, res, s.tries)
			switch {
			case next.err != nil:
				fail(s, next.err)
			case whole != nil: // the batch goes again
				pending = append(pending, s)
				backoff = backoff || next.backoff
			default: // this sub-request goes again alone
				singles, noWait = append(singles, s), append(noWait, !next.backoff)
			}
		}
		if len(pending) > 0 && backoff {
			wait := c.backoff(attempt)
			tr.backoff(batchLabel(len(pending)), wait)
			if err := c.clock.Sleep(ctx, wait); err != nil {
				for _, s := range pending {
					fail(s, c.ctxError(s.cl, "waiting to retry", err, whole.err))
				}
				pending = nil
			}
		}
	}
	if len(singles) == 0 {
		return
	}
	// Retry sub-requests as single calls, concurrently: the throttle and
	// the ban gates pace them.
	var wg sync.WaitGroup
	for i, s := range singles {
		wg.Add(1)
		go func(s *batchSub, noWait bool) {
			defer wg.Done()
			out[s.idx] = c.retrySingle(ctx, s, noWait)
		}(s, noWait[i])
	}
	wg.Wait()
}

// takeTokens takes one throttle token per sub-request, in a row: while a
// batch takes its tokens no other batch of the client takes any, so each
// batch leaves as soon as its own last token is granted. (Interleaved,
// concurrent batches would all leave together at the end, bunching many
// calls into one moment of the gateway's window.) It fails only when ctx
// ends.
func (c *Client) takeTokens(ctx context.Context, subs []*batchSub) error {
	if c.batchTurn != nil {
		select {
		case c.batchTurn <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		}
		defer func() { <-c.batchTurn }()
	}
	for _, s := range subs {
		if err := c.throttle.take(ctx, s.cl.method); err != nil {
			return err
		}
	}
	return nil
}

// retrySingle sends sub-request s as a single call with the attempts it has
// left, after a backoff unless noWait (a ban gate does the waiting, or the
// backoff was already slept) or it was never sent.
func (c *Client) retrySingle(ctx context.Context, s *batchSub, noWait bool) BatchResult {
	cl := *s.cl
	cl.attempts = s.cl.attempts - s.tries
	if cl.attempts < 1 {
		cl.attempts = 1
	}
	if !noWait && s.tries > 0 {
		wait := c.backoff(s.tries)
		callTrace(ctx).backoff(cl.method, wait)
		if err := c.clock.Sleep(ctx, wait); err != nil {
			return BatchResult{Err: c.ctxError(&cl, "waiting to retry", err, nil)}
		}
	}
	resp, err := c.do(ctx, &cl)
	return result(resp, err)
}

// batchURL is the batch endpoint next to the REST gateway: the last path
// element "rest" becomes "batch" (…/router/rest → …/router/batch); a
// gateway with another path gets /router/batch on its host.
func batchURL(gateway string) (*url.URL, error) {
	u, err := url.Parse(gateway)
	if err != nil {
		return nil, err
	}
	p := strings.TrimSuffix(u.Path, "/")
	if strings.HasSuffix(p, "/rest") {
		u.Path = strings.TrimSuffix(p, "rest") + "batch"
	} else {
		u.Path = "/router/batch"
	}
	u.RawPath = ""
	return u, nil
}

// batchAttempt signs and sends one batch of subs (sharing session and
// simplify) and splits the answer: one attemptResult per sub-request, or a
// failure of the whole batch.
func (c *Client) batchAttempt(ctx context.Context, subs []*batchSub) ([]attemptResult, *batchFailure) {
	label := batchLabel(len(subs))
	first := subs[0].cl
	invalid := func(msg string) *batchFailure {
		return &batchFailure{err: &Error{Method: label, Kind: KindInvalid, Msg: msg}}
	}
	u, err := batchURL(c.cfg.Gateway)
	if err != nil {
		return nil, invalid("batch endpoint: " + err.Error())
	}

	var body bytes.Buffer
	timeout := time.Duration(0)
	for i, s := range subs {
		if i > 0 {
			body.WriteString(BatchSeparator)
		}
		v := make(url.Values, len(s.cl.text)+1)
		for k, x := range s.cl.text {
			v[k] = []string{x}
		}
		v["method"] = []string{s.cl.method}
		body.WriteString(v.Encode())
		timeout = max(timeout, s.cl.timeout)
	}

	sys := pairsMap(c.sysParams(nil, first.session, first.simplify))
	sign, err := signWithBody(sys, body.Bytes(), c.cfg.AppSecret, c.cfg.SignMethod)
	if err != nil {
		return nil, invalid(err.Error())
	}
	sys["sign"] = sign
	q := make(url.Values, len(sys))
	for k, x := range sys {
		q[k] = []string{x}
	}
	u.RawQuery = q.Encode()
	rd := first.redact.With(sign)

	raw, status, fail := c.exchange(ctx, exchange{
		method: label, url: u.String(), body: body.Bytes(), ctype: "text/plain;charset=UTF-8",
		timeout: timeout, rd: rd,
	})
	if fail != nil {
		return nil, fail
	}
	if status/100 != 2 {
		res := judgeAnswer(label, status, raw, rd)
		return nil, &res
	}
	pieces := bytes.Split(raw, []byte(BatchSeparator))
	if len(pieces) == 1 {
		// One envelope for many sub-requests: a batch-level answer.
		res := judgeAnswer(label, status, raw, rd)
		if res.err == nil {
			res = attemptResult{status: status, retryable: true, reached: true,
				err: &Error{Method: label, Kind: KindTransport, Msg: fmt.Sprintf("one answer for %d sub-requests", len(subs))}}
		}
		return nil, &res
	}
	if len(pieces) > len(subs) {
		return nil, &batchFailure{status: status, retryable: true, reached: true,
			err: &Error{Method: label, Kind: KindTransport, Msg: fmt.Sprintf("%d answers for %d sub-requests", len(pieces), len(subs))}}
	}
	parts := make([]attemptResult, len(subs))
	for i, s := range subs {
		if i >= len(pieces) {
			// The answer stops short (cut off): this sub-request may have
			// been processed.
			parts[i] = attemptResult{status: status, retryable: true, reached: true,
				err: &Error{Method: s.cl.method, Kind: KindTransport, Msg: "no answer for this sub-request in the batch's response"}}
			continue
		}
		parts[i] = judgeAnswer(s.cl.method, status, pieces[i], s.cl.redact.With(sign))
	}
	return parts, nil
}

// logBatch writes the debug line of one batch attempt. It never includes
// the secret, the session or the sign.
func (c *Client) logBatch(n, attempt int, d time.Duration, whole *batchFailure) {
	if !c.logger.Enabled(context.Background(), slog.LevelDebug) {
		return
	}
	attrs := []any{"calls", n, "attempt", attempt, "duration", d}
	if whole != nil {
		if whole.status != 0 {
			attrs = append(attrs, "status", whole.status)
		}
		attrs = append(attrs, "code", whole.err.Code, "kind", string(whole.err.Kind))
		if !whole.gateway {
			attrs = append(attrs, "error", whole.err.Msg)
		}
	}
	c.logger.Debug("top batch", attrs...)
}

// batchLabel names a batch of n calls in errors and traces.
func batchLabel(n int) string { return fmt.Sprintf("batch of %d calls", n) }

// batchError is what a batch attempt's trace reports: the failure of the
// whole batch, else its first flow-control error, else its first isp
// error, else nil.
func batchError(parts []attemptResult, whole *batchFailure) *Error {
	if whole != nil {
		return whole.err
	}
	var isp *Error
	for _, p := range parts {
		switch {
		case p.err == nil:
		case p.err.Kind == KindFlowControl:
			return p.err
		case p.err.Kind == KindISP && isp == nil:
			isp = p.err
		}
	}
	return isp
}
