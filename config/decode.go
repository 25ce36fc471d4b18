package config

import (
	"errors"
	"fmt"
	"math"
	"net/url"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/topscript/topscript/internal/bytesize"
	"github.com/topscript/topscript/internal/redact"
	"github.com/topscript/topscript/internal/suggest"
	"github.com/topscript/topscript/notify"
	"github.com/topscript/topscript/schedule"
	"github.com/topscript/topscript/shop"
	"github.com/topscript/topscript/state"
	"github.com/topscript/topscript/tmc"
	"github.com/topscript/topscript/top"
	"github.com/topscript/topscript/toptime"
)

// decoder walks the decoded TOML tree against the schema, collecting every
// error with its line.
type decoder struct {
	file  string
	lines keyLines
	env   func(string) string
	errs  Errors
}

func (d *decoder) errorf(key, format string, args ...any) {
	d.errs = append(d.errs, &Error{File: d.file, Line: d.lines.line(key), Key: key, Reason: fmt.Sprintf(format, args...)})
}

var (
	topKeys      = []string{"profile", "memory_limit", "profiles", "throttle", "retry", "closures", "state", "schedule", "catalog", "notify"}
	profileKeys  = []string{"app_key", "app_secret", "session", "gateway", "sign_method", "simplify", "timeout", "tmc_url", "shop", "oauth_url", "oauth_exchange"}
	throttleKeys = []string{"qps", "methods"}
	retryKeys    = []string{"max_attempts", "backoff", "max_ban_wait"}
	closureKeys  = []string{"methods", "start", "end", "action"}
	stateKeys    = []string{"backend", "path", "redis_url", "lock_lease"}
	scheduleKeys = []string{"name", "cron", "script", "args", "shop", "shops"}
	catalogKeys  = []string{"skip_validation"}
)

func (d *decoder) decode(raw map[string]any, o Options) *File {
	f := defaults()
	d.known("", raw, topKeys)

	// The profile: --profile, else the file's profile key, else "default".
	profiles := d.table("profiles", raw["profiles"])
	for name := range profiles {
		f.Profiles = append(f.Profiles, name)
	}
	sort.Strings(f.Profiles)
	selected, from := o.Profile, "--profile"
	if selected == "" {
		if v, ok := raw["profile"]; ok {
			from = "profile"
			if s, ok := d.str("profile", v, false); ok {
				selected = s
				if s == "" {
					d.errorf("profile", "empty profile name")
				}
			}
		}
	}
	for _, name := range f.Profiles {
		p := joinPath("profiles", name)
		cfg, tmcURL, sh := &f.Client, &f.TMCURL, &f.Shops
		if name != selected && !(selected == "" && name == DefaultProfile) {
			scratch, scratchURL, scratchShops := top.DefaultConfig(), "", Shops{}
			cfg, tmcURL, sh = &scratch, &scratchURL, &scratchShops // still checked, never expanded or used
		}
		d.profile(p, profiles[name], cfg, tmcURL, cfg == &f.Client, o.NoCredentials, o.NoSecrets)
		d.profileShops(p, profiles[name], sh, cfg == &f.Client)
	}
	switch {
	case selected != "" && profiles[selected] == nil:
		avail := "none defined"
		if len(f.Profiles) > 0 {
			avail = "available: " + strings.Join(f.Profiles, ", ")
		}
		if from == "--profile" {
			d.errs = append(d.errs, &Error{File: d.file, Key: "--profile", Reason: fmt.Sprintf("unknown profile %q (%s)", selected, avail)})
		} else {
			d.errorf("profile", "unknown profile %q (%s)", selected, avail)
		}
	case selected != "":
		f.Profile = selected
	case profiles[DefaultProfile] != nil:
		f.Profile = DefaultProfile
	case len(f.Profiles) > 0:
		d.errs = append(d.errs, &Error{File: d.file, Line: d.lines.line(joinPath("profiles", f.Profiles[0])), Key: "profile",
			Reason: fmt.Sprintf("no profile selected: set profile = \"NAME\" or pass --profile (available: %s)", strings.Join(f.Profiles, ", "))})
	}
	if !o.NoCredentials {
		f.override(d.env, o.NoSecrets)
	}

	if v, ok := raw["memory_limit"]; ok {
		f.MemoryLimit = d.memoryLimit("memory_limit", v)
	}
	d.throttle(raw["throttle"], &f.Client.Throttle)
	d.retry(raw["retry"], &f.Client.Retry)
	f.Client.Closures = d.closures(raw["closures"])
	d.state(raw["state"], &f.State)
	f.Schedules = d.schedules(raw["schedule"])
	f.Client.SkipValidation = d.catalog(raw["catalog"])
	f.Notify = d.notify(raw["notify"])
	return f
}

