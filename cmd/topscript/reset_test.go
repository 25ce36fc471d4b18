package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/topscript/topscript/cmd/topscript/internal/cli"
	"github.com/topscript/topscript/internal/sandboxtest"
	"github.com/topscript/topscript/internal/syncbuf"
	"github.com/topscript/topscript/sandbox"
)

// The examples' reset recipe works as written (issue #14 item 3): a job
// checkpointed by a real run (a configuration pointing at a gateway) is
// forgotten by `echo 'require("job").reset(...)' | topscript repl
// --stop-on-error` started the same way, and the next run sends its row
// again; a reset line that fails exits 1.
func TestResetRecipe(t *testing.T) {
	dir := t.TempDir()
	sb := sandboxtest.Start(t, sandbox.Options{})
	writeConfig(t, dir, sb, "")
	prices := filepath.Join(dir, "prices.csv")
	os.WriteFile(prices, []byte("num_iid,properties,price\n600000153551,1627207:28320;20509:28315,53.90\n"), 0o644)
	script := filepath.Join(examplesDir(t), "bulk_price.lua")

	run := func(want string) {
		t.Helper()
		code, stdout, stderr := topscript(t, dir, "run", script, prices)
		if code != 0 || !strings.HasPrefix(stdout, want) {
			t.Fatalf("run: exit %d, stdout %q, want it to start %q\n%s", code, stdout, want, stderr)
		}
	}
	repl := func(input string) (int, string, string) {
		t.Helper()
		t.Chdir(dir)
		var stdout, stderr syncbuf.Buffer
		code := cli.Main(&cli.State{
			Args: []string{"repl", "--stop-on-error"}, Stdin: strings.NewReader(input),
			Stdout: &stdout, Stderr: &stderr,
			LookupEnv: func(string) (string, bool) { return "", false }, Version: "test",
		})
		return code, stdout.String(), stderr.String()
	}

	run("1 SKUs: 1 updated, 0 failed, 0 already done")
	run("1 SKUs: 0 updated, 0 failed, 1 already done")
	if code, out, errs := repl(`require("job").reset("bulk_price:prices.csv")` + "\n"); code != 0 || out != "1\n" {
		t.Fatalf("the reset: exit %d, stdout %q (want 1 checkpoint forgotten)\n%s", code, out, errs)
	}
	run("1 SKUs: 1 updated, 0 failed, 0 already done")
	if code, _, errs := repl(`require("job").reset(nil)` + "\nprint('after')\n"); code != 1 || !strings.Contains(errs, "job.reset") {
		t.Fatalf("a failing reset line: exit %d, want 1\n%s", code, errs)
	}
}
