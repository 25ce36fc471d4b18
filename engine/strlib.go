package engine

import (
	"strings"

	lua "github.com/yuin/gopher-lua"
)

// The string building functions of the string and table libraries, with
// their result's size checked before it is built (reserve, see limits.go).

// installStringLib replaces string.rep, string.upper, string.lower,
// string.reverse, table.concat and table.insert with their checked
// versions.
// (string.format and the pattern functions are lua51lib's, which take the
// run's limits themselves: lua51lib.OpenLimited, in openLibs.)
func (e *Engine) installStringLib() {
	L := e.L
	if str, ok := L.GetGlobal("string").(*lua.LTable); ok {
		str.RawSetString("rep", L.NewFunction(e.strRep))
		for _, name := range []string{"upper", "lower", "reverse"} {
			if f := gFunction(str, name); f != nil {
				str.RawSetString(name, L.NewFunction(e.sameSize("string."+name, f)))
			}
		}
	}
	if tab, ok := L.GetGlobal("table").(*lua.LTable); ok {
		tab.RawSetString("concat", L.NewFunction(e.tableConcat))
		if f := gFunction(tab, "insert"); f != nil {
			tab.RawSetString("insert", L.NewFunction(func(L *lua.LState) int {
				// One more value in the array part: its growth is reserved first.
				if t, ok := L.Get(1).(*lua.LTable); ok {
					arr, _ := tableArray(t)
					e.checkArrayGrowth(L, t, len(arr)+1, "table.insert")
				}
				return f(L)
			}))
		}
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
