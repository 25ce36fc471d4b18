package luadiff

import (
	"fmt"
	"math/rand/v2"
	"strings"
)

// The generator writes terminating, deterministic Lua 5.1 programs whose
// only observable behaviour is what they print and whether (and with what
// message) they fail. It emits the shapes compilers get wrong: loops of
// every kind nested in every kind, break and return in odd places (first
// statement, inside do/if blocks, after closures captured a local),
// constant conditions, generic for over calls, module fields, methods,
// bare functions and short explists, varargs, closures over loop
// variables, multiple assignment, method calls, the string and table
// libraries, errors and pcall.
//
// It keeps away from what Lua 5.1 leaves unspecified or what gopher-lua
// deliberately does differently (see the package documentation): every
// number is an integer below 2^53 and never -0 (number variables are kept
// non-negative and below a modulus), tables have no holes, a pairs loop
// over string keys only accumulates commutatively, nothing prints a
// table, function or thread, and error messages the VM writes are printed
// only through em(), which keeps messages carrying the generator's marker
// (!n!) and reduces any other to its type.

// kind is the static type the generator tracks for a variable.
type kind int

const (
	kNum  kind = iota // non-negative integer below numCap
	kInt              // any integer of small magnitude (loop variables)
	kStr              // short string
	kBool             // boolean
	kSeq              // array of kNum, no holes, may be mutated
	kLit              // array of kNum built by a constructor, never mutated (pairs order is defined)
	kHash             // table with string keys to kNum
	kFun              // function(kNum...) returning one kNum
	kFns              // array of zero-argument closures returning kNum
)

// numCap bounds number variables: every assignment is taken modulo it.
const numCap = 10007

// costLimit bounds the work of one program (statements executed, roughly).
const costLimit = 20000

type variable struct {
	name  string
	k     kind
	arity int    // kFun: parameters
	cost  int    // kFun: statements one call runs, at most
	raise bool   // kFun: a call may raise an error
	fn    *fnCtx // the function that declared it
}

type fnCtx struct {
	loops  int  // loops enclosing the current point, within this function
	vararg bool // '...' is usable
	main   bool
	cost   int  // accumulated cost of the body
	raise  bool // the body may raise
	locals int  // locals declared so far (bounded: gopher-lua has 200 registers)
}

// Gen generates programs; it is deterministic for a given seed.
type Gen struct {
	r      *rand.Rand
	names  int
	marks  int
	scopes [][]*variable
	fn     *fnCtx
	mult   int // iterations of the enclosing loops (within the function)
	depth  int // block nesting
	budget int // statements left
	// frozen are the arrays a loop iterates over: the body does not
	// change them (ipairs over an array that grows never ends).
	frozen map[*variable]int
}

// Generate returns the program for seed. size is a statement budget
// (0 means a default of about 60).
func Generate(seed uint64, size int) *Program {
	if size <= 0 {
		size = 60
	}
	g := &Gen{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), budget: size, mult: 1, frozen: map[*variable]int{}}
	g.fn = &fnCtx{main: true, vararg: true}
	g.push()
	var blk Block
	blk = append(blk, g.prelude()...)
	blk = append(blk, g.block(false)...)
	// Sometimes the chunk ends in an uncaught error or a return.
	switch g.r.IntN(12) {
	case 0:
		blk = append(blk, simple(fmt.Sprintf("error(%q)", g.marker())))
	case 1:
		blk = append(blk, simple(g.vmError()))
	case 2:
		blk = append(blk, simple("return "+g.num(1)))
	}
	g.pop()
	return &Program{Seed: seed, Stmts: blk}
}

func (g *Gen) push() { g.scopes = append(g.scopes, nil) }
func (g *Gen) pop()  { g.scopes = g.scopes[:len(g.scopes)-1] }

func (g *Gen) declare(name string, k kind) *variable {
	v := &variable{name: name, k: k, fn: g.fn}
	g.scopes[len(g.scopes)-1] = append(g.scopes[len(g.scopes)-1], v)
	g.fn.locals++
	return v
}

func (g *Gen) fresh(prefix string) string {
	g.names++
	return fmt.Sprintf("%s%d", prefix, g.names)
}

func (g *Gen) marker() string {
	g.marks++
	return fmt.Sprintf("!%d!", g.marks)
}

func (g *Gen) chance(n int) bool { return g.r.IntN(n) == 0 }

// vars returns the visible variables of kind k (innermost last; shadowed
// names excluded).
func (g *Gen) vars(k kind) []*variable {
	seen := map[string]bool{}
	var out []*variable
	for i := len(g.scopes) - 1; i >= 0; i-- {
		s := g.scopes[i]
		for j := len(s) - 1; j >= 0; j-- {
			v := s[j]
			if seen[v.name] {
				continue
			}
			seen[v.name] = true
			if v.k == k {
				out = append(out, v)
			}
		}
	}
	return out
}

func (g *Gen) pick(k kind) *variable {
	vs := g.vars(k)
	if k == kSeq || k == kFns {
		live := vs[:0:0]
		for _, v := range vs {
			if g.frozen[v] == 0 {
				live = append(live, v)
			}
		}
		vs = live
	}
	if len(vs) == 0 {
		return nil
	}
	return vs[g.r.IntN(len(vs))]
}

// pickMut picks a table the current statement may change: one of the
// current function's own (a function changing an outer table could be
// called from a loop over it, which would then never end), not being
// iterated over.
func (g *Gen) pickMut(k kind) *variable {
	var own []*variable
	for _, v := range g.vars(k) {
		if v.fn == g.fn && g.frozen[v] == 0 {
			own = append(own, v)
		}
	}
	if len(own) == 0 {
		return nil
	}
	return own[g.r.IntN(len(own))]
}

// callable returns the functions that may be called here within the cost
// limit (and, unless raising is allowed, that never raise).
func (g *Gen) callable(raiseOK bool) []*variable {
	var out []*variable
	for _, v := range g.vars(kFun) {
		if v.raise && !raiseOK {
			continue
		}
		if g.fn.cost+g.mult*v.cost > costLimit {
			continue
		}
		out = append(out, v)
	}
	return out
}

// ---- prelude

