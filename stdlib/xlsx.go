package stdlib

import (
	"math"
	"strings"

	lua "github.com/yuin/gopher-lua"

	"github.com/topscript/topscript/xlsx"
)

// The xlsx module reads and writes Excel workbooks as the csv module does
// CSV files:
//
//	for row, line in xlsx.rows("prices.xlsx", {sheet = "价格表", header_row = 2}) do ... end
//	local all = xlsx.read("prices.xlsx")                -- array of rows
//	local w = xlsx.writer("out.xlsx", {"num_iid", "status"}, {sheet = "结果"})
//	w:write({num_iid = "123", status = "ok"})          -- or an array in header order
//	w:close()
//
// Rows are tables of strings keyed by the header row, cells as Excel
// shows them (package xlsx: long digit strings exact, dates as
// "yyyy-MM-dd HH:mm:ss", formulas as their cached results); the second
// value of the iterator is the row's number in the sheet. Reading options:
// sheet (a name, or a number counting the tabs from 1; default the first),
// header_row (the row holding the column names, default 1: rows above it,
// a title or notes, are skipped). Rows of empty cells are skipped. Reading
// streams: a 100,000-row sheet costs about the memory of a 10,000-row one.
//
// The writer writes one worksheet (options: sheet, its name; text_columns,
// columns written as text whatever their values; extra, as csv.writer's).
// Strings are written as text (an id keeps every digit, "12.50" its zero),
// numbers as numbers (integers beyond 15 digits as their digits in text),
// booleans as TRUE/FALSE; id-like columns (num_iid, 宝贝ID, 商家编码: see
// xlsx.IDColumn) are text; a cell starting with = + - @ is text that never
// runs as a formula. The workbook is written by w:close() — or when the
// run ends, if the script did not close it.

const (
	xlsxRowsType   = "xlsx.rows"
	xlsxWriterType = "xlsx.writer"
)

func openXLSX(env *Env) lua.LGFunction {
	return func(L *lua.LState) int {
		mt := L.NewTypeMetatable(xlsxWriterType)
		mt.RawSetString("__index", L.SetFuncs(L.NewTable(), map[string]lua.LGFunction{
			"write": func(L *lua.LState) int { return xlsxWrite(L) },
			"close": func(L *lua.LState) int { return xlsxClose(L, env) },
		}))
		mt.RawSetString("__tostring", L.NewFunction(func(L *lua.LState) int {
			L.Push(lua.LString("xlsx.writer(" + checkXLSXWriter(L, "tostring").path + ")"))
			return 1
		}))
		rowsIteratorType(L, xlsxRowsType)
		newModule(L, map[string]lua.LGFunction{
			"rows": func(L *lua.LState) int {
				L.Push(env.files.track(L, openXLSXArgs(L, "xlsx.rows")))
				return 1
			},
			"read": func(L *lua.LState) int {
				L.Push(openXLSXArgs(L, "xlsx.read").readAll(L, "xlsx.read"))
				return 1
			},
			"writer": func(L *lua.LState) int { return newXLSXWriter(L, env) },
		})
		return 1
	}
}

// openXLSXArgs opens the workbook named by arguments (path, opts).
func openXLSXArgs(L *lua.LState, fn string) *rowsReader {
	path := L.CheckString(1)
	var o xlsx.Options
	switch t := L.Get(2).(type) {
	case *lua.LNilType:
	case *lua.LTable:
		var unknown []string
		t.ForEach(func(k, _ lua.LValue) {
			if s, ok := k.(lua.LString); !ok || (s != "sheet" && s != "header_row") {
				unknown = append(unknown, L.ToStringMeta(k).String())
			}
		})
		if len(unknown) > 0 {
			L.RaiseError("%s: unknown option %q (options: sheet, header_row)", fn, unknown[0])
		}
		switch s := t.RawGetString("sheet").(type) {
		case *lua.LNilType:
		case lua.LString:
			o.Sheet = string(s)
		case lua.LNumber:
			o.Index = positive(L, fn, "sheet", s)
		default:
			L.RaiseError("%s: sheet must be a sheet's name or its number (1 for the first), got %s", fn, Describe(s))
		}
		switch h := t.RawGetString("header_row").(type) {
		case *lua.LNilType:
		case lua.LNumber:
			o.HeaderRow = positive(L, fn, "header_row", h)
		default:
			L.RaiseError("%s: header_row must be a row number (1 for the first), got %s", fn, Describe(h))
		}
	default:
		L.RaiseError("%s: options must be a table, got %s", fn, t.Type())
	}
	r, err := xlsx.Open(path, o)
	if err != nil {
		L.RaiseError("%s: %v", fn, err)
	}
	return newRowsReader(xlsxRowsType, path, r)
}