// notify decodes the [[notify]] tables (notify.Config): each key checked
// for its type, ${VAR}s expanded, then the target checked as a whole
// (notify.Config.Validate), every error naming file, line and key. A
// table with errors is left out.
func (d *decoder) notify(v any) []notify.Config {
	var out []notify.Config
	for i, v := range d.array("notify", v) {
		p := indexPath("notify", i)
		m := d.table(p, v)
		if m == nil {
			continue
		}
		d.known(p, m, notify.Keys)
		before := len(d.errs)
		var c notify.Config
		strs := map[string]*string{"name": &c.Name, "type": &c.Type, "url": &c.URL, "secret": &c.Secret, "format": &c.Format,
			"host": &c.Host, "tls": &c.TLS, "username": &c.Username, "password": &c.Password, "from": &c.From}
		lists := map[string]*[]string{"on": &c.On, "at_mobiles": &c.AtMobiles, "to": &c.To}
		for _, k := range sortedKeys(m) {
			kp := joinPath(p, k)
			switch val := m[k]; {
			case strs[k] != nil:
				*strs[k], _ = d.str(kp, val, true)
			case lists[k] != nil:
				*lists[k], _ = d.strings(kp, val, true)
			case k == "at_all":
				c.AtAll, _ = d.boolean(kp, val)
			case k == "per_minute" || k == "port":
				n, ok := d.integer(kp, val)
				if ok && (n < 0 || n > 65535) {
					d.errorf(kp, "out of range: %d", n)
				} else if k == "port" {
					c.Port = int(n)
				} else {
					c.PerMinute = int(n)
				}
			case k == "timeout":
				c.Timeout, _ = d.duration(kp, val, false)
			case k == "headers":
				t := d.table(kp, val)
				for _, h := range sortedKeys(t) {
					if c.Headers == nil {
						c.Headers = map[string]string{}
					}
					c.Headers[h], _ = d.str(joinPath(kp, h), t[h], true)
				}
			}
		}
		if len(d.errs) > before {
			continue
		}
		if err := c.Validate(); err != nil {
			for _, e := range unjoin(err) {
				var fe *notify.FieldError
				if errors.As(e, &fe) {
					key := joinPath(p, fe.Key)
					if base, idx, ok := strings.Cut(fe.Key, "["); ok { // "to[2]": the line of to
						key = joinPath(p, base) + "[" + idx
						d.errs = append(d.errs, &Error{File: d.file, Line: d.lines.line(joinPath(p, base)), Key: key, Reason: fe.Reason})
						continue
					}
					line := d.lines.line(key)
					if _, set := m[fe.Key]; !set {
						key, line = p, d.lines.line(p) // a missing key: the table's line
						fe.Reason = fe.Key + ": " + fe.Reason
					}
					d.errs = append(d.errs, &Error{File: d.file, Line: line, Key: key, Reason: fe.Reason})
					continue
				}
				d.errorf(p, "%v", e)
			}
			continue
		}
		out = append(out, c)
	}
	return out
}

