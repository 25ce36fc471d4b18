package stdlib

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/xuri/excelize/v2"

	"github.com/topscript/topscript/xlsx"
)

// A workbook written by xlsx.writer reads back through xlsx.read and
// xlsx.rows as it was written: a 19-digit id digit for digit, "12.50"
// with its zero, Chinese headers, numbers and booleans as Excel shows
// them, and a formula-like cell as text; the rows carry their header and
// file, and the iterator gives each row's number in the sheet.
func TestXLSXWriteThenRead(t *testing.T) {
	path := filepath.Join(t.TempDir(), "价格.xlsx")
	L := newState(t, nil)
	L.SetGlobal("path", luaString(path))
	run(t, L, `
		local w = xlsx.writer(path, {"sku_id", "价格", "数量", "在售", "备注"}, {sheet = "价格表"})
		w:write({sku_id = "1234567890123456789", ["价格"] = "12.50", ["数量"] = 7, ["在售"] = true, ["备注"] = "=1+1"})
		w:write({"9999999999999999999", "9.90", 0.5, false})
		w:close()
	`)
	run(t, L, `
		local all = xlsx.read(path, {sheet = "价格表"})
		assert(#all == 2, #all)
		local r = all[1]
		assert(r.sku_id == "1234567890123456789", r.sku_id)
		assert(r["价格"] == "12.50", r["价格"])
		assert(r["数量"] == "7", r["数量"])
		assert(r["在售"] == "TRUE", r["在售"])
		assert(r["备注"] == "=1+1", r["备注"])
		assert(all[2].sku_id == "9999999999999999999" and all[2]["数量"] == "0.5" and all[2]["备注"] == "", json.encode(all[2]))
		assert(json.encode(all):sub(1, 1) == "[", "read gives an array for json")
		lines = {}
		it = xlsx.rows(path)
		for row, line in it do lines[#lines + 1] = line .. ":" .. row.sku_id end
		assert(table.concat(lines, ",") == "2:1234567890123456789,3:9999999999999999999", table.concat(lines, ","))
		assert(tostring(it):find("xlsx.rows", 1, true))
		all_ = all
	`)
	want := []string{"sku_id", "价格", "数量", "在售", "备注"}
	for _, name := range []string{"all_", "it"} {
		if got := RowsHeader(L.GetGlobal(name)).Names; !slices.Equal(got, want) {
			t.Errorf("RowsHeader(%s) = %q, want %q", name, got, want)
		}
		if got := RowsSource(L.GetGlobal(name)); got != path {
			t.Errorf("RowsSource(%s) = %q, want %q", name, got, path)
		}
	}
	// The id is a text cell, so Excel shows (and keeps) every digit.
	f, err := excelize.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if typ, err := f.GetCellType("价格表", "A2"); err != nil || (typ != excelize.CellTypeInlineString && typ != excelize.CellTypeSharedString) {
		t.Errorf("the id cell's type is %v (%v), want text", typ, err)
	}
}

// header_row skips a title above the header; sheet chooses a worksheet by
// name or by number.
func TestXLSXReadOptions(t *testing.T) {
	path := filepath.Join(t.TempDir(), "book.xlsx")
	f := excelize.NewFile()
	f.SetCellValue("Sheet1", "A1", "说明页")
	f.NewSheet("价格表")
	f.SetSheetRow("价格表", "A1", &[]any{"6月价格调整 (请勿修改表头)"})
	f.SetSheetRow("价格表", "A2", &[]any{"宝贝ID", "价格"})
	f.SetSheetRow("价格表", "A3", &[]any{"600000153551", "53.90"})
	f.SetSheetRow("价格表", "A5", &[]any{"600000153552", "61"})
	if err := f.SaveAs(path); err != nil {
		t.Fatal(err)
	}
	f.Close()
	L := newState(t, nil)
	L.SetGlobal("path", luaString(path))
	for _, opts := range []string{`{sheet = "价格表", header_row = 2}`, `{sheet = 2, header_row = 2}`} {
		run(t, L, `
			local got = {}
			for row, line in xlsx.rows(path, `+opts+`) do got[#got + 1] = line .. "=" .. row["宝贝ID"] .. "@" .. row["价格"] end
			assert(table.concat(got, " ") == "3=600000153551@53.90 5=600000153552@61", table.concat(got, " "))
		`)
	}
	wantError(t, L, `xlsx.read(path, {sheet = "价目表"})`, path, `no sheet "价目表"`, `"Sheet1", "价格表"`)
	wantError(t, L, `xlsx.read(path, {sheet = 3})`, "no sheet 3")
	wantError(t, L, `xlsx.read(path, {header_row = 0})`, "header_row must be a whole number from 1")
	wantError(t, L, `xlsx.read(path, {heder_row = 2})`, `unknown option "heder_row"`)
	wantError(t, L, `xlsx.read(path, {sheet = "价格表", header_row = 9})`, "sheet ends before row 9")
	wantError(t, L, `xlsx.rows(path .. ".missing")`, path+".missing", "no such file")
	wantError(t, L, `xlsx.writer("out.csv", {"a"})`, "must end in .xlsx")
	wantError(t, L, `xlsx.writer(path .. "2.xlsx", {"a"}):write({b = 1})`, "keys not in the header: b")
}

// A writer the script never closed is written when the run ends
// (CloseReaders); an iterator kept past its run says so when called.
func TestXLSXEndOfRun(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "in.xlsx")
	w, err := xlsx.Create(src, []string{"id"}, xlsx.WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"1", "2", "3"} {
		w.Write([]any{id})
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	env := &Env{}
	L := newState(t, env)
	out := filepath.Join(dir, "forgotten.xlsx")
	L.SetGlobal("src", luaString(src))
	L.SetGlobal("out", luaString(out))
	run(t, L, `
		w = xlsx.writer(out, {"id"})
		w:write({id = "42"})
		it = xlsx.rows(src)
		assert(it().id == "1")
	`)
	if _, err := os.Stat(out); err == nil {
		t.Fatal("the workbook was written before the run ended")
	}
	if err := env.CloseReaders(); err != nil {
		t.Fatal(err)
	}
	r, err := xlsx.Open(out, xlsx.Options{})
	if err != nil {
		t.Fatalf("the unclosed writer's workbook: %v", err)
	}
	row, err := r.Next()
	r.Close()
	if err != nil || row.Values[0] != "42" {
		t.Fatalf("the unclosed writer's row: %v %v", row, err)
	}
	wantError(t, L, `it()`, "closed when the run that opened it ended", "xlsx.rows")
	run(t, L, `w:close()`) // closing again is no error
}
