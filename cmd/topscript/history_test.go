package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/topscript/topscript/internal/sandboxtest"
	"github.com/topscript/topscript/runlog"
	"github.com/topscript/topscript/sandbox"
)

// Issue #18 item 4: every run is recorded (runs, runs show), and the jobs'
// checkpoints are listed, shown and reset by topscript job — the README's
// reset recipe — with clear errors and exit 2 for an unknown job, run or
// key.
func TestRunsAndJobCommands(t *testing.T) {
	dir := t.TempDir()
	sb := sandboxtest.Start(t, sandbox.Options{})
	writeConfig(t, dir, sb, "")
	prices := filepath.Join(dir, "prices.csv")
	os.WriteFile(prices, []byte("num_iid,properties,price\n600000153551,1627207:28320;20509:28315,53.90\n600000153551,1627207:28320;20509:28316,57.90\n"), 0o644)
	script := filepath.Join(examplesDir(t), "bulk_price.lua")
	const job = "bulk_price:prices.csv"
	key := "600000153551:1627207:28320;20509:28315"

	run := func(want string) {
		t.Helper()
		code, stdout, stderr := topscript(t, dir, "run", script, prices)
		if code != 0 || !strings.HasPrefix(stdout, want) {
			t.Fatalf("run: exit %d, stdout %q, want it to start %q\n%s", code, stdout, want, stderr)
		}
	}
	cmd := func(wantCode int, args ...string) (string, string) {
		t.Helper()
		code, stdout, stderr := topscript(t, dir, args...)
		if code != wantCode {
			t.Fatalf("%v: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", args, code, wantCode, stdout, stderr)
		}
		return stdout, stderr
	}

	if _, errs := cmd(0, "runs"); !strings.Contains(errs, "no run is recorded yet") {
		t.Fatalf("runs before any run: %q", errs)
	}
	if _, errs := cmd(2, "job", "show", job); !strings.Contains(errs, `no job "bulk_price:prices.csv" has checkpoints (none has)`) {
		t.Fatalf("job show before any run: %q", errs)
	}

	run("2 SKUs: 2 updated, 0 failed, 0 already done")
	out, _ := cmd(0, "job", "list")
	if !regexp.MustCompile(`(?m)^bulk_price:prices\.csv\s+2\s+2 ok$`).MatchString(out) {
		t.Fatalf("job list:\n%s", out)
	}
	out, _ = cmd(0, "job", "list", "--json")
	var listed []struct {
		Name string
		Rows map[string]int
	}
	if err := json.Unmarshal([]byte(out), &listed); err != nil || len(listed) != 1 || listed[0].Name != job || listed[0].Rows["ok"] != 2 {
		t.Fatalf("job list --json: %v\n%s", err, out)
	}
	out, _ = cmd(0, "job", "show", job)
	if !strings.Contains(out, "checkpointed  2 rows: 2 ok") || !regexp.MustCompile(`last run\s+\d{8}-\d{6}\.\d{3}-[0-9a-f]{4} at .*: ok`).MatchString(out) {
		t.Fatalf("job show:\n%s", out)
	}

	// An unknown job names the known ones; an unknown key says so; both exit 2.
	if _, errs := cmd(2, "job", "reset", "bulk_price:price.csv"); !strings.Contains(errs, `no job "bulk_price:price.csv" has checkpoints (known: bulk_price:prices.csv)`) {
		t.Fatalf("job reset of an unknown job: %q", errs)
	}
	if _, errs := cmd(2, "job", "reset", job, "nosuch"); !strings.Contains(errs, `job "bulk_price:prices.csv" has no checkpoint for key "nosuch"`) {
		t.Fatalf("job reset of an unknown key: %q", errs)
	}
	if _, errs := cmd(2, "job", "frob"); !strings.Contains(errs, `unknown subcommand "frob"`) {
		t.Fatalf("job frob: %q", errs)
	}

	// One row forgotten: the next run sends it alone; all forgotten: both.
	if out, _ := cmd(0, "job", "reset", job, key); out != "job bulk_price:prices.csv: 1 checkpoint forgotten\n" {
		t.Fatalf("job reset KEY: %q", out)
	}
	run("2 SKUs: 1 updated, 0 failed, 1 already done")
	if out, _ := cmd(0, "job", "reset", job); out != "job bulk_price:prices.csv: 2 checkpoints forgotten\n" {
		t.Fatalf("job reset: %q", out)
	}
	run("2 SKUs: 2 updated, 0 failed, 0 already done")

	// A failing run: exit 1, recorded with its last word.
	bad := filepath.Join(dir, "bad.lua")
	os.WriteFile(bad, []byte("print('hi')\nerror('boom')\n"), 0o644)
	if code, _, _ := topscript(t, dir, "run", bad, "--", "-x", "two words"); code != 1 {
		t.Fatalf("bad.lua: exit %d", code)
	}

	out, _ = cmd(0, "runs")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 5 || !strings.HasPrefix(lines[0], "ID ") {
		t.Fatalf("runs: want a header and 4 runs:\n%s", out)
	}
	for i, want := range []string{`ok .*bulk_price\.lua\s+2 ok$`, `ok .*bulk_price\.lua\s+1 ok, 1 skipped$`, `ok .*bulk_price\.lua\s+2 ok$`, `exit 1 .*bad\.lua\s+-$`} {
		if !regexp.MustCompile(want).MatchString(lines[i+1]) {
			t.Errorf("runs line %d %q: want %s", i+1, lines[i+1], want)
		}
	}
	out, _ = cmd(0, "runs", "--last", "1", "--json")
	var recs []runlog.Record
	if err := json.Unmarshal([]byte(out), &recs); err != nil || len(recs) != 1 {
		t.Fatalf("runs --last 1 --json: %v\n%s", err, out)
	}
	r := recs[0]
	if r.Script != bad || strings.Join(r.Args, "|") != "-x|two words" || r.ExitCode != 1 || !strings.Contains(r.Error, "bad.lua:2: boom") || r.End.Before(r.Start) || r.PID == 0 {
		t.Fatalf("the failing run's record: %+v", r)
	}
	out, _ = cmd(0, "runs", "show", r.ID)
	for _, want := range []string{"id      " + r.ID, `bad.lua -x "two words"`, "status  exit 1", "error   " + bad + ":2: boom"} {
		if !strings.Contains(out, want) {
			t.Errorf("runs show: no %q in\n%s", want, out)
		}
	}
	out, _ = cmd(0, "runs", "--json")
	json.Unmarshal([]byte(out), &recs)
	first := recs[0]
	if len(first.Jobs) != 1 || first.Jobs[0].Name != job || first.Jobs[0].Status["ok"] != 2 || first.Jobs[0].Report != "bulk_price.report.csv" {
		t.Fatalf("the first run's jobs: %+v", first.Jobs)
	}
	if _, errs := cmd(2, "runs", "show", "20000101-000000.000-0000"); !strings.Contains(errs, `no run "20000101-000000.000-0000" in the history (the newest: `+r.ID) {
		t.Fatalf("runs show of an unknown run: %q", errs)
	}
}
