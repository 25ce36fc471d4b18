package state

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// writtenStore creates a store at path holding a few hundred keys in
// several namespaces (several pages), and closes it.
func writtenStore(t *testing.T, path string) {
	t.Helper()
	s, err := OpenFile(path, FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for ns := range 4 {
		kv := map[string][]byte{}
		for k := range 300 {
			kv[fmt.Sprintf("%d:sku-%05d", ns, k)] = []byte(fmt.Sprintf(`{"status":"ok","request_id":"r%d-%d"}`, ns, k))
		}
		if err := s.SetMany(ctx, fmt.Sprintf("job:j%d", ns), kv); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

// useStore opens path and reads and writes through it, returning the
// first error.
func useStore(path string) error {
	s, err := OpenFile(path, FileOptions{Wait: -1})
	if err != nil {
		return err
	}
	defer s.Close()
	ctx := context.Background()
	names, err := s.Namespaces(ctx)
	if err != nil {
		return err
	}
	for _, ns := range names {
		keys, err := s.Keys(ctx, ns)
		if err != nil {
			return err
		}
		for _, k := range keys {
			if _, _, err := s.Get(ctx, ns, k); err != nil {
				return err
			}
		}
	}
	return s.Set(ctx, "job:j0", "new", []byte("x"))
}

// checkDamageMessage fails unless err is a clean damage error: it
// matches ErrDamaged, names the file and what to do, and carries none of
// the storage library's internals.
func checkDamageMessage(t *testing.T, what string, err error, path string) {
	t.Helper()
	if !errors.Is(err, ErrDamaged) {
		t.Errorf("%s: %v, want ErrDamaged", what, err)
		return
	}
	msg := err.Error()
	for _, bad := range []string{"internal error", "runtime error", "slice bounds", "invalid freelist page", "goroutine", "panic"} {
		if strings.Contains(msg, bad) {
			t.Errorf("%s: the message shows %q: %s", what, bad, msg)
		}
	}
	if !strings.Contains(msg, path) || !strings.Contains(msg, "restore it from a backup") || !strings.Contains(msg, markerPath(path)) {
		t.Errorf("%s: the message does not say what to do: %s", what, msg)
	}
}

// A store emptied after it was written (`: > state.db`) is refused, not
// taken for a new store: the file stays empty and nothing is created.
func TestFileStoreEmptiedIsRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), ".topscript", "state.db")
	writtenStore(t, path)
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	for _, lazy := range []bool{false, true} {
		s, err := OpenFile(path, FileOptions{Lazy: lazy})
		if err == nil {
			_, _, err = s.Get(context.Background(), "job:j0", "0:sku-00000")
			s.Close()
		}
		checkDamageMessage(t, fmt.Sprintf("emptied store (lazy %v)", lazy), err, path)
		if !strings.Contains(err.Error(), "is empty (0 bytes)") {
			t.Errorf("the message does not say the file is empty: %v", err)
		}
	}
	if fi, err := os.Stat(path); err != nil || fi.Size() != 0 {
		t.Errorf("the emptied file was changed: %v %v", fi.Size(), err)
	}
	t.Logf("emptied: %v", useStore(path))
}

// A store deleted while its marker remains is refused; with the marker
// moved aside too, a new store is created (what the message says to do).
func TestFileStoreDeletedIsRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	writtenStore(t, path)
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	err := useStore(path)
	checkDamageMessage(t, "deleted store", err, path)
	if _, serr := os.Stat(path); !errors.Is(serr, os.ErrNotExist) {
		t.Errorf("a new store was created in place of the deleted one")
	}
	if !strings.Contains(err.Error(), "is missing") {
		t.Errorf("the message does not say the file is missing: %v", err)
	}
	if err := os.Rename(markerPath(path), markerPath(path)+".old"); err != nil {
		t.Fatal(err)
	}
	if err := useStore(path); err != nil {
		t.Fatalf("with the marker moved aside: %v", err)
	}
	if _, err := os.Stat(markerPath(path)); err != nil {
		t.Errorf("the new store has no marker: %v", err)
	}
}

