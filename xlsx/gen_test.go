package xlsx_test

import (
	"archive/zip"
	"bufio"
	"encoding/xml"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"
)

// excelLike is a workbook laid out as Excel saves one: every string in the
// shared strings table, styles by index, dates as serial numbers. Written
// part by part here (excelize's own writer inlines strings when it streams
// and holds the whole sheet in memory when it does not).
type excelLike struct {
	header []string
	rows   int
	row    func(i int) []any // string: shared; float64/int64: number; date: a serial under a date format
	prefix string            // namespace prefix of the sheet's elements ("x:" as some writers do), or ""
	styles map[int]int       // column → cellXfs index (1: 0.00, 2: yyyy/m/d h:mm, 3: 0%, 4: m"月"d"日")
	rich   bool              // store the header's first name as a rich-text run pair
}

// date is a date cell: an Excel serial number.
type date float64

func (x excelLike) write(t testing.TB, path string) {
	t.Helper()
	out, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(out)
	part := func(name, body string) {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte(xml.Header + body)); err != nil {
			t.Fatal(err)
		}
	}
	const main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
	const rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
	ct := "application/vnd.openxmlformats-officedocument.spreadsheetml."
	part("[Content_Types].xml", `<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">`+
		`<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>`+
		`<Override PartName="/xl/workbook.xml" ContentType="`+ct+`sheet.main+xml"/>`+
		`<Override PartName="/xl/worksheets/sheet1.xml" ContentType="`+ct+`worksheet+xml"/>`+
		`<Override PartName="/xl/sharedStrings.xml" ContentType="`+ct+`sharedStrings+xml"/>`+
		`<Override PartName="/xl/styles.xml" ContentType="`+ct+`styles+xml"/></Types>`)
	part("_rels/.rels", `<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">`+
		`<Relationship Id="rId1" Type="`+rel+`/officeDocument" Target="xl/workbook.xml"/></Relationships>`)
	part("xl/workbook.xml", `<workbook xmlns="`+main+`" xmlns:r="`+rel+`"><sheets>`+
		`<sheet name="说明" sheetId="1" r:id="rId9"/><sheet name="价格表" sheetId="2" r:id="rId1"/></sheets></workbook>`)
	part("xl/_rels/workbook.xml.rels", `<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">`+
		`<Relationship Id="rId1" Type="`+rel+`/worksheet" Target="worksheets/sheet1.xml"/>`+
		`<Relationship Id="rId9" Type="`+rel+`/worksheet" Target="/xl/worksheets/notes.xml"/>`+
		`<Relationship Id="rId2" Type="`+rel+`/sharedStrings" Target="sharedStrings.xml"/>`+
		`<Relationship Id="rId3" Type="`+rel+`/styles" Target="styles.xml"/></Relationships>`)
	part("xl/styles.xml", `<styleSheet xmlns="`+main+`">`+
		`<numFmts count="2"><numFmt numFmtId="164" formatCode="yyyy/m/d\ h:mm"/><numFmt numFmtId="165" formatCode="m&quot;月&quot;d&quot;日&quot;"/></numFmts>`+
		`<fonts count="1"><font><sz val="11"/><name val="宋体"/></font></fonts>`+
		`<fills count="1"><fill><patternFill patternType="none"/></fill></fills>`+
		`<borders count="1"><border/></borders>`+
		`<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>`+
		`<cellXfs count="5"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>`+
		`<xf numFmtId="2" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>`+
		`<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>`+
		`<xf numFmtId="9" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>`+
		`<xf numFmtId="165" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/></cellXfs></styleSheet>`)
	part("xl/worksheets/notes.xml", `<worksheet xmlns="`+main+`"><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>价格表在第二页</t></is></c></row></sheetData></worksheet>`)

	// The sheet, streamed; its strings are numbered as they come.
	var strs []string
	index := map[string]int{}
	shared := func(s string) int {
		if i, ok := index[s]; ok {
			return i
		}
		index[s] = len(strs)
		strs = append(strs, s)
		return len(strs) - 1
	}
	w, err := zw.Create("xl/worksheets/sheet1.xml")
	if err != nil {
		t.Fatal(err)
	}
	bw := bufio.NewWriter(w)
	p := x.prefix
	ns := `xmlns="` + main + `"`
	if p != "" {
		ns = `xmlns:` + strings.TrimSuffix(p, ":") + `="` + main + `"`
	}
	fmt.Fprintf(bw, `%s<%sworksheet %s xmlns:r="%s"><%sdimension ref="A1"/><%ssheetData>`, xml.Header, p, ns, rel, p, p)
	row := func(r int, cells []any) {
		fmt.Fprintf(bw, `<%srow r="%d">`, p, r)
		for c, v := range cells {
			ref, _ := excelize.CoordinatesToCellName(c+1, r)
			style := ""
			if s := x.styles[c]; s != 0 {
				style = ` s="` + strconv.Itoa(s) + `"`
			}
			switch v := v.(type) {
			case nil:
			case string:
				fmt.Fprintf(bw, `<%sc r="%s"%s t="s"><%sv>%d</%sv></%sc>`, p, ref, style, p, shared(v), p, p)
			case float64:
				fmt.Fprintf(bw, `<%sc r="%s"%s><%sv>%s</%sv></%sc>`, p, ref, style, p, strconv.FormatFloat(v, 'g', -1, 64), p, p)
			case int64:
				fmt.Fprintf(bw, `<%sc r="%s"%s><%sv>%d</%sv></%sc>`, p, ref, style, p, v, p, p)
			case date:
				fmt.Fprintf(bw, `<%sc r="%s"%s><%sv>%s</%sv></%sc>`, p, ref, style, p, strconv.FormatFloat(float64(v), 'g', -1, 64), p, p)
			default:
				t.Fatalf("cell type %T", v)
			}
		}
		fmt.Fprintf(bw, `</%srow>`, p)
	}
	hdr := make([]any, len(x.header))
	for i, h := range x.header {
		hdr[i] = h
	}
	row(1, hdr)
	for i := range x.rows {
		row(i+2, x.row(i))
	}
	fmt.Fprintf(bw, `</%ssheetData></%sworksheet>`, p, p)
	if err := bw.Flush(); err != nil {
		t.Fatal(err)
	}

	w, err = zw.Create("xl/sharedStrings.xml")
	if err != nil {
		t.Fatal(err)
	}
	bw = bufio.NewWriter(w)
	fmt.Fprintf(bw, `%s<sst xmlns="%s" count="%d" uniqueCount="%d">`, xml.Header, main, len(strs), len(strs))
	for i, s := range strs {
		if x.rich && i == 0 && len([]rune(s)) > 1 {
			r := []rune(s)
			bw.WriteString(`<si><r><rPr><b/></rPr><t>`)
			xml.EscapeText(bw, []byte(string(r[:1])))
			bw.WriteString(`</t></r><r><t xml:space="preserve">`)
			xml.EscapeText(bw, []byte(string(r[1:])))
			bw.WriteString(`</t></r><rPh sb="0" eb="1"><t>ピン</t></rPh></si>`)
			continue
		}
		bw.WriteString(`<si><t xml:space="preserve">`)
		xml.EscapeText(bw, []byte(s))
		bw.WriteString(`</t></si>`)
	}
	bw.WriteString(`</sst>`)
	if err := bw.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}
