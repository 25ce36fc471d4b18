// Package repl is topscript's interactive Lua prompt over a engine.Engine.
//
// On a terminal it edits lines with liner: prompt "top> ", continuation
// "...> " while a chunk is incomplete, Tab completion (globals, module
// fields, TOP method names inside a string argument, a method's parameter
// names inside its params table), history in
// ~/.topscript_history, Ctrl-C clearing the line at the prompt or cancelling
// the running evaluation, Ctrl-D leaving. Expressions print their values;
// tables are pretty-printed; an error prints one line and the session goes
// on.
//
// When standard input is not a terminal, Run reads lines (multi-line chunks
// included) and prints the same output without prompts; a chunk that fails
// prints its error and the input goes on (or stops, with
// Options.StopOnError), and Run then returns ErrInputFailed, so that a
// piped session exits non-zero as `lua -` does.
package repl

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync/atomic"

	"github.com/peterh/liner"
	lua "github.com/yuin/gopher-lua"
	"github.com/yuin/gopher-lua/parse"
	"golang.org/x/term"

	"github.com/topscript/topscript/engine"
	"github.com/topscript/topscript/top/catalog"
)

// Prompts.
const (
	Prompt     = "top> "
	MorePrompt = "...> "
)

// HistoryFile is the name of the history file in the user's home directory.
const HistoryFile = ".topscript_history"

// Options configure Run.
type Options struct {
	// Engine evaluates the input; required. Run makes the stdlib modules
	// the engine allows available as globals (json, csv, time, log, iter)
	// for convenience.
	Engine *engine.Engine
	// In is the input; nil means os.Stdin. The line editor is used only
	// when In is the process's standard input and both it and standard
	// output are terminals.
	In io.Reader
	// Out receives values, Err error lines; nil means os.Stdout and
	// os.Stderr.
	Out, Err io.Writer
	// HistoryPath is the history file; "" means $HOME/.topscript_history
	// and "-" keeps no history.
	HistoryPath string
	// Methods are the TOP method names Tab completes inside strings; nil
	// means the names in the catalog.
	Methods []string
	// StopOnError stops reading piped input at the first chunk that fails
	// (a terminal session always goes on).
	StopOnError bool
}

// ErrInputFailed is Run's error when input that is not a terminal had a
// chunk that failed (its error is printed where it happened).
var ErrInputFailed = errors.New("repl: the input had errors")

// Run runs the REPL until end of input (Ctrl-D), then returns nil. It
// returns an error when it cannot run (no engine, an unreadable input),
// when ctx ends, and ErrInputFailed when piped input had a failing chunk.
//
// On a terminal Run handles SIGINT itself while evaluating (it cancels the
// evaluation and returns to the prompt): the caller should not cancel ctx
// on SIGINT.
func Run(ctx context.Context, o Options) error {
	if o.Engine == nil {
		return errors.New("repl: no engine")
	}
	if ctx == nil {
		ctx = context.Background()
	}
	s := &session{eng: o.Engine, L: o.Engine.State(), out: o.Out, errw: o.Err}
	if s.out == nil {
		s.out = os.Stdout
	}
	if s.errw == nil {
		s.errw = os.Stderr
	}
	s.importModules()
	in := o.In
	if in == nil {
		in = os.Stdin
	}
	if isTerminal(in) {
		methods := o.Methods
		if methods == nil {
			methods = catalog.Names()
		}
		return s.interactive(ctx, historyPath(o.HistoryPath), NewCompleter(s.L, methods))
	}
	return s.pipe(ctx, in, o.StopOnError)
}

// isTerminal reports whether in is standard input on a terminal, with
// standard output a terminal too (liner drives both).
func isTerminal(in io.Reader) bool {
	f, ok := in.(*os.File)
	if !ok || f.Fd() != os.Stdin.Fd() {
		return false
	}
	return term.IsTerminal(int(f.Fd())) && term.IsTerminal(int(os.Stdout.Fd()))
}

// historyPath resolves Options.HistoryPath.
func historyPath(p string) string {
	switch p {
	case "-":
		return ""
	case "":
		home := os.Getenv("HOME")
		if home == "" {
			home, _ = os.UserHomeDir()
		}
		if home == "" {
			return ""
		}
		return filepath.Join(home, HistoryFile)
	}
	return p
}

// session is the evaluation state shared by both modes.
type session struct {
	eng     *engine.Engine
	L       *lua.LState
	out     io.Writer
	errw    io.Writer
	pending string // lines of an incomplete chunk
}

// importModules sets each allowed built-in module as a global of its name,
// unless the name is taken, so `json.encode(...)` works without require.
func (s *session) importModules() {
	req, ok := s.L.GetGlobal("require").(*lua.LFunction)
	if !ok {
		return
	}
	for _, name := range engine.ModuleNames() {
		if s.L.GetGlobal(name) != lua.LNil {
			continue
		}
		func() {
			defer func() { recover() }()
			top := s.L.GetTop()
			defer s.L.SetTop(top)
			if err := s.L.CallByParam(lua.P{Fn: req, NRet: 1, Protect: true}, lua.LString(name)); err != nil {
				return // not allowed in this engine
			}
			if m := s.L.Get(-1); m != lua.LNil {
				s.L.SetGlobal(name, m)
			}
		}()
	}
}

