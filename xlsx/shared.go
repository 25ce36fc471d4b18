package xlsx

import (
	"archive/zip"
	"bufio"
	"encoding/binary"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path"
	"strconv"
	"strings"
)

// Shared strings, kept out of memory.
//
// Excel keeps every string of a workbook once, in a shared strings table,
// and cells refer to it by index. excelize resolves those indexes through
// an in-memory table of offsets it builds over the whole table, some 100
// bytes a string: a 100,000-row price list with three text columns costs
// 30 MB more than a 10,000-row one, which is not flat. So when the table
// is large, Open hands excelize a copy of the workbook in which the chosen
// worksheet's shared-string cells are inline strings, resolved here through
// two temporary files: the strings end to end, and where each one ends.
// Everything else (styles, number formats, dates) stays excelize's.

// sharedLimit is the size of a shared strings table above which it is
// inlined.
var sharedLimit uint64 = unzipXMLLimit

// inlined is a temporary copy of a workbook with one worksheet's shared
// strings inlined.
type inlined struct {
	path  string   // the copy
	names []string // the workbook's sheet names, in tab order
}

// inlineSharedStrings returns a copy of the workbook at src in which the
// worksheet chosen by o has inline strings, or nil when the workbook has no
// large shared strings table (or is not a workbook this can read: excelize
// then says what is wrong with it).
func inlineSharedStrings(src string, o Options) (*inlined, error) {
	zr, err := zip.OpenReader(src)
	if err != nil {
		return nil, nil
	}
	defer zr.Close()
	files := make(map[string]*zip.File, len(zr.File))
	for _, f := range zr.File {
		files[strings.ToLower(strings.ReplaceAll(f.Name, `\`, "/"))] = f
	}
	wbPath := officeDocument(files)
	parts, err := workbookParts(files, wbPath)
	if err != nil || parts.sst == nil || parts.sst.UncompressedSize64 <= sharedLimit {
		return nil, nil
	}
	names := make([]string, len(parts.sheets))
	for i, s := range parts.sheets {
		names[i] = s.name
	}
	name, err := chooseSheet(names, o)
	if err != nil {
		return nil, err
	}
	var sheet *zip.File
	for _, s := range parts.sheets {
		if s.name == name {
			sheet = s.part
		}
	}
	if sheet == nil {
		return nil, nil // excelize will say the sheet has no part
	}

	table, err := readSharedStrings(parts.sst)
	if err != nil {
		return nil, fmt.Errorf("reading its shared strings: %v", err)
	}
	defer table.close()

	out, err := os.CreateTemp("", "topscript-xlsx-*.xlsx")
	if err != nil {
		return nil, err
	}
	done := false
	defer func() {
		if !done {
			out.Close()
			os.Remove(out.Name())
		}
	}()
	zw := zip.NewWriter(out)
	for _, f := range zr.File {
		switch f {
		case sheet:
			// Stored, not deflated: excelize unpacks it once, right away.
			w, err := zw.CreateHeader(&zip.FileHeader{Name: f.Name, Method: zip.Store})
			if err != nil {
				return nil, err
			}
			rc, err := f.Open()
			if err != nil {
				return nil, err
			}
			err = inlineSheet(w, rc, table)
			rc.Close()
			if err != nil {
				return nil, fmt.Errorf("sheet %q: %v", name, err)
			}
		case parts.sst:
			w, err := zw.Create(f.Name)
			if err != nil {
				return nil, err
			}
			io.WriteString(w, xml.Header+`<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="0" uniqueCount="0"/>`)
		default:
			if err := zw.Copy(f); err != nil {
				return nil, err
			}
		}
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	if err := out.Close(); err != nil {
		return nil, err
	}
	done = true
	return &inlined{path: out.Name(), names: names}, nil
}

// officeDocument is the workbook part named by the package relationships.
func officeDocument(files map[string]*zip.File) string {
	var rels relationships
	if f := files["_rels/.rels"]; f != nil && decodePart(f, &rels) == nil {
		for _, r := range rels.Rel {
			if strings.HasSuffix(r.Type, "/officeDocument") {
				return strings.TrimPrefix(r.Target, "/")
			}
		}
	}
	return "xl/workbook.xml"
}

type relationships struct {
	Rel []struct {
		ID     string `xml:"Id,attr"`
		Type   string `xml:"Type,attr"`
		Target string `xml:"Target,attr"`
	} `xml:"Relationship"`
}

type parts struct {
	sheets []sheetPart
	sst    *zip.File
}

type sheetPart struct {
	name string
	part *zip.File
}

// workbookParts finds the worksheets, in tab order, and the shared strings
// table of the workbook at wbPath.
func workbookParts(files map[string]*zip.File, wbPath string) (parts, error) {
	var p parts
	var wb struct {
		Sheets []struct {
			Name string     `xml:"name,attr"`
			Attr []xml.Attr `xml:",any,attr"`
		} `xml:"sheets>sheet"`
	}
	f := files[strings.ToLower(wbPath)]
	if f == nil {
		return p, errors.New("no workbook part")
	}
	if err := decodePart(f, &wb); err != nil {
		return p, err
	}
	dir, base := path.Split(wbPath)
	var rels relationships
	if rf := files[strings.ToLower(dir+"_rels/"+base+".rels")]; rf == nil || decodePart(rf, &rels) != nil {
		return p, errors.New("no workbook relationships")
	}
	target := func(t string) *zip.File {
		if strings.HasPrefix(t, "/") {
			return files[strings.ToLower(strings.TrimPrefix(t, "/"))]
		}
		return files[strings.ToLower(path.Clean(dir+t))]
	}
	byID := map[string]*zip.File{}
	for _, r := range rels.Rel {
		switch {
		case strings.HasSuffix(r.Type, "/worksheet"):
			byID[r.ID] = target(r.Target)
		case strings.HasSuffix(r.Type, "/sharedStrings"):
			p.sst = target(r.Target)
		}
	}
	for _, s := range wb.Sheets {
		var part *zip.File
		for _, a := range s.Attr {
			if a.Name.Local == "id" && strings.Contains(a.Name.Space, "relationships") {
				part = byID[a.Value]
			}
		}
		p.sheets = append(p.sheets, sheetPart{name: s.Name, part: part})
	}
	return p, nil
}

// decodePart decodes a small XML part into v.
func decodePart(f *zip.File, v any) error {
	rc, err := f.Open()
	if err != nil {
		return err
	}
	defer rc.Close()
	return xml.NewDecoder(rc).Decode(v)
}

// stringTable is a shared strings table on disk: the strings end to end in
// one temporary file, and in another where each one ends (4 bytes a
// string), so its memory does not grow with the table.
type stringTable struct {
	text, ends *os.File
	n          int
	buf        []byte
}

// readSharedStrings copies the table's strings, as they are written in the
// XML (excelize unescapes _xHHHH_ sequences when it reads them inline, as
// it does for shared ones), to temporary files.
func readSharedStrings(f *zip.File) (*stringTable, error) {
	rc, err := f.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	t := &stringTable{}
	for _, p := range []**os.File{&t.text, &t.ends} {
		tmp, err := os.CreateTemp("", "topscript-sst-*")
		if err != nil {
			t.close()
			return nil, err
		}
		os.Remove(tmp.Name()) // lives while open
		*p = tmp
	}
	text := bufio.NewWriterSize(t.text, 64<<10)
	ends := bufio.NewWriterSize(t.ends, 16<<10)
	d := xml.NewDecoder(rc)
	var end uint64
	type chardata struct {
		V string `xml:",chardata"`
	}
	var si struct {
		T *chardata `xml:"t"`
		R []struct {
			T *chardata `xml:"t"`
		} `xml:"r"`
	}
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.close()
			return nil, err
		}
		start, ok := tok.(xml.StartElement)
		if !ok || start.Name.Local != "si" {
			continue
		}
		si.T, si.R = nil, si.R[:0]
		if err := d.DecodeElement(&si, &start); err != nil {
			t.close()
			return nil, err
		}
		if si.T != nil {
			end += uint64(len(si.T.V))
			text.WriteString(si.T.V)
		}
		for _, r := range si.R {
			if r.T != nil {
				end += uint64(len(r.T.V))
				text.WriteString(r.T.V)
			}
		}
		if end > math.MaxUint32 {
			t.close()
			return nil, errors.New("more than 4 GiB of text")
		}
		ends.Write(binary.LittleEndian.AppendUint32(t.buf[:0], uint32(end)))
		t.n++
	}
	if err := text.Flush(); err != nil {
		t.close()
		return nil, err
	}
	if err := ends.Flush(); err != nil {
		t.close()
		return nil, err
	}
	return t, nil
}

// get returns string i of the table.
func (t *stringTable) get(i int) (string, error) {
	if i < 0 || i >= t.n {
		return "", fmt.Errorf("a cell refers to shared string %d, the table has %d", i, t.n)
	}
	var span [8]byte
	var from, to uint32
	if i == 0 {
		if _, err := t.ends.ReadAt(span[4:], 0); err != nil {
			return "", err
		}
	} else if _, err := t.ends.ReadAt(span[:], int64(i-1)*4); err != nil {
		return "", err
	} else {
		from = binary.LittleEndian.Uint32(span[:4])
	}
	to = binary.LittleEndian.Uint32(span[4:])
	if to < from {
		return "", fmt.Errorf("shared string %d: damaged index", i)
	}
	n := int(to - from)
	if cap(t.buf) < n {
		t.buf = make([]byte, n)
	}
	b := t.buf[:n]
	if _, err := t.text.ReadAt(b, int64(from)); err != nil {
		return "", err
	}
	return string(b), nil
}

func (t *stringTable) close() {
	for _, f := range []*os.File{t.text, t.ends} {
		if f != nil {
			f.Close()
		}
	}
}

// inlineSheet copies a worksheet's XML from src to dst, turning each
// shared-string cell, <c t="s"><v>7</v></c>, into an inline one,
// <c t="inlineStr"><is><t>...</t></is></c>. Tokens are copied as read, with
// their namespace prefixes, so the rest of the sheet is unchanged.
func inlineSheet(dst io.Writer, src io.Reader, table *stringTable) error {
	d := xml.NewDecoder(src)
	w := bufio.NewWriterSize(dst, 64<<10)
	var (
		shared  bool   // inside a <c t="s">
		inValue bool   // inside its <v>
		prefix  string // the cell's namespace prefix, with its colon
		value   []byte
	)
	for {
		tok, err := d.RawToken()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if t.Name.Local == "c" {
				shared = false
				for i, a := range t.Attr {
					if a.Name.Local == "t" && a.Name.Space == "" && a.Value == "s" {
						shared = true
						t.Attr[i].Value = "inlineStr"
					}
				}
				prefix = ""
				if t.Name.Space != "" {
					prefix = t.Name.Space + ":"
				}
			} else if shared && t.Name.Local == "v" {
				inValue, value = true, value[:0]
				continue
			}
			writeStart(w, t)
		case xml.EndElement:
			if inValue && t.Name.Local == "v" {
				inValue = false
				i, err := strconv.Atoi(strings.TrimSpace(string(value)))
				if err != nil {
					return fmt.Errorf("a shared-string cell holds %q, not an index", value)
				}
				s, err := table.get(i)
				if err != nil {
					return err
				}
				w.WriteString("<" + prefix + `is><` + prefix + `t xml:space="preserve">`)
				xml.EscapeText(w, []byte(s))
				w.WriteString("</" + prefix + "t></" + prefix + "is>")
				continue
			}
			if t.Name.Local == "c" {
				shared = false
			}
			w.WriteString("</" + qname(t.Name) + ">")
		case xml.CharData:
			if inValue {
				value = append(value, t...)
				continue
			}
			xml.EscapeText(w, t)
		case xml.ProcInst:
			w.WriteString("<?" + t.Target + " " + string(t.Inst) + "?>")
		case xml.Comment:
			w.WriteString("<!--" + string(t) + "-->")
		case xml.Directive:
			w.WriteString("<!" + string(t) + ">")
		}
	}
	return w.Flush()
}

func qname(n xml.Name) string {
	if n.Space != "" {
		return n.Space + ":" + n.Local
	}
	return n.Local
}

func writeStart(w *bufio.Writer, t xml.StartElement) {
	w.WriteString("<" + qname(t.Name))
	for _, a := range t.Attr {
		w.WriteString(" " + qname(a.Name) + `="`)
		xml.EscapeText(w, []byte(a.Value))
		w.WriteString(`"`)
	}
	w.WriteString(">")
}
