package luathread_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/topscript/topscript/luathread"
)

// host is a Lua state with the Go functions the tests' Lua code calls:
// wait() blocks in Blocking until release is closed (counting the waiters),
// enter()/leave() count the goroutines running Lua at once, ctx_err()
// returns the error of Context(L).
type host struct {
	L       *lua.LState
	waiting atomic.Int32
	release chan struct{}
	active  atomic.Int32
	overlap atomic.Bool // two goroutines ran Lua at once
}

func newHost(t *testing.T) *host {
	t.Helper()
	h := &host{L: lua.NewState(), release: make(chan struct{})}
	t.Cleanup(h.L.Close)
	h.L.SetGlobal("wait", h.L.NewFunction(func(L *lua.LState) int {
		luathread.Blocking(L, func() {
			h.waiting.Add(1)
			<-h.release
		})
		return 0
	}))
	h.L.SetGlobal("enter", h.L.NewFunction(func(L *lua.LState) int {
		if h.active.Add(1) > 1 {
			h.overlap.Store(true)
		}
		return 0
	}))
	h.L.SetGlobal("leave", h.L.NewFunction(func(L *lua.LState) int {
		h.active.Add(-1)
		return 0
	}))
	h.L.SetGlobal("ctx_err", h.L.NewFunction(func(L *lua.LState) int {
		ctx := luathread.Context(L)
		switch {
		case ctx == nil:
			L.Push(lua.LString("no context"))
		case ctx.Err() == nil:
			L.Push(lua.LString("live"))
		default:
			L.Push(lua.LString(ctx.Err().Error()))
		}
		return 1
	}))
	return h
}

// share runs body on L's goroutine as a Go function called from Lua, with
// the state shared, and body's work inside Blocking, as tmc.listen does.
func (h *host) share(t *testing.T, body func(g *luathread.Group)) {
	t.Helper()
	var err error
	h.L.SetGlobal("listen", h.L.NewFunction(func(L *lua.LState) int {
		g, e := luathread.Share(L)
		if e != nil {
			err = e
			return 0
		}
		luathread.Blocking(L, func() { body(g) })
		g.Close()
		return 0
	}))
	if e := h.L.DoString("listen()"); e != nil {
		t.Fatal(e)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// Without a group Blocking just calls its function and Context is nil.
func TestUnshared(t *testing.T) {
	h := newHost(t)
	close(h.release)
	if err := h.L.DoString(`wait(); assert(ctx_err() == "no context")`); err != nil {
		t.Fatal(err)
	}
	if h.waiting.Load() != 1 {
		t.Errorf("wait ran %d times", h.waiting.Load())
	}
}

// Handlers on several goroutines share the script's globals: their waits
// overlap (all of them are inside Blocking at once), their Lua code never
// does, and a counter they all update ends exact.
func TestDoSharesOneState(t *testing.T) {
	h := newHost(t)
	if err := h.L.DoString(`count = 0`); err != nil {
		t.Fatal(err)
	}
	if err := h.L.DoString(`function handler(n)
  enter(); count = count + 1; leave()
  wait()
  enter(); count = count + 1; leave()
end`); err != nil {
		t.Fatal(err)
	}
	const n = 8
	h.share(t, func(g *luathread.Group) {
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs <- g.Do(context.Background(), func(T *lua.LState) error {
					T.Push(T.GetGlobal("handler"))
					T.Push(lua.LNumber(i))
					return T.PCall(1, 0, nil)
				})
			}()
		}
		deadline := time.Now().Add(10 * time.Second)
		for h.waiting.Load() < n {
			if time.Now().After(deadline) {
				t.Errorf("only %d of %d handlers waited at once: the state was not released", h.waiting.Load(), n)
				break
			}
			time.Sleep(time.Millisecond)
		}
		close(h.release)
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Error(err)
			}
		}
	})
	if h.overlap.Load() {
		t.Error("two goroutines ran Lua code at once")
	}
	if got := h.L.GetGlobal("count"); got != lua.LNumber(2*n) {
		t.Errorf("count = %v, want %d", got, 2*n)
	}
}

