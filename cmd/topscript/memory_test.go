package main

import (
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

	"github.com/topscript/topscript/internal/sandboxtest"
	"github.com/topscript/topscript/internal/syncbuf"
	"github.com/topscript/topscript/sandbox"
	"github.com/topscript/topscript/xlsx"
)

// priceJobXLSX is the job of TestJobMemoryFlat: a price list with Chinese
// headers whose keys are 19-digit ids, read with xlsx.rows and mapped with
// columns, the report a workbook.
const priceJobXLSX = `
local s = require("job").run {
  name = "prices", rows = require("xlsx").rows(arg[1]), report = arg[2], concurrency = 8,
  columns = {sku = "商品编码", num_iid = "宝贝ID", properties = "销售属性", price = "价格"},
  key = function(r) return r.sku end,
  call = function(r)
    return "taobao.item.sku.price.update", {num_iid = r.num_iid, properties = r.properties, price = r.price, item_price = r.price}
  end,
}
print(s.total, s.ok, s.failed)
`

// skuCode is the 19-digit id of row i of the price list.
func skuCode(i int) string { return strconv.FormatUint(6_901_234_567_890_000_000+uint64(i)*7919, 10) }

// writePriceBook writes a price list of n rows: 商品编码 (a 19-digit id, as
// text), 宝贝ID and 销售属性 (the sandbox's SKUs, from prices.csv, in turn),
// 价格 and 宝贝名称.
func writePriceBook(t *testing.T, path string, n int) {
	t.Helper()
	skus := examplePrices(t)
	w, err := xlsx.Create(path, []string{"商品编码", "宝贝ID", "销售属性", "价格", "宝贝名称"}, xlsx.WriterOptions{Sheet: "价格表"})
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		s := skus[i%len(skus)]
		if err := w.Write([]any{skuCode(i), s[0], s[1], fmt.Sprintf("%d.%02d", 10+i%500, i%100), fmt.Sprintf("夏季新款纯棉短袖T恤 第%d款", i)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// memory is what a child process took: its peak RSS (VmHWM) and the
// largest anonymous RSS seen (RssAnon, sampled every 2 ms), in KiB.
type memory struct{ peak, anon int64 }

// runMeasured runs bin with args in dir, sampling /proc/<pid>/status,
// and returns its exit code, standard output (and error, when it failed)
// and memory.
func runMeasured(t *testing.T, bin, dir string, args ...string) (int, string, memory) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	var out, errs syncbuf.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	var m memory
	go func() {
		defer close(done)
		status := fmt.Sprintf("/proc/%d/status", cmd.Process.Pid)
		for {
			b, err := os.ReadFile(status)
			if err != nil {
				return
			}
			var zombie bool
			for _, l := range strings.Split(string(b), "\n") {
				k, v, _ := strings.Cut(l, ":")
				n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
				switch k {
				case "State":
					zombie = strings.HasPrefix(strings.TrimSpace(v), "Z")
				case "VmHWM":
					m.peak = max(m.peak, n)
				case "RssAnon":
					m.anon = max(m.anon, n)
				}
			}
			if zombie {
				return
			}
			time.Sleep(2 * time.Millisecond)
		}
	}()
	cmd.Wait()
	<-done
	if code := cmd.ProcessState.ExitCode(); code != 0 {
		return code, out.String() + errs.String(), m
	}
	return 0, out.String(), m
}

// A price job from a 10,000-row .xlsx with Chinese headers, its report a
// workbook: every row is in the report in input order with its id exact,
// and the memory of `topscript run` does not grow with the sheet. With
// 100,000 rows instead of 10,000:
//   - its peak RSS (VmHWM, as /usr/bin/time -v reports it) is within 1.5x,
//     with the checkpoints in the state file (the default) or in Redis;
//   - with either store its anonymous RSS (what the process holds itself)
//     grows by at most 128 bytes a row. Its live heap keeps about 10 bytes
//     a row (the key index, bit sets, report offsets: 3.8 MiB in all at
//     100,000 rows, by heap profile); the rest of the growth is the GC's
//     slack over a base of about 12 MiB, which moves a ratio more than the
//     rows do. A row held in memory costs far more (excelize's
//     StreamWriter, keeping the sheet's XML, grew 1.2 KiB a row).
//
// With the file store the peak RSS also counts the pages of the state file
// the process has mapped: the store lets them go every few operations
// (state/filemap.go); before it did, they grew with the checkpoints — one a
// row, about 800 bytes of file each — and the peak RSS of 100,000 rows was
// 1.92x. A pair of sizes over a bound is measured once more and the lower
// figures kept: a run starved of CPU on a busy machine
// lets the GC fall behind, while a regression that holds the rows fails
// both times.
func TestJobMemoryFlat(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	bin := binary(t)
	small, large := 10_000, 100_000
	sb := sandboxtest.Start(t, sandbox.Options{})
	for _, backend := range []string{"file", "redis"} {
		t.Run(backend, func(t *testing.T) {
			measure := func(n int) memory {
				dir := t.TempDir()
				var cfg string
				if backend == "redis" {
					// A server of its own per run: the job starts from no checkpoints.
					cfg = testConfig(t, filepath.Join(dir, "topscript.toml"), sb.URL(), sandbox.DefaultSession,
						fmt.Sprintf("backend = \"redis\"\nredis_url = %q\n", startRedisServer(t, "--save", "").url()))
				} else {
					cfg = writeConfig(t, dir, sb, "")
				}
				script := filepath.Join(dir, "prices.lua")
				os.WriteFile(script, []byte(priceJobXLSX), 0o644)
				book := filepath.Join(dir, "价格表.xlsx")
				writePriceBook(t, book, n)
				report := filepath.Join(dir, "报告.xlsx")
				start := time.Now()
				code, out, m := runMeasured(t, bin, dir, "run", "--config", cfg, script, book, report)
				if code != 0 || !strings.HasPrefix(out, fmt.Sprintf("%d\t%d\t0", n, n)) {
					t.Fatalf("%d rows: exit %d\n%s", n, code, tail(out))
				}
				elapsed := time.Since(start)
				checkPriceReport(t, report, n)
				file := ""
				if st, err := os.Stat(filepath.Join(dir, "state.db")); err == nil {
					file = fmt.Sprintf(" (state file %d KiB)", st.Size()>>10)
				}
				t.Logf("%d rows in %.1fs: peak RSS %d KiB, peak anonymous RSS %d KiB%s", n, elapsed.Seconds(), m.peak, m.anon, file)
				return m
			}
			perRow := func(a, b memory) float64 { return float64(b.anon-a.anon) * 1024 / float64(large-small) }
			over := func(a, b memory) bool {
				return perRow(a, b) > 128 || ratio(b.peak, a.peak) > 1.5
			}
			a, b := measure(small), measure(large)
			if over(a, b) {
				t.Logf("over a bound (peak RSS %.2fx, anonymous RSS %.0f bytes a row): measuring again", ratio(b.peak, a.peak), perRow(a, b))
				a2, b2 := measure(small), measure(large)
				a = memory{min(a.peak, a2.peak), min(a.anon, a2.anon)}
				b = memory{min(b.peak, b2.peak), min(b.anon, b2.anon)}
			}
			peak, anon := ratio(b.peak, a.peak), ratio(b.anon, a.anon)
			t.Logf("%s store, %d → %d rows: peak RSS %.2fx, anonymous RSS %.2fx (%.0f bytes a row)", backend, small, large, peak, anon, perRow(a, b))
			if perRow(a, b) > 128 {
				t.Errorf("the anonymous RSS grows %.0f bytes a row from %d to %d rows, want at most 128", perRow(a, b), small, large)
			}
			if peak > 1.5 {
				t.Errorf("%s store: the peak RSS grows %.2fx from %d to %d rows, want at most 1.5x", backend, peak, small, large)
			}
		})
	}
}

func ratio(a, b int64) float64 { return float64(a) / float64(b) }

// checkPriceReport reads a TestJobMemoryFlat report back: n rows ok in
// input order, each with its line and its 19-digit id exact, and the
// summary sheet counting them.
func checkPriceReport(t *testing.T, path string, n int) {
	t.Helper()
	r, err := xlsx.Open(path, xlsx.Options{Sheet: "report"})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for i := range n {
		row, err := r.Next()
		if err != nil {
			t.Fatalf("report row %d: %v", i+1, err)
		}
		v := row.Values
		if v[0] != skuCode(i) || v[1] != "ok" || v[6] != strconv.Itoa(i+2) || v[8] != skuCode(i) {
			t.Fatalf("report row %d: %q, want id %s ok at line %d", i+1, v[:9], skuCode(i), i+2)
		}
	}
	if _, err := r.Next(); err != io.EOF {
		t.Fatalf("the report has more than %d rows", n)
	}
	s, err := xlsx.Open(path, xlsx.Options{Sheet: "summary"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if row, err := s.Next(); err != nil || row.Values[0] != "ok" || row.Values[3] != strconv.Itoa(n) {
		t.Errorf("summary %q (%v), want %d ok", row.Values, err, n)
	}
}
