package xlsx_test

import (
	"archive/zip"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/topscript/topscript/sheet"
	"github.com/topscript/topscript/xlsx"
)

// readAll opens path and reads every row.
func readAll(t *testing.T, path string, o xlsx.Options) (sheet.Header, []sheet.Row) {
	t.Helper()
	r, err := xlsx.Open(path, o)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var rows []sheet.Row
	for {
		row, err := r.Next()
		if err == io.EOF {
			return r.Header(), rows
		}
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, row)
	}
}

var excelHeader = []string{"宝贝ID", "SKU编码", "宝贝名称", "价格", "折扣", "上架时间", "数量", "备注", "生日"}

func excelRows(i int) []any {
	switch i {
	case 0:
		return []any{"1234567890123456789", "TS-0001", `夏季 T恤 & <白> "XL"`, 12.5, 0.85, date(45444.4375), int64(300), "多行\n备注\t_x000D_", date(45444)}
	case 1:
		return []any{658812345678.0, "007301", "  留空格  ", 1234.5, 0.1, date(45444.99999), int64(0), nil, date(45292.5)}
	case 2:
		return []any{nil, nil, nil, nil, nil, nil, nil, nil, nil} // a blank row
	case 3:
		return []any{1.2345678901234567e18, "=SUM(A1:A2)"} // a short row
	}
	return nil
}

// What the rows above read as (the blank row is skipped; rows keep their
// sheet row numbers).
var excelWant = []sheet.Row{
	{Line: 2, Values: []string{"1234567890123456789", "TS-0001", `夏季 T恤 & <白> "XL"`, "12.50", "85%", "2024-06-01 10:30:00", "300", "多行\n备注\t\r", "2024-06-01 00:00:00"}},
	{Line: 3, Values: []string{"658812345678", "007301", "  留空格  ", "1234.50", "10%", "2024-06-01 23:59:59", "0", "", "2024-01-01 12:00:00"}},
	{Line: 5, Values: []string{"1.23456789012346E+18", "=SUM(A1:A2)", "", "", "", "", "", "", ""}},
}

// A workbook laid out as Excel saves one reads the same through both
// paths (shared strings in memory, and inlined for a large table), with
// and without namespace prefixes on the sheet's elements.
func TestReadExcelLayout(t *testing.T) {
	for _, tc := range []struct {
		name   string
		prefix string
		inline bool
	}{{"in-memory", "", false}, {"inlined", "", true}, {"prefixed-in-memory", "x:", false}, {"prefixed-inlined", "x:", true}} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.inline {
				defer xlsx.SetSharedLimit(0)()
			}
			path := filepath.Join(t.TempDir(), "prices.xlsx")
			excelLike{header: excelHeader, rows: 4, row: excelRows, prefix: tc.prefix, rich: true,
				styles: map[int]int{3: 1, 4: 3, 5: 2, 8: 4}}.write(t, path)
			copyPath, err := xlsx.InlinedCopy(path, xlsx.Options{Sheet: "价格表"})
			if err != nil {
				t.Fatal(err)
			}
			if tc.inline != (copyPath != "") {
				t.Fatalf("inlined copy %q, want one: %v", copyPath, tc.inline)
			}
			if copyPath != "" {
				sheetXML := zipPart(t, copyPath, "xl/worksheets/sheet1.xml")
				os.Remove(copyPath)
				if strings.Contains(sheetXML, `t="s"`) || !strings.Contains(sheetXML, `<`+tc.prefix+`is><`+tc.prefix+`t xml:space="preserve">宝贝ID</`+tc.prefix+`t></`+tc.prefix+`is>`) {
					t.Errorf("the copy's sheet still refers to shared strings or lost its prefix: %.600s", sheetXML)
				}
			}
			for _, o := range []xlsx.Options{{Sheet: "价格表"}, {Index: 2}, {Sheet: " 价格表 "}} {
				h, rows := readAll(t, path, o)
				if !reflect.DeepEqual(h.Names, excelHeader) || h.Labels != nil {
					t.Errorf("%+v: header %q", o, h.Names)
				}
				if !reflect.DeepEqual(rows, excelWant) {
					t.Errorf("%+v: rows\n got %#v\nwant %#v", o, rows, excelWant)
				}
			}
			// The first sheet by default: a note, no data.
			h, rows := readAll(t, path, xlsx.Options{})
			if len(h.Names) != 1 || h.Names[0] != "价格表在第二页" || len(rows) != 0 {
				t.Errorf("first sheet: %q, %d rows", h.Names, len(rows))
			}
		})
	}
}