// unjoin lists the errors errors.Join joined.
func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// catalog decodes the [catalog] table: skip_validation, the method globs
// whose calls are sent without the catalog's checks.
func (d *decoder) catalog(v any) []string {
	if v == nil {
		return nil
	}
	t := d.table("catalog", v)
	if t == nil {
		return nil
	}
	d.known("catalog", t, catalogKeys)
	sv, ok := t["skip_validation"]
	if !ok {
		return nil
	}
	globs, ok := d.strings("catalog.skip_validation", sv, false)
	if !ok {
		return nil
	}
	var out []string
	for i, g := range globs {
		if d.glob(indexPath("catalog.skip_validation", i), g) {
			out = append(out, g)
		}
	}
	return out
}

// profile decodes one [profiles.NAME] table into cfg and tmcURL. Only the
// selected profile (use) has its ${VAR}s expanded; the others are checked
// as written.
func (d *decoder) profile(p string, v any, cfg *top.Config, tmcURL *string, use, noCreds, noSecrets bool) {
	m := d.table(p, v)
	if m == nil {
		return
	}
	d.known(p, m, profileKeys)
	for _, c := range []struct {
		key    string
		dst    *string
		env    string
		secret bool
	}{{"app_key", &cfg.AppKey, EnvAppKey, false}, {"app_secret", &cfg.AppSecret, EnvAppSecret, true}, {"session", &cfg.Session, EnvSession, true}} {
		if v, ok := m[c.key]; ok {
			// An environment override stands in for the value, ${VAR}s and all.
			expand := use && !noCreds && !(noSecrets && c.secret) && d.env(c.env) == ""
			if s, ok := d.str(joinPath(p, c.key), v, expand); ok && expand {
				*c.dst = s
			}
		}
	}
	if v, ok := m["gateway"]; ok {
		k := joinPath(p, "gateway")
		if s, ok := d.str(k, v, use); ok && checkable(s, use) {
			if u, err := url.Parse(s); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				d.errorf(k, "bad gateway %q: want an http(s) URL such as %q", s, top.DefaultGateway)
			} else {
				cfg.Gateway = s
			}
		}
	}
	if v, ok := m["tmc_url"]; ok {
		k := joinPath(p, "tmc_url")
		if s, ok := d.str(k, v, use); ok && checkable(s, use) {
			if u, err := url.Parse(s); err != nil || (u.Scheme != "ws" && u.Scheme != "wss") || u.Host == "" {
				d.errorf(k, "bad tmc_url %q: want a ws(s) URL such as %q", s, tmc.DefaultURL)
			} else {
				*tmcURL = s
			}
		}
	}
	if v, ok := m["sign_method"]; ok {
		k := joinPath(p, "sign_method")
		if s, ok := d.str(k, v, use); ok && checkable(s, use) {
			switch m := top.SignMethod(s); m {
			case top.SignMD5, top.SignHMAC, top.SignHMACSHA256:
				cfg.SignMethod = m
			default:
				d.errorf(k, "bad sign_method %q: want %q, %q or %q", s, top.SignMD5, top.SignHMAC, top.SignHMACSHA256)
			}
		}
	}
	if v, ok := m["simplify"]; ok {
		if b, ok := d.boolean(joinPath(p, "simplify"), v); ok {
			cfg.Simplify = b
		}
	}
	if v, ok := m["timeout"]; ok {
		if t, ok := d.duration(joinPath(p, "timeout"), v, false); ok {
			cfg.Timeout = t
		}
	}
}

