package notify_test

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/topscript/topscript/notify"
)

// The [[notify]] example of the package doc decodes into Configs that
// validate, with no key left over.
func TestDocumentedConfig(t *testing.T) {
	src, err := os.ReadFile("notify.go")
	if err != nil {
		t.Fatal(err)
	}
	var example []string
	in := false
	for _, line := range strings.Split(string(src), "\n") {
		switch {
		case line == "// # Configuration":
			in = true
		case in && strings.HasPrefix(line, "//\t"):
			example = append(example, strings.TrimPrefix(line, "//\t"))
		case in && strings.HasPrefix(line, "// Messages carry"):
			in = false
		}
	}
	if len(example) < 20 {
		t.Fatalf("found no example in the package doc (%d lines)", len(example))
	}
	text := os.Expand(strings.Join(example, "\n"), func(v string) string { return "x-" + strings.ToLower(v) })
	var file struct {
		Notify []notify.Config `toml:"notify"`
	}
	md, err := toml.Decode(text, &file)
	if err != nil {
		t.Fatalf("%v\n%s", err, text)
	}
	if u := md.Undecoded(); len(u) > 0 {
		t.Errorf("keys the Config has no field for: %v", u)
	}
	if len(file.Notify) != 4 {
		t.Fatalf("%d [[notify]] tables", len(file.Notify))
	}
	for i, c := range file.Notify {
		if err := c.Validate(); err != nil {
			t.Errorf("[[notify]] %d: %v", i+1, err)
		}
	}
	if d := file.Notify[0]; d.Timeout != 10*time.Second || d.PerMinute != 20 || len(d.On) != 4 || d.Secret != "x-dingtalk_secret" {
		t.Errorf("first table %+v", d)
	}
	// Every key in Keys is a field the decoder knows.
	for _, k := range notify.Keys {
		if !strings.Contains(text, "\n"+k+" ") && !strings.Contains(text, "\n"+k+"=") && !strings.HasPrefix(text, k) {
			t.Errorf("key %q is not in the documented example", k)
		}
	}
}

func TestValidate(t *testing.T) {
	ding := "https://oapi.dingtalk.com/robot/send?access_token=t0ken-secret-123"
	for _, tc := range []struct {
		c    notify.Config
		want []string
	}{
		{notify.Config{}, []string{"type: missing"}},
		{notify.Config{Type: "slack"}, []string{`type: unknown type "slack"`}},
		{notify.Config{Type: "dingtalk"}, []string{"url: missing"}},
		{notify.Config{Type: "dingtalk", URL: "ftp://x/y"}, []string{"url: not an http(s) URL"}},
		{notify.Config{Type: "dingtalk", URL: "https://oapi.dingtalk.com/robot/send?token=t0ken-secret-123"}, []string{"url: has no access_token"}},
		{notify.Config{Type: "wecom", URL: ding}, []string{"url: has no key"}},
		{notify.Config{Type: "dingtalk", URL: ding, On: []string{"job_failed", "job_fail"}, Format: "html", PerMinute: -1, Timeout: -time.Second},
			[]string{`on[2]: unknown event "job_fail"`, `format: unknown format "html"`, "per_minute: must be positive", "timeout: must be positive"}},
		{notify.Config{Type: "dingtalk", URL: ding, Host: "smtp.example.com", To: []string{"a@b.c"}}, []string{`host: does not apply to type "dingtalk"`, `to: does not apply`}},
		{notify.Config{Type: "webhook", URL: "https://hooks.example.com/x", AtAll: true}, []string{`at_all: does not apply to type "webhook"`}},
		{notify.Config{Type: "email"}, []string{"host: missing", "from: missing", "to: missing"}},
		{notify.Config{Type: "email", Host: "smtp.example.com", Port: 70000, TLS: "ssl", Password: "pw-secret-456", From: "nobody", To: []string{"ok@example.com", "bad address"}},
			[]string{"port: 70000 is not a port", `tls: unknown mode "ssl"`, "username: missing: a password is set", `from: "nobody" is not an address`, `to[2]: "bad address" is not an address`}},
		{notify.Config{Type: "email", Host: "smtp.example.com", URL: ding, From: "a@example.com", To: []string{"b@example.com"}}, []string{`url: does not apply to type "email"`}},
	} {
		err := tc.c.Validate()
		if err == nil {
			t.Errorf("%+v: valid, want %q", tc.c, tc.want)
			continue
		}
		var fe *notify.FieldError
		if !errors.As(err, &fe) {
			t.Errorf("%v is not a *notify.FieldError", err)
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%+v:\n%v\ndoes not say %q", tc.c, err, w)
			}
		}
		for _, secret := range []string{"t0ken-secret-123", "pw-secret-456"} {
			if strings.Contains(err.Error(), secret) {
				t.Errorf("a secret shows: %v", err)
			}
		}
	}
	for _, c := range []notify.Config{
		{Type: "dingtalk", URL: ding, Secret: "SECabc", On: []string{"ban"}, Format: "text", AtMobiles: []string{"1"}, AtAll: true, PerMinute: 10},
		{Type: "wecom", URL: "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k"},
		{Type: "webhook", URL: "http://127.0.0.1:9000/hook", Headers: map[string]string{"X": "y"}},
		{Type: "email", Host: "localhost", TLS: "none", From: "a@example.com", To: []string{"b@example.com"}},
	} {
		if err := c.Validate(); err != nil {
			t.Errorf("%+v: %v", c, err)
		}
	}
}
