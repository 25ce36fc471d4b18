package engine

import (
	"bufio"
	"errors"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"

	lua "github.com/yuin/gopher-lua"
)

// The io library over the engine's streams. gopher-lua's own io library is
// bound to os.Stdin/os.Stdout, so topscript has its own: io.write, io.read,
// io.lines, io.open, io.close, io.type, io.input, io.output, io.stdin,
// io.stdout, io.stderr, and io.popen with AllowExec. File objects have
// read, write, lines, close, flush, seek and setvbuf.

const fileTypeName = "FILE*"

type luaFile struct {
	name   string
	r      *bufio.Reader
	w      io.Writer
	bw     *bufio.Writer // buffered writer of files
	f      *os.File
	cmd    *exec.Cmd
	closer io.Closer
	std    bool // a standard stream: close is refused
	closed bool
}

type ioLib struct {
	e     *Engine
	mt    *lua.LTable
	open  map[*luaFile]bool
	in    *lua.LUserData
	out   *lua.LUserData
	stdin *luaFile
}

func openIO(e *Engine) *ioLib {
	L := e.L
	lib := &ioLib{e: e, open: map[*luaFile]bool{}}
	mt := L.CreateTable(0, 4)
	methods := L.SetFuncs(L.CreateTable(0, 8), map[string]lua.LGFunction{
		"read":    lib.fRead,
		"write":   lib.fWrite,
		"lines":   lib.fLines,
		"close":   lib.fClose,
		"flush":   lib.fFlush,
		"seek":    lib.fSeek,
		"setvbuf": func(L *lua.LState) int { L.Push(lua.LTrue); return 1 },
	})
	mt.RawSetString("__index", methods)
	mt.RawSetString("__name", lua.LString(fileTypeName))
	mt.RawSetString("__tostring", L.NewFunction(func(L *lua.LState) int {
		f := lib.check(L, 1)
		if f.closed {
			L.Push(lua.LString("file (closed)"))
		} else {
			L.Push(lua.LString("file (" + f.name + ")"))
		}
		return 1
	}))
	lib.mt = mt

	lib.stdin = &luaFile{name: "stdin", r: bufio.NewReader(e.interruptible(e.stdin)), std: true}
	stdin := lib.wrap(lib.stdin)
	stdout := lib.wrap(&luaFile{name: "stdout", w: e.stdout, std: true})
	stderr := lib.wrap(&luaFile{name: "stderr", w: e.stderr, std: true})
	lib.in, lib.out = stdin, stdout

	funcs := map[string]lua.LGFunction{
		"write":  func(L *lua.LState) int { return lib.write(L, lib.out.Value.(*luaFile), 1, lib.out) },
		"read":   func(L *lua.LState) int { return lib.read(L, lib.in.Value.(*luaFile), 1) },
		"lines":  lib.ioLines,
		"open":   lib.ioOpen,
		"close":  lib.ioClose,
		"type":   lib.ioType,
		"input":  lib.ioInput,
		"output": lib.ioOutput,
		"flush":  func(L *lua.LState) int { return lib.flush(L, lib.out.Value.(*luaFile)) },
	}
	if e.opts.AllowExec {
		funcs["popen"] = lib.ioPopen
	} else {
		funcs["popen"] = func(L *lua.LState) int {
			L.RaiseError("io.popen is disabled: the host does not allow running commands")
			return 0
		}
	}
	mod := L.SetFuncs(L.CreateTable(0, 16), funcs)
	mod.RawSetString("stdin", stdin)
	mod.RawSetString("stdout", stdout)
	mod.RawSetString("stderr", stderr)
	L.SetGlobal("io", mod)
	if loaded, ok := L.GetField(L.Get(lua.RegistryIndex), "_LOADED").(*lua.LTable); ok {
		loaded.RawSetString("io", mod)
	}
	return lib
}

