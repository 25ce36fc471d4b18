package engine

import (
	"errors"
	"strconv"
	"strings"

	lua "github.com/yuin/gopher-lua"
	"github.com/yuin/gopher-lua/parse"

	"github.com/topscript/topscript/internal/luacompile"
	"github.com/topscript/topscript/top"
)

// ScriptError is a script's failure: a syntax error, an uncaught Lua error
// or an uncaught TOP error value, with the position it was raised at.
// Match it with errors.As. Error() is "file:line: msg".
type ScriptError struct {
	File string // chunk name: the script path as given, or RunString's name
	Line int    // 0 when unknown
	Msg  string // the message without the position
	// Top holds the fields of an uncaught TOP error value (the table
	// top.call raises); nil for other errors.
	Top *top.Error
	// Traceback is the Lua stack at the point of the error, one frame a
	// line, for verbose output; it may be empty.
	Traceback string
	// Err is an underlying Go error, if any: context.Canceled or
	// context.DeadlineExceeded when the run was interrupted.
	Err error
	// Syntax is true for errors found while compiling the chunk.
	Syntax bool

	incomplete bool
}

// Error returns "file:line: msg" (or "file: msg" without a line).
func (e *ScriptError) Error() string {
	switch {
	case e.File != "" && e.Line > 0:
		return e.File + ":" + strconv.Itoa(e.Line) + ": " + e.Msg
	case e.File != "":
		return e.File + ": " + e.Msg
	}
	return e.Msg
}

// Unwrap returns the TOP error or the underlying Go error, so errors.As
// finds a *top.Error and errors.Is finds context.Canceled.
func (e *ScriptError) Unwrap() []error {
	var errs []error
	if e.Top != nil {
		errs = append(errs, e.Top)
	}
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	return errs
}

// ExitError reports that the script called os.exit with a non-zero code.
// os.exit(0) (or os.exit(true), or os.exit()) ends the script with a nil
// error instead.
type ExitError struct {
	Code int
}

// Error returns "exit status N".
func (e *ExitError) Error() string { return "exit status " + strconv.Itoa(e.Code) }

// IsIncomplete reports whether err is a syntax error at the end of the
// input (an unfinished block, string or expression), which the REPL reads
// as "continue on the next line".
func IsIncomplete(err error) bool {
	var se *ScriptError
	if errors.As(err, &se) {
		return se.incomplete
	}
	var ae *lua.ApiError
	if errors.As(err, &ae) {
		return incompleteCause(ae.Cause)
	}
	return incompleteCause(err)
}

func incompleteCause(err error) bool {
	var ce *luacompile.Error
	if errors.As(err, &ce) {
		return ce.EOF
	}
	var pe *parse.Error
	if !errors.As(err, &pe) {
		return false
	}
	if pe.Pos.Line == parse.EOF {
		return true
	}
	return strings.Contains(pe.Message, "unterminated multiline string")
}

// syntaxError converts the error of compiling chunk name.
func syntaxError(name string, err error) *ScriptError {
	se := &ScriptError{File: name, Syntax: true, Err: err, Msg: err.Error()}
	var ce *luacompile.Error
	if errors.As(err, &ce) {
		se.Line, se.Msg, se.incomplete = ce.Line, ce.Msg, ce.EOF
	}
	return se
}

// splitPosition splits gopher-lua's "file:line: msg" into its parts.
func splitPosition(s string) (file string, line int, msg string, ok bool) {
	// Find the first ":<digits>: " in s.
	for i := 0; i < len(s); i++ {
		if s[i] != ':' {
			continue
		}
		j := i + 1
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		if j > i+1 && j+1 < len(s)+1 && j < len(s) && s[j] == ':' {
			n, err := strconv.Atoi(s[i+1 : j])
			if err != nil || i == 0 {
				continue
			}
			rest := s[j+1:]
			rest = strings.TrimPrefix(rest, " ")
			return s[:i], n, rest, true
		}
	}
	return "", 0, s, false
}
