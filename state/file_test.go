package state

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func TestFileStore(t *testing.T) {
	s, err := OpenFile(filepath.Join(t.TempDir(), "a", "b", "state.db"), FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	testStore(t, s)
}

func TestFileStoreReopenPersists(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), ".topscript", "state.db")
	s, err := OpenFile(path, FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetMany(ctx, "job:bulk_price", map[string][]byte{"1:a": []byte("ok"), "2:b": []byte("failed")}); err != nil {
		t.Fatal(err)
	}
	if err := s.Set(ctx, "cursor", "order_sync", []byte("2024-05-01 10:00:00")); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("store file: %v, %v", fi, err)
	}
	s, err = OpenFile(path, FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if v, ok, _ := s.Get(ctx, "cursor", "order_sync"); !ok || string(v) != "2024-05-01 10:00:00" {
		t.Fatalf("after reopen cursor = %q %v", v, ok)
	}
	if keys, _ := s.Keys(ctx, "job:bulk_price"); strings.Join(keys, ",") != "1:a,2:b" {
		t.Fatalf("after reopen keys = %q", keys)
	}
	if ns, _ := s.Namespaces(ctx); strings.Join(ns, ",") != "cursor,job:bulk_price" {
		t.Fatalf("namespaces = %q", ns)
	}
}

func TestFileStoreInUse(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := OpenFile(path, FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	// A second bbolt handle (another open file description) behaves as
	// another process would.
	start := time.Now()
	_, err = OpenFile(path, FileOptions{Wait: 300 * time.Millisecond})
	waited := time.Since(start)
	if !errors.Is(err, ErrInUse) {
		t.Fatalf("second open = %v, want ErrInUse", err)
	}
	want := "state store " + path + " is in use by another topscript process"
	if !strings.Contains(err.Error(), want) {
		t.Fatalf("error %q does not contain %q", err, want)
	}
	if waited < 250*time.Millisecond || waited > 3*time.Second {
		t.Fatalf("waited %v, want about 300ms", waited)
	}
	// no wait
	start = time.Now()
	if _, err := OpenFile(path, FileOptions{Wait: -1}); !errors.Is(err, ErrInUse) {
		t.Fatalf("no-wait open = %v", err)
	} else if time.Since(start) > time.Second {
		t.Fatalf("no-wait open took %v", time.Since(start))
	}
	// A raw bbolt open fails the same way: the store really holds the lock.
	if db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 100 * time.Millisecond}); err == nil {
		db.Close()
		t.Fatal("raw bbolt open succeeded while the store is open")
	}

	// Once closed, the next open succeeds; data written meanwhile is intact.
	s.Set(context.Background(), "ns", "k", []byte("v"))
	s.Close()
	s2, err := OpenFile(path, FileOptions{Wait: 300 * time.Millisecond})
	if err != nil {
		t.Fatalf("open after close: %v", err)
	}
	defer s2.Close()
	if v, _, _ := s2.Get(context.Background(), "ns", "k"); string(v) != "v" {
		t.Fatalf("k = %q", v)
	}
}

func TestFileStoreOpenErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := OpenFile("", FileOptions{}); err == nil {
		t.Fatal("empty path accepted")
	}
	// Not a bbolt file.
	junk := filepath.Join(dir, "junk.db")
	os.WriteFile(junk, []byte(strings.Repeat("not a database ", 1000)), 0o600)
	if _, err := OpenFile(junk, FileOptions{}); err == nil || !strings.Contains(err.Error(), junk) {
		t.Fatalf("junk file: %v", err)
	}
	// Parent is a file.
	file := filepath.Join(dir, "file")
	os.WriteFile(file, nil, 0o600)
	if _, err := OpenFile(filepath.Join(file, "state.db"), FileOptions{}); err == nil || !strings.Contains(err.Error(), file) {
		t.Fatalf("parent is a file: %v", err)
	}
}

