package stdlib

import (
	"fmt"
	"io"
	"sync"
	"unicode/utf8"

	lua "github.com/yuin/gopher-lua"

	"github.com/topscript/topscript/internal/numtext"
	"github.com/topscript/topscript/sheet"
)

// The csv module reads and writes the spreadsheets operators live in:
//
//	for row, line in csv.rows("prices.csv") do ... row.num_iid ... end
//	-- (csv a local or global: not `in require("csv").rows(...)`, see the package doc)
//	local all = csv.read("prices.csv")          -- array of rows
//	local w = csv.writer("out.csv", {"num_iid", "status"})  -- {bom = false} to skip the BOM
//	w:write({num_iid = "123", status = "ok"})   -- or an array in header order
//	w:close()
//
// Rows are tables of strings keyed by the header row. Reading is
// sheet.OpenCSV's: the input encoding is decided by one rule over the
// whole file (sheet.Decode: a BOM; else UTF-8 when every line is; else
// GBK/GB18030, what Excel in China writes, when the lines that are not
// UTF-8 outnumber those that are; else the file mixes encodings and is
// refused, naming the line), bytes invalid in that encoding are an error
// naming their line (never U+FFFD), and a 淘宝助理 export (a version
// line, then a row of English keys and a row of Chinese labels) gives rows
// keyed by its English keys. Reading options: delimiter (default "," but a
// tab for 淘宝助理 exports and files whose first line has tabs and no
// comma), encoding ("auto", "utf-8",
// "gbk"/"gb18030"), header (an array of names when the file has no header
// row). Blank lines and rows of empty cells are skipped.
//
// The writer writes UTF-8 with a BOM (so Excel opens it right), quotes as
// needed and flushes each row; options: bom, delimiter, crlf, extra
// ("error", the default, or "ignore": what to do with row keys missing from
// the header). The path "-" writes to the script's standard output.

// The columns travel with the values: csv.read's array and csv.rows's
// iterator carry their header (CSVHeader reads it; job.run's report takes
// its input columns from it). csv.rows returns a callable value that holds
// its open file: the file is closed at the end of the input, on an error,
// when the iterator is garbage-collected unfinished, and when the run that
// opened it ends (an iterator kept past its run, in the REPL, then says
// so instead of reading on).

const (
	csvWriterType = "csv.writer"
	csvRowsType   = "csv.rows"
	// csvHeaderField is the metatable field of csv.read's array holding
	// its header (an array of names); csvPathField the file it was read
	// from.
	csvHeaderField = "__header"
	csvPathField   = "__path"
)

func openCSV(env *Env) lua.LGFunction {
	return func(L *lua.LState) int {
		mt := L.NewTypeMetatable(csvWriterType)
		mt.RawSetString("__index", L.SetFuncs(L.NewTable(), map[string]lua.LGFunction{
			"write": csvWrite,
			"flush": csvFlush,
			"close": csvClose,
		}))
		mt.RawSetString("__tostring", L.NewFunction(func(L *lua.LState) int {
			w := checkCSVWriter(L, "tostring")
			L.Push(lua.LString("csv.writer(" + w.path + ")"))
			return 1
		}))
		rt := L.NewTypeMetatable(csvRowsType)
		rt.RawSetString("__call", L.NewFunction(csvRowsNext))
		rt.RawSetString("__name", lua.LString(csvRowsType))
		rt.RawSetString("__tostring", L.NewFunction(func(L *lua.LState) int {
			L.Push(lua.LString("csv.rows(" + checkCSVRows(L).path + ")"))
			return 1
		}))
		newModule(L, map[string]lua.LGFunction{
			"rows": func(L *lua.LState) int {
				r := openCSVArgs(L, "csv.rows")
				L.Push(env.readers.track(L, r))
				return 1
			},
			"read": func(L *lua.LState) int {
				r := openCSVArgs(L, "csv.read")
				defer r.close()
				out := L.NewTable()
				for {
					row, _, err := r.next(L)
					if err != nil {
						L.RaiseError("csv.read: %v", err)
					}
					if row == nil {
						break
					}
					out.Append(row)
				}
				// An array (for json) that carries its header.
				mt := L.CreateTable(0, 2)
				mt.RawSetString(JSONTypeField, lua.LString("array"))
				mt.RawSetString(csvHeaderField, ToLua(L, r.header))
				mt.RawSetString(csvPathField, lua.LString(r.path))
				out.Metatable = mt
				L.Push(out)
				return 1
			},
			"writer": func(L *lua.LState) int {
				return newCSVWriter(L, env)
			},
		})
		return 1
	}
}

