package main

import (
	"crypto/hmac"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/topscript/topscript/internal/sandboxtest"
	"github.com/topscript/topscript/notify"
	"github.com/topscript/topscript/sandbox"
	"github.com/topscript/topscript/shop"
)

// hookSecret signs the local webhook's bodies.
const hookSecret = "h00k-s1gning-secret-2468"

// hook is a local JSON webhook receiver ([[notify]] type = "webhook"): it
// keeps each alert whose signature (notify.SignatureHeader) is right and
// counts the others.
type hook struct {
	*httptest.Server
	mu       sync.Mutex
	alerts   []notify.Payload
	raw      []string
	badSigns int
}

func startHook(t *testing.T) *hook {
	h := &hook{}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		h.mu.Lock()
		defer h.mu.Unlock()
		if !hmac.Equal([]byte(req.Header.Get(notify.SignatureHeader)), []byte(notify.WebhookSignature(body, hookSecret))) {
			h.badSigns++
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		var p notify.Payload
		if err := json.Unmarshal(body, &p); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		h.alerts, h.raw = append(h.alerts, p), append(h.raw, string(body))
	}))
	t.Cleanup(h.Close)
	return h
}

// received returns the alerts so far, and how many were refused for their
// signature.
func (h *hook) received() ([]notify.Payload, string, int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]notify.Payload(nil), h.alerts...), strings.Join(h.raw, "\n"), h.badSigns
}

// notifyHook is the [[notify]] table of a webhook at h.
func notifyHook(h *hook) string {
	return fmt.Sprintf("\n[[notify]]\nname = \"ops-hook\"\ntype = \"webhook\"\nurl = \"%s/alerts\"\nsecret = %q\n", h.URL, hookSecret)
}

// Issue #18 item 5, end to end against the sandbox: its gateway bans the
// app for 10 minutes, longer than max_ban_wait (2 minutes by default), and
// a run that calls three times — each call failing at once, not waiting —
// sends one ban alert to the local webhook, signed, naming the ban's scope
// and sub_code, and nothing else (the script caught the errors: no
// script_error). No secret is in the alert.
func TestBanAlertEndToEnd(t *testing.T) {
	sb := sandboxtest.Start(t, sandbox.Options{})
	h := startHook(t)
	dir := t.TempDir()
	writeConfig(t, dir, sb, notifyHook(h))
	os.WriteFile(filepath.Join(dir, "banned.lua"), []byte(`
local failed = 0
for i = 1, 3 do
  local ok, err = pcall(top.call, "taobao.time.get", {})
  if not ok then failed = failed + 1; print(tostring(err)) end
end
print("failed " .. failed)
`), 0o644)
	u, _ := url.Parse(sb.URL())
	resp, err := http.Post(u.Scheme+"://"+u.Host+"/_sandbox/ban?seconds=600", "", nil) // the sandbox's control endpoint
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("banning the app: %v %v", resp, err)
	}
	resp.Body.Close()

	start := time.Now()
	code, out, errOut := topscript(t, dir, "run", "banned.lua")
	took := time.Since(start)
	if code != 0 || !strings.HasSuffix(out, "failed 3\n") || strings.Count(out, "7 ") < 3 {
		t.Fatalf("run: exit %d\n%s%s", code, out, errOut)
	}
	if took > 60*time.Second {
		t.Errorf("the run took %s: it waited the ban out", took)
	}
	alerts, raw, bad := h.received()
	if len(alerts) != 1 || bad != 0 {
		t.Fatalf("%d alerts (%d badly signed), want one ban alert:\n%s", len(alerts), bad, raw)
	}
	a := alerts[0]
	t.Logf("the ban alert: %s", a.Text)
	fields := map[string]string{}
	for _, f := range a.Fields {
		fields[f.Name] = f.Value
	}
	if a.Kind != notify.LongBan || a.Subject != "banned.lua" || !strings.HasPrefix(a.Summary, "code-7 ban for ") ||
		fields["scope"] != "app" || fields["method"] != "taobao.time.get" || fields["sub_code"] != "accesscontrol.limited-by-app-access-count" {
		t.Errorf("the alert: %+v", a)
	}
	for _, secret := range []string{sandbox.DefaultAppSecret, sandbox.DefaultSession, hookSecret} {
		if strings.Contains(raw, secret) || strings.Contains(errOut, secret) {
			t.Errorf("a secret (%.6s…) is in the alert or the run's output", secret)
		}
	}
}

// Issue #18 item 5, end to end: a shop authorised with auth login --code
// whose session ends for good in 2 days (sandbox: a 48-hour session, no
// refresh token) — within shop.WarnAhead — gets one session_expiring alert
// at its first run, and none at its second run the same day (GMT+8; the
// two runs are a moment apart, so only a run straddling midnight in GMT+8
// would see a new day).
func TestSessionExpiringAlertOncePerDay(t *testing.T) {
	if shop.WarnAhead <= 48*time.Hour {
		t.Fatalf("shop.WarnAhead %s: the sandbox's session must end within it", shop.WarnAhead)
	}
	sb := sandboxtest.Start(t, sandbox.Options{Tokens: sandbox.TokenOptions{SessionTTL: 48 * time.Hour, NoRefresh: true}})
	h := startHook(t)
	dir := t.TempDir()
	cfg := shopsConfig(t, filepath.Join(dir, "topscript.toml"), sb.URL(), fmt.Sprintf("path = %q", filepath.Join(dir, "state.db")), notifyHook(h))
	os.WriteFile(filepath.Join(dir, "who.lua"), []byte(whoLua), 0o644)
	login(t, dir, cfg, sb, 1, "main")

	for run := 1; run <= 2; run++ {
		code, out, errOut := cliRun(t, dir, nil, "", "run", "--config", cfg, "--shop", "main", "who.lua")
		if code != 0 || !strings.HasPrefix(out, "shop=main user_id=2206571234567") || !strings.Contains(errOut, "shop main") {
			t.Fatalf("run %d: exit %d\n%s%s", run, code, out, errOut)
		}
		alerts, raw, bad := h.received()
		if len(alerts) != 1 || bad != 0 {
			t.Fatalf("after run %d: %d alerts (%d badly signed), want one session_expiring alert in all:\n%s", run, len(alerts), bad, raw)
		}
		a := alerts[0]
		if run == 1 {
			t.Logf("the session alert: %s", a.Text)
		}
		if a.Kind != notify.SessionExpiring || a.Subject != "shop main" || len(a.Fields) != 1 || a.Fields[0].Value != "main" ||
			!strings.Contains(a.Summary, "main") {
			t.Errorf("the alert: %+v", a)
		}
		if strings.Contains(raw, sandbox.DefaultAppSecret) || strings.Contains(raw, hookSecret) {
			t.Error("a secret is in the alert")
		}
	}
}
