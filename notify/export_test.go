package notify

import (
	"context"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// FakeClock is a clock that moves only when Advance is called; Sleep
// blocks until it has moved far enough (or ctx ends).
type FakeClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []fakeWaiter
}

type fakeWaiter struct {
	until time.Time
	ch    chan struct{}
}

// NewFakeClock starts a FakeClock at t.
func NewFakeClock(t time.Time) *FakeClock { return &FakeClock{now: t} }

func (c *FakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *FakeClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	w := fakeWaiter{until: c.now.Add(d), ch: make(chan struct{})}
	if !w.until.After(c.now) {
		c.mu.Unlock()
		return nil
	}
	c.waiters = append(c.waiters, w)
	c.mu.Unlock()
	select {
	case <-w.ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Advance moves the clock on by d, waking the sleepers it passes.
func (c *FakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if !w.until.After(c.now) {
			close(w.ch)
		} else {
			kept = append(kept, w)
		}
	}
	c.waiters = kept
}

// Sleepers is how many are asleep on the clock.
func (c *FakeClock) Sleepers() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.waiters)
}

// NewWithClock is New on clk.
func NewWithClock(targets []Target, o Options, clk *FakeClock) *Dispatcher {
	return newDispatcher(targets, o, clk)
}

// Limiter is the limiter a target of perMinute gets.
func Limiter(perMinute int) *rate.Limiter { return limiter(perMinute) }
