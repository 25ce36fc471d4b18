// Package engine is topscript's Lua host. An Engine owns one Lua state
// with only safe libraries opened, the module registry (`top`, the stdlib
// modules, host-registered modules and .lua files next to the script),
// per-run cancellation, a compiled-chunk cache and typed errors.
//
// A Go program embeds topscript like this:
//
//	eng, err := engine.New(engine.Options{Client: client, Stdout: os.Stdout})
//	if err != nil { ... }
//	defer eng.Close()
//	eng.Set("shop", myShop)               // any Go value, through gopher-luar
//	err = eng.RunFile(ctx, "sync.lua", args)
//	var se *engine.ScriptError            // file:line, message, TOP error fields
//	var ee *engine.ExitError              // os.exit(n)
//
// # Libraries
//
// Scripts get: the base library without dofile and loadfile (load and
// loadstring compile strings only), package/require, table, string, math,
// coroutine, os limited to time, clock, date, difftime, getenv and exit, and
// io over the engine's streams: io.write/io.read/io.lines and
// io.stdout/io.stderr/io.stdin use Options.Stdout/Stderr/Stdin. io.open is
// allowed (operators read inputs and write reports), io.popen and
// os.execute only with Options.AllowExec. There is no debug library. print
// writes to Options.Stdout.
//
// # Lua 5.1
//
// Scripts run as Lua 5.1 says: every chunk (files, strings, load, REPL
// input) is compiled by internal/luacompile, which rewrites the shapes
// gopher-lua's compiler gets wrong, and the library functions where
// gopher-lua differs (error, pcall, tonumber, table and string functions)
// are internal/lua51lib's. The differences that remain are listed by name
// in internal/luadiff, whose tests compare the engine with lua5.1.
//
// The engine gives lua51lib its limits: the pattern functions stop
// mid-match when the run is cancelled and gsub's result is checked as it
// grows; the string builders check their result's size first (strlib.go,
// limits.go). os.exit(n) ends the script with ExitCode(n).
//
// # What the engine guards, and what it does not
//
// Scripts are trusted code: the engine is not a sandbox against a hostile
// script reading or writing files the host user can. It guards the host
// process: no exec (unless AllowExec), no os.exit of the host, a run that
// stops at its next instruction when its context ends (inside pattern
// matching and blocking reads too), a memory limit checked before each big
// string is built and watched while the script runs (Options.MemoryLimit,
// MaxStringBytes; limits.go), script paths that must be regular files. And
// it keeps the host's secrets (Options.Secrets) out of every output: print,
// io on the standard streams, log records, errors, csv.writer and
// xlsx.writer cells, job reports (CSV or .xlsx); with Options.HideSecretEnv, out of os.getenv too.
//
// # Concurrency
//
// An Engine is not safe for concurrent use: run one script at a time on it
// and call its methods from one goroutine. Separate Engines are
// independent and may run in parallel (they share only the read-only
// compiled-chunk cache).
package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	lua "github.com/yuin/gopher-lua"
	luar "layeh.com/gopher-luar"

	"github.com/topscript/topscript/internal/lua51lib"
	"github.com/topscript/topscript/internal/redact"
	"github.com/topscript/topscript/luatop"
	"github.com/topscript/topscript/state"
	"github.com/topscript/topscript/stdlib"
	"github.com/topscript/topscript/tmc"
	"github.com/topscript/topscript/top"
)

