package lua51lib

import (
	"strings"

	lua "github.com/yuin/gopher-lua"

	"github.com/topscript/topscript/internal/luapattern"
)

// The pattern functions: string.find, match, gmatch and gsub as Lua 5.1's
// lstrlib.c has them, over internal/luapattern, whose matcher the host can
// stop as it goes (gopher-lua's could not be interrupted: one backtracking
// pattern held a script past --timeout and SIGTERM for hours). gsub's
// result is offered to the host's Reserve as it grows.

// Limits are what a host bounds in the string functions; the zero Limits
// bounds nothing.
type Limits struct {
	// Check is called while a pattern is matched (every
	// luapattern.CheckEvery steps), with the thread matching: an error it
	// returns stops the match with the Lua error "interrupted: <err>".
	Check func(L *lua.LState) error
	// Reserve is called before the buffer of string.gsub's or
	// string.format's result grows to n bytes (from 1 MiB on); it raises
	// the Lua error that refuses it.
	Reserve func(L *lua.LState, n int64, what string)
}

// growth checks a result built piece by piece in a strings.Builder: each
// time the builder must grow, the buffer it grows to (twice its capacity,
// plus the piece) is offered to the host's Reserve first, from 1 MiB on.
// What the heap then holds is what Reserve agreed to, so a limit watched
// from outside never sees the builder pass it.
type growth struct {
	lim  Limits
	what string
	b    *strings.Builder
}

func (lim Limits) growth(what string, b *strings.Builder) *growth {
	return &growth{lim: lim, what: what, b: b}
}

// add makes room for n more bytes.
func (g *growth) add(L *lua.LState, n int) {
	b := g.b
	if b.Cap()-b.Len() >= n {
		return
	}
	if newCap := 2*b.Cap() + n; newCap >= 1<<20 && g.lim.Reserve != nil {
		g.lim.Reserve(L, int64(newCap), g.what)
	}
	b.Grow(n) // strings.Builder grows to 2*cap + n
}

// matcher returns a matcher of pat in s, checked by the host's Check.
func (lim Limits) matcher(L *lua.LState, s, pat string) *luapattern.Matcher {
	var check func() error
	if lim.Check != nil {
		check = func() error { return lim.Check(L) }
	}
	return luapattern.New(s, pat, check)
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
func (lim Limits) strFindAux(find bool) lua.LGFunction {
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
		m := lim.matcher(L, s, p)
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
func (lim Limits) strGmatch(L *lua.LState) int {
	s := L.CheckString(1)
	p := L.CheckString(2)
	pos := 0
	L.Push(L.NewFunction(func(L *lua.LState) int {
		m := lim.matcher(L, s, p)
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
func (lim Limits) strGsub(L *lua.LState) int {
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
	m := lim.matcher(L, src, p)
	var b strings.Builder
	g := lim.growth("string.gsub", &b)
	add := func(s string) {
		g.add(L, len(s))
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
			lim.gsubValue(L, m, repl, src, s, end, add)
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
func (lim Limits) gsubValue(L *lua.LState, m *luapattern.Matcher, repl lua.LValue, src string, s, end int, add func(string)) {
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
