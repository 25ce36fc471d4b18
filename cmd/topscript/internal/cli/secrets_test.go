package cli

import (
	"os"
	"strings"
	"testing"
)

// secretsScript exercises every path that could print a secret: calls,
// error values (tostring, fields, JSON), logs with fields, a session given
// per call, dry-run writes in top.call and job.run, and an uncaught error.
const secretsScript = `
local json, log, job = require("json"), require("log"), require("job")
local r = top.call("taobao.time.get")
print("time", r.time ~= nil)
local _, err = top.try("taobao.item.seller.get", {num_iid = 1, fields = "title"}, {session = "SESS-xyz"})
print("err", tostring(err), err and err.msg, err and err.sub_msg)
print("json", json.encode(err or {}))
local _, bad = top.try("taobao.no.such.method")
print("bad", tostring(bad))
log.info("logged", {error = tostring(err), n = 1})
log.debug("debug line", {error = err and err.sub_msg})
top.try("taobao.item.sku.price.update", {num_iid = 1, properties = "1:1", price = "9.90"})
job.run {
  name = "secrets",
  rows = {{id = "1"}, {id = "2"}},
  key = function(r) return r.id end,
  call = function(r) return "taobao.item.quantity.update", {num_iid = r.id, quantity = 1, type = 1} end,
  report = "secrets.report.csv",
}
error(err)
`

// TestSecretsNeverShown runs every command that can print something —
// run at every log level, in JSON, under dry-run, call, config check and
// the REPL — against gateways that answer, fail and echo the request back,
// and checks that neither the app secret, nor the session, nor any sign
// the gateways received appears in stdout, stderr or a report.
func TestSecretsNeverShown(t *testing.T) {
	g := newFakeGateway(t)
	cfg := badConfig(g, closedPort(t))
	inTempDir(t, map[string]string{"topscript.toml": cfg, "s.lua": secretsScript})
	env := map[string]string{"TOPSCRIPT_SESSION": fakeSession}
	var runs [][]string
	for _, profile := range []string{"default", "echo", "expired", "html"} {
		for _, extra := range [][]string{nil, {"-v"}, {"-v", "--log-format", "json"}, {"--dry-run", "-v"}, {"--dry-run", "--log-format", "json", "-v"}} {
			runs = append(runs, append(append([]string{"run", "--profile", profile}, extra...), "s.lua"))
		}
		runs = append(runs,
			[]string{"call", "--profile", profile, "taobao.item.seller.get", "num_iid=1", "fields=title"},
			[]string{"config", "check", "--profile", profile},
		)
	}
	runs = append(runs, []string{"config", "check"})
	for _, args := range runs {
		ts := newTestState(env, args...)
		code := Main(ts.State)
		out := ts.stdout.String() + ts.stderr.String()
		if report, err := os.ReadFile("secrets.report.csv"); err == nil {
			out += string(report)
			os.Remove("secrets.report.csv")
		}
		if code != ExitOK && code != ExitScript && code != ExitJobFailed {
			t.Errorf("%q: exit %d\n%s", args, code, out)
		}
		checkClean(t, args, out, g.secrets())
		if args[0] == "run" && !strings.Contains(out, "time") {
			t.Errorf("%q: the script did not run:\n%s", args, out)
		}
	}

	// The REPL, reading from a pipe.
	for _, profile := range []string{"default", "echo"} {
		ts := newTestState(env, "repl", "--profile", profile)
		ts.Stdin = strings.NewReader(strings.Join([]string{
			`top.call("taobao.time.get")`,
			`top.try("taobao.item.seller.get", {num_iid = 1, fields = "title"}, {session = "SESS-xyz"})`,
			`select(2, top.try("taobao.item.seller.get", {num_iid = 1, fields = "title"}))`,
			`top.call("taobao.no.such.method")`,
			`error("boom")`,
			`top`,
		}, "\n") + "\n")
		Main(ts.State)
		out := ts.stdout.String() + ts.stderr.String()
		if !strings.Contains(out, "taobao.no.such.method") {
			t.Errorf("repl %s: output lacks the failed call:\n%s", profile, out)
		}
		checkClean(t, []string{"repl", profile}, out, g.secrets())
	}
	if n := len(g.secrets()); n < 20 {
		t.Errorf("only %d secrets and signs checked: the gateways were not reached", n)
	}
	t.Logf("%d runs, %d secret strings checked (app secret, session, %d signs)", len(runs)+2, len(g.secrets()), len(g.secrets())-2)
}
