package xlsx

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/xuri/excelize/v2"

	"github.com/topscript/topscript/sheet"
)

// WriterOptions shape a workbook Create writes.
type WriterOptions struct {
	// Sheet names the worksheet; "Sheet1" when "".
	Sheet string
	// TextColumns are written as text whatever their values, in addition to
	// the id-like columns IDColumn finds.
	TextColumns []string
}

// Writer writes one worksheet, a row at a time, to an .xlsx file. Rows are
// streamed to a temporary file as they come; Close packs the workbook and
// moves it into place, so an unfinished report never overwrites a good one.
type Writer struct {
	path   string
	f      *excelize.File
	sw     *excelize.StreamWriter
	header []string
	text   []bool // per column: written as text
	row    int    // rows written, the header included
	styles styles
	closed bool
}

// styles are the cell styles a writer uses.
type styles struct {
	header int // bold, text
	text   int // the Text number format ("@")
	quoted int // text with Excel's quote prefix: never a formula
}

// Create starts a workbook at path (which must end in .xlsx) with header as
// its first row.
func Create(path string, header []string, o WriterOptions) (*Writer, error) {
	if !strings.EqualFold(filepath.Ext(path), ".xlsx") {
		return nil, &sheet.Error{Path: path, Err: errors.New("a workbook's name must end in .xlsx")}
	}
	if _, err := sheet.CheckNames(header); err != nil {
		return nil, &sheet.Error{Path: path, Err: err}
	}
	for _, c := range o.TextColumns {
		if !slices.Contains(header, c) {
			return nil, &sheet.Error{Path: path, Err: fmt.Errorf("text column %q is not in the header", c)}
		}
	}
	name := o.Sheet
	if name == "" {
		name = "Sheet1"
	}
	w := &Writer{path: path, f: excelize.NewFile(), header: header, text: make([]bool, len(header))}
	if err := w.start(name, o.TextColumns); err != nil {
		w.f.Close()
		return nil, &sheet.Error{Path: path, Err: err}
	}
	return w, nil
}

func (w *Writer) start(name string, textCols []string) error {
	if name != "Sheet1" {
		if err := w.f.SetSheetName("Sheet1", name); err != nil {
			return fmt.Errorf("sheet name %q: %v", name, err)
		}
	}
	if err := w.newStyles(); err != nil {
		return err
	}
	sw, err := w.f.NewStreamWriter(name)
	if err != nil {
		return err
	}
	w.sw = sw
	return w.columns(textCols)
}

// columns sets up the current sheet's columns (text for the id-like ones
// and textCols), freezes the header row and writes it.
func (w *Writer) columns(textCols []string) error {
	sw := w.sw
	for i, h := range w.header {
		w.text[i] = IDColumn(h)
		for _, c := range textCols {
			w.text[i] = w.text[i] || c == h
		}
		if w.text[i] {
			if err := sw.SetColStyle(i+1, i+1, w.styles.text); err != nil {
				return err
			}
			if err := sw.SetColWidth(i+1, i+1, 21); err != nil { // 19 digits show in full
				return err
			}
		}
	}
	if err := sw.SetPanes(&excelize.Panes{Freeze: true, YSplit: 1, TopLeftCell: "A2", ActivePane: "bottomLeft"}); err != nil {
		return err
	}
	cells := make([]any, len(w.header))
	for i, h := range w.header {
		cells[i] = excelize.Cell{StyleID: w.styles.header, Value: h}
	}
	return w.setRow(cells)
}

// newStyles adds the writer's styles to the workbook.
func (w *Writer) newStyles() error {
	text := 49 // the built-in Text format, "@"
	var err error
	if w.styles.header, err = w.f.NewStyle(&excelize.Style{NumFmt: text, Font: &excelize.Font{Bold: true}}); err != nil {
		return err
	}
	if w.styles.text, err = w.f.NewStyle(&excelize.Style{NumFmt: text}); err != nil {
		return err
	}
	// The quote prefix is what Excel sets on a cell typed as '=...: the
	// value stays as typed and stays text when edited. excelize's Style has
	// no field for it, so it is set on the style record NewStyle made; the
	// explicit left alignment (where text goes anyway) keeps NewStyle from
	// handing back the plain text style.
	if w.styles.quoted, err = w.f.NewStyle(&excelize.Style{NumFmt: text, Alignment: &excelize.Alignment{Horizontal: "left"}}); err != nil {
		return err
	}
	if w.styles.quoted == w.styles.text {
		return errors.New("could not make a quote-prefix style")
	}
	yes := true
	w.f.Styles.CellXfs.Xf[w.styles.quoted].QuotePrefix = &yes
	return nil
}

// Write adds a row in header order; fewer values than columns leave the
// rest empty. Values are strings, integers, floats, booleans or nil (an
// empty cell); see the package doc for how each is written.
func (w *Writer) Write(values []any) error {
	if w.closed {
		return &sheet.Error{Path: w.path, Err: errors.New("write after close")}
	}
	if len(values) > len(w.header) {
		return &sheet.Error{Path: w.path, Line: w.row + 1, Err: fmt.Errorf("row has %d values, header has %d", len(values), len(w.header))}
	}
	cells := make([]any, len(values))
	for i, v := range values {
		c, err := w.cell(i, v)
		if err != nil {
			return &sheet.Error{Path: w.path, Line: w.row + 1, Err: fmt.Errorf("column %q: %v", w.header[i], err)}
		}
		cells[i] = c
	}
	return w.setRow(cells)
}

