package luacompile

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	lua "github.com/yuin/gopher-lua"
	"github.com/yuin/gopher-lua/ast"
)

// A shape gopher-lua v1.1.2 miscompiles, with what Lua 5.1 prints for it
// (each was checked against lua5.1; internal/luadiff's corpus re-checks
// them with the reference interpreter).
type shape struct {
	name string
	src  string
	want string // stdout, then "return ..." for the chunk's values
	// sound marks shapes gopher-lua happens to run right as written: the
	// rewrite is applied for the same reason (the jump it reads is one
	// already patched) but this program does not show it.
	sound bool
}

// The iterator every generic-for shape below loops over: two values,
// then the end.
const two = `local function two() local n = 0 return function() n = n + 1 if n <= 2 then return n end end end
`

var shapes = []shape{
	// R2: a loop body that starts with a jump.
	{"break first, in a numeric for", two + `for i = 1, 2 do for r in two() do break end end
print("x")`, "x\n", false},
	{"break first, in a while (hung)", two + `local w = 0
while w < 2 do
  w = w + 1
  for r in two() do break end
end
print("x", w)`, "x\t2\n", false},
	{"break first, in a function", two + `local function g()
  for i = 1, 2 do for r in two() do break end end
  return "x"
end
print(g())`, "x\n", false},
	{"break first, in a generic for", two + `for a in two() do for b in two() do break end end
print("x")`, "x\n", false},
	{"constant-false if with a local (yuin/gopher-lua#540)", `local n = 0
for k, v in pairs({1, 2}) do
  if false then local x = 1 end
  n = n + v
end
return n`, "return 3\n", false},
	{"nested break-only while first", two + `local n = 0
for r in two() do
  while true do break end
  n = n + r
end
print(n)`, "3\n", false},
	{"break first, in a repeat in a generic for", two + `local n = 0
for r in two() do
  repeat break until false
  n = n + r
end
print(n)`, "3\n", false},
	{"constant and/or first, in a loop body (hung)", `local t = {}
for k, v in ipairs({5, 6}) do
  local y = false and v
  t[#t + 1] = tostring(y) .. v
end
print(table.concat(t, ","))`, "false5,false6\n", true},
	{"while false first, in a generic for", two + `local n = 0
for r in two() do
  while false do n = n + 100 end
  n = n + r
end
print(n)`, "3\n", true},

	// R3: generic-for explists.
	{"iterator from a field of a call's result", `local m = {rows = function(n) local i = 0 return function() i = i + 1 if i <= n then return i end end end}
local function req() return m end
for r in req().rows(2) do print(r) end`, "1\n2\n", false},
	{"two loops over a bare function (yuin/gopher-lua#514)", `local function gen(s, c) print("called with", s, c) if c == nil then return 1 end if c < 2 then return c + 1 end end
for x in gen do end
for x in gen do end`, "called with\tnil\tnil\ncalled with\tnil\t1\ncalled with\tnil\t2\ncalled with\tnil\tnil\ncalled with\tnil\t1\ncalled with\tnil\t2\n", false},
	{"next, t with a stale control value", `do local x, y, z = 1, 2, 3 end
for k, v in next, {10, 20} do print(k, v) end
print("end")`, "1\t10\n2\t20\nend\n", false},

	// R4: break closes the upvalues of the blocks it leaves.
	{"break after a closure captured an inner local (while)", `local g
while true do
  do
    local y = 10
    g = function() return y end
    break
  end
end
local a, b, c = 1, 2, 3
print(g())`, "10\n", false},
	{"break after a closure captured an inner local (numeric for)", `local fs = {}
for i = 1, 3 do
  if i > 0 then
    local z = i * 100
    fs[i] = function() return z end
    if i == 2 then break end
  end
end
local p, q, r = 7, 8, 9
print(fs[1](), fs[2]())`, "100\t200\n", false},

	// R5: local f = function uses the outer f.
	{"local f = function ... f ... end", `local f = 1
do local f = function() return f end print(type(f())) end
local print0 = print
local print = function(...) print0("wrapped:", ...) end
print("hello")`, "number\nwrapped:\thello\n", false},

	// R6: multiple assignment.
	{"swap", `local a, b = 1, 2
a, b = b, a
print(a, b)`, "2\t1\n", false},
	{"rotation with a loop variable", `local v
for i = 1, 3 do
  i, v = v, i
  print(i, v)
end`, "nil\t1\n1\t2\n2\t3\n", false},
	{"table target valued by a later target", `local k, u = 1, {}
u[1], k = k, 5
print(u[1], k)`, "1\t5\n", false},
	{"a call among the values sees the targets unchanged", `local p = 1
local function rp() return p end
local q
p, q = 10, rp()
print(p, q)`, "10\t1\n", false},
	{"key evaluated before the assignment", `local i, t = 3, {}
i, t[i] = i + 1, 20
print(i, t[3], t[4])`, "4\t20\tnil\n", true},
}