// feed adds one input line and evaluates the chunk when it is complete. It
// reports whether more lines are needed, and whether the chunk failed (its
// error is printed). interrupted, if set, tells that the evaluation was
// cancelled by the user.
func (s *session) feed(ctx context.Context, line string, interrupted *atomic.Bool) (more, failed bool) {
	chunk := line
	if s.pending != "" {
		chunk = s.pending + "\n" + line
	}
	if strings.TrimSpace(chunk) == "" {
		s.pending = ""
		return false, false
	}
	src := chunk
	if strings.HasPrefix(strings.TrimSpace(src), "=") { // Lua 5.1's "=expr"
		src = strings.TrimPrefix(strings.TrimSpace(src), "=")
	}
	vals, err := s.eval(ctx, src)
	if err != nil && (engine.IsIncomplete(err) || incompleteExpr(src)) {
		s.pending = chunk
		return true, false
	}
	s.pending = ""
	switch {
	case err != nil && interrupted != nil && interrupted.Load():
		fmt.Fprintln(s.errw, "interrupted")
	case err != nil:
		fmt.Fprintln(s.errw, oneLine(err.Error()))
	case len(vals) > 0:
		fmt.Fprintln(s.out, s.format(vals))
	}
	return false, err != nil
}

// incompleteExpr reports whether src is the start of an expression that
// goes on (e.g. "1 +" or "f(1,"), which Engine.Eval reports as a statement
// syntax error.
func incompleteExpr(src string) bool {
	_, err := parse.Parse(strings.NewReader("return "+src), "stdin")
	return err != nil && engine.IsIncomplete(err)
}

// eval runs Engine.Eval, turning a Go panic into an error.
func (s *session) eval(ctx context.Context, src string) (vals []lua.LValue, err error) {
	defer func() {
		if r := recover(); r != nil {
			vals, err = nil, fmt.Errorf("internal error: %v", r)
		}
	}()
	return s.eng.Eval(ctx, src)
}

// format renders values, never panicking.
func (s *session) format(vals []lua.LValue) (out string) {
	defer func() {
		if r := recover(); r != nil {
			out = fmt.Sprintf("<unprintable: %v>", r)
		}
	}()
	return FormatValues(s.L, vals)
}

// oneLine folds a message onto one line.
func oneLine(msg string) string {
	msg = strings.TrimSpace(msg)
	if !strings.ContainsAny(msg, "\r\n") {
		return msg
	}
	return strings.Join(strings.Fields(strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(msg)), " ")
}

// pipe evaluates lines from in without prompts: ErrInputFailed when a
// chunk failed, at once with stop.
func (s *session) pipe(ctx context.Context, in io.Reader, stop bool) error {
	br := bufio.NewReaderSize(in, 64<<10)
	failed := false
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		line, err := br.ReadString('\n')
		if line != "" || err == nil {
			if _, bad := s.feed(ctx, strings.TrimRight(line, "\r\n"), nil); bad {
				failed = true
				if stop {
					return ErrInputFailed
				}
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("repl: reading input: %w", err)
		}
	}
	if s.pending != "" {
		// Report what is wrong with the unfinished chunk.
		_, err := s.eval(ctx, s.pending)
		if err == nil {
			err = errors.New("incomplete input")
		}
		fmt.Fprintln(s.errw, oneLine(err.Error()))
		s.pending = ""
		failed = true
	}
	if failed {
		return ErrInputFailed
	}
	return nil
}

// interactive runs the line editor on the terminal.
func (s *session) interactive(ctx context.Context, history string, c *Completer) error {
	ln := liner.NewLiner()
	defer ln.Close()
	ln.SetCtrlCAborts(true)
	ln.SetTabCompletionStyle(liner.TabPrints)
	ln.SetWordCompleter(c.Complete)
	ln.SetMultiLineMode(true)

	h := &historyFile{path: history, errw: s.errw}
	h.load(ln)
	defer h.save(ln)

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt)
	defer signal.Stop(sigs)

	fmt.Fprintln(s.out, "topscript REPL (Lua 5.1). Tab completes; Ctrl-C cancels; Ctrl-D exits.")
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		prompt := Prompt
		if s.pending != "" {
			prompt = MorePrompt
		}
		line, err := ln.Prompt(prompt)
		switch {
		case errors.Is(err, liner.ErrPromptAborted):
			s.pending = "" // Ctrl-C at the prompt: drop the line (and any unfinished chunk)
			continue
		case errors.Is(err, io.EOF):
			fmt.Fprintln(s.out)
			return nil
		case err != nil:
			return fmt.Errorf("repl: %w", err)
		}
		if strings.TrimSpace(line) != "" {
			ln.AppendHistory(line)
		}
		s.evalInterruptible(ctx, sigs, line)
		if s.pending == "" {
			h.save(ln)
		}
	}
}

// evalInterruptible feeds line under a context that SIGINT cancels.
func (s *session) evalInterruptible(ctx context.Context, sigs chan os.Signal, line string) {
	// A SIGINT that came while prompting (e.g. kill -INT) is stale.
	for len(sigs) > 0 {
		<-sigs
	}
	evalCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var interrupted atomic.Bool
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-sigs:
			interrupted.Store(true)
			cancel()
		case <-done:
		}
	}()
	s.feed(evalCtx, line, &interrupted)
}

// historyFile loads and saves the liner history, warning once on failure.
type historyFile struct {
	path   string
	errw   io.Writer
	warned bool
}

func (h *historyFile) load(ln *liner.State) {
	if h.path == "" {
		return
	}
	f, err := os.Open(h.path)
	if err != nil {
		return
	}
	defer f.Close()
	ln.ReadHistory(f)
}

func (h *historyFile) save(ln *liner.State) {
	if h.path == "" {
		return
	}
	f, err := os.OpenFile(h.path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err == nil {
		_, err = ln.WriteHistory(f)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil && !h.warned {
		h.warned = true
		fmt.Fprintf(h.errw, "warning: cannot save history: %v\n", err)
	}
}
