package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/topscript/topscript/internal/bytesize"
)

// These tests run the topscript binary as operators do, for the limits of
// issue #21: memory (peak RSS measured by /usr/bin/time -v), --timeout and
// SIGTERM against code that used to ignore both, and the hard deadline for
// code that still cannot be interrupted.

// limitsRun is one run of the binary in dir.
type limitsRun struct {
	code    int
	elapsed time.Duration
	stderr  string
}

// runIn runs the binary (through /usr/bin/time -v when timed) in dir.
func runIn(t *testing.T, dir string, timed bool, args ...string) limitsRun {
	t.Helper()
	bin := binary(t)
	if timed {
		if _, err := os.Stat("/usr/bin/time"); err != nil {
			t.Skip("needs /usr/bin/time (Debian package time)")
		}
		args = append([]string{"-v", bin}, args...)
		bin = "/usr/bin/time"
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	err := cmd.Run()
	r := limitsRun{elapsed: time.Since(start), stderr: stderr.String()}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return r
}

// maxRSS reads /usr/bin/time -v's "Maximum resident set size (kbytes)".
func maxRSS(t *testing.T, stderr string) int64 {
	t.Helper()
	m := regexp.MustCompile(`Maximum resident set size \(kbytes\): (\d+)`).FindStringSubmatch(stderr)
	if m == nil {
		t.Fatalf("no maximum RSS in:\n%s", stderr)
	}
	kb, _ := strconv.ParseInt(m[1], 10, 64)
	return kb << 10
}

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// With --memory-limit 512MiB, scripts that grow without end stop with a
// clear error at their line, exit 1, and the process's peak RSS stays
// under 1.5 × the limit: the string-doubling script of the issue (which
// peaked at 16.8 GB), many big strings, a growing table, and a table of
// many small tables.
func TestMemoryLimitHoldsRSS(t *testing.T) {
	const limit = 512 << 20
	dir := writeFiles(t, map[string]string{
		"double.lua":     `local s = "x" for i = 1, 40 do s = s .. s end`,
		"many.lua":       "local t = {}\nfor i = 1, 100 do t[i] = string.rep('x', 2^26) .. i end",
		"table.lua":      "local t = {}\nfor i = 1, 1e9 do t[i] = i end",
		"tables.lua":     "local t = {}\nfor i = 1, 1e9 do t[#t + 1] = {i, tostring(i)} end",
		"config.lua":     "local t = {}\nfor i = 1, 100 do t[i] = string.rep('x', 2^26) .. i end",
		"topscript.toml": "memory_limit = \"256MiB\"\n",
	})
	for _, tc := range []struct {
		script, flag string
		limit        int64
		want         string
	}{
		{"double.lua", "512MiB", limit, "double.lua:1: string concatenation (..): the result would be 512 MiB, over the limit of 256 MiB for one string"},
		{"many.lua", "512MiB", limit, "many.lua:2: out of memory: string concatenation (..) would need"},
		{"table.lua", "512MiB", limit, "table.lua:2: out of memory: table growth would need"},              // the array's copy, refused before it is made
		{"tables.lua", "512MiB", limit, "tables.lua:2: out of memory: the script was stopped with"},        // many small tables: the watchdog
		{"config.lua", "", 256 << 20, "config.lua:2: out of memory: string concatenation (..) would need"}, // memory_limit of topscript.toml
	} {
		args := []string{"run"}
		if tc.flag != "" {
			args = append(args, "--memory-limit", tc.flag)
		}
		r := runIn(t, dir, true, append(args, tc.script)...)
		rss := maxRSS(t, r.stderr)
		t.Logf("%s: exit %d, peak RSS %s (limit %s, ratio %.2f)", tc.script, r.code, bytesize.Format(rss), bytesize.Format(tc.limit), float64(rss)/float64(tc.limit))
		if r.code != 1 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%s: exit %d, want 1 and %q:\n%s", tc.script, r.code, tc.want, r.stderr)
		}
		if rss >= tc.limit*3/2 {
			t.Errorf("%s: peak RSS %s, over 1.5 × the limit of %s", tc.script, bytesize.Format(rss), bytesize.Format(tc.limit))
		}
		if strings.Contains(r.stderr, "goroutine ") || strings.Contains(r.stderr, "fatal error") {
			t.Errorf("%s: Go crash output:\n%s", tc.script, r.stderr)
		}
	}
}

