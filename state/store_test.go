package state

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// testStore checks the Store contract on a fresh, empty store.
func testStore(t *testing.T, s Store) {
	ctx := context.Background()

	if _, ok, err := s.Get(ctx, "nope", "k"); ok || err != nil {
		t.Fatalf("Get on unknown namespace = %v, %v", ok, err)
	}
	if keys, err := s.Keys(ctx, "nope"); err != nil || len(keys) != 0 || keys == nil {
		t.Fatalf("Keys on unknown namespace = %#v, %v; want empty non-nil", keys, err)
	}
	if err := s.Delete(ctx, "nope", "k"); err != nil {
		t.Fatalf("Delete on unknown namespace: %v", err)
	}

	if err := s.Set(ctx, "ns", "b", []byte("two")); err != nil {
		t.Fatal(err)
	}
	if err := s.Set(ctx, "ns", "a", []byte("one")); err != nil {
		t.Fatal(err)
	}
	if err := s.Set(ctx, "ns", "empty", nil); err != nil {
		t.Fatal(err)
	}
	if err := s.Set(ctx, "other", "a", []byte("elsewhere")); err != nil {
		t.Fatal(err)
	}
	v, ok, err := s.Get(ctx, "ns", "a")
	if err != nil || !ok || string(v) != "one" {
		t.Fatalf("Get a = %q, %v, %v", v, ok, err)
	}
	v, ok, err = s.Get(ctx, "ns", "empty")
	if err != nil || !ok || v == nil || len(v) != 0 {
		t.Fatalf("Get empty = %#v, %v, %v; want found, non-nil empty", v, ok, err)
	}
	if _, ok, _ := s.Get(ctx, "ns", "missing"); ok {
		t.Fatal("missing key found")
	}
	// overwrite
	if err := s.Set(ctx, "ns", "a", []byte("uno")); err != nil {
		t.Fatal(err)
	}
	if v, _, _ := s.Get(ctx, "ns", "a"); string(v) != "uno" {
		t.Fatalf("after overwrite a = %q", v)
	}
	// returned slices are copies
	v, _, _ = s.Get(ctx, "ns", "a")
	v[0] = 'X'
	if v2, _, _ := s.Get(ctx, "ns", "a"); string(v2) != "uno" {
		t.Fatalf("Get result aliases the store: %q", v2)
	}

	if err := s.SetMany(ctx, "ns", map[string][]byte{"c": []byte("3"), "0": []byte("zero"), "a": []byte("1")}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetMany(ctx, "ns", nil); err != nil {
		t.Fatalf("empty SetMany: %v", err)
	}
	keys, err := s.Keys(ctx, "ns")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"0", "a", "b", "c", "empty"}; !reflect.DeepEqual(keys, want) {
		t.Fatalf("Keys = %q, want %q", keys, want)
	}
	if err := s.Delete(ctx, "ns", "b"); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "ns", "b"); err != nil {
		t.Fatalf("second delete: %v", err)
	}
	if _, ok, _ := s.Get(ctx, "ns", "b"); ok {
		t.Fatal("deleted key still there")
	}
	if v, _, _ := s.Get(ctx, "other", "a"); string(v) != "elsewhere" {
		t.Fatalf("namespaces not separate: other/a = %q", v)
	}

	// A batch with an invalid key is rejected whole.
	err = s.SetMany(ctx, "ns", map[string][]byte{"x": []byte("1"), "": []byte("2")})
	if err == nil || !strings.Contains(err.Error(), "empty key") {
		t.Fatalf("SetMany with empty key: %v", err)
	}
	if _, ok, _ := s.Get(ctx, "ns", "x"); ok {
		t.Fatal("rejected batch was partly written")
	}
	if err := s.Set(ctx, "", "k", nil); err == nil {
		t.Fatal("empty namespace accepted")
	}
	if _, _, err := s.Get(ctx, "ns", strings.Repeat("k", MaxKeySize+1)); err == nil {
		t.Fatal("oversized key accepted")
	}

	// Big batch (a checkpoint flush of many rows).
	big := map[string][]byte{}
	for i := 0; i < 5000; i++ {
		big[fmt.Sprintf("%d:1627207:28341", 500000000000+i)] = []byte(`{"status":"ok"}`)
	}
	if err := s.SetMany(ctx, "bulk_price", big); err != nil {
		t.Fatal(err)
	}
	if keys, _ := s.Keys(ctx, "bulk_price"); len(keys) != 5000 {
		t.Fatalf("big batch: %d keys", len(keys))
	}

	// Cancelled context.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := s.Set(cctx, "ns", "late", nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("Set with cancelled ctx: %v", err)
	}

	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := s.Set(ctx, "ns", "k", nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("Set after Close: %v", err)
	}
	if _, _, err := s.Get(ctx, "ns", "k"); !errors.Is(err, ErrClosed) {
		t.Fatalf("Get after Close: %v", err)
	}
}

func TestMemStore(t *testing.T) { testStore(t, NewMemStore()) }

func TestMemLocker(t *testing.T) {
	testLockerExclusive(t, NewMemLocker())
}

// testLockerExclusive: a held lock cannot be taken again until released.
func testLockerExclusive(t *testing.T, l Locker) {
	t.Helper()
	ctx := context.Background()
	a, err := l.Acquire(ctx, "bulk_price.lua", 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Acquire(ctx, "bulk_price.lua", 0); !errors.Is(err, ErrLocked) {
		t.Fatalf("second Acquire = %v, want ErrLocked", err)
	} else if !strings.Contains(err.Error(), `"bulk_price.lua"`) {
		t.Fatalf("ErrLocked message does not name the lock: %v", err)
	}
	other, err := l.Acquire(ctx, "schedule:order_sync", 0)
	if err != nil {
		t.Fatalf("another name: %v", err)
	}
	if err := a.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if err := a.Release(ctx); err != nil {
		t.Fatalf("second Release: %v", err)
	}
	select {
	case <-a.Lost():
		t.Fatal("Lost closed by Release")
	default:
	}
	b, err := l.Acquire(ctx, "bulk_price.lua", 0)
	if err != nil {
		t.Fatalf("Acquire after Release: %v", err)
	}
	b.Release(ctx)
	other.Release(ctx)
}
