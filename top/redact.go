package top

import "github.com/topscript/topscript/internal/redact"

// Redact returns s with the app secret, the configured session and any
// sign=, session=, secret= values replaced by redact.Mark ("[REDACTED]").
// The client passes every text that might carry them (transport errors,
// URLs) through it before logging or returning; callers may use it for
// their own output. A nil client hides the secret parameters only.
func (c *Client) Redact(s string) string {
	if c == nil {
		return redact.Params(s)
	}
	return c.redactor.Text(s)
}

// scrubbedError carries a cause whose text has been redacted, keeping the
// original for errors.Is and errors.As.
type scrubbedError struct {
	msg string
	err error
}

func (e *scrubbedError) Error() string { return e.msg }
func (e *scrubbedError) Unwrap() error { return e.err }