// prelude declares the helpers every program may use. They are ordinary
// statements: the minimiser drops those a divergence does not need.
func (g *Gen) prelude() Block {
	blk := Block{
		simple(`local function em(e) if type(e) == "string" then return string.match(e, "^.*!%d+!") or string.match(e, "^[^:]*:%d+:") or "?" end if type(e) == "table" then return "tbl:" .. tostring(e.code) end return type(e) end`),
		compound("end", Part{Head: `package.preload["m"] = function()`, Body: Block{
			simple(`local M = {}`),
			simple(`function M.range(n) local i = 0 return function() i = i + 1 if i <= n then return i end end end`),
			simple(`function M.get() return M end`),
			simple(`function M.obj() return {n = 2, items = function(self) local i = 0 return function() i = i + 1 if i <= self.n then return i, i * 3 end end end} end`),
			simple(`M.list = {3, 1, 2}`),
			simple(`return M`),
		}}),
		simple(`local M = require("m")`),
		simple(`local function range(n) local i = 0 return function() i = i + 1 if i <= n then return i end end end`),
		simple(`local function gen(s, c) if c == nil then return 1 end if c < 3 then return c + 1 end end`),
		simple(`local function triple() return gen, nil, nil end`),
		simple(`local obj = {n = 2}`),
		simple(`function obj:items() local i = 0 return function() i = i + 1 if i <= self.n then return i, i + 10 end end end`),
		simple(`function obj:bump(x) self.n = (self.n + x) % 4 return self.n end`),
	}
	for _, name := range []string{"em", "M", "range", "gen", "triple", "obj"} {
		g.declare(name, -1) // helpers are referenced by name, never picked as values
	}
	return blk
}

// ---- statements

// block generates a statement list in a new scope. loopBody says the
// block is the body of a loop (break allowed as its last statement).
func (g *Gen) block(loopBody bool) Block {
	g.push()
	defer g.pop()
	return g.stmts(loopBody)
}

// stmts generates statements into the current scope.
func (g *Gen) stmts(loopBody bool) Block {
	g.depth++
	defer func() { g.depth-- }()
	n := g.r.IntN(4)
	if g.depth == 1 {
		n = 4 + g.r.IntN(8)
	}
	var blk Block
	// Odd places: a loop body that starts by leaving.
	if loopBody && g.chance(6) {
		blk = append(blk, g.leaveFirst()...)
		if len(blk) > 0 && blk[len(blk)-1].Text == "break" {
			return blk
		}
	}
	for i := 0; i < n && g.budget > 0; i++ {
		blk = append(blk, g.stmt()...)
	}
	if g.fn.loops > 0 && g.chance(5) {
		blk = append(blk, g.breakStmt())
	} else if !g.fn.main && g.chance(8) {
		blk = append(blk, g.returnStmt())
	}
	return blk
}

// leaveFirst is a loop body's first statement(s) that jump: break, or a
// constant-false if, or a nested break-only loop, or do break end.
func (g *Gen) leaveFirst() Block {
	switch g.r.IntN(6) {
	case 0:
		return Block{simple("break")}
	case 1:
		return Block{compound("end", Part{Head: "do", Body: Block{simple("break")}})}
	case 2:
		body := Block{}
		if g.chance(2) {
			body = append(body, simple("local "+g.fresh("d")+" = 1"))
		}
		return Block{compound("end", Part{Head: "if " + g.constFalse() + " then", Body: body})}
	case 3:
		return Block{compound("end", Part{Head: "while true do", Body: Block{simple("break")}})}
	case 4:
		return Block{compound("end", Part{Head: "while " + g.constFalse() + " do", Body: Block{simple(g.printStmt())}})}
	default:
		return Block{compound("until true", Part{Head: "repeat", Body: Block{simple("break")}})}
	}
}

func (g *Gen) constFalse() string {
	return []string{"false", "nil", "false and x", "nil and true", "not true", "false or nil"}[g.r.IntN(6)]
}

func (g *Gen) breakStmt() *Stmt {
	if g.chance(3) {
		return compound("end", Part{Head: "if " + g.boolExpr(1) + " then", Body: Block{simple("break")}})
	}
	return simple("break")
}

func (g *Gen) returnStmt() *Stmt {
	if g.chance(3) {
		return compound("end", Part{Head: "if " + g.boolExpr(1) + " then", Body: Block{simple("return " + g.num(1))}})
	}
	return simple("return " + g.num(2))
}

// stmt generates one statement (or a few that belong together).
func (g *Gen) stmt() Block {
	g.budget--
	g.fn.cost += g.mult
	canNest := g.depth < 5 && g.fn.cost*5 < costLimit
	for {
		switch c := g.r.IntN(44); {
		case c < 4:
			return Block{g.localStmt()}
		case c < 7:
			if s := g.assignStmt(); s != nil {
				return Block{s}
			}
		case c < 11:
			return Block{simple(g.printStmt())}
		case c < 14 && canNest:
			return Block{g.numericFor()}
		case c < 18 && canNest:
			return g.genericFor()
		case c < 20 && canNest:
			return g.whileLoop()
		case c < 22 && canNest:
			return g.repeatLoop()
		case c < 25 && canNest:
			return Block{g.ifStmt()}
		case c < 26 && canNest:
			return Block{compound("end", Part{Head: "do", Body: g.block(false)})}
		case c < 29 && canNest && g.depth < 4:
			return Block{g.funcDef()}
		case c < 31:
			return Block{g.pcallStmt()}
		case c < 33:
			if s := g.tableStmt(); s != nil {
				return Block{s}
			}
		case c < 35:
			if s := g.closureStmt(); s != nil {
				return Block{s}
			}
		case c < 36:
			return Block{g.methodStmt()}
		case c < 37:
			return Block{g.multiAssign()}
		case c < 38:
			if g.fn.vararg {
				return Block{simple(g.printVarargs())}
			}
		case c < 39:
			return Block{simple("io.write(" + g.str(1) + ", " + g.num(1) + ", \"\\n\")")}
		case c < 40:
			return Block{g.metaStmt()}
		case c < 41 && g.fn.loops > 0:
			if s := g.captureThenBreak(); s != nil {
				return Block{s}
			}
		case c < 42:
			return Block{simple(g.stringStmt())}
		case c < 43 && canNest:
			return Block{g.varargCall()}
		default:
			if s := g.callStmt(); s != nil {
				return Block{s}
			}
		}
	}
}

func (g *Gen) localStmt() *Stmt {
	if g.fn.locals > 70 {
		if s := g.assignStmt(); s != nil {
			return s
		}
	}
	switch g.r.IntN(7) {
	case 0:
		name := g.localName(kStr)
		e := g.str(2)
		g.declare(name, kStr)
		return simple("local " + name + " = " + e)
	case 1:
		name := g.localName(kSeq)
		e := g.seqLiteral()
		g.declare(name, kSeq)
		return simple("local " + name + " = " + e)
	case 2:
		name := g.fresh("l")
		e := g.seqLiteral()
		g.declare(name, kLit)
		return simple("local " + name + " = " + e)
	case 3:
		name := g.fresh("h")
		e := g.hashLiteral()
		g.declare(name, kHash)
		return simple("local " + name + " = " + e)
	case 4:
		name := g.localName(kBool)
		e := g.boolExpr(2)
		g.declare(name, kBool)
		return simple("local " + name + " = " + e)
	default:
		name := g.localName(kNum)
		e := g.num(3)
		g.declare(name, kNum)
		return simple("local " + name + " = " + e)
	}
}

