package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/topscript/topscript/schedule"
	"github.com/topscript/topscript/state"
	"github.com/topscript/topscript/top"
	"github.com/topscript/topscript/toptime"
)

// envMap is an Env function over a map.
func envMap(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

const full = `profile = "default"

[profiles.default]
app_key    = "12345678"
app_secret = "${TOP_APP_SECRET}"
session    = "${TOP_SESSION}"
gateway    = "https://eco.taobao.com/router/rest"
sign_method = "hmac"
simplify   = false
timeout    = "10s"

[profiles.staging]
app_key = "87654321"
app_secret = "${STAGING_SECRET}"   # not expanded unless selected

[throttle]
qps = 40
[throttle.methods]
"taobao.trades.sold.*" = 10
"taobao.item.*" = 2.5

[retry]
max_attempts = 5
backoff = "2s"
max_ban_wait = "3m"

[[closures]]
methods = ["taobao.fenxiao.product*"]
start = "2023-09-06 20:00:00"
end   = "2023-09-06 21:00:00"
action = "wait"

[[closures]]
methods = [
  "taobao.ump.*",
  "tmall.promotion.*",
]
start = "2023-09-06 18:00:00"
end   = "2023-09-06 20:30:00"
action = "fail"

[state]
backend = "redis"
redis_url = "redis://:hunter2@127.0.0.1:6379/0"

[[schedule]]
name = "order_sync"
cron = "*/10 * * * *"
script = "scripts/examples/order_sync.lua"
args = ["--since", "${SINCE}"]
`

func TestParseFull(t *testing.T) {
	env := envMap(map[string]string{"TOP_APP_SECRET": "s3cret", "TOP_SESSION": "sess-1", "SINCE": "1h"})
	f, err := Parse("topscript.toml", full, Options{Env: env})
	if err != nil {
		t.Fatal(err)
	}
	want := top.DefaultConfig()
	want.AppKey, want.AppSecret, want.Session = "12345678", "s3cret", "sess-1"
	want.SignMethod = top.SignHMAC
	want.Simplify = false
	want.Timeout = 10 * time.Second
	want.Throttle = top.ThrottleConfig{QPS: 40, Methods: map[string]float64{"taobao.trades.sold.*": 10, "taobao.item.*": 2.5}}
	want.Retry.MaxAttempts, want.Retry.Backoff, want.Retry.MaxBanWait = 5, 2*time.Second, 3*time.Minute
	want.Closures = []top.Closure{
		{Methods: []string{"taobao.fenxiao.product*"}, Start: time.Date(2023, 9, 6, 20, 0, 0, 0, toptime.Zone), End: time.Date(2023, 9, 6, 21, 0, 0, 0, toptime.Zone), Action: top.ClosureWait},
		{Methods: []string{"taobao.ump.*", "tmall.promotion.*"}, Start: time.Date(2023, 9, 6, 18, 0, 0, 0, toptime.Zone), End: time.Date(2023, 9, 6, 20, 30, 0, 0, toptime.Zone), Action: top.ClosureFail},
	}
	if !reflect.DeepEqual(f.Client, want) {
		t.Errorf("Client =\n%+v\nwant\n%+v", f.Client, want)
	}
	if f.Profile != "default" || !reflect.DeepEqual(f.Profiles, []string{"default", "staging"}) {
		t.Errorf("Profile %q, Profiles %q", f.Profile, f.Profiles)
	}
	if want := (state.Config{Backend: state.KindRedis, Path: state.DefaultPath, RedisURL: "redis://:hunter2@127.0.0.1:6379/0"}); f.State != want {
		t.Errorf("State = %+v, want %+v", f.State, want)
	}
	wantS := []Schedule{{Name: "order_sync", Cron: "*/10 * * * *", Script: "scripts/examples/order_sync.lua", Args: []string{"--since", "1h"}, Line: 46, Index: 1, ScriptLine: 49}}
	if !reflect.DeepEqual(f.Schedules, wantS) {
		t.Errorf("Schedules = %+v, want %+v", f.Schedules, wantS)
	}
}

func TestSelectProfile(t *testing.T) {
	env := envMap(map[string]string{"STAGING_SECRET": "st", "SINCE": "1h"})
	// TOP_APP_SECRET is unset, but profile default is not selected.
	f, err := Parse("topscript.toml", full, Options{Env: env, Profile: "staging"})
	if err != nil {
		t.Fatal(err)
	}
	if f.Profile != "staging" || f.Client.AppKey != "87654321" || f.Client.AppSecret != "st" || f.Client.Session != "" {
		t.Errorf("got profile %q key %q secret %q session %q", f.Profile, f.Client.AppKey, f.Client.AppSecret, f.Client.Session)
	}
	// Unset fields of the profile keep the defaults, not the other profile's values.
	if f.Client.SignMethod != top.SignHMACSHA256 || f.Client.Timeout != 30*time.Second || !f.Client.Simplify {
		t.Errorf("defaults not kept: %+v", f.Client)
	}
}

func TestEnvOverrides(t *testing.T) {
	env := envMap(map[string]string{
		"TOPSCRIPT_APP_KEY": "k-env", "TOPSCRIPT_APP_SECRET": "s-env", "TOPSCRIPT_SESSION": "x-env",
		"TOP_APP_SECRET": "s3cret", "TOP_SESSION": "sess-1", "SINCE": "1h",
	})
	f, err := Parse("topscript.toml", full, Options{Env: env})
	if err != nil {
		t.Fatal(err)
	}
	if f.Client.AppKey != "k-env" || f.Client.AppSecret != "s-env" || f.Client.Session != "x-env" {
		t.Errorf("overrides not applied: %q %q %q", f.Client.AppKey, f.Client.AppSecret, f.Client.Session)
	}
	if !reflect.DeepEqual(f.Overridden, []string{EnvAppKey, EnvAppSecret, EnvSession}) {
		t.Errorf("Overridden = %q", f.Overridden)
	}

	// An override also stands in for an unset variable the profile names.
	env = envMap(map[string]string{"TOPSCRIPT_APP_SECRET": "s-env", "TOPSCRIPT_SESSION": "x-env", "SINCE": "1h"})
	f, err = Parse("topscript.toml", full, Options{Env: env})
	if err != nil {
		t.Fatalf("override should stand in for ${TOP_APP_SECRET}: %v", err)
	}
	if f.Client.AppSecret != "s-env" {
		t.Errorf("AppSecret = %q", f.Client.AppSecret)
	}
}

func TestNoCredentials(t *testing.T) {
	env := envMap(map[string]string{"TOPSCRIPT_APP_KEY": "k-env", "SINCE": "1h"})
	f, err := Parse("topscript.toml", full, Options{Env: env, NoCredentials: true})
	if err != nil {
		t.Fatal(err)
	}
	if f.Client.AppKey != "" || f.Client.AppSecret != "" || f.Client.Session != "" {
		t.Errorf("credentials kept: %q %q %q", f.Client.AppKey, f.Client.AppSecret, f.Client.Session)
	}
	if f.Client.Throttle.QPS != 40 {
		t.Errorf("the rest of the file should still apply")
	}
}

// NoSecrets reads app_key (and its override) but leaves the app secret and
// the session unexpanded, unset ${VAR}s and TOPSCRIPT_* overrides alike.
func TestNoSecrets(t *testing.T) {
	src := "[profiles.default]\napp_key = \"${KEY}\"\napp_secret = \"${UNSET_SECRET}\"\nsession = \"${UNSET_SESSION}\"\n"
	f, err := Parse("c.toml", src, Options{Env: envMap(map[string]string{"KEY": "k", "TOPSCRIPT_SESSION": "x-env"}), NoSecrets: true})
	if err != nil {
		t.Fatal(err)
	}
	if f.Client.AppKey != "k" || f.Client.AppSecret != "" || f.Client.Session != "" {
		t.Errorf("got %q %q %q", f.Client.AppKey, f.Client.AppSecret, f.Client.Session)
	}
	f, err = Parse("c.toml", src, Options{Env: envMap(map[string]string{"TOPSCRIPT_APP_KEY": "k-env"}), NoSecrets: true})
	if err != nil || f.Client.AppKey != "k-env" {
		t.Errorf("the app key's override: %v %q", err, f.Client.AppKey)
	}
	if _, err := Parse("c.toml", src, Options{Env: envMap(map[string]string{"KEY": "k"})}); err == nil || !strings.Contains(err.Error(), "UNSET_SECRET") {
		t.Errorf("without NoSecrets an unset secret is an error: %v", err)
	}
}

func TestEnvExpansion(t *testing.T) {
	src := `[profiles.default]
app_key = "${KEY}"
gateway = "http://${HOST}:${PORT}/router/rest"
session = "literal $HOME and ${not a var}"
`
	f, err := Parse("c.toml", src, Options{Env: envMap(map[string]string{"KEY": "k", "HOST": "127.0.0.1", "PORT": "8790", "HOME": "/h"})})
	if err != nil {
		t.Fatal(err)
	}
	if f.Client.AppKey != "k" || f.Client.Gateway != "http://127.0.0.1:8790/router/rest" || f.Client.Session != "literal $HOME and ${not a var}" {
		t.Errorf("got %q %q %q", f.Client.AppKey, f.Client.Gateway, f.Client.Session)
	}
}

// tmc_url is the selected profile's (expanded), the platform's by default;
// another profile's does not leak into the selected one.
func TestTMCURL(t *testing.T) {
	f, err := Parse("c.toml", "[profiles.default]\n", Options{Env: envMap(nil)})
	if err != nil {
		t.Fatal(err)
	}
	if f.TMCURL != "ws://mc.api.taobao.com/" {
		t.Errorf("default tmc_url %q", f.TMCURL)
	}
	src := `profile = "dev"
[profiles.dev]
tmc_url = "ws://${HOST}/tmc"
[profiles.prod]
tmc_url = "wss://mc.example.com/"
`
	f, err = Parse("c.toml", src, Options{Env: envMap(map[string]string{"HOST": "127.0.0.1:8790"})})
	if err != nil {
		t.Fatal(err)
	}
	if f.TMCURL != "ws://127.0.0.1:8790/tmc" || !strings.Contains(f.Redacted(), "ws://127.0.0.1:8790/tmc") {
		t.Errorf("tmc_url %q; config check:\n%s", f.TMCURL, f.Redacted())
	}
}

// TestErrors checks the exact "file:line: key: reason" shape of each error.
func TestErrors(t *testing.T) {
	tests := []struct {
		name, src, profile, want string
	}{
		{"syntax", "profile = \"default\"\n[profiles.default\napp_key = 1\n", "",
			`c.toml:3: syntax error: expected '.' or ']' to end table name, but got '\n' instead`},
		{"syntax error hides a secret", "[profiles.default]\napp_secret = abc123secret\n", "",
			`c.toml:2: profiles.default.app_secret: syntax error: expected value but found [REDACTED] instead`},
		{"unknown top key", "\n\n[throtle]\nqps = 1\n", "",
			`c.toml:3: throtle: unknown key (did you mean "throttle"?)`},
		{"unknown profile key", "[profiles.default]\napp_key = \"k\"\napp_secert = \"s\"\n", "",
			`c.toml:3: profiles.default.app_secert: unknown key (did you mean "app_secret"?)`},
		{"unknown key far off", "[retry]\nfoo = 1\n", "",
			`c.toml:2: retry.foo: unknown key (known: max_attempts, backoff, max_ban_wait)`},
		{"wrong type", "[profiles.default]\n\nsimplify = \"yes\"\n", "",
			`c.toml:3: profiles.default.simplify: want true or false, got a string`},
		{"string for qps", "[throttle]\nqps = \"40\"\n", "",
			`c.toml:2: throttle.qps: want a number of calls per second, got a string`},
		{"bad duration", "[profiles.default]\ntimeout = \"30x\"\n", "",
			`c.toml:2: profiles.default.timeout: bad duration "30x": want a number and a unit (ms, s, m, h) such as "30s" or "2m"`},
		{"duration as number", "[retry]\nbackoff = 1\n", "",
			`c.toml:2: retry.backoff: want a duration such as "30s" or "2m", got integer 1`},
		{"bad sign method", "[profiles.default]\nsign_method = \"sha1\"\n", "",
			`c.toml:2: profiles.default.sign_method: bad sign_method "sha1": want "md5", "hmac" or "hmac-sha256"`},
		{"bad gateway", "[profiles.default]\ngateway = \"eco.taobao.com\"\n", "",
			`c.toml:2: profiles.default.gateway: bad gateway "eco.taobao.com": want an http(s) URL such as "https://eco.taobao.com/router/rest"`},
		{"bad tmc_url", "[profiles.default]\ntmc_url = \"http://mc.api.taobao.com/\"\n", "",
			`c.toml:2: profiles.default.tmc_url: bad tmc_url "http://mc.api.taobao.com/": want a ws(s) URL such as "ws://mc.api.taobao.com/"`},
		{"negative qps", "[throttle]\nqps = -1\n", "",
			`c.toml:2: throttle.qps: must not be negative (0 = unlimited), got -1`},
		{"negative method qps", "[throttle.methods]\n\"taobao.trades.*\" = -0.5\n", "",
			`c.toml:2: throttle.methods."taobao.trades.*": must not be negative (0 = unlimited), got -0.5`},
		{"bad action", "[[closures]]\nmethods = [\"a.*\"]\nstart = \"2023-09-06 20:00:00\"\nend = \"2023-09-06 21:00:00\"\n\n[[closures]]\nmethods = [\"b.*\"]\nstart = \"2023-09-06 20:00:00\"\nend = \"2023-09-06 21:00:00\"\naction = \"block\"\n", "",
			`c.toml:10: closures[2].action: bad action "block": want "wait" or "fail"`},
		{"bad time", "[[closures]]\nmethods = [\"a.*\"]\nstart = \"2023-09-06 20:00\"\nend = \"2023-09-06 21:00:00\"\n", "",
			`c.toml:3: closures[1].start: bad time "2023-09-06 20:00": want "yyyy-MM-dd HH:mm:ss" (GMT+8)`},
		{"end before start", "[[closures]]\nmethods = [\"a.*\"]\nstart = \"2023-09-06 21:00:00\"\nend = \"2023-09-06 20:00:00\"\n", "",
			`c.toml:4: closures[1].end: end 2023-09-06 20:00:00 is not after start 2023-09-06 21:00:00`},
		{"missing start", "[[closures]]\nmethods = [\"a.*\"]\nend = \"2023-09-06 20:00:00\"\n", "",
			`c.toml:1: closures[1]: missing start ("yyyy-MM-dd HH:mm:ss", GMT+8)`},
		{"bad glob", "[[closures]]\nmethods = [\n  \"a.*\",\n  \"b[\",\n]\nstart = \"2023-09-06 20:00:00\"\nend = \"2023-09-06 21:00:00\"\n", "",
			`c.toml:2: closures[1].methods[2]: bad method pattern "b[": syntax error in pattern`},
		{"unknown profile from file", "profile = \"prod\"\n[profiles.default]\n[profiles.staging]\n", "",
			`c.toml:1: profile: unknown profile "prod" (available: default, staging)`},
		{"unknown profile from flag", "[profiles.default]\n[profiles.staging]\n", "prod",
			`c.toml: --profile: unknown profile "prod" (available: default, staging)`},
		{"no profile selected", "\n[profiles.a]\n[profiles.b]\n", "",
			`c.toml:2: profile: no profile selected: set profile = "NAME" or pass --profile (available: a, b)`},
		{"unset variable", "[profiles.default]\napp_key = \"k\"\napp_secret = \"${TOP_APP_SECRET}\"\n", "",
			`c.toml:3: profiles.default.app_secret: environment variable TOP_APP_SECRET is not set (referenced as ${TOP_APP_SECRET})`},
		{"unclosed variable", "[profiles.default]\napp_key = \"k\"\napp_secret = \"${TOP_APP_SECRET\"\n", "",
			`c.toml:3: profiles.default.app_secret: "${" without its closing "}" (write ${NAME})`},
		{"unclosed variable in another profile", "profile = \"a\"\n[profiles.a]\n[profiles.b]\nsession = \"x${S\"\n", "",
			`c.toml:4: profiles.b.session: "${" without its closing "}" (write ${NAME})`},
		{"bad memory limit", "memory_limit = \"lots\"\n", "",
			`c.toml:1: memory_limit: bad size "lots": want a size such as "512MiB" or "2GiB", or "off"`},
		{"zero memory limit", "\nmemory_limit = 0\n", "",
			`c.toml:2: memory_limit: must be positive, got 0 (or "off" for no limit)`},
		{"memory limit of a wrong type", "memory_limit = true\n", "",
			`c.toml:1: memory_limit: want a size such as "512MiB", got boolean true`},
		{"bad backend", "[state]\nbackend = \"etcd\"\n", "",
			`c.toml:2: state.backend: bad backend "etcd": want "file" or "redis"`},
		{"redis without url", "[state]\nbackend = \"redis\"\n", "",
			`c.toml:2: state.backend: backend "redis" needs redis_url`},
		{"bad redis url keeps password hidden", "[state]\nredis_url = \"http://:pw@host/0\"\n", "",
			`c.toml:2: state.redis_url: bad redis_url http://:[REDACTED]@host/0: want redis://[:password@]host:port/db`},
		{"lock lease too short", "[state]\nlock_lease = \"500ms\"\n", "",
			`c.toml:2: state.lock_lease: too short: 500ms (at least 1s)`},
		{"bad lock lease", "[state]\nlock_lease = 30\n", "",
			`c.toml:2: state.lock_lease: want a duration such as "30s" or "2m", got integer 30`},
		{"bad cron", "[[schedule]]\nname = \"a\"\ncron = \"* * *\"\nscript = \"a.lua\"\n", "",
			`c.toml:3: schedule[1].cron: bad cron "* * *": expected 5 to 6 fields, found 3: [* * *] (want 5 fields, 6 with seconds, or "@every 30s")`},
		{"duplicate schedule", "[[schedule]]\nname = \"a\"\ncron = \"@every 30s\"\nscript = \"a.lua\"\n[[schedule]]\nname = \"a\"\ncron = \"@hourly\"\nscript = \"b.lua\"\n", "",
			`c.toml:6: schedule[2].name: duplicate schedule name "a"`},
		{"max attempts", "[retry]\nmax_attempts = 0\n", "",
			`c.toml:2: retry.max_attempts: must be at least 1 (1 = no retries), got 0`},
		{"table expected", "throttle = 5\n", "",
			`c.toml:1: throttle: want a table, got integer 5`},
		{"inline table key", "[throttle]\nmethods = { \"a.*\" = \"x\" }\n", "",
			`c.toml:2: throttle.methods."a.*": want a number of calls per second, got a string`},
		{"catalog unknown key", "[catalog]\nskip_validaton = [\"a.*\"]\n", "",
			`c.toml:2: catalog.skip_validaton: unknown key (did you mean "skip_validation"?)`},
		{"catalog bad glob", "[catalog]\nskip_validation = [\n  \"taobao.fenxiao.*\",\n  \"b[\",\n]\n", "",
			`c.toml:2: catalog.skip_validation[2]: bad method pattern "b[": syntax error in pattern`},
		{"catalog not a list", "[catalog]\nskip_validation = \"taobao.*\"\n", "",
			`c.toml:2: catalog.skip_validation: want an array of strings, got a string`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("c.toml", tt.src, Options{Env: envMap(nil), Profile: tt.profile})
			if err == nil {
				t.Fatalf("no error, want %s", tt.want)
			}
			if err.Error() != tt.want {
				t.Errorf("got  %s\nwant %s", err, tt.want)
			}
			var ce *Error
			if !errors.As(err, &ce) {
				t.Errorf("%T is not a *config.Error", err)
			}
		})
	}
}

