package engine

import (
	"strings"

	lua "github.com/yuin/gopher-lua"

	"github.com/topscript/topscript/internal/luapattern"
)

// The string building functions of the string and table libraries, with
// their result's size checked before it is built (reserve, see limits.go).

// installStringLib replaces string.rep, string.format, string.upper,
// string.lower, string.reverse and table.concat with their checked
// versions, and the pattern functions with interruptible ones.
func (e *Engine) installStringLib() {
	L := e.L
	if str, ok := L.GetGlobal("string").(*lua.LTable); ok {
		str.RawSetString("rep", L.NewFunction(e.strRep))
		str.RawSetString("find", L.NewFunction(e.strFindAux(true)))
		str.RawSetString("match", L.NewFunction(e.strFindAux(false)))
		str.RawSetString("gmatch", L.NewFunction(e.strGmatch))
		str.RawSetString("gsub", L.NewFunction(e.strGsub))
		if f := gFunction(str, "format"); f != nil {
			str.RawSetString("format", L.NewFunction(e.strFormat(f)))
		}
		for _, name := range []string{"upper", "lower", "reverse"} {
			if f := gFunction(str, name); f != nil {
				str.RawSetString(name, L.NewFunction(e.sameSize("string."+name, f)))
			}
		}
	}
	if tab, ok := L.GetGlobal("table").(*lua.LTable); ok {
		tab.RawSetString("concat", L.NewFunction(e.tableConcat))
	}
}

// gFunction returns the Go function of t[name], nil when it is not one.
func gFunction(t *lua.LTable, name string) lua.LGFunction {
	if f, ok := t.RawGetString(name).(*lua.LFunction); ok && f.IsG {
		return f.GFunction
	}
	return nil
}

// strRep is string.rep(s, n).
func (e *Engine) strRep(L *lua.LState) int {
	s := L.CheckString(1)
	n := float64(L.CheckNumber(2))
	if n < 1 || s == "" {
		L.Push(lua.LString(""))
		return 1
	}
	size := float64(len(s)) * n
	e.reserve(L, int64(min(size, 1<<62)), "string.rep")
	L.Push(lua.LString(strings.Repeat(s, int(n))))
	return 1
}

// sameSize wraps a function whose result is as long as its first
// argument.
func (e *Engine) sameSize(what string, f lua.LGFunction) lua.LGFunction {
	return func(L *lua.LState) int {
		e.reserve(L, int64(len(L.CheckString(1))), what)
		return f(L)
	}
}

// strFormat wraps string.format: the result's size is bounded by the
// format's length, each conversion's width and its argument's length, and
// checked first. Widths and precisions have at most two digits, as in Lua
// 5.1 (gopher-lua took any, so "%999999999d" built a GiB).
func (e *Engine) strFormat(f lua.LGFunction) lua.LGFunction {
	return func(L *lua.LState) int {
		format := L.CheckString(1)
		size := int64(len(format))
		arg := 2
		for i := 0; i < len(format); i++ {
			if format[i] != '%' {
				continue
			}
			i++
			if i < len(format) && format[i] == '%' {
				continue
			}
			for i < len(format) && strings.IndexByte("-+ #0", format[i]) >= 0 {
				i++
			}
			width, digits := 0, 0
			for ; i < len(format) && format[i] >= '0' && format[i] <= '9'; i++ {
				width, digits = width*10+int(format[i]-'0'), digits+1
			}
			prec, pdigits := -1, 0
			if i < len(format) && format[i] == '.' {
				prec = 0
				for i++; i < len(format) && format[i] >= '0' && format[i] <= '9'; i++ {
					prec, pdigits = prec*10+int(format[i]-'0'), pdigits+1
				}
			}
			if digits > 2 || pdigits > 2 {
				L.RaiseError("invalid format (width or precision too long)")
			}
			n := int64(64) // a number, or a value's short tostring
			if i < len(format) {
				if s, ok := L.Get(arg).(lua.LString); ok {
					switch format[i] {
					case 's':
						n = int64(len(s))
						if prec >= 0 {
							n = min(n, int64(prec))
						}
					case 'q':
						n = 2*int64(len(s)) + 2
					}
				}
			}
			size += max(n, int64(width))
			arg++
		}
		e.reserve(L, size, "string.format")
		return f(L)
	}
}