// csvRowsNext is the call of a csv.rows iterator: the next row and its
// line number, or nil at the end.
func csvRowsNext(L *lua.LState) int {
	r := checkCSVRows(L)
	row, line, err := r.next(L)
	if err != nil {
		L.RaiseError("csv.rows: %v", err)
	}
	if row == nil {
		L.Push(lua.LNil)
		return 1
	}
	L.Push(row)
	L.Push(lua.LNumber(line))
	return 2
}

func checkCSVRows(L *lua.LState) *csvReader {
	if ud, ok := L.Get(1).(*lua.LUserData); ok {
		if r, ok := ud.Value.(*csvReader); ok {
			return r
		}
	}
	L.RaiseError("csv.rows: not an iterator of csv.rows")
	return nil
}

// CSVHeader returns the columns of rows read by csv.rows or csv.read, in
// file order: the header v carries when it is such an iterator or array,
// else nil.
func CSVHeader(v lua.LValue) []string {
	switch x := v.(type) {
	case *lua.LUserData:
		if r, ok := x.Value.(*csvReader); ok {
			return append([]string(nil), r.header...)
		}
	case *lua.LTable:
		mt, ok := x.Metatable.(*lua.LTable)
		if !ok {
			return nil
		}
		h, ok := mt.RawGetString(csvHeaderField).(*lua.LTable)
		if !ok {
			return nil
		}
		out := make([]string, 0, h.Len())
		for i := 1; i <= h.Len(); i++ {
			out = append(out, lua.LVAsString(h.RawGetInt(i)))
		}
		return out
	}
	return nil
}

// CSVSource returns the file rows read by csv.rows or csv.read came from
// (the path as the script gave it), else "": job.run refuses to write its
// report over its own input.
func CSVSource(v lua.LValue) string {
	switch x := v.(type) {
	case *lua.LUserData:
		if r, ok := x.Value.(*csvReader); ok {
			return r.path
		}
	case *lua.LTable:
		if mt, ok := x.Metatable.(*lua.LTable); ok {
			if p, ok := mt.RawGetString(csvPathField).(lua.LString); ok {
				return string(p)
			}
		}
	}
	return ""
}

// checkCSVOptions reads the reading options.
func checkCSVOptions(L *lua.LState, n int, fn string) sheet.Options {
	var o sheet.Options
	switch t := L.Get(n).(type) {
	case *lua.LNilType:
		return o
	case *lua.LTable:
		if d := t.RawGetString("delimiter"); d != lua.LNil {
			o.Delimiter = checkDelimiter(L, d, fn)
		}
		if e := t.RawGetString("encoding"); e != lua.LNil {
			s, ok := e.(lua.LString)
			if !ok {
				L.RaiseError("%s: encoding must be a string", fn)
			}
			enc, err := sheet.ParseEncoding(string(s))
			if err != nil {
				L.RaiseError("%s: %v", fn, err)
			}
			o.Encoding = enc
		}
		if h := t.RawGetString("header"); h != lua.LNil {
			ht, ok := h.(*lua.LTable)
			if !ok {
				L.RaiseError("%s: header must be an array of names", fn)
			}
			o.Header = checkHeader(L, ht, fn)
		}
		return o
	default:
		L.RaiseError("%s: options must be a table, got %s", fn, t.Type())
		return o
	}
}

