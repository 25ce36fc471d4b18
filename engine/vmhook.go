package engine

import (
	"context"
	"reflect"
	"unsafe"

	lua "github.com/yuin/gopher-lua"

	"github.com/topscript/topscript/luathread"
)

// The instruction hook. gopher-lua has no allocation hook and no debug
// hooks, and OP_CONCAT (the `..` operator) builds its string in one
// strings.Join, where nothing can stop it: `s = s .. s` doubles the heap at
// every step and passes any limit watched from outside by a whole step. But
// with a context set, the VM calls the context's Done method before every
// instruction. Each Lua thread of a run carries a vmContext of its own
// (the main one here; coroutines, protected calls' threads and tmc
// handlers' threads through luathread.SetContext and the run's Binder),
// whose Done looks at the instruction about to run on its thread. Before
// OP_SETTABLE it reserves the copy a table's array part makes when the
// assignment grows it (checkSetTable). Before OP_CONCAT it checks the
// operands: the size of the result against the memory budget (see
// reserve), and a non-string operand, reported as Lua 5.1 does ("attempt to
// concatenate field 'a' (a nil value)") rather than gopher-lua's "cannot
// perform concat operation between nil and string".
//
// Finding that instruction takes the VM's current call frame, which
// gopher-lua keeps unexported: its place in lua.LState and in the frame is
// read once, by name and type through reflect, and the hook turns itself
// off (hookOK false, which a test checks) when the layout is not the one
// expected. The alternatives were worse: a fork of gopher-lua, or
// rewriting `..` in the parsed chunk (the compile path is issue #19's).
// gopher-lua v1.1.2 is pinned in go.mod.

// Offsets of gopher-lua's unexported fields the hook reads.
var (
	frameOff uintptr // lua.LState.currentFrame (*callFrame)
	fnOff    uintptr // callFrame.Fn (*lua.LFunction)
	pcOff    uintptr // callFrame.Pc (int): the next instruction
	hookOK   bool    // the layout is as expected: the hook is on
	arrayOff uintptr // lua.LTable.array ([]lua.LValue)
	arrayOK  bool    // ... found: table growth is checked too
)

func init() {
	lt := reflect.TypeOf(lua.LState{})
	cf, ok := lt.FieldByName("currentFrame")
	if !ok || cf.Type.Kind() != reflect.Pointer || cf.Type.Elem().Kind() != reflect.Struct || cf.Type.Elem().Name() != "callFrame" {
		return
	}
	ft := cf.Type.Elem()
	fn, ok1 := ft.FieldByName("Fn")
	pc, ok2 := ft.FieldByName("Pc")
	if !ok1 || !ok2 || fn.Type != reflect.TypeOf((*lua.LFunction)(nil)) || pc.Type.Kind() != reflect.Int {
		return
	}
	frameOff, fnOff, pcOff, hookOK = cf.Offset, fn.Offset, pc.Offset, true
	if arr, ok := reflect.TypeOf(lua.LTable{}).FieldByName("array"); ok && arr.Type == reflect.TypeOf([]lua.LValue(nil)) {
		arrayOff, arrayOK = arr.Offset, true
	}
}

// vmContext is the context a run's Lua threads carry: the run's context,
// whose Done also inspects the instruction about to run.
type vmContext struct {
	context.Context
	e *Engine
	L *lua.LState // the thread it is set on
}

// Done checks the instruction the VM is about to run, then returns the
// run context's channel.
func (c *vmContext) Done() <-chan struct{} {
	if hookOK {
		c.inspect()
	}
	return c.Context.Done()
}

// inspect checks an OP_CONCAT about to run on c's thread.
func (c *vmContext) inspect() {
	frame := *(*unsafe.Pointer)(unsafe.Add(unsafe.Pointer(c.L), frameOff))
	if frame == nil {
		return
	}
	fn := *(**lua.LFunction)(unsafe.Add(frame, fnOff))
	if fn == nil || fn.IsG || fn.Proto == nil {
		return
	}
	pc := *(*int)(unsafe.Add(frame, pcOff)) - 1 // the VM has moved past it
	code := fn.Proto.Code
	if pc < 0 || pc >= len(code) {
		return
	}
	switch inst := code[pc]; int(inst >> 26) {
	case lua.OP_CONCAT:
		c.e.checkConcat(c.L, fn, pc, inst)
	case lua.OP_SETTABLE:
		c.e.checkSetTable(c.L, fn, inst)
	}
}

// hook sets the run's context on thread L, hooked.
func (e *Engine) hook(L *lua.LState, ctx context.Context) {
	L.SetContext(&vmContext{Context: ctx, e: e, L: L})
}

