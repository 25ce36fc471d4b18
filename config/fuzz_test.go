package config

import (
	"strings"
	"testing"
)

// FuzzParse loads arbitrary TOML, with and without a profile holding
// known secrets appended. Invariants: nothing panics; every error names
// the file; neither the error nor the redacted rendering of a loaded file
// ever shows the app secret or the session.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"profile = \"default\"\n[profiles.default]\napp_key = \"1\"\napp_secret = \"${TOP_APP_SECRET}\"\n",
		"[throttle]\nqps = 40\n[throttle.methods]\n\"taobao.trades.sold.*\" = 10\n",
		"[retry]\nmax_attempts = 4\nbackoff = \"1s\"\nmax_ban_wait = \"2m\"\n",
		"[[closures]]\nmethods = [\"taobao.fenxiao.product*\"]\nstart = \"2023-09-06 20:00:00\"\nend = \"2023-09-06 21:00:00\"\naction = \"wait\"\n",
		"[state]\nbackend = \"redis\"\nredis_url = \"redis://:pw@127.0.0.1:6379/0\"\n",
		"[[schedule]]\nname = \"s\"\ncron = \"@every 30s\"\nscript = \"x.lua\"\nargs = []\n",
		"[profiles.default]\napp_secret = \"unterminated\n", "a = = 1", "[[profiles]]\n", "profile = 3\n",
		"[profiles.default]\nsession = 'x' 'y'\n", "\xff\xfe", "[profiles.\"fz\"]\napp_secret = 1\n",
	} {
		f.Add(s)
	}
	const secret, session = "FZ-SECRET-77", "FZ-SESS-88"
	f.Fuzz(func(t *testing.T, src string) {
		if strings.Contains(src, secret) || strings.Contains(src, session) {
			return
		}
		env := func(k string) string {
			switch k {
			case "TOP_APP_SECRET":
				return secret
			case "TOP_SESSION":
				return session
			}
			return ""
		}
		for _, in := range []string{
			src,
			src + "\n[profiles.fz]\napp_key = \"1\"\napp_secret = \"" + secret + "\"\nsession = \"" + session + "\"\n",
			"[profiles.fz]\napp_secret = \"" + secret + "\"\nsession = \"${TOP_SESSION}\"\n" + src,
			"[profiles.fz]\napp_secret = \"" + secret + src + "\"\n",
		} {
			file, err := Parse("fuzz.toml", in, Options{Profile: "fz", Env: env})
			if err != nil {
				msg := err.Error()
				if !strings.HasPrefix(msg, "fuzz.toml") {
					t.Fatalf("error does not name the file: %q", msg)
				}
				if strings.Contains(msg, secret) || strings.Contains(msg, session) {
					t.Fatalf("error shows a secret: %q\ninput:\n%s", msg, in)
				}
				continue
			}
			if out := file.Redacted(); strings.Contains(out, secret) || strings.Contains(out, session) {
				t.Fatalf("redacted file shows a secret:\n%s", out)
			}
		}
	})
}
