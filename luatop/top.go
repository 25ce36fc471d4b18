// Package luatop is the Lua side of TOP: the `top` module
// (TOP calls, paging, bulk calls, throttling, dry-run) that scripts see as
// the global `top` and as require("top").
//
// The Lua contract:
//
//	top.call(method, params?, opts?)  --> result table; raises a TOP error value on failure
//	top.try(method, params?, opts?)   --> result | nil, err
//	top.pages(method, params?, opts?) --> iterator over page payloads (opts.reverse for increment APIs)
//	top.each(method, params?, opts?)  --> iterator over list items across pages (opts.items names the list)
//	top.call_all(calls, opts?)        --> results; calls = {{method, params, opts?}, ...}
//	top.throttle(pattern, qps)        --  set a rate for matching methods at run time
//	top.is_write(method)              --> boolean
//	top.dry_run                       --> boolean
//
// opts: session (string), timeout ("10s" or seconds), retries (number of
// retries after the first attempt), simplify (boolean); pages/each also take
// items (list field), reverse, page_size, use_has_next; call_all takes
// concurrency (default 4), batch (pack up to that many calls into one
// /router/batch request; each still takes its own throttle token and gets
// its own result) plus defaults for every call.
//
// Params and results convert with stdlib.FromLua and stdlib.ToLua: integers
// beyond ±2^53 arrive as strings of their exact digits and go back out
// unchanged. Errors are TOP error values (stdlib.TopErrorValue): tables with
// code, msg, sub_code, sub_msg, request_id, method, kind and retry_after
// whose tostring is the one-line text of *top.Error.
package luatop

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime/debug"
	"sync"

	lua "github.com/yuin/gopher-lua"

	"github.com/topscript/topscript/stdlib"
	"github.com/topscript/topscript/top"
	"github.com/topscript/topscript/top/catalog"
)

// Options configure the top module.
type Options struct {
	// Client sends the calls. Without one every call raises
	// "no TOP client configured" (is_write still answers from the catalog).
	Client *top.Client
	// DryRun logs writes instead of sending them (see top.call).
	DryRun bool
	// Logger receives dry-run lines; nil logs text to stderr.
	Logger *slog.Logger
}

// DefaultConcurrency is call_all's concurrency when opts.concurrency is not given.
const DefaultConcurrency = 4

// ModuleName is the name scripts require.
const ModuleName = "top"

type module struct {
	c      *top.Client
	dryRun bool
	log    *slog.Logger
}

// Open builds the top module in L and makes it available both as the
// global `top` and as require("top") (the same table). It returns the table.
func Open(L *lua.LState, o Options) *lua.LTable {
	mod := newModule(L, o)
	L.SetGlobal(ModuleName, mod)
	L.PreloadModule(ModuleName, func(L *lua.LState) int {
		L.Push(mod)
		return 1
	})
	return mod
}

// Loader returns a package.preload loader building a fresh top module,
// for hosts that want require("top") without the global.
func Loader(o Options) lua.LGFunction {
	return func(L *lua.LState) int {
		L.Push(newModule(L, o))
		return 1
	}
}

