package state

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
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
	// Brief opens the database for each operation and closes it after
	// (Lazy is implied, and a failure to open is that operation's alone):
	// processes on one machine share the store one operation at a time
	// instead of one process at a time, each waiting at most Wait for the
	// others' operation. It suits a small store read at times by many
	// processes (the shops' tokens, Backend.Tokens); operations of one
	// process on it run one at a time.
	Brief bool
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
	// broken is set once bbolt failed inside a transaction on a damaged
	// file: every later operation returns it.
	broken atomic.Pointer[DamagedError]
	// mapped lets the database's mapped pages go now and then (filemap.go).
	mapped mapped
}

// OpenFile opens (creating it and its parent directories if needed) the
// bbolt state store at path; with opts.Lazy, at its first use.
func OpenFile(path string, opts FileOptions) (*FileStore, error) {
	if path == "" {
		return nil, errors.New("state: store path is empty")
	}
	s := &FileStore{path: path, opts: opts}
	if opts.Lazy || opts.Brief {
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
	defer s.guard(&err)()
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
	if err := s.createIfNew(mode); err != nil {
		return err
	}
	db, err := bolt.Open(s.path, mode, &bolt.Options{Timeout: wait, OpenFile: s.openExisting})
	if err != nil {
		return s.openError(err, wait)
	}
	s.db = db
	if err := writeMarker(s.path); err != nil { // a store of an older version gets its marker now
		db.Close()
		s.db = nil
		return fmt.Errorf("state: cannot record that state store %s exists (%s): %w", s.path, markerPath(s.path), err)
	}
	return nil
}

// A store's existence is recorded in a marker file beside it
// (<path>.created), written once the store is created (or first opened by
// a version that writes markers): a store whose marker exists but whose
// file is gone, or is empty, was lost — it is refused, never taken for a
// new one. bbolt never leaves a store empty: createIfNew builds a new store
// under a temporary name and links it into place complete, so a
// zero-length file is always a truncated one.

// markerPath is the marker file of the store at path.
func markerPath(path string) string { return path + ".created" }

// createIfNew creates the store when neither it nor its marker exists; a
// store that is missing though its marker exists is refused.
func (s *FileStore) createIfNew(mode os.FileMode) error {
	fi, err := os.Stat(s.path)
	switch {
	case err == nil && fi.IsDir():
		return fmt.Errorf("state: state store %s is a directory, not a file", s.path)
	case err == nil && fi.Size() == 0:
		return damaged(s.path, "is empty (0 bytes): a state store is never empty once created, so it was truncated or overwritten", nil)
	case err == nil:
		return nil
	case !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("state: cannot open state store %s: %w", s.path, err)
	}
	if _, merr := os.Stat(markerPath(s.path)); merr == nil {
		return damaged(s.path, "is missing, though "+markerPath(s.path)+" records that it was created: it was deleted or moved", nil)
	}
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	tmp := fmt.Sprintf("%s.new-%x", s.path, rnd)
	db, err := bolt.Open(tmp, mode, &bolt.Options{Timeout: time.Second})
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("state: cannot create state store %s: %w", s.path, err)
	}
	if err := db.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("state: cannot create state store %s: %w", s.path, err)
	}
	defer os.Remove(tmp)
	if err := os.Link(tmp, s.path); err != nil && !errors.Is(err, fs.ErrExist) { // exists: another process created it first
		if err := os.Rename(tmp, s.path); err != nil { // a file system without hard links
			return fmt.Errorf("state: cannot create state store %s: %w", s.path, err)
		}
	}
	if err := writeMarker(s.path); err != nil {
		return fmt.Errorf("state: cannot record that state store %s exists (%s): %w", s.path, markerPath(s.path), err)
	}
	return nil
}

// openExisting is bbolt's OpenFile: it never creates the file (createIfNew
// does) and refuses an empty one, which bbolt would initialise as new.
func (s *FileStore) openExisting(name string, flag int, perm os.FileMode) (*os.File, error) {
	f, err := os.OpenFile(name, flag&^os.O_CREATE, perm)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, damaged(s.path, "disappeared while it was being opened: it was deleted or moved", nil)
		}
		return nil, err
	}
	if fi, err := f.Stat(); err == nil && fi.Size() == 0 {
		f.Close()
		return nil, damaged(s.path, "is empty (0 bytes): a state store is never empty once created, so it was truncated or overwritten", nil)
	}
	return f, nil
}

// writeMarker writes the marker of the store at path unless it exists.
func writeMarker(path string) error {
	m := markerPath(path)
	if _, err := os.Stat(m); err == nil {
		return nil
	}
	f, err := os.OpenFile(m, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(f, "topscript state store %s created (first seen) %s.\n"+
		"While this file exists, a missing or empty %s is refused instead of being taken for a new store.\n",
		filepath.Base(path), time.Now().UTC().Format(time.RFC3339), filepath.Base(path))
	if serr := f.Sync(); err == nil {
		err = serr
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		syncDir(filepath.Dir(path))
	}
	return err
}

// syncDir makes the directory entries of dir durable (best effort: not
// every platform can fsync a directory).
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}