// Options configure an Engine. Every field is optional.
type Options struct {
	// Client is the TOP client behind the `top` module. Without one,
	// top.call and friends raise "no TOP client configured".
	Client *top.Client
	// Stdin, Stdout and Stderr are the script's streams (print, io.*,
	// csv.writer("-")). Nil means os.Stdin, os.Stdout, os.Stderr.
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// Logger receives the log module's records and dry-run lines. Nil
	// means text records on Stderr.
	Logger *slog.Logger
	// Modules lists the modules scripts may require (ModuleNames: "top",
	// "job", "tmc", "json", "csv", "xlsx", "time", "log", "iter", "state"). Nil allows all
	// of them; an empty, non-nil slice allows none. Host-registered modules
	// (Register) and .lua files next to the script are always allowed.
	Modules []string
	// AllowExec enables os.execute and io.popen.
	AllowExec bool
	// DryRun makes top.call of a write method log the call instead of
	// sending it; top.dry_run is true.
	DryRun bool
	// Globals are set as Lua globals with Set before any script runs.
	Globals map[string]any
	// Store backs the state module and job.run's checkpoints. Nil keeps
	// them in memory for the life of the Engine.
	Store state.Store
	// OnJob receives the summary of every job.run that ends (a host exits
	// non-zero when rows failed).
	OnJob func(luatop.JobSummary)
	// Progress is where job.run draws its progress bar when it is a
	// terminal (else it logs progress lines). Nil means Stderr; io.Discard
	// turns the bar off.
	Progress io.Writer
	// Now is the clock of the time module and of job.run; nil means
	// time.Now.
	Now func() time.Time
	// TMC configures tmc.listen's consumer: the channel's URL (default
	// tmc.DefaultURL) and timings; the app key and secret are the Client's
	// unless set here.
	TMC tmc.Config
	// MemoryLimit is the Go heap size, in bytes, over which a running
	// script is stopped with ErrMemoryLimit (the heap is the whole
	// process's: a host with a big heap of its own sets it higher). 0
	// means DefaultMemoryLimit; a negative value means no limit.
	MemoryLimit int64
	// Secrets are values no output of the engine may show (the app
	// secret, the session, a refresh token): they are replaced by
	// "[REDACTED]", by value, in print and io writes to the standard
	// streams (Stdout and Stderr below, also for the host's own output),
	// in log records (message, fields, text or JSON), in error messages
	// and tracebacks, in csv.writer and xlsx.writer cells and job reports
	// (CSV or .xlsx). Files a script
	// writes with io.open are its own data, written as they are. Values
	// shorter than 3 bytes are ignored.
	Secrets []string
	// HideSecretEnv makes os.getenv answer nil for the variables named in
	// SecretEnv and for any variable whose value holds one of Secrets.
	HideSecretEnv bool
	SecretEnv     []string
	// LookupEnv reads the environment for os.getenv; nil means
	// os.LookupEnv.
	LookupEnv func(string) (string, bool)
	// Shop is the shop the run is for (top.shop); nil: none.
	Shop *luatop.Shop
	// ReportPath maps job.run's report paths (luatop.Options.ReportPath).
	ReportPath func(string) string
	// RunID names the run in progress (luatop.Options.RunID): each job
	// report is then kept per run, the name as given holding the latest.
	// Empty: a report is written to its name only.
	RunID string
}

// Engine runs Lua scripts. See the package documentation.
type Engine struct {
	L    *lua.LState
	opts Options

	stdin          io.Reader
	stdout, stderr io.Writer
	logger         *slog.Logger
	redactor       redact.Redactor
	flushers       []*redact.Writer // the redacting streams, flushed when a run ends

	// env is what the stdlib modules reach of the engine; it also keeps
	// the files of unfinished csv.rows iterators, closed when a run ends.
	env *stdlib.Env

	// per run
	ctx     context.Context
	cancel  context.CancelFunc
	exit    *ExitError
	running bool
	lastErr errInfo
	closed  bool
	io      *ioLib

	memMu   sync.Mutex
	memOver uint64 // heap size that made the watchdog stop the run
	refused string // the message of the run's last allocation refused by reserve
}

// errInfo is what the error handler records where an error was raised.
type errInfo struct {
	file, line string
	traceback  string
}

