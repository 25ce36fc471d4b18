package state

import (
	"bytes"
	"context"
	"fmt"
	"sync"

	"github.com/redis/go-redis/v9"
	bolt "go.etcd.io/bbolt"
)

// Swapper is implemented by stores that replace a value only while it is
// still the one the caller read (compare and swap), as one atomic step
// among every process sharing the store: every store of this package.
// Package shop swaps a shop's token this way, since a refresh kills the
// refresh token it used — two hosts refreshing at once must not both
// store their result.
type Swapper interface {
	// Swap stores val under key of ns when the key holds old now (old nil:
	// when the key is absent; an empty non-nil old is an empty value) and
	// reports whether it did. A nil val deletes the key.
	Swap(ctx context.Context, ns, key string, old, val []byte) (bool, error)
}

// Swap is s's Swap (Swapper); a store that cannot swap (an embedder's)
// is an error, never an unguarded write.
func Swap(ctx context.Context, s Store, ns, key string, old, val []byte) (bool, error) {
	sw, ok := s.(Swapper)
	if !ok {
		return false, fmt.Errorf("state: a %T cannot compare and swap", s)
	}
	return sw.Swap(ctx, ns, key, old, val)
}

// same reports whether the current value (found or not) is old.
func same(cur []byte, found bool, old []byte) bool {
	if old == nil {
		return !found
	}
	return found && bytes.Equal(cur, old)
}

// Swap implements Swapper.
func (m *MemStore) Swap(ctx context.Context, ns, key string, old, val []byte) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	if err := checkKV(ns, key, val); err != nil {
		return false, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return false, ErrClosed
	}
	cur, found := m.data[ns][key]
	if !same(cur, found, old) {
		return false, nil
	}
	if val == nil {
		delete(m.data[ns], key)
		return true, nil
	}
	if m.data[ns] == nil {
		m.data[ns] = map[string][]byte{}
	}
	m.data[ns][key] = append([]byte{}, val...)
	return true, nil
}

// Swap implements Swapper in one fsynced transaction.
func (s *FileStore) Swap(ctx context.Context, ns, key string, old, val []byte) (bool, error) {
	if err := checkKV(ns, key, val); err != nil {
		return false, err
	}
	swapped := false
	err := s.update(ctx, func(tx *bolt.Tx) error {
		swapped = false
		b := tx.Bucket([]byte(ns))
		var cur []byte
		if b != nil {
			cur = b.Get([]byte(key))
		}
		if !same(cur, cur != nil, old) {
			return nil
		}
		swapped = true
		if val == nil {
			if b == nil {
				return nil
			}
			return b.Delete([]byte(key))
		}
		b, err := tx.CreateBucketIfNotExists([]byte(ns))
		if err != nil {
			return err
		}
		return b.Put([]byte(key), nonNil(val))
	})
	if err != nil {
		return false, err
	}
	return swapped, nil
}

// swapScript replaces the field ARGV[1] of the hash KEYS[1] when it holds
// ARGV[3] (ARGV[2] "1": when it is absent), with ARGV[5] (ARGV[4] "1":
// deleting it), as one atomic step; 1 when it did. It is built on first
// use, not at start-up.
var swapScript = sync.OnceValue(func() *redis.Script {
	return redis.NewScript(`
local cur = redis.call("HGET", KEYS[1], ARGV[1])
if ARGV[2] == "1" then
  if cur then return 0 end
elseif cur ~= ARGV[3] then
  return 0
end
if ARGV[4] == "1" then
  redis.call("HDEL", KEYS[1], ARGV[1])
else
  redis.call("HSET", KEYS[1], ARGV[1], ARGV[5])
end
return 1`)
})

// Swap implements Swapper with a script Redis runs atomically.
func (s *RedisStore) Swap(ctx context.Context, ns, key string, old, val []byte) (bool, error) {
	if err := checkKV(ns, key, val); err != nil {
		return false, err
	}
	flag := func(b bool) string {
		if b {
			return "1"
		}
		return "0"
	}
	n, err := swapScript().Run(ctx, s.client, []string{s.nsKey(ns)},
		key, flag(old == nil), nonNil(old), flag(val == nil), nonNil(val)).Int()
	if err != nil {
		return false, s.wrap("swap", err)
	}
	return n == 1, nil
}

// Swap implements Swapper in the scope.
func (s *scopedStore) Swap(ctx context.Context, ns, key string, old, val []byte) (bool, error) {
	return Swap(ctx, s.Store, s.prefix+ns, key, old, val)
}

// Swap implements Swapper in the resolved scope.
func (l *lazyScoped) Swap(ctx context.Context, ns, key string, old, val []byte) (bool, error) {
	s, err := l.store(ctx)
	if err != nil {
		return false, err
	}
	return Swap(ctx, s, ns, key, old, val)
}
