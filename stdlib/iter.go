package stdlib

import (
	lua "github.com/yuin/gopher-lua"
)

// The iter module:
//
//	for chunk, i in iter.chunks(list, 20) do ... end
//
// chunks splits an array (or the values of an iterator function such as
// csv.rows) into consecutive sub-arrays of at most n elements; i counts the
// chunks from 1. n must be an integer ≥ 1.

func openIter(env *Env) lua.LGFunction {
	return func(L *lua.LState) int {
		newModule(L, map[string]lua.LGFunction{
			"chunks": iterChunks,
		})
		return 1
	}
}

func iterChunks(L *lua.LState) int {
	src := L.Get(1)
	nv, ok := L.Get(2).(lua.LNumber)
	if !ok {
		L.RaiseError("iter.chunks: chunk size must be a number ≥ 1, got %s", L.Get(2).Type())
	}
	if float64(nv) < 1 || float64(nv) != float64(int64(nv)) || nv > 1<<31 {
		L.RaiseError("iter.chunks: chunk size must be an integer ≥ 1, got %v", nv)
	}
	n := int(nv)
	count := 0
	switch s := src.(type) {
	case *lua.LTable:
		length := s.Len()
		pos := 1
		L.Push(L.NewFunction(func(L *lua.LState) int {
			if pos > length {
				L.Push(lua.LNil)
				return 1
			}
			end := pos + n - 1
			if end > length {
				end = length
			}
			chunk := L.CreateTable(end-pos+1, 0)
			for i := pos; i <= end; i++ {
				chunk.RawSetInt(i-pos+1, s.RawGetInt(i))
			}
			pos = end + 1
			count++
			L.Push(chunk)
			L.Push(lua.LNumber(count))
			return 2
		}))
	default:
		if !IsCallable(L, src) {
			L.RaiseError("iter.chunks: want an array or an iterator function, got %s", src.Type())
		}
		done := false
		L.Push(L.NewFunction(func(L *lua.LState) int {
			if done {
				L.Push(lua.LNil)
				return 1
			}
			chunk := L.CreateTable(n, 0)
			got := 0
			for got < n {
				L.Push(src)
				L.Call(0, 1)
				v := L.Get(-1)
				L.Pop(1)
				if v == lua.LNil {
					done = true
					break
				}
				got++
				chunk.RawSetInt(got, v)
			}
			if got == 0 {
				L.Push(lua.LNil)
				return 1
			}
			count++
			L.Push(chunk)
			L.Push(lua.LNumber(count))
			return 2
		}))
	}
	return 1
}

// IsCallable reports whether v can be called: a function, or a value with
// a __call metamethod (a csv.rows iterator).
func IsCallable(L *lua.LState, v lua.LValue) bool {
	if _, ok := v.(*lua.LFunction); ok {
		return true
	}
	_, ok := L.GetMetaField(v, "__call").(*lua.LFunction)
	return ok
}
