package cli

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// listenScript permits the shop, prints the first messages and stops
// listening after 20 of them, or runs until interrupted with forever.
const listenScript = `
local tmc = require("tmc")
tmc.permit()
local n = 0
local s = tmc.listen{
  topics = {"taobao_trade_*", "taobao_refund_*"},
  handler = function(msg)
    n = n + 1
    if n == 1 then print("first " .. msg.topic .. " tid " .. tostring(msg.content.tid)) end
    if n == 20 and arg[1] ~= "forever" then tmc.stop() end
  end,
}
print("handled " .. s.handled)
`

// run --sandbox --churn feeds tmc.listen from the embedded sandbox's trade
// events; tmc.stop() ends the run with exit 0.
func TestRunSandboxChurnListen(t *testing.T) {
	inTempDir(t, map[string]string{"listen.lua": listenScript})
	ts := newTestState(nil, "run", "--sandbox", "--churn", "200", "listen.lua")
	done := make(chan int)
	go func() { done <- Main(ts.State) }()
	select {
	case code := <-done:
		if code != ExitOK {
			t.Fatalf("exit %d; stderr:\n%s", code, ts.stderr)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("the listen did not stop; stderr:\n%s", ts.stderr)
	}
	// tmc.stop() takes no more messages but lets the handlers already in
	// hand finish: 20 handled, plus at most the other 3 of concurrency 4.
	out := ts.stdout.String()
	var handled int
	if i := strings.Index(out, "handled "); i >= 0 {
		fmt.Sscan(out[i+len("handled "):], &handled)
	}
	if !strings.Contains(out, "first taobao_") || handled < 20 || handled > 23 {
		t.Errorf("want the first message and 20 to 23 handled; stdout:\n%s", out)
	}
	if !strings.Contains(ts.stderr.String(), "tmc: stopped") {
		t.Errorf("no final summary on stderr:\n%s", ts.stderr)
	}
}

// An interrupt stops a listen cleanly: exit 130.
func TestRunListenInterrupted(t *testing.T) {
	inTempDir(t, map[string]string{"listen.lua": listenScript})
	ts := newTestState(nil, "run", "--sandbox", "--churn", "200", "listen.lua", "forever")
	done := make(chan int)
	go func() { done <- Main(ts.State) }()
	waitFor(t, "a message", func() bool { return strings.Contains(ts.stdout.String(), "first taobao_") })
	ts.interrupt()
	select {
	case code := <-done:
		if code != ExitInterrupted {
			t.Errorf("exit %d, want %d; stderr:\n%s", code, ExitInterrupted, ts.stderr)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("the listen did not stop on the interrupt; stderr:\n%s", ts.stderr)
	}
	if s := ts.stderr.String(); !strings.Contains(s, "tmc: stopped") || !strings.HasSuffix(s, "topscript: interrupted\n") {
		t.Errorf("stderr:\n%s", s)
	}
}

func TestRunChurnFlagErrors(t *testing.T) {
	inTempDir(t, map[string]string{"s.lua": `print("ran")`})
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"run", "--churn", "5", "s.lua"}, "--churn needs --sandbox"},
		{[]string{"run", "--sandbox", "--churn", "-1", "s.lua"}, "--churn must be between 0 and 100000"},
	} {
		ts := newTestState(nil, c.args...)
		if code := Main(ts.State); code != ExitUsage || !strings.Contains(ts.stderr.String(), c.want) || strings.Contains(ts.stdout.String(), "ran") {
			t.Errorf("%q: exit %d, stderr %q", c.args, code, ts.stderr)
		}
	}
}
