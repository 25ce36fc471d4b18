//go:build !windows

package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/topscript/topscript/internal/syncbuf"
)

// A Ctrl-C on the terminal goes to the whole foreground process group.
// The scheduler's runs are in groups of their own, so the Ctrl-C reaches
// the scheduler only, and a run in progress finishes within --grace
// (issue #14 item 6; before, the run got the SIGINT too and stopped at
// once, exit 130, despite --grace 2m). After the grace the scheduler
// interrupts the run itself.
func TestScheduleCtrlCHonoursGrace(t *testing.T) {
	bin := binary(t)
	for _, tc := range []struct {
		name, grace string
		finished    bool // the run got to its end
		code        int  // the run's exit code
	}{
		{"within grace", "30s", true, 0},
		{"grace over", "300ms", false, 130},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			script := filepath.Join(dir, "slow.lua")
			os.WriteFile(script, []byte(`
local f = assert(io.open("started", "w")); f:close()
require("time").sleep("2s")
f = assert(io.open("finished", "w")); f:close()
`), 0o644)
			cfg := filepath.Join(dir, "topscript.toml")
			os.WriteFile(cfg, []byte(fmt.Sprintf("[[schedule]]\nname = \"slow\"\ncron = \"@every 1s\"\nscript = %q\n", script)), 0o644)

			cmd := exec.Command(bin, "schedule", "--config", cfg, "--log-format", "json", "--grace", tc.grace)
			cmd.Dir = dir
			// The scheduler leads a group of its own, as a shell's foreground
			// job does: the test sends SIGINT to the whole group, as the
			// terminal's Ctrl-C would.
			cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
			var stderr syncbuf.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(15 * time.Second)
			for {
				if _, err := os.Stat(filepath.Join(dir, "started")); err == nil {
					break
				}
				if time.Now().After(deadline) {
					cmd.Process.Kill()
					t.Fatalf("the run did not start:\n%s", stderr.String())
				}
				time.Sleep(20 * time.Millisecond)
			}
			syscall.Kill(-cmd.Process.Pid, syscall.SIGINT) // Ctrl-C
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("schedule: %v\n%s", err, stderr.String())
				}
			case <-time.After(20 * time.Second):
				cmd.Process.Kill()
				t.Fatalf("the schedule did not stop:\n%s", stderr.String())
			}
			_, err := os.Stat(filepath.Join(dir, "finished"))
			log := stderr.String()
			if finished := err == nil; finished != tc.finished {
				t.Errorf("the run finished: %v, want %v\n%s", finished, tc.finished, log)
			}
			if want := `"msg":"run finished","entry":"slow",`; !strings.Contains(log, want) ||
				!strings.Contains(log, fmt.Sprintf(`"exit_code":%d`, tc.code)) {
				t.Errorf("want a run finished with exit_code %d:\n%s", tc.code, log)
			}
			if strings.Count(log, `"msg":"run started"`) != 1 {
				t.Errorf("want exactly one run (no new run after Ctrl-C):\n%s", log)
			}
		})
	}
}
