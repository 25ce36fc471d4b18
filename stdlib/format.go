package stdlib

import (
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	lua "github.com/yuin/gopher-lua"

	"github.com/topscript/topscript/internal/numtext"
)

// Format renders a value the way the REPL prints it: strings as they are,
// numbers without exponent when integral, tables pretty-printed (array part
// first, then keys sorted, nested levels indented, short tables on one
// line, cycles shown as <cycle>), values with a __tostring metamethod (TOP
// errors, json.null) through it. L runs __tostring metamethods; it must not
// be running a script.
func Format(L *lua.LState, v lua.LValue) string {
	if s, ok := v.(lua.LString); ok {
		return string(s)
	}
	p := printer{L: L}
	p.value(&p.buf, v, 0)
	return p.buf.String()
}

// FormatLine renders v on one line of at most width characters (cut with
// "..." beyond): strings as they are, tables as Format writes a short one.
// It is how an error value that is not a string is reported.
func FormatLine(L *lua.LState, v lua.LValue, width int) string {
	var s string
	switch x := v.(type) {
	case lua.LString:
		s = string(x)
	case *lua.LTable:
		p := printer{L: L}
		if p.hasToString(v) {
			s = p.tostring(v)
		} else {
			s, _ = p.compact(x, math.MaxInt32)
		}
	default:
		s = (&printer{L: L}).scalar(v)
	}
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) > width {
		s = string([]rune(s)[:max(width-3, 0)]) + "..."
	}
	return s
}

// IsLuaName reports whether s is a Lua name (an identifier that is not a
// reserved word).
func IsLuaName(s string) bool { return isIdent(s) }

// LuaKeywords are the reserved words of Lua 5.1.
var LuaKeywords = luaKeywords

// lineWidth is the longest a table may print on one line.
const lineWidth = 78

// formatDepth bounds nesting; deeper tables print as {...}.
const formatDepth = 64

type printer struct {
	L    *lua.LState
	buf  strings.Builder
	path []*lua.LTable // tables being printed, for cycle detection
}

func (p *printer) onPath(t *lua.LTable) bool {
	for _, s := range p.path {
		if s == t {
			return true
		}
	}
	return false
}

// value writes v at the given indentation depth, in multi-line form where
// needed.
func (p *printer) value(b *strings.Builder, v lua.LValue, depth int) {
	t, ok := v.(*lua.LTable)
	if !ok || p.hasToString(v) {
		b.WriteString(p.scalar(v))
		return
	}
	if p.onPath(t) {
		b.WriteString("<cycle>")
		return
	}
	if depth >= formatDepth {
		b.WriteString("{...}")
		return
	}
	// One line when it fits.
	budget := lineWidth - 2*depth
	if budget < 20 {
		budget = 20
	}
	if s, ok := p.compact(t, budget); ok {
		b.WriteString(s)
		return
	}
	p.path = append(p.path, t)
	defer func() { p.path = p.path[:len(p.path)-1] }()
	entries := p.entries(t)
	indent := strings.Repeat("  ", depth+1)
	b.WriteString("{\n")
	for i, e := range entries {
		b.WriteString(indent)
		if e.key != nil {
			b.WriteString(p.key(e.key))
			b.WriteString(" = ")
		}
		p.value(b, e.val, depth+1)
		if i < len(entries)-1 {
			b.WriteByte(',')
		}
		b.WriteByte('\n')
	}
	b.WriteString(strings.Repeat("  ", depth))
	b.WriteByte('}')
}

// compact renders t on one line, giving up (false) when it would be longer
// than budget or holds a cycle.
func (p *printer) compact(t *lua.LTable, budget int) (string, bool) {
	if p.onPath(t) {
		return "<cycle>", true
	}
	if len(p.path) >= formatDepth {
		return "{...}", true
	}
	p.path = append(p.path, t)
	defer func() { p.path = p.path[:len(p.path)-1] }()
	var b strings.Builder
	b.WriteByte('{')
	ok := true
	n := 0
	p.each(t, func(k, v lua.LValue) bool {
		if n > 0 {
			b.WriteString(", ")
		}
		n++
		if k != nil {
			b.WriteString(p.key(k))
			b.WriteString(" = ")
		}
		if vt, isTable := v.(*lua.LTable); isTable && !p.hasToString(v) {
			s, fits := p.compact(vt, budget-utf8.RuneCountInString(b.String()))
			if !fits {
				ok = false
				return false
			}
			b.WriteString(s)
		} else {
			b.WriteString(p.scalar(v))
		}
		if utf8.RuneCountInString(b.String()) > budget {
			ok = false
			return false
		}
		return true
	})
	b.WriteByte('}')
	if !ok || utf8.RuneCountInString(b.String()) > budget {
		return "", false
	}
	return b.String(), true
}

