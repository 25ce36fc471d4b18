package repl

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestTTY drives the real binary on a terminal: `topscript repl --sandbox`
// inside a private tmux server. It checks the prompt, an expression's
// value, a multi-line function, Tab completion of `top.ca`, of a TOP
// method name and of its parameter names, a TOP call's result, Ctrl-C at the prompt and during a slow
// call, the history file and Ctrl-D exiting 0.
func TestTTY(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and drives it in tmux; skipped with -short")
	}
	tmux, err := exec.LookPath("tmux")
	if err != nil {
		t.Skip("tmux is not installed: cannot test the REPL on a real terminal")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "topscript")
	build := exec.Command("go", "build", "-o", bin, "github.com/topscript/topscript/cmd/topscript")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building topscript: %v\n%s", err, out)
	}
	home := filepath.Join(dir, "home")
	if err := os.Mkdir(home, 0o755); err != nil {
		t.Fatal(err)
	}

	tm := &tmuxSession{t: t, tmux: tmux, socket: fmt.Sprintf("topscript-repl-test-%d", os.Getpid()), name: "repl"}
	// The shell around the binary traps SIGINT: it shares the binary's
	// process group, so the Ctrl-C sent during an evaluation reaches it
	// too. (A handler, unlike an ignored signal, is not inherited.)
	script := `trap : INT; "$0" repl --sandbox; echo "EXIT=$?"; sleep 600`
	tm.run("new-session", "-d", "-s", tm.name, "-x", "160", "-y", "50", "-c", dir,
		"env", "HOME="+home, "TERM=xterm", "sh", "-c", script, bin)
	t.Cleanup(func() {
		exec.Command(tmux, "-L", tm.socket, "kill-server").Run()
		os.Remove(filepath.Join(os.TempDir(), fmt.Sprintf("tmux-%d", os.Getuid()), tm.socket))
	})

	tm.waitFor("the first prompt", 20*time.Second, func(s string) bool { return strings.HasSuffix(lastLine(s), "top>") })

	// An expression prints its value.
	tm.typeLine("1 + 2")
	tm.waitFor("the value 3", 10*time.Second, afterInput("top> 1 + 2", "3"))

	// A multi-line function: continuation prompt, then the call.
	tm.typeLine("function sq(x)")
	tm.waitFor("the continuation prompt", 10*time.Second, func(s string) bool { return strings.HasSuffix(lastLine(s), "...>") })
	tm.typeLine("return x * x")
	tm.typeLine("end")
	tm.typeLine("sq(12)")
	tm.waitFor("sq(12) = 144", 10*time.Second, afterInput("top> sq(12)", "144"))

	// Tab completes top.ca → top.call (common prefix of call, call_all),
	// then the TOP method name inside the string; the call returns the
	// sandbox's time.
	tm.keys("-l", "top.ca")
	tm.keys("Tab")
	tm.waitFor("top.ca completed to top.call", 10*time.Second, func(s string) bool {
		return strings.HasSuffix(lastLine(s), "top> top.call")
	})
	tm.keys("-l", `("taobao.time.ge`)
	tm.keys("Tab")
	tm.waitFor("the method name completed", 10*time.Second, func(s string) bool {
		return strings.HasSuffix(lastLine(s), `top> top.call("taobao.time.get`)
	})
	tm.keys("-l", `")`)
	tm.keys("Enter")
	timeRe := regexp.MustCompile(`time = "\d{4}-\d\d-\d\d \d\d:\d\d:\d\d"`)
	tm.waitFor("the taobao.time.get result", 15*time.Second, func(s string) bool {
		return timeRe.MatchString(s) && strings.HasSuffix(lastLine(s), "top>")
	})

	// Tab completes a method's parameter names inside its params table:
	// one candidate is filled in, several are listed on the second Tab.
	tm.keys("-l", `n = #top.call("taobao.trades.sold.get", {fields = "tid", use_has`)
	tm.keys("Tab")
	tm.waitFor("use_has completed to use_has_next", 10*time.Second, func(s string) bool {
		return strings.HasSuffix(lastLine(s), `{fields = "tid", use_has_next`)
	})
	tm.keys("-l", ` = true, st`)
	tm.keys("Tab")
	tm.keys("Tab")
	tm.waitFor("the st parameters listed (and their common prefix sta filled in)", 10*time.Second, func(s string) bool {
		return strings.Contains(s, "start_created status") &&
			strings.HasSuffix(lastLine(s), `use_has_next = true, sta`)
	})
	tm.keys("-l", `tus = "WAIT_SELLER_SEND_GOODS"}).trades`)
	tm.keys("Enter")
	tm.typeLine("n > 0")
	tm.waitFor("the completed call ran", 15*time.Second, afterInput("top> n > 0", "true"))

	// Ctrl-C at the prompt drops the line.
	tm.keys("-l", "this is not lua")
	tm.keys("C-c")
	tm.typeLine("2 * 21")
	tm.waitFor("42 after Ctrl-C at the prompt", 10*time.Second, afterInput("top> 2 * 21", "42"))

	// Ctrl-C during a slow call cancels it and returns to the prompt.
	tm.typeLine(`time.sleep("30s")`)
	tm.waitFor("the sleep to start", 10*time.Second, func(s string) bool {
		return lastLine(s) == `top> time.sleep("30s")`
	})
	// A margin for liner to leave raw mode, so that Ctrl-C is a signal.
	time.Sleep(200 * time.Millisecond)
	start := time.Now()
	tm.keys("C-c")
	tm.waitFor("the interrupted sleep", 10*time.Second, func(s string) bool {
		return strings.Contains(s, "interrupted") && strings.HasSuffix(lastLine(s), "top>")
	})
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("Ctrl-C took %v", d)
	}
	tm.typeLine(`"still alive"`)
	tm.waitFor("the REPL alive after Ctrl-C", 10*time.Second, afterInput(`top> "still alive"`, "still alive"))

	// Ctrl-D exits 0.
	tm.keys("C-d")
	tm.waitFor("exit status 0", 10*time.Second, func(s string) bool { return strings.Contains(s, "EXIT=") })
	if s := tm.screen(); !strings.Contains(s, "EXIT=0") {
		t.Fatalf("Ctrl-D did not exit 0; screen:\n%s", s)
	}

	hist, err := os.ReadFile(filepath.Join(home, HistoryFile))
	if err != nil {
		t.Fatalf("history file: %v", err)
	}
	for _, want := range []string{"1 + 2", "function sq(x)", "sq(12)", `time.sleep("30s")`} {
		if !strings.Contains(string(hist), want+"\n") {
			t.Errorf("history lacks %q:\n%s", want, hist)
		}
	}
}