func TestMemoryLimit(t *testing.T) {
	for src, want := range map[string]int64{
		"":                           0,
		`memory_limit = "512MiB"`:    512 << 20,
		`memory_limit = "1.5 GiB"`:   3 << 29,
		`memory_limit = "off"`:       -1,
		`memory_limit = 1073741824`:  1 << 30,
		`memory_limit = "2G"` + "\n": 2 << 30,
	} {
		f, err := Parse("c.toml", src, Options{Env: envMap(nil)})
		if err != nil {
			t.Errorf("%q: %v", src, err)
			continue
		}
		if f.MemoryLimit != want {
			t.Errorf("%q: MemoryLimit %d, want %d", src, f.MemoryLimit, want)
		}
	}
	f, err := Parse("c.toml", `memory_limit = "512MiB"`, Options{Env: envMap(nil)})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(f.Redacted(), "memory_limit  512 MiB") {
		t.Errorf("config check does not show the limit:\n%s", f.Redacted())
	}
}

func TestSecrets(t *testing.T) {
	f, err := Parse("c.toml", full, Options{Env: envMap(map[string]string{"TOP_APP_SECRET": "s3cr3t", "TOP_SESSION": "sess1", "SINCE": "x"})})
	if err != nil {
		t.Fatal(err)
	}
	if got := f.Secrets(); !reflect.DeepEqual(got, []string{"s3cr3t", "sess1", "hunter2"}) {
		t.Errorf("Secrets() = %q", got)
	}
}

