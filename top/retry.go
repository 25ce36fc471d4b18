package top

import (
	"context"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"
)

// This file is the client's one retry policy.
//
// Retried, after a wait that is never zero (the first is at least
// Config.Retry.Backoff, then it doubles, with up to 50% jitter, capped at
// MaxBackoff), up to MaxAttempts attempts in all (CallOptions.Retries):
//   - gateway errors with an isp.* sub_code, and code 10;
//   - flow-control errors without a ban duration;
//   - HTTP 5xx and 429, malformed or truncated bodies, connection failures.
//
// Code 7 (and other limits) with "This ban will last for N more seconds":
// when N <= MaxBanWait the call waits N+1 s and retries, and meanwhile every
// other call of the same scope (the app; the API, for every app or for this
// one, for the api-scoped sub_codes; the session for codes 4 and 5; see
// banScope) is held back before sending, so
// concurrent callers wait once instead of hammering. Longer bans fail at
// once with RetryAfter set, and so do calls of that scope until it lifts.
//
// Never retried: isv.*, codes 11–13, 21–34, 40–43, and anything else.
//
// A write whose request may have reached the gateway and whose outcome the
// answer leaves open is not retried unless it is known idempotent (the
// catalog, or CallOptions.Idempotent): it fails with KindUnknownOutcome.
// Open outcomes are an error or timeout after the request was written, a
// truncated or malformed answer, any HTTP 5xx, and an isp.* error
// (ambiguousISP): the platform answers isp.* when its backend failed or did
// not answer within 3 s, and a backend that timed out may have applied the
// write. Only isp errors saying the service was unavailable
// (…service-unavailable, code 10) are taken as not applied and retried. A
// connection that failed before the request was written is always safe to
// retry, and so is HTTP 429.

// banSlack is added to a ban: wait N+1 s.
const banSlack = time.Second

// banJitter bounds the jitter added to each waiter of a ban.
const banJitter = 200 * time.Millisecond

// do runs a prepared call under the retry policy.
func (c *Client) do(ctx context.Context, cl *call) (*Response, error) {
	var last *Error
	tr := callTrace(ctx)
	for attempt := 1; ; attempt++ {
		tk, e := c.admitted(ctx, cl, last)
		if e != nil {
			return nil, e
		}

		tr.sent(cl.method)
		start := c.clock.Now()
		res := c.attempt(ctx, cl, tk)
		res.sent = start
		d := c.clock.Now().Sub(start)
		c.logAttempt(cl, attempt, d, res)
		tr.answered(cl.method, d, res.err)
		if res.err == nil {
			return res.resp, nil
		}
		last = res.err
		next := c.retry(ctx, cl, res, attempt)
		if next.err != nil {
			return nil, next.err
		}
		if next.backoff {
			wait := c.backoff(attempt)
			c.logger.Debug("top retry", "method", cl.method, "attempt", attempt, "wait", wait, "kind", string(res.err.Kind))
			tr.backoff(cl.method, wait)
			if err := c.clock.Sleep(ctx, wait); err != nil {
				return nil, c.ctxError(cl, "waiting to retry", err, res.err)
			}
		}
		// Otherwise a ban holds the call back: admit waits it out.
	}
}

// admit holds cl back while a closure window or a ban covers it; it
// returns the error that stops the call (nothing is sent), or nil when the
// call may take its throttle token.
func (c *Client) admit(ctx context.Context, cl *call) *Error {
	if e := c.waitClosures(ctx, cl.method); e != nil {
		return e
	}
	return c.waitGates(ctx, cl, c.callScopes(cl))
}

// admitted admits cl and takes its throttle tokens. A ban that shut one of
// its scopes while it waited for them sends it back to admit, the tokens
// given back: calls queued at the throttle do not run into the ban the
// call before them just met. last is the failure that made cl try again.
func (c *Client) admitted(ctx context.Context, cl *call, last *Error) (*ticket, *Error) {
	for {
		if e := c.admit(ctx, cl); e != nil {
			return nil, e
		}
		tk, err := c.throttle.acquire(ctx, cl.method)
		if err != nil {
			return nil, c.ctxError(cl, "waiting for the throttle", err, last)
		}
		if _, shut := c.gates.latest(c.clock.Now(), c.callScopes(cl)); !shut {
			return tk, nil
		}
		tk.release()
	}
}

// decision is the retry policy's answer about one failed attempt.
type decision struct {
	err     *Error // non-nil: give up with this error
	backoff bool   // else try again: after a backoff, or (false) once the ban gate opens
}

