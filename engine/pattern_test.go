package engine

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The pattern functions give Lua 5.1's answers: testdata/patterns.lua runs
// find, match, gmatch and gsub over some 1,400 subject × pattern pairs
// (malformed patterns included) and must print testdata/patterns.out,
// which is lua5.1's output. With lua5.1 on PATH the test first checks that
// the file still is. (gopher-lua's own functions differed on about a third
// of the lines.)
func TestPatternsAreLua51(t *testing.T) {
	script := filepath.Join("testdata", "patterns.lua")
	want, err := os.ReadFile(filepath.Join("testdata", "patterns.out"))
	if err != nil {
		t.Fatal(err)
	}
	if lua51, err := exec.LookPath("lua5.1"); err == nil {
		ref, err := exec.Command(lua51, script).Output()
		if err != nil {
			t.Fatalf("lua5.1 %s: %v", script, err)
		}
		if !bytes.Equal(ref, want) {
			t.Fatalf("testdata/patterns.out is not lua5.1's output: regenerate it with lua5.1 %s > testdata/patterns.out", script)
		}
	} else {
		t.Log("lua5.1 not installed: comparing with the recorded output only")
	}
	e, out := newEngine(t, Options{})
	if err := e.RunFile(context.Background(), script, nil); err != nil {
		t.Fatal(err)
	}
	if got := out.Bytes(); !bytes.Equal(got, want) {
		gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
		for i := range min(len(gl), len(wl)) {
			if gl[i] != wl[i] {
				t.Fatalf("line %d:\n got %s\nwant %s", i+1, gl[i], wl[i])
			}
		}
		t.Fatalf("%d lines, want %d", len(gl), len(wl))
	}
}

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