// localName is a fresh name, or sometimes the name of a visible variable
// of the same kind (shadowing it: local x = x + 1).
func (g *Gen) localName(k kind) string {
	if g.chance(5) {
		if v := g.pick(k); v != nil {
			return v.name
		}
	}
	return g.fresh("v")
}

func (g *Gen) assignStmt() *Stmt {
	switch g.r.IntN(4) {
	case 0:
		if v := g.pick(kStr); v != nil {
			return simple(v.name + " = (" + g.str(2) + "):sub(1, 24)")
		}
	case 1:
		if v := g.pick(kBool); v != nil {
			return simple(v.name + " = " + g.boolExpr(2))
		}
	case 2:
		if v := g.pickMut(kSeq); v != nil {
			return simple(fmt.Sprintf("%s[math.min(%d, #%s + 1)] = %s", v.name, 1+g.r.IntN(2), v.name, g.num(2)))
		}
	}
	if v := g.pick(kNum); v != nil {
		return simple(fmt.Sprintf("%s = (%s) %% %d", v.name, g.num(3), numCap))
	}
	if g.chance(2) {
		// A global.
		name := fmt.Sprintf("G%d", g.r.IntN(3))
		return simple(name + " = " + g.num(2))
	}
	return nil
}

// multiAssign is a multiple assignment: swaps and rotations, targets that
// are read by later values, table targets keyed by a target, values from
// calls that see the targets, calls adjusted to the names, more names
// than values.
func (g *Gen) multiAssign() *Stmt {
	nums := g.vars(kNum)
	seq := g.pickMut(kSeq)
	var a, b, c *variable
	if len(nums) >= 2 {
		i := g.r.IntN(len(nums))
		j := (i + 1 + g.r.IntN(len(nums)-1)) % len(nums)
		a, b = nums[i], nums[j]
		if len(nums) >= 3 {
			c = nums[(j+1)%len(nums)]
			if c == a {
				c = nil
			}
		}
	}
	switch g.r.IntN(10) {
	case 8:
		if a != nil {
			// Each value reads its own target (safe in place), or the
			// other's.
			if g.chance(2) {
				return simple(fmt.Sprintf("%s, %s = (%s + %s) %% %d, (%s + %s) %% %d", a.name, b.name, a.name, g.numLeaf(), numCap, b.name, g.numLeaf(), numCap))
			}
			return simple(fmt.Sprintf("%s, %s = (%s + 1) %% %d, (%s + %s) %% %d", a.name, b.name, b.name, numCap, a.name, b.name, numCap))
		}
	case 9:
		if a != nil && seq != nil {
			return simple(fmt.Sprintf("%s[1], %s = (%s + 1) %% %d, %s", seq.name, a.name, a.name, numCap, g.numLeaf()))
		}
	case 0:
		if a != nil {
			return simple(a.name + ", " + b.name + " = " + b.name + ", " + a.name)
		}
	case 1:
		if c != nil {
			return simple(fmt.Sprintf("%s, %s, %s = %s, %s, %s", a.name, b.name, c.name, b.name, c.name, a.name))
		}
	case 2:
		if a != nil {
			return simple(fmt.Sprintf("%s, %s = (%s) %% %d, %s", a.name, b.name, g.num(2), numCap, a.name))
		}
	case 3:
		if a != nil && seq != nil {
			return simple(fmt.Sprintf("%s[1], %s = %s, %s", seq.name, a.name, a.name, g.numLeaf()))
		}
	case 4:
		if a != nil && seq != nil {
			return simple(fmt.Sprintf("%s, %s[math.min(%s %% 2 + 1, #%s + 1)] = %s %% 3, %s", a.name, seq.name, a.name, seq.name, a.name, g.numLeaf()))
		}
	case 5:
		if a != nil {
			// A call among the values that reads and changes a target.
			f := g.fresh("bump")
			return compound("end", Part{Head: "do", Body: Block{
				simple(fmt.Sprintf("local function %s() %s = (%s + 1) %% %d return %s end", f, a.name, a.name, numCap, a.name)),
				simple(fmt.Sprintf("%s, %s = %s + 1, %s()", a.name, b.name, a.name, f)),
			}})
		}
	case 6:
		x, y, z := g.fresh("v"), g.fresh("v"), g.fresh("v")
		rhs := []string{"1", "2, 3", "(" + g.multiCall() + ")", g.multiCall(), "4, " + g.multiCall(), "5, 6, 7, 8"}[g.r.IntN(6)]
		return compound("end", Part{Head: "do", Body: Block{
			simple("local " + x + ", " + y + ", " + z + " = " + rhs),
			simple("print(" + x + ", " + y + ", " + z + ")"),
			simple(x + ", " + y + ", " + z + " = " + z + ", " + rhs),
			simple("print(" + x + ", " + y + ", " + z + ")"),
		}})
	}
	return simple("print(" + g.multiCall() + ")")
}

// multiCall is a call returning several values.
func (g *Gen) multiCall() string {
	switch g.r.IntN(5) {
	case 0:
		return fmt.Sprintf("unpack({%s, %s, %s})", g.num(1), g.num(1), g.num(1))
	case 1:
		return fmt.Sprintf("select(%d, 10, 20, 30)", 1+g.r.IntN(3))
	case 2:
		return fmt.Sprintf("string.byte(%q, 1, -1)", []string{"abc", "xy", "q"}[g.r.IntN(3)])
	case 3:
		return fmt.Sprintf("(%q):find(%q)", "hello world", []string{"o w", "l+", "(o)", "z"}[g.r.IntN(4)])
	default:
		return fmt.Sprintf("string.gsub(%q, %q, %q)", "a-b-c", "-", []string{"+", "", "%%"}[g.r.IntN(3)])
	}
}

func (g *Gen) printStmt() string {
	n := 1 + g.r.IntN(3)
	args := make([]string, n)
	for i := range args {
		args[i] = g.any(2)
	}
	if g.chance(6) {
		args = append(args, g.multiCall())
	}
	return "print(" + strings.Join(args, ", ") + ")"
}

func (g *Gen) printVarargs() string {
	return []string{
		`print(select("#", ...), ...)`,
		`print((select("#", ...)))`,
		`print(#{...}, ...)`,
		`print((...))`,
		`print(select(2, ...))`,
		`print(select(-1, ...))`,
		`local a, b = ...; print(a, b)`,
	}[g.r.IntN(7)]
}

