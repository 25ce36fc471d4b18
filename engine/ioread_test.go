package engine

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A count over what one string may hold is refused before anything is
// allocated (it was a Go "out of memory" crash and a goroutine dump); a
// big count on a small file reads the file.
func TestReadCountsAreBounded(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hostname")
	if err := os.WriteFile(path, []byte("host-1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	e, out := newEngine(t, Options{})
	e.Set("path", path)
	se := scriptErr(t, e, context.Background(), "r.lua", "local f = io.open(path)\nlocal s = f:read(2^45)")
	if se.Line != 2 || se.Msg != "io read(35184372088832): the result would be 32 TiB, over the limit of 256 MiB for one string" {
		t.Errorf("got %q", se.Error())
	}
	if err := run(t, e, `local f = io.open(path) print(#f:read(2^20), f:read(1)) f:close()`); err != nil {
		t.Fatal(err)
	}
	if out.String() != "7\tnil\n" {
		t.Errorf("stdout %q", out.String())
	}
}

// Reading a device that never ends stops at the memory limit, whatever
// the format.
func TestEndlessReadsStop(t *testing.T) {
	if _, err := os.Stat("/dev/zero"); err != nil {
		t.Skip("no /dev/zero")
	}
	e, _ := newEngine(t, Options{MemoryLimit: limitAbove(32 << 20)})
	for _, format := range []string{`"*a"`, `"*l"`, `2^27`} {
		se := scriptErr(t, e, context.Background(), "z.lua", "local f = io.open('/dev/zero')\nlocal s = f:read("+format+")")
		if !errors.Is(se, ErrMemoryLimit) || se.Line != 2 || !strings.Contains(se.Msg, "out of memory: io read(") {
			t.Errorf("read(%s): got %q", format, se.Error())
		}
		if err := run(t, e, "collectgarbage()"); err != nil {
			t.Fatal(err)
		}
	}
	se := scriptErr(t, e, context.Background(), "lines.lua", "for l in io.lines('/dev/zero') do end")
	if !errors.Is(se, ErrMemoryLimit) {
		t.Errorf("io.lines: got %q", se.Error())
	}
}

// io.read on a pipe nobody writes to gives way to the run's deadline; the
// line written later is read by the next run, not lost.
func TestStdinPipeReadIsInterrupted(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	e, out := newEngine(t, Options{Stdin: r})
	for _, src := range []string{`local l = io.read()`, `for l in io.lines() do end`, `local s = io.read("*a")`, `local s = io.stdin:read(5)`} {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		start := time.Now()
		se := scriptErr(t, e, ctx, "in.lua", src)
		cancel()
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("%s: returned after %s", src, d)
		}
		if !errors.Is(se, context.DeadlineExceeded) || !strings.HasPrefix(se.Msg, "interrupted") || se.Line != 1 {
			t.Errorf("%s: got %q", src, se.Error())
		}
	}
	if _, err := w.WriteString("later\n"); err != nil {
		t.Fatal(err)
	}
	if err := run(t, e, `print(io.read())`); err != nil {
		t.Fatal(err)
	}
	if out.String() != "later\n" {
		t.Errorf("stdout %q, want the line written after the interruption", out.String())
	}
}

// A script path that is not a regular file is refused before it is read.
func TestScriptMustBeARegularFile(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo.lua")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Skip("mkfifo:", err)
	}
	e, _ := newEngine(t, Options{})
	for path, want := range map[string]string{
		"/dev/zero": "/dev/zero: cannot run script: a device, not a regular file",
		fifo:        fifo + ": cannot run script: a named pipe, not a regular file",
		dir:         dir + ": cannot run script: a directory, not a file",
	} {
		err := e.RunFile(context.Background(), path, nil)
		var se *ScriptError
		if !errors.As(err, &se) || se.Error() != want {
			t.Errorf("RunFile(%s) = %v, want %s", path, err, want)
		}
	}
	// require does not take one either.
	if err := os.WriteFile(filepath.Join(dir, "main.lua"), []byte(`require("fifo")`), 0o644); err != nil {
		t.Fatal(err)
	}
	err := e.RunFile(context.Background(), filepath.Join(dir, "main.lua"), nil)
	if err == nil || !strings.Contains(err.Error(), "module fifo not found") {
		t.Errorf("require of a FIFO: %v", err)
	}
}