// profileShops decodes a profile's shop keys: shop (the authorised shop
// it runs for), oauth_url and oauth_exchange.
func (d *decoder) profileShops(p string, v any, sh *Shops, use bool) {
	m, _ := v.(map[string]any)
	if _, both := m["session"]; both && m["shop"] != nil {
		d.errorf(joinPath(p, "shop"), "give session or shop, not both (shop: an authorised shop's session, kept by topscript auth)")
		return
	}
	if v, ok := m["shop"]; ok {
		k := joinPath(p, "shop")
		if s, ok := d.str(k, v, use); ok && checkable(s, use) {
			if err := shop.CheckName(s); err != nil {
				d.errorf(k, "%v", err)
			} else {
				sh.Shop = s
			}
		}
	}
	if v, ok := m["oauth_url"]; ok {
		k := joinPath(p, "oauth_url")
		if s, ok := d.str(k, v, use); ok && checkable(s, use) {
			if u, err := url.Parse(s); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				d.errorf(k, "bad oauth_url %q: want the http(s) URL serving /authorize and /token, such as %q", s, "https://oauth.taobao.com")
			} else {
				sh.OAuthURL = s
			}
		}
	}
	if v, ok := m["oauth_exchange"]; ok {
		k := joinPath(p, "oauth_exchange")
		if s, ok := d.str(k, v, use); ok && checkable(s, use) {
			switch s {
			case ExchangeTokenURL, ExchangeGateway:
				sh.Exchange = s
			default:
				d.errorf(k, "bad oauth_exchange %q: want %q (POST the token URL) or %q (taobao.top.auth.token.create through the gateway)",
					s, ExchangeTokenURL, ExchangeGateway)
			}
		}
	}
}

// checkable says whether a string value can be validated: it is expanded,
// or holds no ${VAR} to expand.
func checkable(s string, expanded bool) bool {
	return expanded || !strings.Contains(s, "${")
}

func (d *decoder) throttle(v any, t *top.ThrottleConfig) {
	m := d.table("throttle", v)
	if m == nil {
		return
	}
	d.known("throttle", m, throttleKeys)
	if v, ok := m["qps"]; ok {
		if n, ok := d.rate("throttle.qps", v); ok {
			t.QPS = n
		}
	}
	methods := d.table("throttle.methods", m["methods"])
	for _, glob := range sortedKeys(methods) {
		k := joinPath("throttle.methods", glob)
		if !d.glob(k, glob) {
			continue
		}
		if n, ok := d.rate(k, methods[glob]); ok {
			if t.Methods == nil {
				t.Methods = map[string]float64{}
			}
			t.Methods[glob] = n
		}
	}
}

func (d *decoder) retry(v any, r *top.RetryConfig) {
	m := d.table("retry", v)
	if m == nil {
		return
	}
	d.known("retry", m, retryKeys)
	if v, ok := m["max_attempts"]; ok {
		if n, ok := d.integer("retry.max_attempts", v); ok {
			if n < 1 {
				d.errorf("retry.max_attempts", "must be at least 1 (1 = no retries), got %d", n)
			} else {
				r.MaxAttempts = int(n)
			}
		}
	}
	if v, ok := m["backoff"]; ok {
		if t, ok := d.duration("retry.backoff", v, false); ok {
			r.Backoff = t
			if r.MaxBackoff < t {
				r.MaxBackoff = t
			}
		}
	}
	if v, ok := m["max_ban_wait"]; ok {
		if t, ok := d.duration("retry.max_ban_wait", v, true); ok {
			r.MaxBanWait = t
			if t == 0 {
				r.MaxBanWait = -1 // top.Config: negative = never wait out a ban
			}
		}
	}
}

