package luacompile

import (
	"fmt"
	"sync"

	"github.com/yuin/gopher-lua/ast"
)

// Rewrite returns chunk rewritten so that gopher-lua compiles it as Lua
// 5.1 runs it (see the package documentation for the shapes and their
// rewrites). It reuses and modifies the nodes of chunk.
func Rewrite(chunk []ast.Stmt) []ast.Stmt {
	r := rewriters.Get().(*rewriter)
	defer func() {
		r.scopes, r.funcs, r.capturing = r.scopes[:0], r.funcs[:0], false
		rewriters.Put(r)
	}()
	r.enterFunc()
	out := r.block(chunk)
	r.leaveFunc()
	return out
}

// rewriters keeps rewriters, and the memory of their stacks, from one
// compile to the next.
var rewriters = sync.Pool{New: func() any { return &rewriter{} }}

// Names of the locals the rewrite introduces. Parentheses keep them apart
// from every name a script can write (gopher-lua names its own hidden
// locals the same way: "(for generator)").
const (
	nopName       = "(nop)"
	loopName      = "(loop)"
	iterFuncName  = "(iter f)"
	iterStateName = "(iter s)"
	iterCtlName   = "(iter c)"
)

type loopKind int

const (
	notLoop loopKind = iota
	whileLoop
	repeatLoop
	numericFor
	genericFor
)

// scope mirrors one of the compiler's blocks while the rewriter walks the
// chunk in the order gopher-lua compiles it.
type scope struct {
	loop   loopKind
	names  []string // locals declared so far, in order
	refUp  bool     // a closure compiled so far captures one of them (the compiler's RefUpvalue)
	needLV bool     // while/repeat: R4 needs the (loop) local at the body's start
}

// funcFrame is a function being rewritten: its scopes are r.scopes[base:].
type funcFrame struct {
	base int
	// free are the names the function uses without declaring them (the
	// upvalues it captures, and globals), in first-use order.
	free []string
}

// rewriter walks a chunk. Scopes and functions live on stacks of values
// whose memory is reused from one block to the next: the rewrite runs on
// every compile and must cost little next to the compiler.
type rewriter struct {
	scopes []scope
	funcs  []funcFrame
	// capturing is set while leaveFunc resolves a closure's free names.
	capturing bool
}

func (r *rewriter) fn() *funcFrame { return &r.funcs[len(r.funcs)-1] }

func (r *rewriter) enterFunc() {
	r.funcs = append(r.funcs, funcFrame{base: len(r.scopes)})
	if n := len(r.funcs); cap(r.funcs[n-1].free) > 0 {
		r.funcs[n-1].free = r.funcs[n-1].free[:0]
	}
	r.enter(notLoop)
}

// leaveFunc ends the current function and returns the names it uses from
// outside (valid until the next function is entered). They are resolved
// in the enclosing function, as the compiler does when it emits the
// closure, marking the scopes whose locals it captures.
func (r *rewriter) leaveFunc() []string {
	f := r.funcs[len(r.funcs)-1]
	r.scopes = r.scopes[:f.base]
	r.funcs = r.funcs[:len(r.funcs)-1]
	if len(r.funcs) > 0 {
		r.capturing = true
		for _, name := range f.free {
			r.use(name)
		}
		r.capturing = false
	}
	return f.free
}

// use resolves a name read or assigned in the current function: a local
// of one of its scopes, which is marked captured when the use comes from
// a nested function (via leaveFunc), or a name from outside.
func (r *rewriter) use(name string) {
	if i := r.find(name); i >= 0 {
		if r.capturing {
			r.scopes[i].refUp = true
		}
		return
	}
	f := r.fn()
	for _, n := range f.free {
		if n == name {
			return
		}
	}
	f.free = append(f.free, name)
}

// find returns the index of the innermost scope of the current function
// declaring name, or -1.
func (r *rewriter) find(name string) int {
	for i := len(r.scopes) - 1; i >= r.fn().base; i-- {
		for _, n := range r.scopes[i].names {
			if n == name {
				return i
			}
		}
	}
	return -1
}

