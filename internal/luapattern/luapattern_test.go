package luapattern

import (
	"errors"
	"strings"
	"testing"
)

// The Lua-visible behaviour is tested against lua5.1 in package engine
// (TestPatternsAreLua51); these are the Go API's own promises.

func TestFindAndCaptures(t *testing.T) {
	m := New("key = value", "(%w+)%s*=%s*()(%w+)", nil)
	start, end, err := m.Find(0)
	if err != nil || start != 0 || end != 11 {
		t.Fatalf("Find = %d, %d, %v", start, end, err)
	}
	caps, err := m.Captures(start, end, true)
	if err != nil {
		t.Fatal(err)
	}
	want := []Capture{{0, 3, false}, {6, 0, true}, {6, 11, false}}
	if len(caps) != len(want) {
		t.Fatalf("captures %v", caps)
	}
	for i := range want {
		if caps[i] != want[i] {
			t.Errorf("capture %d = %+v, want %+v", i, caps[i], want[i])
		}
	}
	if s, e, _ := New("abc", "^b", nil).Find(0); s != -1 || e != -1 {
		t.Errorf("an anchored pattern matched later: %d %d", s, e)
	}
}

// The check runs while the matcher backtracks, and its error stops it.
func TestCheckStopsTheMatcher(t *testing.T) {
	stop := errors.New("stop")
	calls := 0
	m := New(strings.Repeat("a", 3000), ".-.-.-.-b", func() error {
		if calls++; calls == 10 {
			return stop
		}
		return nil
	})
	if _, _, err := m.Find(0); !errors.Is(err, stop) || IsError(err) {
		t.Fatalf("err = %v after %d checks", err, calls)
	}
	if calls != 10 {
		t.Errorf("%d checks, want 10", calls)
	}
}

func TestPatternErrors(t *testing.T) {
	for pat, want := range map[string]string{
		"%":                       "malformed pattern (ends with '%')",
		"[a":                      "malformed pattern (missing ']')",
		"(a":                      "unfinished capture",
		"a)":                      "invalid pattern capture",
		"%b":                      "unbalanced pattern",
		"%fa":                     "missing '[' after '%f' in pattern",
		"%1":                      "invalid capture index",
		strings.Repeat("a?", 300): "pattern too complex",
		strings.Repeat("()", 33):  "too many captures",
	} {
		m := New(strings.Repeat("a", 300), pat, nil)
		s, e, err := m.Find(0)
		if err == nil && s >= 0 {
			_, err = m.Captures(s, e, true)
		}
		if !IsError(err) || err.Error() != want {
			t.Errorf("%.20q: err = %v, want %s", pat, err, want)
		}
	}
}
