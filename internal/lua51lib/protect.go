package lua51lib

import (
	"errors"
	"strings"

	lua "github.com/yuin/gopher-lua"

	"github.com/topscript/topscript/luathread"
)

// protector runs pcall's and xpcall's functions on threads of their own,
// kept for reuse: a thread is created once per nesting depth, not per
// call.
type protector struct {
	// unadopt ends each busy thread's adoption by the thread it runs for
	// (luathread: a tmc.listen handler's context).
	unadopt map[*lua.LState]func()

	// lastRaised is the last string error() raised (raised: there is one).
	lastRaised lua.LString
	raised     bool

	idle []*lua.LState
	// parent is the thread each busy thread runs a protected call for.
	parent map[*lua.LState]*lua.LState
}

// maxIdle bounds the threads kept for reuse (each holds a register array
// and a call stack).
const maxIdle = 4

func (p *protector) get(L *lua.LState) *lua.LState {
	var th *lua.LState
	if n := len(p.idle); n > 0 {
		th, p.idle = p.idle[n-1], p.idle[:n-1]
	} else {
		th, _ = L.NewThread()
	}
	p.parent[th] = L
	p.unadopt[th] = luathread.Adopt(th, L)
	// The run's context (cancellation, the memory watchdog) applies
	// inside the protected call as outside.
	if ctx := L.Context(); ctx != nil {
		luathread.SetContext(th, ctx)
	} else {
		th.RemoveContext()
	}
	return th
}

func (p *protector) put(th *lua.LState) {
	p.release(th)
	th.SetTop(0)
	if len(p.idle) < maxIdle {
		p.idle = append(p.idle, th)
	}
}

// release ends th's service of the thread it ran for.
func (p *protector) release(th *lua.LState) {
	delete(p.parent, th)
	if end := p.unadopt[th]; end != nil {
		end()
		delete(p.unadopt, th)
	}
}

// pcall is Lua 5.1's pcall(f, ...): true and f's results, or false and
// the error value.
func (p *protector) pcall(L *lua.LState) int {
	L.CheckAny(1)
	top := L.GetTop()
	th := p.get(L)
	for i := 1; i <= top; i++ {
		th.Push(L.Get(i))
	}
	if err := th.PCall(top-1, lua.MultRet, nil); err != nil {
		// Without a handler the raise closed the upvalues of the frames
		// it unwound: the thread is clean and can be reused.
		p.put(th)
		L.Push(lua.LFalse)
		L.Push(p.errorValue(err, L.Get(1)))
		return 2
	}
	return p.results(L, th)
}

// xpcall is Lua 5.1's xpcall(f, handler): true and f's results, or false
// and what handler returns for the error value ("error in error handling"
// when handler fails too).
//
// The handler runs once the error has unwound f, not at the raise as in
// Lua 5.1 (only a traceback could tell, and scripts have no debug
// library). gopher-lua's own way, a handler given to the protected call,
// leaves the upvalues of the unwound frames open on registers it then
// clears: a closure made in f before the error crashed the VM when
// called later.
func (p *protector) xpcall(L *lua.LState) int {
	fn := L.CheckAny(1)
	handler := L.CheckAny(2)
	th := p.get(L)
	th.Push(fn)
	err := th.PCall(0, lua.MultRet, nil)
	if err == nil {
		return p.results(L, th)
	}
	p.put(th)
	ev := p.errorValue(err, fn)
	hth := p.get(L)
	hth.Push(handler)
	hth.Push(ev)
	herr := hth.PCall(1, 1, nil)
	L.Push(lua.LFalse)
	if herr != nil {
		L.Push(lua.LString("error in error handling"))
	} else {
		L.Push(hth.Get(-1))
	}
	p.put(hth)
	return 2
}

func (p *protector) results(L, th *lua.LState) int {
	n := th.GetTop()
	L.Push(lua.LTrue)
	for i := 1; i <= n; i++ {
		L.Push(th.Get(i))
	}
	p.put(th)
	return n + 1
}

// errorValue is the Lua value of the error of a protected call of fn.
//
// A host function gopher-lua runs straight from the protected call (as in
// pcall(table.insert, t)) and that raises an error "where" it finds no
// Lua code gets the message with a leading space: gopher-lua joins an
// empty position and the message with one. Lua 5.1 has no space there;
// it is dropped, unless the value is what error() raised (a script's own
// message keeps its spaces).
func (p *protector) errorValue(err error, fn lua.LValue) lua.LValue {
	var ae *lua.ApiError
	if !errors.As(err, &ae) || ae.Object == nil {
		return lua.LString(err.Error())
	}
	s, ok := ae.Object.(lua.LString)
	if f, isFn := fn.(*lua.LFunction); ok && isFn && f.IsG && strings.HasPrefix(string(s), " ") && !(p.raised && s == p.lastRaised) {
		return s[1:]
	}
	return ae.Object
}

// CloseUpvalues closes the upvalues of every frame on L, as Lua 5.1 does
// for the frames an error unwinds. It is for a host's handler of an
// uncaught error (called before the stack unwinds): gopher-lua leaves
// those upvalues open when the protected call has a handler, and a
// closure the failed chunk left behind (a REPL global) would later read
// whatever took their registers.
//
// gopher-lua closes them itself when an error is raised while its
// state-wide "has a handler" flag is clear, and a protected call clears
// the flag when it returns: so a protected no-op, then a protected raise.
func CloseUpvalues(L *lua.LState) {
	L.Push(L.NewFunction(func(*lua.LState) int { return 0 }))
	L.PCall(0, 0, nil)
	L.Push(L.NewFunction(func(L *lua.LState) int {
		L.RaiseError("closing upvalues")
		return 0
	}))
	L.PCall(0, 0, nil)
}
