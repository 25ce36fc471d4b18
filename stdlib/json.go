package stdlib

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
	"unsafe"

	lua "github.com/yuin/gopher-lua"

	"github.com/topscript/topscript/internal/fastjson"
	"github.com/topscript/topscript/internal/numtext"
)

// The json module:
//
//	json.encode(v[, {indent = 2}]) --> string; object keys sorted
//	json.decode(s)                 --> value; integers beyond ±2^53 as strings of the exact digits
//	json.null                      --  the null sentinel; decode gives it, encode writes null
//	json.array(t) / json.object(t) --> t, marked to encode as [] / {} whatever its keys
//
// A table encodes as an array when its keys are exactly 1..n, else as an
// object; an empty table is {} unless marked with json.array. Decoded empty
// arrays come back marked, so they encode as [] again.

func openJSON(env *Env) lua.LGFunction {
	return func(L *lua.LState) int {
		mod := newModule(L, map[string]lua.LGFunction{
			"encode": jsonEncode,
			"decode": jsonDecode,
			"array": func(L *lua.LState) int {
				L.Push(MarkArray(L, optTable(L, 1, "json.array")))
				return 1
			},
			"object": func(L *lua.LState) int {
				L.Push(MarkObject(L, optTable(L, 1, "json.object")))
				return 1
			},
		})
		mod.RawSetString("null", Null(L))
		return 1
	}
}

// optTable returns argument n as a table, a new one when it is absent.
func optTable(L *lua.LState, n int, fn string) *lua.LTable {
	switch v := L.Get(n).(type) {
	case *lua.LTable:
		return v
	case *lua.LNilType:
		return L.NewTable()
	default:
		L.RaiseError("%s: argument #%d: want a table, got %s", fn, n, v.Type())
		return nil
	}
}

func jsonEncode(L *lua.LState) int {
	indent := ""
	if opts, ok := L.Get(2).(*lua.LTable); ok {
		switch v := opts.RawGetString("indent").(type) {
		case lua.LNumber:
			if v < 0 || v > 16 {
				L.RaiseError("json.encode: indent must be between 0 and 16, got %v", v)
			}
			indent = strings.Repeat(" ", int(v))
		case lua.LString:
			indent = string(v)
		case lua.LBool:
			if v {
				indent = "  "
			}
		case *lua.LNilType:
		default:
			L.RaiseError("json.encode: indent must be a number or a string, got %s", v.Type())
		}
	} else if L.Get(2) != lua.LNil {
		L.ArgError(2, "options must be a table")
	}
	s, err := EncodeJSON(L.CheckAny(1), indent)
	if err != nil {
		L.RaiseError("json.encode: %v", err)
	}
	L.Push(lua.LString(s))
	return 1
}

// EncodeJSON encodes a Lua value as JSON with sorted object keys, indenting
// nested levels by indent when it is not empty. Errors name the path of the
// value that cannot be encoded (e.g. "items[2]: a function cannot be
// encoded as JSON").
func EncodeJSON(v lua.LValue, indent string) (string, error) {
	g, err := FromLuaAt(v, "", "encoded as JSON")
	if err != nil {
		return "", err
	}
	e := jsonEncoder{indent: indent}
	if err := e.value(g, "", 0); err != nil {
		return "", err
	}
	return e.buf.String(), nil
}

// jsonEncoder writes Go data from FromLua as JSON.
type jsonEncoder struct {
	buf    bytes.Buffer
	indent string
}

func (e *jsonEncoder) newline(depth int) {
	if e.indent == "" {
		return
	}
	e.buf.WriteByte('\n')
	for i := 0; i < depth; i++ {
		e.buf.WriteString(e.indent)
	}
}

func (e *jsonEncoder) value(v any, path string, depth int) error {
	switch x := v.(type) {
	case nil:
		e.buf.WriteString("null")
	case bool:
		e.buf.WriteString(strconv.FormatBool(x))
	case string:
		writeJSONString(&e.buf, x)
	case int64:
		if x > numtext.MaxExactInt || x < -numtext.MaxExactInt {
			// A Lua number beyond ±2^53 is a float, not an exact id: written
			// as digits it would read back as a string (json.decode keeps
			// such integers exact as text). Written in exponent form it reads
			// back as the same number — a choice; ids belong in strings.
			e.buf.WriteString(formatJSONFloat(float64(x)))
			return nil
		}
		e.buf.WriteString(strconv.FormatInt(x, 10))
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			where := path
			if where == "" {
				where = "value"
			}
			return fmt.Errorf("%s: %v cannot be encoded as JSON", strings.TrimPrefix(where, "."), x)
		}
		e.buf.WriteString(formatJSONFloat(x))
	case []any:
		if len(x) == 0 {
			e.buf.WriteString("[]")
			return nil
		}
		e.buf.WriteByte('[')
		for i, el := range x {
			if i > 0 {
				e.buf.WriteByte(',')
			}
			e.newline(depth + 1)
			if err := e.value(el, path+"["+strconv.Itoa(i+1)+"]", depth+1); err != nil {
				return err
			}
		}
		e.newline(depth)
		e.buf.WriteByte(']')
	case map[string]any:
		if len(x) == 0 {
			e.buf.WriteString("{}")
			return nil
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		e.buf.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				e.buf.WriteByte(',')
			}
			e.newline(depth + 1)
			writeJSONString(&e.buf, k)
			e.buf.WriteByte(':')
			if e.indent != "" {
				e.buf.WriteByte(' ')
			}
			if err := e.value(x[k], path+keyPath(k), depth+1); err != nil {
				return err
			}
		}
		e.newline(depth)
		e.buf.WriteByte('}')
	default:
		return fmt.Errorf("%s: a %T cannot be encoded as JSON", strings.TrimPrefix(path, "."), v)
	}
	return nil
}

