package state

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
)

// Scoped returns a view of s in which every namespace is prefixed by scope
// ("<scope>/<ns>"), so that several apps or shops sharing one store never
// see each other's state or checkpoints. An empty scope returns s itself.
func Scoped(s Store, scope string) Store {
	if scope == "" {
		return s
	}
	return &scopedStore{Store: s, prefix: scope + "/"}
}

// Scope names the app and shop a run works for: the app key and a short
// fingerprint of the session (the shop's authorization), never the session
// itself. A job checkpointed for one shop is not skipped for another.
func Scope(appKey, session string) string {
	if session == "" {
		return appKey
	}
	sum := sha256.Sum256([]byte(session))
	return appKey + "." + hex.EncodeToString(sum[:4])
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