func (d *decoder) closures(v any) []top.Closure {
	var out []top.Closure
	for i, v := range d.array("closures", v) {
		p := indexPath("closures", i)
		m := d.table(p, v)
		if m == nil {
			continue
		}
		d.known(p, m, closureKeys)
		c := top.Closure{Action: top.ClosureWait}
		ok := true
		if v, has := m["methods"]; !has {
			d.errorf(p, "missing methods (a list of method globs such as \"taobao.fenxiao.product*\")")
			ok = false
		} else if ms, good := d.strings(joinPath(p, "methods"), v, false); !good {
			ok = false
		} else if len(ms) == 0 {
			d.errorf(joinPath(p, "methods"), "empty list: name at least one method glob")
			ok = false
		} else {
			for j, g := range ms {
				ok = d.glob(indexPath(joinPath(p, "methods"), j), g) && ok
			}
			c.Methods = ms
		}
		var start, end bool
		c.Start, start = d.time(p, "start", m)
		c.End, end = d.time(p, "end", m)
		if start && end && !c.End.After(c.Start) {
			d.errorf(joinPath(p, "end"), "end %s is not after start %s", c.End.Format(toptime.Layout), c.Start.Format(toptime.Layout))
			ok = false
		}
		ok = ok && start && end
		if v, has := m["action"]; has {
			if s, good := d.str(joinPath(p, "action"), v, false); good {
				switch a := top.ClosureAction(s); a {
				case top.ClosureWait, top.ClosureFail:
					c.Action = a
				default:
					d.errorf(joinPath(p, "action"), "bad action %q: want %q or %q", s, top.ClosureWait, top.ClosureFail)
					ok = false
				}
			}
		}
		if ok {
			out = append(out, c)
		}
	}
	return out
}

// time reads a closure's start or end: a "yyyy-MM-dd HH:mm:ss" string in
// GMT+8, or a TOML datetime (a local one is read as GMT+8 too).
func (d *decoder) time(p, key string, m map[string]any) (time.Time, bool) {
	k := joinPath(p, key)
	v, ok := m[key]
	if !ok {
		d.errorf(p, "missing %s (\"yyyy-MM-dd HH:mm:ss\", GMT+8)", key)
		return time.Time{}, false
	}
	switch v := v.(type) {
	case string:
		t, err := time.ParseInLocation(toptime.Layout, strings.TrimSpace(v), toptime.Zone)
		if err != nil {
			d.errorf(k, "bad time %q: want \"yyyy-MM-dd HH:mm:ss\" (GMT+8)", v)
			return time.Time{}, false
		}
		return t, true
	case time.Time:
		switch v.Location().String() {
		case "datetime-local":
			return time.Date(v.Year(), v.Month(), v.Day(), v.Hour(), v.Minute(), v.Second(), v.Nanosecond(), toptime.Zone), true
		case "date-local", "time-local":
			d.errorf(k, "bad time: want a date and a time, \"yyyy-MM-dd HH:mm:ss\" (GMT+8)")
			return time.Time{}, false
		}
		return v, true
	}
	d.errorf(k, "want a time \"yyyy-MM-dd HH:mm:ss\" (GMT+8), got %s", describe(v))
	return time.Time{}, false
}

func (d *decoder) state(v any, s *state.Config) {
	m := d.table("state", v)
	if m == nil {
		return
	}
	d.known("state", m, stateKeys)
	if v, ok := m["backend"]; ok {
		if b, ok := d.str("state.backend", v, true); ok {
			switch sb := state.Kind(b); sb {
			case state.KindFile, state.KindRedis:
				s.Backend = sb
			default:
				d.errorf("state.backend", "bad backend %q: want %q or %q", b, state.KindFile, state.KindRedis)
			}
		}
	}
	if v, ok := m["path"]; ok {
		if p, ok := d.str("state.path", v, true); ok {
			if p == "" {
				d.errorf("state.path", "empty path")
			} else {
				s.Path = p
			}
		}
	}
	if v, ok := m["redis_url"]; ok {
		if r, ok := d.str("state.redis_url", v, true); ok {
			if u, err := url.Parse(r); err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") || u.Host == "" {
				d.errorf("state.redis_url", "bad redis_url %s: want redis://[:password@]host:port/db", redact.URL(r))
			} else {
				s.RedisURL = r
			}
		}
	}
	if v, ok := m["lock_lease"]; ok {
		if t, ok := d.duration("state.lock_lease", v, false); ok {
			if t < state.MinLease {
				d.errorf("state.lock_lease", "too short: %s (at least %s)", t, state.MinLease)
			} else {
				s.LockLease = t
			}
		}
	}
	if s.Backend == state.KindRedis && s.RedisURL == "" {
		if _, has := m["redis_url"]; !has {
			d.errorf("state.backend", "backend \"redis\" needs redis_url")
		}
	}
}

