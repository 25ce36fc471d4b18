package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/topscript/topscript/luatop"
	"github.com/topscript/topscript/top"
)

func newEngine(t *testing.T, o Options) (*Engine, *bytes.Buffer) {
	t.Helper()
	var out bytes.Buffer
	if o.Stdout == nil {
		o.Stdout = &out
	}
	if o.Stderr == nil {
		o.Stderr = &out
	}
	e, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	return e, &out
}

func run(t *testing.T, e *Engine, src string) error {
	t.Helper()
	return e.RunString(context.Background(), "test.lua", src)
}

func TestSafeLibs(t *testing.T) {
	e, out := newEngine(t, Options{})
	err := run(t, e, `
		local absent = {"dofile", "loadfile", "debug", "channel"}
		for _, name in ipairs(absent) do
			if _G[name] ~= nil then error(name .. " should be absent") end
		end
		for _, name in ipairs({"remove", "rename", "setenv", "tmpname"}) do
			if os[name] ~= nil then error("os." .. name .. " should be absent") end
		end
		-- Running commands is refused by name, not by "attempt to call a nil value".
		local ok, err = pcall(os.execute, "true")
		assert(not ok and err:find("os.execute is disabled", 1, true), tostring(err))
		ok, err = pcall(io.popen, "true")
		assert(not ok and err:find("io.popen is disabled", 1, true), tostring(err))
		assert(package.loadlib == nil)
		for _, name in ipairs({"time", "clock", "date", "getenv", "exit", "difftime"}) do
			assert(type(os[name]) == "function", "os." .. name)
		end
		assert(type(string.format) == "function" and type(table.concat) == "function")
		assert(type(math.floor) == "function" and type(coroutine.wrap) == "function")
		-- load takes strings only
		local f = load("return 1 + 1")
		assert(f() == 2)
		local g, msg = load(function() return nil end)
		assert(g == nil and msg:find("only strings"), msg)
		print("ok", 1, true, nil)
		io.write("io", " ", 2, "\n")
		io.stdout:write("method\n")
	`)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := out.String(), "ok\t1\ttrue\tnil\nio 2\nmethod\n"; got != want {
		t.Fatalf("stdout = %q, want %q", got, want)
	}
}

func TestAllowExec(t *testing.T) {
	if _, err := os.Stat("/bin/sh"); err != nil {
		t.Skip("no /bin/sh")
	}
	e, out := newEngine(t, Options{AllowExec: true})
	err := run(t, e, `
		assert(os.execute("exit 3") == 3)
		local p = io.popen("echo hi")
		local s = p:read("*a")
		p:close()
		io.write("popen:", s)
	`)
	if err != nil {
		t.Fatal(err)
	}
	if out.String() != "popen:hi\n" {
		t.Fatalf("stdout = %q", out.String())
	}
}

func TestStdinRead(t *testing.T) {
	e, out := newEngine(t, Options{Stdin: strings.NewReader("first line\n42 rest\n")})
	err := run(t, e, `
		local l = io.read()
		local n = io.read("*n")
		print(l, n, io.read("*l"), io.read())
	`)
	if err != nil {
		t.Fatal(err)
	}
	if out.String() != "first line\t42\t rest\tnil\n" {
		t.Fatalf("stdout = %q", out.String())
	}
}

func TestIOOpen(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "r.txt")
	e, out := newEngine(t, Options{})
	e.Set("path", path)
	err := run(t, e, `
		local f = assert(io.open(path, "w"))
		f:write("a,b\n", 1, "\n")
		f:close()
		for line in io.lines(path) do print(line) end
		local g = assert(io.open(path))
		print(g:read("*a"))
		g:close()
		print(io.open(path .. ".missing"))
	`)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "a,b\n1\na,b\n1\n\nnil\t") {
		t.Fatalf("stdout = %q", out.String())
	}
}

func TestExit(t *testing.T) {
	for _, tc := range []struct {
		src  string
		code int
	}{
		{`os.exit(3)`, 3},
		{`pcall(os.exit, 5); print("not reached")`, 5},
		{`local ok = pcall(function() os.exit(7) end) while true do end`, 7},
		{`os.exit(false)`, 1},
		{`os.exit(0)`, 0},
		{`os.exit(true)`, 0},
		{`os.exit()`, 0},
		// Any number maps to a valid exit code; non-zero stays non-zero.
		{`os.exit(255)`, 255},
		{`os.exit(256)`, 1},
		{`os.exit(300)`, 1},
		{`os.exit(1e10)`, 1},
		{`os.exit(0/0)`, 1},
		{`os.exit(1/0)`, 1},
		{`os.exit(-1)`, 1},
		{`os.exit(0.5)`, 1},
		{`os.exit(-0)`, 0},
		{`os.exit("3")`, 3},
	} {
		e, out := newEngine(t, Options{})
		err := run(t, e, "print('before')\n"+tc.src+"\nprint('after')")
		var ee *ExitError
		switch {
		case tc.code == 0 && err != nil:
			t.Errorf("%s: err = %v, want nil", tc.src, err)
		case tc.code != 0 && (!errors.As(err, &ee) || ee.Code != tc.code):
			t.Errorf("%s: err = %#v, want ExitError{%d}", tc.src, err, tc.code)
		}
		if out.String() != "before\n" {
			t.Errorf("%s: stdout = %q", tc.src, out.String())
		}
		// The engine is usable after an exit.
		if err := run(t, e, `print("again")`); err != nil {
			t.Errorf("%s: rerun: %v", tc.src, err)
		}
	}
}

