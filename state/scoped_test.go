package state

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

// Two shops (or apps) on one store never see each other's checkpoints.
func TestScopedStoresAreSeparate(t *testing.T) {
	ctx := context.Background()
	base := NewMemStore()
	shopA := Scoped(base, "12345678.shop-1")
	shopB := Scoped(base, "12345678.shop-2")
	if err := shopA.SetMany(ctx, "job:bulk_price", map[string][]byte{"1:2": []byte("ok")}); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := shopB.Get(ctx, "job:bulk_price", "1:2"); err != nil || ok {
		t.Fatalf("shop B sees shop A's checkpoint (ok=%v, err=%v)", ok, err)
	}
	if v, ok, _ := shopA.Get(ctx, "job:bulk_price", "1:2"); !ok || string(v) != "ok" {
		t.Fatalf("shop A lost its checkpoint: %q %v", v, ok)
	}
	keys, _ := shopB.Keys(ctx, "job:bulk_price")
	if len(keys) != 0 {
		t.Fatalf("shop B keys %v", keys)
	}
	if Scoped(base, "") != base {
		t.Fatal("an empty scope must be the store itself")
	}
}

// Migrate carries every namespace of one scope over to another, keeping
// what the new scope holds already, removes it from the old one, and finds
// nothing to do a second time; on every backend.
func TestMigrate(t *testing.T) {
	ctx := context.Background()
	f, err := OpenFile(filepath.Join(t.TempDir(), "s.db"), FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	stores := map[string]Store{"file": f, "mem": NewMemStore()}
	if redisURL != "" {
		r := openTestRedis(t)
		defer r.Close()
		stores["redis"] = r
	}
	for name, s := range stores {
		old, now := Scoped(s, "app.0a1b2c3d"), Scoped(s, "app.shop-7")
		old.SetMany(ctx, "job:prices", map[string][]byte{"k1": []byte("old1"), "k2": []byte("old2")})
		old.Set(ctx, "cursor", "orders", []byte("2026-01-01 00:00:00"))
		now.Set(ctx, "job:prices", "k2", []byte("new2")) // written since under the shop: kept
		Scoped(s, "app.ffffffff").Set(ctx, "job:prices", "k1", []byte("another session's"))
		n, err := Migrate(ctx, s, "app.0a1b2c3d", "app.shop-7")
		if err != nil || n != 2 {
			t.Fatalf("%s: Migrate = %d, %v; want 2 keys carried over", name, n, err)
		}
		for ns, want := range map[string]map[string]string{
			"job:prices": {"k1": "old1", "k2": "new2"},
			"cursor":     {"orders": "2026-01-01 00:00:00"},
		} {
			for k, v := range want {
				if got, ok, _ := now.Get(ctx, ns, k); !ok || string(got) != v {
					t.Errorf("%s: %s/%s = %q %v, want %q", name, ns, k, got, ok, v)
				}
			}
			if keys, _ := old.Keys(ctx, ns); len(keys) != 0 {
				t.Errorf("%s: the old scope still holds %s %v", name, ns, keys)
			}
		}
		if v, _, _ := Scoped(s, "app.ffffffff").Get(ctx, "job:prices", "k1"); string(v) != "another session's" {
			t.Errorf("%s: another scope was touched: %q", name, v)
		}
		if n, err := Migrate(ctx, s, "app.0a1b2c3d", "app.shop-7"); n != 0 || err != nil {
			t.Errorf("%s: second Migrate = %d, %v; want nothing to do", name, n, err)
		}
		names, err := s.(Lister).ListNamespaces(ctx, "app.")
		if err != nil || !strings.Contains(strings.Join(names, ","), "app.shop-7/job:prices") || !strings.Contains(strings.Join(names, ","), "app.ffffffff/job:prices") {
			t.Errorf("%s: ListNamespaces = %v, %v", name, names, err)
		}
	}
}

// LazyScoped resolves its scope at its first use, tries again after a
// failure (which is the operation's error), then keeps it; claims and
// commits go to the scope too.
func TestLazyScoped(t *testing.T) {
	ctx := context.Background()
	base := NewMemStore()
	calls := 0
	fail := true
	s := LazyScoped(base, func(context.Context) (string, error) {
		calls++
		if fail {
			return "", errors.New("cannot tell which shop")
		}
		return "app.shop-9", nil
	})
	if calls != 0 {
		t.Fatal("resolved before any use")
	}
	if err := s.Set(ctx, "ns", "k", []byte("v")); err == nil || !strings.Contains(err.Error(), "cannot tell which shop") {
		t.Fatalf("Set with the scope unresolved: %v", err)
	}
	if keys, _ := base.ListNamespaces(ctx, ""); len(keys) != 0 {
		t.Fatalf("written without a scope: %v", keys)
	}
	fail = false
	if err := s.Set(ctx, "ns", "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.(Claimer).Commit(ctx, "ns", map[string][]byte{"k2": []byte("w")}, nil); err != nil {
		t.Fatal(err)
	}
	if f, err := s.(Claimer).Claim(ctx, "ns", "k", "tok", 0); f != 1 || err != nil {
		t.Fatalf("claim: %d %v", f, err)
	}
	s.Get(ctx, "ns", "k")
	if calls != 2 {
		t.Errorf("resolved %d times, want 2 (the failure, then once)", calls)
	}
	if keys, _ := base.Keys(ctx, "app.shop-9/ns"); strings.Join(keys, ",") != "k,k2" {
		t.Errorf("keys in the scope: %v", keys)
	}
}