// New builds an Engine with its Lua state, safe libraries and modules.
func New(o Options) (e *Engine, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("engine: creating the Lua state: %v", r)
		}
	}()
	e = &Engine{opts: o, ctx: context.Background()}
	e.stdin, e.stdout, e.stderr = o.Stdin, o.Stdout, o.Stderr
	if e.stdin == nil {
		e.stdin = os.Stdin
	}
	if e.stdout == nil {
		e.stdout = os.Stdout
	}
	if e.stderr == nil {
		e.stderr = os.Stderr
	}
	// The progress bar needs the terminal itself (it draws only on one),
	// and shows counts and the job's name: it is not redacted.
	progress := o.Progress
	if progress == nil {
		progress = e.stderr
	}
	e.redactor = redact.New(o.Secrets...)
	if e.redactor.Active() {
		out, errw := redact.NewWriter(e.stdout, e.redactor), redact.NewWriter(e.stderr, e.redactor)
		e.stdout, e.stderr, e.flushers = out, errw, []*redact.Writer{out, errw}
	}
	e.logger = o.Logger
	if e.logger == nil {
		e.logger = slog.New(slog.NewTextHandler(e.stderr, nil))
	}
	e.logger = slog.New(redact.Handler(e.logger.Handler(), e.redactor))

	L := lua.NewState(lua.Options{SkipOpenLibs: true})
	e.L = L
	if err := e.openLibs(); err != nil {
		L.Close()
		return nil, err
	}
	e.installStringLib()
	e.hookCoroutines()

	allow := e.allowFunc()
	store := o.Store
	if store == nil {
		store = state.NewMemStore() // one for state and job checkpoints alike
	}
	var hide func(string) string
	if e.redactor.Active() {
		hide = e.redactor.Words
	}
	e.env = &stdlib.Env{
		Context: e.context,
		Logger:  e.logger,
		Stdout:  e.stdout,
		Now:     o.Now,
		Store:   store,
		Redact:  hide,
	}
	stdlib.Preload(L, e.env, allow)
	luatop.Preload(L, luatop.Options{
		Context:    e.context,
		Client:     o.Client,
		DryRun:     o.DryRun,
		Logger:     e.logger,
		Store:      store,
		Progress:   progress,
		OnJob:      o.OnJob,
		Now:        o.Now,
		TMC:        o.TMC,
		Shop:       o.Shop,
		ReportPath: o.ReportPath,
		RunID:      o.RunID,
		Redact:     hide,
	}, allow)
	e.installDisabledLoader(allow)

	for name, v := range o.Globals {
		e.Set(name, v)
	}
	return e, nil
}

// allowFunc returns the module filter of Options.Modules (nil = all).
func (e *Engine) allowFunc() func(string) bool {
	if e.opts.Modules == nil {
		return nil
	}
	set := make(map[string]bool, len(e.opts.Modules))
	for _, m := range e.opts.Modules {
		set[m] = true
	}
	return func(name string) bool { return set[name] }
}

// context returns the context of the run in progress (Background between runs).
func (e *Engine) context() context.Context {
	if e.ctx == nil {
		return context.Background()
	}
	return e.ctx
}

// Register makes a host module available to require(name). loader follows
// gopher-lua's convention: it pushes the module value (usually a table)
// and returns 1. Registered modules are allowed whatever Options.Modules says.
func (e *Engine) Register(name string, loader lua.LGFunction) {
	e.L.PreloadModule(name, loader)
}

// Set exposes a Go value to scripts as the global name, converted with
// gopher-luar (structs, maps, slices and funcs keep their Go behaviour;
// methods are callable with ':'). A lua.LValue is set as is.
func (e *Engine) Set(name string, v any) {
	if lv, ok := v.(lua.LValue); ok {
		e.L.SetGlobal(name, lv)
		return
	}
	e.L.SetGlobal(name, luar.New(e.L, v))
}

// Stdout and Stderr return the script's streams, with Options.Secrets
// hidden: a host printing beside the script (the REPL its values and
// errors) writes through them.
func (e *Engine) Stdout() io.Writer { return e.stdout }

// Stderr: see Stdout.
func (e *Engine) Stderr() io.Writer { return e.stderr }

