package top

import "time"

// Kind classifies an Error by what the caller can do about it.
type Kind string

// Error kinds.
const (
	KindFlowControl    Kind = "flow_control"    // code 7 and other limits
	KindISP            Kind = "isp"             // the platform's fault; retried
	KindISV            Kind = "isv"             // the caller's fault; never retried
	KindAuth           Kind = "auth"            // session, app key, signature, permissions
	KindInvalid        Kind = "invalid"         // bad method or parameters (gateway or catalog)
	KindTransport      Kind = "transport"       // network, HTTP status, malformed body
	KindClosed         Kind = "closed"          // inside a closure window with action "fail"
	KindUnknownOutcome Kind = "unknown_outcome" // a write that may have reached the gateway
)

// Error is the one error type of the client. Match it with errors.As.
// It never holds the app secret, the session or the sign.
type Error struct {
	Code       int
	Msg        string
	SubCode    string
	SubMsg     string
	RequestID  string
	Method     string
	Kind       Kind
	RetryAfter time.Duration // flow control: how long the ban lasts
	Err        error         // underlying cause (transport), if any
}
