package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestQuickPath runs every section with tiny counts, so CI keeps the bench
// working. It checks the shape and sanity of the figures, never speed.
func TestQuickPath(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the topscript binary")
	}
	cfg := testConfig()
	var progress bytes.Buffer
	rep, err := run(context.Background(), cfg, &progress)
	if err != nil {
		t.Fatalf("%v\n%s", err, progress.String())
	}
	want := []string{"percall", "concurrency", "batch", "throttle", "startup", "streaming", "sandbox", "tmc", "quota"}
	if len(rep.sections) != len(want) {
		t.Fatalf("%d sections, want %d", len(rep.sections), len(want))
	}
	for i, s := range rep.sections {
		if s.name != want[i] || len(s.rows) == 0 {
			t.Errorf("section %d: %q with %d rows", i, s.name, len(s.rows))
		}
		for _, r := range s.rows {
			bad := r.value == "" || strings.HasPrefix(r.value, "-") || strings.Contains(r.value, "NaN") || strings.Contains(r.value, "Inf")
			if strings.Contains(r.measure, "Lua/") || strings.Contains(r.measure, "RSS") {
				bad = bad || strings.HasPrefix(r.value, "0.0") // ratios and sizes are never ~0
			}
			if bad {
				t.Errorf("%s: %s = %q", s.name, r.measure, r.value)
			}
			if strings.Contains(r.measure, "code 7") && r.value != "0" {
				t.Errorf("%s: %s = %s, want 0", s.name, r.measure, r.value)
			}
		}
	}

	var text bytes.Buffer
	rep.writeText(&text)
	for _, s := range []string{"machine:", "Per-call cost", "Lua/Go", "Lua/floor", "concurrency 16", "Batch endpoint", "Throttle precision",
		"code 7", "empty script", "one-call script", "items/s", "peak RSS", "requests/s",
		"tmc.listen, messages/s", "Go consumer, messages/s", "publish → handler, tmc.listen: p50 / p99",
		"Quota pace", "250ms, isp 5%", "elapsed/ideal", "code 7 answers, all cells", "goals:"} {
		if !strings.Contains(text.String(), s) {
			t.Errorf("output lacks %q:\n%s", s, text.String())
		}
	}

	// The Markdown file keeps what lies outside the generated part.
	path := filepath.Join(t.TempDir(), "BENCHMARKS.md")
	if err := rep.writeMarkdownFile(path); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	edited := strings.Replace(string(b), "(none yet)", "hand-written notes", 1)
	if err := os.WriteFile(path, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := rep.writeMarkdownFile(path); err != nil {
		t.Fatal(err)
	}
	b, _ = os.ReadFile(path)
	md := string(b)
	if !strings.Contains(md, "hand-written notes") || strings.Count(md, beginMarker) != 1 || !strings.Contains(md, "| Lua/Go") || !strings.Contains(md, "CPUs") {
		t.Errorf("BENCHMARKS.md:\n%s", md)
	}
}

func TestFlags(t *testing.T) {
	var out, errb bytes.Buffer
	if code := realMain([]string{"--nope"}, &out, &errb); code != 2 {
		t.Errorf("bad flag: exit %d", code)
	}
	if code := realMain([]string{"extra"}, &out, &errb); code != 2 {
		t.Errorf("extra arg: exit %d", code)
	}
	if code := realMain([]string{"-h"}, &out, &errb); code != 0 || !strings.Contains(errb.String(), "--quick") {
		t.Errorf("help: exit %d: %s", code, errb.String())
	}
}
