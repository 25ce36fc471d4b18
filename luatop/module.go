package luatop

import (
	"context"
	"fmt"
	"math"

	lua "github.com/yuin/gopher-lua"

	"github.com/topscript/topscript/internal/numtext"
	"github.com/topscript/topscript/luathread"
	"github.com/topscript/topscript/stdlib"
	"github.com/topscript/topscript/top"
)

// The top module: top.call, try, pages, each, call_all, throttle,
// is_write and dry_run, over the caller path (caller.go).

// openTop builds the top module table.
func (h *host) openTop(L *lua.LState) *lua.LTable {
	mod := L.CreateTable(0, 10)
	L.SetFuncs(mod, map[string]lua.LGFunction{
		"call":     h.call,
		"try":      h.try,
		"pages":    h.pages,
		"each":     h.each,
		"call_all": h.callAll,
		"throttle": h.throttle,
		"is_write": h.isWrite,
	})
	mod.RawSetString("dry_run", lua.LBool(h.c.dryRun))
	if h.shop != nil {
		shop := L.CreateTable(0, 3)
		shop.RawSetString("name", lua.LString(h.shop.Name))
		shop.RawSetString("nick", lua.LString(h.shop.Nick))
		shop.RawSetString("user_id", lua.LString(h.shop.UserID))
		mod.RawSetString("shop", shop)
	}
	return mod
}

// ctx returns the context of the running script: the Lua thread's own
// when L runs a tmc.listen handler or tick (luathread.Context: it outlives
// the run's interrupt until the handler is done), else Options.Context's,
// else the Lua state's, else Background.
func (h *host) ctx(L *lua.LState) context.Context {
	if c := luathread.Context(L); c != nil {
		return c
	}
	if h.context != nil {
		if c := h.context(); c != nil {
			return c
		}
	}
	if c := L.Context(); c != nil {
		return c
	}
	return context.Background()
}

// raiseIfInterrupted stops the script when its context is done.
func (h *host) raiseIfInterrupted(L *lua.LState) {
	if err := h.ctx(L).Err(); err != nil {
		L.RaiseError("interrupted: %v", err)
	}
}

// single runs call/try's shared part: the converted request and its outcome.
func (h *host) single(L *lua.LState, fn string) (lua.LValue, *top.Error) {
	r := &request{method: checkMethod(L, fn, 1)}
	r.params = checkParams(L, fn, 2)
	if L.GetTop() >= 3 {
		r.opts = checkOpts(L, fn, 3, callKeys).call
	}
	h.c.prepare(r)
	ctx := h.ctx(L)
	var out outcome
	luathread.Blocking(L, func() { out = h.c.call(ctx, r) })
	if out.err != nil {
		h.raiseIfInterrupted(L)
		return nil, out.err
	}
	return stdlib.ToLua(L, out.resp.Payload), nil
}

// call is top.call(method, params?, opts?): the result, or raises the error value.
func (h *host) call(L *lua.LState) int {
	v, terr := h.single(L, "call")
	if terr != nil {
		L.Error(TopErrorValue(L, terr), 1)
		return 0
	}
	L.Push(v)
	return 1
}

// try is top.try(method, params?, opts?): result | nil, err.
func (h *host) try(L *lua.LState) int {
	v, terr := h.single(L, "try")
	if terr != nil {
		L.Push(lua.LNil)
		L.Push(TopErrorValue(L, terr))
		return 2
	}
	L.Push(v)
	return 1
}

// pager builds the Pager of pages/each from the arguments.
func (h *host) pager(L *lua.LState, fn string) (*top.Pager, string) {
	method := checkMethod(L, fn, 1)
	params := checkParams(L, fn, 2)
	o := checkOpts(L, fn, 3, pageKeys)
	if o.reverse && o.useHasNext {
		argError(L, fn, 3, "opts.reverse needs total_results: do not set use_has_next")
	}
	if h.c.client == nil {
		L.Error(TopErrorValue(L, noClient(method)), 1)
	}
	p := h.c.client.Pages(h.ctx(L), method, params, top.PageOptions{
		PageSize:   o.pageSize,
		Reverse:    o.reverse,
		Items:      o.items,
		UseHasNext: o.useHasNext,
		Call:       o.call,
	})
	return p, method
}

// next fetches the next page, raising the error value on failure.
func (h *host) next(L *lua.LState, p *top.Pager, method string) (*top.Response, bool) {
	ctx := h.ctx(L)
	var (
		resp *top.Response
		ok   bool
		err  error
	)
	luathread.Blocking(L, func() { resp, ok, err = p.Next(ctx) })
	if err != nil {
		h.raiseIfInterrupted(L)
		L.Error(TopErrorValue(L, topError(method, err)), 1)
	}
	return resp, ok
}