// enter opens a scope and returns its index.
func (r *rewriter) enter(k loopKind) int {
	n := len(r.scopes)
	if n < cap(r.scopes) {
		r.scopes = r.scopes[:n+1]
		names := r.scopes[n].names[:0]
		r.scopes[n] = scope{loop: k, names: names}
	} else {
		r.scopes = append(r.scopes, scope{loop: k})
	}
	return n
}

func (r *rewriter) leave() { r.scopes = r.scopes[:len(r.scopes)-1] }

func (r *rewriter) declare(names ...string) {
	s := &r.scopes[len(r.scopes)-1]
	s.names = append(s.names, names...)
}

// block rewrites a statement list in a new scope.
func (r *rewriter) block(stmts []ast.Stmt) []ast.Stmt {
	r.enter(notLoop)
	out := r.stmts(stmts)
	r.leave()
	return out
}

// stmts rewrites a statement list in the current scope. Only a break
// becomes more than one statement: without one, the list is rewritten in
// place.
func (r *rewriter) stmts(stmts []ast.Stmt) []ast.Stmt {
	out := stmts[:0]
	for _, s := range stmts {
		if _, ok := s.(*ast.BreakStmt); ok {
			out = make([]ast.Stmt, 0, len(stmts)+1)
			break
		}
	}
	for _, s := range stmts {
		out = r.stmt(s, out)
	}
	return out
}

// stmt rewrites one statement into zero or more, appended to out.
func (r *rewriter) stmt(s ast.Stmt, out []ast.Stmt) []ast.Stmt {
	switch st := s.(type) {
	case *ast.AssignStmt:
		for i, e := range st.Lhs {
			st.Lhs[i] = r.expr(e)
		}
		r.exprs(st.Rhs)
		if !r.safeAssign(st) {
			return append(out, hoistAssign(st))
		}
	case *ast.LocalAssignStmt:
		switch {
		case localFunc(st):
			// local function f: f is in scope in its own body.
			r.declare(st.Names[0])
			r.exprs(st.Exprs)
		case bindsFirst(st):
			r.localFunctionValue(st)
			r.declare(st.Names...)
		default:
			r.exprs(st.Exprs)
			r.declare(st.Names...)
		}
	case *ast.FuncCallStmt:
		st.Expr = r.expr(st.Expr)
	case *ast.DoBlockStmt:
		st.Stmts = r.block(st.Stmts)
	case *ast.FuncDefStmt:
		if st.Name.Func != nil {
			st.Name.Func = r.expr(st.Name.Func)
		} else {
			st.Name.Receiver = r.expr(st.Name.Receiver)
		}
		r.function(st.Func, st.Name.Func == nil)
	case *ast.ReturnStmt:
		r.exprs(st.Exprs)
	case *ast.IfStmt:
		return r.ifStmt(st, out)
	case *ast.WhileStmt:
		return r.whileStmt(st, out)
	case *ast.RepeatStmt:
		return append(out, r.repeatStmt(st))
	case *ast.NumberForStmt:
		return append(out, r.numberFor(st))
	case *ast.GenericForStmt:
		return append(out, r.genericFor(st))
	case *ast.BreakStmt:
		return r.breakStmt(st, out)
	}
	return append(out, s)
}

// ---- R1: constant conditions are folded

// ifStmt folds a constant condition: the branch taken becomes a do block,
// the other goes.
func (r *rewriter) ifStmt(st *ast.IfStmt, out []ast.Stmt) []ast.Stmt {
	st.Condition = r.expr(st.Condition)
	if truthy, ok := constTruth(st.Condition); ok {
		if truthy {
			return append(out, doBlock(st, r.block(st.Then)))
		}
		switch {
		case len(st.Else) == 0:
			return out
		case len(st.Else) == 1:
			if elif, ok := st.Else[0].(*ast.IfStmt); ok {
				return r.ifStmt(elif, out)
			}
		}
		return append(out, doBlock(st, r.block(st.Else)))
	}
	st.Then = r.block(st.Then)
	st.Else = r.block(st.Else)
	return append(out, st)
}

func doBlock(pos ast.PositionHolder, stmts []ast.Stmt) *ast.DoBlockStmt {
	d := &ast.DoBlockStmt{Stmts: stmts}
	d.SetLine(pos.Line())
	d.SetLastLine(pos.LastLine())
	return d
}

