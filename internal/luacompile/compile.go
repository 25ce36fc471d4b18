package luacompile

import (
	"errors"
	"fmt"
	"strings"

	lua "github.com/yuin/gopher-lua"
	"github.com/yuin/gopher-lua/ast"
	"github.com/yuin/gopher-lua/parse"
)

// Error is a chunk that cannot be compiled. Error() is "chunk:line: msg".
type Error struct {
	Chunk string // the chunk name
	Line  int    // the line of the error; at the end of the input, its last line
	Msg   string // "syntax error near 'x'", "syntax error: unexpected end of input"...
	// EOF is set when the input ended too early (an unfinished block,
	// string or expression): more input could complete it. The REPL reads
	// on.
	EOF bool
	Err error // the *parse.Error or *lua.CompileError, if any
}

func (e *Error) Error() string { return fmt.Sprintf("%s:%d: %s", e.Chunk, e.Line, e.Msg) }

func (e *Error) Unwrap() error { return e.Err }

// Compile parses src as the chunk name, rewrites the shapes gopher-lua
// miscompiles (see Rewrite) and compiles it. A failure is an *Error; no
// panic of the parser or compiler escapes.
func Compile(name, src string) (*lua.FunctionProto, error) {
	chunk, err := Parse(name, src)
	if err != nil {
		return nil, err
	}
	return compile(name, src, Rewrite(chunk))
}

// Parse parses src as the chunk name.
func Parse(name, src string) (chunk []ast.Stmt, err error) {
	defer func() {
		if r := recover(); r != nil {
			chunk, err = nil, &Error{Chunk: name, Line: lastLine(src), Msg: fmt.Sprintf("syntax error: the parser failed (%v)", r)}
		}
	}()
	chunk, err = parse.Parse(strings.NewReader(src), name)
	if err != nil {
		return nil, syntaxError(name, src, err)
	}
	return chunk, nil
}

func compile(name, src string, chunk []ast.Stmt) (proto *lua.FunctionProto, err error) {
	defer func() {
		if r := recover(); r != nil {
			// gopher-lua's compiler panics on some shapes instead of
			// reporting them (an index out of range while patching jumps).
			proto, err = nil, &Error{Chunk: name, Line: 1, Msg: fmt.Sprintf("cannot compile this chunk: the compiler failed (%v)", r)}
		}
	}()
	proto, err = lua.Compile(chunk, name)
	if err != nil {
		return nil, syntaxError(name, src, err)
	}
	return proto, nil
}

// lastLine is the line the end of src is on, as Lua 5.1 counts it.
func lastLine(src string) int { return strings.Count(src, "\n") + 1 }

// syntaxError converts a parse or compile error of chunk name.
func syntaxError(name, src string, err error) *Error {
	e := &Error{Chunk: name, Err: err}
	var pe *parse.Error
	var ce *lua.CompileError
	switch {
	case errors.As(err, &pe):
		msg := strings.TrimSpace(pe.Message)
		detail := ""
		if msg != "" && msg != "syntax error" {
			detail = ": " + msg
		}
		switch {
		case pe.Pos.Line == parse.EOF:
			e.EOF = true
			e.Line = lastLine(src)
			e.Msg = "syntax error: unexpected end of input" + detail
		case pe.Token != "":
			e.Line = pe.Pos.Line
			e.Msg = fmt.Sprintf("syntax error near '%s'%s", pe.Token, detail)
		default:
			e.Line = pe.Pos.Line
			e.Msg = "syntax error" + detail
		}
		if strings.Contains(msg, "unterminated multiline string") {
			// It runs to the end of the input.
			e.EOF = true
			e.Line = lastLine(src)
		}
	case errors.As(err, &ce):
		e.Line = ce.Line
		e.Msg = "syntax error: " + ce.Message
	default:
		e.Line = lastLine(src)
		e.Msg = "syntax error: " + strings.TrimSpace(err.Error())
	}
	if e.Line <= 0 {
		e.Line = 1
	}
	return e
}