// formatJSONFloat writes a float the way encoding/json does, except that
// exponent form starts beyond 2^53 instead of at 1e21.
func formatJSONFloat(f float64) string {
	abs := math.Abs(f)
	format := byte('f')
	// Beyond ±2^53 always in exponent form: as digits a number would read
	// back as a string (see the int64 case of jsonEncoder.value).
	if abs != 0 && (abs < 1e-6 || abs > numtext.MaxExactInt) {
		format = 'e'
	}
	s := strconv.FormatFloat(f, format, -1, 64)
	if format == 'e' {
		// clean up e-09 to e-9
		n := len(s)
		if n >= 4 && s[n-4] == 'e' && s[n-3] == '-' && s[n-2] == '0' {
			s = s[:n-2] + s[n-1:]
		}
	}
	return s
}

// writeJSONString writes s quoted, escaping only what JSON requires (no
// HTML escaping; Chinese text stays readable). Invalid UTF-8 becomes U+FFFD.
func writeJSONString(b *bytes.Buffer, s string) {
	const hex = "0123456789abcdef"
	b.WriteByte('"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b.WriteByte('\\')
				b.WriteByte(c)
			case c == '\n':
				b.WriteString(`\n`)
			case c == '\r':
				b.WriteString(`\r`)
			case c == '\t':
				b.WriteString(`\t`)
			case c < 0x20 || c == 0x7f:
				b.WriteString(`\u00`)
				b.WriteByte(hex[c>>4])
				b.WriteByte(hex[c&0xf])
			default:
				b.WriteByte(c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b.WriteString(`\ufffd`)
		case r == '\u2028' || r == '\u2029':
			b.WriteString(`\u202`)
			b.WriteByte(hex[r&0xf])
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	b.WriteByte('"')
}

func jsonDecode(L *lua.LState) int {
	s := L.CheckString(1)
	v, err := DecodeJSON(L, s)
	if err != nil {
		L.RaiseError("json.decode: %v", err)
	}
	L.Push(v)
	return 1
}

// DecodeJSON decodes one JSON document into Lua values: integers beyond
// ±2^53 become strings of the exact digits, null becomes json.null (so
// arrays keep their positions), empty arrays come back marked as arrays.
// Errors give the line and column of the fault. Well-formed input takes
// the client's fast reader (internal/fastjson, the same values as
// encoding/json); anything it gives up on goes through encoding/json.
func DecodeJSON(L *lua.LState, s string) (lua.LValue, error) {
	// The reader only reads: s's bytes need no copy.
	if v, ok := fastjson.Decode(unsafe.Slice(unsafe.StringData(s), len(s))); ok {
		return decodedToLua(L, v), nil
	}
	v, err := slowDecode(s)
	if err != nil {
		return lua.LNil, err
	}
	return decodedToLua(L, v), nil
}

// slowDecode is DecodeJSON's reading with encoding/json only.
func slowDecode(s string) (any, error) {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, jsonError(s, dec, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		off := dec.InputOffset()
		return nil, fmt.Errorf("%s: unexpected data after the JSON value", position(s, off))
	}
	return v, nil
}

// jsonError rewrites a decoding error with a line:column position.
func jsonError(s string, dec *json.Decoder, err error) error {
	var se *json.SyntaxError
	switch {
	case errors.As(err, &se):
		return fmt.Errorf("%s: %s", position(s, se.Offset), strings.TrimPrefix(se.Error(), "json: "))
	case errors.Is(err, io.EOF) && strings.TrimSpace(s) == "":
		return errors.New("empty input")
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		return fmt.Errorf("%s: unexpected end of JSON input", position(s, int64(len(s))))
	}
	return fmt.Errorf("%s: %v", position(s, dec.InputOffset()), err)
}

// position renders a byte offset as "line L, column C" (both from 1).
func position(s string, off int64) string {
	if off > int64(len(s)) {
		off = int64(len(s))
	}
	if off < 0 {
		off = 0
	}
	line, col := 1, 1
	for _, c := range []byte(s[:off]) {
		if c == '\n' {
			line++
			col = 1
		} else {
			col++
		}
	}
	return fmt.Sprintf("line %d, column %d (offset %d)", line, col, off)
}

// decodedToLua converts decoder output, turning nulls into the sentinel and
// leaving scalars to ToLua.
func decodedToLua(L *lua.LState, v any) lua.LValue {
	switch x := v.(type) {
	case nil:
		return Null(L)
	case map[string]any:
		t := L.CreateTable(0, len(x))
		for k, e := range x {
			t.RawSetString(k, decodedToLua(L, e))
		}
		return t
	case []any:
		t := L.CreateTable(len(x), 0)
		if len(x) == 0 {
			return MarkArray(L, t)
		}
		for i, e := range x {
			t.RawSetInt(i+1, decodedToLua(L, e))
		}
		return t
	}
	return ToLua(L, v)
}
