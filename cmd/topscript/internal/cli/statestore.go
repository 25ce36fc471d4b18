package cli

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/topscript/topscript/config"
	"github.com/topscript/topscript/luatop"
	"github.com/topscript/topscript/state"
)

// This file wires [state] into `run`: the store behind the state module and
// job checkpoints, the --lock locks, and the exit status of jobs with
// failed rows.

// stateBackend is the configured store and locker of a run.
type stateBackend struct {
	cfg   config.StateConfig
	store *lazyStore
}

// newStateBackend prepares the [state] backend of a session. A Redis store
// the session opened at start (it shares the client's throttle) is used as
// it is; otherwise nothing is opened until a script uses state or job, or
// --lock asks for a lock.
func newStateBackend(s *session) *stateBackend {
	cfg, appKey := s.cfg.State, s.appKey()
	b := &stateBackend{cfg: cfg}
	b.store = &lazyStore{open: func(ctx context.Context) (state.Store, error) {
		if cfg.Backend == config.StateRedis {
			if s.redis != nil {
				return nopClose{s.redis}, nil // the session closes it
			}
			st, err := state.OpenRedis(ctx, cfg.RedisURL, appKey)
			if err != nil {
				return nil, err
			}
			st.SetLease(cfg.LockLease)
			return st, nil
		}
		st, err := state.OpenFile(b.path(), state.FileOptions{})
		if err != nil {
			return nil, err
		}
		return st, nil
	}}
	return b
}

// path is the file store's path.
func (b *stateBackend) path() string {
	if b.cfg.Path == "" {
		return config.DefaultStatePath
	}
	return b.cfg.Path
}

// Close closes the store if it was opened.
func (b *stateBackend) Close() error { return b.store.Close() }

// locker returns the locker of the backend: flock files beside the store
// file, or Redis locks shared by every host of the app.
func (b *stateBackend) locker(ctx context.Context) (state.Locker, error) {
	if b.cfg.Backend == config.StateRedis {
		st, err := b.store.get(ctx)
		if err != nil {
			return nil, err
		}
		var rs *state.RedisStore
		switch x := st.(type) {
		case *state.RedisStore:
			rs = x
		case nopClose:
			rs = x.RedisStore
		default:
			return nil, errors.New("state: redis backend without a redis store")
		}
		return rs.Locker(), nil
	}
	return state.NewFileLocker(state.LockDirFor(b.path())), nil
}

// lockName is the --lock name of a script: its file name without the
// extension ("scripts/bulk_price.lua" → "bulk_price"), so that the same
// script shares one lock wherever it is started from, on every host of a
// Redis backend.
func lockName(script string) string {
	base := filepath.Base(script)
	if ext := filepath.Ext(base); ext != "" && ext != base {
		base = strings.TrimSuffix(base, ext)
	}
	return base
}

// acquireRunLock takes the --lock lock of script, or fails with exit 4 at
// once when another run holds it.
func (b *stateBackend) acquireRunLock(ctx context.Context, script string) (state.Lock, error) {
	l, err := b.locker(ctx)
	if err != nil {
		return nil, fmt.Errorf("--lock: %w", err)
	}
	name := lockName(script)
	lock, err := l.Acquire(ctx, name, b.cfg.LockLease) // <= 0: state.DefaultLease
	if errors.Is(err, state.ErrLocked) {
		return nil, &exitError{code: ExitLockHeld, msg: fmt.Sprintf("topscript: %v: not running %s", err, script)}
	}
	if err != nil {
		return nil, fmt.Errorf("--lock %s: %w", name, err)
	}
	return lock, nil
}

// releaseLock releases a run lock, bounded in time.
func releaseLock(lock state.Lock) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = lock.Release(ctx)
}

// lazyStore is a state.Store opened on first use and kept open until
// Close. A file store holds its database file exclusively while open, so a
// run that never touches state leaves it free for other runs.
type lazyStore struct {
	open func(ctx context.Context) (state.Store, error)

	mu     sync.Mutex
	st     state.Store
	err    error
	closed bool
}

