package state

import (
	"context"
	"sort"
	"strings"
	"sync"
	"time"
)

// MemStore is an in-memory Store for tests, dry runs and embedding. It
// keeps nothing across processes.
type MemStore struct {
	mu     sync.RWMutex
	data   map[string]map[string][]byte
	closed bool
}

// NewMemStore returns an empty MemStore.
func NewMemStore() *MemStore { return &MemStore{data: map[string]map[string][]byte{}} }

// Get implements Store.
func (m *MemStore) Get(ctx context.Context, ns, key string) ([]byte, bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	if err := checkKey(ns, key); err != nil {
		return nil, false, err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return nil, false, ErrClosed
	}
	v, ok := m.data[ns][key]
	if !ok {
		return nil, false, nil
	}
	return append([]byte{}, v...), true, nil
}

// Set implements Store.
func (m *MemStore) Set(ctx context.Context, ns, key string, val []byte) error {
	return m.SetMany(ctx, ns, map[string][]byte{key: val})
}

// SetMany implements Store.
func (m *MemStore) SetMany(ctx context.Context, ns string, kv map[string][]byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := checkNS(ns); err != nil {
		return err
	}
	for k, v := range kv {
		if err := checkKV(ns, k, v); err != nil {
			return err
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	if len(kv) == 0 {
		return nil
	}
	b := m.data[ns]
	if b == nil {
		b = map[string][]byte{}
		m.data[ns] = b
	}
	for k, v := range kv {
		b[k] = append([]byte{}, v...)
	}
	return nil
}

// Delete implements Store.
func (m *MemStore) Delete(ctx context.Context, ns, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := checkKey(ns, key); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	delete(m.data[ns], key)
	return nil
}

// Keys implements Store.
func (m *MemStore) Keys(ctx context.Context, ns string) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := checkNS(ns); err != nil {
		return nil, err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return nil, ErrClosed
	}
	keys := make([]string, 0, len(m.data[ns]))
	for k := range m.data[ns] {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys, nil
}

// ListNamespaces implements Lister.
func (m *MemStore) ListNamespaces(ctx context.Context, prefix string) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	var out []string
	for ns := range m.data {
		if strings.HasPrefix(ns, prefix) {
			out = append(out, ns)
		}
	}
	sort.Strings(out)
	return out, nil
}

// Close implements Store.
func (m *MemStore) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	return nil
}

// MemLocker is an in-process Locker (leases are ignored).
type MemLocker struct {
	mu   sync.Mutex
	held map[string]bool
}

// NewMemLocker returns a MemLocker with no lock held.
func NewMemLocker() *MemLocker { return &MemLocker{held: map[string]bool{}} }

// Acquire implements Locker.
func (m *MemLocker) Acquire(ctx context.Context, name string, _ time.Duration) (Lock, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.held[name] {
		return nil, &LockedError{Name: name, Holder: "this process"}
	}
	m.held[name] = true
	return &memLock{m: m, name: name}, nil
}

type memLock struct {
	m    *MemLocker
	name string
	once sync.Once
}

func (l *memLock) Release(context.Context) error {
	l.once.Do(func() {
		l.m.mu.Lock()
		delete(l.m.held, l.name)
		l.m.mu.Unlock()
	})
	return nil
}

func (l *memLock) Lost() <-chan struct{} { return neverLost }

// Compile-time checks.
var (
	_ Store  = (*FileStore)(nil)
	_ Store  = (*RedisStore)(nil)
	_ Store  = (*MemStore)(nil)
	_ Locker = (*FileLocker)(nil)
	_ Locker = (*RedisLocker)(nil)
	_ Locker = (*MemLocker)(nil)
)
