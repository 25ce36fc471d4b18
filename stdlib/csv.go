package stdlib

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"sync"
	"unicode/utf8"

	lua "github.com/yuin/gopher-lua"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/transform"

	"github.com/topscript/topscript/internal/numtext"
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
// Rows are tables of strings keyed by the header row. The input encoding is
// detected: UTF-8 with or without a BOM, UTF-16 with a BOM, and otherwise
// GBK/GB18030 (what Excel in China writes) when the bytes are not UTF-8.
// Reading options: delimiter (default ","), encoding ("auto", "utf-8",
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
	// its header (an array of names).
	csvHeaderField = "__header"
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

// csvOptions are the reading options.
type csvOptions struct {
	delimiter rune
	encoding  string
	header    []string
}

func checkCSVOptions(L *lua.LState, n int, fn string) csvOptions {
	o := csvOptions{delimiter: ',', encoding: "auto"}
	switch t := L.Get(n).(type) {
	case *lua.LNilType:
		return o
	case *lua.LTable:
		if d := t.RawGetString("delimiter"); d != lua.LNil {
			o.delimiter = checkDelimiter(L, d, fn)
		}
		if e := t.RawGetString("encoding"); e != lua.LNil {
			s, ok := e.(lua.LString)
			if !ok {
				L.RaiseError("%s: encoding must be a string", fn)
			}
			o.encoding = strings.ToLower(string(s))
			switch o.encoding {
			case "auto", "utf-8", "utf8", "gbk", "gb18030", "gb2312":
			default:
				L.RaiseError("%s: unknown encoding %q (want \"auto\", \"utf-8\" or \"gbk\")", fn, string(s))
			}
		}
		if h := t.RawGetString("header"); h != lua.LNil {
			ht, ok := h.(*lua.LTable)
			if !ok {
				L.RaiseError("%s: header must be an array of names", fn)
			}
			o.header = checkHeader(L, ht, fn)
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

// csvReader streams header-keyed rows out of a file.
type csvReader struct {
	path   string
	f      *os.File
	r      *csv.Reader
	header []string
	keys   []lua.LString

	mu      sync.Mutex // close may come from the garbage collector's goroutine
	done    bool       // the file is closed
	expired bool       // closed because the run that opened it ended
}

// openCSVReader opens path, detects its encoding and reads the header row.
func openCSVReader(path string, o csvOptions) (*csvReader, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s: no such file", path)
		}
		return nil, err
	}
	if st, err := f.Stat(); err == nil && st.IsDir() {
		f.Close()
		return nil, fmt.Errorf("%s: is a directory, not a CSV file", path)
	}
	src, err := decodeInput(f, o.encoding)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	cr := csv.NewReader(src)
	cr.Comma = o.delimiter
	cr.FieldsPerRecord = -1 // checked here, to name both counts
	r := &csvReader{path: path, f: f, r: cr}
	header := o.header
	if header == nil {
		rec, err := cr.Read()
		if err == io.EOF {
			f.Close()
			return nil, fmt.Errorf("%s: empty file: no header row", path)
		}
		if err != nil {
			f.Close()
			return nil, r.parseError(err)
		}
		header = make([]string, len(rec))
		seen := make(map[string]int, len(rec))
		line, _ := cr.FieldPos(0)
		if err := checkUTF8(path, line, rec); err != nil {
			f.Close()
			return nil, err
		}
		for i, h := range rec {
			h = strings.TrimSpace(h)
			if h == "" {
				f.Close()
				return nil, fmt.Errorf("%s:%d: header column %d has no name", path, line, i+1)
			}
			if j, dup := seen[h]; dup {
				f.Close()
				return nil, fmt.Errorf("%s:%d: duplicate header %q (columns %d and %d)", path, line, h, j, i+1)
			}
			seen[h] = i + 1
			header[i] = h
		}
	}
	r.header = header
	r.keys = make([]lua.LString, len(header))
	for i, h := range header {
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
		r.f.Close()
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

func (r *csvReader) parseError(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s:%d:%d: %v", r.path, pe.Line, pe.Column, pe.Err)
	}
	return fmt.Errorf("%s: %v", r.path, err)
}

// next returns the next row as a table and its line number, or nil at the
// end of the file. The file is closed at the end and on errors.
func (r *csvReader) next(L *lua.LState) (*lua.LTable, int, error) {
	if r.expired {
		return nil, 0, fmt.Errorf("%s: the file was closed when the run that opened it ended (open it again with csv.rows)", r.path)
	}
	for !r.done {
		rec, err := r.r.Read()
		if err == io.EOF {
			r.close()
			return nil, 0, nil
		}
		if err != nil {
			r.close()
			return nil, 0, r.parseError(err)
		}
		line, _ := r.r.FieldPos(0)
		if blankRecord(rec) {
			continue
		}
		if err := checkUTF8(r.path, line, rec); err != nil {
			r.close()
			return nil, 0, err
		}
		if len(rec) != len(r.header) {
			r.close()
			return nil, 0, fmt.Errorf("%s:%d: row has %d columns, header has %d", r.path, line, len(rec), len(r.header))
		}
		t := L.CreateTable(0, len(rec))
		for i, v := range rec {
			t.RawSetString(string(r.keys[i]), lua.LString(v))
		}
		return t, line, nil
	}
	return nil, 0, nil
}

// checkUTF8 refuses a record that is not valid UTF-8: a file read as
// UTF-8 that is not (a GBK export read with encoding = "utf-8", or a file
// mixing encodings) would otherwise hand the script garbled keys and values.
func checkUTF8(path string, line int, rec []string) error {
	for i, v := range rec {
		if !utf8.ValidString(v) {
			return fmt.Errorf("%s:%d: column %d is not valid UTF-8 (is the file GBK? read it with {encoding = \"gbk\"})", path, line, i+1)
		}
	}
	return nil
}

// blankRecord reports a row of empty cells (what spreadsheets leave behind).
func blankRecord(rec []string) bool {
	for _, v := range rec {
		if strings.TrimSpace(v) != "" {
			return false
		}
	}
	return true
}

// decodeInput wraps r so that it yields UTF-8, per the encoding option.
func decodeInput(r io.Reader, enc string) (io.Reader, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	head, _ := br.Peek(3)
	switch {
	case bytes.HasPrefix(head, []byte{0xEF, 0xBB, 0xBF}):
		br.Discard(3)
		return br, nil
	case bytes.HasPrefix(head, []byte{0xFF, 0xFE}):
		return transform.NewReader(br, unicode.UTF16(unicode.LittleEndian, unicode.UseBOM).NewDecoder()), nil
	case bytes.HasPrefix(head, []byte{0xFE, 0xFF}):
		return transform.NewReader(br, unicode.UTF16(unicode.BigEndian, unicode.UseBOM).NewDecoder()), nil
	}
	switch enc {
	case "utf-8", "utf8":
		return br, nil
	case "gbk", "gb18030", "gb2312":
		return transform.NewReader(br, simplifiedchinese.GB18030.NewDecoder()), nil
	}
	return &autoReader{br: br}, nil
}

// autoReader passes ASCII through until the first non-ASCII byte, then
// decides the encoding from what follows: UTF-8 when the buffered bytes are
// valid UTF-8, GB18030 (a superset of GBK) otherwise.
type autoReader struct {
	br *bufio.Reader
	r  io.Reader // set once decided
}

func (a *autoReader) Read(p []byte) (int, error) {
	if a.r != nil {
		return a.r.Read(p)
	}
	if len(p) == 0 {
		return 0, nil
	}
	buf, err := a.br.Peek(a.br.Size())
	if len(buf) == 0 {
		if err == nil {
			err = io.EOF
		}
		return 0, err
	}
	i := 0
	for i < len(buf) && buf[i] < utf8.RuneSelf {
		i++
	}
	if i > 0 {
		n := copy(p, buf[:i])
		a.br.Discard(n)
		return n, nil
	}
	if looksUTF8(buf, len(buf) == a.br.Size()) {
		a.r = a.br
	} else {
		a.r = transform.NewReader(a.br, simplifiedchinese.GB18030.NewDecoder())
	}
	return a.r.Read(p)
}

// looksUTF8 reports whether b is valid UTF-8; when more may follow (more is
// true), a rune cut at the end of b does not count against it.
func looksUTF8(b []byte, more bool) bool {
	if more {
		for k := 1; k <= utf8.UTFMax && k <= len(b); k++ {
			c := b[len(b)-k]
			if utf8.RuneStart(c) {
				if !utf8.FullRune(b[len(b)-k:]) {
					b = b[:len(b)-k]
				}
				break
			}
		}
	}
	return utf8.Valid(b)
}
