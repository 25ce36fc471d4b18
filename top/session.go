package top

import (
	"context"
	"errors"
)

// SessionSource gives the session of every call that names none
// (CallOptions.Session), in place of Config.Session: package shop's keeps
// a shop's token fresh, refreshing it before it expires, so a long run
// goes on with each new session as it comes. It is asked once per call
// (before the call waits for its throttle token), never for its retries.
type SessionSource interface {
	// Session returns the session to send now. Its error ends the call
	// (KindAuth) unsent; it must not hold a secret.
	Session(ctx context.Context) (string, error)
	// Rejected is told when the gateway refused session: code 26 or 27
	// (missing, invalid or expired) or 53 (the window of the call's
	// security level has closed).
	Rejected(session string, e *Error)
}

// WithSessions returns a client that sends src's session with every call
// naming none, and shares everything else with c: its configuration, HTTP
// connections, throttle (its rates and SetRate), closure windows, code-7
// ban hold-backs and shared limiter. Runs for several shops of one app
// take one each, all under the app's one throttle. A nil src gives
// Config.Session back.
func (c *Client) WithSessions(src SessionSource) *Client {
	d := &Client{
		cfg:            c.cfg,
		http:           c.http,
		clock:          c.clock,
		logger:         c.logger,
		throttle:       c.throttle,
		gates:          c.gates,
		redactor:       c.redactor,
		signer:         c.signer,
		defaultHTTP:    c.defaultHTTP,
		batchTurn:      c.batchTurn,
		sharedLimiter:  c.sharedLimiter,
		sharedBans:     c.sharedBans,
		isWriteFn:      c.isWriteFn,
		isIdempotentFn: c.isIdempotentFn,
		sessions:       src,
		onLongBan:      c.onLongBan,
	}
	if src != nil {
		d.cfg.Session = ""
	}
	return d
}

// useSource sets the session of cl from the client's SessionSource when
// the call names none (o.Session).
func (c *Client) useSource(ctx context.Context, cl *call, o *CallOptions) *Error {
	if c.sessions == nil || (o != nil && o.Session != "") {
		return nil
	}
	s, err := c.sessions.Session(ctx)
	if err != nil {
		var te *Error
		if errors.As(err, &te) {
			return te
		}
		return &Error{Method: cl.method, Kind: KindAuth, Msg: cl.redact.Text(err.Error()), Err: err}
	}
	cl.session = s
	cl.redact = c.redactor.With(s)
	return nil
}

// sessionRefused reports whether e is the gateway refusing a session:
// 26 Missing session, 27 Invalid session, 53 Insufficient security level.
func sessionRefused(e *Error) bool {
	return e != nil && (e.Code == 26 || e.Code == 27 || e.Code == 53)
}

// noteRefused tells the SessionSource that the gateway refused the
// session cl was sent with.
func (c *Client) noteRefused(cl *call, err error) {
	if c.sessions == nil || err == nil {
		return
	}
	var e *Error
	if errors.As(err, &e) && sessionRefused(e) {
		c.sessions.Rejected(cl.session, e)
	}
}
