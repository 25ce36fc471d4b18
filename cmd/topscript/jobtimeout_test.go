package main

import (
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/topscript/topscript/internal/sandboxtest"
	"github.com/topscript/topscript/sandbox"
	"github.com/topscript/topscript/xlsx"
)

// `topscript run --timeout` that ends a price job midway: the run exits 1
// naming the timeout, and its .xlsx report still lists every row of the
// sheet in input order with its line — the rows done ok (exactly those the
// gateway applied), the rest not_started saying why, none sent after one
// not started — and the summary sheet counts both.
func TestJobTimeoutReportsEveryRow(t *testing.T) {
	const n = 300
	bin := binary(t)
	// 30 ms a call, two at a time: the whole job would take 4.5 s.
	sb := sandboxtest.Start(t, sandbox.Options{Latency: 30 * time.Millisecond})
	dir := t.TempDir()
	cfg := writeConfig(t, dir, sb, "")
	script := filepath.Join(dir, "prices.lua")
	os.WriteFile(script, []byte(strings.Replace(priceJobXLSX, "concurrency = 8", "concurrency = 2", 1)), 0o644)
	book := filepath.Join(dir, "价格表.xlsx")
	writePriceBook(t, book, n)
	report := filepath.Join(dir, "报告.xlsx")
	start := time.Now()
	code, out, _ := runMeasured(t, bin, dir, "run", "--timeout", "1s", "--config", cfg, script, book, report)
	if code != 1 || !strings.Contains(out, "timed out after 1s") {
		t.Fatalf("exit %d after %s, want 1 naming the timeout:\n%s", code, time.Since(start), tail(out))
	}
	applied := 0
	for _, c := range sb.Stats().Writes["taobao.item.sku.price.update"] {
		applied += int(c)
	}
	if applied == 0 || applied >= n {
		t.Fatalf("%d of %d rows applied before the timeout: the test proves nothing", applied, n)
	}

	r, err := xlsx.Open(report, xlsx.Options{Sheet: "report"})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	counts := map[string]int{}
	for i := range n {
		row, err := r.Next()
		if err != nil {
			t.Fatalf("report row %d of %d: %v", i+1, n, err)
		}
		v := row.Values
		if v[0] != skuCode(i) || v[6] != strconv.Itoa(i+2) || v[8] != skuCode(i) {
			t.Fatalf("report row %d: %q, want id %s at line %d", i+1, v[:9], skuCode(i), i+2)
		}
		counts[v[1]]++
		switch v[1] {
		case "ok":
			if counts["not_started"] > 0 {
				t.Errorf("row %d ok after a row not started: rows are sent in input order", i+1)
			}
		case "not_started":
			if v[4] != "not started: the run was interrupted (timed out after 1s) before the job got to this row" || v[7] != "" {
				t.Errorf("not_started row %d: %q", i+1, v[:8])
			}
		default:
			t.Errorf("row %d: status %q", i+1, v[1])
		}
	}
	if _, err := r.Next(); err != io.EOF {
		t.Errorf("the report has more than %d rows", n)
	}
	if counts["ok"] != applied || counts["ok"]+counts["not_started"] != n {
		t.Errorf("statuses %v, %d applied by the gateway", counts, applied)
	}
	s, err := xlsx.Open(report, xlsx.Options{Sheet: "summary"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got := map[string]string{}
	for {
		row, err := s.Next()
		if err != nil {
			break
		}
		got[row.Values[0]] = row.Values[3]
	}
	if got["ok"] != strconv.Itoa(counts["ok"]) || got["not_started"] != strconv.Itoa(counts["not_started"]) {
		t.Errorf("summary sheet %v, want %v", got, counts)
	}
	t.Logf("--timeout 1s: %d rows ok, %d not_started, all %d in the report", counts["ok"], counts["not_started"], n)
}