func TestCancelStopsLoop(t *testing.T) {
	e, _ := newEngine(t, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := e.RunString(ctx, "loop.lua", "local n = 0\nwhile true do n = n + 1 end")
	if time.Since(start) > 5*time.Second {
		t.Fatal("loop was not stopped promptly")
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want DeadlineExceeded", err)
	}
	var se *ScriptError
	if !errors.As(err, &se) || se.File != "loop.lua" || se.Line != 2 {
		t.Fatalf("err = %#v, want loop.lua:2", err)
	}
	// pcall cannot swallow the interruption.
	ctx2, cancel2 := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel2()
	err = e.RunString(ctx2, "loop2.lua", "while true do pcall(function() while true do end end) end")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want DeadlineExceeded", err)
	}
}

func TestErrorPositions(t *testing.T) {
	e, _ := newEngine(t, Options{})
	cases := []struct {
		src, want string
		line      int
	}{
		{"local x = 1\nerror('boom')", "test.lua:2: boom", 2},
		{"local t = nil\n\nlocal y = t.field", "test.lua:3: attempt to index a non-table object(nil) with key 'field'", 3},
		{"\n\nerror({code = 1})", "test.lua:3: {code = 1}", 3}, // its fields, not "table: 0x..." (issue #21)
		{"\nerror('no position', 0)", "test.lua:2: no position", 2},
		{"x = = 1", "test.lua:1: syntax error near '='", 1},
		{"local function f()\n  string.rep()\nend\nf()", "test.lua:2: bad argument #1 to rep", 2},
	}
	for _, c := range cases {
		err := run(t, e, c.src)
		var se *ScriptError
		if !errors.As(err, &se) {
			t.Fatalf("%q: err = %#v", c.src, err)
		}
		if !strings.HasPrefix(se.Error(), c.want) || se.Line != c.line || se.File != "test.lua" {
			t.Errorf("%q: err = %q (line %d), want prefix %q line %d", c.src, se.Error(), se.Line, c.want, c.line)
		}
	}
}

func TestTopErrorValue(t *testing.T) {
	e, _ := newEngine(t, Options{})
	// A Go function raising a TOP error value the way top.call does.
	e.Register("fake", func(L *lua.LState) int {
		mod := L.NewTable()
		mod.RawSetString("fail", L.NewFunction(func(L *lua.LState) int {
			L.Error(topErrorValue(L), 1)
			return 0
		}))
		L.Push(mod)
		return 1
	})
	err := run(t, e, "local fake = require('fake')\n\nfake.fail()")
	var se *ScriptError
	if !errors.As(err, &se) || se.Top == nil {
		t.Fatalf("err = %#v", err)
	}
	want := "test.lua:3: taobao.item.sku.price.update: 15 Remote service error; isv.item-not-exist: 商品不存在 (request_id 4jkl5mhpc274)"
	if se.Error() != want {
		t.Fatalf("err = %q\nwant  %q", se.Error(), want)
	}
	var te *top.Error
	if !errors.As(err, &te) || te.SubCode != "isv.item-not-exist" || te.Code != 15 {
		t.Fatalf("top error = %#v", te)
	}
}

