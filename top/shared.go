package top

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"
)

// This file shares the throttle and the code-7 ban hold-backs among
// processes: a fleet of hosts working for one app key, whose quota is one.
// The client knows nothing of the store behind them (package state provides
// a Redis implementation, state.RedisLimiter).
//
// With WithShared, every bucket of the client's throttle is taken from the
// SharedLimiter instead of a local token bucket: the app rate under the key
// "app" and each method glob's rate under "method:<glob>", at the rates of
// Config.Throttle (and SetRate). A ban a call runs into is published with
// SetBan for its scope ("app", "api:<method>", "app-api:<method>" or
// "session:<hash>"; see banScope), and
// every call consults BanUntil for its scopes before it is sent, re-reading
// a scope at most every SharedBanRefresh, so a ban seen by one process
// holds back all of them until it ends.

// SharedLimiter paces calls across processes: Wait blocks until the caller
// may make one call under the shared rate qps of key, or ctx ends. Every
// process sharing a key must ask for the same qps. qps <= 0 means unlimited.
type SharedLimiter interface {
	Wait(ctx context.Context, key string, qps float64) error
}

// SharedBans records platform bans for every process sharing them. SetBan
// never shortens a later ban; BanUntil returns the zero time when scope is
// not banned.
type SharedBans interface {
	SetBan(ctx context.Context, scope string, until time.Time) error
	BanUntil(ctx context.Context, scope string) (time.Time, error)
}

// SharedBanRefresh is how long a shared ban read with BanUntil is trusted
// before the scope is read again.
const SharedBanRefresh = 250 * time.Millisecond

// sharedOpTimeout bounds publishing a ban.
const sharedOpTimeout = 2 * time.Second

// WithShared makes the client share its throttle (limiter) and its code-7
// ban hold-backs (bans) with other processes; either may be nil. Without
// it the throttle is local to the client. Under a shared limiter the
// throttle rates (Config.Throttle and SetRate) are what this process asks
// the limiter for: every process of a fleet must use the same ones.
func WithShared(limiter SharedLimiter, bans SharedBans) Option {
	return func(c *Client) {
		c.sharedLimiter = limiter
		if bans != nil {
			c.sharedBans = &sharedBans{bans: bans, seen: map[string]sharedBan{}}
		}
	}
}

// sharedBans caches what BanUntil said per scope.
type sharedBans struct {
	bans SharedBans
	mu   sync.Mutex
	seen map[string]sharedBan
	// warned is set once a failure to reach the shared bans was logged.
	warned bool
}

type sharedBan struct {
	until   time.Time // zero: not banned
	checked time.Time // when BanUntil was last asked (or is being asked)
}

// publishBan tells the other processes that scope is banned until until.
func (c *Client) publishBan(scope string, until time.Time) {
	sb := c.sharedBans
	if sb == nil {
		return
	}
	sb.mu.Lock()
	if cur := sb.seen[scope]; until.After(cur.until) {
		sb.seen[scope] = sharedBan{until: until, checked: c.clock.Now()}
	}
	sb.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), sharedOpTimeout)
	defer cancel()
	if err := sb.bans.SetBan(ctx, scope, until); err != nil {
		c.logger.Warn("top: cannot share a ban with the other processes", "scope", scope, "error", err.Error())
	}
}

// syncSharedBans shuts the local gates of scopes banned by another
// process, reading each scope at most every SharedBanRefresh. A failure to
// read is logged once and treated as no ban: the shared throttle still
// paces the calls.
func (c *Client) syncSharedBans(ctx context.Context, scopes []string) {
	sb := c.sharedBans
	if sb == nil {
		return
	}
	now := c.clock.Now()
	for _, scope := range scopes {
		sb.mu.Lock()
		cur, ok := sb.seen[scope]
		fresh := ok && now.Sub(cur.checked) < SharedBanRefresh
		if !fresh {
			// Mark it checked now: concurrent callers use the cached
			// value instead of asking too.
			cur.checked = now
			sb.seen[scope] = cur
		}
		sb.mu.Unlock()
		until := cur.until
		if !fresh {
			u, err := sb.bans.BanUntil(ctx, scope)
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				sb.mu.Lock()
				warn := !sb.warned
				sb.warned = true
				sb.mu.Unlock()
				if warn {
					c.logger.Warn("top: cannot read the bans shared with the other processes", "error", err.Error())
				}
				continue
			}
			sb.mu.Lock()
			e := sb.seen[scope]
			if u.After(e.until) || !e.until.After(now) {
				e.until = u // keep a later ban this process published meanwhile
			}
			e.checked = now
			sb.seen[scope] = e
			until = e.until
			sb.mu.Unlock()
		}
		if until.After(now) {
			c.gates.set(scope, until, sharedBanError(scope))
		}
	}
}

// sharedBanError is the error of a call held back by a ban another process
// ran into (its own error is not shared).
func sharedBanError(scope string) *Error {
	e := &Error{Code: 7, Msg: "App Call Limited", Kind: KindFlowControl,
		SubMsg: "banned: another process sharing the app's throttle ran into the ban"}
	switch {
	case scope == scopeApp:
		e.SubCode = "accesscontrol.limited-by-app-access-count"
	case strings.HasPrefix(scope, scopeAPI):
		e.Msg, e.SubCode = "API Call Limited", "accesscontrol.limited-by-api-access-count"
	case strings.HasPrefix(scope, scopeAppAPI):
		e.Msg, e.SubCode = "API Call Limited", "accesscontrol.limited-by-app-api-access-count"
	}
	return e
}

// waitShared waits for the shared limiter: each method glob matching
// method (key "method:<glob>"), then the app (key "app"), at the rates of
// the throttle, slowed by paceMargin as the local buckets are.
func (t *throttle) waitShared(ctx context.Context, method string) error {
	type wait struct {
		key string
		qps float64
	}
	t.mu.Lock()
	var waits []wait
	for _, p := range t.order {
		if b := t.methods[p]; b.qps > 0 && globMatch(p, method) {
			waits = append(waits, wait{"method:" + p, b.qps})
		}
	}
	if t.app.interval > 0 {
		waits = append(waits, wait{"app", t.app.qps})
	}
	t.mu.Unlock()
	for _, w := range waits {
		if err := t.shared.Wait(ctx, w.key, w.qps/paceMargin); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("shared throttle %s: %w", w.key, err)
		}
	}
	return nil
}
