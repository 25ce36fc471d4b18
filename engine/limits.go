package engine

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"time"

	lua "github.com/yuin/gopher-lua"
)

// gopher-lua has no memory limit of its own: a runaway script could grow
// the process until the operating system kills it, with no message. The
// engine guards the host in three ways:
//
//   - string.rep and table.concat refuse to build a string over
//     MaxStringBytes (one call would otherwise allocate it in one go, where
//     nothing can interrupt it), and table.concat no longer goes through
//     the Lua stack, so joining a long list works;
//   - while a script runs, a watchdog samples the Go heap and stops the
//     script at its next instruction when the heap stays over
//     Options.MemoryLimit after a garbage collection: the run fails with
//     ErrMemoryLimit and the script's position;
//   - the call stack is bounded by gopher-lua (deep recursion fails with
//     "stack overflow" at the script's line), and a Go panic inside the VM
//     becomes a one-line "internal error".

// DefaultMemoryLimit is the Go heap size over which a running script is
// stopped when Options.MemoryLimit is 0.
const DefaultMemoryLimit = 2 << 30

// MaxStringBytes bounds the strings string.rep and table.concat build.
const MaxStringBytes = 256 << 20

// ErrMemoryLimit is the cause of a run stopped by the memory watchdog;
// errors.Is finds it in the ScriptError.
var ErrMemoryLimit = errors.New("memory limit exceeded")

// watchInterval is how often the watchdog samples the heap.
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
		t := time.NewTicker(watchInterval)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			if heapSample() <= limit {
				continue
			}
			runtime.GC()
			if used := heapSample(); used > limit {
				e.memMu.Lock()
				e.memOver = used
				e.memMu.Unlock()
				stop()
				return
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

// byteSize renders n bytes for messages: "2 GiB", "300 MiB", "12 KiB".
func byteSize(n uint64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// installStringLimits replaces string.rep and table.concat with versions
// that refuse results over MaxStringBytes.
func installStringLimits(L *lua.LState) {
	if str, ok := L.GetGlobal("string").(*lua.LTable); ok {
		str.RawSetString("rep", L.NewFunction(strRep))
	}
	if tab, ok := L.GetGlobal("table").(*lua.LTable); ok {
		tab.RawSetString("concat", L.NewFunction(tableConcat))
	}
}

// strRep is string.rep(s, n) with the result bounded by MaxStringBytes.
func strRep(L *lua.LState) int {
	s := L.CheckString(1)
	n := L.CheckInt(2)
	if n <= 0 || s == "" {
		L.Push(lua.LString(""))
		return 1
	}
	if size := float64(len(s)) * float64(n); size > MaxStringBytes {
		L.RaiseError("string.rep: the result would be %s, over the limit of %s", byteSize(uint64(size)), byteSize(MaxStringBytes))
	}
	L.Push(lua.LString(strings.Repeat(s, n)))
	return 1
}

// tableConcat is table.concat(t [, sep [, i [, j]]]) built in Go rather
// than on the Lua stack (gopher-lua's pushes every element, so a few
// thousand of them overflow it), with the result bounded by MaxStringBytes.
func tableConcat(L *lua.LState) int {
	t := L.CheckTable(1)
	sep := L.OptString(2, "")
	i := L.OptInt(3, 1)
	j := 0
	if L.Get(4) == lua.LNil {
		j = t.Len()
	} else {
		j = L.CheckInt(4)
	}
	if i > j {
		L.Push(lua.LString(""))
		return 1
	}
	parts := make([]string, 0, min(j-i+1, 1<<16))
	size := 0
	for k := i; ; k++ {
		v := t.RawGetInt(k)
		switch x := v.(type) {
		case lua.LString:
			parts = append(parts, string(x))
		case lua.LNumber:
			parts = append(parts, x.String())
		default:
			L.RaiseError("invalid value (%s) at index %d in table for concat", v.Type().String(), k)
		}
		size += len(parts[len(parts)-1])
		if k < j {
			size += len(sep)
		}
		if size > MaxStringBytes {
			L.RaiseError("table.concat: the result would be over the limit of %s", byteSize(MaxStringBytes))
		}
		if k == j {
			break
		}
	}
	L.Push(lua.LString(strings.Join(parts, sep)))
	return 1
}