func (lib *ioLib) wrap(f *luaFile) *lua.LUserData {
	ud := lib.e.L.NewUserData()
	ud.Value = f
	ud.Metatable = lib.mt
	if !f.std {
		lib.open[f] = true
	}
	return ud
}

// closeAll closes the files a script left open.
func (lib *ioLib) closeAll() {
	for f := range lib.open {
		f.close()
	}
}

func (lib *ioLib) check(L *lua.LState, n int) *luaFile {
	ud, ok := L.Get(n).(*lua.LUserData)
	if ok {
		if f, ok := ud.Value.(*luaFile); ok {
			return f
		}
	}
	L.ArgError(n, "file expected, got "+L.Get(n).Type().String())
	return nil
}

func (f *luaFile) close() error {
	if f.closed {
		return nil
	}
	f.closed = true
	var errs []error
	if f.bw != nil {
		errs = append(errs, f.bw.Flush())
	}
	if f.closer != nil {
		errs = append(errs, f.closer.Close())
	}
	if f.cmd != nil {
		errs = append(errs, f.cmd.Wait())
	}
	return errors.Join(errs...)
}

func ioFail(L *lua.LState, err error) int {
	L.Push(lua.LNil)
	L.Push(lua.LString(err.Error()))
	return 2
}

func (lib *ioLib) write(L *lua.LState, f *luaFile, first int, self lua.LValue) int {
	if f.closed {
		L.RaiseError("attempt to use a closed file")
	}
	if f.w == nil {
		return ioFail(L, errors.New(f.name+" is not open for writing"))
	}
	if f.r != nil && f.f != nil {
		// Switching from reading to writing: drop the read-ahead.
		if n := f.r.Buffered(); n > 0 {
			f.f.Seek(-int64(n), io.SeekCurrent)
			f.r.Reset(f.f)
		}
	}
	top := L.GetTop()
	for i := first; i <= top; i++ {
		var s string
		switch v := L.Get(i).(type) {
		case lua.LString:
			s = string(v)
		case lua.LNumber:
			s = v.String()
		default:
			L.ArgError(i, "string or number expected, got "+v.Type().String())
		}
		if _, err := io.WriteString(f.w, s); err != nil {
			return ioFail(L, err)
		}
	}
	L.Push(self)
	return 1
}

func (lib *ioLib) fWrite(L *lua.LState) int {
	f := lib.check(L, 1)
	return lib.write(L, f, 2, L.Get(1))
}

func (lib *ioLib) read(L *lua.LState, f *luaFile, first int) int {
	if f.closed {
		L.RaiseError("attempt to use a closed file")
	}
	if f.r == nil {
		return ioFail(L, errors.New(f.name+" is not open for reading"))
	}
	if f.bw != nil {
		f.bw.Flush()
	}
	top := L.GetTop()
	if top < first {
		L.Push(lib.readLine(L, f, false))
		return 1
	}
	n := 0
	for i := first; i <= top; i++ {
		var v lua.LValue
		switch a := L.Get(i).(type) {
		case lua.LNumber:
			v = lib.readN(L, f, int64(min(float64(a), 1<<62)), "io read("+a.String()+")")
		case lua.LString:
			switch strings.TrimPrefix(string(a), "*") {
			case "l":
				v = lib.readLine(L, f, false)
			case "L":
				v = lib.readLine(L, f, true)
			case "a":
				v = lib.readAll(L, f)
			case "n":
				v = readNumber(f.r)
			default:
				L.ArgError(i, "invalid format")
			}
		default:
			L.ArgError(i, "invalid format")
		}
		L.Push(v)
		n++
		if v == lua.LNil {
			break
		}
	}
	return n
}

// maxNumberText bounds what read("*n") reads: no number is longer.
const maxNumberText = 200