func TestLockLease(t *testing.T) {
	f, err := Parse("c.toml", "[state]\nbackend = \"redis\"\nredis_url = \"redis://127.0.0.1:6379/0\"\nlock_lease = \"2s\"\n", Options{Env: envMap(nil)})
	if err != nil {
		t.Fatal(err)
	}
	if f.State.LockLease != 2*time.Second {
		t.Errorf("lock_lease = %v, want 2s", f.State.LockLease)
	}
	if !strings.Contains(f.String(), "lock_lease 2s") {
		t.Errorf("effective settings do not show the lease:\n%s", f)
	}
}

func TestSeveralErrors(t *testing.T) {
	src := "[profiles.default]\ntimeout = \"30x\"\nsign_method = \"sha1\"\n[throttle]\nqps = -1\n"
	_, err := Parse("c.toml", src, Options{Env: envMap(nil)})
	var es Errors
	if !errors.As(err, &es) || len(es) != 3 {
		t.Fatalf("want 3 errors, got %v", err)
	}
	lines := strings.Split(err.Error(), "\n")
	for i, prefix := range []string{"c.toml:2: ", "c.toml:3: ", "c.toml:5: "} {
		if !strings.HasPrefix(lines[i], prefix) {
			t.Errorf("line %d = %q, want prefix %q", i, lines[i], prefix)
		}
	}
}