// flush writes out what the redacting streams hold back.
func (e *Engine) flush() {
	for _, w := range e.flushers {
		w.Flush()
	}
}

// hide removes Options.Secrets from the text of an error the engine
// returns.
func (e *Engine) hide(err error) error {
	var se *ScriptError
	if e.redactor.Active() && errors.As(err, &se) {
		se.Msg = e.redactor.Text(se.Msg)
		se.Traceback = e.redactor.Text(se.Traceback)
		se.File = e.redactor.Words(se.File)
	}
	return err
}

// State returns the engine's Lua state, for hosts that need gopher-lua
// directly. Do not use it while a script runs.
func (e *Engine) State() *lua.LState { return e.L }

// Close releases the Lua state and any files the script left open. The
// Engine is unusable afterwards.
func (e *Engine) Close() {
	if e.closed {
		return
	}
	e.closed = true
	if e.io != nil {
		e.io.closeAll()
	}
	e.flush()
	e.L.Close()
}

// RunFile runs the script at path with args: arg[0] is path, arg[1..] the
// args, and the chunk also receives them as `...`. package.path is set to
// the script's directory. The compiled chunk is cached by path, size and
// modification time.
func (e *Engine) RunFile(ctx context.Context, path string, args []string) error {
	if err := CheckScriptFile(path); err != nil {
		return err
	}
	proto, err := compileFile(path)
	if err != nil {
		return err
	}
	e.setPath(filepath.Dir(path))
	e.setArg(path, args)
	lv := make([]lua.LValue, len(args))
	for i, a := range args {
		lv[i] = lua.LString(a)
	}
	_, err = e.run(ctx, proto, lv, 0)
	return err
}

// CheckScriptFile refuses, as RunFile does, a script path that is missing,
// not a regular file (a device such as /dev/zero, a FIFO, a directory) or
// too big to be a script: reading one would never end, or fill the
// memory. The error is a *ScriptError naming the path.
func CheckScriptFile(path string) error {
	st, err := os.Stat(path)
	switch {
	case err != nil:
		return &ScriptError{File: path, Msg: "cannot open script: " + pathErr(err), Err: err}
	case !st.Mode().IsRegular():
		return &ScriptError{File: path, Msg: "cannot run script: " + notRegular(st.Mode())}
	case st.Size() > MaxStringBytes:
		return &ScriptError{File: path, Msg: fmt.Sprintf("cannot run script: it is %s, over the limit of %s", byteSize(uint64(st.Size())), byteSize(MaxStringBytes))}
	}
	return nil
}

// notRegular says what a file that is not a regular file is.
func notRegular(m os.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory, not a file"
	case m&os.ModeNamedPipe != 0:
		return "a named pipe, not a regular file"
	case m&os.ModeDevice != 0:
		return "a device, not a regular file"
	case m&os.ModeSocket != 0:
		return "a socket, not a regular file"
	}
	return "not a regular file"
}

// RunString runs src as a chunk called name (used in error positions and
// arg[0]). package.path is the current directory. Compiled chunks are
// cached by name and source.
func (e *Engine) RunString(ctx context.Context, name, src string) error {
	if name == "" {
		name = "chunk"
	}
	proto, err := compileString(name, src)
	if err != nil {
		return err
	}
	e.setPath(".")
	e.setArg(name, nil)
	_, err = e.run(ctx, proto, nil, 0)
	return err
}

// Eval runs one REPL input and returns its values. It first tries
// "return "+src (so an expression yields its value), then src as a
// statement. When src is an unfinished chunk the error satisfies
// IsIncomplete. Globals persist between calls. Each call is a run of its
// own: a coroutine created in one call keeps that call's (then cancelled)
// context, so resume it within the same input.
func (e *Engine) Eval(ctx context.Context, src string) ([]lua.LValue, error) {
	const name = "stdin"
	proto, rerr := compileString(name, "return "+src)
	if rerr != nil {
		var err error
		proto, err = compileString(name, src)
		if err != nil {
			if IsIncomplete(rerr) && !IsIncomplete(err) {
				// "1 +" or "f(1,": an expression that goes on.
				return nil, rerr
			}
			return nil, err
		}
	}
	return e.run(ctx, proto, nil, lua.MultRet)
}

