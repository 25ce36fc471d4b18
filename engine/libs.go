package engine

import (
	"fmt"
	"math"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"

	lua "github.com/yuin/gopher-lua"

	"github.com/topscript/topscript/internal/lua51lib"
	"github.com/topscript/topscript/luatop"
	"github.com/topscript/topscript/stdlib"
)

// openLibs opens the safe subset of the standard libraries.
func (e *Engine) openLibs() error {
	L := e.L
	for _, lib := range []struct {
		name string
		fn   lua.LGFunction
	}{
		{lua.LoadLibName, lua.OpenPackage},
		{lua.BaseLibName, lua.OpenBase},
		{lua.TabLibName, lua.OpenTable},
		{lua.StringLibName, lua.OpenString},
		{lua.MathLibName, lua.OpenMath},
		{lua.CoroutineLibName, lua.OpenCoroutine},
		{lua.OsLibName, lua.OpenOs},
	} {
		if err := L.CallByParam(lua.P{Fn: L.NewFunction(lib.fn), NRet: 0, Protect: true}, lua.LString(lib.name)); err != nil {
			return fmt.Errorf("engine: opening %q: %w", lib.name, err)
		}
	}
	// The library functions as Lua 5.1 has them (error, pcall, string...).
	// The pattern functions stop when the run is interrupted, and gsub's
	// result is checked against the memory limit as it grows.
	lua51lib.OpenLimited(L, lua51lib.Limits{
		Check:   func(*lua.LState) error { return e.context().Err() },
		Reserve: e.reserve,
	})
	g := L.G.Global

	// base: no file loading; load compiles strings only.
	g.RawSetString("dofile", lua.LNil)
	g.RawSetString("loadfile", lua.LNil)
	g.RawSetString("load", L.NewFunction(baseLoadString))
	g.RawSetString("loadstring", L.NewFunction(baseLoadString))
	g.RawSetString("print", L.NewFunction(e.print))
	g.RawSetString("collectgarbage", L.NewFunction(e.collectGarbage))

	// package: no native libraries; Lua files found through package.path
	// (the script's directory) are compiled through the cache.
	if pkg, ok := g.RawGetString("package").(*lua.LTable); ok {
		pkg.RawSetString("loadlib", lua.LNil)
		pkg.RawSetString("cpath", lua.LString(""))
		if loaders, ok := pkg.RawGetString("loaders").(*lua.LTable); ok {
			loaders.RawSetInt(2, L.NewFunction(loadLuaFile))
		}
	}

	// os: only the harmless functions, and an exit that ends the script.
	if osmod, ok := g.RawGetString("os").(*lua.LTable); ok {
		keep := map[string]bool{"time": true, "clock": true, "date": true, "difftime": true, "getenv": true}
		var drop []string
		osmod.ForEach(func(k, _ lua.LValue) {
			if s, ok := k.(lua.LString); ok && !keep[string(s)] {
				drop = append(drop, string(s))
			}
		})
		for _, k := range drop {
			osmod.RawSetString(k, lua.LNil)
		}
		osmod.RawSetString("exit", L.NewFunction(e.osExit))
		osmod.RawSetString("getenv", L.NewFunction(e.osGetenv))
		if e.opts.AllowExec {
			osmod.RawSetString("execute", L.NewFunction(e.osExecute))
		} else {
			osmod.RawSetString("execute", disabledFunc(L, "os.execute"))
		}
	}

	// io over the engine's streams.
	e.io = openIO(e)
	return nil
}

// disabledFunc stands in for a function the host does not allow, so that a
// script calling it gets an error naming it rather than "attempt to call a
// nil value".
func disabledFunc(L *lua.LState, name string) *lua.LFunction {
	return L.NewFunction(func(L *lua.LState) int {
		L.RaiseError("%s is disabled: the host does not allow running commands", name)
		return 0
	})
}

// baseLoadString is load/loadstring restricted to strings:
// load(s [, chunkname]) → function | nil, message.
func baseLoadString(L *lua.LState) int {
	s, ok := L.Get(1).(lua.LString)
	if !ok {
		L.Push(lua.LNil)
		L.Push(lua.LString("load: only strings can be loaded"))
		return 2
	}
	name := L.OptString(2, "")
	if name == "" {
		// Lua's own naming: [string "first line..."]
		first, _, more := strings.Cut(string(s), "\n")
		if len(first) > 40 {
			first, more = first[:40], true
		}
		if more {
			first += "..."
		}
		name = `[string "` + first + `"]`
	}
	proto, err := compileString(name, string(s))
	if err != nil {
		L.Push(lua.LNil)
		L.Push(lua.LString(err.Error()))
		return 2
	}
	fn := L.NewFunctionFromProto(proto)
	fn.Env = L.Env
	L.Push(fn)
	return 1
}

// loadLuaFile is the package.loaders entry for Lua files on package.path.
func loadLuaFile(L *lua.LState) int {
	name := L.CheckString(1)
	pkg, _ := L.GetGlobal("package").(*lua.LTable)
	path := ""
	if pkg != nil {
		path = lua.LVAsString(pkg.RawGetString("path"))
	}
	fname := strings.ReplaceAll(name, ".", string(os.PathSeparator))
	var tried []string
	for _, pattern := range strings.Split(path, ";") {
		if pattern == "" {
			continue
		}
		f := strings.ReplaceAll(pattern, "?", fname)
		if st, err := os.Stat(f); err == nil && st.Mode().IsRegular() {
			proto, err := compileFile(f)
			if err != nil {
				L.RaiseError("error loading module '%s': %s", name, err.Error())
			}
			L.Push(L.NewFunctionFromProto(proto))
			return 1
		}
		tried = append(tried, "no file '"+f+"'")
	}
	L.Push(lua.LString(strings.Join(tried, "\n\t")))
	return 1
}

