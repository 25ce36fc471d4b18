package bytesize

import (
	"errors"
	"testing"
)

func TestParse(t *testing.T) {
	for in, want := range map[string]int64{
		"512MiB": 512 << 20, "512mib": 512 << 20, "512 MiB": 512 << 20, "2GiB": 2 << 30, "2G": 2 << 30,
		"1.5GiB": 3 << 29, "1500000000": 1500000000, "100MB": 100e6, "1kB": 1000, "64k": 64 << 10,
		"1TiB": 1 << 40, "7B": 7, " 3 gb ": 3e9, "0": 0,
	} {
		got, err := Parse(in)
		if err != nil || got != want {
			t.Errorf("Parse(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "MiB", "-1MiB", "12 parsecs", "1..5G", "0x10", "1e9", "99999999999TiB"} {
		if n, err := Parse(in); !errors.Is(err, ErrSyntax) {
			t.Errorf("Parse(%q) = %d, %v; want ErrSyntax", in, n, err)
		}
	}
}

func TestFormat(t *testing.T) {
	for n, want := range map[int64]string{
		512 << 20: "512 MiB", 2 << 30: "2 GiB", 3 << 29: "1.5 GiB", 12 << 10: "12 KiB", 300: "300 bytes",
		1: "1 byte", 0: "0 bytes", 5 << 40: "5 TiB", -(1 << 20): "-1 MiB",
	} {
		if got := Format(n); got != want {
			t.Errorf("Format(%d) = %q, want %q", n, got, want)
		}
	}
	// What Format writes, Parse reads back.
	for _, n := range []int64{512 << 20, 2 << 30, 12 << 10, 300} {
		if back, err := Parse(Format(n)); err != nil || back != n {
			t.Errorf("Parse(Format(%d)) = %d, %v", n, back, err)
		}
	}
}