func checkDelimiter(L *lua.LState, v lua.LValue, fn string) rune {
	s, ok := v.(lua.LString)
	r, size := utf8.DecodeRuneInString(string(s))
	if !ok || size == 0 || size != len(s) || r == '"' || r == '\r' || r == '\n' || r == utf8.RuneError {
		L.RaiseError("%s: delimiter must be one character such as \",\" or \"\\t\"", fn)
	}
	return r
}

// checkHeader reads an array of distinct, non-empty header names.
func checkHeader(L *lua.LState, t *lua.LTable, fn string) []string {
	n := t.Len()
	if n == 0 {
		L.RaiseError("%s: header must be a non-empty array of names", fn)
	}
	names := make([]string, 0, n)
	seen := make(map[string]int, n)
	for i := 1; i <= n; i++ {
		v := t.RawGetInt(i)
		var s string
		switch x := v.(type) {
		case lua.LString:
			s = string(x)
		case lua.LNumber:
			s = numtext.Format(float64(x))
		default:
			L.RaiseError("%s: header[%d] must be a string, got %s", fn, i, v.Type())
		}
		if s == "" {
			L.RaiseError("%s: header[%d] is empty", fn, i)
		}
		if j, dup := seen[s]; dup {
			L.RaiseError("%s: duplicate header %q (columns %d and %d)", fn, s, j, i)
		}
		seen[s] = i
		names = append(names, s)
	}
	return names
}

// openCSVArgs opens the reader named by arguments (path, opts).
func openCSVArgs(L *lua.LState, fn string) *csvReader {
	path := L.CheckString(1)
	opts := checkCSVOptions(L, 2, fn)
	r, err := openCSVReader(path, opts)
	if err != nil {
		L.RaiseError("%s: %v", fn, err)
	}
	return r
}

// csvReader streams header-keyed rows out of a file (sheet.CSVReader does
// the decoding) and carries what the csv.rows iterator needs: its header and
// whether its file is still open.
type csvReader struct {
	path   string
	r      *sheet.CSVReader
	header []string
	keys   []lua.LString

	mu      sync.Mutex // close may come from the garbage collector's goroutine
	done    bool       // the file is closed
	expired bool       // closed because the run that opened it ended
}

// openCSVReader opens path, detects its encoding and format and reads the
// header row(s).
func openCSVReader(path string, o sheet.Options) (*csvReader, error) {
	sr, err := sheet.OpenCSV(path, o)
	if err != nil {
		return nil, err
	}
	r := &csvReader{path: path, r: sr, header: sr.Header().Names}
	r.keys = make([]lua.LString, len(r.header))
	for i, h := range r.header {
		r.keys[i] = lua.LString(h)
	}
	return r, nil
}

// close closes the file, once; safe on any goroutine.
func (r *csvReader) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.done {
		r.done = true
		r.r.Close()
	}
}

// isDone reports whether the file is closed.
func (r *csvReader) isDone() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.done
}

// expire closes the file of an iterator whose run ended: reading it again
// is an error, not an end.
func (r *csvReader) expire() {
	r.mu.Lock()
	if !r.done {
		r.expired = true
	}
	r.mu.Unlock()
	r.close()
}

// next returns the next row as a table and its line number, or nil at the
// end of the file. The file is closed at the end and on errors.
func (r *csvReader) next(L *lua.LState) (*lua.LTable, int, error) {
	if r.expired {
		return nil, 0, fmt.Errorf("%s: the file was closed when the run that opened it ended (open it again with csv.rows)", r.path)
	}
	if r.isDone() {
		return nil, 0, nil
	}
	row, err := r.r.Next()
	if err != nil {
		r.close()
		if err == io.EOF {
			return nil, 0, nil
		}
		return nil, 0, err
	}
	t := L.CreateTable(0, len(row.Values))
	for i, v := range row.Values {
		t.RawSetString(string(r.keys[i]), lua.LString(v))
	}
	return t, row.Line, nil
}
