package lua51lib

import lua "github.com/yuin/gopher-lua"

// tableSort is Lua 5.1's table.sort(t [, comp]), its quicksort (auxsort)
// step for step: elements that compare equal end up in the order Lua 5.1
// leaves them, and an inconsistent comparison fails as it does ("invalid
// order function for sorting"). gopher-lua sorted its whole internal
// array with Go's sort, trailing nil slots included (a table emptied by
// table.remove then sorted failed comparing nil), and ordered ties
// differently.
func tableSort(L *lua.LState) int {
	t := L.CheckTable(1)
	var cmp *lua.LFunction
	if v := L.Get(2); v != lua.LNil {
		cmp = L.CheckFunction(2)
	}
	s := sorter{L: L, t: t, cmp: cmp}
	s.sort(1, t.Len())
	return 0
}

type sorter struct {
	L   *lua.LState
	t   *lua.LTable
	cmp *lua.LFunction
}

func (s *sorter) get(i int) lua.LValue { return s.t.RawGetInt(i) }

func (s *sorter) set(i int, v lua.LValue) { s.t.RawSetInt(i, v) }

// less is sort_comp: comp(a, b), or a < b.
func (s *sorter) less(a, b lua.LValue) bool {
	if s.cmp == nil {
		return s.L.LessThan(a, b)
	}
	s.L.Push(s.cmp)
	s.L.Push(a)
	s.L.Push(b)
	s.L.Call(2, 1)
	res := lua.LVAsBool(s.L.Get(-1))
	s.L.Pop(1)
	return res
}

func (s *sorter) invalid() { s.L.RaiseError("invalid order function for sorting") }

// sort is auxsort(l, u).
func (s *sorter) sort(l, u int) {
	for l < u {
		// Sort a[l], a[(l+u)/2] and a[u].
		al, au := s.get(l), s.get(u)
		if s.less(au, al) {
			s.set(l, au)
			s.set(u, al)
		}
		if u-l == 1 {
			break
		}
		i := (l + u) / 2
		ai, al := s.get(i), s.get(l)
		if s.less(ai, al) {
			s.set(i, al)
			s.set(l, ai)
		} else {
			au := s.get(u)
			if s.less(au, ai) {
				s.set(i, au)
				s.set(u, ai)
			}
		}
		if u-l == 2 {
			break
		}
		p := s.get(i) // the pivot, moved to a[u-1]
		s.set(i, s.get(u-1))
		s.set(u-1, p)
		// Invariant: a[l..i] <= p <= a[j..u].
		i, j := l, u-1
		for {
			var ai, aj lua.LValue
			for {
				i++
				ai = s.get(i)
				if !s.less(ai, p) {
					break
				}
				if i > u {
					s.invalid()
				}
			}
			for {
				j--
				aj = s.get(j)
				if !s.less(p, aj) {
					break
				}
				if j < l {
					s.invalid()
				}
			}
			if j < i {
				break
			}
			s.set(i, aj)
			s.set(j, ai)
		}
		au1, ai := s.get(u-1), s.get(i)
		s.set(u-1, ai)
		s.set(i, au1)
		// Recurse into the smaller half, loop on the larger.
		if i-l < u-i {
			j = l
			i = i - 1
			l = i + 2
		} else {
			j = i + 1
			i = u
			u = j - 2
		}
		s.sort(j, i)
	}
}
