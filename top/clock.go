package top

import "github.com/topscript/topscript/toptime"

// Clock is the client's source of time. Every wait of the client (backoff,
// code-7 bans, throttle, closure windows) and every timestamp it signs goes
// through it, so tests can inject a fake clock with WithClock.
type Clock = toptime.Clock