// tmuxSession drives one session of a private tmux server.
type tmuxSession struct {
	t                  *testing.T
	tmux, socket, name string
}

func (m *tmuxSession) run(args ...string) string {
	m.t.Helper()
	out, err := exec.Command(m.tmux, append([]string{"-L", m.socket}, args...)...).CombinedOutput()
	if err != nil {
		m.t.Fatalf("tmux %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func (m *tmuxSession) keys(args ...string) {
	m.t.Helper()
	m.run(append([]string{"send-keys", "-t", m.name}, args...)...)
}

func (m *tmuxSession) typeLine(s string) {
	m.t.Helper()
	m.keys("-l", s)
	m.keys("Enter")
}

func (m *tmuxSession) screen() string {
	m.t.Helper()
	out, err := exec.Command(m.tmux, "-L", m.socket, "capture-pane", "-p", "-J", "-t", m.name, "-S", "-500").CombinedOutput()
	if err != nil {
		m.t.Logf("capture-pane: %v: %s", err, out)
		return ""
	}
	return string(out)
}

// waitFor polls the screen until ok holds or the deadline passes.
func (m *tmuxSession) waitFor(what string, timeout time.Duration, ok func(screen string) bool) {
	m.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		s := m.screen()
		if ok(s) {
			return
		}
		if time.Now().After(deadline) {
			m.t.Fatalf("timed out waiting for %s; screen:\n%s", what, s)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// lastLine returns the last non-empty line of the screen, trimmed.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n "), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// afterInput matches a screen where the line input is followed by the
// line want and a fresh prompt.
func afterInput(input, want string) func(string) bool {
	return func(s string) bool {
		lines := strings.Split(s, "\n")
		for i := len(lines) - 1; i >= 1; i-- {
			if strings.TrimRight(lines[i], " ") == want && strings.TrimRight(lines[i-1], " ") == input {
				return strings.HasSuffix(lastLine(s), "top>")
			}
		}
		return false
	}
}
