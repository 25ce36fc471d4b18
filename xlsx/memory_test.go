package xlsx_test

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/topscript/topscript/xlsx"
)

// measureEnv makes the test binary a child that reads one workbook and
// prints what it cost (see measureChild).
const (
	measureEnv      = "TOPSCRIPT_XLSX_MEASURE"
	measureSheetEnv = "TOPSCRIPT_XLSX_MEASURE_SHEET"
	measureHeapEnv  = "TOPSCRIPT_XLSX_MEASURE_HEAP" // sample the live heap (forcing GCs) instead of RSS
)

func TestMain(m *testing.M) {
	if path := os.Getenv(measureEnv); path != "" {
		measureChild(path)
		return
	}
	os.Exit(m.Run())
}

// cost is what reading one workbook took in a fresh process.
type cost struct {
	Rows      int     `json:"rows"`
	MaxRSSKiB int64   `json:"max_rss_kib"` // peak resident set of the process
	PeakHeap  uint64  `json:"peak_heap"`   // largest live heap seen, sampled every 1,000 rows
	Last      string  `json:"last"`        // the last row's id, to check the read was whole
	Seconds   float64 `json:"seconds"`     // how long the read took
}

func measureChild(path string) {
	var c cost
	heap := os.Getenv(measureHeapEnv) != ""
	var ms runtime.MemStats
	sample := func() {
		if heap {
			runtime.GC()
			runtime.ReadMemStats(&ms)
			c.PeakHeap = max(c.PeakHeap, ms.HeapAlloc)
		}
	}
	start := time.Now()
	r, err := xlsx.Open(path, xlsx.Options{Sheet: os.Getenv(measureSheetEnv)})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for {
		row, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		c.Rows++
		c.Last = row.Values[0]
		if c.Rows%5000 == 0 {
			sample()
		}
	}
	sample()
	c.Seconds = time.Since(start).Seconds()
	c.MaxRSSKiB = peakRSS()
	json.NewEncoder(os.Stdout).Encode(c)
}

// peakRSS is the process's peak resident set in KiB: VmHWM, which a new
// program starts afresh (getrusage's ru_maxrss does not: after Go's
// vfork-style spawn it starts at the parent's peak).
func peakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return n
		}
	}
	return -1
}

// measure reads a sheet of path in a child process, for its peak RSS or
// (heap) its peak live heap.
func measure(t *testing.T, path, sheet string, heap bool) cost {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), measureEnv+"="+path, measureSheetEnv+"="+sheet)
	if heap {
		cmd.Env = append(cmd.Env, measureHeapEnv+"=1")
	}
	out, err := cmd.Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			t.Fatalf("measuring %s: %v: %s", path, err, ee.Stderr)
		}
		t.Fatal(err)
	}
	var c cost
	if err := json.Unmarshal(out, &c); err != nil {
		t.Fatalf("child said %q: %v", out, err)
	}
	return c
}

// priceRow is row i of a generated price list: a 19-digit id, a 12-digit
// item id, a Chinese title unique per row, a price, a quantity, a date.
func priceRow(i int) []any {
	return []any{
		strconv.FormatUint(1_000_000_000_000_000_000+uint64(i)*7919, 10),
		strconv.FormatInt(600_000_000_000+int64(i), 10),
		fmt.Sprintf("夏季新款纯棉短袖T恤 第%d款 白色 XL", i),
		float64(i%5000) + 0.5,
		int64(i % 997),
		"2024-06-01 10:30:00",
	}
}

var priceHeader = []string{"sku_id", "num_iid", "宝贝名称", "价格", "数量", "上架时间"}

// writeInline writes n rows with this package's writer (inline strings).
func writeInline(t testing.TB, path string, n int) {
	w, err := xlsx.Create(path, priceHeader, xlsx.WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if err := w.Write(priceRow(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// writeShared writes n rows as Excel saves them (see excelLike).
func writeShared(t testing.TB, path string, n int) {
	excelLike{header: priceHeader, rows: n, row: func(i int) []any {
		r := priceRow(i)
		r[5] = date(45444.4375 + float64(i%365)) // 2024-06-01 10:30 onwards
		return r
	}, styles: map[int]int{3: 1, 5: 2}}.write(t, path)
}

// fullMemoryEnv also measures workbooks this package writes (inline
// strings), not only ones laid out as Excel saves them.
const fullMemoryEnv = "TOPSCRIPT_XLSX_MEMORY_FULL"

// Reading 100,000 rows costs about what reading 10,000 does: peak RSS and
// peak live heap within 1.5x, read from a workbook laid out as Excel saves
// one (shared strings, styles, dates as numbers). Each size is read in
// fresh processes: twice for the peak RSS, taking the lower (it moves with
// when the GC gets the CPU on a busy machine: one run starved of CPU
// measured 1.95x while its live heap stayed flat), once with a GC every
// 5,000 rows for the live heap.
func TestReadMemoryIsFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("reads 100,000 rows in child processes")
	}
	full := os.Getenv(fullMemoryEnv) != ""
	small, large := 10_000, 100_000
	rssRuns := 2
	kinds := []struct {
		name, sheet string
		write       func(testing.TB, string, int)
	}{{"excel-like", "价格表", writeShared}}
	if full {
		kinds = append(kinds, struct {
			name, sheet string
			write       func(testing.TB, string, int)
		}{"written-here", "", writeInline})
	}
	dir := t.TempDir()
	for _, kind := range kinds {
		t.Run(kind.name, func(t *testing.T) {
			var costs [2]cost
			for i, n := range []int{small, large} {
				path := filepath.Join(dir, fmt.Sprintf("%s-%d.xlsx", kind.name, n))
				kind.write(t, path, n)
				for run := range rssRuns + 1 {
					c := measure(t, path, kind.sheet, run == rssRuns)
					if c.Rows != n || c.Last != priceRow(n - 1)[0] {
						t.Fatalf("read %d rows ending %q, want %d ending %q", c.Rows, c.Last, n, priceRow(n - 1)[0])
					}
					switch {
					case run == rssRuns:
						costs[i].PeakHeap = c.PeakHeap
					case run == 0 || c.MaxRSSKiB < costs[i].MaxRSSKiB:
						costs[i].MaxRSSKiB, costs[i].Seconds = c.MaxRSSKiB, c.Seconds
					}
				}
			}
			rss := float64(costs[1].MaxRSSKiB) / float64(costs[0].MaxRSSKiB)
			heap := float64(costs[1].PeakHeap) / float64(costs[0].PeakHeap)
			t.Logf("%d rows: peak RSS %d KiB, live heap %d KiB, read in %.2fs", small, costs[0].MaxRSSKiB, costs[0].PeakHeap>>10, costs[0].Seconds)
			t.Logf("%d rows: peak RSS %d KiB, live heap %d KiB, read in %.2fs", large, costs[1].MaxRSSKiB, costs[1].PeakHeap>>10, costs[1].Seconds)
			t.Logf("ratio: peak RSS %.2fx, live heap %.2fx", rss, heap)
			if rss > 1.5 {
				t.Errorf("peak RSS grows %.2fx from %d to %d rows, want at most 1.5x", rss, small, large)
			}
			if heap > 1.5 {
				t.Errorf("peak live heap grows %.2fx from %d to %d rows, want at most 1.5x", heap, small, large)
			}
		})
	}
}