// pages is top.pages(method, params?, opts?): an iterator over page payloads.
func (h *host) pages(L *lua.LState) int {
	p, method := h.pager(L, "pages")
	L.Push(L.NewFunction(func(L *lua.LState) int {
		resp, ok := h.next(L, p, method)
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
func (h *host) each(L *lua.LState) int {
	p, method := h.pager(L, "each")
	var items []any
	i := 0
	first := true
	L.Push(L.NewFunction(func(L *lua.LState) int {
		for i >= len(items) {
			resp, ok := h.next(L, p, method)
			if !ok {
				items = nil
				L.Push(lua.LNil)
				return 1
			}
			if first {
				// A method that does not page has nothing to walk: say so
				// rather than iterate 0 times.
				first = false
				if err := p.CheckList(resp); err != nil {
					L.Error(TopErrorValue(L, topError(method, err)), 1)
				}
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

// callAll is top.call_all(calls, opts?): runs the calls concurrently (as
// many at once as keep the throttle busy at the latency they meet, at
// most opts.concurrency when given: sizer.go; with opts.batch = n, n calls
// to a /router/batch request) under the client's shared throttle and
// returns results in input order: {ok=true, result=...} or {ok=false,
// error=err}. Lua values are converted before any call starts and results
// converted back on the script's thread.
func (h *host) callAll(L *lua.LState) int {
	calls, ok := L.Get(1).(*lua.LTable)
	if !ok {
		argError(L, "call_all", 1, "calls must be a table of {method, params, opts}, got "+stdlib.Describe(L.Get(1)))
	}
	base := checkOpts(L, "call_all", 2, batchKeys)
	conc := base.concurrency // 0: sized by the runner
	n := calls.MaxN()
	reqs := make([]*request, n)
	for i := 1; i <= n; i++ {
		at := fmt.Sprintf("calls[%d]", i)
		e, ok := calls.RawGetInt(i).(*lua.LTable)
		if !ok {
			argError(L, "call_all", 1, at+" must be a table {method, params, opts}, got "+stdlib.Describe(calls.RawGetInt(i)))
		}
		mv, pv, ov := e.RawGetInt(1), e.RawGetInt(2), e.RawGetInt(3)
		if mv == lua.LNil {
			mv, pv, ov = e.RawGetString("method"), e.RawGetString("params"), e.RawGetString("opts")
		}
		method, ok := mv.(lua.LString)
		if !ok || method == "" {
			argError(L, "call_all", 1, at+": method must be a string, got "+stdlib.Describe(mv))
		}
		params, err := convParams(pv, at+".params")
		if err != nil {
			argError(L, "call_all", 1, err.Error())
		}
		o, err := parseOpts(ov, callOpts{call: base.call}, callKeys)
		if err != nil {
			argError(L, "call_all", 1, at+": "+err.Error())
		}
		reqs[i-1] = &request{method: string(method), params: params, opts: o.call}
		h.c.prepare(reqs[i-1])
	}

	ctx := h.ctx(L)
	var outs []outcome
	luathread.Blocking(L, func() { outs = h.c.runAll(ctx, reqs, conc, base.batch) })
	h.raiseIfInterrupted(L)

	res := L.CreateTable(n, 0)
	for i, out := range outs {
		t := L.CreateTable(0, 2)
		if out.err != nil {
			t.RawSetString("ok", lua.LFalse)
			t.RawSetString("error", TopErrorValue(L, out.err))
		} else {
			t.RawSetString("ok", lua.LTrue)
			t.RawSetString("result", stdlib.ToLua(L, out.resp.Payload))
		}
		res.RawSetInt(i+1, t)
	}
	L.Push(res)
	return 1
}

// throttle is top.throttle(pattern, qps): sets the client-side rate of
// matching methods ("" or "*" = the whole app; qps ≤ 0 removes the limit).
func (h *host) throttle(L *lua.LState) int {
	pat, ok := L.Get(1).(lua.LString)
	if !ok {
		argError(L, "throttle", 1, "pattern must be a string, got "+stdlib.Describe(L.Get(1)))
	}
	qps, ok := L.Get(2).(lua.LNumber)
	if !ok {
		argError(L, "throttle", 2, "qps must be a number, got "+stdlib.Describe(L.Get(2)))
	}
	if q := float64(qps); math.IsNaN(q) || math.IsInf(q, 0) || q < 0 {
		argError(L, "throttle", 2, "qps must be a number of calls per second, 0 or more (0 removes the limit), got "+numtext.Format(float64(qps)))
	}
	h.c.client.SetRate(string(pat), float64(qps)) // nil-safe: no client, no rate
	return 0
}

// isWrite is top.is_write(method): whether the method changes state.
func (h *host) isWrite(L *lua.LState) int {
	method := checkMethod(L, "is_write", 1)
	L.Push(lua.LBool(h.c.isWrite(method)))
	return 1
}
