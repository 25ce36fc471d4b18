package top

import (
	"regexp"
	"strings"
	"sync"
)

// redacted replaces secrets in text.
const redacted = "[REDACTED]"

// secretParamRe matches name=value pairs (query strings, form bodies) and
// "name":"value" pairs (JSON) whose value is a secret.
var secretParamRe = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`(?i)(\b(?:sign|session|sessionkey|session_key|app_secret|secret|access_token|refresh_token)=)[^&\s"']*|("(?:sign|session|sessionkey|session_key|app_secret|secret|access_token|refresh_token)"\s*:\s*")[^"]*`)
})

// redactor scrubs a set of known secret strings plus anything that looks
// like a secret parameter.
type redactor struct {
	words []string
}

func newRedactor(words ...string) redactor {
	r := redactor{}
	for _, w := range words {
		if len(w) >= 3 {
			r.words = append(r.words, w)
		}
	}
	return r
}

// with returns a redactor that also scrubs more words (a call's session,
// its sign).
func (r redactor) with(words ...string) redactor {
	out := redactor{words: append([]string(nil), r.words...)}
	for _, w := range words {
		if len(w) >= 3 {
			out.words = append(out.words, w)
		}
	}
	return out
}

func (r redactor) redact(s string) string {
	for _, w := range r.words {
		if strings.Contains(s, w) {
			s = strings.ReplaceAll(s, w, redacted)
		}
	}
	if strings.Contains(s, "=") || strings.Contains(s, `"`) {
		s = secretParamRe().ReplaceAllString(s, "${1}${2}"+redacted)
	}
	return s
}

// Redact returns s with the app secret, the configured session and any
// sign=, session=, secret= values replaced by "[REDACTED]". The client
// passes every text that might carry them (transport errors, URLs) through
// it before logging or returning; callers may use it for their own output.
func (c *Client) Redact(s string) string {
	if c == nil {
		return newRedactor().redact(s)
	}
	return c.redactor.redact(s)
}

// scrubbedError carries a cause whose text has been redacted, keeping the
// original for errors.Is and errors.As.
type scrubbedError struct {
	msg string
	err error
}

func (e *scrubbedError) Error() string { return e.msg }
func (e *scrubbedError) Unwrap() error { return e.err }
