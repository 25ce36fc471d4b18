package redact

import (
	"strings"
	"testing"
)

// URL hides the password (or a user-only userinfo) and secret query
// parameters; Password finds what URL hides.
func TestURLAndPassword(t *testing.T) {
	for _, c := range []struct{ in, url, password string }{
		{"redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0", ""},
		{"redis://u:p@h:1/0", "redis://u:[REDACTED]@h:1/0", "p"},
		{"rediss://:p@ss@h:1", "rediss://:[REDACTED]@h:1", "p@ss"},
		{"redis://secret@h", "redis://[REDACTED]@h", "secret"},
		{"unix:///run/redis.sock", "unix:///run/redis.sock", ""},
		{"unix://u:pw@/run/redis.sock?db=1", "unix://u:[REDACTED]@/run/redis.sock?db=1", "pw"},
		{"pw@host", "[REDACTED]@host", "pw"},
		{"", "", ""},
		{"https://gw/router/rest?session=abc&x=1&sign=F00", "https://gw/router/rest?session=[REDACTED]&x=1&sign=[REDACTED]", ""},
	} {
		if got := URL(c.in); got != c.url {
			t.Errorf("URL(%q) = %q, want %q", c.in, got, c.url)
		}
		if got := Password(c.in); got != c.password {
			t.Errorf("Password(%q) = %q, want %q", c.in, got, c.password)
		}
	}
}

func TestRedactor(t *testing.T) {
	r := New("topsecretvalue", "ab").With("sessionvalue")
	in := `Post "http://h/router/rest?app_key=1&Session=abc&sign=DEADBEEF&x=1": topsecretvalue sessionvalue ab {"session":"zzz","access_token":"QQQ"}`
	out := r.Text(in)
	for _, bad := range []string{"topsecretvalue", "sessionvalue", "abc", "DEADBEEF", "zzz", "QQQ"} {
		if strings.Contains(out, bad) {
			t.Errorf("%q survives in %q", bad, out)
		}
	}
	for _, keep := range []string{"app_key=1", "x=1", " ab "} { // words under 3 bytes are kept
		if !strings.Contains(out, keep) {
			t.Errorf("over-redacted (%q gone): %q", keep, out)
		}
	}
	if strings.Count(out, Mark) != 6 {
		t.Errorf("want 6 marks in %q", out)
	}
	if got := Params("refresh_token=r1&v=2.0"); got != "refresh_token="+Mark+"&v=2.0" {
		t.Errorf("Params = %q", got)
	}
}
