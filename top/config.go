package top

import "time"

// DefaultGateway is the production REST endpoint of the TOP gateway.
const DefaultGateway = "https://eco.taobao.com/router/rest"

// SignMethod names one of the gateway's three signature digests.
type SignMethod string

// The signature methods the gateway accepts.
const (
	SignMD5        SignMethod = "md5"
	SignHMAC       SignMethod = "hmac"        // HMAC-MD5
	SignHMACSHA256 SignMethod = "hmac-sha256" // the default
)

// Config holds everything a Client needs. The TOML loader (package config)
// fills it from a profile; Go programs may fill it by hand. Start from
// DefaultConfig so unset fields keep their documented defaults.
type Config struct {
	AppKey     string
	AppSecret  string
	Session    string
	Gateway    string
	SignMethod SignMethod
	Simplify   bool
	Timeout    time.Duration // per HTTP request
	Throttle   ThrottleConfig
	Retry      RetryConfig
	Closures   []Closure
	// SkipValidation lists method globs ("taobao.fenxiao.*") whose calls
	// are sent without the catalog's checks, for APIs whose documentation
	// is stale.
	SkipValidation []string
}

// ThrottleConfig sets client-side token buckets: one for the whole app and
// one per method glob (e.g. "taobao.trades.sold.*"). A zero rate means
// unlimited.
type ThrottleConfig struct {
	QPS     float64
	Methods map[string]float64
}

// RetryConfig is the one retry policy of the client.
type RetryConfig struct {
	MaxAttempts int           // total attempts per call, including the first
	Backoff     time.Duration // first wait; grows exponentially with jitter
	MaxBackoff  time.Duration // cap of one wait
	MaxBanWait  time.Duration // code-7 bans longer than this fail at once with RetryAfter
}

// ClosureAction is what a call inside a closure window does.
type ClosureAction string

// Closure actions.
const (
	ClosureWait ClosureAction = "wait"
	ClosureFail ClosureAction = "fail"
)

// Closure is a platform closure window (from a promotion notice): calls to
// matching methods between Start and End wait for End or fail with KindClosed.
type Closure struct {
	Methods []string // globs
	Start   time.Time
	End     time.Time
	Action  ClosureAction
}

// DefaultConfig returns a Config with every documented default set.
func DefaultConfig() Config {
	return Config{
		Gateway:    DefaultGateway,
		SignMethod: SignHMACSHA256,
		Simplify:   true,
		Timeout:    30 * time.Second,
		Retry: RetryConfig{
			MaxAttempts: 4,
			Backoff:     time.Second,
			MaxBackoff:  30 * time.Second,
			MaxBanWait:  2 * time.Minute,
		},
	}
}