// A thread's context stops its Lua code and is what Context returns, from
// the thread and from a coroutine it resumes.
func TestDoContext(t *testing.T) {
	h := newHost(t)
	h.share(t, func(g *luathread.Group) {
		err := g.Do(context.Background(), func(T *lua.LState) error {
			return T.DoString(`assert(ctx_err() == "live", ctx_err())
local co = coroutine.create(function() return ctx_err() end)
local ok, got = coroutine.resume(co)
assert(ok and got == "live", tostring(got))`)
		})
		if err != nil {
			t.Error(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		err = g.Do(ctx, func(T *lua.LState) error { return T.DoString(`while true do end`) })
		if err == nil || !strings.Contains(err.Error(), "context deadline exceeded") {
			t.Errorf("a busy loop under a context that ended: %v", err)
		}
		// The group goes on after a stopped thread.
		if err := g.Do(context.Background(), func(T *lua.LState) error { return T.DoString(`x = 1`) }); err != nil {
			t.Error(err)
		}
	})
	if h.L.GetGlobal("x") != lua.LNumber(1) {
		t.Error("the last Do did not run")
	}
}

// One group a state; Do after Close fails; a panic in fn releases the state.
func TestShareCloseAndPanic(t *testing.T) {
	h := newHost(t)
	var g *luathread.Group
	h.L.SetGlobal("twice", h.L.NewFunction(func(L *lua.LState) int {
		var err error
		g, err = luathread.Share(L)
		if err != nil {
			L.RaiseError("first: %v", err)
		}
		if _, err := luathread.Share(L); !errors.Is(err, luathread.ErrShared) {
			L.RaiseError("second Share: %v, want ErrShared", err)
		}
		luathread.Blocking(L, func() {
			func() {
				defer func() { _ = recover() }()
				_ = g.Do(context.Background(), func(T *lua.LState) error { panic("boom") })
			}()
			// The state was released by the panicking Do: this one gets it.
			done := make(chan error, 1)
			go func() { done <- g.Do(context.Background(), func(T *lua.LState) error { return T.DoString(`y = 2`) }) }()
			select {
			case err := <-done:
				if err != nil {
					t.Error(err)
				}
			case <-time.After(10 * time.Second):
				t.Error("a Do after a panicking one never got the state")
			}
		})
		g.Close()
		return 0
	}))
	if err := h.L.DoString(`twice(); assert(y == 2)`); err != nil {
		t.Fatal(err)
	}
	if err := g.Do(context.Background(), func(T *lua.LState) error { return nil }); !errors.Is(err, luathread.ErrClosed) {
		t.Errorf("Do after Close: %v, want ErrClosed", err)
	}
	// Closed, the state can be shared again.
	h.share(t, func(*luathread.Group) {})
}

// A thread adopted by a Do thread (the thread a pcall runs its function
// on) sees the Do thread's context; once the adoption ends, it does not.
func TestAdopt(t *testing.T) {
	h := newHost(t)
	var inside, after string
	h.L.SetGlobal("protected", h.L.NewFunction(func(L *lua.LState) int {
		child, _ := L.NewThread()
		end := luathread.Adopt(child, L)
		if err := child.DoString(`inside = ctx_err()`); err != nil {
			L.RaiseError("%v", err)
		}
		inside = lua.LVAsString(child.GetGlobal("inside"))
		end()
		if err := child.DoString(`after = ctx_err()`); err != nil {
			L.RaiseError("%v", err)
		}
		after = lua.LVAsString(child.GetGlobal("after"))
		return 0
	}))
	h.share(t, func(g *luathread.Group) {
		err := g.Do(context.Background(), func(T *lua.LState) error { return T.DoString(`protected()`) })
		if err != nil {
			t.Error(err)
		}
	})
	if inside != "live" || after != "no context" {
		t.Errorf("adopted: %q, after: %q; want live, no context", inside, after)
	}
	// Outside a group it does nothing.
	child, _ := h.L.NewThread()
	luathread.Adopt(child, h.L)()
}
