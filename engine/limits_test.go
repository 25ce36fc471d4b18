package engine

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"
)

// limitAbove returns a memory limit extra bytes over the heap in use now.
func limitAbove(extra int64) int64 {
	runtime.GC()
	return int64(heapSample()) + extra
}

// The instruction hook reads gopher-lua's unexported call frame: if the
// pinned version's layout ever changes, the hook is off and `..` is no
// longer checked. This test is what notices.
func TestInstructionHookIsOn(t *testing.T) {
	if !hookOK {
		t.Fatal("the instruction hook is off: gopher-lua's LState/callFrame layout is not the one vmhook.go reads")
	}
	if !arrayOK {
		t.Fatal("table growth is not checked: gopher-lua's LTable has no array field of []LValue")
	}
}

// A table's array part is reserved before it grows: appending in a loop,
// one assignment far past the end (gopher-lua fills the gap with nils),
// table.insert. (The values here take no memory of their own: only the
// array grows, in copies 25% bigger each time, which a watchdog sampling
// the heap would only see after the fact.)
func TestTableGrowthRefusedBeforeAllocating(t *testing.T) {
	e, out := newEngine(t, Options{MemoryLimit: limitAbove(64 << 20)})
	for name, src := range map[string]string{
		"append.lua": "local t = {}\nfor i = 1, 1e9 do t[i] = true end",
		"far.lua":    "local t = {}\nt[6e7] = true",
		"insert.lua": "local t = {}\nfor i = 1, 1e9 do table.insert(t, true) end",
		"len.lua":    "local t = {}\nwhile true do t[#t + 1] = false end",
	} {
		se := scriptErr(t, e, context.Background(), name, src)
		if !errors.Is(se, ErrMemoryLimit) || se.Line != 2 || !strings.Contains(se.Msg, "would need") {
			t.Errorf("%s: got %q", name, se.Error())
		}
		if err := run(t, e, "collectgarbage()"); err != nil {
			t.Fatal(err)
		}
	}
	// Tables with __newindex and string keys are left alone; small ones grow as ever.
	if err := run(t, e, `local log = {}
		local t = setmetatable({}, {__newindex = function(t, k, v) log[#log + 1] = k end})
		t[1] = "x"
		local u = {} for i = 1, 1000 do u[i] = i end table.insert(u, 1, 0)
		print(#log, #u, u[1], u[1001])`); err != nil {
		t.Fatal(err)
	}
	if out.String() != "1\t1001\t0\t1000\n" {
		t.Errorf("stdout %q", out.String())
	}
}

// A non-string operand of `..` is named as Lua 5.1 names it (the messages
// are lua5.1's), in the main chunk, in functions and in coroutines.
func TestConcatErrorsNameTheOperand(t *testing.T) {
	e, _ := newEngine(t, Options{})
	for src, want := range map[string]string{
		`local t = {} local s = t.a .. "x"`:                             "attempt to concatenate field 'a' (a nil value)",
		`local s = "x" .. undefined_g`:                                  "attempt to concatenate global 'undefined_g' (a nil value)",
		`local x; local s = "a" .. x`:                                   "attempt to concatenate local 'x' (a nil value)",
		`local u; local function f() return u .. "a" end f()`:           "attempt to concatenate upvalue 'u' (a nil value)",
		`local s = "a" .. {}`:                                           "attempt to concatenate a table value",
		`local s = "a" .. true`:                                         "attempt to concatenate a boolean value",
		`local t = {} local s = t.a .. t.b .. "x"`:                      "attempt to concatenate field 'b' (a nil value)",
		`local t = {} local s = "a" .. t.b .. t.c`:                      "attempt to concatenate field 'b' (a nil value)",
		`local t = {} local s = t.x .. "a" .. "b"`:                      "attempt to concatenate field 'x' (a nil value)",
		`local r = {a = "1"} print(r.a .. "|" .. r.b)`:                  "attempt to concatenate field 'b' (a nil value)",
		`local x = nil .. "a"`:                                          "attempt to concatenate a nil value",
		`coroutine.wrap(function() local r = {} return r.k .. 1 end)()`: "attempt to concatenate field 'k' (a nil value)",
		`local c = coroutine.create(function() return 1 .. nope end) local ok, err = coroutine.resume(c) error(err, 0)`: "attempt to concatenate global 'nope' (a nil value)",
		// pcall runs its function on a thread of its own (internal/lua51lib): hooked too.
		`local ok, err = pcall(function() local t = {} return t.z .. "x" end) error(err, 0)`: "attempt to concatenate field 'z' (a nil value)",
	} {
		se := scriptErr(t, e, context.Background(), "c.lua", src)
		if se.Msg != want || se.Line != 1 {
			t.Errorf("%s:\n got %q\nwant c.lua:1: %s", src, se.Error(), want)
		}
	}
	// A __concat metamethod still works, and numbers still concatenate.
	e, out := newEngine(t, Options{})
	if err := run(t, e, `local mt = {__concat = function(a, b) return "meta" end}
		print(setmetatable({}, mt) .. "x", "x" .. setmetatable({}, mt), 1 .. 2, "a" .. 1.5)`); err != nil {
		t.Fatal(err)
	}
	if out.String() != "meta\tmeta\t12\ta1.5\n" {
		t.Errorf("stdout %q", out.String())
	}
}

