// Package lua51lib replaces the standard library functions whose
// gopher-lua (v1.1.2) implementation differs from Lua 5.1's in what a
// script can observe. Each difference was found by differential testing
// against the reference interpreter (internal/luadiff) and is shown by
// testdata/*.lua, whose output is lua5.1's (checked against it when it is
// installed) and not gopher-lua's own:
//
//   - error(msg, level) takes the position from the function at level, as
//     Lua 5.1 does, and adds none when that function is not Lua code (a
//     host function such as pcall) or is a call lost to a tail call.
//     gopher-lua skips host functions and reports the next Lua function's
//     line: pcall(error, "x") failed with "file:1: x" instead of "x". A
//     number is raised as a string with the position ("file:3: 42"), and
//     error() raises nil.
//   - pcall and xpcall run the function on a thread of their own (see
//     protect.go). gopher-lua closes the upvalues of every frame of the
//     thread, the caller's included, whenever an error is raised after any
//     protected call has returned (it keeps one state-wide "has a handler"
//     flag, which every protected call clears on return): after the first
//     pcall, an error caught by a second cut every closure off from the
//     locals it shares with running functions, and a counter a closure
//     increments stopped counting. With a handler (xpcall) it left the
//     unwound frames' upvalues open on registers it then cleared, and a
//     closure made there crashed the VM when called. On a thread of its
//     own a raise closes only the frames it unwinds, as in Lua 5.1. In a
//     tmc.listen handler that thread runs on the handler's behalf
//     (luathread.Adopt): the calls it makes wait on the handler's context.
//   - coroutine.running is nil on the main thread, inside pcall too.
//   - tonumber reads strings as Lua 5.1 does (strtod in base 10: "1e2",
//     " 12 ", "0x1f", "inf"; strtoul in other bases, "0x10" in base 16).
//   - math.huge is infinity (gopher-lua: the largest finite number).
//   - table.insert takes 2 or 3 arguments (more is an error), table.remove
//     returns nothing outside 1..#t, table.sort is Lua 5.1's quicksort
//     (ties come out in Lua 5.1's order; an inconsistent comparison is
//     "invalid order function for sorting"; gopher-lua sorted its whole
//     internal array, a trailing nil slot included).
//   - string.find, match, gmatch and gsub are lstrlib.c's, over
//     internal/luapattern (a port of its matcher, which the host can stop
//     mid-match: Limits): find and match clamp the start to the subject (a
//     start past the end crashed gopher-lua with a Go slice error), find a
//     plain or special-free pattern as bytes (the empty one at the start),
//     and return one nil when nothing matches; gsub with a limit below 1
//     replaces nothing; captures, %b, %f and back-references are Lua
//     5.1's (gopher-lua's matcher differed on about a third of
//     testdata/patterns.lua); string.byte clamps its range; string.upper and
//     lower change ASCII letters only; string.format is Lua 5.1's (C
//     conversions, %g with 6 digits, widths in bytes, %q as Lua 5.1
//     quotes, %s of nil an error). The results of gsub and format are
//     offered to the host's Limits.Reserve as they grow.
//
// Open installs them over a state whose base, table, string, math and
// coroutine libraries are open.
package lua51lib

import (
	"math"
	"strconv"

	lua "github.com/yuin/gopher-lua"
)

// Open replaces error, pcall, xpcall, table.remove and coroutine.running
// in L's globals (and the functions the package doc lists), with no
// limits.
func Open(L *lua.LState) { OpenLimited(L, Limits{}) }

// OpenLimited is Open with the host's limits on the string functions.
func OpenLimited(L *lua.LState, lim Limits) {
	p := &protector{parent: map[*lua.LState]*lua.LState{}, unadopt: map[*lua.LState]func(){}}
	L.SetGlobal("error", L.NewFunction(p.error))
	L.SetGlobal("pcall", L.NewFunction(p.pcall))
	L.SetGlobal("xpcall", L.NewFunction(p.xpcall))
	L.SetGlobal("tonumber", L.NewFunction(baseToNumber))
	if t, ok := L.GetGlobal("table").(*lua.LTable); ok {
		t.RawSetString("remove", L.NewFunction(tableRemove))
		t.RawSetString("insert", L.NewFunction(tableInsert))
		t.RawSetString("sort", L.NewFunction(tableSort))
	}
	openStrings(L, lim)
	if m, ok := L.GetGlobal("math").(*lua.LTable); ok {
		// HUGE_VAL; gopher-lua has the largest finite number.
		m.RawSetString("huge", lua.LNumber(math.Inf(1)))
	}
	if co, ok := L.GetGlobal("coroutine").(*lua.LTable); ok {
		co.RawSetString("running", L.NewFunction(coRunning))
	}
}

