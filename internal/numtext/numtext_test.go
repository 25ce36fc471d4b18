package numtext

import (
	"math"
	"testing"
)

func TestFormat(t *testing.T) {
	for _, c := range []struct {
		in   float64
		want string
	}{
		{0, "0"}, {math.Copysign(0, -1), "0"}, {42, "42"}, {-7, "-7"}, {2.5, "2.5"}, {0.1, "0.1"},
		{1e15, "1000000000000000"}, {1e20, "100000000000000000000"}, {-1e20, "-100000000000000000000"},
		{1 << 70, "1180591620717411303424"}, // exact, not padded with zeros
		{9007199254740993, "9007199254740992"},
		{1e-7, "0.0000001"}, {0.30000000000000004, "0.30000000000000004"},
		{math.NaN(), "nan"}, {math.Inf(1), "inf"}, {math.Inf(-1), "-inf"},
	} {
		if got := Format(c.in); got != c.want {
			t.Errorf("Format(%v) = %q, want %q", c.in, got, c.want)
		}
	}
	if got := Format32(0.1); got != "0.1" {
		t.Errorf("Format32(0.1) = %q", got)
	}
}

func TestIntBeyondFloat(t *testing.T) {
	for s, want := range map[string]bool{
		"3612345000299995456": true, "-3612345000299995456": true, "9007199254740993": true,
		"9007199254740992": false, "600000153551": false, "4100779410358": false,
		"99999999999999999999999": true, "1.5": false, "3612345000299995456.0": false, "1e20": false,
		"": false, "-": false, "12345678901234567x": false,
	} {
		if got := IntBeyondFloat(s); got != want {
			t.Errorf("IntBeyondFloat(%q) = %v, want %v", s, got, want)
		}
	}
}
