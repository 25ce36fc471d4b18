package stdlib

import (
	"fmt"
	"io"
	"sync"

	lua "github.com/yuin/gopher-lua"

	"github.com/topscript/topscript/sheet"
)

// This file is what csv.rows and xlsx.rows (and csv.read and xlsx.read)
// share: a reader of header-keyed rows over a table file, the iterator
// value that holds it, and the columns that travel with the values.
//
// The columns travel with the values: the arrays of csv.read and
// xlsx.read and the iterators of csv.rows and xlsx.rows carry their header
// (RowsHeader reads it, with the labels of a 淘宝助理 export; job.run's
// report takes its input columns from it, and its columns option resolves
// against it) and their file (RowsSource). The iterators are callable
// values that hold their open file: it is closed at the end of the input,
// on an error, when the iterator is garbage-collected unfinished, and when
// the run that opened it ends (an iterator kept past its run, in the REPL,
// then says so instead of reading on).

// Metatable fields of csv.read's and xlsx.read's arrays: their header (an
// array of names), its labels (when the file has them) and the file they
// were read from.
const (
	rowsHeaderField = "__header"
	rowsLabelsField = "__labels"
	rowsPathField   = "__path"
	rowsLinesField  = "__lines"
)

// rowSource is what a rowsReader reads: sheet.CSVReader or xlsx.Reader.
type rowSource interface {
	Header() sheet.Header
	Next() (sheet.Row, error)
	Close() error
}

// rowsReader streams header-keyed rows out of a table file and carries
// what an iterator needs: its header and whether its file is still open.
type rowsReader struct {
	fn     string // "csv.rows" or "xlsx.rows": the iterator's type, named in errors
	path   string
	src    rowSource
	header sheet.Header
	keys   []string

	mu      sync.Mutex // close may come from the garbage collector's goroutine
	done    bool       // the file is closed
	expired bool       // closed because the run that opened it ends
}

func newRowsReader(fn, path string, src rowSource) *rowsReader {
	h := src.Header()
	return &rowsReader{fn: fn, path: path, src: src, header: h, keys: h.Names}
}

// close closes the file, once; safe on any goroutine.
func (r *rowsReader) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.done {
		r.done = true
		r.src.Close()
	}
}

// isDone reports whether the file is closed.
func (r *rowsReader) isDone() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.done
}

// expire closes the file of an iterator whose run ended: reading it again
// is an error, not an end.
func (r *rowsReader) expire() {
	r.mu.Lock()
	if !r.done {
		r.expired = true
	}
	r.mu.Unlock()
	r.close()
}

// next returns the next row as a table and its line number, or nil at the
// end of the file. The file is closed at the end and on errors.
func (r *rowsReader) next(L *lua.LState) (*lua.LTable, int, error) {
	if r.expired {
		return nil, 0, fmt.Errorf("%s: the file was closed when the run that opened it ended (open it again with %s)", r.path, r.fn)
	}
	if r.isDone() {
		return nil, 0, nil
	}
	row, err := r.src.Next()
	if err != nil {
		r.close()
		if err == io.EOF {
			return nil, 0, nil
		}
		return nil, 0, err
	}
	t := L.CreateTable(0, len(row.Values))
	for i, v := range row.Values {
		t.RawSetString(r.keys[i], lua.LString(v))
	}
	return t, row.Line, nil
}

// readAll reads every row into an array (for json, an array) that carries
// its header, labels and file; fn names the function in errors.
func (r *rowsReader) readAll(L *lua.LState, fn string) *lua.LTable {
	defer r.close()
	out, lines := L.NewTable(), L.NewTable()
	for {
		row, line, err := r.next(L)
		if err != nil {
			L.RaiseError("%s: %v", fn, err)
		}
		if row == nil {
			break
		}
		out.Append(row)
		lines.RawSet(row, lua.LNumber(line))
	}
	mt := L.CreateTable(0, 5)
	mt.RawSetString(rowsLinesField, lines)
	mt.RawSetString(JSONTypeField, lua.LString("array"))
	mt.RawSetString(rowsHeaderField, ToLua(L, r.header.Names))
	if r.header.Labels != nil {
		mt.RawSetString(rowsLabelsField, ToLua(L, r.header.Labels))
	}
	mt.RawSetString(rowsPathField, lua.LString(r.path))
	out.Metatable = mt
	return out
}

