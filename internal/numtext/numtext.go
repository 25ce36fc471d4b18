// Package numtext is the one rule for writing a number as text wherever
// topscript turns a number into a string: TOP parameters, CSV cells, job
// report cells and keys, state keys, the keys of converted tables, the
// REPL's display. An integral number is written with all its digits and no
// exponent or ".0" (1e20 is "100000000000000000000"); any other number in
// the shortest decimal form that reads back as the same float, without an
// exponent (0.1 is "0.1", 1e-7 is "0.0000001"). NaN and the infinities are
// "nan", "inf" and "-inf", as Lua prints them.
//
// JSON keeps its own number syntax (the json module writes what
// encoding/json writes); this is the rule for plain text.
package numtext

import (
	"math"
	"math/big"
	"strconv"
)

// Format writes f by the rule of the package documentation.
func Format(f float64) string { return format(f, 64) }

// Format32 is Format for a float32: the shortest form that reads back as
// the same float32 (float32(0.1) is "0.1").
func Format32(f float32) string { return format(float64(f), 32) }

func format(f float64, bits int) string {
	switch {
	case math.IsNaN(f):
		return "nan"
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	case f == math.Trunc(f):
		if f >= -9e18 && f <= 9e18 {
			return strconv.FormatInt(int64(f), 10)
		}
		return new(big.Float).SetFloat64(f).Text('f', 0) // every digit, exactly
	}
	return strconv.FormatFloat(f, 'f', -1, bits)
}

// MaxExactInt is 2^53: every integer of smaller magnitude is exact in a
// float64 — a Lua number, a JavaScript number, a number of jq 1.6. An
// integer beyond it, a 19-digit trade id, travels as a string of its
// digits wherever a reader would turn it into a float.
const MaxExactInt = 1 << 53

// IntBeyondFloat reports whether s is the text of an integer (digits with
// an optional sign, no fraction or exponent) whose magnitude is beyond
// MaxExactInt, so that a float64 would change its digits.
func IntBeyondFloat(s string) bool {
	digits := s
	if len(digits) > 0 && (digits[0] == '-' || digits[0] == '+') {
		digits = digits[1:]
	}
	if digits == "" || len(digits) < 16 { // 2^53 has 16 digits
		return false
	}
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return false
		}
	}
	u, err := strconv.ParseUint(digits, 10, 64)
	return err != nil || u > MaxExactInt // err: beyond uint64, beyond 2^53 too
}
