package top

import (
	"context"
	"time"
)

// Clock is the client's source of time. Every wait of the client (backoff,
// code-7 bans, throttle, closure windows) and every timestamp it signs goes
// through it, so tests can inject a fake clock with WithClock.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// Sleep waits for d or until ctx is done, whichever comes first. It
	// returns ctx.Err() when the context ended the wait, nil otherwise.
	Sleep(ctx context.Context, d time.Duration) error
}

// WallClock is the real clock, for other packages whose waits take a
// Clock too (the notify dispatcher's rate limits).
var WallClock Clock = realClock{}

// realClock is the wall clock.
type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Timestamp formats t as the gateway expects it: "yyyy-MM-dd HH:mm:ss" in
// GMT+8 (CST), whatever the zone of t or of the host.
func Timestamp(t time.Time) string {
	return t.In(CST).Format(TimeLayout)
}
