// Package redact scrubs secrets out of text before it is logged, printed
// or returned in an error: the known secret strings of a client or a
// notification target, and any sign=, session=, secret=, access_token=
// value (query strings, form bodies, JSON).
package redact

import (
	"regexp"
	"strings"
	"sync"
)

// Mark replaces a secret.
const Mark = "[REDACTED]"

// secretParamRe matches name=value pairs (query strings, form bodies) and
// "name":"value" pairs (JSON) whose value is a secret.
var secretParamRe = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`(?i)(\b(?:sign|session|sessionkey|session_key|app_secret|secret|access_token|refresh_token)=)[^&\s"']*|("(?:sign|session|sessionkey|session_key|app_secret|secret|access_token|refresh_token)"\s*:\s*")[^"]*`)
})

// Redactor scrubs a set of known secret strings plus anything that looks
// like a secret parameter. The zero value scrubs only the parameters.
type Redactor struct {
	words []string
}

// New returns a Redactor for words; words shorter than 3 bytes are
// ignored (they would scrub innocent text and hide nothing).
func New(words ...string) Redactor {
	return Redactor{}.With(words...)
}

// With returns a Redactor that also scrubs more words (a call's session,
// its sign).
func (r Redactor) With(words ...string) Redactor {
	out := Redactor{words: append([]string(nil), r.words...)}
	for _, w := range words {
		if len(w) >= 3 {
			out.words = append(out.words, w)
		}
	}
	return out
}

// Redact returns s with every secret replaced by Mark.
func (r Redactor) Redact(s string) string {
	for _, w := range r.words {
		if strings.Contains(s, w) {
			s = strings.ReplaceAll(s, w, Mark)
		}
	}
	if strings.Contains(s, "=") || strings.Contains(s, `"`) {
		s = secretParamRe().ReplaceAllString(s, "${1}${2}"+Mark)
	}
	return s
}
