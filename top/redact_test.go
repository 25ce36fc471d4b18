package top

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

func containsSecret(s string) bool {
	return strings.Contains(s, testSecret) || strings.Contains(s, testSession)
}

func TestRedact(t *testing.T) {
	c := newTestClient(t, testConfig("http://127.0.0.1:1/"))
	in := `Post "http://h/router/rest?app_key=1&session=abc&sign=DEADBEEF&x=1": ` + testSecret + " " + testSession + ` {"session":"zzz","sign":"QQQ"}`
	out := c.Redact(in)
	for _, bad := range []string{testSecret, testSession, "abc", "DEADBEEF", "zzz", "QQQ"} {
		if strings.Contains(out, bad) {
			t.Errorf("%q survives in %q", bad, out)
		}
	}
	if !strings.Contains(out, "app_key=1") || !strings.Contains(out, "x=1") {
		t.Errorf("over-redacted: %q", out)
	}
	var nilc *Client
	if got := nilc.Redact("sign=X"); strings.Contains(got, "=X") {
		t.Errorf("nil client: %q", got)
	}
}

// No failure path puts the secret, the session or a sign in an error
// string or in a debug log line.
func TestSecretsNeverInErrorsOrLogs(t *testing.T) {
	g := newGW(t, func(n int64, p map[string]string, w http.ResponseWriter, r *http.Request) {
		echo := "sign=" + p["sign"] + " session=" + p["session"] + " " + testSecret
		switch p["method"] {
		case "t.isv":
			errBody(w, 15, "Remote service error", "isv.x", echo)
		case "t.isp":
			errBody(w, 15, "Remote service error", "isp.x", "")
		case "t.html":
			w.WriteHeader(500)
			_, _ = w.Write([]byte("<html>" + echo + "</html>"))
		case "t.malformed":
			okBody(w, `{"x":"`+echo)
		case "t.drop":
			dropConn(w)
		case "t.ban":
			errBody(w, 7, "App Call Limited", "accesscontrol.limited-by-app-api-access-count", "This ban will last for 1 more seconds")
		case "t.longban":
			errBody(w, 7, "App Call Limited", "accesscontrol.limited-by-app-api-access-count", "This ban will last for 99999 more seconds")
		case "t.slow":
			time.Sleep(100 * time.Millisecond)
			okBody(w, `{}`)
		default:
			okBody(w, `{"ok":true}`)
		}
	})
	var logs bytes.Buffer
	cfg := testConfig(g.srv.URL)
	cfg.Retry.Backoff = time.Millisecond
	cfg.Retry.MaxAttempts = 2
	c := newTestClient(t, cfg, WithLogger(debugLogger(&logs)))
	var errs []string
	call := func(m string, p Params, o *CallOptions) {
		_, err := c.Call(context.Background(), m, p, o)
		if err != nil {
			errs = append(errs, err.Error())
			var u interface{ Unwrap() error } = err.(*Error)
			if inner := u.Unwrap(); inner != nil {
				errs = append(errs, inner.Error())
			}
		}
	}
	for _, m := range []string{"t.isv", "t.isp", "t.html", "t.malformed", "t.drop", "t.longban", "t.ok"} {
		call(m, Params{"a": 1}, nil)
		call(m, nil, &CallOptions{Session: "per-call-session-value", Retries: -1})
	}
	call("t.slow", nil, &CallOptions{Timeout: 10 * time.Millisecond, Retries: 0})
	call("t.x", Params{"session": testSession}, nil)
	call("t.x", Params{"bad": make(chan int)}, nil)

	// A gateway URL that (wrongly) carries secrets in its query, unreachable.
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	l.Close()
	cfg2 := testConfig("http://" + addr + "/router/rest?session=" + testSession + "&sign=ABCDEF0123")
	cfg2.Retry.Backoff = time.Millisecond
	c2 := newTestClient(t, cfg2, WithLogger(debugLogger(&logs)))
	_, err := c2.Call(context.Background(), "t.refused", nil, nil)
	errs = append(errs, err.Error(), err.(*Error).Unwrap().Error())

	if len(errs) < 10 {
		t.Fatalf("only %d errors", len(errs))
	}
	all := strings.Join(errs, "\n") + "\n" + logs.String()
	secrets := append([]string{testSecret, testSession, "per-call-session-value", "ABCDEF0123"}, g.allSigns()...)
	for _, s := range secrets {
		if strings.Contains(all, s) {
			t.Errorf("secret %q leaked:\n%s", s, all)
		}
	}
	if !strings.Contains(logs.String(), "attempt=") || !strings.Contains(logs.String(), "method=t.isp") {
		t.Errorf("no debug attempt lines:\n%s", logs.String())
	}
}
