package state

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// mappedKiB is the RSS of the process's mappings of the file at path, in
// KiB (/proc/self/smaps).
func mappedKiB(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	kib, in := 0, false
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		switch {
		case len(f) >= 5 && strings.Contains(f[0], "-") && !strings.HasSuffix(f[0], ":"):
			in = len(f) >= 6 && f[len(f)-1] == path
		case in && len(f) >= 2 && f[0] == "Rss:":
			n, _ := strconv.Atoi(f[1])
			kib += n
		}
	}
	return kib
}

// A job's checkpoints written to the file store, 8 rows a commit, then
// read back one by one as a rerun does: the pages of the state file the
// process maps stay a few MiB, not a share of the file (without the
// release, the 40,000 rows' writes left 11 MiB of the 32 MiB file mapped,
// reading them back 27 MiB).
func TestFileStoreLetsMappedPagesGo(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := OpenFile(path, FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	const rows, batch, ns = 40_000, 8, "app:1:job:prices:x.csv"
	val := []byte(`{"status":"ok","request_id":"7n3f2yq9kz1x","at":"2026-01-02 15:04:05","call":"0123456789abcdef0123456789abcdef","method":"taobao.item.sku.price.update","params":{"item_price":"10.01","num_iid":"600000153551","price":"10.01","properties":"1627207:28320;20509:28315"},"fence":1}`)
	key := func(i int) string { return strconv.FormatUint(6_901_234_567_890_000_000+uint64(i)*7919, 10) }
	for i := 0; i < rows; i += batch {
		kv := map[string][]byte{}
		for k := i; k < i+batch; k++ {
			kv[key(k)] = val
		}
		if _, err := s.Commit(ctx, ns, kv, nil); err != nil {
			t.Fatal(err)
		}
	}
	st, _ := os.Stat(path)
	const bound = 4 << 10 // KiB
	written := mappedKiB(t, path)
	keys, err := s.Keys(ctx, ns)
	if err != nil || len(keys) != rows {
		t.Fatalf("Keys: %d keys, %v", len(keys), err)
	}
	for i := range rows {
		if v, ok, err := s.Get(ctx, ns, key(i)); err != nil || !ok || string(v) != string(val) {
			t.Fatalf("row %d: %q %v %v", i, v, ok, err)
		}
	}
	read := mappedKiB(t, path)
	t.Logf("FIGURE %d checkpoints, state file %d KiB: mapped %d KiB after the writes, %d KiB after reading them back", rows, st.Size()>>10, written, read)
	for what, kib := range map[string]int{"writing": written, "reading back": read} {
		if kib > bound {
			t.Errorf("after %s %d checkpoints the process maps %d KiB of the %d KiB state file, want at most %d KiB", what, rows, kib, st.Size()>>10, bound)
		}
	}
	if written == 0 && read == 0 {
		t.Errorf("no mapping of %s found in /proc/self/smaps: the measure is broken", path)
	}
}