func (d *decoder) schedules(v any) []Schedule {
	var out []Schedule
	names := map[string]bool{}
	for i, v := range d.array("schedule", v) {
		p := indexPath("schedule", i)
		m := d.table(p, v)
		if m == nil {
			continue
		}
		d.known(p, m, scheduleKeys)
		s := Schedule{Line: d.lines.line(p), Index: i + 1, ScriptLine: d.lines.line(joinPath(p, "script"))}
		ok := true
		for _, f := range []struct {
			key  string
			dst  *string
			hint string
		}{
			{"name", &s.Name, "a unique name"},
			{"cron", &s.Cron, `such as "*/10 * * * *" or "@every 30s"`},
			{"script", &s.Script, "the script to run"},
		} {
			v, has := m[f.key]
			if !has {
				d.errorf(p, "missing %s (%s)", f.key, f.hint)
				ok = false
				continue
			}
			str, good := d.str(joinPath(p, f.key), v, true)
			if good && str == "" {
				d.errorf(joinPath(p, f.key), "empty %s (%s)", f.key, f.hint)
				good = false
			}
			ok = ok && good
			*f.dst = str
		}
		if s.Name != "" {
			if names[s.Name] {
				d.errorf(joinPath(p, "name"), "duplicate schedule name %q", s.Name)
				ok = false
			}
			names[s.Name] = true
		}
		if s.Cron != "" {
			if _, err := schedule.Parse(s.Cron); err != nil { // what the scheduler will run
				d.errorf(joinPath(p, "cron"), "bad cron %q: %v (want 5 fields, 6 with seconds, or \"@every 30s\")", s.Cron, err)
				ok = false
			}
		}
		if v, has := m["args"]; has {
			args, good := d.strings(joinPath(p, "args"), v, true)
			ok = ok && good
			s.Args = args
		}
		ok = d.scheduleShops(p, m, &s) && ok
		if ok {
			out = append(out, s)
		}
	}
	return out
}

// scheduleShops decodes an entry's shop (one authorised shop) or shops
// ("all", or an array of names): the entry runs once per shop, as run
// --shop, --shops and --all-shops do.
func (d *decoder) scheduleShops(p string, m map[string]any, s *Schedule) bool {
	one, hasOne := m["shop"]
	many, hasMany := m["shops"]
	switch {
	case hasOne && hasMany:
		d.errorf(joinPath(p, "shops"), "give shop or shops, not both")
		return false
	case hasOne:
		k := joinPath(p, "shop")
		name, ok := d.str(k, one, true)
		if !ok {
			return false
		}
		if err := shop.CheckName(name); err != nil {
			d.errorf(k, "%v", err)
			return false
		}
		s.Shops = []string{name}
	case hasMany:
		k := joinPath(p, "shops")
		if str, isStr := many.(string); isStr {
			if str != AllShops {
				d.errorf(k, "want %q or an array of shop names, got %q", AllShops, str)
				return false
			}
			s.AllShops = true
			return true
		}
		names, ok := d.strings(k, many, true)
		if !ok {
			return false
		}
		if len(names) == 0 {
			d.errorf(k, "no shop named (want %q or an array of shop names)", AllShops)
			return false
		}
		if i, err := shop.CheckNames(names); err != nil {
			d.errorf(indexPath(k, i), "%v", err)
			return false
		}
		s.Shops = names
	}
	return true
}

// ---- typed readers; each reports its own errors ----