func newModule(L *lua.LState, o Options) *lua.LTable {
	m := &module{c: o.Client, dryRun: o.DryRun, log: o.Logger}
	if m.log == nil {
		m.log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	mod := L.CreateTable(0, 10)
	L.SetFuncs(mod, map[string]lua.LGFunction{
		"call":     m.call,
		"try":      m.try,
		"pages":    m.pages,
		"each":     m.each,
		"call_all": m.callAll,
		"throttle": m.throttle,
		"is_write": m.isWrite,
	})
	mod.RawSetString("dry_run", lua.LBool(o.DryRun))
	return mod
}

// argError raises "bad argument #n to 'top.fn' (msg)".
func argError(L *lua.LState, fn string, n int, msg string) {
	L.RaiseError("bad argument #%d to 'top.%s' (%s)", n, fn, msg)
}

func typeName(v lua.LValue) string {
	if v == lua.LNil {
		return "no value"
	}
	return v.Type().String()
}

// request is one converted call: everything Go needs, no Lua values.
type request struct {
	method string
	params top.Params
	opts   *top.CallOptions
}

// callOpts are the options of call/try/pages/each/call_all.
type callOpts struct {
	call        *top.CallOptions // nil when none of session/timeout/retries/simplify is set
	items       string
	reverse     bool
	pageSize    int
	useHasNext  bool
	concurrency int
	batch       int // call_all: sub-requests per /router/batch request (0 or 1: no batching)
}

// checkMethod reads argument n as a method name.
func checkMethod(L *lua.LState, fn string, n int) string {
	s, ok := L.Get(n).(lua.LString)
	if !ok || s == "" {
		if ok {
			argError(L, fn, n, "method must not be empty")
		}
		argError(L, fn, n, "method must be a string, got "+typeName(L.Get(n)))
	}
	return string(s)
}

// convParams converts a params value (nil or a table); root names it in errors.
func convParams(v lua.LValue, root string) (top.Params, error) {
	switch t := v.(type) {
	case *lua.LNilType:
		return nil, nil
	case *lua.LTable:
		g, err := stdlib.FromLuaAt(t, root, "a parameter")
		if err != nil {
			return nil, err
		}
		switch x := g.(type) {
		case map[string]any:
			return top.Params(x), nil
		case []any:
			return nil, fmt.Errorf("%s must be a table of name = value pairs, not a list", root)
		}
	}
	return nil, fmt.Errorf("%s must be a table, got %s", root, typeName(v))
}

// checkParams reads argument n as params.
func checkParams(L *lua.LState, fn string, n int) top.Params {
	p, err := convParams(L.Get(n), "params")
	if err != nil {
		argError(L, fn, n, err.Error())
	}
	return p
}

// parseOpts reads an opts table over base (which it does not modify).
func parseOpts(v lua.LValue, base callOpts, allowed map[string]bool) (callOpts, error) {
	o := base
	t, ok := v.(*lua.LTable)
	if !ok {
		if v == lua.LNil {
			return o, nil
		}
		return o, fmt.Errorf("opts must be a table, got %s", typeName(v))
	}
	co := top.CallOptions{Retries: -1}
	if base.call != nil {
		co = *base.call
	}
	setCall := base.call != nil
	var err error
	t.ForEach(func(k, val lua.LValue) {
		if err != nil {
			return
		}
		key, ok := k.(lua.LString)
		if !ok {
			err = fmt.Errorf("opts keys must be strings")
			return
		}
		name := string(key)
		if !allowed[name] {
			err = fmt.Errorf("unknown option %q", name)
			return
		}
		bad := func(want string) {
			err = fmt.Errorf("opts.%s must be %s, got %s", name, want, typeName(val))
		}
		if isCall, cerr := stdlib.SetCallOption(&co, name, val); isCall {
			err, setCall = cerr, true
			return
		}
		switch name {
		case "items":
			s, ok := val.(lua.LString)
			if !ok {
				bad("a string")
				return
			}
			o.items = string(s)
		case "reverse":
			b, ok := val.(lua.LBool)
			if !ok {
				bad("a boolean")
				return
			}
			o.reverse = bool(b)
		case "use_has_next":
			b, ok := val.(lua.LBool)
			if !ok {
				bad("a boolean")
				return
			}
			o.useHasNext = bool(b)
		case "page_size":
			n, ok := val.(lua.LNumber)
			if !ok || n < 1 {
				bad("a number ≥ 1")
				return
			}
			o.pageSize = int(n)
		case "concurrency":
			n, ok := val.(lua.LNumber)
			if !ok || n < 1 {
				bad("a number ≥ 1")
				return
			}
			o.concurrency = int(n)
		case "batch":
			n, ok := val.(lua.LNumber)
			if !ok || n < 1 {
				bad("a number ≥ 1")
				return
			}
			o.batch = int(n)
		}
	})
	if err != nil {
		return o, err
	}
	if setCall {
		o.call = &co
	}
	return o, nil
}

var (
	callKeys  = map[string]bool{"session": true, "timeout": true, "retries": true, "simplify": true}
	pageKeys  = map[string]bool{"session": true, "timeout": true, "retries": true, "simplify": true, "items": true, "reverse": true, "page_size": true, "use_has_next": true}
	batchKeys = map[string]bool{"session": true, "timeout": true, "retries": true, "simplify": true, "concurrency": true, "batch": true}
)

func checkOpts(L *lua.LState, fn string, n int, allowed map[string]bool) callOpts {
	o, err := parseOpts(L.Get(n), callOpts{}, allowed)
	if err != nil {
		argError(L, fn, n, err.Error())
	}
	return o
}

// ctx returns the context of the running script.
func ctx(L *lua.LState) context.Context {
	if c := L.Context(); c != nil {
		return c
	}
	return context.Background()
}

// raiseIfInterrupted stops the script when its context is done.
func raiseIfInterrupted(L *lua.LState) {
	if err := ctx(L).Err(); err != nil {
		L.RaiseError("interrupted: %v", err)
	}
}

// asTopError returns err as a *top.Error, wrapping other errors.
func asTopError(method string, err error) *top.Error {
	var te *top.Error
	if errors.As(err, &te) {
		return te
	}
	return &top.Error{Method: method, Kind: top.KindTransport, Msg: err.Error(), Err: err}
}

// do performs one call (or its dry-run stand-in). It is safe to call from
// any goroutine: it touches no Lua state.
func (m *module) do(c context.Context, r *request) (*top.Response, error) {
	if m.dryRun && m.isWriteMethod(r.method) {
		return dryRunResponse(r.method), nil
	}
	if m.c == nil {
		return nil, &top.Error{Method: r.method, Kind: top.KindInvalid, Msg: stdlib.NoClientMsg}
	}
	return m.c.Call(c, r.method, r.params, r.opts)
}

// dryRunMarker is the payload key of a write not sent under dry-run.
const dryRunMarker = "dry_run"

func dryRunResponse(method string) *top.Response {
	return &top.Response{Method: method, Payload: map[string]any{dryRunMarker: true}}
}

// logDryRun logs a write that dry-run does not send, secrets redacted.
func (m *module) logDryRun(r *request) {
	m.log.Info("dry-run: would call "+r.method, "method", r.method, "params", m.c.Redact(top.FormatParams(r.params)))
}

func (m *module) isWriteMethod(method string) bool {
	if m.c != nil {
		return m.c.IsWrite(method)
	}
	return catalog.IsWrite(method)
}

// single runs call/try's shared part: the converted request and its outcome.
func (m *module) single(L *lua.LState, fn string) (lua.LValue, *top.Error) {
	r := &request{method: checkMethod(L, fn, 1)}
	r.params = checkParams(L, fn, 2)
	if L.GetTop() >= 3 {
		r.opts = checkOpts(L, fn, 3, callKeys).call
	}
	if m.dryRun && m.isWriteMethod(r.method) {
		m.logDryRun(r)
	}
	resp, err := m.do(ctx(L), r)
	if err != nil {
		raiseIfInterrupted(L)
		return nil, asTopError(r.method, err)
	}
	return stdlib.ToLua(L, resp.Payload), nil
}

// call is top.call(method, params?, opts?): the result, or raises the error value.
func (m *module) call(L *lua.LState) int {
	v, terr := m.single(L, "call")
	if terr != nil {
		L.Error(stdlib.TopErrorValue(L, terr), 1)
		return 0
	}
	L.Push(v)
	return 1
}

// try is top.try(method, params?, opts?): result | nil, err.
func (m *module) try(L *lua.LState) int {
	v, terr := m.single(L, "try")
	if terr != nil {
		L.Push(lua.LNil)
		L.Push(stdlib.TopErrorValue(L, terr))
		return 2
	}
	L.Push(v)
	return 1
}

// pager builds the Pager of pages/each from the arguments.
func (m *module) pager(L *lua.LState, fn string) (*top.Pager, string) {
	method := checkMethod(L, fn, 1)
	params := checkParams(L, fn, 2)
	o := checkOpts(L, fn, 3, pageKeys)
	if o.reverse && o.useHasNext {
		argError(L, fn, 3, "opts.reverse needs total_results: do not set use_has_next")
	}
	if m.c == nil {
		L.Error(stdlib.TopErrorValue(L, &top.Error{Method: method, Kind: top.KindInvalid, Msg: stdlib.NoClientMsg}), 1)
	}
	p := m.c.Pages(ctx(L), method, params, top.PageOptions{
		PageSize:   o.pageSize,
		Reverse:    o.reverse,
		Items:      o.items,
		UseHasNext: o.useHasNext,
		Call:       o.call,
	})
	return p, method
}

// next fetches the next page, raising the error value on failure.
func next(L *lua.LState, p *top.Pager, method string) (*top.Response, bool) {
	resp, ok, err := p.Next(ctx(L))
	if err != nil {
		raiseIfInterrupted(L)
		L.Error(stdlib.TopErrorValue(L, asTopError(method, err)), 1)
	}
	return resp, ok
}

// pages is top.pages(method, params?, opts?): an iterator over page payloads.
func (m *module) pages(L *lua.LState) int {
	p, method := m.pager(L, "pages")
	L.Push(L.NewFunction(func(L *lua.LState) int {
		resp, ok := next(L, p, method)
		if !ok {
			L.Push(lua.LNil)
			return 1
		}
		L.Push(stdlib.ToLua(L, resp.Payload))
		return 1
	}))
	return 1
}

// each is top.each(method, params?, opts?): an iterator over list items
// across pages. The list is opts.items, else the catalog's list field, else
// the payload's only list; both envelope shapes are understood.
func (m *module) each(L *lua.LState) int {
	p, method := m.pager(L, "each")
	var items []any
	i := 0
	L.Push(L.NewFunction(func(L *lua.LState) int {
		for i >= len(items) {
			resp, ok := next(L, p, method)
			if !ok {
				items = nil
				L.Push(lua.LNil)
				return 1
			}
			items, i = p.Items(resp), 0
		}
		v := items[i]
		items[i] = nil // let the page go as it is consumed
		i++
		L.Push(stdlib.ToLua(L, v))
		return 1
	}))
	return 1
}

// outcome is one call_all result, filled by a worker goroutine.
type outcome struct {
	resp *top.Response
	err  error
}

// callAll is top.call_all(calls, opts?): runs the calls concurrently (at
// most opts.concurrency at a time, default 4) under the client's shared
// throttle and returns results in input order: {ok=true, result=...} or
// {ok=false, error=err}. Lua values are converted before any goroutine
// starts and results converted back on the script's thread.
func (m *module) callAll(L *lua.LState) int {
	calls, ok := L.Get(1).(*lua.LTable)
	if !ok {
		argError(L, "call_all", 1, "calls must be a table of {method, params, opts}, got "+typeName(L.Get(1)))
	}
	base := checkOpts(L, "call_all", 2, batchKeys)
	conc := base.concurrency
	if conc <= 0 {
		conc = DefaultConcurrency
	}
	n := calls.MaxN()
	reqs := make([]request, n)
	for i := 1; i <= n; i++ {
		at := fmt.Sprintf("calls[%d]", i)
		e, ok := calls.RawGetInt(i).(*lua.LTable)
		if !ok {
			argError(L, "call_all", 1, at+" must be a table {method, params, opts}, got "+typeName(calls.RawGetInt(i)))
		}
		mv, pv, ov := e.RawGetInt(1), e.RawGetInt(2), e.RawGetInt(3)
		if mv == lua.LNil {
			mv, pv, ov = e.RawGetString("method"), e.RawGetString("params"), e.RawGetString("opts")
		}
		method, ok := mv.(lua.LString)
		if !ok || method == "" {
			argError(L, "call_all", 1, at+": method must be a string, got "+typeName(mv))
		}
		params, err := convParams(pv, at+".params")
		if err != nil {
			argError(L, "call_all", 1, err.Error())
		}
		o, err := parseOpts(ov, callOpts{call: base.call}, callKeys)
		if err != nil {
			argError(L, "call_all", 1, at+": "+err.Error())
		}
		reqs[i-1] = request{method: string(method), params: params, opts: o.call}
		if m.dryRun && m.isWriteMethod(string(method)) {
			m.logDryRun(&reqs[i-1])
		}
	}

	var outs []outcome
	if base.batch > 1 {
		outs = m.runBatched(ctx(L), reqs, conc, base.batch)
	} else {
		outs = m.runAll(ctx(L), reqs, conc)
	}
	raiseIfInterrupted(L)

	res := L.CreateTable(n, 0)
	for i, out := range outs {
		t := L.CreateTable(0, 2)
		if out.err != nil {
			t.RawSetString("ok", lua.LFalse)
			t.RawSetString("error", stdlib.TopErrorValue(L, asTopError(reqs[i].method, out.err)))
		} else {
			t.RawSetString("ok", lua.LTrue)
			t.RawSetString("result", stdlib.ToLua(L, out.resp.Payload))
		}
		res.RawSetInt(i+1, t)
	}
	L.Push(res)
	return 1
}

// runAll performs reqs with at most conc in flight and returns their
// outcomes in order. It touches no Lua state.
func (m *module) runAll(c context.Context, reqs []request, conc int) []outcome {
	outs := make([]outcome, len(reqs))
	if conc > len(reqs) {
		conc = len(reqs)
	}
	work := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				outs[i] = m.safeDo(c, &reqs[i])
			}
		}()
	}
	for i := range reqs {
		work <- i
	}
	close(work)
	wg.Wait()
	return outs
}

