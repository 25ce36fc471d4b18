// Package state provides the persistent key/value stores and locks behind the
// Lua `state` module, `job.run` checkpoints, `topscript run --lock` and the
// scheduler's cross-host no-overlap.
//
// Two backends implement the same interfaces:
//
//   - File (default): an embedded bbolt database, by default
//     .topscript/state.db, with one bucket per namespace. Every write is one
//     fsynced bbolt transaction, so a store survives kill -9 with every
//     completed Set/SetMany intact. A process holds the database file open
//     (and bbolt's exclusive file lock) for as long as the store is open, so
//     on one machine two topscript processes using the same store run one
//     after the other: the second waits FileOptions.Wait and then fails with
//     an error naming the path (see ErrInUse). Locks for --lock are OS file
//     locks (github.com/gofrs/flock: flock(2) on Unix, LockFileEx on
//     Windows) on files next to the store (FileLocker); the OS frees them
//     when a process dies.
//   - Redis: a hash per namespace, SET NX PX locks with background renewal,
//     a shared GCRA rate limiter and shared bans (RedisStore, RedisLocker,
//     RedisLimiter), and leased claims on keys so that processes running
//     the same job split its rows (Claimer). Use it when several machines
//     work for one app key.
//
// MemStore and MemLocker are in-process implementations for tests, dry runs
// and embedding.
package state

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Store is a namespaced persistent key/value store. Values are opaque bytes
// (the Lua layer encodes them). Implementations are safe for concurrent use.
type Store interface {
	// Get returns the value of key in namespace ns and whether it exists.
	Get(ctx context.Context, ns, key string) ([]byte, bool, error)
	// Set stores val under key in namespace ns.
	Set(ctx context.Context, ns, key string, val []byte) error
	// SetMany stores every pair of kv in namespace ns as one atomic batch:
	// after a crash either all of them are stored or none is.
	SetMany(ctx context.Context, ns string, kv map[string][]byte) error
	// Delete removes key from namespace ns; deleting a missing key is not an error.
	Delete(ctx context.Context, ns, key string) error
	// Keys returns the keys of namespace ns in ascending byte order
	// (empty for an unknown namespace).
	Keys(ctx context.Context, ns string) ([]string, error)
	// Close releases the store. Calls after Close return ErrClosed.
	Close() error
}

// Locker hands out exclusive named locks.
type Locker interface {
	// Acquire takes the lock called name without waiting. When another
	// holder has it, the error satisfies errors.Is(err, ErrLocked).
	// Backends that need it (Redis) keep the lock alive by renewing it every
	// lease/3 in the background until Release; a holder that dies without
	// releasing loses the lock after at most lease.
	Acquire(ctx context.Context, name string, lease time.Duration) (Lock, error)
}

// Lock is a held lock.
type Lock interface {
	// Release gives the lock up. It is safe to call more than once.
	Release(ctx context.Context) error
	// Lost is closed when the lock could not be renewed (another holder may
	// have it now). It is never closed for locks that cannot be lost, and is
	// not closed by Release.
	Lost() <-chan struct{}
}

// ErrLocked is matched (errors.Is) by Acquire's error when the lock is held elsewhere.
var ErrLocked = errors.New("lock is held by another run")

// ErrInUse is matched (errors.Is) by OpenFile's error when another process
// holds the state store open for longer than FileOptions.Wait.
var ErrInUse = errors.New("state store is in use by another topscript process")

// ErrDamaged is matched (errors.Is) by the error of a file store that was
// written before and cannot be trusted now: empty, missing though its
// marker says it was created, or damaged. Such a store is never replaced
// by a new one behind the user's back: the checkpoints it held are what
// keeps a rerun from sending rows twice.
var ErrDamaged = errors.New("state store is damaged")

// DamagedError is the error of a store refused as lost or damaged
// (ErrDamaged). Its text says what is wrong and what to do.
type DamagedError struct {
	Path    string
	Problem string // "is empty (0 bytes): ...", "is damaged", ...
	Err     error  // what the storage library said, when it said something
}

// Error implements error.
func (e *DamagedError) Error() string {
	detail := ""
	if e.Err != nil {
		detail = " (" + e.Err.Error() + ")"
	}
	return fmt.Sprintf("state store %s %s%s. Its job checkpoints are what keeps a rerun from sending rows again, "+
		"so it is not replaced by a new one: restore it from a backup; or, to start afresh with every checkpoint "+
		"forgotten (rows already done would be sent again), move %s and %s aside",
		e.Path, e.Problem, detail, e.Path, markerPath(e.Path))
}

// Is reports whether target is ErrDamaged.
func (e *DamagedError) Is(target error) bool { return target == ErrDamaged }

// Unwrap returns the storage library's error.
func (e *DamagedError) Unwrap() error { return e.Err }

func damaged(path, problem string, err error) *DamagedError {
	return &DamagedError{Path: path, Problem: problem, Err: err}
}

// ErrClosed is returned by operations on a closed store.
var ErrClosed = errors.New("state store is closed")

// DefaultLease is the lease used when Acquire is given a lease <= 0.
const DefaultLease = 30 * time.Second

// LockedError is the error Acquire returns when the lock is held elsewhere.
// It matches ErrLocked with errors.Is.
type LockedError struct {
	Name   string // lock name
	Holder string // who holds it ("host pid 123"), when known
}

// Error implements error.
func (e *LockedError) Error() string {
	if e.Holder != "" {
		return fmt.Sprintf("lock %q is held by another run (%s)", e.Name, e.Holder)
	}
	return fmt.Sprintf("lock %q is held by another run", e.Name)
}

// Is reports whether target is ErrLocked.
func (e *LockedError) Is(target error) bool { return target == ErrLocked }

// MaxKeySize and MaxValueSize bound keys and values in every backend.
const (
	MaxKeySize   = 32 << 10  // 32 KiB
	MaxValueSize = 256 << 20 // 256 MiB
)

func checkNS(ns string) error {
	if ns == "" {
		return errors.New("state: namespace is empty")
	}
	if len(ns) > MaxKeySize {
		return fmt.Errorf("state: namespace is too long (%d bytes, at most %d)", len(ns), MaxKeySize)
	}
	return nil
}

func checkKey(ns, key string) error {
	if err := checkNS(ns); err != nil {
		return err
	}
	if key == "" {
		return fmt.Errorf("state: empty key in namespace %q", ns)
	}
	if len(key) > MaxKeySize {
		return fmt.Errorf("state: key in namespace %q is too long (%d bytes, at most %d)", ns, len(key), MaxKeySize)
	}
	return nil
}

func checkKV(ns, key string, val []byte) error {
	if err := checkKey(ns, key); err != nil {
		return err
	}
	if len(val) > MaxValueSize {
		return fmt.Errorf("state: value of %s/%s is too large (%d bytes, at most %d)", ns, key, len(val), MaxValueSize)
	}
	return nil
}

func lease0(lease time.Duration) time.Duration {
	if lease <= 0 {
		return DefaultLease
	}
	return lease
}

// neverLost is returned by Lost for locks that cannot be lost.
var neverLost = make(chan struct{})
