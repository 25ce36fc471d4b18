package top

import (
	"context"
	"time"
)

// CallTrace is a set of hooks the client runs as a call goes through it,
// for a caller that sizes its own concurrency from what the calls meet:
// their latency on the wire, their errors, their waits to retry. It is
// carried by the context (WithCallTrace), as net/http/httptrace's hooks
// are; every field may be nil. The hooks run on the goroutine of the call
// and must be quick; they never see parameters, the session or the sign.
type CallTrace struct {
	// Sent runs right before an attempt's request is written, its
	// throttle tokens taken. For a batch, method is the batch's label
	// ("batch of 20 calls").
	Sent func(method string)
	// Answered runs when that attempt is over: d is the time from Sent to
	// the end of the answer, err nil for a success, else the attempt's
	// error (a gateway error_response or a transport failure; for a batch,
	// the failure of the whole batch, else its first flow-control or isp
	// sub-request error).
	Answered func(method string, d time.Duration, err *Error)
	// Backoff runs before the call waits d to be sent again after a failed
	// attempt (the retry policy's backoff; a ban is waited out before the
	// throttle, by every call of its scope, and does not run it).
	Backoff func(method string, d time.Duration)
}

type callTraceKey struct{}

// WithCallTrace returns a context whose calls run the hooks of t.
func WithCallTrace(ctx context.Context, t *CallTrace) context.Context {
	return context.WithValue(ctx, callTraceKey{}, t)
}

// callTrace returns the hooks ctx carries, or nil.
func callTrace(ctx context.Context) *CallTrace {
	t, _ := ctx.Value(callTraceKey{}).(*CallTrace)
	return t
}

func (t *CallTrace) sent(method string) {
	if t != nil && t.Sent != nil {
		t.Sent(method)
	}
}

func (t *CallTrace) answered(method string, d time.Duration, err *Error) {
	if t != nil && t.Answered != nil {
		t.Answered(method, d, err)
	}
}

func (t *CallTrace) backoff(method string, d time.Duration) {
	if t != nil && t.Backoff != nil {
		t.Backoff(method, d)
	}
}
