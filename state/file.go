package state

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// DefaultWait is how long OpenFile waits for another process to close the
// store when FileOptions.Wait is zero.
const DefaultWait = 3 * time.Second

// FileOptions configures OpenFile.
type FileOptions struct {
	// Wait is how long to wait for another process holding the store to
	// close it: 0 means DefaultWait, a negative value means do not wait.
	Wait time.Duration
	// Mode is the permission of a new database file (default 0600).
	Mode os.FileMode
	// Lazy opens the database at the first operation instead of at once
	// (a failure to open is then that operation's error, and every later
	// one's): a process that never touches the store leaves the file free
	// for other processes.
	Lazy bool
}

// FileStore is a Store in one bbolt file with a bucket per namespace. Every
// write is a single fsynced transaction, so completed writes survive a crash
// (kill -9, power loss) and a batch is never half-applied.
//
// The process keeps the file (and bbolt's exclusive file lock) for as long as
// the store is open: on one machine, runs that share a store are serialized
// (the second OpenFile waits FileOptions.Wait, then fails with ErrInUse).
// Several machines that must run concurrently share state through Redis.
type FileStore struct {
	path string
	opts FileOptions

	openMu  sync.Mutex
	db      *bolt.DB // nil until opened (FileOptions.Lazy)
	openErr error

	mu     sync.RWMutex
	closed bool
}

// OpenFile opens (creating it and its parent directories if needed) the
// bbolt state store at path; with opts.Lazy, at its first use.
func OpenFile(path string, opts FileOptions) (*FileStore, error) {
	if path == "" {
		return nil, errors.New("state: store path is empty")
	}
	s := &FileStore{path: path, opts: opts}
	if opts.Lazy {
		return s, nil
	}
	if err := s.open(); err != nil {
		return nil, err
	}
	return s, nil
}

// open opens the database, once; a failure is kept and returned again.
func (s *FileStore) open() (err error) {
	s.openMu.Lock()
	defer s.openMu.Unlock()
	if s.db != nil || s.openErr != nil {
		return s.openErr
	}
	defer func() { s.openErr = err }()
	defer recoverErr(&err, "open state store "+s.path)
	wait := s.opts.Wait
	switch {
	case wait == 0:
		wait = DefaultWait
	case wait < 0:
		wait = time.Nanosecond // bbolt: 0 would mean "wait forever"
	}
	mode := s.opts.Mode
	if mode == 0 {
		mode = 0o600
	}
	if dir := filepath.Dir(s.path); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("state: cannot create directory for state store %s: %w", s.path, err)
		}
	}
	db, err := bolt.Open(s.path, mode, &bolt.Options{Timeout: wait})
	if err != nil {
		if errors.Is(err, berrors.ErrTimeout) {
			return &inUseError{path: s.path, wait: wait}
		}
		return fmt.Errorf("state: cannot open state store %s: %w", s.path, err)
	}
	s.db = db
	return nil
}

type inUseError struct {
	path string
	wait time.Duration
}

func (e *inUseError) Error() string {
	return fmt.Sprintf("state store %s is in use by another topscript process (waited %s); "+
		"runs sharing a file store on one machine run one at a time", e.path, e.wait.Round(time.Millisecond))
}

func (e *inUseError) Is(target error) bool { return target == ErrInUse }

// Path returns the database file path.
func (s *FileStore) Path() string { return s.path }

// view and update guard against use after Close and turn bbolt panics
// (e.g. a corrupted file) into errors.
func (s *FileStore) view(ctx context.Context, fn func(*bolt.Tx) error) (err error) {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return ErrClosed
	}
	if err := s.open(); err != nil {
		return err
	}
	defer recoverErr(&err, "read state store "+s.path)
	return s.db.View(fn)
}

func (s *FileStore) update(ctx context.Context, fn func(*bolt.Tx) error) (err error) {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return ErrClosed
	}
	if err := s.open(); err != nil {
		return err
	}
	defer recoverErr(&err, "write state store "+s.path)
	if err := s.db.Update(fn); err != nil {
		return fmt.Errorf("state: write %s: %w", s.path, err)
	}
	return nil
}

// Get implements Store.
func (s *FileStore) Get(ctx context.Context, ns, key string) ([]byte, bool, error) {
	if err := checkKey(ns, key); err != nil {
		return nil, false, err
	}
	var out []byte
	var found bool
	err := s.view(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(ns))
		if b == nil {
			return nil
		}
		k, v := b.Cursor().Seek([]byte(key))
		if k == nil || string(k) != key || v == nil { // v == nil: a nested bucket
			return nil
		}
		found = true
		out = append([]byte{}, v...) // v is only valid inside the transaction
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	return out, found, nil
}

// Set implements Store.
func (s *FileStore) Set(ctx context.Context, ns, key string, val []byte) error {
	if err := checkKV(ns, key, val); err != nil {
		return err
	}
	return s.update(ctx, func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists([]byte(ns))
		if err != nil {
			return err
		}
		return b.Put([]byte(key), nonNil(val))
	})
}

// SetMany implements Store: all pairs are written in one transaction.
func (s *FileStore) SetMany(ctx context.Context, ns string, kv map[string][]byte) error {
	if err := checkNS(ns); err != nil {
		return err
	}
	for k, v := range kv {
		if err := checkKV(ns, k, v); err != nil {
			return err
		}
	}
	if len(kv) == 0 {
		return nil
	}
	return s.update(ctx, func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists([]byte(ns))
		if err != nil {
			return err
		}
		for k, v := range kv {
			if err := b.Put([]byte(k), nonNil(v)); err != nil {
				return err
			}
		}
		return nil
	})
}

// Delete implements Store.
func (s *FileStore) Delete(ctx context.Context, ns, key string) error {
	if err := checkKey(ns, key); err != nil {
		return err
	}
	return s.update(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(ns))
		if b == nil {
			return nil
		}
		return b.Delete([]byte(key))
	})
}

// Keys implements Store.
func (s *FileStore) Keys(ctx context.Context, ns string) ([]string, error) {
	if err := checkNS(ns); err != nil {
		return nil, err
	}
	keys := []string{}
	err := s.view(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(ns))
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			if v != nil {
				keys = append(keys, string(k))
			}
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	sort.Strings(keys) // bbolt already orders by bytes; keep the contract explicit
	return keys, nil
}

// Namespaces returns the namespaces that hold data, sorted.
func (s *FileStore) Namespaces(ctx context.Context) ([]string, error) {
	names := []string{}
	err := s.view(ctx, func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, _ *bolt.Bucket) error {
			names = append(names, string(name))
			return nil
		})
	})
	return names, err
}

// Close implements Store. It waits for running operations and releases the file.
func (s *FileStore) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if s.db == nil {
		return nil // never opened
	}
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("state: close %s: %w", s.path, err)
	}
	return nil
}

func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// recoverErr turns a panic in a storage library into an error.
func recoverErr(err *error, what string) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("state: %s: internal error: %v", what, r)
	}
}