// openError classifies bbolt's refusal to open the store: held by another
// process, not readable, or damaged.
func (s *FileStore) openError(err error, wait time.Duration) error {
	var de *DamagedError
	switch {
	case errors.As(err, &de):
		return de
	case errors.Is(err, berrors.ErrTimeout):
		return &inUseError{path: s.path, wait: wait}
	case errors.Is(err, fs.ErrPermission):
		return fmt.Errorf("state: cannot open state store %s: %w", s.path, err)
	}
	return damaged(s.path, "cannot be read as a state store", err)
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

// hold takes the store for one operation and returns its release: shared
// with the process's other operations, or alone with FileOptions.Brief
// (whose operation opens and closes the database).
func (s *FileStore) hold() func() {
	if s.opts.Brief {
		s.mu.Lock()
		return s.mu.Unlock
	}
	s.mu.RLock()
	return s.mu.RUnlock
}

// shutBrief closes the database after an operation of a Brief store, and
// forgets a failure to open it, which the next operation tries again.
func (s *FileStore) shutBrief() {
	if !s.opts.Brief {
		return
	}
	s.openMu.Lock()
	defer s.openMu.Unlock()
	if s.db != nil && s.broken.Load() == nil {
		_ = s.db.Close()
	}
	s.db, s.openErr = nil, nil
}

// view and update guard against use after Close and turn bbolt panics
// (e.g. a corrupted file) into errors.
func (s *FileStore) view(ctx context.Context, fn func(*bolt.Tx) error) (err error) {
	if err := ctx.Err(); err != nil {
		return err
	}
	defer s.hold()()
	if s.closed {
		return ErrClosed
	}
	if de := s.broken.Load(); de != nil {
		return de
	}
	defer s.shutBrief()
	if err := s.open(); err != nil {
		return err
	}
	defer s.guard(&err)()
	if err := s.db.View(s.ticked(fn)); err != nil {
		return s.txError(err)
	}
	return nil
}

func (s *FileStore) update(ctx context.Context, fn func(*bolt.Tx) error) (err error) {
	if err := ctx.Err(); err != nil {
		return err
	}
	defer s.hold()()
	if s.closed {
		return ErrClosed
	}
	if de := s.broken.Load(); de != nil {
		return de
	}
	defer s.shutBrief()
	if err := s.open(); err != nil {
		return err
	}
	defer s.guard(&err)()
	if err := s.db.Update(s.ticked(fn)); err != nil {
		if te := s.txError(err); te != err {
			return te
		}
		return fmt.Errorf("state: write %s: %w", s.path, err)
	}
	return nil
}

// ticked is fn counted as one operation of the store (mapped.tick) after
// it ran.
func (s *FileStore) ticked(fn func(*bolt.Tx) error) func(*bolt.Tx) error {
	return func(tx *bolt.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		s.mapped.tick(tx)
		return nil
	}
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
			if len(k) == 0 || len(k) > MaxKeySize {
				return damaged(s.path, "is damaged: it holds a key no store writes", nil) // checkKey refuses such keys
			}
			if v != nil {
				keys = append(keys, string(k))
				if len(keys)%(releaseEvery*64) == 0 {
					releaseMapped(tx) // a big namespace is not held mapped whole
				}
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
			if len(name) == 0 || len(name) > MaxKeySize {
				return damaged(s.path, "is damaged: it holds a namespace no store writes", nil)
			}
			names = append(names, string(name))
			return nil
		})
	})
	return names, err
}

// ListNamespaces implements Lister.
func (s *FileStore) ListNamespaces(ctx context.Context, prefix string) ([]string, error) {
	all, err := s.Namespaces(ctx)
	if err != nil {
		return nil, err
	}
	out := all[:0]
	for _, n := range all {
		if strings.HasPrefix(n, prefix) {
			out = append(out, n)
		}
	}
	return out, nil
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
	if s.broken.Load() != nil {
		// bbolt failed mid-transaction and may still hold its locks: close
		// in the background rather than wait for them forever.
		done := make(chan struct{})
		go func() { s.db.Close(); close(done) }()
		select {
		case <-done:
		case <-time.After(time.Second):
		}
		return nil
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

// guard makes a fault or panic inside bbolt an error: bbolt panics on
// pages that are not what they should be ("invalid freelist page", slice
// bounds out of range on a cut file), and a read past the end of a
// truncated file is a memory fault, which SetPanicOnFault turns into a
// panic. Use it as defer s.guard(&err)().
func (s *FileStore) guard(err *error) func() {
	old := debug.SetPanicOnFault(true)
	return func() {
		debug.SetPanicOnFault(old)
		if r := recover(); r != nil {
			de := damaged(s.path, "is damaged: its pages do not hold a valid database", nil)
			s.broken.CompareAndSwap(nil, de) // bbolt may hold its locks: no further use
			*err = s.broken.Load()
		}
	}
}

// txError is err as a damage error when bbolt found the file damaged
// inside a transaction, else err itself.
func (s *FileStore) txError(err error) error {
	var de *DamagedError
	if errors.As(err, &de) {
		return de
	}
	for _, d := range []error{berrors.ErrInvalid, berrors.ErrChecksum, berrors.ErrVersionMismatch, berrors.ErrInvalidMapping} {
		if errors.Is(err, d) {
			return damaged(s.path, "is damaged", err)
		}
	}
	return err
}
