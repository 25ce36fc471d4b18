// Package luathread runs Lua functions of one Lua state from several
// goroutines, one at a time. It is what lets tmc.listen run message
// handlers concurrently without giving up the script's single Lua state:
// every handler sees the script's globals and upvalues as the script wrote
// them, and yet a handler waiting for the gateway does not hold up the
// others.
//
// gopher-lua's LState is not safe for concurrent use. A Group makes it
// shareable the way an event loop is: its goroutines take turns holding
// the state (a mutex), each running Lua on a thread of its own (an LState
// made by NewThread: its own stack, the shared globals), and a Go function
// that waits — a TOP call, a sleep — lets go of the state for the wait
// with Blocking. Lua code therefore never runs on two goroutines at once;
// between two calls that wait, a handler's Lua code runs without another
// handler's code in between, as with coroutines.
//
//	g, err := luathread.Share(L)       // on L's goroutine, inside a Go function called from Lua
//	luathread.Blocking(L, func() {     // let the others run while this one waits
//		go func() { g.Do(ctx, func(T *lua.LState) error { ... T.PCall ... }) }()
//		...
//	})
//	g.Close()                          // back on L's goroutine, holding the state
//
// Outside a Group (the usual, single-goroutine run) Blocking simply calls
// its function and Context returns nil: the functions that use them cost a
// registry lookup.
package luathread

import (
	"context"
	"errors"
	"sync"

	lua "github.com/yuin/gopher-lua"
)

// registryKey is where a state's Group is kept, in the state's registry.
const registryKey = "topscript.luathread.group"

// Group shares one Lua state between goroutines. See the package doc.
type Group struct {
	main *lua.LState
	mu   sync.Mutex // held by the goroutine running Lua on the state

	// The fields below are read and written only with mu held.
	closed bool
	free   []*lua.LState                   // idle threads, reused by Do
	ctxs   map[*lua.LState]context.Context // the context of each thread running in Do
}

// ErrShared is Share's error when L's state is already shared.
var ErrShared = errors.New("luathread: the Lua state is already shared by a running group")

// ErrClosed is Do's error after Close.
var ErrClosed = errors.New("luathread: the group is closed")

// Share makes L's state shareable until Close. Call it on the goroutine
// running L (from a Go function called by Lua): that goroutine holds the
// state from now on, and lets others run only inside Blocking.
func Share(L *lua.LState) (*Group, error) {
	if of(L) != nil {
		return nil, ErrShared
	}
	g := &Group{main: L, ctxs: map[*lua.LState]context.Context{}}
	g.mu.Lock()
	ud := L.NewUserData()
	ud.Value = g
	L.G.Registry.RawSetString(registryKey, ud)
	return g, nil
}

// Close ends the sharing. Call it on the goroutine that called Share,
// holding the state (outside Blocking), once no Do is running or will
// start: a later Do fails with ErrClosed.
func (g *Group) Close() {
	if g.closed {
		return
	}
	g.closed = true
	g.main.G.Registry.RawSetString(registryKey, lua.LNil)
	for _, T := range g.free {
		T.Close()
	}
	g.free = nil
	g.mu.Unlock()
}

// Do waits for the state, then runs fn on a thread of it whose context is
// ctx (the VM stops the thread's Lua code when ctx ends, and Context(T)
// returns it to the Go functions fn's Lua code calls). fn must not keep T
// or Lua values it made past its return. Do returns fn's error, or
// ErrClosed. Any goroutine may call Do.
func (g *Group) Do(ctx context.Context, fn func(T *lua.LState) error) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return ErrClosed
	}
	T := g.thread()
	SetContext(T, ctx)
	g.ctxs[T] = ctx
	prev := T.G.CurrentThread
	T.G.CurrentThread = T // coroutine.running() and resume checks see this thread
	base := T.GetTop()
	ok := false
	defer func() {
		T.G.CurrentThread = prev
		delete(g.ctxs, T)
		T.RemoveContext()
		if ok && !g.closed {
			T.SetTop(base)
			g.free = append(g.free, T)
		} else {
			T.Close() // after a panic its stack is in an unknown state: not reused
		}
	}()
	err := fn(T)
	ok = true
	return err
}

// thread returns an idle thread of the state, or a new one. Call with mu held.
func (g *Group) thread() *lua.LState {
	if n := len(g.free); n > 0 {
		T := g.free[n-1]
		g.free = g.free[:n-1]
		return T
	}
	T, cancel := g.main.NewThread()
	if cancel != nil {
		cancel() // Do gives it a context of its own each time
	}
	return T
}

// Blocking runs fn with L's state released when L's state is shared, so
// other goroutines of its Group run Lua while fn waits; otherwise it just
// calls fn. Call it from a Go function called by Lua on L, and do nothing
// with L or any Lua value inside fn. It takes the state back before it
// returns (even when fn panics).
func Blocking(L *lua.LState, fn func()) {
	g := of(L)
	if g == nil {
		fn()
		return
	}
	cur := L.G.CurrentThread
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		L.G.CurrentThread = cur
	}()
	fn()
}

// Context returns the context Do gave the thread L runs on (L itself, or
// the thread that resumed the coroutine L), or nil when L is not running
// in a Group's Do. Call it from a Go function called by Lua on L.
func Context(L *lua.LState) context.Context {
	g := of(L)
	if g == nil {
		return nil
	}
	for t := L; t != nil; t = t.Parent {
		if ctx, ok := g.ctxs[t]; ok {
			return ctx
		}
	}
	return nil
}

// Adopt has child, a thread of L's state that L's Lua code runs Lua on
// synchronously (a protected call's own thread, internal/lua51lib), run
// on behalf of parent: until the returned function is called, Context
// returns for child what it returns for parent. Outside a Group it does
// nothing. Call both with the state held (from a Go function called by
// Lua on parent).
func Adopt(child, parent *lua.LState) (end func()) {
	g := of(parent)
	if g == nil {
		return func() {}
	}
	ctx := Context(parent)
	if ctx == nil {
		return func() {}
	}
	g.ctxs[child] = ctx
	return func() { delete(g.ctxs, child) }
}

// Binder is a context that must know the Lua thread it runs on: the
// engine's run context, whose Done looks at the instruction the thread is
// about to run. A context derived from one (context.WithCancel, ...)
// finds it with Value(BinderKey).
type Binder interface {
	// Bind returns ctx (the Binder itself or a context derived from it)
	// for th.
	Bind(th *lua.LState, ctx context.Context) context.Context
}

// BinderKey is the Value key under which a context holds its Binder.
type BinderKey struct{}

// SetContext sets ctx on th, bound to th when ctx holds a Binder: every
// place that gives a thread a context (a coroutine, a protected call's
// thread, a Group's thread) goes through it.
func SetContext(th *lua.LState, ctx context.Context) {
	if b, ok := ctx.Value(BinderKey{}).(Binder); ok {
		ctx = b.Bind(th, ctx)
	}
	th.SetContext(ctx)
}

// of returns the Group sharing L's state, or nil.
func of(L *lua.LState) *Group {
	ud, ok := L.G.Registry.RawGetString(registryKey).(*lua.LUserData)
	if !ok {
		return nil
	}
	g, _ := ud.Value.(*Group)
	return g
}
