package stdlib

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/encoding/unicode"
)

// writeFile writes data under a temp dir and returns its path.
func writeFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// gbk encodes s as GBK, the way Excel in China saves a CSV.
func gbk(t *testing.T, s string) []byte {
	t.Helper()
	b, err := simplifiedchinese.GBK.NewEncoder().Bytes([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

const priceCSV = "num_iid,properties,price,标题\n" +
	"586413322721,1627207:28341,12.50,\"夏季, 新款\"\n" +
	"586413322722,1627207:28342,9.90,连衣裙\n"

// checkPrices checks the rows of priceCSV read back through csv.read and csv.rows.
func checkPrices(t *testing.T, path string) {
	t.Helper()
	L := newState(t, nil)
	L.SetGlobal("path", luaString(path))
	run(t, L, `
		local rows = csv.read(path)
		assert(#rows == 2, "rows: " .. #rows)
		assert(rows[1].num_iid == "586413322721", rows[1].num_iid)
		assert(rows[1].price == "12.50", rows[1].price)
		assert(rows[1]["标题"] == "夏季, 新款", rows[1]["标题"])
		assert(rows[2]["标题"] == "连衣裙", rows[2]["标题"])
		local n, lines = 0, {}
		for row, line in csv.rows(path) do
			n = n + 1
			lines[n] = line
			assert(type(row.properties) == "string")
		end
		assert(n == 2 and lines[1] == 2 and lines[2] == 3, "lines")
	`)
}

func TestCSVUTF8(t *testing.T) {
	checkPrices(t, writeFile(t, "plain.csv", []byte(priceCSV)))
}

func TestCSVUTF8BOM(t *testing.T) {
	checkPrices(t, writeFile(t, "bom.csv", append([]byte("\xEF\xBB\xBF"), priceCSV...)))
}

func TestCSVCRLF(t *testing.T) {
	checkPrices(t, writeFile(t, "crlf.csv", []byte(strings.ReplaceAll(priceCSV, "\n", "\r\n"))))
}

func TestCSVGBK(t *testing.T) {
	data := gbk(t, priceCSV)
	if bytes.Equal(data, []byte(priceCSV)) {
		t.Fatal("encoder did nothing")
	}
	checkPrices(t, writeFile(t, "gbk.csv", data))
}

func TestCSVUTF16(t *testing.T) {
	data, err := unicode.UTF16(unicode.LittleEndian, unicode.UseBOM).NewEncoder().Bytes([]byte(priceCSV))
	if err != nil {
		t.Fatal(err)
	}
	checkPrices(t, writeFile(t, "utf16.csv", data))
}

// A 淘宝助理 export (UTF-16LE, tabs, a version line, key and label rows)
// reads as rows keyed by its English keys.
func TestCSVTaobaoAssistant(t *testing.T) {
	L := newState(t, nil)
	L.SetGlobal("path", luaString(filepath.Join("..", "sheet", "testdata", "taobao_assistant.csv")))
	run(t, L, `
		local lines = {}
		local rows = {}
		for row, line in csv.rows(path) do
			rows[#rows + 1] = row
			lines[#lines + 1] = line
		end
		assert(#rows == 3, "rows: " .. #rows)
		assert(rows[1].num_id == "658812345678", rows[1].num_id)
		assert(rows[1].title == "夏季纯棉短袖T恤 男士圆领宽松", rows[1].title)
		assert(rows[2].outer_id == "007301", rows[2].outer_id)
		assert(rows[1]["数字ID"] == nil, "labels are not keys")
		assert(lines[1] == 4 and lines[2] == 6 and lines[3] == 9, "lines")
	`)
}

// A GBK file whose first non-ASCII byte comes after more than a buffer of
// ASCII is still detected.
func TestCSVGBKLateNonASCII(t *testing.T) {
	var b strings.Builder
	b.WriteString("id,name\n")
	for i := 0; b.Len() < 200<<10; i++ {
		b.WriteString("1234567890,abcdefghij\n")
	}
	b.WriteString("42,中文名称\n")
	path := writeFile(t, "late.csv", gbk(t, b.String()))
	L := newState(t, nil)
	L.SetGlobal("path", luaString(path))
	run(t, L, `
		local rows = csv.read(path)
		assert(rows[#rows].name == "中文名称", rows[#rows].name)
	`)
}

func TestCSVExplicitEncoding(t *testing.T) {
	path := writeFile(t, "gbk.csv", gbk(t, priceCSV))
	L := newState(t, nil)
	L.SetGlobal("path", luaString(path))
	run(t, L, `assert(csv.read(path, {encoding = "gbk"})[2]["标题"] == "连衣裙")`)
	tsv := writeFile(t, "x.tsv", []byte("a\tb\n1\t2\n"))
	L.SetGlobal("tsv", luaString(tsv))
	run(t, L, `assert(csv.read(tsv, {delimiter = "\t"})[1].b == "2")`)
	noHeader := writeFile(t, "nh.csv", []byte("1,2\n3,4\n"))
	L.SetGlobal("nh", luaString(noHeader))
	run(t, L, `local r = csv.read(nh, {header = {"x", "y"}}); assert(#r == 2 and r[2].y == "4")`)
	wantError(t, L, `csv.read(path, {encoding = "latin1"})`, "unknown encoding")
}

func TestCSVSkipsBlankRows(t *testing.T) {
	path := writeFile(t, "blank.csv", []byte("a,b\n1,2\n\n,\n3,4\n , \n"))
	L := newState(t, nil)
	L.SetGlobal("path", luaString(path))
	run(t, L, `local r = csv.read(path); assert(#r == 2 and r[2].a == "3", #r)`)
}

func TestCSVErrors(t *testing.T) {
	dir := t.TempDir()
	L := newState(t, nil)
	missing := filepath.Join(dir, "nope.csv")
	L.SetGlobal("missing", luaString(missing))
	wantError(t, L, `csv.read(missing)`, "csv.read", missing, "no such file")
	wantError(t, L, `for r in csv.rows(missing) do end`, "csv.rows", missing)

	ragged := writeFile(t, "ragged.csv", []byte("a,b,c\n1,2,3\n4,5\n"))
	L.SetGlobal("ragged", luaString(ragged))
	wantError(t, L, `csv.read(ragged)`, ragged+":3", "2 columns", "header has 3")
	// The first rows come through before the error.
	wantError(t, L, `n = 0; for r in csv.rows(ragged) do n = n + 1 end`, ragged+":3")
	if n := L.GetGlobal("n").String(); n != "1" {
		t.Errorf("rows before the ragged one: %s", n)
	}

	empty := writeFile(t, "empty.csv", nil)
	L.SetGlobal("empty", luaString(empty))
	wantError(t, L, `csv.read(empty)`, empty, "empty file", "no header")
	blank := writeFile(t, "blank.csv", []byte("\n\n"))
	L.SetGlobal("blank", luaString(blank))
	wantError(t, L, `csv.read(blank)`, blank, "no header")
	bomOnly := writeFile(t, "bomonly.csv", []byte("\xEF\xBB\xBF"))
	L.SetGlobal("bomonly", luaString(bomOnly))
	wantError(t, L, `csv.read(bomonly)`, "no header")

	dup := writeFile(t, "dup.csv", []byte("sku,price,sku\n1,2,3\n"))
	L.SetGlobal("dup", luaString(dup))
	wantError(t, L, `csv.read(dup)`, dup+":1", `duplicate header "sku"`, "columns 1 and 3")

	noname := writeFile(t, "noname.csv", []byte("a,,c\n1,2,3\n"))
	L.SetGlobal("noname", luaString(noname))
	wantError(t, L, `csv.read(noname)`, noname+":1", "column 2 has no name")

	quote := writeFile(t, "quote.csv", []byte("a,b\n1,\"x\"y\n"))
	L.SetGlobal("quote", luaString(quote))
	wantError(t, L, `csv.read(quote)`, quote+":2")

	hdrOnly := writeFile(t, "hdr.csv", []byte("a,b\n"))
	L.SetGlobal("hdr", luaString(hdrOnly))
	run(t, L, `assert(#csv.read(hdr) == 0)`)
}

func TestCSVWriter(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out.csv")
	L := newState(t, nil)
	L.SetGlobal("out", luaString(out))
	run(t, L, `
		local w = csv.writer(out, {"num_iid", "status", "message"})
		w:write({num_iid = "342161316540874753", status = "ok"})
		w:write({"586413322721", "failed", 'isv.item-not-exist: 商品不存在, "quoted"'})
		w:write({num_iid = 12345, status = true, message = {code = 15}})
		w:close()
		w:close() -- idempotent
	`)
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	want := "\uFEFFnum_iid,status,message\n" +
		"342161316540874753,ok,\n" +
		"586413322721,failed,\"isv.item-not-exist: 商品不存在, \"\"quoted\"\"\"\n" +
		"12345,true,\"{\"\"code\"\":15}\"\n"
	if string(data) != want {
		t.Fatalf("got\n%q\nwant\n%q", data, want)
	}
	// What the writer writes, the reader reads back.
	run(t, L, `
		local r = csv.read(out)
		assert(#r == 3 and r[2].message == 'isv.item-not-exist: 商品不存在, "quoted"', r[2].message)
	`)

	nobom := filepath.Join(dir, "nobom.csv")
	L.SetGlobal("nobom", luaString(nobom))
	run(t, L, `local w = csv.writer(nobom, {"a"}, {bom = false}); w:write({"1"}); w:close()`)
	if data, _ := os.ReadFile(nobom); string(data) != "a\n1\n" {
		t.Fatalf("bom=false wrote %q", data)
	}

	wantError(t, L, `local w = csv.writer(nobom, {"a", "b"}); w:write({a = 1, zz = 2, yy = 3})`, "not in the header", "yy, zz")
	run(t, L, `local w = csv.writer(nobom, {"a", "b"}, {extra = "ignore"}); w:write({a = 1, zz = 2}); w:close()`)
	wantError(t, L, `local w = csv.writer(nobom, {"a"}); w:write({1, 2})`, "2 values", "header has 1")
	wantError(t, L, `local w = csv.writer(nobom, {"a"}); w:close(); w:write({1})`, "after close")
	wantError(t, L, `csv.writer(nobom, {"a", "a"})`, "duplicate header")
	wantError(t, L, `csv.writer(nobom)`, "header")
	wantError(t, L, `csv.writer(nobom, {})`, "header")
	L.SetGlobal("baddir", luaString(filepath.Join(dir, "no", "such", "dir.csv")))
	wantError(t, L, `csv.writer(baddir, {"a"})`, "csv.writer", "dir.csv")
}

func TestCSVWriterStdout(t *testing.T) {
	var buf bytes.Buffer
	L := newState(t, &Env{Stdout: &buf})
	run(t, L, `local w = csv.writer("-", {"a", "b"}); w:write({a = "x,y", b = 2}); w:close()`)
	if got := buf.String(); got != "a,b\n\"x,y\",2\n" {
		t.Fatalf("stdout got %q", got)
	}
}

// A GBK export read as UTF-8 (explicitly, or auto-detected as UTF-8 from
// its first 64 KiB) used to hand the script garbled bytes: it is an error
// naming the line now. Found by FuzzCSVRead.
func TestCSVWrongEncodingIsAnError(t *testing.T) {
	L := newState(t, nil)
	path := writeFile(t, "gbk.csv", gbk(t, priceCSV))
	L.SetGlobal("path", luaString(path))
	wantError(t, L, `csv.read(path, {encoding = "utf-8"})`, path+":1", "column 4 is not valid UTF-8", `encoding = "gbk"`)
	mixed := writeFile(t, "mixed.csv", append([]byte("a,b\n"+strings.Repeat("1,夏季\n", 20000)), gbk(t, "2,连衣裙\n")...))
	L.SetGlobal("mixed", luaString(mixed))
	// Auto-detected, the encoding is decided over the whole file (issue
	// #20): the mixed file is refused at once, naming the GBK line, and no
	// row of it is handed out.
	wantError(t, L, `n = 0; for r in csv.rows(mixed) do n = n + 1 end`, mixed+":20002", "not valid UTF-8", "mixes encodings")
	if n := L.GetGlobal("n").String(); n != "0" {
		t.Errorf("rows handed out before the refusal: %s, want 0", n)
	}
}

// A CSV result carries its columns itself: csv.read's array (still a JSON
// array) and csv.rows's iterator (a callable value) both give RowsHeader the
// file's header, in file order; other values give none.
func TestCSVHeaderOnTheValue(t *testing.T) {
	path := writeFile(t, "h.csv", []byte("num_iid,properties,price\n1,a,2.5\n"))
	L := newState(t, nil)
	L.SetGlobal("p", luaString(path))
	run(t, L, `
		all = csv.read(p)
		it = csv.rows(p)
		assert(type(it) == "userdata" and tostring(it):find("csv.rows", 1, true))
		assert(json.encode(all) == '[{"num_iid":"1","price":"2.5","properties":"a"}]', json.encode(all))
		plain = {{a = 1}}
	`)
	want := []string{"num_iid", "properties", "price"}
	for _, name := range []string{"all", "it"} {
		if got := RowsHeader(L.GetGlobal(name)).Names; !slices.Equal(got, want) {
			t.Errorf("RowsHeader(%s) = %q, want %q", name, got, want)
		}
	}
	if got := RowsHeader(L.GetGlobal("plain")); got.Names != nil || got.Labels != nil {
		t.Errorf("RowsHeader of a plain table = %q", got)
	}
	if n := L.GetGlobal("it"); !IsCallable(L, n) {
		t.Error("csv.rows's iterator is not callable")
	}
}
