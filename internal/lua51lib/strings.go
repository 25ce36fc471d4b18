package lua51lib

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	lua "github.com/yuin/gopher-lua"
)

// The string functions below follow Lua 5.1's lstrlib.c where gopher-lua's
// differ: positions are clamped as posrelat does, a failed find or match
// returns one nil, gsub with a limit below 1 replaces nothing, upper and
// lower change ASCII letters only (the C locale), and format is Lua 5.1's
// (C printf conversions on bytes, not runes).

func openStrings(L *lua.LState, lim Limits) {
	s, ok := L.GetGlobal("string").(*lua.LTable)
	if !ok {
		return
	}
	set := func(name string, fn lua.LGFunction) { s.RawSetString(name, L.NewFunction(fn)) }
	set("find", lim.strFindAux(true))
	set("match", lim.strFindAux(false))
	set("gmatch", lim.strGmatch)
	set("gsub", lim.strGsub)
	set("byte", strByte)
	set("format", lim.strFormat)
	set("upper", strCase('a', 'z', 'A'-'a'))
	set("lower", strCase('A', 'Z', 'a'-'A'))
}

// posrelat is lstrlib's: a negative position counts from the end; the
// result is at least 0.
func posrelat(pos, n int) int {
	if pos < 0 {
		pos += n + 1
	}
	return max(pos, 0)
}

// strByte is Lua 5.1's string.byte(s [, i [, j]]): i is clamped to 1 and
// j to #s (gopher-lua returns nil for i = 0).
func strByte(L *lua.LState) int {
	s := L.CheckString(1)
	i := posrelat(L.OptInt(2, 1), len(s))
	j := posrelat(L.OptInt(3, i), len(s))
	i = max(i, 1)
	j = min(j, len(s))
	if i > j {
		return 0
	}
	for k := i; k <= j; k++ {
		L.Push(lua.LNumber(s[k-1]))
	}
	return j - i + 1
}

// strCase maps the ASCII letters lo..hi by delta, byte by byte, as C's
// toupper/tolower do in the C locale (gopher-lua maps every Unicode
// letter: "é" became "É").
func strCase(lo, hi byte, delta int) lua.LGFunction {
	return func(L *lua.LState) int {
		s := L.CheckString(1)
		b := []byte(s)
		for i, c := range b {
			if c >= lo && c <= hi {
				b[i] = byte(int(c) + delta)
			}
		}
		L.Push(lua.LString(b))
		return 1
	}
}

