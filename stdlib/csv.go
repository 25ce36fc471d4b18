package stdlib

import (
	"bufio"
	"encoding/csv"
	"io"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	lua "github.com/yuin/gopher-lua"

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
// sheet.OpenCSV's: the input encoding is detected (UTF-8 with or without a
// BOM, UTF-16 with a BOM, and otherwise GBK/GB18030, what Excel in China
// writes, when the bytes are not UTF-8), and a 淘宝助理 export (a version
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

const csvWriterType = "csv.writer"

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
		newModule(L, map[string]lua.LGFunction{
			"rows": func(L *lua.LState) int {
				r := openCSVArgs(L, "csv.rows")
				iter := L.NewFunction(func(L *lua.LState) int {
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
				})
				rememberColumns(L, iter, r.header) // for job.run's report
				L.Push(iter)
				return 1
			},
			"read": func(L *lua.LState) int {
				r := openCSVArgs(L, "csv.read")
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
				rememberColumns(L, out, r.header) // for job.run's report
				L.Push(MarkArray(L, out))
				return 1
			},
			"writer": func(L *lua.LState) int {
				return newCSVWriter(L, env)
			},
		})
		return 1
	}
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
			s = x.String()
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

// csvReader streams header-keyed rows out of a file.
type csvReader struct {
	r      *sheet.CSVReader
	header []string
	keys   []lua.LString
}

// openCSVReader opens path, detects its encoding and format and reads the
// header row(s).
func openCSVReader(path string, o sheet.Options) (*csvReader, error) {
	sr, err := sheet.OpenCSV(path, o)
	if err != nil {
		return nil, err
	}
	r := &csvReader{r: sr, header: sr.Header().Names}
	r.keys = make([]lua.LString, len(r.header))
	for i, h := range r.header {
		r.keys[i] = lua.LString(h)
	}
	return r, nil
}

// next returns the next row as a table and its line number, or nil at the
// end of the file. The file is closed at the end and on errors.
func (r *csvReader) next(L *lua.LState) (*lua.LTable, int, error) {
	row, err := r.r.Next()
	if err == io.EOF {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, err
	}
	t := L.CreateTable(0, len(row.Values))
	for i, v := range row.Values {
		t.RawSetString(string(r.keys[i]), lua.LString(v))
	}
	return t, row.Line, nil
}

// csvWriter is the userdata behind csv.writer.
type csvWriter struct {
	path   string
	f      *os.File // nil for stdout
	buf    *bufio.Writer
	w      *csv.Writer
	header []string
	index  map[string]int
	extra  bool // ignore keys missing from the header
	closed bool
	rows   int
}

func newCSVWriter(L *lua.LState, env *Env) int {
	const fn = "csv.writer"
	path := L.CheckString(1)
	ht, ok := L.Get(2).(*lua.LTable)
	if !ok {
		L.RaiseError("%s: argument #2 must be the header, an array of column names", fn)
	}
	header := checkHeader(L, ht, fn)
	bom := path != "-"
	comma := ','
	crlf := false
	extra := false
	switch t := L.Get(3).(type) {
	case *lua.LNilType:
	case *lua.LTable:
		if v := t.RawGetString("bom"); v != lua.LNil {
			bom = lua.LVAsBool(v)
		}
		if v := t.RawGetString("delimiter"); v != lua.LNil {
			comma = checkDelimiter(L, v, fn)
		}
		if v := t.RawGetString("crlf"); v != lua.LNil {
			crlf = lua.LVAsBool(v)
		}
		switch v := t.RawGetString("extra").(type) {
		case *lua.LNilType:
		case lua.LString:
			switch v {
			case "ignore":
				extra = true
			case "error":
			default:
				L.RaiseError("%s: extra must be \"error\" or \"ignore\", got %q", fn, string(v))
			}
		default:
			L.RaiseError("%s: extra must be \"error\" or \"ignore\"", fn)
		}
	default:
		L.RaiseError("%s: options must be a table, got %s", fn, t.Type())
	}

	w := &csvWriter{path: path, header: header, extra: extra, index: make(map[string]int, len(header))}
	for i, h := range header {
		w.index[h] = i
	}
	var out io.Writer
	if path == "-" {
		out = env.stdout()
	} else {
		f, err := os.Create(path)
		if err != nil {
			L.RaiseError("%s: %v", fn, err)
		}
		w.f = f
		out = f
	}
	w.buf = bufio.NewWriter(out)
	if bom {
		w.buf.WriteString("\uFEFF")
	}
	w.w = csv.NewWriter(w.buf)
	w.w.Comma = comma
	w.w.UseCRLF = crlf
	if err := w.writeRecord(header); err != nil {
		w.abort()
		L.RaiseError("%s: %s: %v", fn, path, err)
	}
	ud := L.NewUserData()
	ud.Value = w
	L.SetMetatable(ud, L.GetTypeMetatable(csvWriterType))
	L.Push(ud)
	return 1
}

