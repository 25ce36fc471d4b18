package top

import (
	"context"
	"fmt"
	"path"
	"time"

	"github.com/topscript/topscript/toptime"
)

// closureFor returns the first closure window that covers method at now,
// if any. A window covers [Start, End).
func closureFor(closures []Closure, method string, now time.Time) (Closure, bool) {
	for _, cl := range closures {
		if now.Before(cl.Start) || !now.Before(cl.End) {
			continue
		}
		for _, g := range cl.Methods {
			if globMatch(g, method) {
				return cl, true
			}
		}
	}
	return Closure{}, false
}

// validateClosures checks the globs, the order of the bounds and the
// action of every window.
func validateClosures(closures []Closure) error {
	for i, cl := range closures {
		if len(cl.Methods) == 0 {
			return fmt.Errorf("closure %d: no methods", i+1)
		}
		for _, g := range cl.Methods {
			if _, err := path.Match(g, ""); err != nil {
				return fmt.Errorf("closure %d: bad method glob %q", i+1, g)
			}
		}
		if !cl.End.After(cl.Start) {
			return fmt.Errorf("closure %d: end %s is not after start %s", i+1, toptime.Format(cl.End), toptime.Format(cl.Start))
		}
		switch cl.Action {
		case ClosureWait, ClosureFail, "":
		default:
			return fmt.Errorf("closure %d: unknown action %q (want wait or fail)", i+1, string(cl.Action))
		}
	}
	return nil
}

// waitClosures blocks while method is inside a closure window with action
// "wait" (windows may chain), or fails at once with KindClosed for action
// "fail". Nothing is sent in either case until the window is over.
func (c *Client) waitClosures(ctx context.Context, method string) *Error {
	for range 1000 { // bounded: each round ends one window
		now := c.clock.Now()
		cl, ok := closureFor(c.cfg.Closures, method, now)
		if !ok {
			return nil
		}
		if cl.Action == ClosureFail {
			return &Error{
				Method: method,
				Kind:   KindClosed,
				Msg: fmt.Sprintf("closed by the platform from %s to %s (GMT+8)",
					toptime.Format(cl.Start), toptime.Format(cl.End)),
				RetryAfter: cl.End.Sub(now),
			}
		}
		wait := cl.End.Sub(now)
		c.logger.Debug("top closure wait", "method", method, "until", toptime.Format(cl.End), "wait", wait)
		if err := c.clock.Sleep(ctx, wait); err != nil {
			return &Error{
				Method: method,
				Kind:   KindClosed,
				Msg: fmt.Sprintf("gave up waiting for the closure window to end at %s (GMT+8): %v",
					toptime.Format(cl.End), err),
				RetryAfter: cl.End.Sub(c.clock.Now()),
				Err:        err,
			}
		}
	}
	return nil
}