// strFormat is Lua 5.1's string.format: C conversions with flags "-+ #0",
// a width and a precision of at most two digits each; %d and %i print the
// number truncated to an integer, %o %u %x %X as an unsigned 64-bit
// integer, %c one byte, %s the string's bytes (widths and precisions count
// bytes, not runes), %q a string Lua can read back; %s and %q take
// strings and numbers only. A result that grows past 1 MiB is offered to
// the host's Reserve.
func (lim Limits) strFormat(L *lua.LState) int {
	fmtStr := L.CheckString(1)
	var b strings.Builder
	g := lim.growth("string.format", &b)
	arg := 1
	for i := 0; i < len(fmtStr); i++ {
		c := fmtStr[i]
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		i++
		if i < len(fmtStr) && fmtStr[i] == '%' {
			b.WriteByte('%')
			continue
		}
		// scanformat
		start := i
		for i < len(fmtStr) && strings.IndexByte("-+ #0", fmtStr[i]) >= 0 {
			i++
		}
		if i-start >= len("-+ #0")+1 {
			L.RaiseError("invalid format (repeated flags)")
		}
		flags := fmtStr[start:i]
		wStart := i
		for k := 0; k < 2 && i < len(fmtStr) && isDigit(fmtStr[i]); k++ {
			i++
		}
		width := fmtStr[wStart:i]
		prec, hasPrec := "", false
		if i < len(fmtStr) && fmtStr[i] == '.' {
			hasPrec = true
			i++
			pStart := i
			for k := 0; k < 2 && i < len(fmtStr) && isDigit(fmtStr[i]); k++ {
				i++
			}
			prec = fmtStr[pStart:i]
		}
		if i < len(fmtStr) && isDigit(fmtStr[i]) {
			L.RaiseError("invalid format (width or precision too long)")
		}
		if i >= len(fmtStr) {
			L.RaiseError("invalid option '%%' to 'format'")
		}
		arg++
		spec := fmtSpec{flags: flags, width: atoi(width), prec: atoi(prec), hasPrec: hasPrec}
		switch conv := fmtStr[i]; conv {
		case 'c':
			spec.pad(&b, string([]byte{byte(int(L.CheckNumber(arg)))}))
		case 'd', 'i':
			n := int64(float64(L.CheckNumber(arg)))
			b.WriteString(spec.goFormat('d', n))
		case 'o', 'u', 'x', 'X':
			n := uint64(int64(float64(L.CheckNumber(arg))))
			verb := conv
			if conv == 'u' {
				verb = 'd'
			}
			b.WriteString(spec.goFormat(verb, n))
		case 'e', 'E', 'f', 'g', 'G':
			b.WriteString(spec.float(conv, float64(L.CheckNumber(arg))))
		case 'q':
			s := checkStringOrNumber(L, arg)
			g.add(L, 2*len(s)+2) // at most every byte escaped
			addQuoted(&b, s)
		case 's':
			s := checkStringOrNumber(L, arg)
			g.add(L, max(len(s), spec.width))
			if !hasPrec && len(s) >= 100 {
				b.WriteString(s)
				break
			}
			if hasPrec && spec.prec < len(s) {
				s = s[:spec.prec]
			}
			spec.pad(&b, s)
		default:
			L.RaiseError("invalid option '%%%c' to 'format'", conv)
		}
	}
	L.Push(lua.LString(b.String()))
	return 1
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

// checkStringOrNumber is luaL_checklstring: a string, or a number in
// Lua's string form.
func checkStringOrNumber(L *lua.LState, n int) string {
	switch v := L.Get(n).(type) {
	case lua.LString:
		return string(v)
	case lua.LNumber:
		return v.String()
	}
	L.TypeError(n, lua.LTString)
	return ""
}

type fmtSpec struct {
	flags       string
	width, prec int
	hasPrec     bool
}

func (f fmtSpec) has(flag byte) bool { return strings.IndexByte(f.flags, flag) >= 0 }

// pad writes s padded to the width with spaces, on the left unless the
// '-' flag is set (byte counts).
func (f fmtSpec) pad(b *strings.Builder, s string) {
	fill := strings.Repeat(" ", max(f.width-len(s), 0))
	if f.has('-') {
		b.WriteString(s + fill)
	} else {
		b.WriteString(fill + s)
	}
}

// goFormat formats an integer with Go's fmt, whose integer verbs and
// flags behave as C's.
func (f fmtSpec) goFormat(verb byte, v any) string {
	form := "%" + f.flags
	if f.width > 0 {
		form += strconv.Itoa(f.width)
	}
	if f.hasPrec {
		form += "." + strconv.Itoa(f.prec)
	}
	return fmt.Sprintf(form+string(verb), v)
}

// float formats v as C's %e %f %g do: precision 6 by default, inf and nan
// spelled as glibc does.
func (f fmtSpec) float(verb byte, v float64) string {
	if math.IsInf(v, 0) || math.IsNaN(v) {
		s := "inf"
		if math.IsNaN(v) {
			s = "nan"
		}
		if verb == 'E' || verb == 'G' {
			s = strings.ToUpper(s)
		}
		switch {
		case math.Signbit(v):
			s = "-" + s
		case f.has('+'):
			s = "+" + s
		case f.has(' '):
			s = " " + s
		}
		g := f
		g.flags = strings.ReplaceAll(f.flags, "0", "")
		var b strings.Builder
		g.pad(&b, s)
		return b.String()
	}
	g := f
	if !g.hasPrec {
		g.hasPrec, g.prec = true, 6
	}
	return g.goFormat(verb, v)
}

// addQuoted is lstrlib's addquoted.
func addQuoted(b *strings.Builder, s string) {
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '"', '\\', '\n':
			b.WriteByte('\\')
			b.WriteByte(c)
		case '\r':
			b.WriteString(`\r`)
		case 0:
			b.WriteString(`\000`)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
}
