package stdlib

import (
	"runtime"
	"sync"
	"weak"

	lua "github.com/yuin/gopher-lua"
)

// csvFiles keeps the open files of csv.rows iterators not yet read to the
// end, so that none outlives what it belongs to. An unfinished iterator's
// file is closed
//   - when the iterator is garbage-collected (runtime.AddCleanup), and at
//     once by SweepReaders after a collection (the engine's collectgarbage);
//   - when the run that opened it ends (CloseReaders, which the engine
//     calls at the end of every run).
//
// Nothing here keeps an iterator alive: the iterator holds its reader, the
// tracker holds the reader and a weak pointer to the iterator.
type csvFiles struct {
	mu   sync.Mutex
	open map[*csvReader]weak.Pointer[lua.LUserData]
}

// track wraps r in a csv.rows iterator and keeps r's file until it is
// closed one way or another.
func (c *csvFiles) track(L *lua.LState, r *csvReader) *lua.LUserData {
	ud := L.NewUserData()
	ud.Value = r
	ud.Metatable = L.GetTypeMetatable(csvRowsType)
	c.mu.Lock()
	if c.open == nil {
		c.open = map[*csvReader]weak.Pointer[lua.LUserData]{}
	}
	if len(c.open) >= sweepAt {
		c.sweepLocked() // a script opening many iterators keeps the list short
	}
	c.open[r] = weak.Make(ud)
	c.mu.Unlock()
	runtime.AddCleanup(ud, c.closeReader, r)
	return ud
}

// closeReader closes r's file and forgets it.
func (c *csvFiles) closeReader(r *csvReader) {
	r.close()
	c.mu.Lock()
	delete(c.open, r)
	c.mu.Unlock()
}

// sweepAt is the number of tracked readers at which track sweeps first.
const sweepAt = 64

// sweep closes the files of iterators that were collected, and forgets the
// readers that reached their end.
func (c *csvFiles) sweep() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sweepLocked()
}

func (c *csvFiles) sweepLocked() {
	for r, wp := range c.open {
		if wp.Value() == nil {
			r.close()
		}
		if r.isDone() {
			delete(c.open, r)
		}
	}
}

// closeAll closes every tracked file, as the end of a run does.
func (c *csvFiles) closeAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for r := range c.open {
		r.expire()
		delete(c.open, r)
	}
}

// SweepReaders closes the files of unfinished csv.rows iterators that the
// garbage collector has collected. The engine calls it after
// collectgarbage(); collected iterators close on their own soon after too.
func (e *Env) SweepReaders() { e.readers.sweep() }

// CloseReaders closes the files of every unfinished csv.rows iterator. The
// engine calls it when a run ends: an iterator kept past its run (a REPL
// global) then raises an error saying so instead of reading on.
func (e *Env) CloseReaders() { e.readers.closeAll() }