// varargCall defines a vararg function and calls it with a few values,
// forwarding them, counting them, packing them.
func (g *Gen) varargCall() *Stmt {
	f := g.fresh("va")
	body := []string{
		"return select(\"#\", ...), ...",
		"local t = {...} return #t, t[1]",
		"return (...)",
		"local n = select(\"#\", ...) if n > 1 then return select(2, ...) end return n",
		"return " + f + "2(...)",
	}
	b := body[g.r.IntN(len(body))]
	pre := ""
	if strings.Contains(b, f+"2") {
		pre = fmt.Sprintf("local function %s2(a, ...) return a, select(\"#\", ...) end ", f)
	}
	args := []string{"", "1", "1, 2", "nil, 2", "1, nil", g.num(1) + ", " + g.str(1) + ", " + g.num(1), g.multiCall()}
	return compound("end", Part{Head: "do", Body: Block{
		simple(pre + "local function " + f + "(...) " + b + " end"),
		simple("print(" + f + "(" + args[g.r.IntN(len(args))] + "))"),
	}})
}

// metaStmt uses a metatable: __index (function and table), __newindex,
// __call, arithmetic, comparison, concatenation and __tostring.
func (g *Gen) metaStmt() *Stmt {
	m := g.fresh("mt")
	switch g.r.IntN(6) {
	case 0:
		return compound("end", Part{Head: "do", Body: Block{
			simple(fmt.Sprintf("local %s = setmetatable({}, {__index = function(t, k) return k .. \"!\" end})", m)),
			simple(fmt.Sprintf("print(%s.x, %s[%s], rawget(%s, \"x\"))", m, m, g.str(1), m)),
		}})
	case 1:
		return compound("end", Part{Head: "do", Body: Block{
			simple(fmt.Sprintf("local base = {a = %s} local %s = setmetatable({}, {__index = base})", g.num(1), m)),
			simple(fmt.Sprintf("%s.b = %s print(%s.a, %s.b, base.b)", m, g.num(1), m, m)),
		}})
	case 2:
		return compound("end", Part{Head: "do", Body: Block{
			simple(fmt.Sprintf("local log = {} local %s = setmetatable({}, {__newindex = function(t, k, v) log[#log + 1] = k rawset(t, k, v) end})", m)),
			simple(fmt.Sprintf("%s.x = 1 %s.x = 2 %s.y = 3 print(#log, %s.x, %s.y)", m, m, m, m, m)),
		}})
	case 3:
		return compound("end", Part{Head: "do", Body: Block{
			simple(fmt.Sprintf("local %s = setmetatable({n = %s}, {__call = function(self, a, b) return self.n + (a or 0) + (b or 0) end})", m, g.num(1))),
			simple(fmt.Sprintf("print(%s(%s), %s(1, 2))", m, g.num(1), m)),
		}})
	case 4:
		return compound("end", Part{Head: "do", Body: Block{
			simple(fmt.Sprintf("local V = {} V.__index = V V.__add = function(a, b) return setmetatable({v = a.v + b.v}, V) end V.__eq = function(a, b) return a.v == b.v end V.__lt = function(a, b) return a.v < b.v end V.__le = function(a, b) return a.v <= b.v end V.__concat = function(a, b) return tostring(a.v or a) .. \"|\" .. tostring(b.v or b) end V.__tostring = function(a) return \"V\" .. a.v end V.__unm = function(a) return setmetatable({v = 0 - a.v}, V) end local function %s(x) return setmetatable({v = x}, V) end", m)),
			simple(fmt.Sprintf("local a, b = %s(%s), %s(%s) print((a + b).v, a == b, a < b, a <= b, a .. b, a .. \"s\", tostring(a), (-a).v)", m, g.num(1), m, g.num(1))),
		}})
	default:
		return compound("end", Part{Head: "do", Body: Block{
			simple(fmt.Sprintf("local %s = setmetatable({}, {__index = function(t, i) if i <= 3 then return i * 10 end end})", m)),
			simple(fmt.Sprintf("for i = 1, 4 do io.write(tostring(%s[i]), \" \") end print(#%s)", m, m)),
		}})
	}
}

// captureThenBreak leaves a loop from an inner block after a closure has
// captured a local of that block; the closure is called after the loop.
func (g *Gen) captureThenBreak() *Stmt {
	fsv := g.pickMut(kFns)
	if fsv == nil {
		return nil
	}
	y := g.fresh("y")
	return compound("end", Part{Head: "if " + g.boolExpr(1) + " then", Body: Block{
		simple(fmt.Sprintf("local %s = %s", y, g.num(1))),
		simple(fmt.Sprintf("%s[#%s + 1] = function() return %s end", fsv.name, fsv.name, y)),
		simple("break"),
	}})
}

// stringStmt prints what the string library makes of a few inputs.
func (g *Gen) stringStmt() string {
	s := g.str(1)
	switch g.r.IntN(8) {
	case 0:
		return fmt.Sprintf("print(string.find(%s, %q, %d, true), string.find(%s, %q))", s, []string{"a", ".", "%", "l"}[g.r.IntN(4)], 1+g.r.IntN(3), s, []string{"^a", "l$", "%s", "(%a)(%a)", "[%w_]+"}[g.r.IntN(5)])
	case 1:
		return fmt.Sprintf("print(string.match(%s, %q))", s, []string{"^(%a+)", "(%d+)", "(.)(.)$", "%s*(.-)%s*$", "()a()"}[g.r.IntN(5)])
	case 2:
		return fmt.Sprintf("print(string.gsub(%s, %q, %s))", s, []string{"%a", "(%w+)", ".", "l+"}[g.r.IntN(4)], []string{`"<%0>"`, `{a = "A", l = 1}`, `function(c) return c:upper() end`, `function(c) return nil end`, `"%%"`}[g.r.IntN(5)])
	case 3:
		return fmt.Sprintf("print(string.gsub(%s, %q, %q, %d))", s, "%a", "*", g.r.IntN(3))
	case 4:
		return fmt.Sprintf("print(string.byte(%s, %d, %d), string.len(%s), string.lower(%s))", s, g.r.IntN(3)-1, g.r.IntN(4)-1, s, s)
	case 5:
		return fmt.Sprintf("print(string.format(%q, %s, %s, %s))", []string{"[%5s][%-5s][%s]", "%d|%3d|%-3d|", "%x %X %o", "%c%c%c"}[g.r.IntN(4)], g.any3(), g.any3(), g.any3())
	case 6:
		return fmt.Sprintf("print(tostring(nil), tostring(true), tonumber(%q), tonumber(%q, 16), tonumber(%q))", []string{"10", "0", "-5", "1e2", "x"}[g.r.IntN(5)], []string{"ff", "10", "z"}[g.r.IntN(3)], []string{"", " ", "5 5"}[g.r.IntN(3)])
	default:
		return fmt.Sprintf("print(#%s, (%s):rep(2), (%s):sub(2), (%s):sub(-2, -1))", s, s, s, s)
	}
}

// any3 is an argument for the format in stringStmt: a small number
// (every format there accepts one).
func (g *Gen) any3() string { return fmt.Sprint(32 + g.r.IntN(90)) }

// ---- loops

