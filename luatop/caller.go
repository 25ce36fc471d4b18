package luatop

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"

	"github.com/topscript/topscript/top"
)

// This file is the one caller path: how a converted request becomes a call
// for top.call/try, top.call_all (single or batched) and job.run's workers.
// It decides the dry-run stand-in and the no-client error once, guards
// every call against panics, and turns every failure into a *top.Error.
// Everything here is safe on any goroutine: it touches no Lua state.

// ErrNoClient is the cause of the TOP error (kind invalid, message
// NoClientMsg) that every call raises when the host gave no client. A host
// finds it with errors.Is through the script's error, even after the error
// value went through Lua, to tell the user where credentials come from.
var ErrNoClient = errors.New(NoClientMsg)

// NoClientMsg is the message of the no-client error.
const NoClientMsg = "no TOP client configured"

// request is one converted call: everything Go needs, no Lua values.
type request struct {
	method string
	params top.Params
	opts   *top.CallOptions
	// dry is set for a write under dry-run: it is logged, not sent.
	dry bool
	// invalid is the error of a dry-run write the client's checks refuse:
	// its answer, as the real call's would be.
	invalid *top.Error
}

// outcome is the answer to one request.
type outcome struct {
	resp *top.Response
	err  *top.Error
}

// caller sends requests through the host's client.
type caller struct {
	client *top.Client // nil: every call fails with ErrNoClient
	dryRun bool
	log    *slog.Logger
}

// isWrite reports whether method changes state (the client's answer, the
// catalog's without a client).
func (c *caller) isWrite(method string) bool { return c.client.IsWrite(method) }

// local answers r without sending it, when it is not to be sent: a
// dry-run write gets the dry-run stand-in, any call without a client the
// no-client error.
func (c *caller) local(r *request) (outcome, bool) {
	switch {
	case r.dry && r.invalid != nil:
		return outcome{err: r.invalid}, true
	case r.dry:
		return outcome{resp: dryRunResponse(r.method)}, true
	case c.client == nil:
		return outcome{err: noClient(r.method)}, true
	}
	return outcome{}, false
}

// call performs one request.
func (c *caller) call(ctx context.Context, r *request) (out outcome) {
	if o, ok := c.local(r); ok {
		return o
	}
	defer func() {
		if p := recover(); p != nil {
			out = outcome{err: panicError(r.method, p)}
		}
	}()
	resp, err := c.client.Call(ctx, r.method, r.params, r.opts)
	return outcome{resp: resp, err: topError(r.method, err)}
}

// callBatch performs rs through the batch endpoint (top.Client.CallBatch),
// in input order; the requests answered locally are not packed.
func (c *caller) callBatch(ctx context.Context, rs []*request) (outs []outcome) {
	outs = make([]outcome, len(rs))
	var send []int
	for i, r := range rs {
		if o, ok := c.local(r); ok {
			outs[i] = o
			continue
		}
		send = append(send, i)
	}
	if len(send) == 0 {
		return outs
	}
	defer func() {
		if p := recover(); p != nil {
			for _, i := range send {
				outs[i] = outcome{err: panicError(rs[i].method, p)}
			}
		}
	}()
	calls := make([]top.BatchCall, len(send))
	for k, i := range send {
		calls[k] = top.BatchCall{Method: rs[i].method, Params: rs[i].params, Options: rs[i].opts}
	}
	res, _ := c.client.CallBatch(ctx, calls) // per-call errors are in res; a canceled run is raised by the caller
	for k, i := range send {
		if k < len(res) {
			outs[i] = outcome{resp: res[k].Response, err: topError(rs[i].method, res[k].Err)}
		}
	}
	return outs
}

// panicError is the error of a call of method that panicked with p: call
// and callBatch recover every panic, so none reaches a worker goroutine
// (or the host) as a crash.
func panicError(method string, p any) *top.Error {
	return &top.Error{Method: method, Kind: top.KindTransport,
		Msg: fmt.Sprintf("internal error: %v", p), Err: fmt.Errorf("%v\n%s", p, debug.Stack())}
}

// topError returns err as a *top.Error of method (nil for nil): the
// client's errors are one already, anything else becomes a transport error
// wrapping it.
func topError(method string, err error) *top.Error {
	if err == nil {
		return nil
	}
	var te *top.Error
	if errors.As(err, &te) {
		return te
	}
	return &top.Error{Method: method, Kind: top.KindTransport, Msg: err.Error(), Err: err}
}

// noClient is the error of a call of method without a client.
func noClient(method string) *top.Error {
	return &top.Error{Method: method, Kind: top.KindInvalid, Msg: NoClientMsg, Err: ErrNoClient}
}
