package top

import (
	"github.com/topscript/topscript/internal/redact"
)

// redacted replaces secrets in text.
const redacted = redact.Mark

// redactor scrubs the client's secrets (internal/redact holds the rules,
// shared with the notification senders).
type redactor struct{ r redact.Redactor }

func newRedactor(words ...string) redactor { return redactor{redact.New(words...)} }

// with returns a redactor that also scrubs more words (a call's session,
// its sign).
func (r redactor) with(words ...string) redactor { return redactor{r.r.With(words...)} }

func (r redactor) redact(s string) string { return r.r.Redact(s) }

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