// runBinder hooks the threads a run's context reaches (luathread.Binder):
// coroutines, protected calls' threads, tmc.listen's handler threads.
type runBinder struct{ e *Engine }

// Bind returns ctx hooked for thread th.
func (b runBinder) Bind(th *lua.LState, ctx context.Context) context.Context {
	if v, ok := ctx.(*vmContext); ok {
		ctx = v.Context // another thread's: th gets its own
	}
	return &vmContext{Context: ctx, e: b.e, L: th}
}

// boundContext is a run's context as Go code sees it (Engine.context):
// it carries the run's binder, so a thread given it, or a context derived
// from it, is hooked; its Done is the plain one, safe on any goroutine.
type boundContext struct {
	context.Context
	b runBinder
}

// Value answers luathread.BinderKey with the run's binder.
func (c boundContext) Value(key any) any {
	if _, ok := key.(luathread.BinderKey); ok {
		return c.b
	}
	return c.Context.Value(key)
}

// hookThread hooks a coroutine's thread: gopher-lua gives it a plain
// context derived from its creator's.
func (e *Engine) hookThread(th *lua.LState) {
	if ctx := th.Context(); ctx != nil {
		luathread.SetContext(th, ctx)
	}
}

// hookCoroutines wraps coroutine.create and coroutine.wrap so that the
// threads they make are hooked too.
func (e *Engine) hookCoroutines() {
	L := e.L
	co, ok := L.GetGlobal("coroutine").(*lua.LTable)
	if !ok {
		return
	}
	if create, ok := co.RawGetString("create").(*lua.LFunction); ok && create.IsG {
		orig := create.GFunction
		co.RawSetString("create", L.NewFunction(func(L *lua.LState) int {
			n := orig(L)
			if th, ok := L.Get(-1).(*lua.LState); ok {
				e.hookThread(th)
			}
			return n
		}))
	}
	if wrap, ok := co.RawGetString("wrap").(*lua.LFunction); ok && wrap.IsG {
		orig := wrap.GFunction
		co.RawSetString("wrap", L.NewFunction(func(L *lua.LState) int {
			n := orig(L)
			if fn, ok := L.Get(-1).(*lua.LFunction); ok && len(fn.Upvalues) > 0 {
				if th, ok := fn.Upvalues[0].Value().(*lua.LState); ok {
					e.hookThread(th)
				}
			}
			return n
		}))
	}
}

// checkConcat runs before OP_CONCAT A B C (R(A) := R(B) .. ... .. R(C))
// at instruction pc of fn: it raises the error of a non-string operand
// (unless a __concat metamethod takes it), and reserves the result's size.
func (e *Engine) checkConcat(L *lua.LState, fn *lua.LFunction, pc int, inst uint32) {
	b, c := int(inst&0x1ff), int(inst>>9)&0x1ff
	size := 0
	bad := false
	for r := b; r <= c; r++ {
		switch v := L.Get(r + 1).(type) {
		case lua.LString:
			size += len(v)
		case lua.LNumber:
			size += 24
		default:
			if L.GetMetaField(v, "__concat") != lua.LNil {
				return // Lua code decides the result: its own concatenations are checked
			}
			bad = true
		}
	}
	if bad {
		concatError(L, fn, pc, b, c)
	}
	e.reserve(L, int64(size), "string concatenation (..)")
}

// checkSetTable runs before OP_SETTABLE A B C (R(A)[RK(B)] := RK(C)): an
// integer key at or past the end of the table's array part makes
// gopher-lua append to it (nils first, up to the key), and an append past
// its capacity copies the whole array at once, 25% bigger: that copy is
// reserved first.
func (e *Engine) checkSetTable(L *lua.LState, fn *lua.LFunction, inst uint32) {
	t, ok := L.Get(int(inst>>18)&0xff + 1).(*lua.LTable)
	if !ok || !arrayOK {
		return
	}
	var key lua.LValue
	if b := int(inst & 0x1ff); b&0x100 != 0 {
		if k := b &^ 0x100; k < len(fn.Proto.Constants) {
			key = fn.Proto.Constants[k]
		}
	} else {
		key = L.Get(b + 1)
	}
	n, ok := key.(lua.LNumber)
	if !ok || float64(n) < 1 || float64(n) >= float64(lua.MaxArrayIndex) || float64(n) != float64(int(n)) {
		return
	}
	if t.Metatable != lua.LNil && L.GetMetaField(t, "__newindex") != lua.LNil {
		return // a new key goes to the metamethod, not to the array
	}
	e.checkArrayGrowth(L, t, int(n), "table growth")
}

// tableArray returns t's array part (gopher-lua keeps it unexported).
func tableArray(t *lua.LTable) ([]lua.LValue, bool) {
	if !arrayOK {
		return nil, false
	}
	return *(*[]lua.LValue)(unsafe.Add(unsafe.Pointer(t), arrayOff)), true
}