func (g *Gen) iterations(n int) func() {
	g.fn.loops++
	g.mult *= n
	return func() {
		g.fn.loops--
		g.mult /= n
	}
}

func (g *Gen) loopVar(prefix string) string {
	if g.chance(8) {
		return "_"
	}
	return g.fresh(prefix)
}

func (g *Gen) numericFor() *Stmt {
	var head string
	lo, hi, step := 1, 1+g.r.IntN(4), 1
	switch g.r.IntN(6) {
	case 0:
		lo, hi, step = hi, 1, -1
	case 1:
		lo, hi = 3, 1 // no iteration
	case 2:
		step = 2
		hi += 2
	}
	name := g.loopVar("i")
	iter := 1
	if step > 0 && hi >= lo {
		iter = (hi-lo)/step + 1
	} else if step < 0 && lo >= hi {
		iter = (lo-hi)/(-step) + 1
	}
	switch {
	case step != 1:
		head = fmt.Sprintf("for %s = %d, %d, %d do", name, lo, hi, step)
	case g.chance(4):
		// The limit from an expression.
		head = fmt.Sprintf("for %s = %d, (%s) %% 4 do", name, lo, g.num(1))
		iter = 4
	default:
		head = fmt.Sprintf("for %s = %d, %d do", name, lo, hi)
	}
	done := g.iterations(max(iter, 1))
	g.push()
	if name != "_" {
		if step < 0 || lo < 0 {
			g.declare(name, kInt)
		} else {
			g.declare(name, kNum)
		}
	}
	body := g.stmts(true)
	g.pop()
	done()
	return compound("end", Part{Head: head, Body: body})
}

// genericFor is a generic for over one of many iterator shapes.
func (g *Gen) genericFor() Block {
	type shape struct {
		explist string
		vars    []kind
		iter    int
		pre     Block
		order   bool // the iteration order is defined (else the body must be commutative)
	}
	var s shape
	n := 1 + g.r.IntN(3)
	switch g.r.IntN(18) {
	case 0:
		if v := g.pick(kSeq); v != nil {
			s = shape{"ipairs(" + v.name + ")", []kind{kNum, kNum}, 6, nil, true}
			g.frozen[v]++
			defer func() { g.frozen[v]-- }()
		} else {
			s = shape{"ipairs(" + g.seqLiteral() + ")", []kind{kNum, kNum}, 4, nil, true}
		}
	case 1:
		if v := g.pick(kLit); v != nil {
			s = shape{"pairs(" + v.name + ")", []kind{kNum, kNum}, 4, nil, true}
		} else {
			s = shape{"pairs(" + g.seqLiteral() + ")", []kind{kNum, kNum}, 4, nil, true}
		}
	case 2:
		if v := g.pick(kHash); v != nil {
			s = shape{"pairs(" + v.name + ")", []kind{kStr, kNum}, 4, nil, false}
		} else {
			s = shape{"pairs(" + g.hashLiteral() + ")", []kind{kStr, kNum}, 4, nil, false}
		}
	case 3:
		s = shape{fmt.Sprintf("range(%d)", n), []kind{kNum}, n, nil, true}
	case 4:
		s = shape{fmt.Sprintf(`require("m").range(%d)`, n), []kind{kNum}, n, nil, true}
	case 5:
		s = shape{[]string{fmt.Sprintf("M.range(%d)", n), fmt.Sprintf("M.get().range(%d)", n), fmt.Sprintf(`(require("m")).range(%d)`, n), fmt.Sprintf(`require("m")["range"](%d)`, n)}[g.r.IntN(4)], []kind{kNum}, n, nil, true}
	case 6:
		s = shape{"obj:items()", []kind{kNum, kNum}, 3, nil, true}
	case 7:
		s = shape{[]string{"gen", "gen, nil", "gen, nil, nil", "triple()", "gen, nil, 1", "gen, " + g.str(1)}[g.r.IntN(6)], []kind{kNum}, 3, nil, true}
	case 8:
		s = shape{"next, " + g.seqLiteral(), []kind{kNum, kNum}, 4, nil, true}
	case 9:
		pat := []string{"%a+", "%w+", "(%w+)=(%w+)"}[g.r.IntN(3)]
		second := kind(-1)
		if strings.Contains(pat, "=") {
			second = kStr
		}
		s = shape{fmt.Sprintf("string.gmatch(%q, %q)", []string{"a bb ccc", "x=1, y=2", "", "one"}[g.r.IntN(4)], pat), []kind{kStr, second}, 3, nil, true}
	case 10:
		s = shape{fmt.Sprintf("coroutine.wrap(function() for j = 1, %d do coroutine.yield(j) end end)", n), []kind{kNum}, n, nil, true}
	case 11:
		// The iterator from a call whose result is indexed and called.
		s = shape{fmt.Sprintf("M.get().get().range(%d)", n), []kind{kNum}, n, nil, true}
	case 12:
		// A local iterator triple.
		f, st, c := g.fresh("f"), g.fresh("s"), g.fresh("c")
		s = shape{f + ", " + st + ", " + c, []kind{kNum}, 3, Block{simple(fmt.Sprintf("local %s, %s, %s = gen, nil, nil", f, st, c))}, true}
	case 13:
		if v := g.pick(kFns); v != nil {
			s = shape{"ipairs(" + v.name + ")", []kind{kNum, -2}, 8, nil, true}
			g.frozen[v]++
			defer func() { g.frozen[v]-- }()
			break
		}
		fallthrough
	case 14:
		// Arguments of every kind: calls, logical operators, indexes,
		// constructors (compiled above the explist's first register).
		arg := []string{
			fmt.Sprintf("%s %% 3 + 1", g.num(1)),
			"select(\"#\", 1, 2)",
			"math.max(1, 2)",
			fmt.Sprintf("(M.list[1] or 2) %% 3 + 1"),
			fmt.Sprintf("#(%s) %% 3 + 1", g.str(1)),
			"({2, 1})[1]",
			fmt.Sprintf("(%s and 1 or 2)", g.boolExpr(1)),
		}[g.r.IntN(7)]
		callee := []string{"range", "M.range", "M[\"ran\" .. \"ge\"]", "M.get()[\"range\"]"}[g.r.IntN(4)]
		s = shape{fmt.Sprintf("%s(%s)", callee, arg), []kind{kNum}, 3, nil, true}
	case 15:
		s = shape{fmt.Sprintf("pairs({%s})", strings.Join([]string{g.num(1), g.num(1)}[:1+g.r.IntN(2)], ", ")), []kind{kNum, kNum}, 2, nil, true}
	case 16:
		if v := g.pick(kSeq); v != nil && g.chance(2) {
			s = shape{[]string{"ipairs(" + v.name + " or {})", "ipairs(M.none or " + v.name + ")", "ipairs(({" + v.name + "})[1])"}[g.r.IntN(3)], []kind{kNum, kNum}, 6, nil, true}
			g.frozen[v]++
			defer func() { g.frozen[v]-- }()
			break
		}
		s = shape{"M.obj():items()", []kind{kNum, kNum}, 3, nil, true}
	default:
		s = shape{fmt.Sprintf("ipairs({%s, %s})", g.num(1), g.str(1)), []kind{kNum, -1}, 2, nil, true}
	}
	nv := 1 + g.r.IntN(len(s.vars)+1)
	if nv > len(s.vars) {
		nv = len(s.vars)
	}
	names := make([]string, nv)
	done := g.iterations(max(s.iter, 1))
	g.push()
	for i := range names {
		names[i] = g.loopVar("k")
		if names[i] != "_" && s.vars[i] >= 0 {
			g.declare(names[i], s.vars[i])
		}
	}
	var body Block
	if s.order {
		body = g.stmts(true)
	} else {
		body = g.commutative(names)
	}
	g.pop()
	done()
	loop := compound("end", Part{Head: "for " + strings.Join(names, ", ") + " in " + s.explist + " do", Body: body})
	out := append(s.pre, loop)
	if !s.order {
		out = append(out, simple("print(G9)"))
	}
	return out
}