// zipPart returns one part of the zip at path.
func zipPart(t *testing.T, path, name string) string {
	t.Helper()
	zr, err := zip.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	for _, f := range zr.File {
		if f.Name == name {
			rc, err := f.Open()
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			b, err := io.ReadAll(rc)
			if err != nil {
				t.Fatal(err)
			}
			return string(b)
		}
	}
	t.Fatalf("%s has no %s", path, name)
	return ""
}

// A workbook as excelize (and other programs) write it: a title above the
// header, built-in and custom formats, a formula never computed, booleans.
func TestReadCellsAsShown(t *testing.T) {
	f := excelize.NewFile()
	defer f.Close()
	const s = "Sheet1"
	style := func(fmtID int, custom string) int {
		st := &excelize.Style{NumFmt: fmtID}
		if custom != "" {
			st.CustomNumFmt = &custom
		}
		id, err := f.NewStyle(st)
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	d := time.Date(2024, 6, 1, 10, 30, 5, 0, time.UTC)
	cells := []struct {
		header string
		value  any
		style  int
		want   string
	}{
		{"price", 12.5, style(2, ""), "12.50"},
		{"amount", 1234.5, style(4, ""), "1,234.50"},
		{"rmb", 12.5, style(0, "¥#,##0.00"), "¥12.50"},
		{"rate", 0.85, style(9, ""), "85%"},
		{"builtin-date", d, style(14, ""), "2024-06-01 10:30:05"},
		{"builtin-datetime", d, style(22, ""), "2024-06-01 10:30:05"},
		{"custom-date", d, style(0, "yyyy/m/d h:mm"), "2024-06-01 10:30:05"},
		{"chinese-date", d, style(0, `yyyy"年"m"月"d"日"`), "2024-06-01 10:30:05"},
		{"locale-date", d, style(0, `[$-804]yyyy"年"m"月"d"日";@`), "2024-06-01 10:30:05"},
		{"month", d, style(0, "mmm"), "2024-06-01 10:30:05"},
		{"time", d, style(20, ""), "10:30"},
		{"minutes", 0.5, style(0, "mm:ss"), "00:00"},
		{"duration", 1.5, style(46, ""), "36:00:00"},
		{"general", 658812345678, 0, "658812345678"},
		{"sum", 0.1 + 0.2, 0, "0.3"},
		{"text-id", "1234567890123456789", style(49, ""), "1234567890123456789"},
		{"flag", true, 0, "TRUE"},
	}
	f.SetCellValue(s, "A1", "2024年6月 价格表")
	f.MergeCell(s, "A1", "C1")
	for i, c := range cells {
		h, _ := excelize.CoordinatesToCellName(i+1, 2)
		v, _ := excelize.CoordinatesToCellName(i+1, 3)
		f.SetCellValue(s, h, c.header)
		f.SetCellValue(s, v, c.value)
		if c.style != 0 {
			f.SetCellStyle(s, v, v, c.style)
		}
	}
	formula, _ := excelize.CoordinatesToCellName(len(cells)+1, 2)
	f.SetCellValue(s, formula, "formula")
	formula, _ = excelize.CoordinatesToCellName(len(cells)+1, 3)
	f.SetCellFormula(s, formula, "A3*2")
	path := filepath.Join(t.TempDir(), "cells.xlsx")
	if err := f.SaveAs(path); err != nil {
		t.Fatal(err)
	}
	h, rows := readAll(t, path, xlsx.Options{HeaderRow: 2})
	if len(rows) != 1 || rows[0].Line != 3 {
		t.Fatalf("rows %v", rows)
	}
	for i, c := range cells {
		if h.Names[i] != c.header || rows[0].Values[i] != c.want {
			t.Errorf("%s (%s): %q, want %q", h.Names[i], c.header, rows[0].Values[i], c.want)
		}
	}
	if v := rows[0].Values[len(cells)]; v != "" {
		t.Errorf("a formula never computed reads %q, want \"\"", v)
	}
	// Read from row 1, the merged title is the header: one column, and
	// the real header row below it has values outside it.
	r, err := xlsx.Open(path, xlsx.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if h := r.Header(); len(h.Names) != 1 || h.Names[0] != "2024年6月 价格表" {
		t.Errorf("title as header: %q", h.Names)
	}
	if _, err := r.Next(); err == nil || !strings.Contains(err.Error(), `cell B2: a value ("amount") in a column with no header`) {
		t.Errorf("header row 1 of a sheet with a title: %v", err)
	}
}

func TestReadErrors(t *testing.T) {
	dir := t.TempDir()
	book := func(name string, rows ...[]any) string {
		f := excelize.NewFile()
		defer f.Close()
		f.NewSheet("第二页")
		for i, r := range rows {
			cell, _ := excelize.CoordinatesToCellName(1, i+1)
			if err := f.SetSheetRow("Sheet1", cell, &r); err != nil {
				t.Fatal(err)
			}
		}
		p := filepath.Join(dir, name)
		if err := f.SaveAs(p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := book("good.xlsx", []any{"num_iid", "price"}, []any{"1", "2"})
	csv := filepath.Join(dir, "renamed.xlsx")
	os.WriteFile(csv, []byte("num_iid,price\n1,2\n"), 0o644)
	raw, _ := os.ReadFile(good)
	truncated := filepath.Join(dir, "truncated.xlsx")
	os.WriteFile(truncated, raw[:len(raw)/2], 0o644)
	missing := filepath.Join(dir, "nope.xlsx")

	for _, tc := range []struct {
		path string
		o    xlsx.Options
		want string
		cell string
		line int
	}{
		{missing, xlsx.Options{}, missing + ": no such file", "", 0},
		{dir, xlsx.Options{}, "is a directory", "", 0},
		{csv, xlsx.Options{}, "not an .xlsx workbook", "", 0},
		{truncated, xlsx.Options{}, "not an .xlsx workbook", "", 0},
		{good, xlsx.Options{Sheet: "价格"}, `no sheet "价格" (sheets: "Sheet1", "第二页")`, "", 0},
		{good, xlsx.Options{Index: 3}, `no sheet 3: the workbook has 2 ("Sheet1", "第二页")`, "", 0},
		{good, xlsx.Options{Index: 1, Sheet: "Sheet1"}, "not both", "", 0},
		{good, xlsx.Options{Index: -1}, "count from 1", "", 0},
		{good, xlsx.Options{Sheet: "第二页"}, `sheet "第二页": the sheet is empty: no header row`, "", 0},
		{good, xlsx.Options{HeaderRow: 5}, `sheet "Sheet1": no header row: the sheet ends before row 5`, "", 0},
		{book("dup.xlsx", []any{"num_iid", "price", "num_iid"}), xlsx.Options{}, `cell C1: duplicate header "num_iid" (columns 1 and 3)`, "C1", 1},
		{book("noname.xlsx", []any{"num_iid", nil, "price"}), xlsx.Options{}, "cell B1: header column 2 has no name", "B1", 1},
		{book("spill.xlsx", []any{"num_iid", "price"}, []any{"1", "2"}, []any{"3", "4", "备注：先别改"}), xlsx.Options{},
			`cell C3: a value ("备注：先别改") in a column with no header (the header row has 2 columns`, "C3", 3},
	} {
		r, err := xlsx.Open(tc.path, tc.o)
		if err == nil {
			for err == nil {
				_, err = r.Next()
			}
			if err == io.EOF {
				err = nil
			}
		}
		var se *sheet.Error
		if !errors.As(err, &se) {
			t.Errorf("%s %+v: %v (%T), want a *sheet.Error", tc.path, tc.o, err, err)
			continue
		}
		if !strings.HasPrefix(err.Error(), tc.path+": ") || !strings.Contains(err.Error(), tc.want) || se.Cell != tc.cell || se.Line != tc.line {
			t.Errorf("%s %+v:\n got %v (cell %q line %d)\nwant %q (cell %q line %d)", tc.path, tc.o, err, se.Cell, se.Line, tc.want, tc.cell, tc.line)
		}
	}
}