func (r *rewriter) whileStmt(st *ast.WhileStmt, out []ast.Stmt) []ast.Stmt {
	st.Condition = r.expr(st.Condition)
	truthy, isConst := constTruth(st.Condition)
	if isConst && !truthy {
		return out // the body never runs; the condition has no effect
	}
	sc := r.enter(whileLoop)
	st.Stmts = r.stmts(st.Stmts)
	needLV := r.scopes[sc].needLV
	r.leave()
	st.Stmts = r.loopBody(st, st.Stmts, needLV)
	return append(out, st)
}

func (r *rewriter) repeatStmt(st *ast.RepeatStmt) ast.Stmt {
	sc := r.enter(repeatLoop)
	st.Stmts = r.stmts(st.Stmts)
	// until sees the body's locals.
	st.Condition = r.expr(st.Condition)
	needLV := r.scopes[sc].needLV
	r.leave()
	st.Stmts = r.loopBody(st, st.Stmts, needLV)
	return st
}

func (r *rewriter) numberFor(st *ast.NumberForStmt) ast.Stmt {
	st.Init = r.expr(st.Init)
	st.Limit = r.expr(st.Limit)
	if st.Step != nil {
		st.Step = r.expr(st.Step)
	}
	r.enter(numericFor)
	r.declare("(for index)", "(for limit)", "(for step)", st.Name)
	st.Stmts = r.stmts(st.Stmts)
	r.leave()
	return st
}

// loopBody finishes the body of a while or repeat loop: the (loop) local
// R4 asked for, and R2's guard against a body starting with a jump.
func (r *rewriter) loopBody(pos ast.PositionHolder, body []ast.Stmt, needLV bool) []ast.Stmt {
	if needLV {
		body = append([]ast.Stmt{hiddenLocal(loopName, pos)}, body...)
	}
	return guardStart(pos, body)
}

// ---- R2: a loop body never starts with a jump

// guardStart prepends a no-op local to body when its first instruction
// would be a jump. gopher-lua's jump-to-jump optimisation reads the target
// of the jump a loop's back edge lands on; when that jump was already
// patched it reads a distance as a label and the loop jumps anywhere
// (wrong results, hangs, index-out-of-range panics).
func guardStart(pos ast.PositionHolder, body []ast.Stmt) []ast.Stmt {
	if jump, _ := startsWithJump(body); !jump {
		return body
	}
	return append([]ast.Stmt{hiddenLocal(nopName, pos)}, body...)
}

func hiddenLocal(name string, pos ast.PositionHolder) *ast.LocalAssignStmt {
	s := &ast.LocalAssignStmt{Names: []string{name}}
	s.SetLine(pos.Line())
	s.SetLastLine(pos.Line())
	return s
}

// startsWithJump reports whether the code gopher-lua compiles for stmts
// (already rewritten: constant conditions folded) begins with a JMP, and
// whether it is empty (no instruction at all).
func startsWithJump(stmts []ast.Stmt) (jump, empty bool) {
	for _, s := range stmts {
		if j, e := stmtStartsWithJump(s); !e {
			return j, false
		}
	}
	return false, true
}

func stmtStartsWithJump(s ast.Stmt) (jump, empty bool) {
	switch st := s.(type) {
	case *ast.BreakStmt:
		return true, false
	case *ast.LabelStmt:
		return false, true
	case *ast.IfStmt:
		truthy, isConst := constTruth(st.Condition)
		switch {
		case !isConst:
			return false, false
		case !truthy:
			return true, false // the jump over the then block
		}
		if j, e := startsWithJump(st.Then); !e {
			return j, false
		}
		if len(st.Else) > 0 {
			return true, false // the jump over the else block
		}
		return false, true
	case *ast.DoBlockStmt:
		return startsWithJump(st.Stmts)
	case *ast.WhileStmt:
		if _, isConst := constTruth(st.Condition); !isConst {
			return false, false
		}
		// A constant (true) condition compiles to nothing: the body comes
		// first, and after it the jump back.
		if j, e := startsWithJump(st.Stmts); !e {
			return j, false
		}
		return true, false
	case *ast.RepeatStmt:
		if j, e := startsWithJump(st.Stmts); !e {
			return j, false
		}
		truthy, isConst := constTruth(st.Condition)
		switch {
		case !isConst:
			return false, false
		case truthy:
			return false, true // repeat until true: nothing at all
		default:
			return true, false // repeat until false: the jump back
		}
	}
	return false, false
}

