// Package cli implements the topscript command line. Every command works
// on one injected State (arguments, streams, environment, working
// directory, interrupts), so the whole CLI runs in-process in tests.
package cli

import (
	"context"
	"errors"
	"fmt"
	"github.com/topscript/topscript/internal/suggest"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
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

// command is one subcommand.
type command struct {
	name  string
	usage string // synopsis after "topscript "
	short string
	long  string // paragraphs of its help after the synopsis
	run   func(ctx context.Context, st *State, c *command, args []string) error
}

// commands lists the commands in help order.
var commands []*command

func init() {
	commands = []*command{
		runCommand, replCommand, callCommand, sandboxCommand,
		scheduleCommand, apiCommand, configCommand, versionCommand,
	}
}

// Main runs the command line of st and returns the exit code. It never
// panics: a panic is reported as a one-line internal error, exit 1.
func Main(st *State) (code int) {
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
	return report(st, dispatch(context.Background(), st, st.Args))
}

func dispatch(ctx context.Context, st *State, args []string) error {
	if len(args) == 0 {
		writeHelp(st.Stderr)
		return &exitError{code: ExitUsage}
	}
	name := args[0]
	switch name {
	case "help", "-h", "-help", "--help":
		if len(args) > 1 && name == "help" {
			if c := lookup(args[1]); c != nil {
				return c.run(ctx, st, c, []string{"-h"})
			}
			return usageErrorf("", "unknown command %q", args[1])
		}
		writeHelp(st.Stdout)
		return nil
	case "-version", "--version":
		name = "version"
	}
	c := lookup(name)
	if c == nil {
		msg := fmt.Sprintf("unknown command %q", name)
		if s := suggest.Closest(name, commandNames()); s != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", s)
		}
		return usageErrorf("", "%s", msg)
	}
	return c.run(ctx, st, c, args[1:])
}

func lookup(name string) *command {
	for _, c := range commands {
		if c.name == name {
			return c
		}
	}
	return nil
}

func commandNames() []string {
	var names []string
	for _, c := range commands {
		names = append(names, c.name)
	}
	return names
}

func writeHelp(w io.Writer) {
	fmt.Fprint(w, "topscript runs Lua automation scripts against the Taobao Open Platform (TOP).\n\nUsage:\n")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, c := range commands {
		fmt.Fprintf(tw, "  topscript %s\t%s\n", c.usage, c.short)
	}
	tw.Flush()
	fmt.Fprint(w, `
Run "topscript COMMAND -h" for a command's flags.

Exit codes: 0 ok, 1 script error, 2 usage or configuration error,
3 a job finished with failed rows, 4 lock held, 130 interrupted.
`)
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

// report prints err and returns its exit code.
func report(st *State, err error) int {
	if err == nil {
		return ExitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.msg != "" {
			fmt.Fprintln(st.Stderr, strings.TrimRight(ee.msg, "\n"))
		}
		return ee.code
	}
	fmt.Fprintf(st.Stderr, "topscript: %v\n", err)
	return ExitScript
}
