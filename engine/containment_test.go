package engine

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	lua "github.com/yuin/gopher-lua"
)

// scriptErr runs src as name and returns its *ScriptError, failing the
// test when the run succeeds or fails otherwise, or takes over 20 s.
func scriptErr(t *testing.T, e *Engine, ctx context.Context, name, src string) *ScriptError {
	t.Helper()
	start := time.Now()
	err := e.RunString(ctx, name, src)
	if d := time.Since(start); d > 20*time.Second {
		t.Fatalf("%s: took %s", name, d)
	}
	var se *ScriptError
	if !errors.As(err, &se) {
		t.Fatalf("%s: err = %v (%T), want a *ScriptError", name, err, err)
	}
	if strings.Contains(se.Error(), "\n") || strings.Contains(se.Error(), "goroutine ") {
		t.Fatalf("%s: error is not one line: %q", name, se.Error())
	}
	return se
}

func TestContainmentDeepRecursion(t *testing.T) {
	e, _ := newEngine(t, Options{})
	se := scriptErr(t, e, context.Background(), "deep.lua", "local function f(n)\n  return 1 + f(n + 1)\nend\nf(1)")
	if se.File != "deep.lua" || se.Line != 2 || !strings.Contains(se.Msg, "stack overflow") {
		t.Fatalf("got %q, want deep.lua:2: stack overflow", se.Error())
	}
	// Recursion through a metamethod.
	se = scriptErr(t, e, context.Background(), "meta.lua", "local t = setmetatable({}, {__index = function(t, k) return t[k] end})\nlocal x = t.a")
	if !strings.Contains(se.Msg, "stack overflow") || se.File != "meta.lua" {
		t.Fatalf("got %q", se.Error())
	}
	// Too many values on the stack: a stack overflow, not an internal error.
	se = scriptErr(t, e, context.Background(), "unpack.lua", "local t = {}\nreturn unpack(t, 1, 1e8)")
	if !strings.HasPrefix(se.Msg, "stack overflow") || se.File != "unpack.lua" || se.Line != 2 {
		t.Fatalf("got %q", se.Error())
	}
	if err := run(t, e, "x = 1"); err != nil {
		t.Fatalf("engine unusable afterwards: %v", err)
	}
}

func TestContainmentHugeStrings(t *testing.T) {
	e, _ := newEngine(t, Options{})
	for name, src := range map[string]string{
		"rep.lua":       `local s = string.rep("x", 1e10)`,
		"method.lua":    `local s = ("ab"):rep(2^31)`,
		"concat.lua":    `local big = string.rep("x", 2^20) local t = {} for i = 1, 300 do t[i] = big end local s = table.concat(t)`,
		"concatsep.lua": `local t = {} for i = 1, 300 do t[i] = "" end local s = table.concat(t, string.rep(",", 2^20))`,
	} {
		se := scriptErr(t, e, context.Background(), name, src)
		if !strings.Contains(se.Msg, "over the limit of 256 MiB") || se.File != name || se.Line != 1 {
			t.Errorf("%s: got %q", name, se.Error())
		}
	}
}

// table.concat used to push every element on gopher-lua's fixed stack:
// joining a few thousand ids failed with "registry overflow".
func TestTableConcatLongList(t *testing.T) {
	e, out := newEngine(t, Options{})
	err := run(t, e, `
		local t = {}
		for i = 1, 100000 do t[i] = i end
		local s = table.concat(t, ",")
		print(#s, s:sub(1, 9), table.concat(t, "-", 3, 5), table.concat({}, ","), table.concat(t, ",", 5, 4))
		print(table.concat({1.5, "a", 2}), table.concat({"a", "b"}, ", ", 2))
		local ok, err = pcall(table.concat, {1, {}, 3})
		print(ok, err)
	`)
	if err != nil {
		t.Fatal(err)
	}
	// Called straight from pcall, the error has no position: as in Lua
	// 5.1, the function at level 1 (pcall) is not Lua code.
	want := "588894\t1,2,3,4,5\t3-4-5\t\t\n1.5a2\tb\nfalse\tinvalid value (table) at index 2 in table for concat\n"
	if out.String() != want {
		t.Fatalf("stdout = %q, want %q", out.String(), want)
	}
}

func TestContainmentMemoryLimit(t *testing.T) {
	e, _ := newEngine(t, Options{MemoryLimit: int64(heapSample()) + 96<<20})
	for name, src := range map[string]string{
		"table.lua":  "local t = {}\nfor i = 1, 1e9 do t[i] = string.rep(\"x\", 1e5) .. i end",
		"double.lua": "local s = 'x'\nwhile true do s = s .. s .. 'y' end",
	} {
		se := scriptErr(t, e, context.Background(), name, src)
		if !errors.Is(se, ErrMemoryLimit) || !strings.Contains(se.Msg, "out of memory") || se.File != name || se.Line != 2 {
			t.Errorf("%s: got %q", name, se.Error())
		}
		e.State().SetTop(0)
		if err := run(t, e, "collectgarbage()"); err != nil {
			t.Fatalf("engine unusable after %s: %v", name, err)
		}
	}
}

func TestContainmentGoPanicOneLine(t *testing.T) {
	e, _ := newEngine(t, Options{})
	e.Register("crash", func(L *lua.LState) int {
		var m map[string]int
		m["x"] = 1 // a real runtime panic
		return 0
	})
	se := scriptErr(t, e, context.Background(), "p.lua", "local c = require('crash')\nprint(c)")
	if !strings.Contains(se.Msg, "nil map") || se.File != "p.lua" {
		t.Fatalf("got %q", se.Error())
	}
	e.Set("boom", func() { panic("kaboom") })
	se = scriptErr(t, e, context.Background(), "q.lua", "\nboom()")
	if !strings.Contains(se.Msg, "kaboom") || se.File != "q.lua" || se.Line != 2 {
		t.Fatalf("got %q", se.Error())
	}
}

func TestContainmentExecDisabled(t *testing.T) {
	e, _ := newEngine(t, Options{})
	for _, src := range []string{`os.execute("true")`, `io.popen("true")`, `dofile("x.lua")`, `loadfile("x.lua")`, `debug.getinfo(1)`, `package.loadlib("x", "y")`, `require("os").execute("true")`} {
		se := scriptErr(t, e, context.Background(), "x.lua", src)
		if se.File != "x.lua" || se.Line != 1 {
			t.Errorf("%s: got %q", src, se.Error())
		}
		if strings.Contains(src, "execute") && !strings.Contains(se.Msg, "os.execute is disabled") ||
			strings.Contains(src, "popen") && !strings.Contains(se.Msg, "io.popen is disabled") {
			t.Errorf("%s: the error %q does not name the disabled function", src, se.Msg)
		}
	}
	// load cannot reach files or bytecode either.
	if err := run(t, e, `assert(load(function() return "os.exit(1)" end) == nil)`); err != nil {
		t.Fatal(err)
	}
}

func TestContainmentCoroutinesCancelled(t *testing.T) {
	e, _ := newEngine(t, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	se := scriptErr(t, e, ctx, "co.lua", "local co = coroutine.wrap(function() while true do end end)\nco()")
	if !errors.Is(se, context.DeadlineExceeded) {
		t.Fatalf("got %q", se.Error())
	}
}
