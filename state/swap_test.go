package state

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// testSwap checks the Swapper contract on a fresh store.
func testSwap(t *testing.T, s Store) {
	t.Helper()
	ctx := context.Background()
	swap := func(old, val []byte) bool {
		t.Helper()
		ok, err := Swap(ctx, s, "tok", "shop", old, val)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	get := func() (string, bool) {
		v, ok, err := s.Get(ctx, "tok", "shop")
		if err != nil {
			t.Fatal(err)
		}
		return string(v), ok
	}
	if swap([]byte("x"), []byte("v1")) {
		t.Fatal("swapped from a value the absent key does not hold")
	}
	if swap([]byte{}, []byte("v1")) {
		t.Fatal("an empty old matched an absent key")
	}
	if !swap(nil, []byte("v1")) {
		t.Fatal("no swap from absent")
	}
	if swap(nil, []byte("v2")) {
		t.Fatal("swapped from absent over a present key")
	}
	if swap([]byte("v0"), []byte("v2")) {
		t.Fatal("swapped from a stale value")
	}
	if v, _ := get(); v != "v1" {
		t.Fatalf("after refused swaps: %q", v)
	}
	if !swap([]byte("v1"), []byte("v2")) {
		t.Fatal("no swap from the current value")
	}
	if v, _ := get(); v != "v2" {
		t.Fatalf("after the swap: %q", v)
	}
	if !swap([]byte("v2"), nil) {
		t.Fatal("no delete by swap")
	}
	if _, ok := get(); ok {
		t.Fatal("deleted by swap, still there")
	}
	if !swap(nil, []byte{}) || !swap([]byte{}, []byte("v3")) {
		t.Fatal("an empty value is a value")
	}
	// Scoped views swap in their scope only.
	a, b := Scoped(s, "a"), Scoped(s, "b")
	if ok, err := Swap(ctx, a, "tok", "shop", nil, []byte("A")); err != nil || !ok {
		t.Fatalf("scoped swap: %v %v", ok, err)
	}
	if ok, _ := Swap(ctx, b, "tok", "shop", []byte("A"), []byte("B")); ok {
		t.Fatal("a swap in scope b saw scope a's value")
	}
	lazy := LazyScoped(s, func(context.Context) (string, error) { return "a", nil })
	if ok, err := Swap(ctx, lazy, "tok", "shop", []byte("A"), []byte("A2")); err != nil || !ok {
		t.Fatalf("lazy scoped swap: %v %v", ok, err)
	}
	if v, _, _ := a.Get(ctx, "tok", "shop"); string(v) != "A2" {
		t.Fatalf("lazy scoped swap wrote %q", v)
	}
}

// race has n swappers (one store each, as processes have) swap from the
// same value at once: exactly one wins.
func race(t *testing.T, stores []Store) {
	t.Helper()
	ctx := context.Background()
	if err := stores[0].Set(ctx, "tok", "race", []byte("old")); err != nil {
		t.Fatal(err)
	}
	var wins atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, s := range stores {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			ok, err := Swap(ctx, s, "tok", "race", []byte("old"), []byte(fmt.Sprint("new", i)))
			if err != nil {
				t.Error(err)
			}
			if ok {
				wins.Add(1)
			}
		}()
	}
	close(start)
	wg.Wait()
	if n := wins.Load(); n != 1 {
		t.Fatalf("%d of %d swaps from the same value won, want 1", n, len(stores))
	}
}

func TestSwapMem(t *testing.T) {
	s := NewMemStore()
	testSwap(t, s)
	race(t, []Store{s, s, s, s, s, s, s, s})
}

func TestSwapFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := OpenFile(path, FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	testSwap(t, s)
}

func TestSwapRedis(t *testing.T) {
	s := openTestRedis(t)
	defer s.Close()
	testSwap(t, s)
	stores := []Store{s}
	for range 7 {
		stores = append(stores, sameApp(t, s))
	}
	race(t, stores)
}

// A Brief file store opens the database for each operation: two of them on
// one file (as two processes would have) read, write and swap in turn,
// where two ordinary ones would shut each other out; exactly one of
// several racing swaps wins; the file is the owner's alone (0600).
func TestBriefFileStoreShared(t *testing.T) {
	path := TokensPathFor(filepath.Join(t.TempDir(), "state.db"))
	if filepath.Base(path) != "state.tokens.db" {
		t.Fatalf("TokensPathFor: %s", path)
	}
	var stores []Store
	for range 6 {
		s, err := OpenFile(path, FileOptions{Brief: true, Wait: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		stores = append(stores, s)
	}
	ctx := context.Background()
	if err := stores[0].Set(ctx, "tok", "a", []byte("1")); err != nil {
		t.Fatal(err)
	}
	if v, ok, err := stores[1].Get(ctx, "tok", "a"); err != nil || !ok || string(v) != "1" {
		t.Fatalf("the second store reads %q %v %v", v, ok, err)
	}
	if ok, err := Swap(ctx, stores[1], "tok", "a", []byte("1"), []byte("2")); err != nil || !ok {
		t.Fatalf("swap: %v %v", ok, err)
	}
	if v, _, _ := stores[0].Get(ctx, "tok", "a"); string(v) != "2" {
		t.Fatalf("the first store reads %q after the second swapped", v)
	}
	race(t, stores)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("%s has mode %v, want 0600", path, fi.Mode().Perm())
	}
	// A store held open the whole time (a run's state file) shuts a Brief
	// one out only while it holds the file.
	held, err := OpenFile(path, FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := held.Get(ctx, "tok", "a"); err != nil {
		t.Fatal(err)
	}
	quick, _ := OpenFile(path, FileOptions{Brief: true, Wait: 100 * time.Millisecond})
	if _, _, err := quick.Get(ctx, "tok", "a"); err == nil {
		t.Fatal("a Brief store read a file another store holds open")
	}
	held.Close()
	if v, _, err := quick.Get(ctx, "tok", "a"); err != nil || len(v) == 0 {
		t.Fatalf("after the holder closed: %q %v (a failed open must not stick)", v, err)
	}
}

// The backends' Tokens stores: the file backend's is its own 0600 file
// beside the state file, Redis's the store itself, memory's its own.
func TestBackendTokens(t *testing.T) {
	dir := t.TempDir()
	b, err := Open(context.Background(), Config{Path: filepath.Join(dir, "state.db")}, "app")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := b.Tokens().Set(context.Background(), "tok", "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "state.db")); err == nil {
		t.Error("writing a token opened the state file")
	}
	fi, err := os.Stat(filepath.Join(dir, "state.tokens.db"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("tokens file: %v %v", fi, err)
	}
	m := Memory()
	if m.Tokens() == m.Store() || m.Tokens() == nil {
		t.Error("memory backend: tokens share the scripts' store")
	}
	if _, ok := m.Tokens().(Swapper); !ok {
		t.Error("memory tokens cannot swap")
	}
}