// positive reads a whole number from 1.
func positive(L *lua.LState, fn, key string, n lua.LNumber) int {
	f := float64(n)
	if f < 1 || f != math.Trunc(f) || f > math.MaxInt32 {
		L.RaiseError("%s: %s must be a whole number from 1, got %s", fn, key, Describe(n))
	}
	return int(f)
}

// xlsxWriter is the userdata behind xlsx.writer.
type xlsxWriter struct {
	*xlsx.Writer
	path   string
	header []string
	index  map[string]int
	extra  bool
	rows   int
	closed bool
	redact func(string) string // Env.Redact
}

// Close writes the workbook, once.
func (w *xlsxWriter) Close() error {
	if w.closed {
		return nil
	}
	w.closed = true
	return w.Writer.Close()
}

func newXLSXWriter(L *lua.LState, env *Env) int {
	const fn = "xlsx.writer"
	path := L.CheckString(1)
	ht, ok := L.Get(2).(*lua.LTable)
	if !ok {
		L.RaiseError("%s: argument #2 must be the header, an array of column names", fn)
	}
	header := checkHeader(L, ht, fn)
	var o xlsx.WriterOptions
	extra := false
	switch t := L.Get(3).(type) {
	case *lua.LNilType:
	case *lua.LTable:
		switch s := t.RawGetString("sheet").(type) {
		case *lua.LNilType:
		case lua.LString:
			o.Sheet = string(s)
		default:
			L.RaiseError("%s: sheet must be a name, got %s", fn, Describe(s))
		}
		switch c := t.RawGetString("text_columns").(type) {
		case *lua.LNilType:
		case *lua.LTable:
			o.TextColumns = stringsOf(c)
		default:
			L.RaiseError("%s: text_columns must be an array of column names, got %s", fn, Describe(c))
		}
		extra = checkExtra(L, t.RawGetString("extra"), fn)
	default:
		L.RaiseError("%s: options must be a table, got %s", fn, t.Type())
	}
	xw, err := xlsx.Create(path, header, o)
	if err != nil {
		L.RaiseError("%s: %v", fn, err)
	}
	w := &xlsxWriter{Writer: xw, path: path, header: header, extra: extra, index: make(map[string]int, len(header)), redact: env.Redact}
	for i, h := range header {
		w.index[h] = i
	}
	env.files.trackWriter(w)
	ud := L.NewUserData()
	ud.Value = w
	L.SetMetatable(ud, L.GetTypeMetatable(xlsxWriterType))
	L.Push(ud)
	return 1
}

func checkXLSXWriter(L *lua.LState, method string) *xlsxWriter {
	if ud, ok := L.Get(1).(*lua.LUserData); ok {
		if w, ok := ud.Value.(*xlsxWriter); ok {
			return w
		}
	}
	L.RaiseError("xlsx writer: %s must be called as w:%s(...)", method, method)
	return nil
}

func xlsxWrite(L *lua.LState) int {
	w := checkXLSXWriter(L, "write")
	what := "xlsx writer " + w.path
	if w.closed {
		L.RaiseError("%s: write after close", what)
	}
	row, ok := L.Get(2).(*lua.LTable)
	if !ok {
		L.RaiseError("%s: row must be a table, got %s", what, L.Get(2).Type())
	}
	vals := headerValues(L, row, w.header, w.index, w.extra, what, w.rows+1)
	cells := make([]any, len(vals))
	for i, v := range vals {
		cells[i] = XLSXCell(L, v)
		if s, ok := cells[i].(string); ok && w.redact != nil {
			cells[i] = w.redact(s)
		}
	}
	if err := w.Write(cells); err != nil {
		L.RaiseError("%s: %v", what, err)
	}
	w.rows++
	return 0
}

func xlsxClose(L *lua.LState, env *Env) int {
	w := checkXLSXWriter(L, "close")
	env.files.forgetWriter(w)
	if err := w.Close(); err != nil {
		L.RaiseError("xlsx writer %s: %v", w.path, err)
	}
	return 0
}

// XLSXCell is a Lua value as the xlsx writer takes it: strings as text,
// numbers as numbers, booleans, nil and json.null as an empty cell, and
// anything else as csv.writer renders it (CSVCell: tables as JSON).
func XLSXCell(L *lua.LState, v lua.LValue) any {
	switch x := v.(type) {
	case lua.LString:
		return string(x)
	case lua.LNumber:
		f := float64(x)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return strings.ToLower(CSVCell(L, x))
		}
		return f
	case lua.LBool:
		return bool(x)
	case *lua.LNilType:
		return nil
	}
	if IsNull(v) {
		return nil
	}
	return CSVCell(L, v)
}
