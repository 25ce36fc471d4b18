// Package redact hides secrets in text: the one place that knows what a
// secret looks like (the names of secret parameters, a URL's password) and
// the one mark that stands for a hidden secret. The client, the config
// loader, the state backends and the Lua layer all redact through it, so a
// secret is written the same way wherever it is hidden.
package redact

import (
	"encoding/json"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
)

// Mark replaces every hidden secret.
const Mark = "[REDACTED]"

// SecretParams are the parameter names whose values are secrets, wherever
// they appear: query strings, form bodies, JSON, dry-run parameter lines.
var SecretParams = []string{"sign", "session", "sessionkey", "session_key", "app_secret", "secret", "access_token", "refresh_token"}

// secretParamRe matches name=value pairs (query strings, form bodies) and
// "name":"value" pairs (JSON) whose name is one of SecretParams.
var secretParamRe = sync.OnceValue(func() *regexp.Regexp {
	names := strings.Join(SecretParams, "|")
	return regexp.MustCompile(`(?i)(\b(?:` + names + `)=)[^&\s"']*|("(?:` + names + `)"\s*:\s*")[^"]*`)
})

// Redactor hides a set of known secret strings (an app secret, a session,
// a sign) plus the value of every secret parameter. The zero Redactor
// hides secret parameters only.
type Redactor struct {
	words []string
}

// New returns a Redactor that also hides words. Words shorter than three
// bytes are ignored: hiding them would garble any text.
func New(words ...string) Redactor { return Redactor{}.With(words...) }

// With returns a copy of r that also hides words (a call's session, its
// sign). A word that JSON writes escaped (with a quote, a backslash, <, >
// or &) is hidden in its escaped form too, so that a JSON log line cannot
// show it.
func (r Redactor) With(words ...string) Redactor {
	out := Redactor{words: append([]string(nil), r.words...)}
	for _, w := range words {
		if len(w) < 3 || slices.Contains(out.words, w) {
			continue
		}
		out.words = append(out.words, w)
		if b, err := json.Marshal(w); err == nil {
			if esc := string(b[1 : len(b)-1]); esc != w {
				out.words = append(out.words, esc)
			}
		}
	}
	// Longer words first: a secret holding another is hidden whole.
	sort.SliceStable(out.words, func(i, j int) bool { return len(out.words[i]) > len(out.words[j]) })
	return out
}

// Active reports whether r hides any known word.
func (r Redactor) Active() bool { return len(r.words) > 0 }

// Hides reports whether s holds one of r's known words.
func (r Redactor) Hides(s string) bool {
	for _, w := range r.words {
		if strings.Contains(s, w) {
			return true
		}
	}
	return false
}

// Words returns s with every known word replaced by Mark, and nothing else
// changed: the redaction by value of a script's output streams.
func (r Redactor) Words(s string) string {
	for _, w := range r.words {
		if strings.Contains(s, w) {
			s = strings.ReplaceAll(s, w, Mark)
		}
	}
	return s
}

// Text returns s with every known secret and every secret parameter's
// value replaced by Mark.
func (r Redactor) Text(s string) string {
	return Params(r.Words(s))
}

// Params returns s with the value of every secret parameter replaced by
// Mark ("session=abc&x=1" → "session=[REDACTED]&x=1").
func Params(s string) string {
	if strings.Contains(s, "=") || strings.Contains(s, `"`) {
		s = secretParamRe().ReplaceAllString(s, "${1}${2}"+Mark)
	}
	return s
}

// URL returns rawURL with its password (or, for a userinfo without one,
// the whole userinfo) and its secret query parameters replaced by Mark:
// "redis://:pw@host:6379/0" → "redis://:[REDACTED]@host:6379/0". It works
// on text that does not parse as a URL too.
func URL(rawURL string) string {
	head, rest := "", rawURL
	if i := strings.Index(rawURL, "://"); i >= 0 {
		head, rest = rawURL[:i+3], rawURL[i+3:]
	} else if !strings.Contains(rawURL, "@") {
		return Params(rawURL)
	}
	if at := strings.LastIndex(rest, "@"); at >= 0 {
		userinfo, host := rest[:at], rest[at+1:]
		if c := strings.Index(userinfo, ":"); c >= 0 {
			rest = userinfo[:c] + ":" + Mark + "@" + host
		} else {
			rest = Mark + "@" + host
		}
	}
	return Params(head + rest)
}

// Password returns the password of rawURL as URL would hide it (the whole
// userinfo when it has no ':'), or "" when there is none. It works on text
// that does not parse as a URL too, so that a caller can scrub the password
// out of a library's error message.
func Password(rawURL string) string {
	_, rest, ok := strings.Cut(rawURL, "://")
	if !ok {
		rest = rawURL
	}
	at := strings.LastIndex(rest, "@")
	if at < 0 {
		return ""
	}
	if _, pw, ok := strings.Cut(rest[:at], ":"); ok {
		return pw
	}
	return rest[:at]
}
