package engine

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	lua "github.com/yuin/gopher-lua"
)

// The shapes issue #19 lists, which gopher-lua v1.1.2 miscompiles (each a
// wrong result, an error, a hang or a panic there), with what Lua 5.1
// prints. internal/luacompile rewrites them; these tests run them the
// ways a script runs: a file (topscript run) and REPL input (Eval).
var knownShapes = []struct {
	name, src, want string
}{
	{"inner generic for, break first, in a numeric for",
		two + "for i = 1, 2 do for r in two() do break end end\nprint(\"x\")", "x\n"},
	{"the same in a while (hung)",
		two + "local w = 0\nwhile w < 2 do w = w + 1 for r in two() do break end end\nprint(\"x\", w)", "x\t2\n"},
	{"the same in a generic for (hung)",
		two + "for a in two() do for r in two() do break end end\nprint(\"x\")", "x\n"},
	{"the same in a function",
		two + "local function g() for i = 1, 2 do for r in two() do break end end return \"x\" end\nprint(g())", "x\n"},
	{"a statement before the break (always worked)",
		two + "for i = 1, 2 do for r in two() do if r then break end end end\nprint(\"x\")", "x\n"},
	{"constant-false if with a local in a generic for (yuin/gopher-lua#540)",
		"local n = 0\nfor k, v in pairs({1, 2}) do\n  if false then local x = 1 end\n  n = n + v\nend\nprint(n)", "3\n"},
	{"two generic for loops over a bare function (yuin/gopher-lua#514)",
		"local function gen(s, c) print(s, c) if c == nil then return 1 end if c < 2 then return c + 1 end end\nfor x in gen do end\nfor x in gen do end",
		"nil\tnil\nnil\t1\nnil\t2\nnil\tnil\nnil\t1\nnil\t2\n"},
}

const two = "local function two() local n = 0 return function() n = n + 1 if n <= 2 then return n end end end\n"

func TestKnownShapesRunFile(t *testing.T) {
	dir := t.TempDir()
	for i, s := range knownShapes {
		t.Run(s.name, func(t *testing.T) {
			path := filepath.Join(dir, "shape"+string(rune('a'+i))+".lua")
			if err := os.WriteFile(path, []byte(s.src), 0o644); err != nil {
				t.Fatal(err)
			}
			e, out := newEngine(t, Options{})
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := e.RunFile(ctx, path, nil); err != nil {
				t.Fatal(err)
			}
			if out.String() != s.want {
				t.Errorf("stdout %q, want %q", out.String(), s.want)
			}
		})
	}
}

func TestKnownShapesEval(t *testing.T) {
	for _, s := range knownShapes {
		t.Run(s.name, func(t *testing.T) {
			e, out := newEngine(t, Options{})
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if _, err := e.Eval(ctx, s.src); err != nil {
				t.Fatal(err)
			}
			if out.String() != s.want {
				t.Errorf("stdout %q, want %q", out.String(), s.want)
			}
		})
	}
}

// TestRequireFieldIterator: for r in require("csv").rows(p) iterates, the
// form the stdlib's documentation used to warn against.
func TestRequireFieldIterator(t *testing.T) {
	dir := t.TempDir()
	csvPath := filepath.Join(dir, "prices.csv")
	if err := os.WriteFile(csvPath, []byte("num_iid,price\n1,9.5\n2,10\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	e, out := newEngine(t, Options{})
	e.Set("p", lua.LString(csvPath))
	for _, src := range []string{
		`for r in require("csv").rows(p) do print(r.num_iid, r.price) end`,
		`for _, r in ipairs(require("csv").read(p)) do print(r.num_iid, r.price) end`,
		`local function req() return require("csv") end for r in req().rows(p) do print(r.num_iid, r.price) end`,
	} {
		out.Reset()
		if err := run(t, e, src); err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		if out.String() != "1\t9.5\n2\t10\n" {
			t.Errorf("%s: stdout %q", src, out.String())
		}
	}
}

// TestSyntaxErrorAtEndHasLine: a chunk that ends too early is reported at
// its last line (it used to have none), and the REPL still reads it as
// incomplete.
func TestSyntaxErrorAtEndHasLine(t *testing.T) {
	e, _ := newEngine(t, Options{})
	err := e.RunString(context.Background(), "syntax.lua", "local x = 1\nfor i = 1, 2 do\n  print(i)\n")
	var se *ScriptError
	if !errors.As(err, &se) || !se.Syntax {
		t.Fatalf("got %v", err)
	}
	if se.Line != 4 || se.Error() != "syntax.lua:4: syntax error: unexpected end of input" {
		t.Errorf("got %q (line %d)", se.Error(), se.Line)
	}
	if !IsIncomplete(err) {
		t.Error("not incomplete")
	}
	if _, err := e.Eval(context.Background(), "for i = 1, 2 do"); !IsIncomplete(err) || !strings.Contains(err.Error(), "stdin:1: ") {
		t.Errorf("Eval: %v", err)
	}
}

// TestPcallKeepsClosuresConnected: after a pcall has returned, an error
// another pcall catches no longer cuts closures off from the locals they
// share (internal/lua51lib runs protected calls on threads of their own).
func TestPcallKeepsClosuresConnected(t *testing.T) {
	e, out := newEngine(t, Options{})
	if err := run(t, e, `
		local n = 0
		local function bump() n = n + 1 end
		for i = 1, 3 do
			pcall(error, "e")
			bump()
		end
		print(n)
	`); err != nil {
		t.Fatal(err)
	}
	if out.String() != "3\n" {
		t.Errorf("stdout %q, want 3", out.String())
	}
}

// TestCancelInsidePcall: --timeout and Ctrl-C stop a loop that runs
// inside pcall (on the protected call's thread) as outside.
func TestCancelInsidePcall(t *testing.T) {
	e, _ := newEngine(t, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := e.RunString(ctx, "spin.lua", "pcall(function() while true do end end)\nwhile true do end")
	if err == nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("stopped after %v", d)
	}
}

// TestFailedRunKeepsClosures: a closure a failed chunk left behind (a REPL
// global) keeps the values it captured; they used to stay on registers the
// next input reused.
func TestFailedRunKeepsClosures(t *testing.T) {
	e, _ := newEngine(t, Options{})
	ctx := context.Background()
	if _, err := e.Eval(ctx, `local v = 5; g = function() return v end; error("boom")`); err == nil {
		t.Fatal("no error")
	}
	if _, err := e.Eval(ctx, `local a, b, c, d = 1, 2, 3, 4`); err != nil {
		t.Fatal(err)
	}
	vals, err := e.Eval(ctx, `g()`)
	if err != nil || len(vals) != 1 || vals[0] != lua.LNumber(5) {
		t.Fatalf("g() = %v, %v; want 5", vals, err)
	}
}