func readNumber(r *bufio.Reader) lua.LValue {
	var b strings.Builder
	for b.Len() < maxNumberText {
		c, err := r.ReadByte()
		if err != nil {
			break
		}
		if b.Len() == 0 && (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
			continue
		}
		if (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '+' || c == 'e' || c == 'E' || c == 'x' || c == 'X' ||
			(c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') {
			b.WriteByte(c)
			continue
		}
		r.UnreadByte()
		break
	}
	f, err := strconv.ParseFloat(b.String(), 64)
	if err != nil {
		if i, err2 := strconv.ParseInt(b.String(), 0, 64); err2 == nil {
			return lua.LNumber(i)
		}
		return lua.LNil
	}
	return lua.LNumber(f)
}

func (lib *ioLib) fRead(L *lua.LState) int {
	return lib.read(L, lib.check(L, 1), 2)
}

func (lib *ioLib) linesIter(f *luaFile, closeAtEOF bool) *lua.LFunction {
	return lib.e.L.NewFunction(func(L *lua.LState) int {
		if f.closed {
			L.RaiseError("file is already closed")
		}
		v := lib.readLine(L, f, false)
		if v == lua.LNil && closeAtEOF {
			f.close()
			delete(lib.open, f)
		}
		L.Push(v)
		return 1
	})
}

func (lib *ioLib) fLines(L *lua.LState) int {
	f := lib.check(L, 1)
	if f.r == nil {
		L.RaiseError("%s is not open for reading", f.name)
	}
	L.Push(lib.linesIter(f, false))
	return 1
}

func (lib *ioLib) flush(L *lua.LState, f *luaFile) int {
	if f.bw != nil {
		if err := f.bw.Flush(); err != nil {
			return ioFail(L, err)
		}
	}
	L.Push(lua.LTrue)
	return 1
}

func (lib *ioLib) fFlush(L *lua.LState) int { return lib.flush(L, lib.check(L, 1)) }

func (lib *ioLib) fClose(L *lua.LState) int {
	f := lib.check(L, 1)
	return lib.closeFile(L, f)
}

func (lib *ioLib) closeFile(L *lua.LState, f *luaFile) int {
	if f.std {
		return ioFail(L, errors.New("cannot close standard file"))
	}
	if f.closed {
		L.RaiseError("attempt to use a closed file")
	}
	err := f.close()
	delete(lib.open, f)
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			L.Push(lua.LNil)
			L.Push(lua.LString("exit"))
			L.Push(lua.LNumber(ee.ExitCode()))
			return 3
		}
		return ioFail(L, err)
	}
	L.Push(lua.LTrue)
	return 1
}

func (lib *ioLib) fSeek(L *lua.LState) int {
	f := lib.check(L, 1)
	if f.f == nil {
		return ioFail(L, errors.New("cannot seek on "+f.name))
	}
	whence := io.SeekCurrent
	switch L.OptString(2, "cur") {
	case "set":
		whence = io.SeekStart
	case "end":
		whence = io.SeekEnd
	case "cur":
	default:
		L.ArgError(2, "invalid option")
	}
	off := L.OptInt64(3, 0)
	if f.bw != nil {
		f.bw.Flush()
	}
	if f.r != nil && whence == io.SeekCurrent {
		off -= int64(f.r.Buffered())
	}
	pos, err := f.f.Seek(off, whence)
	if err != nil {
		return ioFail(L, err)
	}
	if f.r != nil {
		f.r.Reset(f.f)
	}
	L.Push(lua.LNumber(pos))
	return 1
}

var openModes = map[string]int{
	"r": os.O_RDONLY, "w": os.O_WRONLY | os.O_CREATE | os.O_TRUNC, "a": os.O_WRONLY | os.O_CREATE | os.O_APPEND,
	"r+": os.O_RDWR, "w+": os.O_RDWR | os.O_CREATE | os.O_TRUNC, "a+": os.O_RDWR | os.O_CREATE | os.O_APPEND,
}

