package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

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
	if len(first.Jobs) != 1 || first.Jobs[0].Name != job || first.Jobs[0].Status["ok"] != 2 || first.Jobs[0].Report != "bulk_price.report."+first.ID+".csv" {
		t.Fatalf("the first run's jobs: %+v", first.Jobs)
	}
	if _, errs := cmd(2, "runs", "show", "20000101-000000.000-0000"); !strings.Contains(errs, `no run "20000101-000000.000-0000" in the history (the newest: `+r.ID) {
		t.Fatalf("runs show of an unknown run: %q", errs)
	}

	// The history is read without the app secret or a session in the
	// environment (an operator on the server, outside the cron's
	// environment); a run with that configuration still needs them.
	cfgSrc, _ := os.ReadFile(filepath.Join(dir, "topscript.toml"))
	bare := regexp.MustCompile(`(?m)^(app_secret|session)\s*=.*$`).ReplaceAllString(string(cfgSrc), `$1 = "$${TOPSCRIPT_TEST_UNSET}"`)
	if bare == string(cfgSrc) {
		t.Fatal("the configuration has no app_secret or session line to replace")
	}
	os.WriteFile(filepath.Join(dir, "bare.toml"), []byte(bare), 0o644)
	if code, _, errs := topscript(t, dir, "run", "--config", "bare.toml", bad); code != 2 || !strings.Contains(errs, "TOPSCRIPT_TEST_UNSET is not set") {
		t.Fatalf("run with unset secrets: exit %d\n%s", code, errs)
	}
	out, _ = cmd(0, "runs", "--config", "bare.toml")
	if got := strings.TrimSpace(out); got != strings.Join(lines, "\n") {
		t.Errorf("runs without the secrets (the refused run is not one: a configuration error comes before the record):\n%s\nwant:\n%s", got, strings.Join(lines, "\n"))
	}
	if out, _ = cmd(0, "runs", "show", "--config", "bare.toml", r.ID); !strings.Contains(out, "status  exit 1") {
		t.Errorf("runs show without the secrets:\n%s", out)
	}
}

// Issue #18 item 4: reports are kept per run. Two runs of one job write
// two reports named with their runs' IDs, each run's record (runs show)
// names its own, and the plain name holds the second run's. A run over
// two shops keeps each shop's per run too; a scheduled run's report is
// named with the ID the scheduler gives it (--run-id).
func TestReportsKeptPerRun(t *testing.T) {
	script := filepath.Join(examplesDir(t), "bulk_price.lua") // before a chdir
	dir := t.TempDir()
	sb := sandboxtest.Start(t, sandbox.Options{Shops: 2})
	cfg := shopsConfig(t, filepath.Join(dir, "topscript.toml"), sb.URL(), fmt.Sprintf("path = %q", filepath.Join(dir, "state.db")), "")
	login(t, dir, cfg, sb, 1, "s1")
	login(t, dir, cfg, sb, 2, "s2")
	prices := filepath.Join(dir, "prices.csv")
	os.WriteFile(prices, []byte("num_iid,properties,price\n600000153551,1627207:28320;20509:28315,53.90\n600000153551,1627207:28320;20509:28316,57.90\n"), 0o644)
	cmd := func(args ...string) string {
		t.Helper()
		code, stdout, stderr := topscript(t, dir, append([]string{"--config", cfg}, args...)...)
		if code != 0 {
			t.Fatalf("%v: exit %d\nstdout:\n%s\nstderr:\n%s", args, code, stdout, stderr)
		}
		return stdout
	}
	last := func() runlog.Record {
		t.Helper()
		var recs []runlog.Record
		if err := json.Unmarshal([]byte(cmd("runs", "--last", "1", "--json")), &recs); err != nil || len(recs) != 1 {
			t.Fatalf("runs --last 1 --json: %v %+v", err, recs)
		}
		return recs[0]
	}
	read := func(name string) []byte {
		t.Helper()
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	// kept runs the job once for shop s1 and returns its record and the
	// report its record names, checking that runs show prints it.
	kept := func(wantOK, wantSkipped int, extra ...string) (runlog.Record, []byte) {
		t.Helper()
		cmd(append(append([]string{"run", "--shop", "s1"}, extra...), script, prices)...)
		r := last()
		want := "bulk_price.report." + r.ID + ".csv"
		if len(r.Jobs) != 1 || r.Jobs[0].Report != want {
			t.Fatalf("run %s: jobs %+v, want the report %s", r.ID, r.Jobs, want)
		}
		if out := cmd("runs", "show", r.ID); !regexp.MustCompile(`(?m)^\s+report ` + regexp.QuoteMeta(want) + `$`).MatchString(out) {
			t.Errorf("runs show %s does not name %s:\n%s", r.ID, want, out)
		}
		st, _ := report(t, filepath.Join(dir, want))
		if st["ok"] != wantOK || st["skipped"] != wantSkipped {
			t.Errorf("%s: rows by status %v, want %d ok, %d skipped", want, st, wantOK, wantSkipped)
		}
		return r, read(want)
	}

	first, firstReport := kept(2, 0)
	second, secondReport := kept(0, 2) // the rows are done: both skipped
	if first.ID == second.ID || bytes.Equal(firstReport, secondReport) {
		t.Fatalf("two runs, one report: %s and %s", first.ID, second.ID)
	}
	// The first run's report is still there, as it was; the plain name is the latest.
	if got := read("bulk_price.report." + first.ID + ".csv"); !bytes.Equal(got, firstReport) {
		t.Error("the first run's report changed after the second run")
	}
	if got := read("bulk_price.report.csv"); !bytes.Equal(got, secondReport) {
		t.Errorf("bulk_price.report.csv is not the second run's report:\n%s", got)
	}

	// A scheduled run is given its ID by the scheduler: its report is named with it.
	scheduled := runlog.NewID(time.Now()) // as topscript schedule names a run
	if r, _ := kept(0, 2, "--run-id", scheduled); r.ID != scheduled {
		t.Errorf("--run-id %s: recorded as %s", scheduled, r.ID)
	}

	// Two shops: each shop's report per run, the shop's name then the run's
	// ID (shop s2 has no such item: its rows fail, exit 3, reported all the same).
	if code, stdout, stderr := topscript(t, dir, "--config", cfg, "run", "--shops", "s1,s2", script, prices); code != 3 {
		t.Fatalf("run --shops s1,s2: exit %d, want 3\n%s%s", code, stdout, stderr)
	}
	var recs []runlog.Record
	json.Unmarshal([]byte(cmd("runs", "--last", "2", "--json")), &recs)
	if len(recs) != 2 {
		t.Fatalf("runs after --shops s1,s2: %+v", recs)
	}
	for _, r := range recs {
		dot := strings.LastIndex(r.ID, ".")
		run, shop := r.ID[:dot], r.ID[dot+1:]
		want := "bulk_price.report." + shop + "." + run + ".csv"
		if r.Shop != shop || len(r.Jobs) != 1 || r.Jobs[0].Report != want {
			t.Errorf("shop run %s: shop %q, jobs %+v, want the report %s", r.ID, r.Shop, r.Jobs, want)
			continue
		}
		if got := read(want); !bytes.Equal(got, read("bulk_price.report."+shop+".csv")) {
			t.Errorf("%s is not the latest report of shop %s", want, shop)
		}
	}
}
