package engine

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/topscript/topscript/internal/bytesize"
)

// gopher-lua has no memory limit of its own: a runaway script could grow
// the process until the operating system kills it, with no message. The
// engine guards the host in four ways:
//
//   - every function that builds a string in one go checks its size first
//     (reserve): the `..` operator (through the instruction hook, see
//     vmhook.go), string.rep, string.format, string.upper/lower/reverse,
//     string.gsub, table.concat and io reads; so does a table's array part
//     before it grows (t[i] = v past its end, table.insert), which copies
//     the whole array at once. A string over MaxStringBytes is refused
//     outright; an allocation of a MiB or more is refused when the heap in
//     use (after a garbage collection, when needed) plus the new one would
//     pass Options.MemoryLimit. The refusal is a Lua error at the
//     script's line ("out of memory: ..."), caught by pcall like any other,
//     whose ScriptError matches ErrMemoryLimit when nothing caught it;
//   - while a script runs, a watchdog samples the Go heap and stops the
//     script at its next instruction when the heap stays over
//     Options.MemoryLimit after a garbage collection (growth made of many
//     small pieces: tables, many strings): the run fails with
//     ErrMemoryLimit and the script's position;
//   - the call stack is bounded by gopher-lua (deep recursion fails with
//     "stack overflow" at the script's line), and a Go panic inside the VM
//     becomes a one-line "internal error";
//   - table.concat no longer goes through the Lua stack, so joining a long
//     list works.
//
// The heap is the process's: a host that keeps a big heap of its own sets
// the limit higher. The limit bounds what a script holds; what the process
// takes from the system also depends on when the garbage collector runs,
// which a host owning the process bounds with debug.SetMemoryLimit (the
// topscript command sets it to the same limit).

// DefaultMemoryLimit is the Go heap size over which a running script is
// stopped when Options.MemoryLimit is 0.
const DefaultMemoryLimit = 2 << 30

// MaxStringBytes bounds any one string a script builds, whatever the
// memory limit.
const MaxStringBytes = 256 << 20

// bigAlloc is the size from which reserve checks the heap: below it the
// watchdog is close enough.
const bigAlloc = 1 << 20

// ErrMemoryLimit is the cause of a run stopped by the memory watchdog;
// errors.Is finds it in the ScriptError.
var ErrMemoryLimit = errors.New("memory limit exceeded")

// watchInterval is how often the watchdog samples the heap (four times
// as often over half the limit).
const watchInterval = 20 * time.Millisecond

// memoryLimit is the effective limit in bytes; 0 means none.
func (e *Engine) memoryLimit() uint64 {
	switch l := e.opts.MemoryLimit; {
	case l < 0:
		return 0
	case l == 0:
		return DefaultMemoryLimit
	default:
		return uint64(l)
	}
}

// heapSample reads the bytes of live and not yet swept heap objects
// (MemStats.HeapAlloc, the quantity runtime/metrics names
// /memory/classes/heap/objects:bytes; runtime/metrics is not imported:
// its package initialiser alone costs about half a millisecond at every
// start).
func heapSample() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// watchMemory starts the watchdog of one run: when the heap is over the
// limit, even after a collection, it records the overrun and calls stop.
// The returned function ends the watchdog and waits for it; it may be
// called more than once.
func (e *Engine) watchMemory(stop context.CancelFunc) (end func()) {
	limit := e.memoryLimit()
	if limit == 0 {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTimer(watchInterval)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			used := heapSample()
			if used > limit {
				runtime.GC()
				if used = heapSample(); used > limit {
					e.memMu.Lock()
					e.memOver = used
					e.memMu.Unlock()
					stop()
					return
				}
			}
			// Closer to the limit, closer looks: a table growing by big
			// steps passes it in less than watchInterval.
			if used > limit/2 {
				t.Reset(watchInterval / 4)
			} else {
				t.Reset(watchInterval)
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			close(done)
			wg.Wait()
		})
	}
}

// memoryOverrun returns the heap size that stopped the last run, 0 if the
// watchdog did not stop it.
func (e *Engine) memoryOverrun() uint64 {
	e.memMu.Lock()
	defer e.memMu.Unlock()
	return e.memOver
}

// memoryError is the error of a run the watchdog stopped.
func (e *Engine) memoryError(used uint64) *ScriptError {
	se := &ScriptError{
		Msg: fmt.Sprintf("out of memory: the script was stopped with %s in use, over the limit of %s",
			byteSize(used), byteSize(e.memoryLimit())),
		Err:       ErrMemoryLimit,
		Traceback: e.lastErr.traceback,
	}
	e.positionFromHandler(se)
	return se
}

// reserve is called before a string of n bytes is built for what (the
// function or operator building it): it raises the Lua error refusing it
// when it is over MaxStringBytes, or when the heap has no room for it under
// the memory limit.
func (e *Engine) reserve(L *lua.LState, n int64, what string) {
	if n > MaxStringBytes {
		L.RaiseError("%s: the result would be %s, over the limit of %s for one string", what, byteSize(uint64(n)), byteSize(MaxStringBytes))
	}
	e.reserveMemory(L, n, what)
}

// reserveMemory is reserve without the bound on one string: for what is
// not a string (a table's array part).
func (e *Engine) reserveMemory(L *lua.LState, n int64, what string) {
	limit := e.memoryLimit()
	if n < bigAlloc || limit == 0 {
		return
	}
	used := heapSample()
	if used+uint64(n) <= limit {
		return
	}
	runtime.GC() // what is garbage does not count
	if used = heapSample(); used+uint64(n) <= limit {
		return
	}
	msg := fmt.Sprintf("out of memory: %s would need %s more with %s in use, over the limit of %s",
		what, byteSize(uint64(n)), byteSize(used), byteSize(limit))
	e.refused = msg
	L.RaiseError("%s", msg)
}

// byteSize renders n bytes for messages: "2 GiB", "300 MiB", "12 KiB".
func byteSize(n uint64) string { return bytesize.Format(int64(min(n, 1<<62))) }
