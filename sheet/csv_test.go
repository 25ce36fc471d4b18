package sheet_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/encoding/unicode"

	"github.com/topscript/topscript/sheet"
)

// readAll reads every row of r.
func readAll(t *testing.T, r *sheet.CSVReader) []sheet.Row {
	t.Helper()
	var rows []sheet.Row
	for {
		row, err := r.Next()
		if err == io.EOF {
			return rows
		}
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		rows = append(rows, row)
	}
}

func cell(t *testing.T, h sheet.Header, r sheet.Row, name string) string {
	t.Helper()
	v, ok := r.Get(h, name)
	if !ok {
		t.Fatalf("no column %q in %v", name, h.Names)
	}
	return v
}

// The fixture is a 淘宝助理 item export made for these tests: UTF-16LE with
// a BOM, CRLF, tab-separated, a version line, the English key row, the
// Chinese label row, quoted text cells (a description with a tab, quotes
// and line breaks inside), ids and a barcode as bare digits.
func TestAssistantExport(t *testing.T) {
	const path = "testdata/taobao_assistant.csv"
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(raw, []byte{0xFF, 0xFE, 'v', 0}) {
		t.Fatalf("fixture is not UTF-16LE with a BOM starting with \"version\": % x", raw[:4])
	}
	r, err := sheet.OpenCSV(path, sheet.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if r.Format() != sheet.Assistant || r.Version() != "1.00" {
		t.Fatalf("format %q version %q, want %q 1.00", r.Format(), r.Version(), sheet.Assistant)
	}
	h := r.Header()
	if len(h.Names) != 34 || len(h.Labels) != 34 {
		t.Fatalf("%d names, %d labels, want 34 each", len(h.Names), len(h.Labels))
	}
	if h.Names[0] != "title" || h.Labels[0] != "宝贝名称" || h.Names[31] != "num_id" || h.Labels[31] != "数字ID" {
		t.Errorf("header: %q/%q, %q/%q", h.Names[0], h.Labels[0], h.Names[31], h.Labels[31])
	}
	rows := readAll(t, r)
	if len(rows) != 3 {
		t.Fatalf("%d rows, want 3", len(rows))
	}
	// Row 1 spans lines 4-5 (a line break in its description), row 2 lines
	// 6-8, row 3 is line 9.
	for i, want := range []int{4, 6, 9} {
		if rows[i].Line != want {
			t.Errorf("row %d starts on line %d, want %d", i+1, rows[i].Line, want)
		}
	}
	r1 := rows[0]
	for name, want := range map[string]string{
		"title":    "夏季纯棉短袖T恤 男士圆领宽松",
		"宝贝名称":     "夏季纯棉短袖T恤 男士圆领宽松", // by label
		"num_id":   "658812345678",
		"price":    "59.00",
		"outer_id": "TS-0001",
		"barcode":  "6901234567892",
		"skuProps": "59.00:120:TS-0001-W-M::1627207:28320;20509:28314;59.00:200:TS-0001-W-L::1627207:28320;20509:28315;",
		"description": "<p><img align=\"absmiddle\" src=\"https://img.example.cn/desc/1.jpg\"></p>\n" +
			"<p style=\"color:#333\">纯棉面料，\"透气\"舒适\t不起球</p>",
	} {
		if got := cell(t, h, r1, name); got != want {
			t.Errorf("row 1 %s = %q, want %q", name, got, want)
		}
	}
	if got := cell(t, h, rows[1], "outer_id"); got != "007301" {
		t.Errorf("leading zeros lost: outer_id %q", got)
	}
	if got := cell(t, h, rows[2], "数字ID"); got != "712000000001" {
		t.Errorf("row 3 数字ID %q", got)
	}

	// A job spec's columns, by Chinese label and by key.
	aliases, err := h.Resolve(map[string]string{"num_iid": "数字ID", "price": "宝贝价格", "sku": "outer_id"})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, a := range aliases {
		got[a.Key] = rows[1].Values[a.Column]
	}
	want := map[string]string{"num_iid": "701234567890", "price": "168.00", "sku": "007301"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("alias %s = %q, want %q", k, got[k], v)
		}
	}
	_, err = h.Resolve(map[string]string{"price": "价格", "num_iid": "数字ID"})
	if err == nil || !strings.Contains(err.Error(), `columns.price: no column "价格"`) || !strings.Contains(err.Error(), "num_id (数字ID)") {
		t.Errorf("unknown column: %v", err)
	}
}