// retry decides what follows failed attempt n (1-based) of cl, whose
// outcome is res. It is the one place the policy's rules live, for single
// calls (do) and for batches (runBatch: each sub-request's answer, and a
// failure of the whole batch judged for each of its sub-requests):
//   - the caller gave up (ctx done, no gateway answer): stop, reporting a
//     write not known idempotent that may have been sent as unknown_outcome;
//   - flow control with a ban: hold the ban's scope back (even when the ban
//     is too long to wait out: later callers then fail without sending),
//     and try again once it is over when it ends within MaxBanWait;
//   - an isp.* error that leaves the outcome open (ambiguousISP), for a
//     write not known idempotent: unknown_outcome, never sent again;
//   - isp.* errors, flow control without a ban, retryable transport
//     failures: try again after a backoff, up to cl.attempts attempts;
//   - a retryable failure that may have reached the gateway (HTTP 5xx
//     included), for a write not known idempotent: unknown_outcome, never
//     sent again;
//   - anything else fails as it is.
func (c *Client) retry(ctx context.Context, cl *call, res attemptResult, n int) decision {
	e := res.err
	switch {
	case ctx.Err() != nil && !res.gateway:
		if res.reached && cl.write && !cl.idempotent {
			return decision{err: unknownOutcome(cl, e, ctx.Err())}
		}
		return decision{err: c.ctxError(cl, "call canceled", ctx.Err(), nil)}
	case res.gateway && e.Kind == KindISP && cl.write && !cl.idempotent && ambiguousISP(e):
		return decision{err: unknownOutcome(cl, e, nil)}
	case res.gateway && e.Kind == KindFlowControl && e.RetryAfter > 0:
		scope := c.holdBan(cl, e, res.sent)
		if e.RetryAfter > c.cfg.Retry.MaxBanWait {
			if c.onLongBan != nil {
				c.onLongBan(LongBan{Method: cl.method, Scope: scope, Wait: e.RetryAfter, Err: e})
			}
			return decision{err: e}
		}
		if n >= cl.attempts {
			return decision{err: e}
		}
		c.logger.Debug("top ban", "method", cl.method, "scope", scope, "wait", e.RetryAfter+banSlack)
		return decision{}
	case res.gateway && (e.Kind == KindISP || e.Kind == KindFlowControl):
	case res.gateway, !res.retryable:
		return decision{err: e}
	case res.reached && cl.write && !cl.idempotent:
		return decision{err: unknownOutcome(cl, e, nil)}
	}
	if n >= cl.attempts {
		return decision{err: e}
	}
	return decision{backoff: true}
}

// ambiguousISP reports whether an isp.* error leaves a write's outcome
// open: every one but those saying the service was unavailable (code 10,
// or a sub_code base ending in "service-unavailable"), which the platform
// answers before the backend takes the call. Timeouts
// (isp.top-remote-connection-timeout, its -tmall form) and unknown errors
// (isp.top-remote-unknown-error) are the common ambiguous ones.
func ambiguousISP(e *Error) bool {
	return e.Code != 10 && !strings.HasSuffix(SubCodeBase(e.SubCode), "service-unavailable")
}

// holdBan shuts the ban scope of a flow-control error e of cl (sent at
// sentAt) for the ban's duration (plus banSlack), has the throttle learn
// from it, and returns the scope.
func (c *Client) holdBan(cl *call, e *Error, sentAt time.Time) string {
	scope := c.banScope(cl, e)
	until := c.clock.Now().Add(e.RetryAfter + banSlack)
	c.gates.set(scope, until, e)
	c.throttle.limited(scope, cl.method, sentAt, until)
	c.publishBan(scope, until) // WithShared: hold back the other processes too
	return scope
}

// backoff is the wait after failed attempt n (1-based): Backoff·2^(n-1)
// plus up to 50% jitter, capped at MaxBackoff, never below Backoff.
func (c *Client) backoff(n int) time.Duration {
	r := c.cfg.Retry
	d := r.Backoff
	for i := 1; i < n && d < r.MaxBackoff; i++ {
		d *= 2
	}
	if d > r.MaxBackoff {
		d = r.MaxBackoff
	}
	if half := int64(d / 2); half > 0 {
		d += time.Duration(rand.Int64N(half))
	}
	if d > r.MaxBackoff {
		d = r.MaxBackoff
	}
	if d < r.Backoff {
		d = r.Backoff
	}
	return d
}

// unknownOutcome wraps a transport failure of a non-idempotent write that
// may have reached the gateway.
func unknownOutcome(cl *call, e *Error, cause error) *Error {
	out := *e
	out.Kind = KindUnknownOutcome
	out.Msg = e.Msg + "; the request may have been processed (write not known to be idempotent: not retried)"
	if cause != nil {
		out.Err = cause
	}
	return &out
}

// ctxError reports that the caller's context ended a wait. last, if any,
// is the failure that made the call wait.
func (c *Client) ctxError(cl *call, what string, err error, last *Error) *Error {
	out := &Error{Method: cl.method, Kind: KindTransport, Err: err}
	if last != nil {
		out.Kind = last.Kind
		out.Code, out.SubCode, out.SubMsg, out.RequestID, out.RetryAfter = last.Code, last.SubCode, last.SubMsg, last.RequestID, last.RetryAfter
		out.Msg = fmt.Sprintf("%s (%s: %v)", last.Msg, what, err)
		return out
	}
	out.Msg = fmt.Sprintf("%s: %v", what, err)
	return out
}