// runProto runs proto on a fresh state with the base library, printing to
// a buffer, for at most a second.
func runProto(t *testing.T, proto *lua.FunctionProto) (out string, err error) {
	t.Helper()
	L := lua.NewState()
	defer L.Close()
	var b strings.Builder
	L.SetGlobal("print", L.NewFunction(func(L *lua.LState) int {
		for i := 1; i <= L.GetTop(); i++ {
			if i > 1 {
				b.WriteByte('\t')
			}
			b.WriteString(L.ToStringMeta(L.Get(i)).String())
		}
		b.WriteByte('\n')
		return 0
	}))
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	L.SetContext(ctx)
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("Go panic: %v", r)
		}
		out = b.String()
	}()
	L.Push(L.NewFunctionFromProto(proto))
	if err := L.PCall(0, lua.MultRet, nil); err != nil {
		return "", err
	}
	if n := L.GetTop(); n > 0 {
		var vals []string
		for i := 1; i <= n; i++ {
			vals = append(vals, L.Get(i).String())
		}
		b.WriteString("return " + strings.Join(vals, "\t") + "\n")
	}
	return "", nil
}

// TestShapesRunAsLua51: compiled through Compile, every shape prints what
// Lua 5.1 prints.
func TestShapesRunAsLua51(t *testing.T) {
	for _, s := range shapes {
		t.Run(s.name, func(t *testing.T) {
			proto, err := Compile("shape.lua", s.src)
			if err != nil {
				t.Fatal(err)
			}
			out, err := runProto(t, proto)
			if err != nil || out != s.want {
				t.Errorf("got %q, err %v; want %q", out, err, s.want)
			}
		})
	}
}

// TestShapesWrongWithoutRewrite shows what each rewrite repairs: compiled
// by gopher-lua as written, every shape goes wrong (a wrong output, an
// error, a hang, a panic). When a gopher-lua upgrade makes one of these
// fail, gopher-lua compiles that shape now and its rewrite may go.
func TestShapesWrongWithoutRewrite(t *testing.T) {
	for _, s := range shapes {
		if s.sound {
			continue
		}
		t.Run(s.name, func(t *testing.T) {
			chunk, err := Parse("shape.lua", s.src)
			if err != nil {
				t.Fatal(err)
			}
			proto, err := compile("shape.lua", s.src, chunk)
			if err != nil {
				return // the compiler failed: wrong too
			}
			out, err := runProto(t, proto)
			if err == nil && out == s.want {
				t.Errorf("gopher-lua now runs this shape right (%q): is its rewrite still needed?", out)
			}
		})
	}
}

// rewritten reports whether Rewrite changes the printed shape of src's
// statements (it compares the AST before and after, by the node types of
// every statement).
func rewritten(t *testing.T, src string) bool {
	t.Helper()
	before, err := Parse("x.lua", src)
	if err != nil {
		t.Fatal(err)
	}
	want := dumpStmts(before)
	after := Rewrite(before)
	return dumpStmts(after) != want
}

// dumpStmts is a structural fingerprint of a statement list: the types of
// statements and expressions, and names, in order.
func dumpStmts(stmts []ast.Stmt) string {
	var b strings.Builder
	var stmt func(ast.Stmt)
	var expr func(ast.Expr)
	block := func(ss []ast.Stmt) {
		b.WriteString("{")
		for _, s := range ss {
			stmt(s)
		}
		b.WriteString("}")
	}
	exprs := func(es []ast.Expr) {
		b.WriteString("(")
		for _, e := range es {
			expr(e)
		}
		b.WriteString(")")
	}
	expr = func(e ast.Expr) {
		fmt.Fprintf(&b, "%T", e)
		switch ex := e.(type) {
		case *ast.IdentExpr:
			b.WriteString(":" + ex.Value)
		case *ast.AttrGetExpr:
			exprs([]ast.Expr{ex.Object, ex.Key})
		case *ast.FuncCallExpr:
			if ex.Func != nil {
				expr(ex.Func)
			} else {
				expr(ex.Receiver)
			}
			exprs(ex.Args)
		case *ast.LogicalOpExpr:
			exprs([]ast.Expr{ex.Lhs, ex.Rhs})
		case *ast.FunctionExpr:
			block(ex.Stmts)
		}
		b.WriteString(" ")
	}
	stmt = func(s ast.Stmt) {
		fmt.Fprintf(&b, "%T", s)
		switch st := s.(type) {
		case *ast.LocalAssignStmt:
			fmt.Fprint(&b, st.Names)
			exprs(st.Exprs)
		case *ast.AssignStmt:
			exprs(st.Lhs)
			exprs(st.Rhs)
		case *ast.FuncCallStmt:
			expr(st.Expr)
		case *ast.DoBlockStmt:
			block(st.Stmts)
		case *ast.WhileStmt:
			expr(st.Condition)
			block(st.Stmts)
		case *ast.RepeatStmt:
			block(st.Stmts)
			expr(st.Condition)
		case *ast.IfStmt:
			expr(st.Condition)
			block(st.Then)
			block(st.Else)
		case *ast.NumberForStmt:
			block(st.Stmts)
		case *ast.GenericForStmt:
			fmt.Fprint(&b, st.Names)
			exprs(st.Exprs)
			block(st.Stmts)
		case *ast.FuncDefStmt:
			block(st.Func.Stmts)
		case *ast.ReturnStmt:
			exprs(st.Exprs)
		}
		b.WriteString(";")
	}
	block(stmts)
	return b.String()
}