// commutative is the body of a loop whose order is unspecified: it only
// adds to a fresh accumulator, printed after the loop by the caller's
// next statements (the accumulator is declared before the loop).
func (g *Gen) commutative(names []string) Block {
	var terms []string
	for i, n := range names {
		if n != "_" && i == 1 {
			terms = append(terms, n)
		}
		if n != "_" && i == 0 {
			terms = append(terms, "#"+n)
		}
	}
	if len(terms) == 0 {
		terms = []string{"1"}
	}
	acc := "G9"
	return Block{simple(fmt.Sprintf("%s = ((%s or 0) + %s) %% %d", acc, acc, strings.Join(terms, " + "), numCap))}
}

func (g *Gen) whileLoop() Block {
	c := g.fresh("w")
	n := 1 + g.r.IntN(3)
	pre := simple("local " + c + " = 0")
	g.declare(c, -1) // the counter is not touched by generated code
	done := g.iterations(n)
	var loop *Stmt
	switch g.r.IntN(4) {
	case 0:
		body := g.block(true)
		body = g.guardTail(body, simple(fmt.Sprintf("%s = %s + 1", c, c)), simple(fmt.Sprintf("if %s >= %d then break end", c, n)))
		loop = compound("end", Part{Head: "while true do", Body: body})
	case 1:
		// A condition that is false from the start: the body never runs.
		body := g.block(true)
		loop = compound("end", Part{Head: "while " + g.constFalse() + " do", Body: body})
	default:
		body := g.block(true)
		body = g.guardTail(body, simple(fmt.Sprintf("%s = %s + 1", c, c)))
		loop = compound("end", Part{Head: fmt.Sprintf("while %s < %d do", c, n), Body: body})
	}
	done()
	return Block{pre, loop}
}

// guardTail puts the loop's own bookkeeping at the end of body, before a
// final break or return (which must stay last).
func (g *Gen) guardTail(body Block, tail ...*Stmt) Block {
	if len(body) > 0 {
		last := body[len(body)-1]
		if last.Text == "break" || strings.HasPrefix(last.Text, "return") {
			out := append(Block{}, body[:len(body)-1]...)
			out = append(out, tail...)
			return append(out, last)
		}
	}
	return append(body, tail...)
}

func (g *Gen) repeatLoop() Block {
	c := g.fresh("r")
	n := 1 + g.r.IntN(3)
	pre := simple("local " + c + " = 0")
	g.declare(c, -1)
	done := g.iterations(n)
	g.push()
	body := g.stmts(true)
	cond := fmt.Sprintf("%s >= %d", c, n)
	// until sees the body's locals.
	if v := g.scopes[len(g.scopes)-1]; len(v) > 0 && v[len(v)-1].k == kNum && g.chance(2) {
		cond += " or " + v[len(v)-1].name + " > 5000"
	}
	if g.chance(6) {
		cond = "true"
	}
	g.pop()
	body = g.guardTail(body, simple(fmt.Sprintf("%s = %s + 1", c, c)))
	done()
	return Block{pre, compound("until "+cond, Part{Head: "repeat", Body: body})}
}

func (g *Gen) ifStmt() *Stmt {
	cond := g.boolExpr(2)
	if g.chance(4) {
		cond = []string{"false", "true", "nil", "1", "not nil", "false and " + g.boolExpr(1), "true or " + g.boolExpr(1)}[g.r.IntN(7)]
	}
	parts := []Part{{Head: "if " + cond + " then", Body: g.block(false)}}
	for g.chance(3) {
		parts = append(parts, Part{Head: "elseif " + g.boolExpr(2) + " then", Body: g.block(false)})
	}
	if g.chance(2) {
		parts = append(parts, Part{Head: "else", Body: g.block(false)})
	}
	return compound("end", parts...)
}

// ---- functions

