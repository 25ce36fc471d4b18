package notify

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"net/mail"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/topscript/topscript/internal/redact"
)

// Types of target a Config names.
const (
	TypeDingTalk = "dingtalk"
	TypeWeCom    = "wecom"
	TypeWebhook  = "webhook"
	TypeEmail    = "email"
)

// Config is one [[notify]] table of topscript.toml (see the package doc),
// after ${VAR} expansion. The toml tags give the keys; durations are
// written as "10s".
type Config struct {
	Name      string            `toml:"name"`
	Type      string            `toml:"type"`
	URL       string            `toml:"url"`
	Secret    string            `toml:"secret"`
	On        []string          `toml:"on"`
	Format    string            `toml:"format"`
	AtMobiles []string          `toml:"at_mobiles"`
	AtAll     bool              `toml:"at_all"`
	Headers   map[string]string `toml:"headers"`
	PerMinute int               `toml:"per_minute"`
	Timeout   time.Duration     `toml:"timeout"`
	Host      string            `toml:"host"`
	Port      int               `toml:"port"`
	TLS       string            `toml:"tls"`
	Username  string            `toml:"username"`
	Password  string            `toml:"password"`
	From      string            `toml:"from"`
	To        []string          `toml:"to"`
}

// Keys are the keys a [[notify]] table may have, for the loader's check of
// unknown keys.
var Keys = []string{"name", "type", "url", "secret", "on", "format", "at_mobiles", "at_all", "headers",
	"per_minute", "timeout", "host", "port", "tls", "username", "password", "from", "to"}

// FieldError is a problem with one key of a Config.
type FieldError struct {
	Key    string // "url", "to[2]"
	Reason string
}

func (e *FieldError) Error() string { return e.Key + ": " + e.Reason }

// keysFor lists the keys that apply to each type beyond the common ones.
var keysFor = map[string][]string{
	TypeDingTalk: {"url", "secret", "format", "at_mobiles", "at_all"},
	TypeWeCom:    {"url", "format", "at_mobiles"},
	TypeWebhook:  {"url", "secret", "headers"},
	TypeEmail:    {"host", "port", "tls", "username", "password", "from", "to"},
}

// Validate checks c and returns every problem as a *FieldError (joined),
// naming the key. Secrets are never quoted in them.
func (c *Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, &FieldError{Key: key, Reason: fmt.Sprintf(format, args...)})
	}
	for i, k := range c.On {
		if !slices.Contains(Kinds, Kind(k)) {
			bad(fmt.Sprintf("on[%d]", i+1), "unknown event %q (want %s)", k, kindList())
		}
	}
	if c.PerMinute < 0 {
		bad("per_minute", "must be positive, got %d", c.PerMinute)
	}
	if c.Timeout < 0 {
		bad("timeout", "must be positive, got %s", c.Timeout)
	}
	switch c.Format {
	case "", "markdown", "text":
	default:
		bad("format", "unknown format %q (want \"markdown\" or \"text\")", c.Format)
	}
	set := c.setKeys()
	switch c.Type {
	case "":
		bad("type", "missing (want dingtalk, wecom, webhook or email)")
		return errors.Join(errs...)
	case TypeDingTalk, TypeWeCom, TypeWebhook:
		checkURL(c.URL, c.Type, bad)
	case TypeEmail:
		if c.Host == "" {
			bad("host", "missing: the SMTP server")
		}
		if c.Port < 0 || c.Port > 65535 {
			bad("port", "%d is not a port", c.Port)
		}
		switch c.TLS {
		case "", StartTLS, TLS, NoTLS:
		default:
			bad("tls", "unknown mode %q (want %q, %q or %q)", c.TLS, StartTLS, TLS, NoTLS)
		}
		if c.Password != "" && c.Username == "" {
			bad("username", "missing: a password is set")
		}
		if c.From == "" {
			bad("from", "missing: the sender's address")
		} else if _, err := mail.ParseAddress(c.From); err != nil {
			bad("from", "%q is not an address: %v", c.From, err)
		}
		if len(c.To) == 0 {
			bad("to", "missing: at least one address")
		}
		for i, to := range c.To {
			if _, err := mail.ParseAddress(to); err != nil {
				bad(fmt.Sprintf("to[%d]", i+1), "%q is not an address: %v", to, err)
			}
		}
	default:
		bad("type", "unknown type %q (want dingtalk, wecom, webhook or email)", c.Type)
		return errors.Join(errs...)
	}
	for _, k := range set {
		if k != "" && !slices.Contains(keysFor[c.Type], k) {
			bad(k, "does not apply to type %q", c.Type)
		}
	}
	return errors.Join(errs...)
}

// setKeys lists the type-specific keys that have a value.
func (c *Config) setKeys() []string {
	pick := func(k string, set bool) string {
		if set {
			return k
		}
		return ""
	}
	return []string{
		pick("url", c.URL != ""), pick("secret", c.Secret != ""), pick("format", c.Format != ""),
		pick("at_mobiles", len(c.AtMobiles) > 0), pick("at_all", c.AtAll), pick("headers", len(c.Headers) > 0),
		pick("host", c.Host != ""), pick("port", c.Port != 0), pick("tls", c.TLS != ""),
		pick("username", c.Username != ""), pick("password", c.Password != ""), pick("from", c.From != ""), pick("to", len(c.To) > 0),
	}
}

