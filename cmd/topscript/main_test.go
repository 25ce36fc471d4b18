package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/topscript/topscript/cmd/topscript/internal/cli"
)

// TestMain makes the test binary double as the topscript command, so the
// scripts under testdata/script run the real CLI.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"topscript": func() { os.Exit(cli.Main(cli.OS("test"))) },
	})
}

// TestScripts runs testdata/script/*.txtar. Besides the standard commands
// they have:
//
//	exits CODE PROGRAM [ARGS...]   run PROGRAM and expect exit status CODE
//	waitfile FILE                  wait (up to 10s) until FILE exists
//
// the condition [bash-completion] (Debian's bash-completion is installed:
// .ci/run installs it), and $REPO, the repository root.
func TestScripts(t *testing.T) {
	repo, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	testscript.Run(t, testscript.Params{
		Dir: filepath.Join("testdata", "script"),
		Setup: func(env *testscript.Env) error {
			env.Setenv("REPO", repo)
			// Keep the host's configuration out of the tests.
			env.Setenv("XDG_CONFIG_HOME", filepath.Join(env.WorkDir, ".config"))
			for _, k := range []string{"TOPSCRIPT_APP_KEY", "TOPSCRIPT_APP_SECRET", "TOPSCRIPT_SESSION"} {
				env.Setenv(k, "")
			}
			return nil
		},
		Condition: func(cond string) (bool, error) {
			if cond == "bash-completion" {
				_, err := os.Stat(bashCompletion)
				return err == nil, nil
			}
			return false, fmt.Errorf("unknown condition %q", cond)
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"exits":    cmdExits,
			"waitfile": cmdWaitfile,
		},
	})
}

// bashCompletion is where Debian's bash-completion package keeps its
// functions (completion.txtar drives a real bash with them).
const bashCompletion = "/usr/share/bash-completion/bash_completion"

// cmdExits runs a program and checks its exit status.
func cmdExits(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exits CODE PROGRAM [ARGS...]")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("exits: bad code %q", args[0])
	}
	got := 0
	if err := ts.Exec(args[1], args[2:]...); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			ts.Fatalf("exits: %v", err)
		}
		got = ee.ExitCode()
	}
	if got != want {
		ts.Fatalf("exit status %d, want %d", got, want)
	}
}

// cmdWaitfile waits until a file exists, e.g. one a background script
// creates once it has started.
func cmdWaitfile(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: waitfile FILE")
	}
	path := ts.MkAbs(args[0])
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if _, err := os.Stat(path); err == nil {
			return
		}
		if time.Now().After(deadline) {
			ts.Fatalf("waitfile: %s did not appear", args[0])
		}
	}
}