// ---- R3: the explist of a generic for is evaluated before the loop

// genericFor hoists an explist gopher-lua miscompiles into locals declared
// just before the loop:
//
//	do local (iter f), (iter s), (iter c) = explist
//	   for names in (iter f), (iter s), (iter c) do body end end
//
// gopher-lua registers the loop's hidden locals before compiling the
// explist, so a call whose result is indexed or called (require("m").f(),
// f().g()) is compiled below the register top and clobbers its own
// operands; and it adjusts the explist to the number of names instead of
// to three, so `for k, v in next, t` and `for x in f` leave the state or
// control value stale from earlier code.
func (r *rewriter) genericFor(st *ast.GenericForStmt) ast.Stmt {
	hoist := !safeExplist(st.Exprs)
	if hoist {
		r.exprs(st.Exprs)
	}
	r.enter(genericFor)
	r.declare("(for generator)", "(for state)", "(for control)")
	if !hoist {
		// Compiled inside the loop's block, as gopher-lua does.
		r.exprs(st.Exprs)
	}
	r.declare(st.Names...)
	st.Stmts = r.stmts(st.Stmts)
	r.leave()
	st.Stmts = guardStart(st, st.Stmts)
	if !hoist {
		return st
	}
	line := st.Line()
	locals := &ast.LocalAssignStmt{Names: []string{iterFuncName, iterStateName, iterCtlName}, Exprs: st.Exprs}
	locals.SetLine(line)
	locals.SetLastLine(line)
	st.Exprs = []ast.Expr{ident(iterFuncName, line), ident(iterStateName, line), ident(iterCtlName, line)}
	return doBlock(st, []ast.Stmt{locals, st})
}

func ident(name string, line int) *ast.IdentExpr {
	e := &ast.IdentExpr{Value: name}
	e.SetLine(line)
	e.SetLastLine(line)
	return e
}

// safeExplist reports whether gopher-lua compiles the explist right in
// place: one call (not in parentheses) whose function, or method
// receiver, is reached without calling anything: a name, fields or
// indexes of it (f, a.b.c, t[k], o:m). The first register of the explist
// is where that function is built; a call there (require("m").f,
// f().g, f()()) reports no register used and the next operand lands on
// it. Arguments are compiled above it and are safe whatever they are.
// The usual pairs(t), ipairs(p.skus or {}), csv.rows(p),
// iter.chunks(csv.rows(p), 20), top.each(m, {...}) and obj:items() stay as
// written.
func safeExplist(exprs []ast.Expr) bool {
	if len(exprs) != 1 {
		return false
	}
	call, ok := exprs[0].(*ast.FuncCallExpr)
	if !ok || call.AdjustRet {
		return false
	}
	if call.Func != nil {
		return noCallAtBase(call.Func)
	}
	return noCallAtBase(call.Receiver)
}

// noCallAtBase reports whether e is a name or a chain of fields and
// indexes of a name: its leftmost part, compiled into the first register,
// is no call.
func noCallAtBase(e ast.Expr) bool {
	switch ex := e.(type) {
	case *ast.IdentExpr:
		return true
	case *ast.AttrGetExpr:
		return noCallAtBase(ex.Object)
	}
	return false
}

// ---- R4: break closes the upvalues of the blocks it leaves