// A new store gets its marker at once; a store written by a version that
// kept no marker gets one at its first open, and is then protected too.
// A zero-length file is refused even without a marker: bbolt never leaves
// a store empty, and a new store is linked into place complete.
func TestFileStoreMarker(t *testing.T) {
	dir := t.TempDir()
	fresh := filepath.Join(dir, "fresh.db")
	if err := useStore(fresh); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(markerPath(fresh)); err != nil {
		t.Fatalf("a new store has no marker: %v", err)
	}
	if leftovers, _ := filepath.Glob(filepath.Join(dir, "*.new-*")); len(leftovers) != 0 {
		t.Errorf("temporary files left behind: %v", leftovers)
	}

	old := filepath.Join(dir, "old.db")
	db, err := bolt.Open(old, 0o600, nil) // as an older topscript wrote it: no marker
	if err != nil {
		t.Fatal(err)
	}
	db.Update(func(tx *bolt.Tx) error {
		b, _ := tx.CreateBucketIfNotExists([]byte("job:x"))
		return b.Put([]byte("k"), []byte(`{"status":"ok"}`))
	})
	db.Close()
	if err := useStore(old); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(markerPath(old)); err != nil {
		t.Fatalf("an existing store got no marker at its first open: %v", err)
	}
	os.Truncate(old, 0)
	checkDamageMessage(t, "old store emptied", useStore(old), old)

	bare := filepath.Join(dir, "bare.db")
	os.WriteFile(bare, nil, 0o600)
	checkDamageMessage(t, "empty file, no marker", useStore(bare), bare)
}

// Truncated at any size, meta pages flipped, random bytes flipped: the
// store either still works or is refused as damaged with a message that
// says so and what to do; never a panic, a fault or bbolt's internals.
func TestFileStoreDamage(t *testing.T) {
	dir := t.TempDir()
	orig := filepath.Join(dir, "orig.db")
	writtenStore(t, orig)
	good, err := os.ReadFile(orig)
	if err != nil {
		t.Fatal(err)
	}
	const page = 4096
	type damage struct {
		name string
		data []byte
	}
	var cases []damage
	for _, n := range []int{1, 100, 1000, page - 1, page, page + 17, 2 * page, 2*page + 1, 3 * page, 4*page - 5, len(good) / 2, len(good) - 1} {
		if n < len(good) {
			cases = append(cases, damage{fmt.Sprintf("truncated to %d bytes", n), append([]byte{}, good[:n]...)})
		}
	}
	for _, meta := range []int{0, 1} {
		for _, both := range []bool{false, true} {
			d := append([]byte{}, good...)
			for m := range 2 {
				if m == meta || both {
					for i := m*page + 16; i < m*page+80; i++ {
						d[i] ^= 0xA5
					}
				}
			}
			cases = append(cases, damage{fmt.Sprintf("meta page %d flipped (both %v)", meta, both), d})
		}
	}
	rng := rand.New(rand.NewPCG(20, 14))
	for i := range 200 {
		d := append([]byte{}, good...)
		for range 1 + rng.IntN(8) {
			d[rng.IntN(len(d))] ^= byte(1 + rng.IntN(255))
		}
		cases = append(cases, damage{fmt.Sprintf("random flips #%d", i), d})
	}
	refused, worked := 0, 0
	for i, c := range cases {
		path := filepath.Join(dir, fmt.Sprintf("case%03d.db", i))
		os.WriteFile(path, c.data, 0o600)
		writeMarker(path)
		err := useStore(path)
		if err == nil {
			worked++
			continue
		}
		refused++
		checkDamageMessage(t, c.name, err, path)
	}
	t.Logf("%d damaged copies: %d refused as damaged, %d still readable and writable", len(cases), refused, worked)
	if refused < 14 {
		t.Errorf("only %d of %d damaged copies refused: the damage proves little", refused, len(cases))
	}
}
