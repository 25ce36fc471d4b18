package state

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/gofrs/flock"
)

// FileLocker is a Locker for one machine: each lock is an exclusive OS file
// lock on dir/<name>.lock (e.g. .topscript/locks/bulk_price.lock), taken
// with github.com/gofrs/flock: flock(2) on Unix, LockFileEx on Windows.
// Acquire never waits; the OS releases the lock when the holding process
// exits or is killed, so a crashed holder never leaves a stale lock. Lock
// files are kept after release (removing them would race with other
// acquirers). Who holds a lock is written beside it, in <name>.lock.holder
// (Windows does not let another process read a locked byte range), for the
// message of whoever tries next. Leases are ignored: a file lock cannot be
// lost while its process lives.
type FileLocker struct {
	dir string
}

// NewFileLocker returns a FileLocker keeping its lock files in dir, which is
// created on first use.
func NewFileLocker(dir string) *FileLocker { return &FileLocker{dir: dir} }

// LockDirFor returns the conventional lock directory for a file store path:
// "locks" beside it (.topscript/state.db → .topscript/locks).
func LockDirFor(storePath string) string {
	return filepath.Join(filepath.Dir(storePath), "locks")
}

// Acquire implements Locker.
func (l *FileLocker) Acquire(ctx context.Context, name string, _ time.Duration) (Lock, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if name == "" {
		return nil, errors.New("state: lock name is empty")
	}
	if err := os.MkdirAll(l.dir, 0o755); err != nil {
		return nil, fmt.Errorf("state: cannot create lock directory %s: %w", l.dir, err)
	}
	path := filepath.Join(l.dir, lockFileName(name))
	fl := flock.New(path) // opened with O_CLOEXEC: children never inherit it
	got, err := fl.TryLock()
	if err != nil {
		fl.Close()
		return nil, fmt.Errorf("state: cannot lock %s: %w", path, err)
	}
	holderPath := path + ".holder"
	if !got {
		holder, _ := os.ReadFile(holderPath)
		return nil, &LockedError{Name: name, Holder: strings.TrimSpace(string(holder))}
	}
	_ = os.WriteFile(holderPath, []byte(holderID()+"\n"), 0o644)
	return &fileLock{fl: fl, holder: holderPath}, nil
}

type fileLock struct {
	mu     sync.Mutex
	fl     *flock.Flock // nil once released
	holder string
}

func (l *fileLock) Release(context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.fl == nil {
		return nil
	}
	_ = os.WriteFile(l.holder, nil, 0o644)
	err := l.fl.Unlock() // unlocks and closes the file
	l.fl = nil
	return err
}

func (l *fileLock) Lost() <-chan struct{} { return neverLost }

// lockFileName maps a lock name to a safe file name: names made of
// [A-Za-z0-9._-] are kept; others are cleaned and get a short hash so that
// different names never share a file.
func lockFileName(name string) string {
	safe := true
	var b strings.Builder
	for _, r := range name {
		if r < 128 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
			safe = false
		}
	}
	s := b.String()
	if strings.HasPrefix(s, ".") {
		s = "_" + s[1:]
		safe = false
	}
	if len(s) > 100 {
		s = s[:100]
		safe = false
	}
	if !safe {
		sum := sha256.Sum256([]byte(name))
		s += "-" + hex.EncodeToString(sum[:4])
	}
	return s + ".lock"
}

// holderID describes this process for "held by" messages.
func holderID() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "unknown-host"
	}
	return fmt.Sprintf("%s pid %d", host, os.Getpid())
}