type entry struct {
	key lua.LValue // nil for the array part
	val lua.LValue
}

func (p *printer) entries(t *lua.LTable) []entry {
	var out []entry
	p.each(t, func(k, v lua.LValue) bool {
		out = append(out, entry{k, v})
		return true
	})
	return out
}

// each visits the array part 1..n (key nil), then the other keys sorted:
// numbers, then strings, then the rest by their text. It stops when fn
// returns false.
func (p *printer) each(t *lua.LTable, fn func(k, v lua.LValue) bool) {
	n := 0
	for t.RawGetInt(n+1) != lua.LNil {
		n++
	}
	for i := 1; i <= n; i++ {
		if !fn(nil, t.RawGetInt(i)) {
			return
		}
	}
	type kv struct{ k, v lua.LValue }
	var rest []kv
	t.ForEach(func(k, v lua.LValue) {
		if num, ok := k.(lua.LNumber); ok {
			f := float64(num)
			if f == math.Trunc(f) && f >= 1 && f <= float64(n) {
				return
			}
		}
		rest = append(rest, kv{k, v})
	})
	rank := func(v lua.LValue) int {
		switch v.(type) {
		case lua.LNumber:
			return 0
		case lua.LString:
			return 1
		}
		return 2
	}
	sort.Slice(rest, func(i, j int) bool {
		a, b := rest[i].k, rest[j].k
		ra, rb := rank(a), rank(b)
		if ra != rb {
			return ra < rb
		}
		switch x := a.(type) {
		case lua.LNumber:
			return x < b.(lua.LNumber)
		case lua.LString:
			return x < b.(lua.LString)
		}
		return a.String() < b.String()
	})
	for _, e := range rest {
		if !fn(e.k, e.v) {
			return
		}
	}
}

// key renders a table key: bare identifiers, else [quoted] or [number].
func (p *printer) key(k lua.LValue) string {
	if s, ok := k.(lua.LString); ok {
		if isIdent(string(s)) {
			return string(s)
		}
		return "[" + strconv.Quote(string(s)) + "]"
	}
	if _, ok := k.(*lua.LTable); ok {
		return "[" + p.tostring(k) + "]"
	}
	return "[" + p.scalar(k) + "]"
}

// scalar renders a non-table value (or a table with __tostring) inside a
// table: strings quoted.
func (p *printer) scalar(v lua.LValue) string {
	switch x := v.(type) {
	case lua.LString:
		return strconv.Quote(string(x))
	case lua.LNumber:
		return formatNumber(x)
	case lua.LBool:
		return strconv.FormatBool(bool(x))
	case *lua.LNilType:
		return "nil"
	}
	return p.tostring(v)
}

// formatNumber prints a number by the one number rule (internal/numtext):
// integral numbers as integers, others exactly.
func formatNumber(n lua.LNumber) string { return numtext.Format(float64(n)) }

// hasToString reports whether v has a __tostring metamethod.
func (p *printer) hasToString(v lua.LValue) bool {
	if p.L == nil {
		return false
	}
	_, ok := p.L.GetMetaField(v, "__tostring").(*lua.LFunction)
	return ok
}

// tostring calls __tostring protected, falling back to the raw form.
func (p *printer) tostring(v lua.LValue) (s string) {
	if p.L == nil {
		return v.String()
	}
	fn, ok := p.L.GetMetaField(v, "__tostring").(*lua.LFunction)
	if !ok {
		return v.String()
	}
	defer func() {
		if recover() != nil {
			s = v.String()
		}
	}()
	if err := p.L.CallByParam(lua.P{Fn: fn, NRet: 1, Protect: true}, v); err != nil {
		return v.String()
	}
	ret := p.L.Get(-1)
	p.L.Pop(1)
	if str, ok := ret.(lua.LString); ok {
		return string(str)
	}
	return ret.String()
}

// luaKeywords are the reserved words of Lua 5.1.
var luaKeywords = []string{
	"and", "break", "do", "else", "elseif", "end", "false", "for", "function", "if", "in",
	"local", "nil", "not", "or", "repeat", "return", "then", "true", "until", "while",
}

func isKeyword(s string) bool {
	for _, k := range luaKeywords {
		if k == s {
			return true
		}
	}
	return false
}

// isIdent reports whether s is a Lua name (and so needs no brackets in a
// table key or a path like params.name).
func isIdent(s string) bool {
	if s == "" || isKeyword(s) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '_', c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		case c >= '0' && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}