// breakStmt makes a break close what it leaves. gopher-lua's break closes
// upvalues only when the loop's own block holds a captured local; a local
// of an inner block (an if or do inside the loop) captured by a closure
// before the break stays open, and the closure then sees whatever later
// takes its register. A dead closure capturing a local of the loop's
// block, just before the break, makes the compiler emit the CLOSE:
//
//	if false then local _ = function() return (for index) end end break
//
// It is compiled, never run (the break leaves right after it).
func (r *rewriter) breakStmt(st *ast.BreakStmt, out []ast.Stmt) []ast.Stmt {
	inner := false
	var loop *scope
	for i := len(r.scopes) - 1; i >= r.fn().base; i-- {
		s := &r.scopes[i]
		if s.loop != notLoop {
			loop = s
			break
		}
		if s.refUp {
			inner = true
		}
	}
	if loop == nil || !inner || loop.refUp {
		return append(out, st)
	}
	var name string
	switch loop.loop {
	case genericFor:
		name = "(for generator)"
	case numericFor:
		name = "(for index)"
	default:
		name = loopName
		loop.needLV = true
	}
	loop.refUp = true
	line := st.Line()
	ret := &ast.ReturnStmt{Exprs: []ast.Expr{ident(name, line)}}
	ret.SetLine(line)
	fn := &ast.FunctionExpr{ParList: &ast.ParList{}, Stmts: []ast.Stmt{ret}}
	fn.SetLine(line)
	fn.SetLastLine(line)
	keep := &ast.LocalAssignStmt{Names: []string{nopName}, Exprs: []ast.Expr{fn}}
	keep.SetLine(line)
	keep.SetLastLine(line)
	cond := &ast.FalseExpr{}
	cond.SetLine(line)
	dead := &ast.IfStmt{Condition: cond, Then: []ast.Stmt{keep}}
	dead.SetLine(line)
	dead.SetLastLine(line)
	return append(out, dead, st)
}

// ---- R5: local f = function ... f ... end sees the outer f

// localFunctionValue makes `local f = function ... end` compile as Lua 5.1
// reads it when the function uses the name f: that f is the one outside
// (a global, an upvalue, an outer local; a wrapper calling what it wraps).
// gopher-lua compiles this statement as `local function f`, binding f
// first, so the function calls itself. A second value, nil, takes the
// statement off that path; it is evaluated and dropped:
//
//	local f = function(...) return f(...) end, nil
func (r *rewriter) localFunctionValue(st *ast.LocalAssignStmt) {
	fe := st.Exprs[0].(*ast.FunctionExpr)
	for _, name := range r.function(fe, false) {
		if name == st.Names[0] {
			nilv := &ast.NilExpr{}
			nilv.SetLine(fe.LastLine())
			nilv.SetLastLine(fe.LastLine())
			st.Exprs = append(st.Exprs, nilv)
			return
		}
	}
}

// ---- R6: a multiple assignment evaluates every value before assigning

// safeAssign reports whether gopher-lua compiles the assignment as Lua 5.1
// runs it. gopher-lua compiles each value straight into its target when
// the target is a local, while later values are still to be evaluated,
// and uses a local named as a table, key or value of a table target in
// place, reading it when the elements are set, at the end. So in
// `a, b = b, a` the second value reads the a just assigned (both end up
// equal), in `t[1], k = k, 5` t[1] gets 5, and in `p, q = 1, f()` f sees
// p changed. Safe are: one target; one call or ... whose values all go to
// names; and assignments without calls where no value reads a local
// assigned by an earlier target, and no table target's table, key or
// value is a local the statement assigns. (A metamethod an operator runs
// inside such an assignment, reading the locals it assigns, is not
// guarded against.)
func (r *rewriter) safeAssign(st *ast.AssignStmt) bool {
	if len(st.Lhs) == 1 {
		return true
	}
	targets := map[string]int{} // local target -> its position
	allNames := true
	for i, e := range st.Lhs {
		if id, ok := e.(*ast.IdentExpr); ok {
			if _, dup := targets[id.Value]; !dup && r.find(id.Value) >= 0 {
				targets[id.Value] = i
			}
		} else {
			allNames = false
		}
	}
	if len(st.Rhs) == 1 && allNames && isMulti(st.Rhs[0]) {
		return true
	}
	for j, e := range st.Rhs {
		if containsCall(e) {
			return false
		}
		for _, name := range namesIn(e) {
			if i, ok := targets[name]; ok && i < j {
				return false
			}
		}
	}
	for k, e := range st.Lhs {
		at, ok := e.(*ast.AttrGetExpr)
		if !ok {
			continue
		}
		if containsCall(at.Object) || containsCall(at.Key) {
			return false
		}
		for _, name := range append(namesIn(at.Object), namesIn(at.Key)...) {
			if _, ok := targets[name]; ok {
				return false
			}
		}
		if k < len(st.Rhs) {
			if id, ok := st.Rhs[k].(*ast.IdentExpr); ok {
				if _, ok := targets[id.Value]; ok {
					return false
				}
			}
		}
	}
	return true
}