// installDisabledLoader puts a loader in front that explains why a known
// module the host disabled cannot be required.
func (e *Engine) installDisabledLoader(allow func(string) bool) {
	if allow == nil {
		return
	}
	L := e.L
	pkg, _ := L.GetGlobal("package").(*lua.LTable)
	if pkg == nil {
		return
	}
	loaders, _ := pkg.RawGetString("loaders").(*lua.LTable)
	if loaders == nil {
		return
	}
	known := map[string]bool{}
	for _, n := range ModuleNames() {
		known[n] = true
	}
	loaders.Insert(1, L.NewFunction(func(L *lua.LState) int {
		name := L.CheckString(1)
		if known[name] && !allow(name) {
			if fn, ok := L.GetField(L.GetField(pkg, "preload"), name).(*lua.LFunction); ok {
				// Registered by the host under that name after all.
				L.Push(fn)
				return 1
			}
			L.RaiseError("module '%s' is disabled by the host", name)
		}
		return 0
	}))
}

// ModuleNames returns the names of the built-in modules scripts may
// require (the ones Options.Modules chooses from), sorted.
func ModuleNames() []string {
	names := append(luatop.Names(), stdlib.Names()...)
	sort.Strings(names)
	return names
}

// collectGarbage is collectgarbage(): a full collection, after which the
// files of csv.rows iterators it collected are closed at once.
func (e *Engine) collectGarbage(L *lua.LState) int {
	runtime.GC()
	e.env.SweepReaders()
	return 0
}

// print writes its arguments, tab-separated, to the engine's stdout.
func (e *Engine) print(L *lua.LState) int {
	top := L.GetTop()
	var b strings.Builder
	for i := 1; i <= top; i++ {
		if i > 1 {
			b.WriteByte('\t')
		}
		b.WriteString(L.ToStringMeta(L.Get(i)).String())
	}
	b.WriteByte('\n')
	if _, err := e.stdout.Write([]byte(b.String())); err != nil {
		L.RaiseError("print: %v", err)
	}
	return 0
}

// osExit ends the script (not the host): os.exit([code]) with code a
// number (or a string holding one) or a boolean (true = 0, false = 1;
// default 0). See ExitCode for the code a number becomes.
func (e *Engine) osExit(L *lua.LState) int {
	code := 0
	switch v := L.Get(1).(type) {
	case lua.LNumber:
		code = ExitCode(float64(v))
	case lua.LString:
		n, err := strconv.ParseFloat(strings.TrimSpace(string(v)), 64)
		if err != nil {
			L.ArgError(1, "number or boolean expected, got string")
		}
		code = ExitCode(n)
	case lua.LBool:
		if !v {
			code = 1
		}
	case *lua.LNilType:
	default:
		L.ArgError(1, "number or boolean expected, got "+v.Type().String())
	}
	e.exit = &ExitError{Code: code}
	if e.cancel != nil {
		// Cancelling the run context stops the VM at its next instruction,
		// even inside pcall.
		e.cancel()
	}
	L.RaiseError("os.exit(%d)", code)
	return 0
}

// osGetenv is os.getenv(name): the variable's value, nil when it is unset
// or, with Options.HideSecretEnv, when it is named in Options.SecretEnv or
// holds one of Options.Secrets.
func (e *Engine) osGetenv(L *lua.LState) int {
	name := L.CheckString(1)
	lookup := e.opts.LookupEnv
	if lookup == nil {
		lookup = os.LookupEnv
	}
	v, ok := lookup(name)
	if ok && e.opts.HideSecretEnv && (slices.Contains(e.opts.SecretEnv, name) || e.redactor.Hides(v)) {
		ok = false
	}
	if !ok {
		L.Push(lua.LNil)
		return 1
	}
	L.Push(lua.LString(v))
	return 1
}

// ExitCode maps the number given to os.exit to a process exit code: an
// integer from 0 to 255 is the code; any other number (negative, over 255,
// fractional, NaN, infinite) is 1. A non-zero number never becomes 0, as
// it did when the host truncated it to its low 8 bits (256 exited 0).
func ExitCode(n float64) int {
	if n >= 0 && n <= 255 && n == math.Trunc(n) {
		return int(n)
	}
	return 1
}

// shellCommand returns the command running s through the system shell.
func (e *Engine) shellCommand(s string) *exec.Cmd {
	if runtime.GOOS == "windows" {
		return exec.CommandContext(e.context(), "cmd", "/C", s)
	}
	return exec.CommandContext(e.context(), "/bin/sh", "-c", s)
}

// osExecute is os.execute(cmd) → exit status (Lua 5.1), with AllowExec.
// Without a command it reports whether a shell is available.
func (e *Engine) osExecute(L *lua.LState) int {
	if L.GetTop() == 0 || L.Get(1) == lua.LNil {
		L.Push(lua.LNumber(1))
		return 1
	}
	cmd := e.shellCommand(L.CheckString(1))
	cmd.Stdin, cmd.Stdout, cmd.Stderr = e.stdin, e.stdout, e.stderr
	err := cmd.Run()
	code := 0
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else {
			L.Push(lua.LNumber(-1))
			L.Push(lua.LString(err.Error()))
			return 2
		}
	}
	L.Push(lua.LNumber(code))
	return 1
}
