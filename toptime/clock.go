package toptime

import (
	"context"
	"time"
)

// Clock is a source of time for code that waits: every wait of the TOP
// client (backoff, code-7 bans, throttle, closure windows) and of the alert
// dispatcher goes through one, so tests can inject a fake clock.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// Sleep waits for d or until ctx is done, whichever comes first. It
	// returns ctx.Err() when the context ended the wait, nil otherwise.
	Sleep(ctx context.Context, d time.Duration) error
}

// Wall is the real clock.
var Wall Clock = wall{}

type wall struct{}

func (wall) Now() time.Time { return time.Now() }

func (wall) Sleep(ctx context.Context, d time.Duration) error {
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