// tableConcat is table.concat(t [, sep [, i [, j]]]) built in Go rather
// than on the Lua stack (gopher-lua's pushes every element, so a few
// thousand of them overflow it), its size checked before it is built.
func (e *Engine) tableConcat(L *lua.LState) int {
	t := L.CheckTable(1)
	sep := L.OptString(2, "")
	i := L.OptInt(3, 1)
	j := 0
	if L.Get(4) == lua.LNil {
		j = t.Len()
	} else {
		j = L.CheckInt(4)
	}
	if i > j {
		L.Push(lua.LString(""))
		return 1
	}
	part := func(k int) string {
		switch x := t.RawGetInt(k).(type) {
		case lua.LString:
			return string(x)
		case lua.LNumber:
			return x.String()
		default:
			L.RaiseError("invalid value (%s) at index %d in table for concat", x.Type().String(), k)
		}
		return ""
	}
	var size int64
	for k := i; ; k++ {
		size += int64(len(part(k)))
		if k == j {
			break
		}
		size += int64(len(sep))
		if size > MaxStringBytes {
			break // refused below, before the rest is looked at
		}
	}
	e.reserve(L, size, "table.concat")
	var b strings.Builder
	b.Grow(int(size))
	for k := i; ; k++ {
		b.WriteString(part(k))
		if k == j {
			break
		}
		b.WriteString(sep)
	}
	L.Push(lua.LString(b.String()))
	return 1
}

// The pattern functions: string.find, match, gmatch and gsub as Lua 5.1's
// lstrlib.c has them, over internal/luapattern, whose matcher checks the
// run's context as it goes (gopher-lua's could not be interrupted: one
// backtracking pattern held a script past --timeout and SIGTERM for hours).
// gsub's result is checked against the memory limit as it grows.

// posrelat is lstrlib's: a negative position counts from the end; the
// result is at least 0.
func posrelat(pos, n int) int {
	if pos < 0 {
		pos += n + 1
	}
	return max(pos, 0)
}

// matcher returns a matcher of pat in s that stops when the run is
// interrupted.
func (e *Engine) matcher(s, pat string) *luapattern.Matcher {
	ctx := e.context()
	return luapattern.New(s, pat, ctx.Err)
}

// patternError raises the Lua error of a failed match: the pattern's own
// error as Lua 5.1 words it, or "interrupted" when the run was stopped.
func patternError(L *lua.LState, err error) {
	if luapattern.IsError(err) {
		L.RaiseError("%s", err.Error())
	}
	L.RaiseError("interrupted: %v", err)
}

// pushCapture pushes one capture.
func pushCapture(L *lua.LState, s string, c luapattern.Capture) {
	if c.Pos {
		L.Push(lua.LNumber(c.Start + 1))
	} else {
		L.Push(lua.LString(s[c.Start:c.End]))
	}
}

// pushCaptures pushes the captures of a match at start..end (the whole
// match when there are none and whole is set) and returns their number.
func pushCaptures(L *lua.LState, m *luapattern.Matcher, s string, start, end int, whole bool) int {
	caps, err := m.Captures(start, end, whole)
	if err != nil {
		patternError(L, err)
	}
	for _, c := range caps {
		pushCapture(L, s, c)
	}
	return len(caps)
}

// strFindAux is str_find_aux: string.find (find) and string.match.
func (e *Engine) strFindAux(find bool) lua.LGFunction {
	return func(L *lua.LState) int {
		s := L.CheckString(1)
		p := L.CheckString(2)
		init := min(posrelat(L.OptInt(3, 1), len(s))-1, len(s))
		init = max(init, 0)
		if find && (lua.LVAsBool(L.Get(4)) || !strings.ContainsAny(p, luapattern.Specials)) {
			// A plain search.
			if i := strings.Index(s[init:], p); i >= 0 {
				L.Push(lua.LNumber(init + i + 1))
				L.Push(lua.LNumber(init + i + len(p)))
				return 2
			}
			L.Push(lua.LNil)
			return 1
		}
		m := e.matcher(s, p)
		start, end, err := m.Find(init)
		if err != nil {
			patternError(L, err)
		}
		if start < 0 {
			L.Push(lua.LNil)
			return 1
		}
		if find {
			L.Push(lua.LNumber(start + 1))
			L.Push(lua.LNumber(end))
			return 2 + pushCaptures(L, m, s, start, end, false)
		}
		return pushCaptures(L, m, s, start, end, true)
	}
}