// safeDo is do with panics turned into errors, for worker goroutines.
func (m *module) safeDo(c context.Context, r *request) (out outcome) {
	defer func() {
		if p := recover(); p != nil {
			out = outcome{err: &top.Error{Method: r.method, Kind: top.KindTransport,
				Msg: fmt.Sprintf("internal error: %v", p), Err: fmt.Errorf("%v\n%s", p, debug.Stack())}}
		}
	}()
	resp, err := m.do(c, r)
	return outcome{resp: resp, err: err}
}

// throttle is top.throttle(pattern, qps): sets the client-side rate of
// matching methods ("" or "*" = the whole app; qps ≤ 0 removes the limit).
func (m *module) throttle(L *lua.LState) int {
	pat, ok := L.Get(1).(lua.LString)
	if !ok {
		argError(L, "throttle", 1, "pattern must be a string, got "+typeName(L.Get(1)))
	}
	qps, ok := L.Get(2).(lua.LNumber)
	if !ok {
		argError(L, "throttle", 2, "qps must be a number, got "+typeName(L.Get(2)))
	}
	if m.c != nil {
		m.c.SetRate(string(pat), float64(qps))
	}
	return 0
}

// isWrite is top.is_write(method): whether the method changes state.
func (m *module) isWrite(L *lua.LState) int {
	method := checkMethod(L, "is_write", 1)
	L.Push(lua.LBool(m.isWriteMethod(method)))
	return 1
}