// TestFileStoreKill9 kills a process in the middle of a stream of SetMany
// batches and checks that every batch it reported is there and that no
// batch is half-written.
func TestFileStoreKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a process")
	}
	path := filepath.Join(t.TempDir(), "state.db")
	for round := 0; round < 3; round++ {
		ns := fmt.Sprintf("batches-%d", round) // each round starts from batch 0
		cmd, sc := helper(t, "setmany|"+path+"|"+ns)
		target := 30 + round*17
		last := -1
		for sc.Scan() {
			line := sc.Text()
			if strings.HasPrefix(line, "error") {
				t.Fatalf("helper: %s", line)
			}
			if n, err := strconv.Atoi(strings.TrimPrefix(line, "done ")); err == nil {
				last = n
			}
			if last >= target {
				break
			}
		}
		if last < target {
			t.Fatalf("helper stopped at batch %d", last)
		}
		// Let it keep writing for a moment so that the kill lands in the
		// middle of a transaction more often than not.
		go func() {
			for sc.Scan() {
			}
		}()
		time.Sleep(time.Duration(round*7) * time.Millisecond)
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		cmd.Wait()
		if last < target {
			t.Fatalf("helper stopped at batch %d", last)
		}

		s, err := OpenFile(path, FileOptions{Wait: 5 * time.Second})
		if err != nil {
			t.Fatalf("open after kill -9: %v", err)
		}
		ctx := context.Background()
		v, _, err := s.Get(ctx, ns, "last")
		if err != nil {
			t.Fatal(err)
		}
		stored, _ := strconv.Atoi(string(v))
		if stored < last {
			t.Fatalf("round %d: reported batch %d done, store has only %d", round, last, stored)
		}
		keys, _ := s.Keys(ctx, ns)
		count := map[string]int{}
		for _, k := range keys {
			if k == "last" {
				continue
			}
			b, _, _ := strings.Cut(k, "-")
			count[b]++
		}
		for i := 0; i <= stored; i++ {
			if n := count[fmt.Sprintf("b%06d", i)]; n != 10 {
				t.Fatalf("round %d: batch %d has %d of 10 keys", round, i, n)
			}
		}
		if len(count) != stored+1 {
			t.Fatalf("round %d: %d batches stored, last = %d", round, len(count), stored)
		}
		t.Logf("round %d: killed after batch %d reported, %d stored", round, last, stored)
		s.Close()
	}
}

func TestFileLocker(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "locks")
	testLockerExclusive(t, NewFileLocker(dir))

	// Two lockers on one directory (as two processes would be).
	ctx := context.Background()
	a, err := NewFileLocker(dir).Acquire(ctx, "scripts/examples/order_sync.lua", 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = NewFileLocker(dir).Acquire(ctx, "scripts/examples/order_sync.lua", 0)
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), fmt.Sprintf("pid %d", os.Getpid())) {
		t.Fatalf("second Acquire = %v, want ErrLocked naming the holder", err)
	}
	a.Release(ctx)
	if got := LockDirFor(".topscript/state.db"); got != filepath.Join(".topscript", "locks") {
		t.Fatalf("LockDirFor = %q", got)
	}
}

func TestFileLockerKilledHolder(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a process")
	}
	dir := t.TempDir()
	cmd, sc := helper(t, "filelock|"+dir+"|nightly.lua")
	waitLine(t, sc, "locked")
	ctx := context.Background()
	_, err := NewFileLocker(dir).Acquire(ctx, "nightly.lua", 0)
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), fmt.Sprintf("pid %d", cmd.Process.Pid)) {
		t.Fatalf("Acquire while helper holds it = %v", err)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	l, err := NewFileLocker(dir).Acquire(ctx, "nightly.lua", 0)
	if err != nil {
		t.Fatalf("Acquire right after holder was killed: %v", err)
	}
	l.Release(ctx)
}

func TestLockFileName(t *testing.T) {
	cases := map[string]string{
		"bulk_price.lua": "bulk_price.lua.lock",
		"a-b_c.1":        "a-b_c.1.lock",
	}
	for in, want := range cases {
		if got := lockFileName(in); got != want {
			t.Errorf("lockFileName(%q) = %q, want %q", in, got, want)
		}
	}
	seen := map[string]string{}
	for _, in := range []string{"schedule:order_sync", "schedule_order_sync", "scripts/x.lua", "scripts_x.lua", "../../etc/passwd", ".hidden", "价格", strings.Repeat("x", 300)} {
		got := lockFileName(in)
		if strings.ContainsAny(got, "/\\:") || strings.HasPrefix(got, ".") || len(got) > 130 {
			t.Errorf("lockFileName(%q) = %q is not a safe file name", in, got)
		}
		if prev, dup := seen[got]; dup {
			t.Errorf("%q and %q share lock file %q", prev, in, got)
		}
		seen[got] = in
	}
}
