// Package cli implements the topscript command line. Every command works
// on one injected State (arguments, streams, environment, working
// directory, interrupts), so the whole CLI runs in-process in tests.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
)

// Exit codes: the contract users and scripts rely on (see docs/ARCHITECTURE.md).
const (
	ExitOK          = 0
	ExitScript      = 1   // uncaught script error, TOP error of `call`, internal error
	ExitUsage       = 2   // bad command line or configuration
	ExitJobFailed   = 3   // a job finished with failed rows
	ExitLockHeld    = 4   // another run holds the script's lock
	ExitInterrupted = 130 // SIGINT or SIGTERM
)

// ErrInterrupted is the cause of a context cancelled by SIGINT or SIGTERM.
var ErrInterrupted = errors.New("interrupted")

// State is everything a command reaches outside itself.
type State struct {
	// Args are the command-line arguments after the program name.
	Args []string
	// Stdin, Stdout and Stderr are the process's streams.
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// LookupEnv reads an environment variable.
	LookupEnv func(string) (string, bool)
	// Interruptible returns a context cancelled with cause ErrInterrupted
	// on SIGINT or SIGTERM, and a function that stops listening.
	Interruptible func(context.Context) (context.Context, context.CancelFunc)
	// Version is the version string `topscript version` prints.
	Version string
	// OpenURL opens a page in the user's browser (auth login); nil opens
	// it with the desktop's opener, where there is one.
	OpenURL func(url string) error

	// errLog, when set, prints the error that ends the command as a log
	// record: a command under --log-format json sets it, so that its last
	// line is a JSON record like every other line of its stderr.
	errLog *slog.Logger
}

// OS is the State of the running process. A second SIGINT or SIGTERM
// while the first is being handled exits at once with code 130.
func OS(version string) *State {
	return &State{
		Args:          os.Args[1:],
		Stdin:         os.Stdin,
		Stdout:        os.Stdout,
		Stderr:        os.Stderr,
		LookupEnv:     os.LookupEnv,
		Interruptible: notifyContext,
		Version:       version,
	}
}

// notifyContext cancels on the first SIGINT/SIGTERM and exits on the second.
func notifyContext(parent context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(parent)
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case <-ch:
			cancel(ErrInterrupted)
		case <-done:
			return
		}
		select {
		case <-ch:
			fmt.Fprintln(os.Stderr, "topscript: interrupted again; exiting now")
			os.Exit(ExitInterrupted)
		case <-done:
		}
	}()
	return ctx, func() {
		signal.Stop(ch)
		close(done)
		cancel(context.Canceled)
	}
}

// getenv reads a variable, "" when unset.
func (st *State) getenv(name string) string {
	if st.LookupEnv == nil {
		return ""
	}
	v, _ := st.LookupEnv(name)
	return v
}

// Main runs the command line of st and returns the exit code. It never
// panics: a panic is reported as a one-line internal error, exit 1.
func Main(st *State) int { return mainWith(st, st.Args, nil) }

// mainWith is Main over the command tree root (nil: topscript's).
func mainWith(st *State, args []string, root *cobra.Command) (code int) {
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(st.Stderr, "topscript: internal error: %v\n", r)
			code = ExitScript
		}
	}()
	if st.Interruptible == nil {
		st.Interruptible = func(ctx context.Context) (context.Context, context.CancelFunc) {
			return context.WithCancel(ctx)
		}
	}
	st.errLog = nil
	if root == nil {
		root = newRoot(st)
	}
	return report(st, execute(context.Background(), root, args))
}

// dispatch runs the command line args on a fresh command tree.
func dispatch(ctx context.Context, st *State, args []string) error {
	return execute(ctx, newRoot(st), args)
}

// exitError ends a command with a code and an optional message. It wraps
// the error that ended the command, when there is one, so errors.As still
// finds a *top.Error or an *engine.ScriptError through it.
type exitError struct {
	code int
	msg  string // printed to stderr as is, when not ""
	err  error  // the cause, if any
}

func (e *exitError) Error() string { return e.msg }

// Unwrap returns the cause.
func (e *exitError) Unwrap() error { return e.err }

// usageErrorf is a command-line mistake of command cmd ("" = topscript
// itself): exit 2 with a pointer to the help.
func usageErrorf(cmd, format string, args ...any) error {
	prefix, help := "topscript", "topscript help"
	if cmd != "" {
		prefix, help = "topscript "+cmd, "topscript "+cmd+" -h"
	}
	return &exitError{code: ExitUsage, msg: fmt.Sprintf("%s: %s\nRun '%s' for usage.", prefix, fmt.Sprintf(format, args...), help)}
}

// configError is a configuration problem: exit 2, the error as is (it
// names file, line and key).
func configError(err error) error {
	return &exitError{code: ExitUsage, msg: err.Error(), err: err}
}

// report prints err and returns its exit code. Under --log-format json
// (st.errLog) the message is one JSON record at level ERROR carrying the
// exit code, so a JSON log stream stays JSON to its last line.
func report(st *State, err error) int {
	if err == nil {
		return ExitOK
	}
	code, msg := ExitScript, "topscript: "+err.Error()
	var ee *exitError
	if errors.As(err, &ee) {
		code, msg = ee.code, ee.msg
	}
	msg = strings.TrimRight(msg, "\n")
	switch {
	case msg == "":
	case st.errLog != nil:
		st.errLog.Error(msg, "exit_code", code)
	default:
		fmt.Fprintln(st.Stderr, msg)
	}
	return code
}
