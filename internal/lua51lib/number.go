package lua51lib

import (
	"math"
	"strconv"
	"strings"

	lua "github.com/yuin/gopher-lua"
)

// baseToNumber is Lua 5.1's tonumber(e [, base]). In base 10 a string is
// read as C's strtod reads it (surrounding spaces, a sign, decimals with
// an exponent, hexadecimal, inf and nan; gopher-lua refused "1e2"); in
// another base as strtoul does (a sign, for base 16 an optional 0x,
// trailing spaces).
func baseToNumber(L *lua.LState) int {
	base := L.OptInt(2, 10)
	if base == 10 {
		L.CheckAny(1)
		switch v := L.Get(1).(type) {
		case lua.LNumber:
			L.Push(v)
			return 1
		case lua.LString:
			if n, ok := str2d(string(v)); ok {
				L.Push(lua.LNumber(n))
				return 1
			}
		}
		L.Push(lua.LNil)
		return 1
	}
	s := checkStringOrNumber(L, 1)
	if base < 2 || base > 36 {
		L.ArgError(2, "base out of range")
	}
	if n, ok := strtoul(s, base); ok {
		L.Push(lua.LNumber(n))
		return 1
	}
	L.Push(lua.LNil)
	return 1
}

// isSpace is C's isspace in the C locale.
func isSpace(c byte) bool { return c == ' ' || (c >= '\t' && c <= '\r') }

func trimSpace(s string) string {
	i, j := 0, len(s)
	for i < j && isSpace(s[i]) {
		i++
	}
	for j > i && isSpace(s[j-1]) {
		j--
	}
	return s[i:j]
}

// str2d is Lua 5.1's luaO_str2d: the whole string, but for surrounding
// spaces, is one number as glibc's strtod reads it.
func str2d(s string) (float64, bool) {
	body := trimSpace(s)
	neg := false
	if body != "" && (body[0] == '+' || body[0] == '-') {
		neg = body[0] == '-'
		body = body[1:]
	}
	sign := 1.0
	if neg {
		sign = -1
	}
	lower := strings.ToLower(body)
	switch lower {
	case "inf", "infinity":
		return sign * math.Inf(1), true
	case "nan":
		return math.NaN(), true
	}
	if strings.HasPrefix(lower, "nan(") && strings.HasSuffix(lower, ")") {
		return math.NaN(), true
	}
	if strings.HasPrefix(lower, "0x") {
		return hexFloat(body[2:], sign)
	}
	if !decimal(body) {
		return 0, false
	}
	f, err := strconv.ParseFloat(body, 64)
	if err != nil && !isRange(err) {
		return 0, false
	}
	return sign * f, true
}

func isRange(err error) bool {
	ne, ok := err.(*strconv.NumError)
	return ok && ne.Err == strconv.ErrRange
}

// decimal reports whether s is digits [. digits] [e [sign] digits] with at
// least one digit in the mantissa (strtod's decimal form; Go's ParseFloat
// would also take underscores, hex and "inf").
func decimal(s string) bool {
	i, digits := 0, 0
	for i < len(s) && isDigit(s[i]) {
		i, digits = i+1, digits+1
	}
	if i < len(s) && s[i] == '.' {
		i++
		for i < len(s) && isDigit(s[i]) {
			i, digits = i+1, digits+1
		}
	}
	if digits == 0 {
		return false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		e := 0
		for i < len(s) && isDigit(s[i]) {
			i, e = i+1, e+1
		}
		if e == 0 {
			return false
		}
	}
	return i == len(s)
}

// hexFloat reads strtod's hexadecimal form after the 0x: hex digits with
// an optional fraction and binary exponent.
func hexFloat(s string, sign float64) (float64, bool) {
	mant, exp, digits := 0.0, 0, 0
	i := 0
	for ; i < len(s) && isHex(s[i]); i++ {
		mant = mant*16 + float64(hexVal(s[i]))
		digits++
	}
	if i < len(s) && s[i] == '.' {
		i++
		for ; i < len(s) && isHex(s[i]); i++ {
			mant = mant*16 + float64(hexVal(s[i]))
			exp -= 4
			digits++
		}
	}
	if digits == 0 {
		return 0, false
	}
	if i < len(s) && (s[i] == 'p' || s[i] == 'P') {
		i++
		esign := 1
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			if s[i] == '-' {
				esign = -1
			}
			i++
		}
		e, n := 0, 0
		for ; i < len(s) && isDigit(s[i]); i++ {
			if e < 100000 {
				e = e*10 + int(s[i]-'0')
			}
			n++
		}
		if n == 0 {
			return 0, false
		}
		exp += esign * e
	}
	if i != len(s) {
		return 0, false
	}
	return sign * math.Ldexp(mant, exp), true
}

func isHex(c byte) bool {
	return isDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

func hexVal(c byte) int {
	switch {
	case isDigit(c):
		return int(c - '0')
	case c >= 'a':
		return int(c-'a') + 10
	default:
		return int(c-'A') + 10
	}
}

// strtoul reads s as C's strtoul(s, &end, base) followed by only spaces:
// the value wraps modulo 2^64 when negated and saturates when too big.
func strtoul(s string, base int) (float64, bool) {
	i := 0
	for i < len(s) && isSpace(s[i]) {
		i++
	}
	neg := false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	if base == 16 && i+1 < len(s) && s[i] == '0' && (s[i+1] == 'x' || s[i+1] == 'X') && i+2 < len(s) && digitIn(s[i+2], base) {
		i += 2
	}
	var n uint64
	overflow := false
	start := i
	for ; i < len(s); i++ {
		d, ok := digitValue(s[i], base)
		if !ok {
			break
		}
		if n > (math.MaxUint64-uint64(d))/uint64(base) {
			overflow = true
		}
		n = n*uint64(base) + uint64(d)
	}
	if i == start {
		return 0, false
	}
	for i < len(s) && isSpace(s[i]) {
		i++
	}
	if i != len(s) {
		return 0, false
	}
	if overflow {
		return float64(math.MaxUint64), true
	}
	if neg {
		n = -n
	}
	return float64(n), true
}

func digitValue(c byte, base int) (int, bool) {
	var d int
	switch {
	case isDigit(c):
		d = int(c - '0')
	case c >= 'a' && c <= 'z':
		d = int(c-'a') + 10
	case c >= 'A' && c <= 'Z':
		d = int(c-'A') + 10
	default:
		return 0, false
	}
	return d, d < base
}

func digitIn(c byte, base int) bool {
	_, ok := digitValue(c, base)
	return ok
}