// The version line decides, whatever the encoding and delimiter: a GBK
// export with commas, and a UTF-8 one with tabs.
func TestAssistantEncodings(t *testing.T) {
	export := func(sep string) string {
		return strings.ReplaceAll("version 3.2\r\nnum_id|title|price\r\n数字ID|宝贝名称|宝贝价格\r\n658812345678|\"短袖"+sep+" 白\"|59.00\r\n", "|", sep)
	}
	gbk, err := simplifiedchinese.GBK.NewEncoder().String(export(","))
	if err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		data  string
		o     sheet.Options
		title string
	}{
		"gbk-comma": {gbk, sheet.Options{Delimiter: ','}, "短袖, 白"},
		"utf8-tab":  {export("\t"), sheet.Options{}, "短袖\t 白"},
		"utf8-bom":  {"\uFEFF" + export(";"), sheet.Options{Delimiter: ';'}, "短袖; 白"},
	} {
		t.Run(name, func(t *testing.T) {
			r, err := sheet.NewCSVReader(strings.NewReader(tc.data), name, tc.o)
			if err != nil {
				t.Fatal(err)
			}
			if r.Format() != sheet.Assistant || r.Version() != "3.2" {
				t.Fatalf("format %q version %q", r.Format(), r.Version())
			}
			rows := readAll(t, r)
			if len(rows) != 1 || rows[0].Line != 4 {
				t.Fatalf("rows %+v", rows)
			}
			h := r.Header()
			if v := cell(t, h, rows[0], "宝贝名称"); v != tc.title {
				t.Errorf("title %q, want %q", v, tc.title)
			}
			if v := cell(t, h, rows[0], "num_id"); v != "658812345678" {
				t.Errorf("num_id %q", v)
			}
		})
	}
}

