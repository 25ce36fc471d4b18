package state

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"
)

// Scoped returns a view of s in which every namespace is prefixed by scope
// ("<scope>/<ns>"), so that several apps or shops sharing one store never
// see each other's state or checkpoints. An empty scope returns s itself.
// Package shop names the scope of a shop.
func Scoped(s Store, scope string) Store {
	if scope == "" {
		return s
	}
	return &scopedStore{Store: s, prefix: scope + "/"}
}

type scopedStore struct {
	Store
	prefix string
}

func (s *scopedStore) Get(ctx context.Context, ns, key string) ([]byte, bool, error) {
	return s.Store.Get(ctx, s.prefix+ns, key)
}

func (s *scopedStore) Set(ctx context.Context, ns, key string, val []byte) error {
	return s.Store.Set(ctx, s.prefix+ns, key, val)
}

func (s *scopedStore) SetMany(ctx context.Context, ns string, kv map[string][]byte) error {
	return s.Store.SetMany(ctx, s.prefix+ns, kv)
}

func (s *scopedStore) Delete(ctx context.Context, ns, key string) error {
	return s.Store.Delete(ctx, s.prefix+ns, key)
}

func (s *scopedStore) Keys(ctx context.Context, ns string) ([]string, error) {
	return s.Store.Keys(ctx, s.prefix+ns)
}

// ListNamespaces implements Lister within the scope.
func (s *scopedStore) ListNamespaces(ctx context.Context, prefix string) ([]string, error) {
	l, ok := s.Store.(Lister)
	if !ok {
		return nil, nil
	}
	names, err := l.ListNamespaces(ctx, s.prefix+prefix)
	for i, n := range names {
		names[i] = strings.TrimPrefix(n, s.prefix)
	}
	return names, err
}

// Lister is implemented by stores that can list their namespaces (every
// store of this package): Migrate needs it.
type Lister interface {
	// ListNamespaces returns the namespaces whose name starts with prefix
	// and that hold keys (or did: a namespace emptied by deletes may be
	// listed), sorted.
	ListNamespaces(ctx context.Context, prefix string) ([]string, error)
}

// Migrate carries what s holds under the scope from over to the scope to
// (every namespace "<from>/<ns>" into "<to>/<ns>"), keeping what to holds
// already, then removes it from from: run again, it finds nothing left to
// carry (a crash in between only repeats the copy). It returns the number
// of keys carried over. A store that is not a Lister carries nothing.
func Migrate(ctx context.Context, s Store, from, to string) (int, error) {
	l, ok := s.(Lister)
	if !ok || from == "" || from == to {
		return 0, nil
	}
	names, err := l.ListNamespaces(ctx, from+"/")
	if err != nil {
		return 0, err
	}
	moved := 0
	for _, ns := range names {
		dst := strings.TrimPrefix(ns, from+"/")
		if to != "" {
			dst = to + "/" + dst
		}
		keys, err := s.Keys(ctx, ns)
		if err != nil {
			return moved, err
		}
		if len(keys) == 0 {
			continue
		}
		copied := map[string][]byte{}
		gone := make(map[string][]byte, len(keys))
		for _, k := range keys {
			gone[k] = nil
			if _, found, err := s.Get(ctx, dst, k); err != nil {
				return moved, err
			} else if found {
				continue // the new scope's own record is newer
			}
			v, found, err := s.Get(ctx, ns, k)
			if err != nil {
				return moved, err
			}
			if found {
				copied[k] = v
			}
		}
		if err := s.SetMany(ctx, dst, copied); err != nil {
			return moved, fmt.Errorf("carrying %s over to %s: %w", ns, dst, err)
		}
		if _, err := Commit(ctx, s, ns, gone, nil); err != nil {
			return moved, fmt.Errorf("removing %s once carried over: %w", ns, err)
		}
		moved += len(copied)
	}
	return moved, nil
}

// LazyScoped returns a view of s scoped like Scoped, whose scope is
// resolved by resolve at the first operation (package shop asks the
// platform which shop a session belongs to: a run that never touches
// state never asks). A failure to resolve is that operation's error and
// is tried again at the next; the first success is kept.
func LazyScoped(s Store, resolve func(context.Context) (string, error)) Store {
	return &lazyScoped{base: s, resolve: resolve}
}

type lazyScoped struct {
	base    Store
	resolve func(context.Context) (string, error)
	mu      sync.Mutex
	scoped  Store
}

func (l *lazyScoped) store(ctx context.Context) (Store, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.scoped != nil {
		return l.scoped, nil
	}
	scope, err := l.resolve(ctx)
	if err != nil {
		return nil, err
	}
	l.scoped = Scoped(l.base, scope)
	return l.scoped, nil
}

func (l *lazyScoped) Get(ctx context.Context, ns, key string) ([]byte, bool, error) {
	s, err := l.store(ctx)
	if err != nil {
		return nil, false, err
	}
	return s.Get(ctx, ns, key)
}

func (l *lazyScoped) Set(ctx context.Context, ns, key string, val []byte) error {
	s, err := l.store(ctx)
	if err != nil {
		return err
	}
	return s.Set(ctx, ns, key, val)
}

func (l *lazyScoped) SetMany(ctx context.Context, ns string, kv map[string][]byte) error {
	s, err := l.store(ctx)
	if err != nil {
		return err
	}
	return s.SetMany(ctx, ns, kv)
}

func (l *lazyScoped) Delete(ctx context.Context, ns, key string) error {
	s, err := l.store(ctx)
	if err != nil {
		return err
	}
	return s.Delete(ctx, ns, key)
}

func (l *lazyScoped) Keys(ctx context.Context, ns string) ([]string, error) {
	s, err := l.store(ctx)
	if err != nil {
		return nil, err
	}
	return s.Keys(ctx, ns)
}

// Close closes the underlying store.
func (l *lazyScoped) Close() error { return l.base.Close() }

// ListNamespaces implements Lister within the scope.
func (l *lazyScoped) ListNamespaces(ctx context.Context, prefix string) ([]string, error) {
	s, err := l.store(ctx)
	if err != nil {
		return nil, err
	}
	if ls, ok := s.(Lister); ok {
		return ls.ListNamespaces(ctx, prefix)
	}
	return nil, nil
}

// Claim implements Claimer in the resolved scope.
func (l *lazyScoped) Claim(ctx context.Context, ns, key, token string, lease time.Duration) (int64, error) {
	s, err := l.store(ctx)
	if err != nil {
		return 0, err
	}
	return s.(Claimer).Claim(ctx, ns, key, token, lease)
}

// Unclaim implements Claimer in the resolved scope.
func (l *lazyScoped) Unclaim(ctx context.Context, ns, key, token string) error {
	s, err := l.store(ctx)
	if err != nil {
		return err
	}
	return s.(Claimer).Unclaim(ctx, ns, key, token)
}

// Commit implements Claimer in the resolved scope.
func (l *lazyScoped) Commit(ctx context.Context, ns string, kv map[string][]byte, fences map[string]int64) ([]string, error) {
	s, err := l.store(ctx)
	if err != nil {
		return nil, err
	}
	return Commit(ctx, s, ns, kv, fences)
}