func (e *Engine) setPath(dir string) {
	pkg, ok := e.L.GetGlobal("package").(*lua.LTable)
	if !ok {
		return
	}
	sep := string(filepath.Separator)
	if dir == "" {
		dir = "."
	}
	p := dir + sep + "?.lua;" + dir + sep + "?" + sep + "init.lua"
	pkg.RawSetString("path", lua.LString(p))
}

func (e *Engine) setArg(name string, args []string) {
	t := e.L.CreateTable(len(args), 1)
	t.RawSetInt(0, lua.LString(name))
	for i, a := range args {
		t.RawSetInt(i+1, lua.LString(a))
	}
	e.L.SetGlobal("arg", t)
}

// run calls proto under ctx and converts every failure into an error.
func (e *Engine) run(ctx context.Context, proto *lua.FunctionProto, args []lua.LValue, nret int) (rets []lua.LValue, err error) {
	if e.closed {
		return nil, errors.New("engine: closed")
	}
	if e.running {
		return nil, errors.New("engine: already running a script")
	}
	if ctx == nil {
		ctx = context.Background()
	}
	if err := ctx.Err(); err != nil {
		return nil, &ScriptError{Msg: "interrupted: " + err.Error(), Err: err}
	}
	L := e.L
	inner, cancel := context.WithCancel(ctx)
	runCtx := boundContext{Context: inner, b: runBinder{e}}
	e.ctx, e.cancel, e.exit, e.running = runCtx, cancel, nil, true
	e.lastErr = errInfo{}
	e.memMu.Lock()
	e.memOver = 0
	e.memMu.Unlock()
	e.refused = ""
	e.hook(L, runCtx)
	base := L.GetTop()
	endWatch := e.watchMemory(cancel)
	defer func() {
		endWatch()
		if r := recover(); r != nil {
			// No Go panic reaches the host: report it as a script error.
			se := &ScriptError{}
			text := fmt.Sprint(r)
			if ae, ok := r.(*lua.ApiError); ok {
				// gopher-lua raised past PCall (its stack overflows do).
				text = lua.LVAsString(ae.Object)
			} else {
				buf := make([]byte, 4096)
				se.Traceback = string(buf[:runtime.Stack(buf, false)])
			}
			se.Msg = panicMessage(text, se)
			rets, err = nil, se
		}
		L.RemoveContext()
		L.SetTop(base)
		// Files of csv.rows and xlsx.rows iterators the run left unfinished;
		// workbooks of xlsx writers it did not close are written now.
		if cerr := e.env.CloseReaders(); cerr != nil && err == nil {
			rets, err = nil, &ScriptError{Msg: "xlsx.writer: the workbook was not closed by the script, and writing it at the end of the run failed: " + cerr.Error(), Err: cerr}
		}
		cancel()
		e.ctx, e.cancel, e.running = context.Background(), nil, false
		e.flush()
		err = e.hide(err)
	}()

	L.Push(e.errorHandler())
	L.Push(L.NewFunctionFromProto(proto))
	for _, a := range args {
		L.Push(a)
	}
	perr := L.PCall(len(args), nret, L.Get(base+1).(*lua.LFunction))
	endWatch()
	if used := e.memoryOverrun(); used > 0 {
		return nil, e.memoryError(used)
	}
	if e.exit != nil {
		if e.exit.Code == 0 {
			return nil, nil
		}
		return nil, e.exit
	}
	if perr != nil {
		return nil, e.scriptError(ctx, perr)
	}
	if n := L.GetTop() - base - 1; n > 0 {
		rets = make([]lua.LValue, n)
		for i := 0; i < n; i++ {
			rets[i] = L.Get(base + 2 + i)
		}
	}
	return rets, nil
}