func TestChunkCache(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "c.lua")
	if err := os.WriteFile(path, []byte("n = (n or 0) + 1"), 0o644); err != nil {
		t.Fatal(err)
	}
	e, _ := newEngine(t, Options{})
	hits := func() int {
		chunkCache.Lock()
		defer chunkCache.Unlock()
		return chunkCache.hits
	}
	h0 := hits()
	for i := 0; i < 3; i++ {
		if err := e.RunFile(context.Background(), path, nil); err != nil {
			t.Fatal(err)
		}
	}
	if got := hits() - h0; got != 2 {
		t.Fatalf("file cache hits = %d, want 2", got)
	}
	if n := lua.LVAsNumber(e.L.GetGlobal("n")); n != 3 {
		t.Fatalf("n = %v", n)
	}
	// A changed file is recompiled.
	if err := os.WriteFile(path, []byte("n = 100 -- changed"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := e.RunFile(context.Background(), path, nil); err != nil {
		t.Fatal(err)
	}
	if n := lua.LVAsNumber(e.L.GetGlobal("n")); n != 100 {
		t.Fatalf("n = %v after change", n)
	}
	h1 := hits()
	src := fmt.Sprintf("m = %d", time.Now().UnixNano()) // new to the process-wide cache
	for i := 0; i < 2; i++ {
		if err := e.RunString(context.Background(), "s", src); err != nil {
			t.Fatal(err)
		}
	}
	if got := hits() - h1; got != 1 {
		t.Fatalf("string cache hits = %d, want 1", got)
	}
}

func TestArgAndRequireSibling(t *testing.T) {
	dir := t.TempDir()
	write := func(name, src string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("helper.lua", "local M = {}\nfunction M.greet(s) return 'hello ' .. s end\nreturn M")
	write("main.lua", "#!/usr/bin/env topscript run\nlocal h = require('helper')\nprint(h.greet(arg[1]), arg[2], #arg, arg[0] ~= nil, select('#', ...))\nerror('line 4')")
	e, out := newEngine(t, Options{})
	err := e.RunFile(context.Background(), filepath.Join(dir, "main.lua"), []string{"world", "x"})
	if out.String() != "hello world\tx\t2\ttrue\t2\n" {
		t.Fatalf("stdout = %q", out.String())
	}
	var se *ScriptError
	if !errors.As(err, &se) || se.Line != 4 || se.File != filepath.Join(dir, "main.lua") {
		t.Fatalf("err = %v", err)
	}
	err = e.RunFile(context.Background(), filepath.Join(dir, "missing.lua"), nil)
	if !errors.As(err, &se) || !strings.Contains(err.Error(), "cannot open script") {
		t.Fatalf("err = %v", err)
	}
}

func TestModulesFilter(t *testing.T) {
	e, _ := newEngine(t, Options{Modules: []string{"json"}})
	err := run(t, e, `assert(top == nil); local ok, msg = pcall(require, "csv"); assert(not ok and msg:find("disabled"), msg)`)
	if err != nil {
		t.Fatal(err)
	}
	e.Register("host", func(L *lua.LState) int { L.Push(lua.LString("mine")); return 1 })
	if err := run(t, e, `assert(require("host") == "mine")`); err != nil {
		t.Fatal(err)
	}
}

type shop struct {
	Name  string
	Items []string
}

func (s *shop) Count() int { return len(s.Items) }

func TestSetAndEval(t *testing.T) {
	e, _ := newEngine(t, Options{Globals: map[string]any{"greeting": "hi"}})
	e.Set("shop", &shop{Name: "demo", Items: []string{"a", "b"}})
	vals, err := e.Eval(context.Background(), "shop.Name, shop:Count(), greeting")
	if err != nil {
		t.Fatal(err)
	}
	if len(vals) != 3 || vals[0].String() != "demo" || vals[1].String() != "2" || vals[2].String() != "hi" {
		t.Fatalf("vals = %v", vals)
	}
	if _, err := e.Eval(context.Background(), "x = 41"); err != nil {
		t.Fatal(err)
	}
	vals, err = e.Eval(context.Background(), "x + 1")
	if err != nil || len(vals) != 1 || vals[0].String() != "42" {
		t.Fatalf("vals = %v, %v", vals, err)
	}
	for _, src := range []string{"for i = 1, 3 do", "function f()", "x = {", "s = [[abc", "if x then", "1 +", "f(1,"} {
		if _, err := e.Eval(context.Background(), src); !IsIncomplete(err) {
			t.Errorf("%q: IsIncomplete(%v) = false", src, err)
		}
	}
	for _, src := range []string{"x = = 1", "end", "error('x')"} {
		if _, err := e.Eval(context.Background(), src); err == nil || IsIncomplete(err) {
			t.Errorf("%q: err = %v, want a complete error", src, err)
		}
	}
}

func TestGoPanicBecomesError(t *testing.T) {
	e, _ := newEngine(t, Options{})
	e.Set("boom", func() { panic("kaboom") })
	err := run(t, e, "boom()")
	if err == nil || !strings.Contains(err.Error(), "kaboom") {
		t.Fatalf("err = %v", err)
	}
	if err := run(t, e, "x = 1"); err != nil {
		t.Fatalf("engine unusable after a panic: %v", err)
	}
}

func topErrorValue(L *lua.LState) lua.LValue {
	return luatop.TopErrorValue(L, &top.Error{
		Code: 15, Msg: "Remote service error", SubCode: "isv.item-not-exist", SubMsg: "商品不存在",
		RequestID: "4jkl5mhpc274", Method: "taobao.item.sku.price.update", Kind: top.KindISV,
	})
}
