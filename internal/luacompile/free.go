package luacompile

import "github.com/yuin/gopher-lua/ast"

// freeNames returns the names fe uses (reads or assigns) that it does not
// bind itself: the locals of enclosing functions it captures, and
// globals. Binding follows gopher-lua's compiler: `local f = <function>`
// with one name and one function binds f before the function (see
// localFunc), a generic for's names are bound after its explist, and a
// repeat's condition sees the body's locals; a function binds its params.
func freeNames(fe *ast.FunctionExpr, method bool) []string {
	w := &freeWalker{seen: map[string]bool{}}
	w.function(fe, method)
	return w.free
}

type freeWalker struct {
	scopes [][]string
	seen   map[string]bool
	free   []string
}

func (w *freeWalker) push() { w.scopes = append(w.scopes, nil) }
func (w *freeWalker) pop()  { w.scopes = w.scopes[:len(w.scopes)-1] }
func (w *freeWalker) bind(names ...string) {
	w.scopes[len(w.scopes)-1] = append(w.scopes[len(w.scopes)-1], names...)
}

func (w *freeWalker) use(name string) {
	for i := len(w.scopes) - 1; i >= 0; i-- {
		for _, n := range w.scopes[i] {
			if n == name {
				return
			}
		}
	}
	if !w.seen[name] {
		w.seen[name] = true
		w.free = append(w.free, name)
	}
}

func (w *freeWalker) function(fe *ast.FunctionExpr, method bool) {
	w.push()
	params(fe, method, w.bind)
	w.stmts(fe.Stmts)
	w.pop()
}

// params binds the names a function has on entry: self for a method, its
// parameters, and arg for a vararg function (gopher-lua and Lua 5.1 both
// keep 5.0's arg table as a local).
func params(fe *ast.FunctionExpr, method bool, bind func(...string)) {
	if method {
		bind("self")
	}
	bind(fe.ParList.Names...)
	if fe.ParList.HasVargs {
		bind("arg")
	}
}

func (w *freeWalker) block(stmts []ast.Stmt) {
	w.push()
	w.stmts(stmts)
	w.pop()
}

func (w *freeWalker) stmts(stmts []ast.Stmt) {
	for _, s := range stmts {
		w.stmt(s)
	}
}

func (w *freeWalker) stmt(s ast.Stmt) {
	switch st := s.(type) {
	case *ast.AssignStmt:
		w.exprs(st.Lhs)
		w.exprs(st.Rhs)
	case *ast.LocalAssignStmt:
		if bindsFirst(st) {
			w.bind(st.Names[0])
			w.exprs(st.Exprs)
			return
		}
		w.exprs(st.Exprs)
		w.bind(st.Names...)
	case *ast.FuncCallStmt:
		w.expr(st.Expr)
	case *ast.DoBlockStmt:
		w.block(st.Stmts)
	case *ast.WhileStmt:
		w.expr(st.Condition)
		w.block(st.Stmts)
	case *ast.RepeatStmt:
		w.push()
		w.stmts(st.Stmts)
		w.expr(st.Condition)
		w.pop()
	case *ast.IfStmt:
		w.expr(st.Condition)
		w.block(st.Then)
		w.block(st.Else)
	case *ast.NumberForStmt:
		w.expr(st.Init)
		w.expr(st.Limit)
		if st.Step != nil {
			w.expr(st.Step)
		}
		w.push()
		w.bind(st.Name)
		w.stmts(st.Stmts)
		w.pop()
	case *ast.GenericForStmt:
		w.push()
		w.exprs(st.Exprs)
		w.bind(st.Names...)
		w.stmts(st.Stmts)
		w.pop()
	case *ast.FuncDefStmt:
		if st.Name.Func != nil {
			w.expr(st.Name.Func)
		} else {
			w.expr(st.Name.Receiver)
		}
		w.function(st.Func, st.Name.Func == nil)
	case *ast.ReturnStmt:
		w.exprs(st.Exprs)
	}
}

func (w *freeWalker) exprs(es []ast.Expr) {
	for _, e := range es {
		w.expr(e)
	}
}

func (w *freeWalker) expr(e ast.Expr) {
	walkExpr(e, func(x ast.Expr) bool {
		switch ex := x.(type) {
		case *ast.IdentExpr:
			w.use(ex.Value)
		case *ast.FunctionExpr:
			w.function(ex, false)
			return false
		}
		return true
	})
}

// bindsFirst reports whether gopher-lua's compiler binds the name of st
// before compiling its value: one name and one function expression.
func bindsFirst(st *ast.LocalAssignStmt) bool {
	if len(st.Names) != 1 || len(st.Exprs) != 1 {
		return false
	}
	_, ok := st.Exprs[0].(*ast.FunctionExpr)
	return ok
}

// localFunc reports whether st was written `local function f`, which binds
// f in its own body in Lua 5.1 too. gopher-lua's parser builds the same
// node for `local f = function` but sets its last line only for `local
// function` (TestParserMarksLocalFunction pins this).
func localFunc(st *ast.LocalAssignStmt) bool {
	return bindsFirst(st) && st.LastLine() != 0
}
