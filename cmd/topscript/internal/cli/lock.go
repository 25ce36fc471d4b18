package cli

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/topscript/topscript/state"
)

// The --lock locks of `run`, taken in the session's [state] backend.

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

// acquireRunLock takes the --lock lock called name (session.lockName) of
// script in b, or fails with exit 4 at once when another run holds it.
func acquireRunLock(ctx context.Context, b *state.Backend, name, script string) (state.Lock, error) {
	lock, err := b.Lock(ctx, name)
	if errors.Is(err, state.ErrLocked) {
		return nil, &exitError{code: ExitLockHeld, msg: fmt.Sprintf("topscript: %v: not running %s", err, script), err: err}
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