func (lib *ioLib) openFile(path, mode string) (*luaFile, error) {
	m := strings.ReplaceAll(mode, "b", "")
	flag, ok := openModes[m]
	if !ok {
		return nil, errors.New("invalid mode '" + mode + "'")
	}
	fp, err := os.OpenFile(path, flag, 0o644)
	if err != nil {
		return nil, err
	}
	f := &luaFile{name: path, f: fp, closer: fp}
	if m == "r" || strings.Contains(m, "+") {
		f.r = bufio.NewReader(lib.e.interruptible(fp)) // a FIFO or a device may block
	}
	if m != "r" {
		f.bw = bufio.NewWriter(fp)
		f.w = f.bw
	}
	return f, nil
}

func (lib *ioLib) ioOpen(L *lua.LState) int {
	path := L.CheckString(1)
	f, err := lib.openFile(path, L.OptString(2, "r"))
	if err != nil {
		return ioFail(L, err)
	}
	L.Push(lib.wrap(f))
	return 1
}

func (lib *ioLib) ioLines(L *lua.LState) int {
	if L.GetTop() == 0 || L.Get(1) == lua.LNil {
		L.Push(lib.linesIter(lib.in.Value.(*luaFile), false))
		return 1
	}
	f, err := lib.openFile(L.CheckString(1), "r")
	if err != nil {
		L.RaiseError("%s", err.Error())
	}
	lib.open[f] = true
	L.Push(lib.linesIter(f, true))
	return 1
}

func (lib *ioLib) ioClose(L *lua.LState) int {
	if L.GetTop() == 0 {
		return lib.closeFile(L, lib.out.Value.(*luaFile))
	}
	return lib.fClose(L)
}

func (lib *ioLib) ioType(L *lua.LState) int {
	ud, ok := L.Get(1).(*lua.LUserData)
	if ok {
		if f, ok := ud.Value.(*luaFile); ok {
			if f.closed {
				L.Push(lua.LString("closed file"))
			} else {
				L.Push(lua.LString("file"))
			}
			return 1
		}
	}
	L.Push(lua.LNil)
	return 1
}

func (lib *ioLib) ioInput(L *lua.LState) int {
	switch v := L.Get(1).(type) {
	case *lua.LNilType:
	case lua.LString:
		f, err := lib.openFile(string(v), "r")
		if err != nil {
			L.RaiseError("%s", err.Error())
		}
		lib.in = lib.wrap(f)
	case *lua.LUserData:
		lib.check(L, 1)
		lib.in = v
	default:
		L.ArgError(1, "file or path expected")
	}
	L.Push(lib.in)
	return 1
}

func (lib *ioLib) ioOutput(L *lua.LState) int {
	switch v := L.Get(1).(type) {
	case *lua.LNilType:
	case lua.LString:
		f, err := lib.openFile(string(v), "w")
		if err != nil {
			L.RaiseError("%s", err.Error())
		}
		lib.out = lib.wrap(f)
	case *lua.LUserData:
		lib.check(L, 1)
		lib.out = v
	default:
		L.ArgError(1, "file or path expected")
	}
	L.Push(lib.out)
	return 1
}

// ioPopen is io.popen(cmd [, "r"|"w"]) through the system shell (AllowExec only).
func (lib *ioLib) ioPopen(L *lua.LState) int {
	cmdline := L.CheckString(1)
	mode := L.OptString(2, "r")
	cmd := lib.e.shellCommand(cmdline)
	cmd.Stderr = lib.e.stderr
	f := &luaFile{name: "process " + cmdline, cmd: cmd}
	switch mode {
	case "r":
		cmd.Stdin = lib.e.stdin
		out, err := cmd.StdoutPipe()
		if err != nil {
			return ioFail(L, err)
		}
		f.r = bufio.NewReader(out)
	case "w":
		cmd.Stdout = lib.e.stdout
		in, err := cmd.StdinPipe()
		if err != nil {
			return ioFail(L, err)
		}
		f.w, f.closer = in, in
	default:
		L.ArgError(2, "invalid mode")
	}
	if err := cmd.Start(); err != nil {
		return ioFail(L, err)
	}
	L.Push(lib.wrap(f))
	return 1
}
