package sheet

import (
	"fmt"
	"strings"
)

// Error is a problem in a table's file, located as precisely as is known.
// Readers of every format return it (match it with errors.As); its text
// starts with the location:
//
//	prices.csv:12: row has 2 columns, header has 3
//	prices.csv:3:7: extraneous or missing " in quoted-field
//	prices.xlsx: sheet "价格表", cell D12: ...
//	prices.xlsx: sheet "价格表", row 12: ...
type Error struct {
	Path   string // the file as given
	Sheet  string // worksheet name; "" for text files
	Line   int    // 1-based line or row; 0 when not about one
	Column int    // 1-based column of a text file; 0 when not about one
	Cell   string // cell reference in a worksheet ("D12"); "" when not about one
	Err    error  // what is wrong
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Path)
	switch {
	case e.Sheet != "":
		fmt.Fprintf(&b, ": sheet %q", e.Sheet)
		switch {
		case e.Cell != "":
			fmt.Fprintf(&b, ", cell %s", e.Cell)
		case e.Line > 0:
			fmt.Fprintf(&b, ", row %d", e.Line)
		}
	case e.Line > 0:
		fmt.Fprintf(&b, ":%d", e.Line)
		if e.Column > 0 {
			fmt.Fprintf(&b, ":%d", e.Column)
		}
	}
	b.WriteString(": ")
	b.WriteString(e.Err.Error())
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// errorf builds an *Error about path at line (0 for the whole file).
func errorf(path string, line int, format string, args ...any) *Error {
	return &Error{Path: path, Line: line, Err: fmt.Errorf(format, args...)}
}
