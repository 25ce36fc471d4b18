package engine

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"strings"

	lua "github.com/yuin/gopher-lua"
)

// Reads that hold: every io read is bounded by the memory limit and by
// MaxStringBytes as it grows (read(2^45) does not allocate 32 TiB first,
// read("*a") of /dev/zero stops), and a read that can block (standard
// input on a pipe or a terminal, a FIFO, a device) gives way when the run
// is interrupted.

// readChunk is how much a bounded read takes at a time.
const readChunk = 64 << 10

// errInterrupted is what a read returns when the run was interrupted
// while it waited.
var errInterrupted = errors.New("interrupted")

// cancelReader reads r on a goroutine of its own, so that a Read waiting
// for data returns errInterrupted as soon as the run's context is done.
// The read in flight is not abandoned: its data comes with the next Read
// (the REPL's next input, say). It is used by one goroutine at a time.
type cancelReader struct {
	r       io.Reader
	ctx     func() context.Context
	pending chan readResult // the read in flight, if any
	rest    []byte          // data read and not yet returned
	err     error           // the error that came with rest
}

type readResult struct {
	data []byte
	err  error
}

func (c *cancelReader) Read(p []byte) (int, error) {
	if len(c.rest) > 0 {
		n := copy(p, c.rest)
		c.rest = c.rest[n:]
		if len(c.rest) == 0 && c.err != nil {
			err := c.err
			c.err = nil
			return n, err
		}
		return n, nil
	}
	if len(p) == 0 {
		return 0, nil
	}
	if c.pending == nil {
		ch := make(chan readResult, 1)
		size := len(p)
		go func() {
			b := make([]byte, size)
			n, err := c.r.Read(b)
			ch <- readResult{b[:n], err}
		}()
		c.pending = ch
	}
	var done <-chan struct{}
	if c.ctx != nil {
		done = c.ctx().Done()
	}
	select {
	case res := <-c.pending:
		c.pending = nil
		n := copy(p, res.data)
		if n < len(res.data) {
			c.rest, c.err = res.data[n:], res.err
			return n, nil
		}
		return n, res.err
	case <-done:
		return 0, errInterrupted
	}
}

// mayBlock reports whether reading r may wait for data indefinitely: any
// reader but a regular file or an in-memory one.
func mayBlock(r io.Reader) bool {
	switch x := r.(type) {
	case *strings.Reader, *bytes.Reader, *bytes.Buffer:
		return false
	case *os.File:
		st, err := x.Stat()
		return err != nil || !st.Mode().IsRegular()
	}
	return true
}

// interruptible wraps r in a cancelReader when reading it may block.
func (e *Engine) interruptible(r io.Reader) io.Reader {
	if !mayBlock(r) {
		return r
	}
	return &cancelReader{r: r, ctx: e.context}
}

// readFailed raises the error of a read that failed for another reason
// than the end of the data; it returns for io.EOF.
func (lib *ioLib) readFailed(L *lua.LState, f *luaFile, err error) {
	switch {
	case err == nil, errors.Is(err, io.EOF):
		return
	case errors.Is(err, errInterrupted) || lib.e.context().Err() != nil:
		L.RaiseError("interrupted: reading %s", f.name)
	}
	L.RaiseError("reading %s: %v", f.name, err)
}

// readN reads up to n bytes (read(n)): nil at the end of the data.
func (lib *ioLib) readN(L *lua.LState, f *luaFile, n int64, what string) lua.LValue {
	if n <= 0 {
		if _, err := f.r.Peek(1); err != nil {
			lib.readFailed(L, f, err)
			return lua.LNil
		}
		return lua.LString("")
	}
	lib.e.reserve(L, n, what) // over MaxStringBytes: refused before anything is read
	var buf []byte
	for int64(len(buf)) < n {
		want := int(min(n-int64(len(buf)), readChunk))
		if cap(buf)-len(buf) < want {
			grown := min(max(2*int64(cap(buf)), int64(len(buf)+want)), n)
			lib.e.reserve(L, grown, what)
			buf = append(make([]byte, 0, grown), buf...)
		}
		m, err := io.ReadFull(f.r, buf[len(buf):len(buf)+want])
		buf = buf[:len(buf)+m]
		if err != nil {
			if !errors.Is(err, io.ErrUnexpectedEOF) {
				lib.readFailed(L, f, err)
			}
			break
		}
	}
	if len(buf) == 0 {
		return lua.LNil
	}
	return lua.LString(buf)
}

// readAll reads to the end of the data (read("*a")): "" at the end.
func (lib *ioLib) readAll(L *lua.LState, f *luaFile) lua.LValue {
	var b bytes.Buffer
	chunk := make([]byte, readChunk)
	for {
		m, err := f.r.Read(chunk)
		if m > 0 {
			if b.Len()+m > b.Cap() {
				lib.e.reserve(L, int64(max(2*b.Cap(), b.Len()+m)), "io read(\"*a\")")
			}
			b.Write(chunk[:m])
		}
		if err != nil {
			lib.readFailed(L, f, err)
			return lua.LString(b.String())
		}
		if err := lib.e.context().Err(); err != nil {
			L.RaiseError("interrupted: reading %s", f.name)
		}
	}
}

// readLine reads a line (read("*l"), "*L" with keepNL, io.lines): nil at
// the end of the data. A line is bounded like any string.
func (lib *ioLib) readLine(L *lua.LState, f *luaFile, keepNL bool) lua.LValue {
	var line []byte
	for {
		part, err := f.r.ReadSlice('\n')
		if len(line)+len(part) > readChunk && len(line)+len(part) > cap(line) {
			lib.e.reserve(L, int64(max(2*cap(line), len(line)+len(part))), "io read(\"*l\")")
		}
		line = append(line, part...)
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err != nil {
			lib.readFailed(L, f, err)
			if len(line) == 0 {
				return lua.LNil
			}
		}
		break
	}
	if !keepNL {
		line = bytes.TrimSuffix(line, []byte("\n"))
		line = bytes.TrimSuffix(line, []byte("\r"))
	}
	return lua.LString(line)
}
