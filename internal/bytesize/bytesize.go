// Package bytesize is the one way topscript reads and writes an amount of
// memory: the --memory-limit flag, the memory_limit key of topscript.toml
// and the messages of the engine's limits.
//
// Parse reads a number with an optional unit: B; the binary units KiB, MiB,
// GiB, TiB (and K, M, G, T, as Go's GOMEMLIMIT and Docker read them); the
// decimal units kB/KB, MB, GB, TB. Units are matched without regard to case
// ("512mib"), a space may separate number and unit ("1.5 GiB"), and a
// fraction is allowed where the result is a whole number of bytes or more.
// Format writes the shortest exact binary form it can ("512 MiB"), else one
// decimal ("1.5 GiB").
package bytesize

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Units, in bytes.
const (
	KiB int64 = 1 << 10
	MiB int64 = 1 << 20
	GiB int64 = 1 << 30
	TiB int64 = 1 << 40
)

var units = map[string]int64{
	"":  1,
	"b": 1, "byte": 1, "bytes": 1,
	"k": KiB, "kib": KiB, "kb": 1e3,
	"m": MiB, "mib": MiB, "mb": 1e6,
	"g": GiB, "gib": GiB, "gb": 1e9,
	"t": TiB, "tib": TiB, "tb": 1e12,
}

// ErrSyntax is the cause of every Parse error.
var ErrSyntax = errors.New("want a size such as 512MiB, 2GiB or 1500000000")

// Parse reads a size as the package documentation says. It returns an
// error wrapping ErrSyntax for anything else, negative sizes included.
func Parse(s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := 0
	for i < len(t) && (t[i] >= '0' && t[i] <= '9' || t[i] == '.') {
		i++
	}
	num, unit := t[:i], strings.ToLower(strings.TrimSpace(t[i:]))
	mult, ok := units[unit]
	if num == "" || !ok {
		return 0, fmt.Errorf("%q: %w", s, ErrSyntax)
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0, fmt.Errorf("%q: %w", s, ErrSyntax)
	}
	n := f * float64(mult)
	if n >= math.MaxInt64 {
		return 0, fmt.Errorf("%q: too large: %w", s, ErrSyntax)
	}
	return int64(n), nil
}

// Format writes n bytes: "512 MiB", "2 GiB", "1.5 GiB", "12 KiB", "300 bytes".
func Format(n int64) string {
	if n < 0 {
		return "-" + Format(-n)
	}
	for _, u := range []struct {
		size int64
		name string
	}{{TiB, "TiB"}, {GiB, "GiB"}, {MiB, "MiB"}, {KiB, "KiB"}} {
		if n < u.size {
			continue
		}
		if n%u.size == 0 {
			return strconv.FormatInt(n/u.size, 10) + " " + u.name
		}
		return strconv.FormatFloat(float64(n)/float64(u.size), 'f', 1, 64) + " " + u.name
	}
	if n == 1 {
		return "1 byte"
	}
	return strconv.FormatInt(n, 10) + " bytes"
}