func (g *Gen) funcDef() *Stmt {
	name := g.fresh("fn")
	arity := g.r.IntN(3)
	vararg := g.chance(4)
	params := make([]string, arity)
	for i := range params {
		params[i] = g.fresh("p")
	}
	plist := params
	if vararg {
		plist = append(append([]string{}, params...), "...")
	}
	outer, outerMult := g.fn, g.mult
	fc := &fnCtx{vararg: vararg}
	g.fn, g.mult = fc, 1
	g.push()
	for _, p := range params {
		g.declare(p, kNum)
	}
	// Parameters may be nil when called with fewer arguments: normalise.
	var body Block
	for _, p := range params {
		body = append(body, simple(fmt.Sprintf("%s = (%s or 0) %% %d", p, p, numCap)))
	}
	if g.chance(5) {
		fc.raise = true
		body = append(body, compound("end", Part{Head: "if " + g.boolExpr(1) + " then", Body: Block{simple(g.raiseStmt())}}))
	}
	body = append(body, g.stmts(false)...)
	if len(body) == 0 || !strings.HasPrefix(body[len(body)-1].Text, "return") {
		body = append(body, simple("return "+g.retList()))
	}
	g.pop()
	g.fn, g.mult = outer, outerMult
	v := g.declare(name, kFun)
	v.arity, v.cost, v.raise = arity+boolInt(vararg), fc.cost+1, fc.raise
	head := "local function " + name + "(" + strings.Join(plist, ", ") + ")"
	if g.chance(4) {
		head = "local " + name + " = function(" + strings.Join(plist, ", ") + ")"
	}
	return compound("end", Part{Head: head, Body: body})
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// retList is what a function returns: one number first (callers use it
// as a number), sometimes more values or a tail call.
func (g *Gen) retList() string {
	switch g.r.IntN(6) {
	case 0:
		return g.num(2) + ", " + g.any(1)
	case 1:
		if fs := g.callable(g.fn.raise); len(fs) > 0 {
			f := fs[g.r.IntN(len(fs))]
			g.noteCall(f)
			return f.name + "(" + g.args(f.arity) + ")"
		}
	case 2:
		if g.fn.vararg {
			return "(select(\"#\", ...)) % 5, ..."
		}
	}
	return g.num(2)
}

func (g *Gen) noteCall(f *variable) {
	g.fn.cost += g.mult * f.cost
	if f.raise {
		g.fn.raise = true
	}
}

func (g *Gen) args(n int) string {
	a := make([]string, n)
	for i := range a {
		a[i] = g.num(1)
	}
	if n > 0 && g.chance(5) {
		a = a[:n-1] // fewer arguments than parameters
	}
	return strings.Join(a, ", ")
}

func (g *Gen) callStmt() *Stmt {
	fs := g.callable(false)
	if len(fs) == 0 {
		return nil
	}
	f := fs[g.r.IntN(len(fs))]
	g.noteCall(f)
	if g.chance(2) {
		return simple(fmt.Sprintf("print(%s(%s))", f.name, g.args(f.arity)))
	}
	return simple(fmt.Sprintf("%s(%s)", f.name, g.args(f.arity)))
}

// raiseStmt raises an error: a marked message, a table, or one the VM
// writes.
func (g *Gen) raiseStmt() string {
	switch g.r.IntN(7) {
	case 5:
		return fmt.Sprintf("error(%d)", g.r.IntN(100))
	case 6:
		return []string{"error()", "error(nil, 2)", fmt.Sprintf("error(%q, 3)", g.marker())}[g.r.IntN(3)]
	case 0:
		return fmt.Sprintf("error({code = %d})", g.r.IntN(100))
	case 1:
		return fmt.Sprintf("error(%q, 0)", g.marker())
	case 2:
		return fmt.Sprintf("error(%q, 2)", g.marker())
	case 3:
		return g.vmError()
	default:
		return fmt.Sprintf("error(%q)", g.marker())
	}
}

// vmError is a statement the VM fails on.
func (g *Gen) vmError() string {
	return []string{
		"local _ = nil + 1",
		"local _ = (nil).x",
		"undefinedfn()",
		"local _ = #nil",
		"local _ = {} < {}",
		`local _ = "a" + 1`,
		"local _ = ({}).x.y",
		`string.rep()`,
	}[g.r.IntN(8)]
}

func (g *Gen) pcallStmt() *Stmt {
	ok, e := g.fresh("ok"), g.fresh("e")
	var call string
	switch g.r.IntN(4) {
	case 0:
		if fs := g.callable(true); len(fs) > 0 {
			f := fs[g.r.IntN(len(fs))]
			g.fn.cost += g.mult * f.cost
			call = "pcall(" + f.name
			if a := g.args(f.arity); a != "" {
				call += ", " + a
			}
			call += ")"
			break
		}
		fallthrough
	case 1:
		call = "pcall(function() " + g.raiseStmt() + " end)"
	case 2:
		call = "pcall(error, " + fmt.Sprintf("%q", g.marker()) + ")"
	default:
		call = fmt.Sprintf("xpcall(function() %s end, function(m) return \"h:\" .. em(m) end)", g.raiseStmt())
	}
	return compound("end", Part{Head: "do", Body: Block{
		simple("local " + ok + ", " + e + " = " + call),
		simple("print(" + ok + ", em(" + e + "))"),
	}})
}

// closureStmt appends closures over the visible variables (loop variables
// included) to a table, or calls those collected so far.
func (g *Gen) closureStmt() *Stmt {
	fsv := g.pickMut(kFns)
	if fsv == nil || g.chance(4) {
		name := g.fresh("fs")
		g.declare(name, kFns)
		return simple("local " + name + " = {}")
	}
	if g.chance(3) {
		// Call them all.
		f := g.fresh("k")
		if g.fn.cost+g.mult*8 > costLimit {
			return nil
		}
		g.fn.cost += g.mult * 8
		return compound("end", Part{Head: "for _, " + f + " in ipairs(" + fsv.name + ") do", Body: Block{simple("print(" + f + "())")}})
	}
	e := g.inClosure(func() string { return g.num(2) })
	if g.chance(3) {
		// A closure that updates the upvalue it captures.
		if v := g.pick(kNum); v != nil {
			return simple(fmt.Sprintf("%s[#%s + 1] = function() %s = (%s + 1) %% %d return %s end", fsv.name, fsv.name, v.name, v.name, numCap, v.name))
		}
	}
	return simple(fmt.Sprintf("%s[#%s + 1] = function() return %s end", fsv.name, fsv.name, e))
}

// inClosure generates with f inside an inline function without
// parameters (so '...' is not available).
func (g *Gen) inClosure(f func() string) string {
	outer := g.fn
	g.fn = &fnCtx{cost: outer.cost}
	defer func() {
		outer.cost = g.fn.cost
		g.fn = outer
	}()
	return f()
}

func (g *Gen) methodStmt() *Stmt {
	switch g.r.IntN(3) {
	case 0:
		return simple(fmt.Sprintf("print(obj:bump(%s))", g.num(1)))
	case 1:
		return simple(fmt.Sprintf("print(obj.bump(obj, %s), obj.n)", g.num(1)))
	default:
		return simple(fmt.Sprintf("print((%s):upper(), (%s):rep(2, \",\"))", g.str(1), g.str(1)))
	}
}

func (g *Gen) tableStmt() *Stmt {
	v := g.pickMut(kSeq)
	if v == nil {
		return nil
	}
	switch g.r.IntN(7) {
	case 0:
		return simple(fmt.Sprintf("table.insert(%s, %s)", v.name, g.num(2)))
	case 1:
		return simple(fmt.Sprintf("table.insert(%s, 1, %s)", v.name, g.num(2)))
	case 2:
		return simple(fmt.Sprintf("print(table.remove(%s))", v.name))
	case 3:
		return simple(fmt.Sprintf("table.sort(%s)", v.name))
	case 4:
		if g.chance(2) {
			// Records with equal keys: the order of ties is the algorithm's.
			return simple(fmt.Sprintf("do local rs = {} for i, x in ipairs(%s) do rs[i] = {k = x %% 3, id = i} end table.sort(rs, function(a, b) return a.k < b.k end) for _, r in ipairs(rs) do io.write(r.id, \" \") end print() end", v.name))
		}
		return simple(fmt.Sprintf("table.sort(%s, function(a, b) return a > b end)", v.name))
	case 5:
		return simple(fmt.Sprintf("print(table.concat(%s, \",\"), #%s)", v.name, v.name))
	default:
		return simple(fmt.Sprintf("%s[#%s + 1] = %s", v.name, v.name, g.num(2)))
	}
}

// ---- expressions

// num is a non-negative integer expression below numCap*numCap.
func (g *Gen) num(depth int) string {
	if depth <= 0 || g.chance(3) {
		return g.numLeaf()
	}
	d := depth - 1
	switch g.r.IntN(14) {
	case 0, 1:
		return "(" + g.num(d) + " + " + g.num(d) + ")"
	case 2:
		return "(" + g.smallNum() + " * " + g.numLeaf() + ")"
	case 3:
		return fmt.Sprintf("((%s - %s) %% %d)", g.num(d), g.num(d), 2+g.r.IntN(20))
	case 4:
		return fmt.Sprintf("math.floor(%s / %d)", g.num(d), 1+g.r.IntN(7))
	case 5:
		return "#" + g.str(d)
	case 6:
		if v := g.pick(kSeq); v != nil {
			return fmt.Sprintf("(%s[%d] or 0)", v.name, 1+g.r.IntN(3))
		}
		return "#" + g.seqLiteral()
	case 7:
		if fs := g.callable(false); len(fs) > 0 {
			f := fs[g.r.IntN(len(fs))]
			g.noteCall(f)
			return "(" + f.name + "(" + g.args(f.arity) + ") % " + fmt.Sprint(numCap) + ")"
		}
		return g.numLeaf()
	case 8:
		return fmt.Sprintf("math.max(%s, %s)", g.num(d), g.num(d))
	case 9:
		return fmt.Sprintf("(%s and %s or %s)", g.boolExpr(d), g.num(d), g.num(d))
	case 10:
		if v := g.pick(kHash); v != nil {
			return fmt.Sprintf("(%s.%s or 0)", v.name, []string{"a", "b", "c", "zz"}[g.r.IntN(4)])
		}
		return fmt.Sprintf("tonumber(%q)", []string{"12", "7", "0x1f", " 3 "}[g.r.IntN(4)])
	case 11:
		if v := g.pick(kInt); v != nil {
			return fmt.Sprintf("math.abs(%s)", v.name)
		}
		return g.numLeaf()
	case 12:
		if g.fn.vararg {
			return `select("#", ...)`
		}
		return fmt.Sprintf("%s %% %d", g.numLeaf(), 2+g.r.IntN(9))
	default:
		return fmt.Sprintf("(%s):len()", g.str(d))
	}
}

func (g *Gen) smallNum() string { return fmt.Sprint(g.r.IntN(10)) }

func (g *Gen) numLeaf() string {
	if g.chance(2) {
		if v := g.pick(kNum); v != nil {
			return v.name
		}
	}
	return g.smallNum()
}

// intExpr may be negative (printed or compared, never multiplied).
func (g *Gen) intExpr(depth int) string {
	if v := g.pick(kInt); v != nil && g.chance(2) {
		return v.name
	}
	if g.chance(5) {
		return fmt.Sprintf("-%d", 1+g.r.IntN(9))
	}
	return g.num(depth)
}

var strLits = []string{"a", "bc", "x y", "", "hello", "A1", "k=v", "%", "lua"}

func (g *Gen) str(depth int) string {
	if depth <= 0 || g.chance(3) {
		if v := g.pick(kStr); v != nil && g.chance(2) {
			return v.name
		}
		return fmt.Sprintf("%q", strLits[g.r.IntN(len(strLits))])
	}
	d := depth - 1
	switch g.r.IntN(10) {
	case 0, 1:
		return "(" + g.str(d) + " .. " + g.str(d) + ")"
	case 2:
		return "(" + g.str(d) + " .. " + g.intExpr(d) + ")"
	case 3:
		return "string.upper(" + g.str(d) + ")"
	case 4:
		return fmt.Sprintf("string.rep(%s, %d)", g.str(d), g.r.IntN(3))
	case 5:
		return fmt.Sprintf("(%s):sub(%d, %d)", g.str(d), g.r.IntN(3)-1, g.r.IntN(4)-2)
	case 6:
		return fmt.Sprintf("string.format(%q, %s, %s)", []string{"%d-%s", "%3d|%-3s|", "%x:%q", "%05d%s"}[g.r.IntN(4)], g.num(d), g.str(d))
	case 7:
		return "tostring(" + g.intExpr(d) + ")"
	case 8:
		if v := g.pick(kSeq); v != nil {
			return "table.concat(" + v.name + ", \",\")"
		}
		return "(" + g.str(d) + "):reverse()"
	default:
		return fmt.Sprintf("(string.gsub(%s, %q, %q))", g.str(d), []string{"a", "%a", "l+", "(%w)"}[g.r.IntN(4)], []string{"_", "%1%1", ""}[g.r.IntN(3)])
	}
}

func (g *Gen) boolExpr(depth int) string {
	if depth <= 0 || g.chance(3) {
		if v := g.pick(kBool); v != nil && g.chance(2) {
			return v.name
		}
		return g.compare(0)
	}
	d := depth - 1
	switch g.r.IntN(6) {
	case 0:
		return "not (" + g.boolExpr(d) + ")"
	case 1:
		return "(" + g.boolExpr(d) + " and " + g.boolExpr(d) + ")"
	case 2:
		return "(" + g.boolExpr(d) + " or " + g.boolExpr(d) + ")"
	case 3:
		return []string{"true", "false"}[g.r.IntN(2)]
	default:
		return g.compare(d)
	}
}

func (g *Gen) compare(depth int) string {
	ops := []string{"==", "~=", "<", "<=", ">", ">="}
	op := ops[g.r.IntN(len(ops))]
	switch g.r.IntN(5) {
	case 0:
		return g.str(depth) + " " + op + " " + g.str(depth)
	case 1:
		if v := g.pick(kSeq); v != nil {
			return fmt.Sprintf("%s[%d] == nil", v.name, 1+g.r.IntN(4))
		}
	case 2:
		return g.intExpr(depth) + " " + op + " " + g.intExpr(depth)
	}
	return g.num(depth) + " " + op + " " + g.num(depth)
}

// any is an expression of any printable kind.
func (g *Gen) any(depth int) string {
	switch g.r.IntN(7) {
	case 0:
		return g.str(depth)
	case 1:
		return g.boolExpr(depth)
	case 2:
		return "nil"
	case 3:
		return g.intExpr(depth)
	default:
		return g.num(depth)
	}
}

func (g *Gen) seqLiteral() string {
	n := g.r.IntN(4)
	items := make([]string, n)
	for i := range items {
		items[i] = g.num(1)
	}
	return "{" + strings.Join(items, ", ") + "}"
}

func (g *Gen) hashLiteral() string {
	keys := []string{"a", "b", "c"}[:1+g.r.IntN(3)]
	items := make([]string, len(keys))
	for i, k := range keys {
		items[i] = k + " = " + g.num(1)
	}
	return "{" + strings.Join(items, ", ") + "}"
}