// isMulti reports whether e can yield several values (a call or ...,
// not in parentheses).
func isMulti(e ast.Expr) bool {
	switch ex := e.(type) {
	case *ast.FuncCallExpr:
		return !ex.AdjustRet
	case *ast.Comma3Expr:
		return !ex.AdjustRet
	}
	return false
}

// containsCall reports whether evaluating e calls a function (a closure
// it creates is not called).
func containsCall(e ast.Expr) bool {
	found := false
	walkExpr(e, func(x ast.Expr) bool {
		if _, ok := x.(*ast.FuncCallExpr); ok {
			found = true
		}
		_, fn := x.(*ast.FunctionExpr)
		return !found && !fn
	})
	return found
}

// namesIn lists the names e reads (closures included: they capture the
// variable).
func namesIn(e ast.Expr) []string {
	var names []string
	walkExpr(e, func(x ast.Expr) bool {
		switch ex := x.(type) {
		case *ast.IdentExpr:
			names = append(names, ex.Value)
		case *ast.FunctionExpr:
			names = append(names, freeNames(ex, false)...)
			return false
		}
		return true
	})
	return names
}

// walkExpr calls visit on e and, while visit returns true, on its
// subexpressions.
func walkExpr(e ast.Expr, visit func(ast.Expr) bool) {
	if e == nil || !visit(e) {
		return
	}
	switch ex := e.(type) {
	case *ast.AttrGetExpr:
		walkExpr(ex.Object, visit)
		walkExpr(ex.Key, visit)
	case *ast.TableExpr:
		for _, f := range ex.Fields {
			walkExpr(f.Key, visit)
			walkExpr(f.Value, visit)
		}
	case *ast.FuncCallExpr:
		walkExpr(ex.Func, visit)
		walkExpr(ex.Receiver, visit)
		for _, a := range ex.Args {
			walkExpr(a, visit)
		}
	case *ast.LogicalOpExpr:
		walkExpr(ex.Lhs, visit)
		walkExpr(ex.Rhs, visit)
	case *ast.RelationalOpExpr:
		walkExpr(ex.Lhs, visit)
		walkExpr(ex.Rhs, visit)
	case *ast.StringConcatOpExpr:
		walkExpr(ex.Lhs, visit)
		walkExpr(ex.Rhs, visit)
	case *ast.ArithmeticOpExpr:
		walkExpr(ex.Lhs, visit)
		walkExpr(ex.Rhs, visit)
	case *ast.UnaryMinusOpExpr:
		walkExpr(ex.Expr, visit)
	case *ast.UnaryNotOpExpr:
		walkExpr(ex.Expr, visit)
	case *ast.UnaryLenOpExpr:
		walkExpr(ex.Expr, visit)
	}
}

// hoistAssign evaluates the tables and keys of the targets, then the
// values, into locals, and assigns from those, in Lua 5.1's order:
//
//	do local (t2), (k2) = t, i
//	   local (v1), (v2) = i + 1, 20
//	   i, (t2)[(k2)] = (v1), (v2) end
func hoistAssign(st *ast.AssignStmt) ast.Stmt {
	line := st.Line()
	var refNames []string
	var refExprs []ast.Expr
	lhs := make([]ast.Expr, len(st.Lhs))
	for i, e := range st.Lhs {
		at, ok := e.(*ast.AttrGetExpr)
		if !ok {
			lhs[i] = e
			continue
		}
		obj, key := fmt.Sprintf("(t%d)", i+1), fmt.Sprintf("(k%d)", i+1)
		refNames = append(refNames, obj, key)
		refExprs = append(refExprs, at.Object, at.Key)
		get := &ast.AttrGetExpr{Object: ident(obj, line), Key: ident(key, line)}
		get.SetLine(at.Line())
		get.SetLastLine(at.LastLine())
		lhs[i] = get
	}
	var out []ast.Stmt
	if len(refNames) > 0 {
		refs := &ast.LocalAssignStmt{Names: refNames, Exprs: refExprs}
		refs.SetLine(line)
		out = append(out, refs)
	}
	vals := make([]string, len(st.Lhs))
	rhs := make([]ast.Expr, len(st.Lhs))
	for i := range vals {
		vals[i] = fmt.Sprintf("(v%d)", i+1)
		rhs[i] = ident(vals[i], line)
	}
	values := &ast.LocalAssignStmt{Names: vals, Exprs: st.Rhs}
	values.SetLine(line)
	assign := &ast.AssignStmt{Lhs: lhs, Rhs: rhs}
	assign.SetLine(line)
	assign.SetLastLine(st.LastLine())
	out = append(out, values, assign)
	return doBlock(st, out)
}

