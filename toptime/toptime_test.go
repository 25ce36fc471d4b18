package toptime

import (
	"testing"
	"time"
)

// A TOP time is GMT+8 whatever the host zone.
func TestFormatGMT8(t *testing.T) {
	instant := time.Date(2020, 1, 1, 4, 0, 0, 0, time.UTC) // 12:00 in GMT+8
	for _, zone := range []string{"UTC", "America/New_York", "Asia/Shanghai"} {
		loc, err := time.LoadLocation(zone)
		if err != nil {
			t.Skipf("zone %s: %v", zone, err)
		}
		old := time.Local
		time.Local = loc
		got := Format(instant.In(loc))
		got2 := Format(instant.Local())
		time.Local = old
		if got != "2020-01-01 12:00:00" || got2 != got {
			t.Errorf("host zone %s: got %q / %q", zone, got, got2)
		}
	}
}

func TestParseIsGMT8(t *testing.T) {
	got, err := Parse("2020-01-01 12:00:00")
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2020, 1, 1, 4, 0, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("Parse = %v, want %v", got, want)
	}
	if _, err := Parse("2020-01-01T12:00:00"); err == nil {
		t.Error("Parse accepted another layout")
	}
}
