package config

import (
	"fmt"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/topscript/topscript/internal/bytesize"
	"github.com/topscript/topscript/internal/redact"
	"github.com/topscript/topscript/state"
	"github.com/topscript/topscript/toptime"
)

// String is Redacted: printing a File never shows a secret.
func (f *File) String() string { return f.Redacted() }

// Secrets returns the secret values of the effective settings, the ones
// no output may show: the app secret, the session, the Redis password and
// the [[notify]] targets' tokens, secrets and passwords (those that are
// set).
func (f *File) Secrets() []string {
	var out []string
	for _, v := range []string{f.Client.AppSecret, f.Client.Session, redact.Password(f.State.RedisURL)} {
		if v != "" {
			out = append(out, v)
		}
	}
	for i := range f.Notify {
		out = append(out, f.Notify[i].Secrets()...)
	}
	return out
}

// SecretEnv names the environment variables that hold credentials
// whatever their value: the overrides TOPSCRIPT_APP_SECRET and
// TOPSCRIPT_SESSION.
var SecretEnv = []string{EnvAppSecret, EnvSession}

// Redacted describes the effective settings one a line, as `topscript
// config check` prints them. The app secret and the session are shown as
// redact.Mark ("[REDACTED]") with whether they are set and where from; a
// password in the Redis URL is hidden too.
func (f *File) Redacted() string {
	var b strings.Builder
	w := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	row := func(k, format string, args ...any) { fmt.Fprintf(w, "%s\t%s\n", k, fmt.Sprintf(format, args...)) }

	if f.Path == "" {
		row("config", "(no file; defaults)")
	} else {
		row("config", "%s", f.Path)
	}
	switch {
	case f.Profile != "" && len(f.Profiles) > 1:
		row("profile", "%s (available: %s)", f.Profile, strings.Join(f.Profiles, ", "))
	case f.Profile != "":
		row("profile", "%s", f.Profile)
	default:
		row("profile", "(none)")
	}
	switch {
	case f.MemoryLimit > 0:
		row("memory_limit", "%s", bytesize.Format(f.MemoryLimit))
	case f.MemoryLimit < 0:
		row("memory_limit", "off")
	}
	c := f.Client
	row("app_key", "%s", orUnset(c.AppKey, f.source(EnvAppKey)))
	row("app_secret", "%s", secret(c.AppSecret, f.source(EnvAppSecret)))
	row("session", "%s", secret(c.Session, f.source(EnvSession)))
	row("gateway", "%s", c.Gateway)
	row("sign_method", "%s", c.SignMethod)
	row("simplify", "%t", c.Simplify)
	row("timeout", "%s", duration(c.Timeout))
	row("tmc_url", "%s", f.TMCURL)
	if f.Shops.Shop != "" {
		row("shop", "%s", f.Shops.Shop)
	}
	if f.Shops.OAuthURL != "" {
		row("oauth_url", "%s", f.Shops.OAuthURL)
	}
	if f.Shops.Exchange != "" {
		row("oauth_exchange", "%s", f.Shops.Exchange)
	}

	if c.Throttle.QPS > 0 {
		row("throttle", "%v qps for the app", c.Throttle.QPS)
	} else {
		row("throttle", "unlimited for the app")
	}
	globs := make([]string, 0, len(c.Throttle.Methods))
	for g := range c.Throttle.Methods {
		globs = append(globs, g)
	}
	sort.Strings(globs)
	for _, g := range globs {
		row("", "%v qps for %s", c.Throttle.Methods[g], g)
	}
	r := c.Retry
	bans := "code-7 bans waited out up to " + duration(r.MaxBanWait)
	if r.MaxBanWait < 0 {
		bans = "code-7 bans never waited out"
	}
	row("retry", "%d attempts, backoff %s (at most %s a wait), %s", r.MaxAttempts, duration(r.Backoff), duration(r.MaxBackoff), bans)

	if len(c.Closures) == 0 {
		row("closures", "none")
	}
	for i, cl := range c.Closures {
		k := ""
		if i == 0 {
			k = "closures"
		}
		row(k, "%s – %s GMT+8, %s: %s", toptime.Format(cl.Start), toptime.Format(cl.End), cl.Action, strings.Join(cl.Methods, " "))
	}

	if len(c.SkipValidation) > 0 {
		row("catalog", "no validation for %s", strings.Join(c.SkipValidation, " "))
	}

	switch f.State.Backend {
	case state.KindRedis:
		if f.State.LockLease != 0 {
			row("state", "redis %s, lock_lease %s", redact.URL(f.State.RedisURL), f.State.LockLease)
		} else {
			row("state", "redis %s", redact.URL(f.State.RedisURL))
		}
	default:
		row("state", "file %s", f.State.Path)
	}
	if len(f.Schedules) == 0 {
		row("schedule", "none")
	}
	for i, s := range f.Schedules {
		k := ""
		if i == 0 {
			k = "schedule"
		}
		line := fmt.Sprintf("%s  %q  %s", s.Name, s.Cron, s.Script)
		if len(s.Args) > 0 {
			line += " " + strings.Join(s.Args, " ")
		}
		switch {
		case s.AllShops:
			line += "  (every authorised shop)"
		case len(s.Shops) > 0:
			line += "  (shops " + strings.Join(s.Shops, ", ") + ")"
		}
		row(k, "%s", line)
	}
	if len(f.Notify) == 0 {
		row("notify", "none")
	}
	for i := range f.Notify {
		k := ""
		if i == 0 {
			k = "notify"
		}
		row(k, "%s", f.Notify[i].Describe(i+1))
	}
	w.Flush()
	return b.String()
}

// duration formats d as it would be written: "2m", not "2m0s".
func duration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// source says where an overridable credential came from.
func (f *File) source(env string) string {
	for _, o := range f.Overridden {
		if o == env {
			return "from $" + env
		}
	}
	if f.Profile != "" {
		return "from profile " + f.Profile
	}
	return ""
}

func orUnset(v, from string) string {
	if v == "" {
		return "(unset)"
	}
	if from != "" {
		return v + " (" + from + ")"
	}
	return v
}

func secret(v, from string) string {
	if v == "" {
		return "(unset)"
	}
	if from != "" {
		return redact.Mark + " (set, " + from + ")"
	}
	return redact.Mark + " (set)"
}