// known reports the keys of m not in allowed.
func (d *decoder) known(p string, m map[string]any, allowed []string) {
	for _, k := range sortedKeys(m) {
		found := false
		for _, a := range allowed {
			found = found || a == k
		}
		if found {
			continue
		}
		reason := "unknown key"
		if s := suggest.Closest(k, allowed); s != "" {
			reason += fmt.Sprintf(" (did you mean %q?)", s)
		} else {
			reason += " (known: " + strings.Join(allowed, ", ") + ")"
		}
		d.errorf(joinPath(p, k), "%s", reason)
	}
}

// table reads a table; nil (absent) gives nil without error.
func (d *decoder) table(p string, v any) map[string]any {
	switch v := v.(type) {
	case nil:
		return nil
	case map[string]any:
		return v
	}
	d.errorf(p, "want a table, got %s", describe(v))
	return nil
}

// array reads an array of tables (or an inline array).
func (d *decoder) array(p string, v any) []any {
	switch v := v.(type) {
	case nil:
		return nil
	case []map[string]any:
		out := make([]any, len(v))
		for i := range v {
			out[i] = v[i]
		}
		return out
	case []any:
		return v
	}
	d.errorf(p, "want an array of tables ([[%s]]), got %s", p, describe(v))
	return nil
}

// expandRefs replaces each ${NAME} in s (NAME a letter or underscore, then
// letters, digits and underscores) with repl(NAME), scanning left to
// right as the regexp `\$\{([A-Za-z_][A-Za-z0-9_]*)\}` would; anything
// else is kept as is. A hand scanner: no regexp to compile at start-up.
func expandRefs(s string, repl func(name string) string) string {
	i := strings.Index(s, "${")
	if i < 0 {
		return s
	}
	var b strings.Builder
	last := 0
	for i >= 0 {
		n := refName(s[i+2:])
		if n > 0 && i+2+n < len(s) && s[i+2+n] == '}' {
			b.WriteString(s[last:i])
			b.WriteString(repl(s[i+2 : i+2+n]))
			last = i + 3 + n
			i = last
		} else {
			i++
		}
		j := strings.Index(s[i:], "${")
		if j < 0 {
			break
		}
		i += j
	}
	b.WriteString(s[last:])
	return b.String()
}

// refName returns the length of the variable name at the start of s: a
// letter or underscore, then letters, digits and underscores.
func refName(s string) int {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '_', 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case '0' <= c && c <= '9' && i > 0:
		default:
			return i
		}
	}
	return len(s)
}

// badRef says what is wrong with s when a "${" in it is never closed ("" when
// none is): taken literally, an unclosed "${" in a secret would fail much
// later as the gateway's "Invalid signature". (A closed "${...}" that is no
// ${NAME} reference stays literal text, as before.)
func badRef(s string) string {
	i := strings.LastIndex(s, "${")
	if i >= 0 && !strings.Contains(s[i+2:], "}") {
		return `"${" without its closing "}" (write ${NAME})`
	}
	return ""
}

// str reads a string, expanding ${VAR}s when expand is set. An unset (or
// empty) variable is an error naming it, and so is an unclosed "${",
// expanded or not.
func (d *decoder) str(p string, v any, expand bool) (string, bool) {
	s, ok := v.(string)
	if !ok {
		d.errorf(p, "want a string, got %s", describe(v))
		return "", false
	}
	if why := badRef(s); why != "" {
		d.errorf(p, "%s", why)
		return "", false
	}
	if !expand {
		return s, true
	}
	ok = true
	s = expandRefs(s, func(name string) string {
		val := d.env(name)
		if val == "" && ok {
			d.errorf(p, "environment variable %s is not set (referenced as ${%s})", name, name)
			ok = false
		}
		return val
	})
	return s, ok
}

func (d *decoder) strings(p string, v any, expand bool) ([]string, bool) {
	arr, ok := v.([]any)
	if !ok {
		d.errorf(p, "want an array of strings, got %s", describe(v))
		return nil, false
	}
	out := make([]string, 0, len(arr))
	for i, e := range arr {
		s, good := d.str(indexPath(p, i), e, expand)
		ok = ok && good
		out = append(out, s)
	}
	return out, ok
}