// ---- expressions

func (r *rewriter) exprs(es []ast.Expr) {
	for i, e := range es {
		es[i] = r.expr(e)
	}
}

// expr rewrites the functions inside e and folds logical operators with a
// constant left operand (R1: in a condition or a value, they compile to a
// jump first).
func (r *rewriter) expr(e ast.Expr) ast.Expr {
	switch ex := e.(type) {
	case *ast.AttrGetExpr:
		ex.Object = r.expr(ex.Object)
		ex.Key = r.expr(ex.Key)
	case *ast.TableExpr:
		for _, f := range ex.Fields {
			if f.Key != nil {
				f.Key = r.expr(f.Key)
			}
			f.Value = r.expr(f.Value)
		}
	case *ast.FuncCallExpr:
		if ex.Func != nil {
			ex.Func = r.expr(ex.Func)
		} else {
			ex.Receiver = r.expr(ex.Receiver)
		}
		r.exprs(ex.Args)
	case *ast.LogicalOpExpr:
		ex.Lhs = r.expr(ex.Lhs)
		if truthy, ok := constTruth(ex.Lhs); ok {
			// K and e is K when K is false or nil, else e; K or e is K
			// when K is true, else e. e is adjusted to one value, as the
			// operator adjusts it.
			if (ex.Operator == "and") != truthy {
				return ex.Lhs
			}
			return adjustOne(r.expr(ex.Rhs))
		}
		ex.Rhs = r.expr(ex.Rhs)
	case *ast.RelationalOpExpr:
		ex.Lhs = r.expr(ex.Lhs)
		ex.Rhs = r.expr(ex.Rhs)
	case *ast.StringConcatOpExpr:
		ex.Lhs = r.expr(ex.Lhs)
		ex.Rhs = r.expr(ex.Rhs)
	case *ast.ArithmeticOpExpr:
		ex.Lhs = r.expr(ex.Lhs)
		ex.Rhs = r.expr(ex.Rhs)
	case *ast.UnaryMinusOpExpr:
		ex.Expr = r.expr(ex.Expr)
	case *ast.UnaryLenOpExpr:
		ex.Expr = r.expr(ex.Expr)
	case *ast.UnaryNotOpExpr:
		ex.Expr = r.expr(ex.Expr)
		if truthy, ok := constTruth(ex.Expr); ok {
			var out ast.Expr = &ast.TrueExpr{}
			if truthy {
				out = &ast.FalseExpr{}
			}
			out.SetLine(ex.Line())
			out.SetLastLine(ex.LastLine())
			return out
		}
	case *ast.IdentExpr:
		r.use(ex.Value)
	case *ast.FunctionExpr:
		r.function(ex, false)
	}
	return e
}

// adjustOne marks a multi-valued expression (a call, ...) as adjusted to
// one value, as parentheses do.
func adjustOne(e ast.Expr) ast.Expr {
	switch ex := e.(type) {
	case *ast.FuncCallExpr:
		ex.AdjustRet = true
	case *ast.Comma3Expr:
		ex.AdjustRet = true
	}
	return e
}

// constTruth reports whether e is a literal constant, and its truth.
func constTruth(e ast.Expr) (truthy, ok bool) {
	switch e.(type) {
	case *ast.FalseExpr, *ast.NilExpr:
		return false, true
	case *ast.TrueExpr, *ast.NumberExpr, *ast.StringExpr:
		return true, true
	}
	return false, false
}

// function rewrites a function body in a function scope of its own; on
// leaving it, the enclosing scopes whose locals it captures are marked (as
// the compiler does when it emits the closure, after the body).
func (r *rewriter) function(fe *ast.FunctionExpr, method bool) []string {
	r.enterFunc()
	params(fe, method, r.declare)
	fe.Stmts = r.stmts(fe.Stmts)
	return r.leaveFunc()
}