// checkArrayGrowth reserves what t's array part allocates when it must
// hold newLen values, if it must grow for that (table.insert, t[#t+1] = v).
func (e *Engine) checkArrayGrowth(L *lua.LState, t *lua.LTable, newLen int, what string) {
	arr, ok := tableArray(t)
	if !ok || newLen <= cap(arr) {
		return
	}
	// Go's append: double small slices, add a quarter to big ones.
	c := cap(arr)
	for c < newLen {
		switch {
		case newLen > 2*c:
			c = newLen
		case c < 256:
			c *= 2
		default:
			c += (c + 3*256) / 4
		}
	}
	e.reserveMemory(L, int64(c)*int64(unsafe.Sizeof(lua.LValue(nil))), what)
}

// concatError raises Lua 5.1's error for the operand of R(b) .. ... ..
// R(c) that cannot be concatenated. The VM joins from the right: the
// first pair it tries is R(c-1), R(c), and a run of strings on the right
// becomes one string, so the culprit named is the rightmost bad operand,
// except that when that is R(c) and R(c-1) is bad too, R(c-1) is.
func concatError(L *lua.LState, fn *lua.LFunction, pc, b, c int) {
	ok := func(r int) bool {
		switch L.Get(r + 1).(type) {
		case lua.LString, lua.LNumber:
			return true
		}
		return false
	}
	culprit := c
	for culprit > b && ok(culprit) {
		culprit--
	}
	if culprit == c && c > b && !ok(c-1) {
		culprit = c - 1
	}
	v := L.Get(culprit + 1)
	if what := varName(fn, pc, culprit); what != "" {
		L.RaiseError("attempt to concatenate %s (a %s value)", what, v.Type().String())
	}
	L.RaiseError("attempt to concatenate a %s value", v.Type().String())
}

// varName names what register reg holds at instruction pc of fn, as Lua
// 5.1's error messages do ("local 'x'", "global 'x'", "field 'x'",
// "upvalue 'x'", "method 'x'"), or "" when it cannot tell. It looks back
// for the instruction that loaded the register, within straight-line code
// only: past a jump the register may come from elsewhere.
func varName(fn *lua.LFunction, pc, reg int) string {
	if name, ok := fn.LocalName(reg+1, pc); ok {
		return "local '" + name + "'"
	}
	p := fn.Proto
	konst := func(rk int) string {
		if rk&0x100 == 0 {
			return ""
		}
		if k := rk &^ 0x100; k < len(p.Constants) {
			if s, ok := p.Constants[k].(lua.LString); ok {
				return string(s)
			}
		}
		return ""
	}
	quote := func(kind, name string) string {
		if name == "" {
			return ""
		}
		return kind + " '" + name + "'"
	}
	for i := pc - 1; i >= 0; i-- {
		inst := p.Code[i]
		op := int(inst >> 26)
		a := int(inst>>18) & 0xff
		bArg, cArg, bx := int(inst&0x1ff), int(inst>>9)&0x1ff, int(inst&0x3ffff)
		switch op {
		case lua.OP_JMP, lua.OP_EQ, lua.OP_LT, lua.OP_LE, lua.OP_TEST, lua.OP_TESTSET, lua.OP_LOADBOOL,
			lua.OP_FORLOOP, lua.OP_FORPREP, lua.OP_TFORLOOP:
			return ""
		case lua.OP_SETGLOBAL, lua.OP_SETUPVAL, lua.OP_SETTABLE, lua.OP_SETTABLEKS, lua.OP_SETLIST, lua.OP_CLOSE, lua.OP_NOP:
			continue // they write no register
		case lua.OP_LOADNIL, lua.OP_CALL, lua.OP_TAILCALL, lua.OP_VARARG, lua.OP_MOVEN:
			if a <= reg {
				return "" // they may write a range of registers from A
			}
			continue
		}
		if a != reg {
			continue
		}
		switch op {
		case lua.OP_GETGLOBAL:
			if bx < len(p.Constants) {
				if s, ok := p.Constants[bx].(lua.LString); ok {
					return quote("global", string(s))
				}
			}
		case lua.OP_GETTABLE, lua.OP_GETTABLEKS:
			return quote("field", konst(cArg))
		case lua.OP_SELF:
			return quote("method", konst(cArg))
		case lua.OP_GETUPVAL:
			if bArg < len(p.DbgUpvalues) {
				return quote("upvalue", p.DbgUpvalues[bArg])
			}
		case lua.OP_MOVE:
			if bArg < a {
				return varName(fn, i, bArg)
			}
		}
		return ""
	}
	return ""
}
