package stdlib

import (
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

// csv.rows's iterator and csv.read's array carry their header and file
// (rows.go: RowsHeader, RowsSource).

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
		rowsIteratorType(L, "csv.rows")
		newModule(L, map[string]lua.LGFunction{
			"rows": func(L *lua.LState) int {
				r := openCSVArgs(L, "csv.rows")
				L.Push(env.files.track(L, r))
				return 1
			},
			"read": func(L *lua.LState) int {
				L.Push(openCSVArgs(L, "csv.read").readAll(L, "csv.read"))
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
func openCSVArgs(L *lua.LState, fn string) *rowsReader {
	path := L.CheckString(1)
	opts := checkCSVOptions(L, 2, fn)
	sr, err := sheet.OpenCSV(path, opts)
	if err != nil {
		L.RaiseError("%s: %v", fn, err)
	}
	return newRowsReader("csv.rows", path, sr)
}