// `..` is refused before it allocates: doubling a string stops with the
// reserve's message (not the watchdog's, which only sees the heap after
// the fact), pcall catches it, and the engine goes on.
func TestConcatRefusedBeforeAllocating(t *testing.T) {
	limit := limitAbove(64 << 20)
	e, out := newEngine(t, Options{MemoryLimit: limit})
	se := scriptErr(t, e, context.Background(), "double.lua", "local s = string.rep('x', 2^20)\nwhile true do s = s .. s end")
	if !errors.Is(se, ErrMemoryLimit) || se.Line != 2 || !strings.Contains(se.Msg, "out of memory: string concatenation (..) would need") {
		t.Fatalf("got %q", se.Error())
	}
	if used := heapSample(); used > uint64(limit) {
		t.Errorf("heap %d after the refusal, over the limit %d", used, limit)
	}
	// In a coroutine too.
	se = scriptErr(t, e, context.Background(), "co.lua", "local s = string.rep('x', 2^20)\ncoroutine.wrap(function() while true do s = s .. s end end)()")
	if !errors.Is(se, ErrMemoryLimit) || !strings.Contains(se.Msg, "string concatenation (..)") {
		t.Fatalf("coroutine: got %q", se.Error())
	}
	err := run(t, e, `local s = string.rep('x', 2^20)
		local ok, err = pcall(function() while true do s = s .. s end end)
		print(ok, (err:gsub(" would need.*", "")))
		s = nil collectgarbage()
		print(#("a" .. "b"))`)
	if err != nil {
		t.Fatal(err)
	}
	if want := "false\ttest.lua:2: out of memory: string concatenation (..)\n2\n"; out.String() != want {
		t.Errorf("stdout %q, want %q", out.String(), want)
	}
}

// Each string builder checks its result first.
func TestStringBuildersRefusedBeforeAllocating(t *testing.T) {
	e, _ := newEngine(t, Options{MemoryLimit: limitAbove(48 << 20)})
	for name, src := range map[string]string{
		"rep.lua":     "local n = 2^26\nlocal s = string.rep('x', n)",
		"format.lua":  "local s = string.rep('x', 2^24)\nlocal t = string.format('%s%s%s%s', s, s, s, s)",
		"upper.lua":   "local t, s = {}, string.rep('x', 2^24)\nfor i = 1, 10 do t[i] = s:upper() end",
		"concat.lua":  "local t, y = {}, string.rep('y', 2^20) for i = 1, 80 do t[i] = y end\nlocal s = table.concat(t)",
		"reverse.lua": "local t, s = {}, string.rep('x', 2^24)\nfor i = 1, 10 do t[i] = s:reverse() end",
	} {
		se := scriptErr(t, e, context.Background(), name, src)
		if !errors.Is(se, ErrMemoryLimit) || se.Line != 2 || !strings.Contains(se.Msg, "out of memory: ") || !strings.Contains(se.Msg, "would need") {
			t.Errorf("%s: got %q", name, se.Error())
		}
		if err := run(t, e, "collectgarbage()"); err != nil {
			t.Fatal(err)
		}
	}
}

// string.format takes widths and precisions of two digits at most, as Lua
// 5.1 does, and formats as before otherwise.
func TestFormatWidths(t *testing.T) {
	e, out := newEngine(t, Options{})
	se := scriptErr(t, e, context.Background(), "f.lua", `local s = string.format("%999999999d", 1)`)
	if se.Msg != "invalid format (width or precision too long)" || se.Line != 1 {
		t.Errorf("got %q", se.Error())
	}
	if err := run(t, e, `print(string.format("%5d|%-3s|%.2f|%%|%q|%.3s|%02x", 42, "a", 3.14159, "a\"b", "abcdef", 255))`); err != nil {
		t.Fatal(err)
	}
	if want := "   42|a  |3.14|%|\"a\\\"b\"|abc|ff\n"; out.String() != want {
		t.Errorf("stdout %q, want %q", out.String(), want)
	}
}