func TestTOMLDatetime(t *testing.T) {
	src := "[[closures]]\nmethods = [\"a.*\"]\nstart = 2023-09-06 20:00:00\nend = 2023-09-06T13:00:00Z\n"
	f, err := Parse("c.toml", src, Options{Env: envMap(nil)})
	if err != nil {
		t.Fatal(err)
	}
	c := f.Client.Closures[0]
	if !c.Start.Equal(time.Date(2023, 9, 6, 20, 0, 0, 0, toptime.Zone)) || !c.End.Equal(time.Date(2023, 9, 6, 21, 0, 0, 0, toptime.Zone)) {
		t.Errorf("got %v – %v", c.Start, c.End)
	}
	if c.Action != top.ClosureWait {
		t.Errorf("default action = %q, want wait", c.Action)
	}
}

func TestRedacted(t *testing.T) {
	env := envMap(map[string]string{"TOP_APP_SECRET": "s3cret-value", "TOPSCRIPT_SESSION": "sess-value", "SINCE": "1h"})
	f, err := Parse("topscript.toml", full, Options{Env: env})
	if err != nil {
		t.Fatal(err)
	}
	out := f.Redacted()
	for _, leak := range []string{"s3cret-value", "sess-value", "hunter2"} {
		if strings.Contains(out, leak) {
			t.Errorf("output shows %q:\n%s", leak, out)
		}
	}
	for _, want := range []string{
		"app_key      12345678 (from profile default)",
		"app_secret   [REDACTED] (set, from profile default)",
		"session      [REDACTED] (set, from $TOPSCRIPT_SESSION)",
		"redis redis://:[REDACTED]@127.0.0.1:6379/0",
		"2023-09-06 18:00:00 – 2023-09-06 20:30:00 GMT+8, fail: taobao.ump.* tmall.promotion.*",
		"10 qps for taobao.trades.sold.*",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if s := f.String(); s != out {
		t.Errorf("String differs from Redacted")
	}

	d, err := LoadOptions(Options{Dir: t.TempDir(), Env: envMap(nil)})
	if err != nil {
		t.Fatal(err)
	}
	if out := d.Redacted(); !strings.Contains(out, "app_secret   (unset)") || !strings.Contains(out, "(no file; defaults)") {
		t.Errorf("defaults:\n%s", out)
	}
}

func TestLookupOrder(t *testing.T) {
	root := t.TempDir()
	work := filepath.Join(root, "work")
	xdg := filepath.Join(root, "xdg")
	home := filepath.Join(root, "home")
	for _, d := range []string{work, filepath.Join(xdg, "topscript"), filepath.Join(home, ".config", "topscript")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write := func(path, key string) {
		t.Helper()
		if err := os.WriteFile(path, []byte("[profiles.default]\napp_key = \""+key+"\"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	explicit := filepath.Join(root, "explicit.toml")
	write(explicit, "explicit")
	write(filepath.Join(home, ".config", "topscript", FileName), "home")
	env := map[string]string{"HOME": home}
	load := func(path string) string {
		t.Helper()
		f, err := LoadOptions(Options{Path: path, Dir: work, Env: envMap(env)})
		if err != nil {
			t.Fatal(err)
		}
		return f.Client.AppKey
	}

	if got := load(""); got != "home" {
		t.Errorf("with only ~/.config: %q", got)
	}
	write(filepath.Join(xdg, "topscript", FileName), "xdg")
	env["XDG_CONFIG_HOME"] = xdg
	if got := load(""); got != "xdg" {
		t.Errorf("with XDG_CONFIG_HOME: %q", got)
	}
	write(filepath.Join(work, FileName), "cwd")
	if got := load(""); got != "cwd" {
		t.Errorf("with ./topscript.toml: %q", got)
	}
	if got := load(explicit); got != "explicit" {
		t.Errorf("with --config: %q", got)
	}

	if _, err := LoadOptions(Options{Path: filepath.Join(root, "missing.toml"), Env: envMap(env)}); err == nil || !strings.HasSuffix(err.Error(), "missing.toml: no such file") {
		t.Errorf("missing --config: %v", err)
	}
	empty := t.TempDir()
	if _, err := LoadOptions(Options{Dir: empty, Profile: "prod", Env: envMap(nil)}); err == nil || !strings.Contains(err.Error(), "--profile prod: no configuration file") {
		t.Errorf("--profile without file: %v", err)
	}
}

func TestLoadErrorNamesFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "topscript.toml")
	if err := os.WriteFile(path, []byte("[profiles.default]\ntimeout = \"30x\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path, "", envMap(nil))
	if err == nil || !strings.HasPrefix(err.Error(), path+":2: profiles.default.timeout: ") {
		t.Errorf("got %v", err)
	}
}

func TestCatalogSkipValidation(t *testing.T) {
	f, err := Parse("c.toml", "[catalog]\nskip_validation = [\"taobao.fenxiao.*\", \"tmall.item.price.update\"]\n", Options{Env: envMap(nil)})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(f.Client.SkipValidation, " "); got != "taobao.fenxiao.* tmall.item.price.update" {
		t.Errorf("SkipValidation = %q", got)
	}
	if !strings.Contains(f.Redacted(), "no validation for taobao.fenxiao.* tmall.item.price.update") {
		t.Errorf("config check does not show it:\n%s", f.Redacted())
	}
}

// TestExampleFile loads the annotated topscript.toml at the repository root.
func TestExampleFile(t *testing.T) {
	env := envMap(map[string]string{"TOP_APP_SECRET": "x", "TOP_SESSION": "y"})
	f, err := Load(filepath.Join("..", FileName), "", env)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Client.Closures) < 3 {
		t.Errorf("want the promotion-day closures, got %d", len(f.Client.Closures))
	}
	// The notice's windows, GMT+8, and what they hold.
	cases := []struct {
		method     string
		start, end string
	}{
		{"taobao.fenxiao.product.sku.update", "2023-09-06 20:00:00", "2023-09-06 21:00:00"},
		{"taobao.fenxiao.productcats.get", "2023-09-06 20:00:00", "2023-09-06 21:00:00"},
		{"taobao.delivery.template.add", "2023-09-06 19:00:00", "2023-09-06 21:00:00"},
		{"taobao.ump.tool.add", "2023-09-06 18:00:00", "2023-09-06 20:30:00"},
		{"taobao.promotionmisc.mjs.activity.get", "2023-09-06 18:00:00", "2023-09-06 20:30:00"},
		{"tmall.promotion.tip.item.adds", "2023-09-06 18:00:00", "2023-09-06 20:30:00"},
	}
	for _, c := range cases {
		found := false
		for _, cl := range f.Client.Closures {
			for _, g := range cl.Methods {
				if ok, _ := filepath.Match(g, c.method); ok {
					found = true
					if s, e := cl.Start.Format(toptime.Layout), cl.End.Format(toptime.Layout); s != c.start || e != c.end {
						t.Errorf("%s: window %s – %s, want %s – %s", c.method, s, e, c.start, c.end)
					}
				}
			}
		}
		if !found {
			t.Errorf("%s: in no closure window", c.method)
		}
	}
	for _, cl := range f.Client.Closures {
		for _, g := range cl.Methods {
			if ok, _ := filepath.Match(g, "taobao.trades.sold.get"); ok {
				t.Errorf("trade APIs stay open on promotion day, but %q matches taobao.trades.sold.get", g)
			}
		}
	}
}

// config accepts a cron spec exactly when the scheduler that will run it
// does: one parser (schedule.Parse).
func TestCronIsTheSchedulersParser(t *testing.T) {
	for _, spec := range []string{
		"*/10 * * * *", "30 */10 * * * *", "@every 30s", "@hourly", "CRON_TZ=Asia/Shanghai 0 9 * * *",
		"* * *", "@every", "61 * * * *", "CRON_TZ=Nowhere/Atlantis 0 9 * * *", "@fortnightly", "0 0 30 2 *",
	} {
		src := "[[schedule]]\nname = \"a\"\ncron = \"" + spec + "\"\nscript = \"a.lua\"\n"
		_, cerr := Parse("c.toml", src, Options{Env: envMap(nil)})
		_, serr := schedule.Parse(spec)
		if (cerr == nil) != (serr == nil) {
			t.Errorf("cron %q: config says %v, the scheduler says %v", spec, cerr, serr)
		}
	}
}

// CheckScripts names the file, the script key's line and key of every
// [[schedule]] entry whose script is not a file.
func TestCheckScripts(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	if err := os.WriteFile("ok.lua", nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir("dir.lua", 0o755); err != nil {
		t.Fatal(err)
	}
	src := "[[schedule]]\nname = \"a\"\ncron = \"@hourly\"\nscript = \"ok.lua\"\n\n" +
		"[[schedule]]\nname = \"b\"\ncron = \"@hourly\"\n\nscript = \"nope.lua\"\n" +
		"[[schedule]]\nname = \"c\"\nscript = \"dir.lua\"\ncron = \"@hourly\"\n"
	f, err := Parse("s.toml", src, Options{Env: envMap(nil)})
	if err != nil {
		t.Fatal(err)
	}
	err = f.CheckScripts()
	wd, _ := os.Getwd()
	want := "s.toml:10: schedule[2].script: nope.lua: no such file (schedule \"b\", relative to the working directory " + wd + ")\n" +
		"s.toml:13: schedule[3].script: dir.lua: a directory, not a file (schedule \"c\", relative to the working directory " + wd + ")"
	if err == nil || err.Error() != want {
		t.Errorf("CheckScripts:\n%v\nwant:\n%s", err, want)
	}
	var es Errors
	if !errors.As(err, &es) || len(es) != 2 {
		t.Errorf("want config.Errors of 2, got %#v", err)
	}
	f.Schedules = f.Schedules[:1]
	if err := f.CheckScripts(); err != nil {
		t.Errorf("with the script present: %v", err)
	}
}
