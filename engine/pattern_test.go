package engine

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// The pattern functions' answers are Lua 5.1's: internal/lua51lib's
// testdata/patterns.lua, checked against lua5.1. These tests are the
// engine's limits on them.

// A backtracking pattern that would take hours stops when the run is
// interrupted, in each of the four functions.
func TestSlowPatternsAreInterrupted(t *testing.T) {
	e, _ := newEngine(t, Options{})
	for name, src := range map[string]string{
		"find.lua":   `local s = string.rep("a", 3000) return s:find(".-.-.-.-b")`,
		"match.lua":  `local s = string.rep("a", 3000) return s:match("(.-)(.-)(.-)(.-)b")`,
		"gmatch.lua": `local s = string.rep("a", 3000) for x in s:gmatch(".-.-.-.-b") do end`,
		"gsub.lua":   `local s = string.rep("a", 3000) return s:gsub(".-.-.-.-b", "")`,
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		start := time.Now()
		se := scriptErr(t, e, ctx, name, src)
		cancel()
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("%s: stopped after %s", name, d)
		}
		if !errors.Is(se, context.DeadlineExceeded) || se.Line != 1 || !strings.HasPrefix(se.Msg, "interrupted") {
			t.Errorf("%s: got %q", name, se.Error())
		}
	}
}

// gsub's result is checked as it grows: a replacement that squares the
// subject stops at the memory limit.
func TestGsubBombRefused(t *testing.T) {
	e, _ := newEngine(t, Options{MemoryLimit: limitAbove(64 << 20)})
	se := scriptErr(t, e, context.Background(), "bomb.lua", "local s = string.rep('x', 2^14)\nlocal r = s:gsub('', s)")
	if !errors.Is(se, ErrMemoryLimit) || se.Line != 2 || !strings.Contains(se.Msg, "string.gsub would need") {
		t.Fatalf("got %q", se.Error())
	}
	se = scriptErr(t, e, context.Background(), "long.lua", "local s = string.rep('x', 2^14)\nlocal r = s:rep(2^10):gsub('x', s)")
	if !strings.Contains(se.Msg, "string.gsub") || se.Line != 2 {
		t.Fatalf("got %q", se.Error())
	}
}

// A pattern nested too deep is an error, not a Go stack overflow.
func TestPatternTooComplex(t *testing.T) {
	e, _ := newEngine(t, Options{})
	se := scriptErr(t, e, context.Background(), "deep.lua", `local p = string.rep("a?", 500) return ("a"):rep(500):find(p)`)
	if se.Msg != "pattern too complex" || se.Line != 1 {
		t.Fatalf("got %q", se.Error())
	}
}