// slowScripts are what held a script past --timeout and SIGTERM: a
// backtracking pattern (60 s and counting), a gsub bomb (24 minutes), a
// read of standard input on a pipe nobody writes to.
var slowScripts = map[string]string{
	"find.lua":  `io.open("started", "w"):close() local s = string.rep("a", 3000) print(s:find(".-.-.-.-b"))`,
	"gsub.lua":  `io.open("started", "w"):close() local s = string.rep("a", 3000) print(s:gsub(".-.-.-.-.-b", "x"))`,
	"stdin.lua": `io.open("started", "w"):close() print(io.read())`,
}

// startSlow starts the binary on script with its standard input an open
// pipe, and waits until the script has started.
func startSlow(t *testing.T, dir, script string, extra ...string) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	os.Remove(filepath.Join(dir, "started"))
	cmd := exec.Command(binary(t), append(append([]string{"run"}, extra...), script)...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe() // kept open, never written
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdin.Close() })
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if _, err := os.Stat(filepath.Join(dir, "started")); err == nil {
			return cmd, &stderr
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not start:\n%s", script, stderr.String())
		}
	}
}

// waitExit waits up to max for cmd and returns its exit code and how long
// it took.
func waitExit(t *testing.T, cmd *exec.Cmd, max time.Duration) (int, time.Duration) {
	t.Helper()
	start := time.Now()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode(), time.Since(start)
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0, time.Since(start)
	case <-time.After(max):
		cmd.Process.Kill()
		<-done
		t.Fatalf("still running %s later", max)
		return -1, max
	}
}

// --timeout 3s ends each slow script within 5 s, exit 1, naming the line.
func TestTimeoutStopsSlowScripts(t *testing.T) {
	dir := writeFiles(t, slowScripts)
	for script := range slowScripts {
		start := time.Now()
		cmd, stderr := startSlow(t, dir, script, "--timeout", "3s")
		code, _ := waitExit(t, cmd, 30*time.Second)
		elapsed := time.Since(start)
		t.Logf("%s: exit %d after %s", script, code, elapsed.Round(time.Millisecond))
		if code != 1 || !strings.Contains(stderr.String(), script+":1: timed out after 3s") {
			t.Errorf("%s: exit %d, want 1 and %q:\n%s", script, code, script+":1: timed out after 3s", stderr)
		}
		if elapsed > 5*time.Second {
			t.Errorf("%s: ended %s after it started, want within 5 s", script, elapsed)
		}
	}
}

// One SIGTERM ends each slow script within 5 s, exit 130.
func TestSIGTERMStopsSlowScripts(t *testing.T) {
	dir := writeFiles(t, slowScripts)
	for script := range slowScripts {
		cmd, stderr := startSlow(t, dir, script)
		time.Sleep(200 * time.Millisecond) // well inside the slow part
		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		code, took := waitExit(t, cmd, 30*time.Second)
		t.Logf("%s: exit %d %s after SIGTERM", script, code, took.Round(time.Millisecond))
		if code != 130 || !strings.Contains(stderr.String(), "topscript: interrupted") {
			t.Errorf("%s: exit %d, want 130 and \"topscript: interrupted\":\n%s", script, code, stderr)
		}
		if took > 5*time.Second {
			t.Errorf("%s: exited %s after SIGTERM, want within 5 s", script, took)
		}
	}
}

// What cannot be interrupted (opening a FIFO nobody writes to blocks in
// the kernel) still ends: --grace after the timeout or the signal, the
// process exits with the run's code.
func TestHardDeadline(t *testing.T) {
	dir := writeFiles(t, map[string]string{"fifo.lua": `io.open("started", "w"):close() local f = io.open("fifo") print("not reached")`})
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o644); err != nil {
		t.Skip("mkfifo:", err)
	}
	start := time.Now()
	cmd, stderr := startSlow(t, dir, "fifo.lua", "--timeout", "1s", "--grace", "1s")
	code, _ := waitExit(t, cmd, 30*time.Second)
	elapsed := time.Since(start)
	if want := "fifo.lua: timed out after 1s; the script did not stop within 1s: exiting"; code != 1 || !strings.Contains(stderr.String(), want) {
		t.Errorf("timeout: exit %d, want 1 and %q:\n%s", code, want, stderr)
	}
	if elapsed > 5*time.Second {
		t.Errorf("timeout: ended after %s, want about 2 s", elapsed)
	}

	cmd, stderr = startSlow(t, dir, "fifo.lua", "--grace", "1s")
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	code, took := waitExit(t, cmd, 30*time.Second)
	if want := "topscript: interrupted; the script did not stop within 1s: exiting"; code != 130 || !strings.Contains(stderr.String(), want) {
		t.Errorf("SIGTERM: exit %d, want 130 and %q:\n%s", code, want, stderr)
	}
	if took > 4*time.Second {
		t.Errorf("SIGTERM: exited %s after the signal, want about 1 s", took)
	}
}
