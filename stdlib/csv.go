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
	"sort"
	"strconv"
	"strings"
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
	done   bool
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

func (r *csvReader) close() {
	if !r.done {
		r.done = true
		r.f.Close()
	}
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

// csvCell renders a value as a cell: strings as is, numbers by the one
// number rule (internal/numtext), nil and json.null empty, tables as JSON unless they
// have a __tostring (TOP errors).
func csvCell(L *lua.LState, v lua.LValue) string {
	switch x := v.(type) {
	case lua.LString:
		return string(x)
	case lua.LNumber:
		return numtext.Format(float64(x))
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
