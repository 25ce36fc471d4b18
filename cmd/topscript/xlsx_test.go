package main

import (
	"encoding/csv"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/topscript/topscript/xlsx"
)

// writeExamplesEnv (re)writes scripts/examples/prices.xlsx from
// prices.csv, the workbook bulk_price_xlsx.lua reads.
const writeExamplesEnv = "TOPSCRIPT_WRITE_EXAMPLES"

// examplePrices are prices.csv's rows.
func examplePrices(t *testing.T) [][]string {
	t.Helper()
	f, err := os.Open(filepath.Join(examplesDir(t), "prices.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return recs[1:]
}

// The example workbook holds prices.csv's rows under the Chinese headers
// bulk_price_xlsx.lua maps (TOPSCRIPT_WRITE_EXAMPLES=1 rewrites it), and
// the example runs on it with --sandbox: every SKU updated, the workbook
// report listing every row in the sheet's order with its row number, the
// summary on its own sheet.
func TestExampleWorkbook(t *testing.T) {
	path := filepath.Join(examplesDir(t), "prices.xlsx")
	want := examplePrices(t)
	if os.Getenv(writeExamplesEnv) != "" {
		w, err := xlsx.Create(path, []string{"宝贝ID", "销售属性", "价格"}, xlsx.WriterOptions{Sheet: "价格表"})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range want {
			w.Write([]any{r[0], r[1], r[2]})
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	r, err := xlsx.Open(path, xlsx.Options{})
	if err != nil {
		t.Fatalf("%v (write it with %s=1)", err, writeExamplesEnv)
	}
	for i, w := range want {
		row, err := r.Next()
		if err != nil || strings.Join(row.Values, ",") != strings.Join(w, ",") {
			t.Fatalf("row %d: %q (%v), want %q: rewrite it with %s=1", i+1, row.Values, err, w, writeExamplesEnv)
		}
	}
	if _, err := r.Next(); err != io.EOF {
		t.Fatalf("more rows than prices.csv: rewrite it with %s=1", writeExamplesEnv)
	}

	dir := t.TempDir()
	code, stdout, stderr := topscript(t, dir, "run", "--sandbox", filepath.Join(examplesDir(t), "bulk_price_xlsx.lua"), path)
	if code != 0 || !strings.HasPrefix(stdout, "1000 SKUs: 1000 updated, 0 failed") {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	rep, err := xlsx.Open(filepath.Join(dir, "bulk_price_xlsx.report.xlsx"), xlsx.Options{Sheet: "report"})
	if err != nil {
		t.Fatal(err)
	}
	defer rep.Close()
	for i, w := range want {
		row, err := rep.Next()
		if err != nil {
			t.Fatalf("report row %d: %v", i+1, err)
		}
		v := row.Values
		if v[0] != w[0]+":"+w[1] || v[1] != "ok" || v[6] != strconv.Itoa(i+2) || v[8] != w[0] || v[10] != w[2] {
			t.Fatalf("report row %d: %q, want %q at row %d", i+1, v, w, i+2)
		}
	}
	if _, err := rep.Next(); err != io.EOF {
		t.Errorf("the report has more rows than the sheet")
	}
}