func (w *Writer) setRow(cells []any) error {
	ref, err := excelize.CoordinatesToCellName(1, w.row+1)
	if err == nil {
		err = w.sw.SetRow(ref, cells)
	}
	if err != nil {
		return &sheet.Error{Path: w.path, Line: w.row + 1, Err: err}
	}
	w.row++
	return nil
}

// maxExact is the largest integer Excel holds exactly: it keeps 15
// significant digits.
const maxExact = 999_999_999_999_999

// cell turns value v of column i into what the stream writer takes.
func (w *Writer) cell(i int, v any) (any, error) {
	var s string
	switch x := v.(type) {
	case nil:
		return nil, nil
	case string:
		s = x
	case bool:
		return x, nil
	case int:
		return w.integer(i, int64(x))
	case int64:
		return w.integer(i, x)
	case int32:
		return w.integer(i, int64(x))
	case uint64:
		if x > maxExact || w.text[i] {
			return excelize.Cell{StyleID: w.styles.text, Value: strconv.FormatUint(x, 10)}, nil
		}
		return x, nil
	case float64:
		switch {
		case math.IsNaN(x) || math.IsInf(x, 0):
			return nil, fmt.Errorf("%v is not a number a cell can hold", x)
		case x == math.Trunc(x) && math.Abs(x) < 1<<63:
			return w.integer(i, int64(x))
		case w.text[i]:
			return excelize.Cell{StyleID: w.styles.text, Value: strconv.FormatFloat(x, 'f', -1, 64)}, nil
		}
		return x, nil
	default:
		return nil, fmt.Errorf("cannot write a %T", v)
	}
	if sheet.Formulaic(s) {
		return excelize.Cell{StyleID: w.styles.quoted, Value: s}, nil
	}
	if w.text[i] {
		return excelize.Cell{StyleID: w.styles.text, Value: s}, nil
	}
	return s, nil
}

func (w *Writer) integer(i int, n int64) (any, error) {
	if w.text[i] || n > maxExact || n < -maxExact {
		return excelize.Cell{StyleID: w.styles.text, Value: strconv.FormatInt(n, 10)}, nil
	}
	return n, nil
}

// NextSheet ends the worksheet being written and starts another, named
// name, with header as its first row: a report's summary follows its rows
// this way. Its id-like columns are text, as in the first.
func (w *Writer) NextSheet(name string, header []string) error {
	if w.closed {
		return &sheet.Error{Path: w.path, Err: errors.New("write after close")}
	}
	if _, err := sheet.CheckNames(header); err != nil {
		return &sheet.Error{Path: w.path, Sheet: name, Err: err}
	}
	if err := w.sw.Flush(); err != nil {
		return &sheet.Error{Path: w.path, Err: err}
	}
	if _, err := w.f.NewSheet(name); err != nil {
		return &sheet.Error{Path: w.path, Sheet: name, Err: err}
	}
	w.header, w.text, w.row = header, make([]bool, len(header)), 0
	sw, err := w.f.NewStreamWriter(name)
	if err != nil {
		return &sheet.Error{Path: w.path, Sheet: name, Err: err}
	}
	w.sw = sw
	if err := w.columns(nil); err != nil {
		return &sheet.Error{Path: w.path, Sheet: name, Err: err}
	}
	return nil
}

// Rows returns the number of data rows written.
func (w *Writer) Rows() int { return max(w.row-1, 0) }

// Close finishes the workbook and moves it to its path. After a failed
// Close nothing is left at the path that was not there before.
func (w *Writer) Close() error {
	if w.closed {
		return nil
	}
	w.closed = true
	defer w.f.Close()
	if err := w.sw.Flush(); err != nil {
		return &sheet.Error{Path: w.path, Err: err}
	}
	dir, base := filepath.Split(w.path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".*.partial")
	if err != nil {
		return &sheet.Error{Path: w.path, Err: errors.Unwrap(err)}
	}
	err = w.f.Write(tmp)
	if err == nil {
		err = tmp.Chmod(0o644) // as a file os.Create makes (CreateTemp's is 0600)
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), w.path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return &sheet.Error{Path: w.path, Err: err}
	}
	return nil
}

// Abort drops the workbook: nothing is written to its path.
func (w *Writer) Abort() {
	if !w.closed {
		w.closed = true
		w.f.Close()
	}
}

// IDColumn reports whether a column name looks like it holds ids or codes
// (so its values are written as text): id, tid, oid, iid, pid, cid, sid,
// uid, vid; names ending in _id, _iid, _ids, iid, or in ID/Id (itemId,
// 宝贝ID); codes and numbers kept as text: …编码 (商家编码), …条码 and
// …条形码, barcode, …号 and …号码 (订单号), phone, mobile, 手机.
func IDColumn(name string) bool {
	name = strings.TrimSpace(name)
	n := strings.ToLower(name)
	switch n {
	case "id", "tid", "oid", "iid", "pid", "cid", "sid", "uid", "vid":
		return true
	}
	if strings.HasSuffix(name, "ID") || strings.HasSuffix(name, "Id") || strings.HasSuffix(name, "IDs") || strings.HasSuffix(name, "Ids") {
		return true
	}
	for _, suffix := range []string{"_id", "-id", " id", "_ids", "iid", "编码", "条码", "条形码", "barcode", "号", "号码", "phone", "mobile", "手机"} {
		if strings.HasSuffix(n, suffix) {
			return true
		}
	}
	return false
}