// TestRewriteLeavesCommonShapes: what scripts write every day compiles as
// written (no rewrite, so no cost).
func TestRewriteLeavesCommonShapes(t *testing.T) {
	for _, src := range []string{
		`for k, v in pairs(t) do print(k, v) end`,
		`for i, r in ipairs(rows) do if r.ok then break end end`,
		`for r in csv.rows(path, {header = true}) do n = n + 1 end`,
		`for item in top.each("taobao.items.onsale.get", {fields = "num_iid"}) do end`,
		`for i, v in obj:items() do end`,
		`for w in string.gmatch(s, "%a+") do end`,
		`while n < 10 do n = n + 1 end`,
		`repeat n = n - 1 until n == 0`,
		`local a, b = b, a`,
		`x, y = 1, 2`,
		`a, b = f()`,
		`t.x, t.y = 1, 2`,
		`local function f(n) if n == 0 then return 1 end return n * f(n - 1) end`,
		`local f = function(x) return x + 1 end`,
		`if x then a = 1 elseif y then a = 2 else a = 3 end`,
		`for i = 1, 10 do local c = function() return i end; if i > 5 then break end end`,
	} {
		if rewritten(t, src) {
			t.Errorf("%s: rewritten", src)
		}
	}
}

// TestRewriteRepairs: each rewrite applies to its shape.
func TestRewriteRepairs(t *testing.T) {
	for _, src := range []string{
		`for r in two() do break end`,            // R2
		`if false then x = 1 end`,                // R1
		`while false do x = 1 end`,               // R1
		`local y = nil or z`,                     // R1
		`for r in require("csv").rows(p) do end`, // R3
		`for x in gen do end`,                    // R3
		`for k, v in next, t do end`,             // R3
		`while c do do local y; g = function() return y end; break end end`, // R4
		`local f = function() return f end`,                                 // R5
		`local a, b; a, b = b, a`,                                           // R6
	} {
		if !rewritten(t, src) {
			t.Errorf("%s: not rewritten", src)
		}
	}
}

// TestParserMarksLocalFunction pins what R5 relies on: gopher-lua's
// parser sets the last line of `local function f` and not of `local f =
// function`, the only difference between the two nodes it builds.
func TestParserMarksLocalFunction(t *testing.T) {
	chunk, err := Parse("x.lua", "local function f() end\nlocal g = function() end\n")
	if err != nil {
		t.Fatal(err)
	}
	f, g := chunk[0].(*ast.LocalAssignStmt), chunk[1].(*ast.LocalAssignStmt)
	if !localFunc(f) || localFunc(g) || !bindsFirst(g) {
		t.Fatalf("local function: last line %d; local g = function: last line %d", f.LastLine(), g.LastLine())
	}
}

// TestSyntaxErrors: every syntax error has a line, the end of the input
// included (it used to have none).
func TestSyntaxErrors(t *testing.T) {
	for _, c := range []struct {
		src, want string
		eof       bool
	}{
		{"for i = 1, 2 do\n  print(i)\n", "syntax.lua:3: syntax error: unexpected end of input", true},
		{"for i = 1, 2 do\n  print(i)", "syntax.lua:2: syntax error: unexpected end of input", true},
		{"x = 1 +\n\n\n", "syntax.lua:4: syntax error: unexpected end of input", true},
		{"x = [[abc\n\n", "syntax.lua:3: ", true},
		{"local x = 1\nx = = 2\n", "syntax.lua:2: syntax error near '='", false},
		{"break\n", "syntax.lua:1: syntax error: no loop to break", false},
	} {
		_, err := Compile("syntax.lua", c.src)
		var ce *Error
		if !errors.As(err, &ce) {
			t.Errorf("%q: %v, want an *Error", c.src, err)
			continue
		}
		if !strings.HasPrefix(ce.Error(), c.want) || ce.EOF != c.eof || ce.Line <= 0 {
			t.Errorf("%q: %q (EOF %v), want %q... (EOF %v)", c.src, ce.Error(), ce.EOF, c.want, c.eof)
		}
	}
}

// TestCompilerPanicIsAnError: a panic of gopher-lua's compiler comes back
// as an error naming the chunk.
func TestCompilerPanicIsAnError(t *testing.T) {
	// A call statement without a call: gopher-lua's compiler asserts the
	// type and panics.
	bad := &ast.FuncCallStmt{Expr: &ast.NilExpr{}}
	bad.SetLine(1)
	_, err := compile("bad.lua", "", []ast.Stmt{bad})
	var ce *Error
	if !errors.As(err, &ce) || ce.Chunk != "bad.lua" || !strings.Contains(ce.Msg, "compiler failed") {
		t.Fatalf("got %v", err)
	}
}
