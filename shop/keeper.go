package shop

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/topscript/topscript/oauth"
	"github.com/topscript/topscript/state"
	"github.com/topscript/topscript/top"
	"github.com/topscript/topscript/toptime"
)

// Keeping sessions alive (Keeper): a refreshable token is refreshed before
// it expires, within its margin (DefaultMargin: a third of its life, at
// most an hour), at its first use there — once per shop across every
// process sharing the book. The platform kills the refresh token a refresh
// uses, so two hosts refreshing at once would leave one of them with a dead
// token; hence a refresh runs under the shop's lock (a Redis lock across a
// fleet, a file lock on one host), re-reads the record inside it (another
// host may have refreshed meanwhile), and stores its result by compare and
// swap on the record it read: a record that changed (a login meanwhile)
// is never overwritten. A process that finds the lock held goes on with
// the token it has, still valid, and reads the record again a second later
// until the new token is there.
//
// A refresh the platform refuses (the refresh token dead, the app not
// allowed to refresh) is recorded (Record.RefreshError) and not tried
// again: the token lasts until it expires. One that got no answer is tried
// again at the next use.

// DefaultMargin is how long before its expiry a token of lifetime d is
// refreshed: a third of it, at most an hour.
func DefaultMargin(d time.Duration) time.Duration { return min(time.Hour, d/3) }

// recheck is how often, at most, a process waiting for another's refresh
// reads the record again (less for a short-lived token: an eighth of its
// margin).
const recheck = time.Second

// Keeper refreshes the tokens of a Book.
type Keeper struct {
	Book *Book
	// Locker holds the refresh locks: the state backend's (Redis across
	// a fleet, file locks on one host).
	Locker    state.Locker
	Exchanger oauth.Exchanger
	Log       *slog.Logger // refreshes and refusals; nil: none
	// Now is the clock (nil: time.Now).
	Now func() time.Time
	// Margin is how long before its expiry a token of a lifetime is
	// refreshed (nil: DefaultMargin).
	Margin func(lifetime time.Duration) time.Duration
}

func (k *Keeper) now() time.Time {
	if k.Now != nil {
		return k.Now()
	}
	return time.Now()
}

// margin is how long before its expiry r's token is refreshed.
func (k *Keeper) margin(r *Record) time.Duration {
	m := DefaultMargin
	if k.Margin != nil {
		m = k.Margin
	}
	return m(r.Token.Expires.Sub(r.Token.Obtained))
}

// due reports whether r's token is within its refresh margin (or past it).
func (k *Keeper) due(r *Record, now time.Time) bool {
	return !now.Before(r.Token.Expires.Add(-k.margin(r)))
}

// recheck is how long a process that found r's refresh due, and left it to
// another, waits before reading the record again.
func (k *Keeper) recheck(r *Record) time.Duration {
	return max(10*time.Millisecond, min(recheck, k.margin(r)/8))
}

// lockName is the refresh lock of shop name.
func (k *Keeper) lockName(name string) string { return "auth-refresh." + k.Book.AppKey + "." + name }

// ErrNotRefreshable is matched (errors.Is) by Refresh's error about a
// token that cannot be refreshed.
var ErrNotRefreshable = errors.New("the session cannot be refreshed")

// Refresh refreshes the token of shop name now (auth refresh), once across
// the processes sharing the book: when another holds the shop's refresh
// lock it waits for that refresh (up to ctx) and returns its result. It
// reports whether this call refreshed.
func (k *Keeper) Refresh(ctx context.Context, name string) (*Record, bool, error) {
	r, raw, err := k.Book.get(ctx, name)
	if err != nil {
		return nil, false, err
	}
	if r == nil {
		return nil, false, k.missing(ctx, name)
	}
	if !r.Refreshable(k.now()) {
		return r, false, fmt.Errorf("shop %s: %w: %s", name, ErrNotRefreshable, whyNot(r, k.now()))
	}
	for {
		got, _, done, refreshed, err := k.refresh(ctx, name, raw, true)
		if err != nil || done {
			return got, refreshed, err
		}
		// Another process holds the lock: wait for its record.
		if err := toptime.Wall.Sleep(ctx, k.recheck(r)); err != nil {
			return r, false, fmt.Errorf("shop %s: waiting for another process's refresh: %w", name, err)
		}
	}
}