func (s *lazyStore) get(ctx context.Context) (state.Store, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, state.ErrClosed
	}
	if s.st == nil && s.err == nil {
		s.st, s.err = s.open(ctx)
	}
	return s.st, s.err
}

// Get implements state.Store.
func (s *lazyStore) Get(ctx context.Context, ns, key string) ([]byte, bool, error) {
	st, err := s.get(ctx)
	if err != nil {
		return nil, false, err
	}
	return st.Get(ctx, ns, key)
}

// Set implements state.Store.
func (s *lazyStore) Set(ctx context.Context, ns, key string, val []byte) error {
	st, err := s.get(ctx)
	if err != nil {
		return err
	}
	return st.Set(ctx, ns, key, val)
}

// SetMany implements state.Store.
func (s *lazyStore) SetMany(ctx context.Context, ns string, kv map[string][]byte) error {
	st, err := s.get(ctx)
	if err != nil {
		return err
	}
	return st.SetMany(ctx, ns, kv)
}

// Delete implements state.Store.
func (s *lazyStore) Delete(ctx context.Context, ns, key string) error {
	st, err := s.get(ctx)
	if err != nil {
		return err
	}
	return st.Delete(ctx, ns, key)
}

// Keys implements state.Store.
func (s *lazyStore) Keys(ctx context.Context, ns string) ([]string, error) {
	st, err := s.get(ctx)
	if err != nil {
		return nil, err
	}
	return st.Keys(ctx, ns)
}

// Claim implements state.Claimer: the store's claims, or every claim
// granted by a store that is not shared.
func (s *lazyStore) Claim(ctx context.Context, ns, key, token string, lease time.Duration) (bool, error) {
	st, err := s.get(ctx)
	if err != nil {
		return false, err
	}
	if c, ok := st.(state.Claimer); ok {
		return c.Claim(ctx, ns, key, token, lease)
	}
	return true, nil
}

// Unclaim implements state.Claimer.
func (s *lazyStore) Unclaim(ctx context.Context, ns, key, token string) error {
	st, err := s.get(ctx)
	if err != nil {
		return err
	}
	if c, ok := st.(state.Claimer); ok {
		return c.Unclaim(ctx, ns, key, token)
	}
	return nil
}

// nopClose is a Redis store owned by the session: the run's backend uses
// it without closing it.
type nopClose struct{ *state.RedisStore }

// Close implements state.Store; the session closes the store.
func (nopClose) Close() error { return nil }

// Close implements state.Store.
func (s *lazyStore) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	if s.st != nil {
		return s.st.Close()
	}
	return nil
}

// jobTracker collects the summaries of a run's jobs.
type jobTracker struct {
	mu   sync.Mutex
	jobs []luatop.JobSummary
}

func (t *jobTracker) add(s luatop.JobSummary) {
	t.mu.Lock()
	t.jobs = append(t.jobs, s)
	t.mu.Unlock()
}

// failed returns exit status 3 with a message when a finished job left
// failed or unknown rows, else nil.
func (t *jobTracker) failed() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	var lines []string
	for _, s := range t.jobs {
		if !s.NeedsAttention() || s.Interrupted {
			continue
		}
		var parts []string
		if s.Failed > 0 {
			parts = append(parts, fmt.Sprintf("%d failed", s.Failed))
		}
		if s.Unknown > 0 {
			parts = append(parts, fmt.Sprintf("%d with an unknown outcome (not re-sent: verify them)", s.Unknown))
		}
		line := fmt.Sprintf("topscript: job %s: %s of %d rows", s.Name, strings.Join(parts, ", "), s.Total)
		if s.Report != "" {
			line += "; see " + s.Report
		}
		lines = append(lines, line)
	}
	if len(lines) == 0 {
		return nil
	}
	return &exitError{code: ExitJobFailed, msg: strings.Join(lines, "\n")}
}
