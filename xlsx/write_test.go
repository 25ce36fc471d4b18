package xlsx_test

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"

	"github.com/topscript/topscript/sheet"
	"github.com/topscript/topscript/xlsx"
)

func TestWriteCells(t *testing.T) {
	path := filepath.Join(t.TempDir(), "report.xlsx")
	header := []string{"num_iid", "宝贝ID", "title", "price", "qty", "note", "商家编码", "ok", "message"}
	w, err := xlsx.Create(path, header, xlsx.WriterOptions{Sheet: "结果", TextColumns: []string{"message"}})
	if err != nil {
		t.Fatal(err)
	}
	rows := [][]any{
		{"1234567890123456789", int64(1234567890123456789), "短袖", 12.5, 3, "=1+1", "007301", true, int64(42)},
		{int64(658812345678), 658812345678.0, "-5", -5.25, int64(1_000_000_000_000_000), "@SUM(A1)", 12345, false, "+cmd|' /C calc'!A0"},
		{uint64(math.MaxUint64), "", "-abc", nil, 0.1, "-2+3", nil, nil, nil},
		{"12"},
	}
	for _, r := range rows {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	if w.Rows() != 4 {
		t.Errorf("Rows() = %d", w.Rows())
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	want := [][]string{
		{"1234567890123456789", "1234567890123456789", "短袖", "12.5", "3", "=1+1", "007301", "TRUE", "42"},
		{"658812345678", "658812345678", "-5", "-5.25", "1000000000000000", "@SUM(A1)", "12345", "FALSE", "+cmd|' /C calc'!A0"},
		{"18446744073709551615", "", "-abc", "", "0.1", "-2+3", "", "", ""},
		{"12", "", "", "", "", "", "", "", ""},
	}
	h, got := readAll(t, path, xlsx.Options{Sheet: "结果"})
	if !reflect.DeepEqual(h.Names, header) {
		t.Errorf("header %q", h.Names)
	}
	if len(got) != len(want) {
		t.Fatalf("%d rows", len(got))
	}
	for i := range want {
		if got[i].Line != i+2 || !reflect.DeepEqual(got[i].Values, want[i]) {
			t.Errorf("row %d (line %d):\n got %q\nwant %q", i+1, got[i].Line, got[i].Values, want[i])
		}
	}

	// How the cells are stored: no formula anywhere; ids and big numbers
	// as text; numbers as numbers; formula-like text with the quote prefix.
	f, err := excelize.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for r := range rows {
		for c := range header {
			cell, _ := excelize.CoordinatesToCellName(c+1, r+2)
			if fx, _ := f.GetCellFormula("结果", cell); fx != "" {
				t.Errorf("%s holds formula %q", cell, fx)
			}
		}
	}
	for cell, wantType := range map[string]excelize.CellType{
		"A2": excelize.CellTypeInlineString, "B2": excelize.CellTypeInlineString, // ids, as text
		"A3": excelize.CellTypeInlineString, "B3": excelize.CellTypeInlineString, // ids given as numbers
		"E3": excelize.CellTypeInlineString,                                                      // 16 digits: more than Excel holds
		"A4": excelize.CellTypeInlineString,                                                      // 20 digits
		"G3": excelize.CellTypeInlineString,                                                      // 商家编码 given as a number
		"I2": excelize.CellTypeInlineString,                                                      // a text column given a number
		"D2": excelize.CellTypeUnset, "E2": excelize.CellTypeUnset, "D3": excelize.CellTypeUnset, // numbers
		"H2": excelize.CellTypeBool,
	} {
		if got, _ := f.GetCellType("结果", cell); got != wantType {
			t.Errorf("%s is of type %v, want %v", cell, got, wantType)
		}
	}
	quoted := func(cell string) bool {
		id, err := f.GetCellStyle("结果", cell)
		if err != nil {
			t.Fatal(err)
		}
		q := f.Styles.CellXfs.Xf[id].QuotePrefix
		return q != nil && *q
	}
	for _, cell := range []string{"F2", "F3", "I3", "F4", "C4"} {
		if !quoted(cell) {
			t.Errorf("%s (formula-like) has no quote prefix", cell)
		}
	}
	for _, cell := range []string{"C3", "D3", "A2", "C2"} {
		if quoted(cell) {
			t.Errorf("%s has a quote prefix", cell)
		}
	}
	// Id columns are formatted as Text for the operator's edits.
	for _, col := range []string{"A", "B", "G", "I"} {
		id, err := f.GetColStyle("结果", col)
		if err != nil {
			t.Fatal(err)
		}
		if st, _ := f.GetStyle(id); st == nil || st.NumFmt != 49 {
			t.Errorf("column %s is not formatted as Text", col)
		}
	}
}

func TestIDColumn(t *testing.T) {
	for name, want := range map[string]bool{
		"num_iid": true, "sku_id": true, "tid": true, "oid": true, "id": true, "ID": true, "request_id": true,
		"宝贝ID": true, "itemId": true, "outer_ids": true, "商家编码": true, "订单号": true, "手机号码": true,
		"barcode": true, "sku_barcode": true, "商品条形码": true, "receiver_mobile": true,
		"price": false, "paid": false, "valid": false, "title": false, "宝贝名称": false, "价格": false, "quantity": false, "status": false,
	} {
		if got := xlsx.IDColumn(name); got != want {
			t.Errorf("IDColumn(%q) = %v, want %v", name, got, want)
		}
	}
}

// 10,000 rows with Chinese headers and 19-digit ids, written and read
// back: every id exact, every row in order with its line.
func TestWriteReadTenThousand(t *testing.T) {
	path := filepath.Join(t.TempDir(), "价格.xlsx")
	header := []string{"宝贝ID", "SKU ID", "宝贝名称", "价格"}
	w, err := xlsx.Create(path, header, xlsx.WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	id := func(i int) uint64 { return 9_000_000_000_000_000_000 + uint64(i)*1_000_003 }
	const n = 10_000
	for i := range n {
		var sku any = strconv.FormatUint(id(i)+1, 10)
		if i%2 == 1 {
			sku = id(i) + 1 // given as a number
		}
		if err := w.Write([]any{strconv.FormatUint(id(i), 10), sku, "连衣裙 第" + strconv.Itoa(i) + "款", float64(i%1000) + 0.99}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	_, rows := readAll(t, path, xlsx.Options{})
	if len(rows) != n {
		t.Fatalf("%d rows back, want %d", len(rows), n)
	}
	for i, r := range rows {
		if r.Line != i+2 || r.Values[0] != strconv.FormatUint(id(i), 10) || r.Values[1] != strconv.FormatUint(id(i)+1, 10) ||
			r.Values[2] != "连衣裙 第"+strconv.Itoa(i)+"款" {
			t.Fatalf("row %d: line %d %q", i, r.Line, r.Values)
		}
	}
}

func TestWriteErrors(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "r.xlsx")
	for _, tc := range []struct {
		path   string
		header []string
		o      xlsx.WriterOptions
		want   string
	}{
		{filepath.Join(dir, "r.csv"), []string{"a"}, xlsx.WriterOptions{}, "must end in .xlsx"},
		{p, nil, xlsx.WriterOptions{}, "header is empty"},
		{p, []string{"a", ""}, xlsx.WriterOptions{}, "header column 2 has no name"},
		{p, []string{"a", "b", "a"}, xlsx.WriterOptions{}, `duplicate header "a" (columns 1 and 3)`},
		{p, []string{"a"}, xlsx.WriterOptions{TextColumns: []string{"b"}}, `text column "b" is not in the header`},
		{p, []string{"a"}, xlsx.WriterOptions{Sheet: "bad/name"}, `sheet name "bad/name"`},
	} {
		_, err := xlsx.Create(tc.path, tc.header, tc.o)
		var se *sheet.Error
		if !errors.As(err, &se) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Create(%s, %q): %v, want %q", tc.path, tc.header, err, tc.want)
		}
	}

	w, err := xlsx.Create(p, []string{"a", "b"}, xlsx.WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for v, want := range map[string][]any{
		"row has 3 values, header has 2":            {1, 2, 3},
		`column "b": cannot write a []string`:       {1, []string{"x"}},
		`column "a": NaN is not a number a cell`:    {math.NaN()},
		`column "a": +Inf is not a number a cell c`: {math.Inf(1)},
	} {
		if err := w.Write(want); err == nil || !strings.Contains(err.Error(), v) || !strings.Contains(err.Error(), p+":2: ") {
			t.Errorf("Write(%v): %v, want %q", want, err, v)
		}
	}
	w.Abort()
	if _, err := os.Stat(p); !os.IsNotExist(err) {
		t.Errorf("an aborted writer left %s: %v", p, err)
	}
	if err := w.Write([]any{1}); err == nil || !strings.Contains(err.Error(), "write after close") {
		t.Errorf("write after abort: %v", err)
	}

	// A workbook that cannot be moved into place leaves nothing behind.
	gone := filepath.Join(dir, "gone")
	os.Mkdir(gone, 0o755)
	w, err = xlsx.Create(filepath.Join(gone, "r.xlsx"), []string{"a"}, xlsx.WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]any{"1"})
	os.RemoveAll(gone) // the writer's temporary file is in it from Create on
	if err := w.Close(); err == nil || !strings.Contains(err.Error(), filepath.Join(gone, "r.xlsx")) {
		t.Errorf("Close into a removed directory: %v", err)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.Contains(e.Name(), "partial") {
			t.Errorf("left %s", e.Name())
		}
	}
}

// NextSheet ends one sheet and starts another with its own header; both
// read back, and the workbook gets the mode os.Create gives a file.
func TestWriteNextSheet(t *testing.T) {
	path := filepath.Join(t.TempDir(), "two.xlsx")
	w, err := xlsx.Create(path, []string{"num_iid", "status"}, xlsx.WriterOptions{Sheet: "report"})
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]any{"600000153551", "ok"})
	if err := w.NextSheet("summary", []string{"status", "rows"}); err != nil {
		t.Fatal(err)
	}
	w.Write([]any{"ok", 1})
	if err := w.NextSheet("bad", []string{"a", "a"}); err == nil {
		t.Error("a duplicate column was taken")
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	for sheet, want := range map[string]string{"report": "600000153551,ok", "summary": "ok,1"} {
		r, err := xlsx.Open(path, xlsx.Options{Sheet: sheet})
		if err != nil {
			t.Fatal(err)
		}
		row, err := r.Next()
		r.Close()
		if err != nil || strings.Join(row.Values, ",") != want {
			t.Errorf("sheet %s: %q (%v), want %s", sheet, row.Values, err, want)
		}
	}
	if st, err := os.Stat(path); err != nil || (runtime.GOOS != "windows" && st.Mode().Perm() != 0o644) {
		t.Errorf("mode %v (%v), want 0644", st.Mode(), err)
	}
}
