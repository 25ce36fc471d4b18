package config

import (
	"strings"
	"testing"
	"time"
)

// [[notify]] tables are read with ${VAR}s expanded and checked as a whole;
// config check shows them with every token, secret and password hidden;
// their secrets join File.Secrets, hidden from every output.
func TestNotifyTables(t *testing.T) {
	src := `[[notify]]
name = "ops"
type = "dingtalk"
url = "https://oapi.dingtalk.com/robot/send?access_token=${DING_TOKEN}"
secret = "${DING_SECRET}"
on = ["job_failed", "script_error"]
timeout = "5s"

[[notify]]
type = "email"
host = "smtp.example.com"
port = 465
tls = "tls"
username = "alerts@example.com"
password = "${SMTP_PASSWORD}"
from = "topscript <alerts@example.com>"
to = ["ops@example.com"]
`
	env := envMap(map[string]string{"DING_TOKEN": "tok-1234567890abcdef", "DING_SECRET": "SECsecret0987654321", "SMTP_PASSWORD": "pa55-word-xyz"})
	f, err := Parse("c.toml", src, Options{Env: env})
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Notify) != 2 {
		t.Fatalf("notify: %+v", f.Notify)
	}
	d, m := f.Notify[0], f.Notify[1]
	if d.URL != "https://oapi.dingtalk.com/robot/send?access_token=tok-1234567890abcdef" || d.Secret != "SECsecret0987654321" ||
		strings.Join(d.On, ",") != "job_failed,script_error" || d.Timeout != 5*time.Second || d.Name != "ops" {
		t.Errorf("dingtalk: %+v", d)
	}
	if m.Port != 465 || m.TLS != "tls" || m.Password != "pa55-word-xyz" || strings.Join(m.To, ",") != "ops@example.com" {
		t.Errorf("email: %+v", m)
	}
	shown := f.Redacted()
	for _, secret := range []string{"tok-1234567890abcdef", "SECsecret0987654321", "pa55-word-xyz"} {
		if strings.Contains(shown, secret) {
			t.Errorf("config check shows %q:\n%s", secret, shown)
		}
		found := false
		for _, s := range f.Secrets() {
			found = found || s == secret
		}
		if !found {
			t.Errorf("File.Secrets lacks %q", secret)
		}
	}
	for _, want := range []string{
		"notify       dingtalk ops: https://oapi.dingtalk.com/robot/send?access_token=[REDACTED], secret [REDACTED], on job_failed, script_error, at most 20 a minute",
		"email email 2: smtp.example.com:465 (tls) as alerts@example.com with a password [REDACTED], from topscript <alerts@example.com>, to ops@example.com, on every event, at most 6 a minute",
	} {
		if !strings.Contains(shown, want) {
			t.Errorf("config check: no %q in\n%s", want, shown)
		}
	}
}

// Mistakes in a [[notify]] table name file, line and key, and quote no
// secret.
func TestNotifyErrors(t *testing.T) {
	src := `[[notify]]
type = "dingtalk"
secret = "SECsecret0987654321"

[[notify]]
type = "email"
host = "smtp.example.com"
from = "alerts@example.com"
to = ["ops@example.com",
      "not an address"]
on = ["job_failed", "jobfailed"]

[[notify]]
type = "wecom"
url = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=${WECOM_KEY}"
per_minit = 10

[[notify]]
type = "slack"
url = "https://hooks.example.com/x"
`
	_, err := Parse("c.toml", src, Options{Env: envMap(nil)})
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	for _, want := range []string{
		`c.toml:1: notify[1]: url: missing: the robot's or hook's webhook URL`,
		`c.toml:9: notify[2].to[2]: "not an address" is not an address`,
		`c.toml:11: notify[2].on[2]: unknown event "jobfailed" (want job_failed, script_error, ban, session_expiring)`,
		`c.toml:15: notify[3].url: environment variable WECOM_KEY is not set (referenced as ${WECOM_KEY})`,
		`c.toml:16: notify[3].per_minit: unknown key (did you mean "per_minute"?)`,
		`c.toml:19: notify[4].type: unknown type "slack" (want dingtalk, wecom, webhook or email)`,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("no %q in\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "SECsecret0987654321") {
		t.Errorf("an error quotes the secret:\n%s", msg)
	}
}
