package stdlib

import (
	"context"
	"strings"
	"testing"
	"time"
)

// fixedNow is 2024-11-11 00:00:00 GMT+8 (1731254400), given in UTC to
// prove the module converts.
func fixedNow() time.Time { return time.Date(2024, 11, 10, 16, 0, 0, 0, time.UTC) }

func TestTimeNowParseFormat(t *testing.T) {
	L := newState(t, &Env{Now: fixedNow})
	cases := map[string]string{
		`time.now()`:                                  "2024-11-11 00:00:00",
		`time.unix()`:                                 "1731254400",
		`time.parse("2024-11-11 00:00:00")`:           "1731254400",
		`time.parse("2024-11-11")`:                    "1731254400",
		`time.parse(" 2024-11-11 00:00:01 ")`:         "1731254401",
		`time.format(1731254400)`:                     "2024-11-11 00:00:00",
		`time.format(1731254400, "yyyy-MM-dd")`:       "2024-11-11",
		`time.format("2024-11-11 08:30:00", "HH:mm")`: "08:30",
		`time.add("2024-11-11 00:00:00", "30m")`:      "2024-11-11 00:30:00",
		`time.add("2024-11-11 00:00:00", "1d")`:       "2024-11-12 00:00:00",
		`time.add("2024-11-11 00:00:00", "1d12h")`:    "2024-11-12 12:00:00",
		`time.add("2024-11-11 00:00:00", "-1d")`:      "2024-11-10 00:00:00",
		`time.add("2024-11-11", "-90s")`:              "2024-11-10 23:58:30",
		`time.add(1731254400, "1h")`:                  "1731258000",
		`time.add(1731254400, 60)`:                    "1731254460",
	}
	for expr, want := range cases {
		if got := evalString(t, L, expr); got != want {
			t.Errorf("%s = %s, want %s", expr, got, want)
		}
	}
	wantError(t, L, `time.parse("2024-13-45")`, "time.parse", `"2024-13-45"`)
	wantError(t, L, `time.parse("yesterday")`, `"yesterday"`, "yyyy-MM-dd")
	wantError(t, L, `time.add("2024-11-11", "soon")`, "time.add", `"soon"`)
	wantError(t, L, `time.add("2024-11-11", "1d-3h")`, "time.add")
	wantError(t, L, `time.parse({})`, "time.parse")
}

func TestTimeNowDefaultClockIsCST(t *testing.T) {
	L := newState(t, nil)
	got := evalString(t, L, `time.now()`)
	want := time.Now().In(time.FixedZone("X", 8*3600)).Format("2006-01-02 15:04")
	if !strings.HasPrefix(got, want[:13]) { // same hour (minute may tick over)
		t.Fatalf("now = %s, want about %s", got, want)
	}
}

func TestTimeWindows(t *testing.T) {
	L := newState(t, nil)
	run(t, L, `
		local got = {}
		for from, to in time.windows("2024-11-11 00:00:00", "2024-11-12 06:00:00", "10h") do
			got[#got + 1] = from .. " ~ " .. to
		end
		result = table.concat(got, "|")
	`)
	want := "2024-11-11 00:00:00 ~ 2024-11-11 10:00:00|" +
		"2024-11-11 10:00:00 ~ 2024-11-11 20:00:00|" +
		"2024-11-11 20:00:00 ~ 2024-11-12 06:00:00"
	if got := L.GetGlobal("result").String(); got != want {
		t.Fatalf("windows:\n%s\nwant\n%s", got, want)
	}
	run(t, L, `
		local got = {}
		for from, to in time.windows(0, 250, 100) do got[#got + 1] = from .. "-" .. to end
		result = table.concat(got, ",")
		n = 0
		for a, b in time.windows("2024-11-11", "2024-11-11", "1h") do n = n + 1 end
		for a, b in time.windows("2024-11-12", "2024-11-11", "1h") do n = n + 1 end
	`)
	if got := L.GetGlobal("result").String(); got != "0-100,100-200,200-250" {
		t.Fatalf("numeric windows: %s", got)
	}
	if n := L.GetGlobal("n").String(); n != "0" {
		t.Fatalf("empty ranges gave %s windows", n)
	}
	wantError(t, L, `time.windows("2024-11-11", "2024-11-12", "0s")`, "step must be positive")
	wantError(t, L, `time.windows("2024-11-11", "2024-11-12", "-1h")`, "step must be positive")
}

func TestTimeSleep(t *testing.T) {
	L := newState(t, nil)
	start := time.Now()
	run(t, L, `time.sleep("20ms"); time.sleep(0.01); time.sleep(0)`)
	if d := time.Since(start); d < 30*time.Millisecond {
		t.Fatalf("slept only %v", d)
	}
}

func TestTimeSleepCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	L := newState(t, &Env{Context: func() context.Context { return ctx }})
	time.AfterFunc(50*time.Millisecond, cancel)
	start := time.Now()
	err := L.DoString(`time.sleep("30s")`)
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("sleep not interrupted (%v)", d)
	}
	if err == nil || !strings.Contains(err.Error(), "interrupted") {
		t.Fatalf("want an interrupted error, got %v", err)
	}
	// Already cancelled: returns at once.
	if err := L.DoString(`time.sleep("1d")`); err == nil || !strings.Contains(err.Error(), "interrupted") {
		t.Fatalf("want interrupted, got %v", err)
	}
	// pcall catches it like any other error.
	run(t, L, `local ok, err = pcall(time.sleep, "1h"); assert(not ok and tostring(err):find("interrupted"))`)
}

func TestTimeSleepLStateContext(t *testing.T) {
	L := newState(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	L.SetContext(ctx)
	start := time.Now()
	err := L.DoString(`time.sleep("30s")`)
	if time.Since(start) > 5*time.Second || err == nil {
		t.Fatalf("sleep not interrupted through the LState context: %v", err)
	}
}

func TestParseDuration(t *testing.T) {
	good := map[string]time.Duration{
		"30s": 30 * time.Second, "1d": 24 * time.Hour, "2d12h": 60 * time.Hour, "1.5d": 36 * time.Hour,
		"-1d2h": -26 * time.Hour, "500ms": 500 * time.Millisecond, "90": 90 * time.Second, "+1h": time.Hour,
	}
	for s, want := range good {
		got, err := ParseDuration(s)
		if err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", s, got, err, want)
		}
	}
	for _, s := range []string{"", "d", "1x", "1d-1h", "abc", "1dd"} {
		if _, err := ParseDuration(s); err == nil {
			t.Errorf("ParseDuration(%q) accepted", s)
		}
	}
}