func (k *Keeper) missing(ctx context.Context, name string) error {
	names, _ := k.Book.Names(ctx)
	return notAuthorised(name, names)
}

// whyNot says why r will not be refreshed.
func whyNot(r *Record, now time.Time) string {
	_, why := r.Ends(now)
	return why
}

// refresh refreshes the record of name that was stored as seen, under the
// lock: done is false when another process holds the lock (nothing
// changed yet), else r (stored as raw) is the newest record (this call's
// refresh, another's, or a login's); refreshed says this call refreshed.
// Unless force, a record that is no longer due is left as it is.
func (k *Keeper) refresh(ctx context.Context, name string, seen []byte, force bool) (r *Record, raw []byte, done, refreshed bool, err error) {
	lock, err := k.Locker.Acquire(ctx, k.lockName(name), 0)
	if errors.Is(err, state.ErrLocked) {
		r, raw, err := k.Book.get(ctx, name)
		if err == nil && r != nil && !bytes.Equal(raw, seen) {
			return r, raw, true, false, nil // the other process's refresh is in
		}
		return r, raw, false, false, err
	}
	if err != nil {
		return nil, nil, true, false, fmt.Errorf("shop %s: taking the refresh lock: %w", name, err)
	}
	defer func() {
		rctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = lock.Release(rctx)
	}()
	cur, raw, err := k.Book.get(ctx, name)
	now := k.now()
	switch {
	case err != nil:
		return nil, nil, true, false, err
	case cur == nil:
		return nil, nil, true, false, k.missing(ctx, name)
	case !bytes.Equal(raw, seen), !force && !k.due(cur, now), !cur.Refreshable(now):
		return cur, raw, true, false, nil // refreshed (or authorised again) meanwhile, or nothing to do
	}
	tok, err := k.Exchanger.Refresh(ctx, cur.Token.RefreshToken)
	if err != nil {
		var oe *oauth.Error
		if !errors.As(err, &oe) || !oe.Refused() {
			return cur, raw, true, false, fmt.Errorf("shop %s: refreshing its session: %w", name, err)
		}
		// Refused for good: record it, so that no process tries again.
		next := *cur
		next.RefreshError = oe.Error()
		if nraw, ok, serr := k.Book.swap(ctx, name, raw, &next); serr == nil && ok {
			cur, raw = &next, nraw
		}
		k.logf(slog.LevelWarn, "shop %s: the platform refused to refresh its session (%v): it lasts until %s; %s",
			name, oe, toptime.Format(cur.Token.Expires), Reauthorise(name))
		return cur, raw, true, false, fmt.Errorf("shop %s: refreshing its session: %w", name, err)
	}
	if tok.UserID != cur.Token.UserID {
		return cur, raw, true, false, fmt.Errorf("shop %s: the refreshed token is shop %s's, not %s's: not stored", name, tok.UserID, cur.Token.UserID)
	}
	next := &Record{Name: name, Token: *tok, Authorised: cur.Authorised, Refreshed: tok.Obtained}
	nraw, ok, err := k.Book.swap(ctx, name, raw, next)
	if err != nil {
		return cur, raw, true, false, fmt.Errorf("shop %s: storing its refreshed session: %w", name, err)
	}
	if !ok {
		// A login replaced the record while the lock was held: it is the
		// newer authorisation.
		latest, lraw, gerr := k.Book.get(ctx, name)
		return latest, lraw, true, false, gerr
	}
	k.logf(slog.LevelInfo, "shop %s: session refreshed; the new one expires at %s", name, toptime.Format(tok.Expires))
	return next, nraw, true, true, nil
}

func (k *Keeper) logf(level slog.Level, format string, args ...any) {
	if k.Log != nil {
		k.Log.Log(context.Background(), level, fmt.Sprintf(format, args...))
	}
}