func TestCSVEncodingsAndDelimiters(t *testing.T) {
	utf16 := func(s string) string {
		b, err := unicode.UTF16(unicode.LittleEndian, unicode.UseBOM).NewEncoder().String(s)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	gbk, _ := simplifiedchinese.GBK.NewEncoder().String("宝贝ID,价格\n123,9.90\n")
	for name, tc := range map[string]struct {
		data string
		o    sheet.Options
	}{
		"utf8":          {"宝贝ID,价格\n123,9.90\n", sheet.Options{}},
		"utf8-bom":      {"\uFEFF宝贝ID,价格\n123,9.90\n", sheet.Options{}},
		"gbk-auto":      {gbk, sheet.Options{}},
		"gbk-asked":     {gbk, sheet.Options{Encoding: sheet.GB18030}},
		"utf16-tab":     {utf16("宝贝ID\t价格\r\n123\t9.90\r\n"), sheet.Options{}},
		"utf16-comma":   {utf16("宝贝ID,价格\r\n123,9.90\r\n"), sheet.Options{}},
		"tab":           {"宝贝ID\t价格\n123\t9.90\n", sheet.Options{}},
		"given-header":  {"123,9.90\n", sheet.Options{Header: []string{"宝贝ID", "价格"}}},
		"blank-skipped": {"宝贝ID,价格\n\n,\n123,9.90\n", sheet.Options{}},
	} {
		t.Run(name, func(t *testing.T) {
			r, err := sheet.NewCSVReader(strings.NewReader(tc.data), name, tc.o)
			if err != nil {
				t.Fatal(err)
			}
			if r.Format() != sheet.CSV || r.Header().Labels != nil {
				t.Errorf("format %q labels %v", r.Format(), r.Header().Labels)
			}
			rows := readAll(t, r)
			if len(rows) != 1 {
				t.Fatalf("%d rows", len(rows))
			}
			if got := strings.Join(rows[0].Values, "|"); got != "123|9.90" {
				t.Errorf("row %q", got)
			}
			if got := strings.Join(r.Header().Names, "|"); got != "宝贝ID|价格" {
				t.Errorf("header %q", got)
			}
		})
	}
}

func TestCSVErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, data string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	open := func(p string) error {
		r, err := sheet.OpenCSV(p, sheet.Options{})
		if err != nil {
			return err
		}
		defer r.Close()
		for {
			if _, err := r.Next(); err != nil {
				if err == io.EOF {
					return nil
				}
				return err
			}
		}
	}
	missing := filepath.Join(dir, "nope.csv")
	for _, tc := range []struct {
		path string
		want []string
		line int
	}{
		{missing, []string{missing + ": no such file"}, 0},
		{dir, []string{"is a directory"}, 0},
		{write("empty.csv", ""), []string{"empty file: no header row"}, 0},
		{write("ragged.csv", "a,b,c\n1,2,3\n4,5\n"), []string{":3: row has 2 columns, header has 3"}, 3},
		{write("dup.csv", "sku,price,sku\n"), []string{`:1: duplicate header "sku" (columns 1 and 3)`}, 1},
		{write("noname.csv", "a,,c\n"), []string{":1: header column 2 has no name"}, 1},
		{write("quote.csv", "a,b\n1,\"x\"y\n"), []string{":2:5: extraneous or missing \" in quoted-field"}, 2},
		// Neither UTF-8 nor GB18030: an error naming the line, never U+FFFD.
		{write("notutf8.csv", "a,b\n1,\xff\xfe\xfd\n"), []string{":2: neither valid UTF-8 nor valid GBK/GB18030"}, 2},
		{write("notutf8b.csv", "a,b\n1,\xff\n"), []string{":2: neither valid UTF-8 nor valid GBK/GB18030"}, 2},
		{write("nolabels.csv", "version 1.00\nnum_id\ttitle\n"), []string{"淘宝助理 export without its Chinese header row (line 3)"}, 0},
		{write("longlabels.csv", "version 1.00\nnum_id\ttitle\n数字ID\t宝贝名称\t多余\n"), []string{":3: the Chinese header row has 3 columns, the key row above it 2"}, 3},
		{write("keyless.csv", "version 1.00\nnum_id\t\n数字ID\t宝贝名称\n"), []string{":2: header column 2 has no name"}, 2},
		{write("nul.csv", "a,b\x00c\n1,2\n"), []string{":1: header column 2 holds a NUL byte"}, 1},
	} {
		err := open(tc.path)
		if len(tc.want) == 0 {
			if err != nil {
				t.Errorf("%s: %v", tc.path, err)
			}
			continue
		}
		var se *sheet.Error
		if !errors.As(err, &se) {
			t.Errorf("%s: error %v (%T) is not a *sheet.Error", tc.path, err, err)
			continue
		}
		if se.Line != tc.line || !strings.HasPrefix(err.Error(), tc.path) {
			t.Errorf("%s: line %d, want %d: %v", tc.path, se.Line, tc.line, err)
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %q does not say %q", tc.path, err, w)
			}
		}
	}

	// Asked to read UTF-8, a GBK file is refused with a hint, naming the line.
	gbk, _ := simplifiedchinese.GBK.NewEncoder().String("a,宝贝\n1,2\n")
	_, err := sheet.NewCSVReader(strings.NewReader(gbk), "g.csv", sheet.Options{Encoding: sheet.UTF8})
	if err == nil || !strings.Contains(err.Error(), "g.csv:1: column 2 is not valid UTF-8") || !strings.Contains(err.Error(), `encoding = "gbk"`) {
		t.Errorf("GBK read as UTF-8: %v", err)
	}
	if _, err := sheet.ParseEncoding("latin1"); err == nil || !strings.Contains(err.Error(), `unknown encoding "latin1"`) {
		t.Errorf("ParseEncoding: %v", err)
	}
	if _, err := sheet.NewCSVReader(strings.NewReader("1\n"), "h.csv", sheet.Options{Header: []string{"a", "a"}}); err == nil || !strings.Contains(err.Error(), "duplicate header") {
		t.Errorf("duplicate given header: %v", err)
	}
}

// Files that used to read wrong: lines ending with CR alone (Excel's "CSV
// (Macintosh)") read as one line, so no rows; a second byte-order mark
// left in the first column's name, so the script's r.a was nil.
func TestOddLineEndingsAndMarks(t *testing.T) {
	for name, data := range map[string]string{
		"cr":        "a,b\r1,2\r3,4\r",
		"cr-no-end": "a,b\r1,2\r3,4",
		"two-boms":  "\uFEFF\uFEFFa,b\n1,2\n3,4\n",
		"crlf":      "a,b\r\n1,2\r\n3,4\r\n",
	} {
		r, err := sheet.NewCSVReader(strings.NewReader(data), name, sheet.Options{})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		h := r.Header()
		rows := readAll(t, r)
		if len(rows) != 2 || cell(t, h, rows[0], "a") != "1" || cell(t, h, rows[1], "b") != "4" || rows[1].Line != 3 {
			t.Errorf("%s: header %q, rows %v", name, h.Names, rows)
		}
	}
}