// checkURL checks a webhook URL, naming what is wrong without quoting it
// (it holds the robot's token).
func checkURL(raw, typ string, bad func(key, format string, args ...any)) {
	if raw == "" {
		bad("url", "missing: the robot's or hook's webhook URL")
		return
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		bad("url", "not an http(s) URL")
		return
	}
	switch typ {
	case TypeDingTalk:
		if u.Query().Get("access_token") == "" {
			bad("url", "has no access_token: copy the robot's whole webhook URL")
		}
	case TypeWeCom:
		if u.Query().Get("key") == "" {
			bad("url", "has no key: copy the robot's whole webhook URL")
		}
	}
}

// Target builds the target c describes; client (nil: http.DefaultClient)
// carries HTTP sends, tlsConfig (nil: the system's roots) SMTP TLS. c must
// be valid. Its name defaults to "<type> <n>".
func (c *Config) Target(n int, client *http.Client, tlsConfig *tls.Config) Target {
	t := Target{Name: c.Name, PerMinute: c.PerMinute}
	if t.Name == "" {
		t.Name = fmt.Sprintf("%s %d", c.Type, n)
	}
	for _, k := range c.On {
		t.Kinds = append(t.Kinds, Kind(k))
	}
	text := c.Format == "text"
	switch c.Type {
	case TypeDingTalk:
		t.Sender = &DingTalk{URL: c.URL, Secret: c.Secret, Text: text, AtMobiles: c.AtMobiles, AtAll: c.AtAll, Client: client}
	case TypeWeCom:
		t.Sender = &WeCom{URL: c.URL, Text: text, AtMobiles: c.AtMobiles, Client: client}
	case TypeWebhook:
		t.Sender = &Webhook{URL: c.URL, Secret: c.Secret, Headers: c.Headers, Client: client}
	case TypeEmail:
		t.Sender = &Email{Host: c.Host, Port: c.Port, TLSMode: c.TLS, Username: c.Username, Password: c.Password, From: c.From, To: c.To, TLSConfig: tlsConfig}
	}
	t.Secrets = c.Secrets()
	if t.PerMinute == 0 {
		t.PerMinute = c.perMinute()
	}
	return t
}

// perMinute is the default rate of c's type.
func (c *Config) perMinute() int {
	switch c.Type {
	case TypeWebhook:
		return 60
	case TypeEmail:
		return 6
	}
	return 20
}

// Secrets are c's secret values (those set): the tokens and keys in its
// URL, its signing secret, its header values, its SMTP password. No output
// may show them.
func (c *Config) Secrets() []string {
	var out []string
	add := func(vs ...string) {
		for _, v := range vs {
			if v != "" {
				out = append(out, v)
			}
		}
	}
	switch c.Type {
	case TypeDingTalk, TypeWeCom, TypeWebhook:
		add(urlSecrets(c.URL)...)
		add(c.Secret)
		for _, v := range c.Headers {
			add(v, strings.TrimPrefix(v, "Bearer "))
		}
	case TypeEmail:
		add(c.Password)
	}
	return out
}

// Describe is c in one line with its secrets hidden, as config check
// shows it: "dingtalk ops-group: https://oapi.dingtalk.com/robot/send?access_token=[REDACTED],
// signed, on job_failed, script_error, 20 a minute".
func (c *Config) Describe(n int) string {
	name := c.Name
	if name == "" {
		name = fmt.Sprintf("%s %d", c.Type, n)
	}
	hide := redact.New(c.Secrets()...)
	var parts []string
	switch c.Type {
	case TypeEmail:
		mode := c.TLS
		if mode == "" {
			mode = StartTLS
		}
		where := fmt.Sprintf("%s:%d (%s)", c.Host, c.Port, mode)
		if c.Port == 0 {
			where = fmt.Sprintf("%s (%s)", c.Host, mode)
		}
		if c.Username != "" {
			where += " as " + c.Username
			if c.Password != "" {
				where += " with a password " + redact.Mark
			}
		}
		parts = append(parts, where, "from "+c.From, "to "+strings.Join(c.To, ", "))
	default:
		parts = append(parts, hide.Text(c.URL))
		if c.Secret != "" {
			parts = append(parts, "secret "+redact.Mark)
		}
		hs := make([]string, 0, len(c.Headers))
		for h := range c.Headers {
			hs = append(hs, h+": "+redact.Mark)
		}
		slices.Sort(hs)
		parts = append(parts, hs...)
	}
	on := "on every event"
	if len(c.On) > 0 {
		on = "on " + strings.Join(c.On, ", ")
	}
	per := c.PerMinute
	if per == 0 {
		per = c.perMinute()
	}
	parts = append(parts, on, fmt.Sprintf("at most %d a minute", per))
	return hide.Words(c.Type + " " + name + ": " + strings.Join(parts, ", "))
}

// urlSecrets are the values in a URL's query and its password: robot
// tokens and keys.
func urlSecrets(raw string) []string {
	u, err := url.Parse(raw)
	if err != nil {
		return []string{raw}
	}
	var out []string
	for _, vs := range u.Query() {
		out = append(out, vs...)
	}
	if p, ok := u.User.Password(); ok {
		out = append(out, p)
	}
	return out
}

func kindList() string {
	q := make([]string, len(Kinds))
	for i, k := range Kinds {
		q[i] = string(k)
	}
	return strings.Join(q, ", ")
}
