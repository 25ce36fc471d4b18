package stdlib

import (
	"runtime"
	"sync"
	"weak"

	lua "github.com/yuin/gopher-lua"
)

// rowFiles keeps the open files of csv.rows and xlsx.rows iterators not
// yet read to the end, so that none outlives what it belongs to, and the
// xlsx writers not yet closed. An unfinished iterator's file is closed
//   - when the iterator is garbage-collected (runtime.AddCleanup), and at
//     once by SweepReaders after a collection (the engine's collectgarbage);
//   - when the run that opened it ends (CloseReaders, which the engine
//     calls at the end of every run).
//
// An xlsx writer the script did not close is closed — its workbook
// written — when the run ends: a workbook is packed only then, so a
// forgotten w:close() would otherwise leave no file at all (a CSV writer
// pushes each row to its file as it is written).
//
// Nothing here keeps an iterator alive: the iterator holds its reader, the
// tracker holds the reader and a weak pointer to the iterator.
type rowFiles struct {
	mu      sync.Mutex
	open    map[*rowsReader]weak.Pointer[lua.LUserData]
	writers map[*xlsxWriter]bool
}

// track wraps r in an iterator of type r.fn and keeps r's file until it is
// closed one way or another.
func (c *rowFiles) track(L *lua.LState, r *rowsReader) *lua.LUserData {
	ud := L.NewUserData()
	ud.Value = r
	ud.Metatable = L.GetTypeMetatable(r.fn)
	c.mu.Lock()
	if c.open == nil {
		c.open = map[*rowsReader]weak.Pointer[lua.LUserData]{}
	}
	if len(c.open) >= sweepAt {
		c.sweepLocked() // a script opening many iterators keeps the list short
	}
	c.open[r] = weak.Make(ud)
	c.mu.Unlock()
	runtime.AddCleanup(ud, c.closeReader, r)
	return ud
}

// trackWriter keeps w until it is closed or the run ends.
func (c *rowFiles) trackWriter(w *xlsxWriter) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.writers == nil {
		c.writers = map[*xlsxWriter]bool{}
	}
	c.writers[w] = true
}

// forgetWriter drops w once the script closed it.
func (c *rowFiles) forgetWriter(w *xlsxWriter) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.writers, w)
}

// closeReader closes r's file and forgets it.
func (c *rowFiles) closeReader(r *rowsReader) {
	r.close()
	c.mu.Lock()
	delete(c.open, r)
	c.mu.Unlock()
}

// sweepAt is the number of tracked readers at which track sweeps first.
const sweepAt = 64

// sweep closes the files of iterators that were collected, and forgets the
// readers that reached their end.
func (c *rowFiles) sweep() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sweepLocked()
}

func (c *rowFiles) sweepLocked() {
	for r, wp := range c.open {
		if wp.Value() == nil {
			r.close()
		}
		if r.isDone() {
			delete(c.open, r)
		}
	}
}

// closeAll closes every tracked file, as the end of a run does: readers
// expire, writers write their workbooks. It returns the first writer's
// error.
func (c *rowFiles) closeAll() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for r := range c.open {
		r.expire()
		delete(c.open, r)
	}
	var first error
	for w := range c.writers {
		if err := w.Close(); err != nil && first == nil {
			first = err
		}
		delete(c.writers, w)
	}
	return first
}

// SweepReaders closes the files of unfinished csv.rows and xlsx.rows
// iterators that the garbage collector has collected. The engine calls it
// after collectgarbage(); collected iterators close on their own soon after
// too.
func (e *Env) SweepReaders() { e.files.sweep() }

// CloseReaders closes the files of every unfinished csv.rows and xlsx.rows
// iterator, and writes the workbook of every xlsx writer the script did not
// close (returning the first such writer's error). The engine calls it when
// a run ends: an iterator kept past its run (a REPL global) then raises an
// error saying so instead of reading on.
func (e *Env) CloseReaders() error { return e.files.closeAll() }