// errorHandler returns the message handler of the outer PCall: it runs at
// the point of the error (before the stack unwinds) and records the Lua
// position and a traceback. It returns the error value unchanged.
func (e *Engine) errorHandler() *lua.LFunction {
	return e.L.NewFunction(func(L *lua.LState) int {
		obj := L.Get(1)
		info := errInfo{}
		var tb strings.Builder
		for level := 1; level < 200; level++ {
			dbg, ok := L.GetStack(level)
			if !ok {
				break
			}
			if _, err := L.GetInfo("Sl", dbg, lua.LNil); err != nil {
				continue
			}
			if dbg.What == "G" || dbg.CurrentLine <= 0 {
				continue
			}
			if info.file == "" {
				info.file = dbg.Source
				info.line = fmt.Sprint(dbg.CurrentLine)
			}
			if level < 40 {
				fmt.Fprintf(&tb, "\t%s:%d\n", dbg.Source, dbg.CurrentLine)
			}
		}
		info.traceback = strings.TrimRight(tb.String(), "\n")
		e.lastErr = info
		// The error ends the run: close what its frames captured, so a
		// closure the chunk left behind keeps its values (the REPL).
		lua51lib.CloseUpvalues(L)
		L.Push(obj)
		return 1
	})
}

// scriptError converts the error of the outer PCall.
func (e *Engine) scriptError(ctx context.Context, perr error) error {
	se := &ScriptError{Traceback: e.lastErr.traceback}
	var obj lua.LValue = lua.LString(perr.Error())
	var ae *lua.ApiError
	if errors.As(perr, &ae) {
		obj = ae.Object
		if ae.Type == lua.ApiErrorPanic {
			se.Msg = panicMessage(lua.LVAsString(obj), se)
		}
	}
	// The run was interrupted (Ctrl-C, --timeout): say so, whatever the
	// Lua error looked like.
	if cerr := ctx.Err(); cerr != nil {
		se.Err = cerr
		se.Msg = "interrupted: " + cerr.Error()
		e.positionFromHandler(se)
		return se
	}
	if se.Msg == "" {
		switch v := obj.(type) {
		case lua.LString:
			if file, line, msg, ok := splitPosition(string(v)); ok {
				se.File, se.Line, se.Msg = file, line, msg
			} else {
				se.Msg = string(v)
				e.positionFromHandler(se)
			}
			if e.refused != "" && se.Msg == e.refused {
				se.Err = ErrMemoryLimit
			}
		default:
			if te, ok := luatop.TopErrorFrom(v); ok {
				se.Top = te
				se.Msg = te.Error()
			} else {
				// A table raised as an error shows its fields ({code = 1,
				// msg = "boom"}), not "table: 0xc000123".
				se.Msg = stdlib.FormatLine(e.L, v, maxErrorText)
			}
			e.positionFromHandler(se)
		}
	}
	return se
}

// panicMessage turns the text of a Go panic the VM recovered (gopher-lua
// appends a Lua traceback to it) into one line, moving the traceback to se
// and reading the position off the first line. gopher-lua's own overflow
// panics are reported as the stack overflows they are.
func panicMessage(text string, se *ScriptError) string {
	msg, tb, found := strings.Cut(text, "\nstack traceback:")
	if found && se.Traceback == "" {
		se.Traceback = strings.TrimSpace(tb)
	}
	if file, line, rest, ok := splitPosition(msg); ok {
		se.File, se.Line, msg = file, line, rest
	}
	switch msg {
	case "registry overflow", "lua callstack overflow":
		return "stack overflow (" + msg + ": too many nested calls or values on the Lua stack)"
	}
	return "internal error: " + strings.Join(strings.Fields(msg), " ")
}

func (e *Engine) positionFromHandler(se *ScriptError) {
	if se.File != "" || e.lastErr.file == "" {
		return
	}
	se.File = e.lastErr.file
	fmt.Sscan(e.lastErr.line, &se.Line)
}

// maxErrorText bounds the text of an error value that is not a string.
const maxErrorText = 300
