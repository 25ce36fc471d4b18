package cli

import (
	"os"
	"slices"
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

// plantedScript carries the secret and the session into every place a
// script can send text out (issue #21): os.getenv, print, io.write with
// the secret split over two writes, io.stderr, log fields (as values, as
// keys, nested) in text and JSON, csv.writer to stdout and to a file, a
// job's key and input columns in its report, and an uncaught error, a
// string or a table (PLANT_END picks which).
const plantedScript = `
local csv, log, job = require("csv"), require("log"), require("job")
print("getenv", os.getenv("TOP_APP_SECRET") == nil, os.getenv("TOP_SESSION") == nil, os.getenv("TOPSCRIPT_SESSION") == nil, os.getenv("HOME"))
local s1, s2 = io.open("planted.txt"):read("*l"):match("(%S+) (%S+)")
print("print", s1, s2, {s1})
io.write("io.write ", s1:sub(1, 4), s1:sub(5), "\n")
io.stderr:write("stderr ", s2, "\n")
log.info("log " .. s1, {session = s2, nested = {secret = s1, list = {s2}}, [s1] = "as a key"})
log.warn("warn", {err = "failed: " .. s2})
local w = csv.writer("-", {"a", "b"}) w:write({a = s1, b = s2}) w:close()
local f = csv.writer("planted.out.csv", {"a"}) f:write({a = "x" .. s1}) f:close()
job.run {
  name = "planted", rows = {{id = "1", note = s1}}, report = "planted.report.csv",
  key = function(r) return r.id .. s2 end,
  call = function(r) return "taobao.time.get", {} end,
}
if os.getenv("PLANT_END") == "table" then error({session = s2, msg = "failed " .. s1}) end
error("uncaught " .. s1 .. " " .. s2)
`

// TestSecretsPlantedEverywhere: a secret and a session planted in every
// place above never appear in stdout, stderr or the files written, at
// every log level, in JSON, under dry-run and with --env-secrets (which
// lets os.getenv read them, still never shown); nor in the REPL's echo.
func TestSecretsPlantedEverywhere(t *testing.T) {
	g := newFakeGateway(t)
	cfg := badConfig(g, closedPort(t))
	inTempDir(t, map[string]string{"topscript.toml": cfg, "p.lua": plantedScript, "planted.txt": fakeSecret + " " + fakeSession + "\n"})
	env := map[string]string{"TOP_APP_SECRET": fakeSecret, "TOP_SESSION": fakeSession, "TOPSCRIPT_SESSION": fakeSession, "HOME": "/home/op"}
	files := []string{"planted.report.csv", "planted.out.csv"}
	runs := 0
	for _, end := range []string{"string", "table"} {
		env["PLANT_END"] = end
		for _, extra := range [][]string{nil, {"-v"}, {"-v", "--log-format", "json"}, {"--dry-run", "--log-format", "json"}, {"--env-secrets", "-v"}} {
			args := append(append([]string{"run"}, extra...), "p.lua")
			ts := newTestState(env, args...)
			code := Main(ts.State)
			out := ts.stdout.String() + ts.stderr.String()
			for _, f := range files {
				b, err := os.ReadFile(f)
				if err != nil {
					t.Fatalf("%q: %s not written: %v\n%s", args, f, err, out)
				}
				out += string(b)
				os.Remove(f)
			}
			runs++
			if code != ExitScript {
				t.Errorf("%q: exit %d, want 1\n%s", args, code, out)
			}
			getenv := "getenv\ttrue\ttrue\ttrue\t/home/op"
			if slices.Contains(extra, "--env-secrets") {
				getenv = "getenv\tfalse\tfalse\tfalse\t/home/op"
			}
			uncaught := "p.lua:18: uncaught [REDACTED] [REDACTED]"
			if end == "table" {
				uncaught = "p.lua:17: "
			}
			for _, want := range []string{getenv, "print\t[REDACTED]\t[REDACTED]", "io.write [REDACTED]", "stderr [REDACTED]", uncaught} {
				if !strings.Contains(out, want) {
					t.Errorf("%q: output lacks %q:\n%s", args, want, out)
				}
			}
			checkClean(t, args, out, g.secrets())
		}
	}

	// The REPL reads the environment (it is the operator's own prompt) but
	// never echoes a secret.
	ts := newTestState(env, "repl")
	ts.Stdin = strings.NewReader(strings.Join([]string{
		`os.getenv("TOP_APP_SECRET")`,
		`print(os.getenv("TOP_SESSION"))`,
		`{s = os.getenv("TOP_SESSION"), n = #os.getenv("TOP_SESSION")}`,
		`io.write(os.getenv("TOP_APP_SECRET"):sub(1, 3), os.getenv("TOP_APP_SECRET"):sub(4), "\n")`,
		`error("failed: " .. os.getenv("TOP_SESSION"))`,
		`error({secret = os.getenv("TOP_APP_SECRET")})`,
		`require("log").info("x", {s = os.getenv("TOP_SESSION")})`,
	}, "\n") + "\n")
	Main(ts.State)
	out := ts.stdout.String() + ts.stderr.String()
	if !strings.Contains(out, "n = 8") || strings.Count(out, "[REDACTED]") < 6 {
		t.Errorf("repl: the secrets were not read and hidden:\n%s", out)
	}
	checkClean(t, []string{"repl"}, out, g.secrets())
	t.Logf("%d runs and the REPL checked", runs)
}
