package stdlib

import (
	"bufio"
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	lua "github.com/yuin/gopher-lua"

	"github.com/topscript/topscript/internal/numtext"
)

// CSVWriter is the Go core of csv.writer, for Go code that writes the CSV
// files scripts write (job.run's report is one): UTF-8 with a BOM unless
// told otherwise (so Excel opens it right), quoted as needed, each record
// pushed to the file as it is written.
type CSVWriter struct {
	path   string
	redact func(string) string
	f      *os.File // nil when writing to a stream
	buf    *bufio.Writer
	w      *csv.Writer
	closed bool
	keep   bool // Buffered: Write leaves records in the buffer
}

// CSVOptions configure a CSVWriter.
type CSVOptions struct {
	NoBOM     bool      // leave out the UTF-8 byte order mark
	Delimiter rune      // 0 means ','
	CRLF      bool      // end records with \r\n
	Stream    io.Writer // write here instead of creating path (path then only names it)
	// Redact, when set, rewrites every cell before it is written: the
	// host's hiding of known secrets (a report must not show a session).
	Redact func(string) string
	// Buffered leaves records in a buffer until it fills, Flush or Close,
	// for files written at once (job.run's report) rather than watched.
	Buffered bool
}

// CreateCSV creates the file at path (or writes to o.Stream) and writes
// the header record.
func CreateCSV(path string, header []string, o CSVOptions) (*CSVWriter, error) {
	w := &CSVWriter{path: path, redact: o.Redact, keep: o.Buffered}
	out := o.Stream
	if out == nil {
		f, err := os.Create(path)
		if err != nil {
			return nil, err
		}
		w.f, out = f, f
	}
	w.buf = bufio.NewWriter(out)
	if !o.NoBOM {
		w.buf.WriteString("\uFEFF")
	}
	w.w = csv.NewWriter(w.buf)
	if o.Delimiter != 0 {
		w.w.Comma = o.Delimiter
	}
	w.w.UseCRLF = o.CRLF
	if err := w.Write(header); err != nil {
		w.abort()
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	return w, nil
}

// Path is the path the writer was created with.
func (w *CSVWriter) Path() string { return w.path }

// Write writes one record and pushes it to the file (unless Buffered).
func (w *CSVWriter) Write(rec []string) error {
	if w.redact != nil {
		hidden := make([]string, len(rec))
		for i, c := range rec {
			hidden[i] = w.redact(c)
		}
		rec = hidden
	}
	if err := w.w.Write(rec); err != nil {
		return err
	}
	if w.keep {
		return nil
	}
	return w.Flush()
}

// Flush pushes what is buffered to the file.
func (w *CSVWriter) Flush() error {
	w.w.Flush()
	if err := w.w.Error(); err != nil {
		return err
	}
	return w.buf.Flush()
}

// Close flushes and closes the file (not a stream). It is safe to call
// more than once.
func (w *CSVWriter) Close() error {
	if w.closed {
		return nil
	}
	w.closed = true
	err := w.Flush()
	if w.f != nil {
		if cerr := w.f.Close(); err == nil {
			err = cerr
		}
	}
	return err
}

// abort closes the file after a failure.
func (w *CSVWriter) abort() {
	w.closed = true
	if w.f != nil {
		w.f.Close()
	}
}

// csvWriter is the userdata behind csv.writer: the Go core and what the
// Lua side adds (the header's index, the extra option, a row count).
type csvWriter struct {
	*CSVWriter
	header []string
	index  map[string]int
	extra  bool // ignore keys missing from the header
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
	o := CSVOptions{NoBOM: path == "-", Redact: env.Redact}
	extra := false
	switch t := L.Get(3).(type) {
	case *lua.LNilType:
	case *lua.LTable:
		if v := t.RawGetString("bom"); v != lua.LNil {
			o.NoBOM = !lua.LVAsBool(v)
		}
		if v := t.RawGetString("delimiter"); v != lua.LNil {
			o.Delimiter = checkDelimiter(L, v, fn)
		}
		if v := t.RawGetString("crlf"); v != lua.LNil {
			o.CRLF = lua.LVAsBool(v)
		}
		extra = checkExtra(L, t.RawGetString("extra"), fn)
	default:
		L.RaiseError("%s: options must be a table, got %s", fn, t.Type())
	}
	if path == "-" {
		o.Stream = env.stdout()
	}
	cw, err := CreateCSV(path, header, o)
	if err != nil {
		L.RaiseError("%s: %v", fn, err)
	}
	w := &csvWriter{CSVWriter: cw, header: header, extra: extra, index: make(map[string]int, len(header))}
	for i, h := range header {
		w.index[h] = i
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

func csvWrite(L *lua.LState) int {
	w := checkCSVWriter(L, "write")
	if w.closed {
		L.RaiseError("csv writer %s: write after close", w.path)
	}
	row, ok := L.Get(2).(*lua.LTable)
	if !ok {
		L.RaiseError("csv writer %s: row must be a table, got %s", w.path, L.Get(2).Type())
	}
	vals := headerValues(L, row, w.header, w.index, w.extra, "csv writer "+w.path, w.rows+1)
	rec := make([]string, len(vals))
	for i, v := range vals {
		rec[i] = CSVCell(L, v)
	}
	if err := w.Write(rec); err != nil {
		L.RaiseError("csv writer %s: %v", w.path, err)
	}
	w.rows++
	return 0
}

// checkExtra reads a writer's extra option: "error" (the default) or
// "ignore" (drop row keys missing from the header), reported as true.
func checkExtra(L *lua.LState, v lua.LValue, fn string) bool {
	switch v := v.(type) {
	case *lua.LNilType:
	case lua.LString:
		switch v {
		case "ignore":
			return true
		case "error":
		default:
			L.RaiseError("%s: extra must be \"error\" or \"ignore\", got %q", fn, string(v))
		}
	default:
		L.RaiseError("%s: extra must be \"error\" or \"ignore\"", fn)
	}
	return false
}

// headerValues are the values of row in header order: row is an array in
// header order, or a table keyed by header names (index: name → column).
// A key not in the header is an error unless extra is set (the writer's
// extra = "ignore"); what names the writer in errors, n the row.
func headerValues(L *lua.LState, row *lua.LTable, header []string, index map[string]int, extra bool, what string, n int) []lua.LValue {
	rec := make([]lua.LValue, len(header))
	for i := range rec {
		rec[i] = lua.LNil
	}
	if row.RawGetInt(1) != lua.LNil {
		l := row.Len()
		if l > len(header) {
			L.RaiseError("%s: row %d has %d values, header has %d", what, n, l, len(header))
		}
		for i := 1; i <= l; i++ {
			rec[i-1] = row.RawGetInt(i)
		}
		return rec
	}
	var unknown []string
	row.ForEach(func(k, v lua.LValue) {
		key := L.ToStringMeta(k).String()
		i, ok := index[key]
		if !ok {
			unknown = append(unknown, key)
			return
		}
		rec[i] = v
	})
	if len(unknown) > 0 && !extra {
		sort.Strings(unknown)
		L.RaiseError("%s: row %d has keys not in the header: %s (pass {extra = \"ignore\"} to drop them)",
			what, n, strings.Join(unknown, ", "))
	}
	return rec
}

// CSVCell renders a value as csv.writer writes it in a cell: strings as
// is, numbers by the one number rule (internal/numtext), booleans
// true/false, nil and json.null empty, tables as JSON unless they have a
// __tostring (TOP errors). job.run's report renders its cells with it too.
func CSVCell(L *lua.LState, v lua.LValue) string {
	switch x := v.(type) {
	case lua.LString:
		return string(x)
	case lua.LNumber:
		return numtext.Format(float64(x))
	case lua.LBool:
		if x {
			return "true"
		}
		return "false"
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
	if err := w.Flush(); err != nil {
		L.RaiseError("csv writer %s: %v", w.path, err)
	}
	return 0
}

func csvClose(L *lua.LState) int {
	w := checkCSVWriter(L, "close")
	if err := w.Close(); err != nil {
		L.RaiseError("csv writer %s: %v", w.path, err)
	}
	return 0
}