// gates hold back calls of a scope while a ban lasts.
type gates struct {
	mu sync.Mutex
	m  map[string]gate
}

type gate struct {
	until time.Time
	err   Error
}

func newGates() *gates { return &gates{m: map[string]gate{}} }

// set extends the gate of scope to until (never shortens it).
func (g *gates) set(scope string, until time.Time, e *Error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if cur, ok := g.m[scope]; ok && !until.After(cur.until) {
		return
	}
	g.m[scope] = gate{until: until, err: *e}
}

// latest returns the gate that ends last among scopes and is still shut at
// now; expired gates are dropped.
func (g *gates) latest(now time.Time, scopes []string) (gate, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	var best gate
	found := false
	for _, s := range scopes {
		gt, ok := g.m[s]
		if !ok {
			continue
		}
		if !gt.until.After(now) {
			delete(g.m, s)
			continue
		}
		if !found || gt.until.After(best.until) {
			best, found = gt, true
		}
	}
	return best, found
}

// waitGates holds a call back while a ban on one of its scopes lasts. A
// ban that ends later than MaxBanWait from now, or after ctx's deadline,
// fails at once with the ban's error and RetryAfter set; nothing is sent.
func (c *Client) waitGates(ctx context.Context, cl *call, scopes []string) *Error {
	for range 1000 {
		c.syncSharedBans(ctx, scopes) // WithShared: bans other processes ran into
		now := c.clock.Now()
		gt, ok := c.gates.latest(now, scopes)
		if !ok {
			return nil
		}
		left := gt.until.Sub(now)
		e := gt.err
		e.Method = cl.method
		e.RetryAfter = left
		e.RequestID = "" // this call was not sent
		if left > c.cfg.Retry.MaxBanWait+banSlack {
			return &e
		}
		if dl, ok := ctx.Deadline(); ok && dl.Before(gt.until) {
			return &e
		}
		wait := left + time.Duration(rand.Int64N(int64(banJitter)))
		if err := c.clock.Sleep(ctx, wait); err != nil {
			return c.ctxError(cl, "waiting out a ban", err, &e)
		}
	}
	return nil
}

// The ban scopes. Code 7 names what is limited by its sub_code:
// accesscontrol.limited-by-app-access-count the whole app ("app"),
// ...-by-api-access-count one API for every app ("api:<method>"),
// ...-by-app-api-access-count one API for this app ("app-api:<method>");
// codes 4 and 5 the session ("session:<hash>"). A ban holds back the calls
// of its own scope only: a limit on one API leaves the app's other APIs
// alone. The scopes are the keys of the gates and of the shared bans
// (WithShared), so every process of a fleet holds the same scope back.
const (
	scopeApp    = "app"
	scopeAPI    = "api:"     // + method
	scopeAppAPI = "app-api:" // + method
)

// callScopes lists the ban scopes a call belongs to.
func (c *Client) callScopes(cl *call) []string {
	s := []string{scopeApp, scopeAPI + cl.method, scopeAppAPI + cl.method}
	if cl.session != "" {
		s = append(s, sessionScope(cl.session))
	}
	return s
}

// banScope is the scope a flow-control error bans, by its sub_code's base.
func (c *Client) banScope(cl *call, e *Error) string {
	switch SubCodeBase(e.SubCode) {
	case "accesscontrol.limited-by-api-access-count":
		return scopeAPI + cl.method
	case "accesscontrol.limited-by-app-api-access-count":
		return scopeAppAPI + cl.method
	}
	if (e.Code == 4 || e.Code == 5) && cl.session != "" {
		return sessionScope(cl.session)
	}
	return scopeApp
}

// sessionScope keys a session's scope by a hash, so the session itself is
// never kept or logged.
func sessionScope(session string) string {
	h := fnv.New64a()
	h.Write([]byte(session))
	return "session:" + strconv.FormatUint(h.Sum64(), 36)
}

// logAttempt writes the debug line of one attempt. It never includes the
// secret, the session or the sign.
func (c *Client) logAttempt(cl *call, attempt int, d time.Duration, res attemptResult) {
	if !c.logger.Enabled(context.Background(), slog.LevelDebug) {
		return
	}
	attrs := []any{"method", cl.method, "attempt", attempt, "duration", d}
	if res.status != 0 {
		attrs = append(attrs, "status", res.status)
	}
	if res.err == nil {
		if res.resp != nil && res.resp.RequestID != "" {
			attrs = append(attrs, "request_id", res.resp.RequestID)
		}
		attrs = append(attrs, "code", 0)
	} else {
		e := res.err
		attrs = append(attrs, "code", e.Code, "kind", string(e.Kind))
		if e.SubCode != "" {
			attrs = append(attrs, "sub_code", e.SubCode)
		}
		if e.RequestID != "" {
			attrs = append(attrs, "request_id", e.RequestID)
		}
		if !res.gateway {
			attrs = append(attrs, "error", cl.redact.Text(e.Msg))
		}
	}
	c.logger.Debug("top call", attrs...)
}