func (d *decoder) boolean(p string, v any) (bool, bool) {
	b, ok := v.(bool)
	if !ok {
		d.errorf(p, "want true or false, got %s", describe(v))
	}
	return b, ok
}

func (d *decoder) integer(p string, v any) (int64, bool) {
	n, ok := v.(int64)
	if !ok {
		d.errorf(p, "want an integer, got %s", describe(v))
	}
	return n, ok
}

// memoryLimit reads memory_limit: a size ("512MiB", "2GiB", a number of
// bytes) or "off". It returns -1 for "off", else the bytes (positive).
func (d *decoder) memoryLimit(p string, v any) int64 {
	switch x := v.(type) {
	case int64:
		if x > 0 {
			return x
		}
		d.errorf(p, "must be positive, got %d (or \"off\" for no limit)", x)
		return 0
	case string:
		if strings.EqualFold(strings.TrimSpace(x), "off") {
			return -1
		}
		n, err := bytesize.Parse(x)
		switch {
		case err != nil:
			d.errorf(p, "bad size %q: want a size such as \"512MiB\" or \"2GiB\", or \"off\"", x)
		case n <= 0:
			d.errorf(p, "must be positive, got %q (or \"off\" for no limit)", x)
		default:
			return n
		}
		return 0
	}
	d.errorf(p, "want a size such as \"512MiB\", got %s", describe(v))
	return 0
}

// rate reads a calls-per-second number: an integer or a float, not negative.
func (d *decoder) rate(p string, v any) (float64, bool) {
	var n float64
	switch v := v.(type) {
	case int64:
		n = float64(v)
	case float64:
		n = v
	default:
		d.errorf(p, "want a number of calls per second, got %s", describe(v))
		return 0, false
	}
	if n < 0 || math.IsNaN(n) || math.IsInf(n, 0) {
		d.errorf(p, "must not be negative (0 = unlimited), got %v", v)
		return 0, false
	}
	return n, true
}

// duration reads a Go duration string ("30s", "2m", "1h30m"); zero is
// allowed only when zeroOK.
func (d *decoder) duration(p string, v any, zeroOK bool) (time.Duration, bool) {
	s, ok := v.(string)
	if !ok {
		d.errorf(p, "want a duration such as \"30s\" or \"2m\", got %s", describe(v))
		return 0, false
	}
	t, err := time.ParseDuration(strings.TrimSpace(s))
	switch {
	case err != nil:
		d.errorf(p, "bad duration %q: want a number and a unit (ms, s, m, h) such as \"30s\" or \"2m\"", s)
		return 0, false
	case t < 0:
		d.errorf(p, "must not be negative, got %q", s)
		return 0, false
	case t == 0 && !zeroOK:
		d.errorf(p, "must be more than zero, got %q", s)
		return 0, false
	}
	return t, true
}

// glob checks a method pattern.
func (d *decoder) glob(p, g string) bool {
	if g == "" {
		d.errorf(p, "empty method pattern")
		return false
	}
	if _, err := path.Match(g, ""); err != nil {
		d.errorf(p, "bad method pattern %q: %v", g, err)
		return false
	}
	return true
}

// describe names a TOML value's type for messages, with the value when it is
// short and not a string (a mistyped secret must not be echoed).
func describe(v any) string {
	switch v := v.(type) {
	case string:
		return "a string"
	case int64:
		return fmt.Sprintf("integer %d", v)
	case float64:
		return fmt.Sprintf("number %v", v)
	case bool:
		return fmt.Sprintf("boolean %v", v)
	case time.Time:
		return "a datetime"
	case []any, []map[string]any:
		return "an array"
	case map[string]any:
		return "a table"
	}
	return fmt.Sprintf("%T", v)
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