// Source is the session of one shop for a run (a top.SessionSource):
// the token of its record, refreshed when due, picked up when another
// process refreshed it. It remembers whether the gateway refused a
// session (26, 27, 53), for the run's last word.
type Source struct {
	k    *Keeper
	name string

	mu      sync.Mutex
	rec     *Record
	raw     []byte
	checked time.Time     // when the record was last read
	busy    chan struct{} // closed when this process's refresh in flight ends
	stale   bool          // a session was refused: read the record again
	refused *top.Error
}

// Source loads shop name's record for a run.
func (k *Keeper) Source(ctx context.Context, name string) (*Source, error) {
	r, raw, err := k.Book.get(ctx, name)
	if err != nil {
		return nil, err
	}
	if r == nil {
		return nil, k.missing(ctx, name)
	}
	return &Source{k: k, name: name, rec: r, raw: raw}, nil
}

// Name is the shop's name.
func (s *Source) Name() string { return s.name }

// Record is the shop's record as the source last read it.
func (s *Source) Record() *Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rec
}

// Session implements top.SessionSource.
func (s *Source) Session(ctx context.Context) (string, error) {
	for {
		s.mu.Lock()
		now := s.k.now()
		r := s.rec
		switch {
		case !s.stale && !s.k.due(r, now),
			// Due, but read a moment ago (another process is refreshing,
			// or the refresh failed): the token there is, until the next
			// look; an expired one is the gateway's to refuse (27).
			!s.stale && now.Sub(s.checked) < s.k.recheck(r):
			s.mu.Unlock()
			return r.Token.AccessToken, nil
		case s.busy != nil: // this process is refreshing it
			wait := s.busy
			s.mu.Unlock()
			if now.Before(r.Token.Expires) {
				return r.Token.AccessToken, nil
			}
			select {
			case <-wait:
				continue
			case <-ctx.Done():
				return "", ctx.Err()
			}
		}
		s.busy, s.stale, s.checked = make(chan struct{}), false, now
		seen := s.raw
		s.mu.Unlock()
		s.update(ctx, seen)
	}
}

// update reads the record again, refreshing it when it is due and this
// process gets the lock. When another process holds the lock and the
// token has expired, it waits for that refresh (at most refreshWait).
func (s *Source) update(ctx context.Context, seen []byte) {
	r, raw, err := s.k.Book.get(ctx, s.name)
	if err == nil && r != nil && bytes.Equal(raw, seen) && s.k.due(r, s.k.now()) && r.Refreshable(s.k.now()) {
		giveUp := s.k.now().Add(refreshWait)
		for {
			got, graw, done, _, rerr := s.k.refresh(ctx, s.name, seen, false)
			if done && rerr == nil && got != nil {
				r, raw = got, graw
				break
			}
			now := s.k.now()
			if rerr != nil || now.Before(r.Token.Expires) || now.After(giveUp) ||
				toptime.Wall.Sleep(ctx, s.k.recheck(r)) != nil {
				r = nil // failed, or still valid: go on with the token there is
				break
			}
		}
	}
	s.mu.Lock()
	if err == nil && r != nil && raw != nil {
		s.rec, s.raw = r, raw
	} // else unreadable, logged out or failed: go on with the token there is
	close(s.busy)
	s.busy = nil
	s.checked = s.k.now()
	s.mu.Unlock()
}

// refreshWait bounds how long a call with an expired token waits for
// another process's refresh.
const refreshWait = 30 * time.Second

// Rejected implements top.SessionSource: the refusal is remembered, and
// the record is read again at the next call (another process may have
// stored a newer session).
func (s *Source) Rejected(session string, e *top.Error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.refused == nil {
		c := *e
		s.refused = &c
	}
	s.stale = true
}

// Refused returns the first refusal of a session of the shop (26, 27,
// 53), or nil.
func (s *Source) Refused() *top.Error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refused
}

// Warning is what a run for the shop says at its start when the shop
// loses its session for good within WarnAhead ("" when it does not).
func (s *Source) Warning() string {
	now := s.k.now()
	if e, ok := s.Record().expiring(now, WarnAhead); ok {
		return e.Message(now)
	}
	return ""
}