// rowsNext is the call of a csv.rows or xlsx.rows iterator: the next row
// and its line number, or nil at the end.
func rowsNext(L *lua.LState) int {
	r := checkRows(L)
	row, line, err := r.next(L)
	if err != nil {
		L.RaiseError("%s: %v", r.fn, err)
	}
	if row == nil {
		L.Push(lua.LNil)
		return 1
	}
	L.Push(row)
	L.Push(lua.LNumber(line))
	return 2
}

func checkRows(L *lua.LState) *rowsReader {
	if ud, ok := L.Get(1).(*lua.LUserData); ok {
		if r, ok := ud.Value.(*rowsReader); ok {
			return r
		}
	}
	L.RaiseError("not an iterator of csv.rows or xlsx.rows")
	return nil
}

// rowsIteratorType registers the metatable of an iterator type (fn:
// "csv.rows" or "xlsx.rows").
func rowsIteratorType(L *lua.LState, fn string) {
	rt := L.NewTypeMetatable(fn)
	rt.RawSetString("__call", L.NewFunction(rowsNext))
	rt.RawSetString("__name", lua.LString(fn))
	rt.RawSetString("__tostring", L.NewFunction(func(L *lua.LState) int {
		L.Push(lua.LString(fn + "(" + checkRows(L).path + ")"))
		return 1
	}))
}

// RowsHeader returns the columns of rows read by csv.rows, csv.read,
// xlsx.rows or xlsx.read, in file order (with the labels of a 淘宝助理
// export): the header v carries when it is such an iterator or array, else
// an empty Header.
func RowsHeader(v lua.LValue) sheet.Header {
	switch x := v.(type) {
	case *lua.LUserData:
		if r, ok := x.Value.(*rowsReader); ok {
			return sheet.Header{Names: clone(r.header.Names), Labels: clone(r.header.Labels)}
		}
	case *lua.LTable:
		mt, ok := x.Metatable.(*lua.LTable)
		if !ok {
			return sheet.Header{}
		}
		return sheet.Header{Names: stringsOf(mt.RawGetString(rowsHeaderField)), Labels: stringsOf(mt.RawGetString(rowsLabelsField))}
	}
	return sheet.Header{}
}

func clone(s []string) []string {
	if s == nil {
		return nil
	}
	return append([]string(nil), s...)
}

// stringsOf is the strings of a Lua array, nil when v is none.
func stringsOf(v lua.LValue) []string {
	t, ok := v.(*lua.LTable)
	if !ok {
		return nil
	}
	out := make([]string, 0, t.Len())
	for i := 1; i <= t.Len(); i++ {
		out = append(out, lua.LVAsString(t.RawGetInt(i)))
	}
	return out
}

// RowsLine returns the line (the sheet's row number for a workbook) that
// row, an element of csv.read's or xlsx.read's array v, came from; 0 when
// v is no such array or row is none of its rows. The lines are kept by
// row, so they stay right when the script reorders or filters the array.
func RowsLine(v, row lua.LValue) int {
	t, ok := v.(*lua.LTable)
	if !ok {
		return 0
	}
	mt, ok := t.Metatable.(*lua.LTable)
	if !ok {
		return 0
	}
	lines, ok := mt.RawGetString(rowsLinesField).(*lua.LTable)
	if !ok {
		return 0
	}
	n, _ := lines.RawGet(row).(lua.LNumber)
	return int(n)
}

// RowsSource returns the file rows read by csv.rows, csv.read, xlsx.rows
// or xlsx.read came from (the path as the script gave it), else "":
// job.run refuses to write its report over its own input.
func RowsSource(v lua.LValue) string {
	switch x := v.(type) {
	case *lua.LUserData:
		if r, ok := x.Value.(*rowsReader); ok {
			return r.path
		}
	case *lua.LTable:
		if mt, ok := x.Metatable.(*lua.LTable); ok {
			if p, ok := mt.RawGetString(rowsPathField).(lua.LString); ok {
				return string(p)
			}
		}
	}
	return ""
}
