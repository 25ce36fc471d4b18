package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/topscript/topscript/cmd/topscript/internal/cli"
	"github.com/topscript/topscript/internal/sandboxtest"
	"github.com/topscript/topscript/internal/syncbuf"
	"github.com/topscript/topscript/sandbox"
	"github.com/topscript/topscript/state"
)

// These tests cover issue #16: shops authorise the app (auth login),
// runs name them (--shop, --shops, --all-shops) with no session in the
// configuration, their sessions are refreshed once across processes, and
// a refused session ends with what to do.

// shopsConfig writes a topscript.toml for the sandbox's app at gateway
// with no session at all, quick retries, the [state] table's body and
// extra after it.
func shopsConfig(t *testing.T, path, gateway, stateTOML, extra string) string {
	t.Helper()
	cfg := fmt.Sprintf(`profile = "sandbox"
[profiles.sandbox]
app_key    = %q
app_secret = %q
gateway    = %q

[retry]
max_attempts = 10
backoff = "20ms"

[state]
%s
%s`, sandbox.DefaultAppKey, sandbox.DefaultAppSecret, gateway, stateTOML, extra)
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// cliRun runs the CLI in-process in dir with browser as the desktop's
// browser and stdin, and returns the exit code, stdout and stderr.
func cliRun(t *testing.T, dir string, browser func(string) error, stdin string, args ...string) (int, string, string) {
	t.Helper()
	t.Chdir(dir)
	var stdout, stderr syncbuf.Buffer
	code := cli.Main(&cli.State{
		Args:      args,
		Stdin:     strings.NewReader(stdin),
		Stdout:    &stdout,
		Stderr:    &stderr,
		LookupEnv: func(string) (string, bool) { return "", false },
		Version:   "test",
		OpenURL:   browser,
	})
	return code, stdout.String(), stderr.String()
}

var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// authCode is what a shop's owner's browser brings back from the sandbox's
// authorize page for shop k and redirect: the code.
func authCode(t *testing.T, sb *sandbox.Server, k int, redirect string) string {
	t.Helper()
	q := url.Values{"response_type": {"code"}, "client_id": {sandbox.DefaultAppKey}, "redirect_uri": {redirect},
		"state": {"pasted"}, "sandbox_shop": {fmt.Sprint(k)}}
	resp, err := noRedirects.Get(strings.TrimSuffix(sb.URL(), "/router/rest") + "/authorize?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || loc.Query().Get("code") == "" {
		t.Fatalf("authorize: HTTP %d, Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	return loc.Query().Get("code")
}

// browserFor is a browser whose owner approves as shop k of the sandbox:
// it follows the authorize page's redirect to the loopback listener.
func browserFor(t *testing.T, k int, opened *[]string) func(string) error {
	return func(u string) error {
		*opened = append(*opened, u)
		resp, err := http.Get(u + "&sandbox_shop=" + fmt.Sprint(k))
		if err != nil {
			t.Errorf("browser: %v", err)
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("browser: the redirect answered %d", resp.StatusCode)
		}
		return nil
	}
}

// login logs shop k of sb in as name with --code (in dir with cfg).
func login(t *testing.T, dir, cfg string, sb *sandbox.Server, k int, name string) {
	t.Helper()
	const redirect = "https://isv.example.com/topscript/callback"
	code, _, stderr := cliRun(t, dir, nil, authCode(t, sb, k, redirect)+"\n",
		"auth", "login", "--config", cfg, "--shop", name, "--code", "-", "--redirect-uri", redirect)
	if code != 0 {
		t.Fatalf("auth login --shop %s: exit %d\n%s", name, code, stderr)
	}
}

// storedTokens reads every secret kept for the app in the file backend's
// tokens store beside statePath.
func storedTokens(t *testing.T, statePath string) []string {
	t.Helper()
	s, err := state.OpenFile(state.TokensPathFor(statePath), state.FileOptions{Brief: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ns := "topscript:auth:" + sandbox.DefaultAppKey
	keys, _ := s.Keys(context.Background(), ns)
	var out []string
	for _, k := range keys {
		raw, _, _ := s.Get(context.Background(), ns, k)
		var r struct {
			Token struct {
				Access  string `json:"access_token"`
				Refresh string `json:"refresh_token"`
			} `json:"token"`
		}
		json.Unmarshal(raw, &r)
		out = append(out, r.Token.Access, r.Token.Refresh)
	}
	return out
}

const whoLua = `
local u = top.call("taobao.user.seller.get", {fields = "user_id,nick"}).user
print(string.format("shop=%s user_id=%s seller=%s", top.shop and top.shop.name or "-", top.shop and top.shop.user_id or "-", u.user_id))
`

// Login against the sandbox end to end — the loopback redirect (the
// browser opened on the authorize page, the redirect caught with its
// state) and a code pasted by hand — then runs with no session in the
// configuration: --shop, --shops and the profile's shop; auth list,
// refresh and logout with --json. No token or secret is ever printed,
// and topscript.toml is never written.
func TestAuthLoginThenRun(t *testing.T) {
	sb := sandboxtest.Start(t, sandbox.Options{Shops: 3})
	dir := t.TempDir()
	statePath := filepath.Join(dir, "state.db")
	cfg := shopsConfig(t, filepath.Join(dir, "topscript.toml"), sb.URL(), fmt.Sprintf("path = %q", statePath), "")
	os.WriteFile(filepath.Join(dir, "who.lua"), []byte(whoLua), 0o644)
	before, _ := os.ReadFile(cfg)
	var outputs []string
	keep := func(o ...string) { outputs = append(outputs, o...) }

	// The loopback redirect.
	var opened []string
	code, out, errOut := cliRun(t, dir, browserFor(t, 2, &opened), "", "auth", "login", "--config", cfg, "--shop", "north")
	keep(out, errOut)
	if code != 0 || len(opened) != 1 {
		t.Fatalf("auth login (loopback): exit %d, browser opened %v\n%s%s", code, opened, out, errOut)
	}
	page, _ := url.Parse(opened[0])
	if page.Path != "/authorize" || page.Query().Get("state") == "" || !strings.HasPrefix(page.Query().Get("redirect_uri"), "http://127.0.0.1:") ||
		!strings.Contains(errOut, opened[0]) {
		t.Errorf("authorize page %s; printed:\n%s", opened[0], errOut)
	}
	if !strings.Contains(out, "shop north authorised: topscript沙箱店2 (user 2206571234568)") || !strings.Contains(out, "refreshable") {
		t.Errorf("login said: %s", out)
	}
	// A code pasted by hand (the redirect went to the ISV's own page).
	login(t, dir, cfg, sb, 3, "south")

	// auth list.
	code, out, errOut = cliRun(t, dir, nil, "", "auth", "list", "--config", cfg, "--json")
	keep(out, errOut)
	var list []map[string]any
	if err := json.Unmarshal([]byte(out), &list); err != nil || code != 0 || len(list) != 2 {
		t.Fatalf("auth list --json: exit %d %v\n%s%s", code, err, out, errOut)
	}
	if list[0]["shop"] != "north" || list[0]["user_id"] != "2206571234568" || list[1]["nick"] != "topscript沙箱店3" ||
		list[0]["refreshable"] != true || len(list[0]["levels"].(map[string]any)) != 4 || list[0]["expires"] == "" {
		t.Errorf("auth list --json: %v", list)
	}
	code, out, _ = cliRun(t, dir, nil, "", "auth", "list", "--config", cfg)
	keep(out)
	if code != 0 || !strings.Contains(out, "SHOP") || !strings.Contains(out, "W2") || !strings.Contains(out, "2206571234569") {
		t.Errorf("auth list:\n%s", out)
	}

	// A run for a shop, with no session in the configuration.
	code, out, errOut = cliRun(t, dir, nil, "", "run", "--config", cfg, "--shop", "north", "who.lua")
	keep(out, errOut)
	if code != 0 || strings.TrimSpace(out) != "shop=north user_id=2206571234568 seller=2206571234568" {
		t.Fatalf("run --shop north: exit %d\n%s%s", code, out, errOut)
	}
	// Several shops: each line prefixed, one summary.
	code, out, errOut = cliRun(t, dir, nil, "", "run", "--config", cfg, "--shops", "north,south", "who.lua")
	keep(out, errOut)
	if code != 0 || !strings.Contains(out, "[north] shop=north user_id=2206571234568 seller=2206571234568\n") ||
		!strings.Contains(out, "[south] shop=south user_id=2206571234569 seller=2206571234569\n") || !strings.Contains(errOut, "2 shops: 2 ok") {
		t.Fatalf("run --shops: exit %d\n%s%s", code, out, errOut)
	}
	// A profile's shop.
	prof := shopsConfig(t, filepath.Join(dir, "south.toml"), sb.URL(), fmt.Sprintf("path = %q", statePath), "")
	src, _ := os.ReadFile(prof)
	os.WriteFile(prof, []byte(strings.Replace(string(src), "gateway ", "shop = \"south\"\ngateway ", 1)), 0o644)
	code, out, errOut = cliRun(t, dir, nil, "", "run", "--config", prof, "who.lua")
	keep(out, errOut)
	if code != 0 || !strings.Contains(out, "shop=south user_id=2206571234569") {
		t.Errorf("run with the profile's shop: exit %d\n%s%s", code, out, errOut)
	}

	// auth refresh.
	code, out, errOut = cliRun(t, dir, nil, "", "auth", "refresh", "--config", cfg, "--shop", "north", "--json")
	keep(out, errOut)
	if code != 0 || !strings.Contains(out, `"refreshed": true`) || sb.OAuthStats().Refreshes != 1 {
		t.Errorf("auth refresh: exit %d\n%s%s", code, out, errOut)
	}
	// auth logout; the shop is gone.
	code, out, errOut = cliRun(t, dir, nil, "", "auth", "logout", "--config", cfg, "--shop", "south", "--json")
	keep(out, errOut)
	if code != 0 || !strings.Contains(out, `"removed": true`) {
		t.Errorf("auth logout: exit %d\n%s%s", code, out, errOut)
	}
	code, _, errOut = cliRun(t, dir, nil, "", "run", "--config", cfg, "--shop", "south", "who.lua")
	keep(errOut)
	if code != 2 || !strings.Contains(errOut, `shop is not authorised: "south" (authorised: north); authorise it with: topscript auth login --shop south`) {
		t.Errorf("run for a shop logged out: exit %d\n%s", code, errOut)
	}

	// No secret anywhere, the configuration untouched, the tokens the
	// owner's alone.
	secrets := append(storedTokens(t, statePath), sandbox.DefaultAppSecret)
	all := strings.Join(outputs, "\n")
	for _, s := range secrets {
		if s != "" && strings.Contains(all, s) {
			t.Errorf("a secret was printed: %.12s…", s)
		}
	}
	if after, _ := os.ReadFile(cfg); string(after) != string(before) {
		t.Error("topscript.toml was written")
	}
	if fi, err := os.Stat(state.TokensPathFor(statePath)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("tokens file: %v %v", fi, err)
	}
}

// An expired session that cannot be refreshed, and an expired w2 window
// (a sensitive write), each end with what the shop must do; the first is
// warned about at the start of the run.
func TestRefusedSessionsSayWhatToDo(t *testing.T) {
	cases := []struct {
		name   string
		tokens sandbox.TokenOptions
		wait   time.Duration
		script string
		code   string
	}{
		{"expired, not refreshable", sandbox.TokenOptions{SessionTTL: 1500 * time.Millisecond, NoRefresh: true}, 1700 * time.Millisecond, whoLua, "27 Invalid session"},
		{"w2 window closed", sandbox.TokenOptions{W2TTL: 1500 * time.Millisecond}, 1700 * time.Millisecond, `
local item = top.call("taobao.items.onsale.get", {fields = "num_iid", page_size = 1}).items[1]
local it = top.call("taobao.item.seller.get", {fields = "num_iid,sku", num_iid = item.num_iid}).item
local sku = it.skus[1]
top.call("taobao.item.sku.price.update", {num_iid = it.num_iid, properties = sku.properties, price = "19.90"})
`, "53 Insufficient security level"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sb := sandboxtest.Start(t, sandbox.Options{Tokens: c.tokens})
			dir := t.TempDir()
			cfg := shopsConfig(t, filepath.Join(dir, "topscript.toml"), sb.URL(), fmt.Sprintf("path = %q", filepath.Join(dir, "state.db")), "")
			os.WriteFile(filepath.Join(dir, "s.lua"), []byte(c.script), 0o644)
			login(t, dir, cfg, sb, 1, "main")
			time.Sleep(c.wait)
			code, out, errOut := cliRun(t, dir, nil, "", "run", "--config", cfg, "--shop", "main", "s.lua")
			if code != 1 || !strings.Contains(errOut, c.code) ||
				!strings.HasSuffix(strings.TrimSpace(errOut), "shop main must authorise again: topscript auth login --shop main") {
				t.Errorf("exit %d\n%s%s", code, out, errOut)
			}
			if c.tokens.NoRefresh && !strings.Contains(errOut, "shop main's session expired at") {
				t.Errorf("no warning at the start:\n%s", errOut)
			}
		})
	}
}

// loopLua calls until the Unix second arg[1] and prints how many calls it
// made.
const loopLua = `
local time = require("time")
local stop = tonumber(arg[1])
local n = 0
while time.unix() < stop do
  top.call("taobao.user.seller.get", {fields = "user_id"})
  n = n + 1
  time.sleep("20ms")
end
print(n)
`

// A token refreshed while two processes run for the shop (a fleet on
// Redis): one refresh, both keep working — past the first session's
// expiry — and no call answers 27.
func TestRefreshWhileTwoProcessesRun(t *testing.T) {
	redisURL := startRedis(t)
	bin := binary(t)
	sb := sandboxtest.Start(t, sandbox.Options{Tokens: sandbox.TokenOptions{SessionTTL: 9 * time.Second}})
	dir := t.TempDir()
	cfg := shopsConfig(t, filepath.Join(dir, "topscript.toml"), sb.URL(),
		fmt.Sprintf("backend = \"redis\"\nredis_url = %q\nlock_lease = \"2s\"", redisURL), "")
	os.WriteFile(filepath.Join(dir, "loop.lua"), []byte(loopLua), 0o644)
	login(t, dir, cfg, sb, 1, "main")
	loggedIn := time.Now()
	// Both run until the whole second 11 s after the login (10 to 11 s
	// after it): the session expires at 9 s; a third of its life before,
	// at 6 s, one of them refreshes it; the new one is not due before 12 s.
	until := fmt.Sprint(loggedIn.Unix() + 11)
	hosts := []*host{
		startHost(t, bin, dir, "run", "--config", cfg, "--shop", "main", "loop.lua", until),
		startHost(t, bin, dir, "run", "--config", cfg, "--shop", "main", "loop.lua", until),
	}
	refreshedBy := 0
	for i, h := range hosts {
		if code := h.wait(); code != 0 {
			t.Fatalf("host %d: exit %d\n%s", i+1, code, h.stderr.String())
		}
		if strings.TrimSpace(h.stdout.String()) == "0" {
			t.Errorf("host %d made no call", i+1)
		}
		refreshedBy += strings.Count(h.stderr.String(), "session refreshed")
	}
	if time.Since(loggedIn) < 9500*time.Millisecond {
		t.Fatalf("the hosts ended %v after the login, before the first session expired", time.Since(loggedIn))
	}
	o := sb.OAuthStats()
	if o.Refreshes != 1 || len(o.Errors) != 0 || refreshedBy != 1 {
		t.Errorf("%d refreshes (%d logged), refusals %v; want one\n%s\n%s", o.Refreshes, refreshedBy, o.Errors,
			hosts[0].stderr.String(), hosts[1].stderr.String())
	}
	if n := sb.Stats().Errors["27/invalid-sessionkey"]; n != 0 {
		t.Errorf("%d calls answered 27", n)
	}
	t.Logf("FIGURE two hosts for 10-11 s on a 9 s session: %d refresh, %s and %s calls, 0 answered 27",
		o.Refreshes, strings.TrimSpace(hosts[0].stdout.String()), strings.TrimSpace(hosts[1].stdout.String()))
}

// After a refresh the shop is the same: order_sync resumes from its
// cursor (one window, not six hours of them) with the new session — the
// first one has expired — and a job stopped half-way sends only the rest.
func TestRefreshKeepsTheShopsState(t *testing.T) {
	t.Run("order_sync", func(t *testing.T) {
		sb := sandboxtest.Start(t, sandbox.Options{Tokens: sandbox.TokenOptions{SessionTTL: 3 * time.Second}})
		dir := t.TempDir()
		cfg := shopsConfig(t, filepath.Join(dir, "topscript.toml"), sb.URL(), fmt.Sprintf("path = %q", filepath.Join(dir, "state.db")), "")
		script := filepath.Join(examplesDir(t), "order_sync.lua")
		login(t, dir, cfg, sb, 1, "main")
		loggedIn := time.Now()
		const inc = "taobao.trades.sold.increment.get"
		if code, out, errOut := cliRun(t, dir, nil, "", "run", "--config", cfg, "--shop", "main", script, "orders.jsonl", "6"); code != 0 {
			t.Fatalf("first sync: exit %d\n%s%s", code, out, errOut)
		}
		first := sb.Stats().Calls[inc]
		if first < 12 {
			t.Fatalf("the first sync made %d window calls, want at least 12 (6 hours of 30-minute windows)", first)
		}
		// Refreshed half-way through the first session's life; the second
		// sync runs once it is dead, while the new one lives.
		time.Sleep(time.Until(loggedIn.Add(1500 * time.Millisecond)))
		if code, out, errOut := cliRun(t, dir, nil, "", "auth", "refresh", "--config", cfg, "--shop", "main"); code != 0 {
			t.Fatalf("auth refresh: exit %d\n%s%s", code, out, errOut)
		}
		time.Sleep(time.Until(loggedIn.Add(3200 * time.Millisecond)))
		code, out, errOut := cliRun(t, dir, nil, "", "run", "--config", cfg, "--shop", "main", script, "orders.jsonl", "6")
		if code != 0 {
			t.Fatalf("second sync: exit %d\n%s%s", code, out, errOut)
		}
		if again := sb.Stats().Calls[inc] - first; again > 2 {
			t.Errorf("after the refresh the sync made %d window calls: it started again instead of resuming from its cursor", again)
		}
		if n := sb.Stats().Errors["27/invalid-sessionkey"]; n != 0 {
			t.Errorf("%d calls answered 27: the old session was sent", n)
		}
	})
	t.Run("half-done job", func(t *testing.T) {
		needSignals(t)
		bin := onceBinary(t)
		w := newStockWorld(t, 400, sandbox.Options{Latency: 3 * time.Millisecond})
		statePath := filepath.Join(w.dir, "state.db")
		cfg := shopsConfig(t, filepath.Join(w.dir, "topscript.toml"), w.sb.URL(), fmt.Sprintf("path = %q", statePath), "")
		login(t, w.dir, cfg, w.sb, 1, "main")
		report := filepath.Join(w.dir, "report.csv")
		p := w.start(t, bin, "run", "--config", cfg, "--shop", "main", w.script, w.input, report)
		w.waitWrites(t, 120, p.running, "first run")
		p.cmd.Process.Signal(os.Interrupt)
		if code := p.wait(t); code != 130 {
			t.Fatalf("Ctrl-C: exit %d\n%s", code, p.stderr.String())
		}
		atStop := w.writes()
		before := storedTokens(t, statePath)
		if code, out, errOut := cliRun(t, w.dir, nil, "", "auth", "refresh", "--config", cfg, "--shop", "main"); code != 0 {
			t.Fatalf("auth refresh: exit %d\n%s%s", code, out, errOut)
		}
		if after := storedTokens(t, statePath); after[0] == before[0] {
			t.Fatal("the session did not change")
		}
		code, out := w.run(t, bin, "run", "--config", cfg, "--shop", "main", w.script, w.input, report)
		if code != 0 {
			t.Fatalf("rerun after the refresh: exit %d\n%s", code, out)
		}
		f := w.check(t, report)
		// Every SKU written once (or, for a row of unknown outcome, not at
		// all): the rerun sent only the rows the first run had not.
		if n := w.writes(); n != int64(len(w.skus)-f.moved0) {
			t.Errorf("%d writes in all for %d SKUs (%d stopped at %d)", n, len(w.skus), f.moved0, atStop)
		}
		logFigure(t, fmt.Sprintf("refresh after Ctrl-C at %d writes", atStop), f, "")
	})
}

// paceLua keeps call_all's 4 calls in flight until the Unix second arg[1],
// then runs a one-row job whose report is report.csv.
const paceLua = `
local job = require("job")
local time = require("time")
local stop = tonumber(arg[1])
local calls = {}
for i = 1, 4 do calls[i] = {"taobao.user.seller.get", {fields = "user_id"}} end
while time.unix() < stop do
  for _, r in ipairs(top.call_all(calls, {concurrency = 4})) do
    if not r.ok then error(tostring(r.error)) end
  end
end
job.run{name = "mark", rows = {{k = top.shop.user_id}}, key = function(r) return r.k end,
  call = function(r) return "taobao.time.get", {} end, report = "report.csv"}
`

// --all-shops over 5 sandbox shops: five runs at once under the app's one
// throttle of 40 qps (the gateway bans over 48): five reports, the
// aggregate pace within 5% of 40, no code 7.
func TestAllShopsPace(t *testing.T) {
	sb := sandboxtest.Start(t, sandbox.Options{Shops: 5, QPS: 48})
	dir := t.TempDir()
	cfg := shopsConfig(t, filepath.Join(dir, "topscript.toml"), sb.URL(), fmt.Sprintf("path = %q", filepath.Join(dir, "state.db")),
		"\n[throttle]\nqps = 40\n")
	os.WriteFile(filepath.Join(dir, "pace.lua"), []byte(paceLua), 0o644)
	for k := 1; k <= 5; k++ {
		login(t, dir, cfg, sb, k, fmt.Sprintf("s%d", k))
	}
	start := time.Now()
	until := fmt.Sprint(start.Unix() + 7)
	type result struct {
		code        int
		out, errOut string
	}
	done := make(chan result)
	go func() {
		var stdout, stderr syncbuf.Buffer
		code := cli.Main(&cli.State{Args: []string{"run", "--config", cfg, "--all-shops", "--parallel", "5", "pace.lua", until},
			Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr, LookupEnv: func(string) (string, bool) { return "", false }})
		done <- result{code, stdout.String(), stderr.String()}
	}()
	sample := func(at time.Duration) (time.Time, int64) {
		time.Sleep(time.Until(start.Add(at)))
		return time.Now(), sb.Stats().Requests
	}
	t1, r1 := sample(1500 * time.Millisecond)
	t2, r2 := sample(5500 * time.Millisecond)
	pace := float64(r2-r1) / t2.Sub(t1).Seconds()
	res := <-done
	if res.code != 0 {
		t.Fatalf("run --all-shops: exit %d\n%s%s", res.code, res.out, res.errOut)
	}
	if pace < 38 || pace > 42 {
		t.Errorf("aggregate pace %.1f calls/s, want 40 within 5%%", pace)
	}
	if n := codeSeven(sb.Stats().Errors); n != 0 {
		t.Errorf("%d calls answered code 7", n)
	}
	for k := 1; k <= 5; k++ {
		name := fmt.Sprintf("s%d", k)
		st, recs := report(t, filepath.Join(dir, "report."+name+".csv"))
		if st["ok"] != 1 || recs[1][0] != fmt.Sprint(2206571234566+k) {
			t.Errorf("shop %s's report: %v", name, recs)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "report.csv")); err == nil {
		t.Error("a report without a shop's name was written")
	}
	if !strings.Contains(res.errOut, "topscript: 5 shops: 5 ok") {
		t.Errorf("summary:\n%s", res.errOut)
	}
	t.Logf("FIGURE --all-shops over 5 shops at [throttle] qps = 40: %.1f calls/s aggregate (%+.1f%%), 0 code 7", pace, (pace/40-1)*100)
}

// The scheduler runs an entry for every authorised shop (shops = "all")
// the way run --all-shops does: once per shop, the scheduler's output
// carrying each shop's lines.
func TestScheduleAllShops(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	needSignals(t)
	bin := binary(t)
	sb := sandboxtest.Start(t, sandbox.Options{Shops: 2})
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "who.lua"), []byte(whoLua), 0o644)
	cfg := shopsConfig(t, filepath.Join(dir, "topscript.toml"), sb.URL(), fmt.Sprintf("path = %q", filepath.Join(dir, "state.db")), `
[[schedule]]
name = "who"
cron = "@every 1s"
script = "who.lua"
shops = "all"
`)
	login(t, dir, cfg, sb, 1, "first")
	login(t, dir, cfg, sb, 2, "second")
	h := startHost(t, bin, dir, "schedule", "--config", cfg)
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(h.stdout.String(), "[second] shop=second") && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	h.cmd.Process.Signal(os.Interrupt)
	h.wait()
	out := h.stdout.String()
	if !strings.Contains(out, "[first] shop=first user_id=2206571234567 seller=2206571234567") ||
		!strings.Contains(out, "[second] shop=second user_id=2206571234568 seller=2206571234568") {
		t.Errorf("schedule output:\n%s\n%s", out, h.stderr.String())
	}
}

// A shop that ran with a session pasted into its profile keeps its state
// when it moves to auth login: its order sync resumes from the cursor the
// pasted session's runs left. A profile with no session at all that calls
// an API needing one ends saying how to get one.
func TestProfileSessionToShop(t *testing.T) {
	sb := sandboxtest.Start(t, sandbox.Options{})
	dir := t.TempDir()
	statePath := filepath.Join(dir, "state.db")
	pasted := testConfig(t, filepath.Join(dir, "pasted.toml"), sb.URL(), sandbox.DefaultSession, fmt.Sprintf("path = %q", statePath))
	cfg := shopsConfig(t, filepath.Join(dir, "topscript.toml"), sb.URL(), fmt.Sprintf("path = %q", statePath), "")
	script := filepath.Join(examplesDir(t), "order_sync.lua")
	const inc = "taobao.trades.sold.increment.get"
	if code, out, errOut := cliRun(t, dir, nil, "", "run", "--config", pasted, script, "orders.jsonl", "6"); code != 0 {
		t.Fatalf("sync with the pasted session: exit %d\n%s%s", code, out, errOut)
	}
	first := sb.Stats().Calls[inc]
	login(t, dir, cfg, sb, 1, "main")
	if code, out, errOut := cliRun(t, dir, nil, "", "run", "--config", cfg, "--shop", "main", script, "orders.jsonl", "6"); code != 0 {
		t.Fatalf("sync for the shop: exit %d\n%s%s", code, out, errOut)
	}
	if again := sb.Stats().Calls[inc] - first; first < 12 || again > 2 {
		t.Errorf("%d window calls with the pasted session, then %d for the shop: it did not resume", first, again)
	}
	os.WriteFile(filepath.Join(dir, "who.lua"), []byte(whoLua), 0o644)
	code, _, errOut := cliRun(t, dir, nil, "", "run", "--config", cfg, "who.lua")
	if code != 1 || !strings.Contains(errOut, "26 Missing session") ||
		!strings.Contains(errOut, "the session of profile sandbox was refused (26 Missing session): authorise the shop (topscript auth login --shop NAME) and run with --shop NAME") {
		t.Errorf("no session: exit %d\n%s", code, errOut)
	}
}