func checkCSVWriter(L *lua.LState, method string) *csvWriter {
	ud, ok := L.Get(1).(*lua.LUserData)
	if ok {
		if w, ok := ud.Value.(*csvWriter); ok {
			return w
		}
	}
	L.RaiseError("csv writer: %s must be called as w:%s(...)", method, method)
	return nil
}

// writeRecord writes one record and pushes it to the file.
func (w *csvWriter) writeRecord(rec []string) error {
	if err := w.w.Write(rec); err != nil {
		return err
	}
	w.w.Flush()
	if err := w.w.Error(); err != nil {
		return err
	}
	return w.buf.Flush()
}

// abort closes the file after a failure.
func (w *csvWriter) abort() {
	w.closed = true
	if w.f != nil {
		w.f.Close()
	}
}

func csvWrite(L *lua.LState) int {
	w := checkCSVWriter(L, "write")
	if w.closed {
		L.RaiseError("csv writer %s: write after close", w.path)
	}
	row, ok := L.Get(2).(*lua.LTable)
	if !ok {
		L.RaiseError("csv writer %s: row must be a table, got %s", w.path, L.Get(2).Type())
	}
	rec := make([]string, len(w.header))
	if row.RawGetInt(1) != lua.LNil {
		n := row.Len()
		if n > len(w.header) {
			L.RaiseError("csv writer %s: row %d has %d values, header has %d", w.path, w.rows+1, n, len(w.header))
		}
		for i := 1; i <= n; i++ {
			rec[i-1] = csvCell(L, row.RawGetInt(i))
		}
	} else {
		var unknown []string
		row.ForEach(func(k, v lua.LValue) {
			key := L.ToStringMeta(k).String()
			i, ok := w.index[key]
			if !ok {
				unknown = append(unknown, key)
				return
			}
			rec[i] = csvCell(L, v)
		})
		if len(unknown) > 0 && !w.extra {
			sort.Strings(unknown)
			L.RaiseError("csv writer %s: row %d has keys not in the header: %s (pass {extra = \"ignore\"} to drop them)",
				w.path, w.rows+1, strings.Join(unknown, ", "))
		}
	}
	if err := w.writeRecord(rec); err != nil {
		L.RaiseError("csv writer %s: %v", w.path, err)
	}
	w.rows++
	return 0
}

// csvCell renders a value as a cell: strings as is, integral numbers
// without a fraction, nil and json.null empty, tables as JSON unless they
// have a __tostring (TOP errors).
func csvCell(L *lua.LState, v lua.LValue) string {
	switch x := v.(type) {
	case lua.LString:
		return string(x)
	case lua.LNumber:
		f := float64(x)
		if f == math.Trunc(f) && math.Abs(f) < 1e15 {
			return strconv.FormatInt(int64(f), 10)
		}
		return strconv.FormatFloat(f, 'f', -1, 64)
	case lua.LBool:
		return strconv.FormatBool(bool(x))
	case *lua.LNilType:
		return ""
	case *lua.LTable:
		if L.GetMetaField(x, "__tostring") == lua.LNil {
			if s, err := EncodeJSON(x, ""); err == nil {
				return s
			}
		}
	}
	if IsNull(v) {
		return ""
	}
	return L.ToStringMeta(v).String()
}

func csvFlush(L *lua.LState) int {
	w := checkCSVWriter(L, "flush")
	if w.closed {
		return 0
	}
	w.w.Flush()
	if err := w.buf.Flush(); err != nil {
		L.RaiseError("csv writer %s: %v", w.path, err)
	}
	return 0
}

func csvClose(L *lua.LState) int {
	w := checkCSVWriter(L, "close")
	if w.closed {
		return 0
	}
	w.closed = true
	w.w.Flush()
	err := w.w.Error()
	if ferr := w.buf.Flush(); err == nil {
		err = ferr
	}
	if w.f != nil {
		if cerr := w.f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		L.RaiseError("csv writer %s: %v", w.path, err)
	}
	return 0
}
