package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/topscript/topscript/internal/sandboxtest"
	"github.com/topscript/topscript/sandbox"
	"github.com/topscript/topscript/top"
)

// These tests cover issue #17 through Lua: scripts/examples/order_sync_tmc.lua
// run by topscript processes against a sandbox with trade churn.

// chaosScript runs the example unchanged, its handler wrapped so that 5% of
// handler calls raise an error (the example is required as a module next
// to it; require("tmc") returns the same table to both).
const chaosScript = `
local tmc = require("tmc")
local listen = tmc.listen
tmc.listen = function(spec)
  local handler = spec.handler
  spec.handler = function(msg)
    if math.random() < 0.05 then error("injected handler failure") end
    return handler(msg)
  end
  return listen(spec)
end
require("order_sync_tmc")
`

// dumpScript prints every stored order as a JSON line.
const dumpScript = `
local json = require("json")
local orders = require("state").open("orders")
for _, tid in ipairs(orders:keys()) do print(json.encode(orders:get(tid))) end
`

// tmcDir prepares a working directory: the example, the chaos wrapper, the
// dump script and a configuration for sb (and its channel) with state.
func tmcDir(t *testing.T, sb *sandbox.Server, stateTable string) string {
	t.Helper()
	dir := t.TempDir()
	src, err := os.ReadFile(filepath.Join(examplesDir(t), "order_sync_tmc.lua"))
	if err != nil {
		t.Fatal(err)
	}
	types, err := os.ReadFile(filepath.Join(examplesDir(t), "trade_types.lua")) // order_sync_tmc.lua requires it
	if err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string]string{
		"order_sync_tmc.lua": string(src), "trade_types.lua": string(types), "chaos.lua": chaosScript, "dump.lua": dumpScript,
		"topscript.toml": fmt.Sprintf(`profile = "sandbox"
[profiles.sandbox]
app_key    = %q
app_secret = %q
session    = %q
gateway    = %q
tmc_url    = %q

[retry]
max_attempts = 10
backoff = "20ms"

%s
`, sandbox.DefaultAppKey, sandbox.DefaultAppSecret, sandbox.DefaultSession, sb.URL(), sb.TMCURL(), stateTable),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// order is a stored order as dump.lua prints it.
type order struct {
	Tid, Status, Modified string
}

// storedOrders runs dump.lua in dir.
func storedOrders(t *testing.T, dir string) map[string]order {
	t.Helper()
	code, stdout, stderr := topscript(t, dir, "run", "dump.lua")
	if code != 0 {
		t.Fatalf("dump: exit %d\n%s", code, stderr)
	}
	out := map[string]order{}
	for _, line := range strings.Split(strings.TrimSpace(stdout), "\n") {
		if line == "" {
			continue
		}
		var o order
		if err := json.Unmarshal([]byte(line), &o); err != nil {
			t.Fatalf("order %q: %v", line, err)
		}
		out[o.Tid] = o
	}
	return out
}

// compareOrders checks every trade of the change log against the
// sandbox's own state: the stored order has its status and modified.
func compareOrders(t *testing.T, sb *sandbox.Server, stored map[string]order) (trades, missing, wrong int) {
	t.Helper()
	cfg := top.DefaultConfig()
	cfg.Gateway = sb.URL()
	cfg.AppKey, cfg.AppSecret, cfg.Session = sandbox.DefaultAppKey, sandbox.DefaultAppSecret, sandbox.DefaultSession
	client, err := top.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	tids := map[int64]bool{}
	for _, c := range sb.Changes(0) {
		tids[c.Tid] = true
	}
	for tid := range tids {
		resp, err := client.Call(context.Background(), "taobao.trade.fullinfo.get", top.Params{"tid": tid, "fields": "tid,status,modified"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		tr := resp.Payload["trade"].(map[string]any)
		o, ok := stored[fmt.Sprint(tid)]
		switch {
		case !ok:
			missing++
			t.Errorf("tid %d: not synced", tid)
		case o.Status != tr["status"] || o.Modified != tr["modified"]:
			wrong++
			t.Errorf("tid %d: synced %s %s, the sandbox has %v %v", tid, o.Status, o.Modified, tr["status"], tr["modified"])
		}
	}
	return len(tids), missing, wrong
}

// logIDs reads a process's JSON log: the message ids of each message line.
func logIDs(t *testing.T, log []byte) map[string]map[string]int {
	t.Helper()
	out := map[string]map[string]int{}
	sc := bufio.NewScanner(bytes.NewReader(log))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var rec map[string]any
		d := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		d.UseNumber() // ids beyond 2^53
		if d.Decode(&rec) != nil {
			continue
		}
		msg, _ := rec["msg"].(string)
		id, ok := rec["id"].(json.Number)
		if !ok || !strings.HasPrefix(msg, "tmc: ") {
			continue
		}
		if out[msg] == nil {
			out[msg] = map[string]int{}
		}
		out[msg][id.String()]++
	}
	return out
}

// waitConfirmed waits for the channel to have every message confirmed.
func waitConfirmed(t *testing.T, sb *sandbox.Server, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for st := sb.TMCStats(); st.Unconfirmed > 0; st = sb.TMCStats() {
		if time.Now().After(deadline) {
			t.Fatalf("still unconfirmed after %s: %+v", within, st)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// The demonstration through Lua: 2,000 trade events with churn;
// order_sync_tmc.lua's process is SIGKILLed midway and restarted; the
// sandbox drops the connection twice; 5% of handler calls raise. Every
// trade ends synced exactly as the sandbox has it, no message is lost,
// every message ran its handler at least once or was dropped as a
// duplicate, and duplicates were dropped.
func TestOrderSyncTMCSurvives(t *testing.T) {
	bin := binary(t)
	sb := sandboxtest.Start(t, sandbox.Options{TMC: sandbox.TMCOptions{
		Redeliver: time.Second, FailDelay: 100 * time.Millisecond, Duplicates: 0.05}})
	dir := tmcDir(t, sb, fmt.Sprintf("[state]\npath = %q\n", filepath.Join(t.TempDir(), "state.db")))
	start := func() *host {
		return startHost(t, bin, dir, "run", "--log-format", "json", "-v", "chaos.lua", "3s", "1h")
	}
	connected := func(h *host) {
		deadline := time.Now().Add(20 * time.Second)
		for sb.TMCStats().Connections != 1 {
			if time.Now().After(deadline) {
				t.Fatalf("the consumer did not connect:\n%s", h.stderr.String())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}

	first := start()
	connected(first)
	const events = 2000
	var second *host
	for done := 0; done < events; done += 10 {
		sb.Churn(10)
		time.Sleep(5 * time.Millisecond)
		switch done {
		case 500, 1500:
			if n := sb.DropTMC(); n != 1 {
				t.Fatalf("dropped %d connections at event %d", n, done)
			}
		case 1000:
			if err := first.cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			_ = first.cmd.Wait()
			second = start()
			connected(second)
		}
	}
	waitConfirmed(t, sb, 90*time.Second)
	if err := second.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := second.wait(); code != 130 {
		t.Fatalf("the clean stop: exit %d, want 130\n%s", code, tail(second.stderr.String()))
	}

	trades, missing, wrong := compareOrders(t, sb, storedOrders(t, dir))
	st := sb.TMCStats()
	ran, dropped, failed := map[string]int{}, map[string]bool{}, 0
	for _, h := range []*host{first, second} {
		logs := logIDs(t, []byte(h.stderr.String()))
		for id, n := range logs["tmc: handled"] {
			ran[id] += n
		}
		for id := range logs["tmc: duplicate confirmed without the handler"] {
			dropped[id] = true
		}
		for _, n := range logs["tmc: handler failed; the message will come again"] {
			failed += n
		}
		if n := len(logs["tmc: a topic not listened to: confirmed unhandled"]); n != 0 {
			t.Errorf("%d trade messages skipped as another topic", n)
		}
	}
	covered := map[string]bool{}
	runs := 0
	for id, n := range ran {
		covered[id] = true
		runs += n
	}
	for id := range dropped {
		covered[id] = true
	}
	t.Logf("%d events on %d trades; %d messages published (%d twice), %d confirmed, %d redelivered, %d failed reports; "+
		"lost %d; trades missing %d, wrong %d; %d handler runs without error on %d messages, %d handler errors; %d dropped as duplicates",
		events, trades, st.Published, st.Duplicated, st.Confirmed, st.Redelivered, st.Failed,
		st.Unconfirmed, missing, wrong, runs, len(ran), failed, len(dropped))
	if st.Unconfirmed != 0 || st.Confirmed != st.Published || st.Expired != 0 {
		t.Errorf("messages lost: %+v", st)
	}
	if len(sb.Changes(0)) != events || missing != 0 || wrong != 0 {
		t.Errorf("%d changes; trades missing %d, wrong %d", len(sb.Changes(0)), missing, wrong)
	}
	if len(covered) != int(st.Published) {
		t.Errorf("%d messages ran their handler or were dropped as duplicates, of %d published", len(covered), st.Published)
	}
	if len(dropped) == 0 || failed == 0 || st.Redelivered == 0 {
		t.Errorf("the run shows no duplicate dropped (%d), handler error (%d) or redelivery (%d)", len(dropped), failed, st.Redelivered)
	}
	if !strings.Contains(second.stderr.String(), `"msg":"orders swept"`) {
		t.Error("the restarted process did not sweep")
	}
}

// A fleet: three topscript processes on one group split the messages, and
// their writes to one Redis store, idempotent by tid, leave every trade
// exactly as the sandbox has it.
func TestOrderSyncTMCFleet(t *testing.T) {
	bin := binary(t)
	redisURL := startRedis(t)
	sb := sandboxtest.Start(t, sandbox.Options{TMC: sandbox.TMCOptions{Redeliver: 2 * time.Second, Duplicates: 0.05}})
	dir := tmcDir(t, sb, fmt.Sprintf("[state]\nbackend = \"redis\"\nredis_url = %q\n", redisURL))
	const n = 3
	hosts := make([]*host, n)
	for i := range hosts {
		hosts[i] = startHost(t, bin, dir, "run", "--log-format", "json", "-v", "order_sync_tmc.lua", "2s", "1h")
	}
	deadline := time.Now().Add(20 * time.Second)
	for sb.TMCStats().Connections != n {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d hosts connected", sb.TMCStats().Connections, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	const events = 600
	for range events {
		sb.Churn(1)
		time.Sleep(2 * time.Millisecond)
	}
	waitConfirmed(t, sb, 60*time.Second)
	for _, h := range hosts {
		if err := h.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
	}
	total := 0
	var split []int
	for i, h := range hosts {
		if code := h.wait(); code != 130 {
			t.Errorf("host %d: exit %d, want 130\n%s", i, code, tail(h.stderr.String()))
		}
		k := len(logIDs(t, []byte(h.stderr.String()))["tmc: handled"])
		split = append(split, k)
		total += k
		if k == 0 {
			t.Errorf("host %d handled no message: the group did not split them", i)
		}
	}
	trades, missing, wrong := compareOrders(t, sb, storedOrders(t, dir))
	st := sb.TMCStats()
	t.Logf("%d events on %d trades; %d messages published, %d confirmed; handled per host %v (%d); missing %d, wrong %d",
		events, trades, st.Published, st.Confirmed, split, total, missing, wrong)
	if st.Confirmed != st.Published || missing != 0 || wrong != 0 {
		t.Errorf("lost %d; missing %d, wrong %d", st.Published-st.Confirmed, missing, wrong)
	}
}

// tail is the end of a long log.
func tail(s string) string { return s[max(0, len(s)-4000):] }