func TestHeaderIndexAndResolve(t *testing.T) {
	h := sheet.Header{Names: []string{"num_id", "price", "sale_price"}, Labels: []string{"数字ID", "价格", "价格"}}
	for name, want := range map[string]int{"num_id": 0, "数字ID": 0, "price": 1, "价格": -1, "nope": -1} {
		if got := h.Index(name); got != want {
			t.Errorf("Index(%q) = %d, want %d", name, got, want)
		}
	}
	_, err := h.Resolve(map[string]string{"p": "价格", "q": "prise", "": "x", "r": ""})
	if err == nil {
		t.Fatal("no error")
	}
	for _, w := range []string{
		`columns.p: 2 columns are labelled "价格"; name one by its key (price, sale_price)`,
		`columns.q: no column "prise" (did you mean "price"?)`,
		`columns: an empty key maps to "x"`,
		`columns.r: the column name is empty`,
	} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("%q does not say %q", err, w)
		}
	}
}

func TestFormulaic(t *testing.T) {
	for s, want := range map[string]bool{
		"=1+1": true, "+cmd|' /C calc'!A0": true, "-2+3": true, "@SUM(A1)": true,
		"\t=1": true, "\r=1": true, "-": true, "+": true, "-abc": true, "- 5": true,
		"-5": false, "+8613800000000": false, "-1.5e3": false, ".5": false, "-.5": false,
		"": false, "abc": false, "a=b": false, "1-2": false, "价格": false,
	} {
		if got := sheet.Formulaic(s); got != want {
			t.Errorf("Formulaic(%q) = %v, want %v", s, got, want)
		}
		if n := sheet.Neutralise(s); want != (n == "'"+s) || !want && n != s {
			t.Errorf("Neutralise(%q) = %q", s, n)
		}
	}
}

// readFile reads every row of a CSV file's bytes, or returns the error.
func readBytes(data []byte, o sheet.Options) ([]sheet.Row, sheet.Header, error) {
	r, err := sheet.NewCSVReader(bytes.NewReader(data), "in.csv", o)
	if err != nil {
		return nil, sheet.Header{}, err
	}
	var rows []sheet.Row
	for {
		row, err := r.Next()
		if err == io.EOF {
			return rows, r.Header(), nil
		}
		if err != nil {
			return rows, r.Header(), err
		}
		rows = append(rows, row)
	}
}