// strGmatch is string.gmatch(s, pattern): an iterator over the matches
// ('^' is not an anchor here, as in Lua 5.1).
func (e *Engine) strGmatch(L *lua.LState) int {
	s := L.CheckString(1)
	p := L.CheckString(2)
	pos := 0
	L.Push(L.NewFunction(func(L *lua.LState) int {
		m := e.matcher(s, p)
		for src := pos; src <= len(s); src++ {
			end, err := m.Match(src, 0)
			if err != nil {
				patternError(L, err)
			}
			if end >= 0 {
				pos = end
				if end == src {
					pos++ // an empty match: go on at least one position
				}
				return pushCaptures(L, m, s, src, end, true)
			}
		}
		pos = len(s) + 1
		return 0
	}))
	return 1
}

// strGsub is string.gsub(s, pattern, repl [, n]).
func (e *Engine) strGsub(L *lua.LState) int {
	src := L.CheckString(1)
	p := L.CheckString(2)
	repl := L.Get(3)
	switch repl.Type() {
	case lua.LTNumber, lua.LTString, lua.LTFunction, lua.LTTable:
	default:
		L.ArgError(3, "string/function/table expected")
	}
	maxN := L.OptInt(4, len(src)+1)
	anchor := strings.HasPrefix(p, "^")
	pstart := 0
	if anchor {
		pstart = 1
	}
	m := e.matcher(src, p)
	var b strings.Builder
	next := int64(bigAlloc) // the size at which the result's growth is checked next
	grow := func(n int) {
		if size := int64(b.Len() + n); size >= next {
			for next <= size {
				next *= 2
			}
			e.reserve(L, next, "string.gsub")
		}
	}
	add := func(s string) {
		grow(len(s))
		b.WriteString(s)
	}
	n, s := 0, 0
	for n < maxN {
		end, err := m.Match(s, pstart)
		if err != nil {
			patternError(L, err)
		}
		if end >= 0 {
			n++
			e.gsubValue(L, m, repl, src, s, end, add)
		}
		switch {
		case end > s: // a non-empty match: skip it
			s = end
		case s < len(src):
			add(src[s : s+1])
			s++
		default:
			s = len(src) + 1
		}
		if s > len(src) || anchor {
			break
		}
	}
	if s < len(src) {
		add(src[s:])
	}
	L.Push(lua.LString(b.String()))
	L.Push(lua.LNumber(n))
	return 2
}

// gsubValue adds the replacement of the match src[s:e] (add_value).
func (e *Engine) gsubValue(L *lua.LState, m *luapattern.Matcher, repl lua.LValue, src string, s, end int, add func(string)) {
	var v lua.LValue
	switch r := repl.(type) {
	case lua.LString, lua.LNumber:
		gsubString(L, m, lua.LVAsString(r), src, s, end, add)
		return
	case *lua.LFunction:
		L.Push(r)
		n := pushCaptures(L, m, src, s, end, true)
		L.Call(n, 1)
		v = L.Get(-1)
		L.Pop(1)
	case *lua.LTable:
		c, err := m.Capture(0, s, end)
		if err != nil {
			patternError(L, err)
		}
		var key lua.LValue = lua.LString(src[c.Start:c.End])
		if c.Pos {
			key = lua.LNumber(c.Start + 1)
		}
		v = L.GetTable(r, key)
	}
	switch x := v.(type) {
	case *lua.LNilType:
		add(src[s:end]) // keep the original text
	case lua.LBool:
		if !x {
			add(src[s:end])
			return
		}
		L.RaiseError("invalid replacement value (a %s)", v.Type().String())
	case lua.LString:
		add(string(x))
	case lua.LNumber:
		add(x.String())
	default:
		L.RaiseError("invalid replacement value (a %s)", v.Type().String())
	}
}

// gsubString adds a replacement string with its %0-%9 and %% (add_s).
func gsubString(L *lua.LState, m *luapattern.Matcher, news, src string, s, end int, add func(string)) {
	for i := 0; i < len(news); i++ {
		c := news[i]
		if c != '%' {
			add(news[i : i+1])
			continue
		}
		i++
		var d byte // past the end: the C string's NUL
		if i < len(news) {
			d = news[i]
		}
		switch {
		case d < '0' || d > '9':
			add(string([]byte{d}))
		case d == '0':
			add(src[s:end])
		default:
			cp, err := m.Capture(int(d-'1'), s, end)
			if err != nil {
				patternError(L, err)
			}
			if cp.Pos {
				add(lua.LNumber(cp.Start + 1).String())
			} else {
				add(src[cp.Start:cp.End])
			}
		}
	}
}