// coRunning is coroutine.running: the running coroutine, nil on the main
// thread (gopher-lua answers with the thread a pcall runs on).
func coRunning(L *lua.LState) int {
	if cur := L.G.CurrentThread; cur != nil && cur != L.G.MainThread {
		L.Push(cur)
		return 1
	}
	L.Push(lua.LNil)
	return 1
}

// error is Lua 5.1's luaB_error.
func (p *protector) error(L *lua.LState) int {
	v := L.Get(1) // error() raises nil
	level := L.OptInt(2, 1)
	switch s := v.(type) {
	case lua.LString:
		if level > 0 {
			v = lua.LString(p.where(L, level) + string(s))
		}
	case lua.LNumber:
		if level > 0 {
			v = lua.LString(p.where(L, level) + s.String())
		}
	}
	if str, ok := v.(lua.LString); ok {
		p.lastRaised, p.raised = str, true
	}
	L.Error(v, 0)
	return 0
}

// where is Lua 5.1's luaL_where: "chunk:line: " of the function at level
// (1 is the caller of the function running), or "" when it is not Lua
// code or is a call lost to a tail call. Levels go on below a protected
// call, on the thread that made it.
func (p *protector) where(L *lua.LState, level int) string {
	for {
		n := depth(L)
		if level < n {
			return whereOn(L, level)
		}
		parent := p.parent[L]
		if parent == nil {
			return ""
		}
		level -= n
		L = parent
	}
}

// depth is the number of levels of L's stack.
func depth(L *lua.LState) int {
	n := 0
	for {
		if _, ok := L.GetStack(n); !ok {
			return n
		}
		n++
	}
}

func whereOn(L *lua.LState, level int) string {
	// gopher-lua counts levels as Lua 5.1 does, skipping the calls a tail
	// call replaced; it cannot say which levels those are, only that a
	// frame made some. A level beyond such a frame gets no position
	// rather than a wrong one.
	for l := 1; l < level; l++ {
		dbg, ok := L.GetStack(l)
		if !ok {
			return ""
		}
		if _, err := L.GetInfo("S", dbg, lua.LNil); err != nil || dbg.What == "tail" {
			return ""
		}
	}
	dbg, ok := L.GetStack(level)
	if !ok {
		return ""
	}
	if _, err := L.GetInfo("Sl", dbg, lua.LNil); err != nil || dbg.What == "G" || dbg.CurrentLine <= 0 {
		return ""
	}
	return dbg.Source + ":" + strconv.Itoa(dbg.CurrentLine) + ": "
}

// tableInsert is Lua 5.1's tinsert: table.insert(t, v) appends,
// table.insert(t, pos, v) shifts up; any other number of arguments is an
// error (gopher-lua ignored extra ones).
func tableInsert(L *lua.LState) int {
	t := L.CheckTable(1)
	e := t.Len() + 1
	var pos int
	switch L.GetTop() {
	case 2:
		pos = e
	case 3:
		pos = L.CheckInt(2)
		if pos > e {
			e = pos
		}
		for i := e; i > pos; i-- {
			t.RawSetInt(i, t.RawGetInt(i-1))
		}
	default:
		L.RaiseError("wrong number of arguments to 'insert'")
	}
	t.RawSetInt(pos, L.Get(L.GetTop()))
	return 0
}

// tableRemove is Lua 5.1's tremove.
func tableRemove(L *lua.LState) int {
	t := L.CheckTable(1)
	n := t.Len()
	pos := L.OptInt(2, n)
	if pos < 1 || pos > n {
		return 0
	}
	v := t.RawGetInt(pos)
	for ; pos < n; pos++ {
		t.RawSetInt(pos, t.RawGetInt(pos+1))
	}
	// t[n] = nil: Remove shortens gopher-lua's array part (a nil left at
	// its end would still be seen by functions walking the array).
	t.Remove(n)
	if t.RawGetInt(n) != lua.LNil {
		t.RawSetInt(n, lua.LNil)
	}
	L.Push(v)
	return 1
}