// Issue #20 case 5: the encoding is decided by one rule over the whole
// file, not by its first 64 KiB. A UTF-8 file with one Latin-1 row past
// the first 64 KiB used to be decoded whole as GB18030 (复古围巾 →
// 澶嶅彜鍥村肪) and handed to the script: it is refused now, naming the
// row's line, before any row is read. Invalid bytes are never U+FFFD.
func TestCSVOneRuleForTheWholeFile(t *testing.T) {
	for _, at := range []int{2, 2999} { // the bad row inside the first 64 KiB, and far past it
		var b bytes.Buffer
		b.WriteString("num_iid,title,price\n")
		for i := 0; i < 3000; i++ {
			if i == at {
				b.WriteString("600000999999,Caf\xe9 scarf,61.00\n") // Latin-1 é
			}
			fmt.Fprintf(&b, "%d,复古围巾 %d,59.90\n", 600000000000+i, i)
		}
		rows, _, err := readBytes(b.Bytes(), sheet.Options{})
		var se *sheet.Error
		if !errors.As(err, &se) || se.Line != at+2 || !strings.Contains(err.Error(), "not valid UTF-8") ||
			!strings.Contains(err.Error(), "mixes encodings") {
			t.Fatalf("UTF-8 with one Latin-1 row at line %d: %v, %d rows", at+2, err, len(rows))
		}
		if len(rows) != 0 {
			t.Errorf("%d rows handed out before the refusal, want none", len(rows))
		}
		t.Logf("refused: %v", err)

		// The same file without the bad row is UTF-8, whole.
		good := bytes.Replace(b.Bytes(), []byte("600000999999,Caf\xe9 scarf,61.00\n"), nil, 1)
		rows, h, err := readBytes(good, sheet.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if v, _ := rows[len(rows)-1].Get(h, "title"); v != "复古围巾 2999" {
			t.Errorf("last title %q", v)
		}
	}

	// Read as GBK on purpose, the UTF-8 bytes that are not GBK are an error
	// naming their line, not U+FFFD.
	_, _, err := readBytes([]byte("a,b\n1,\xff\xff\n"), sheet.Options{Encoding: sheet.GB18030})
	var se *sheet.Error
	if !errors.As(err, &se) || se.Line != 2 || !strings.Contains(err.Error(), "not valid GBK/GB18030 (the encoding asked for)") {
		t.Errorf("invalid GBK asked for: %v", err)
	}
}

// A GBK file some of whose lines happen to be valid UTF-8 is still GBK
// (its other lines outnumber them), and every line decodes as GBK; a
// file whose GBK and UTF-8 lines are as many is refused as mixed.
func TestCSVGBKWithLinesThatLookUTF8(t *testing.T) {
	enc := simplifiedchinese.GBK.NewEncoder()
	// "翎" in GBK is 0xF4 0xE1 ... find a GBK text that is valid UTF-8:
	// "虏" is 0xC2 0xB2 in GBK, also valid UTF-8 (U+00B2, ²).
	lookalike, _ := enc.String("1,虏\n")
	if !utf8.ValidString(lookalike) {
		t.Fatalf("the lookalike %x is not valid UTF-8", lookalike)
	}
	body, _ := enc.String("num,title\n2,连衣裙\n3,围巾\n")
	rows, h, err := readBytes([]byte(body+lookalike), sheet.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := rows[2].Get(h, "title"); v != "虏" {
		t.Errorf("the lookalike line decoded as %q, want 虏 (GBK)", v)
	}
	if v, _ := rows[0].Get(h, "title"); v != "连衣裙" {
		t.Errorf("title %q", v)
	}
	one, _ := enc.String("2,连衣裙\n")
	_, _, err = readBytes([]byte("num,title\n"+one+lookalike), sheet.Options{})
	if err == nil || !strings.Contains(err.Error(), "mixes encodings") {
		t.Errorf("one GBK line, one UTF-8 line: %v, want refused as mixed", err)
	}
}

// U+FFFD written on purpose is text like any other: in UTF-8 and in
// GB18030 (0x84 0x31 0xA4 0x37) it is read; an unpaired UTF-16
// surrogate or half a UTF-16 character is an error naming the line.
func TestCSVReplacementCharacterAndUTF16(t *testing.T) {
	if rows, _, err := readBytes([]byte("a\n\uFFFD\n"), sheet.Options{}); err != nil || rows[0].Values[0] != "\uFFFD" {
		t.Errorf("UTF-8 U+FFFD: %v %v", rows, err)
	}
	gb, _ := simplifiedchinese.GB18030.NewEncoder().String("a\n中\uFFFD\n")
	if rows, _, err := readBytes([]byte(gb), sheet.Options{Encoding: sheet.GB18030}); err != nil || rows[0].Values[0] != "中\uFFFD" {
		t.Errorf("GB18030 U+FFFD: %v %v", rows, err)
	}
	le := func(units ...uint16) []byte {
		out := []byte{0xFF, 0xFE}
		for _, u := range units {
			out = append(out, byte(u), byte(u>>8))
		}
		return out
	}
	ok := le('a', '\n', 0xD83D, 0xDE00, '\n') // a, then 😀
	if rows, _, err := readBytes(ok, sheet.Options{}); err != nil || rows[0].Values[0] != "😀" {
		t.Errorf("UTF-16 pair: %v %v", rows, err)
	}
	var se *sheet.Error
	for name, data := range map[string][]byte{
		"lone high": le('a', '\n', 'b', '\n', 0xD83D, 'c', '\n'),
		"lone low":  le('a', '\n', 'b', '\n', 0xDE00, '\n'),
		"odd bytes": append(le('a', '\n', 'b', '\n', 'c'), 'x'),
	} {
		_, _, err := readBytes(data, sheet.Options{})
		if !errors.As(err, &se) || se.Line != 3 || !strings.Contains(err.Error(), "UTF-16") {
			t.Errorf("%s: %v, want an error at line 3", name, err)
		}
	}
}
