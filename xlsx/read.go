package xlsx

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"github.com/xuri/excelize/v2"

	"github.com/topscript/topscript/sheet"
)

// Options choose what Open reads.
type Options struct {
	// Sheet names the worksheet to read. "" with Index 0 reads the first.
	Sheet string
	// Index chooses the worksheet by position, 1 for the first (as the tabs
	// are ordered). Give Sheet or Index, not both.
	Index int
	// HeaderRow is the row holding the column names, 1 when zero. Rows
	// above it (a title, notes) are skipped.
	HeaderRow int
}

// unzipXMLLimit is the size above which a worksheet or the shared strings
// are unpacked to a temporary file and parsed from there rather than held
// in memory. excelize's default (16 MiB) would keep a 100,000-row sheet in
// memory; 1 MiB keeps memory flat at a few MiB of disk I/O.
const unzipXMLLimit = 1 << 20

// Reader streams the rows of one worksheet.
type Reader struct {
	path   string
	sheet  string
	f      *excelize.File
	rows   *excelize.Rows
	header sheet.Header
	line   int // row number of the row last read
	done   bool
}

// Open opens the workbook at path, chooses the worksheet and reads its
// header row. Errors are *sheet.Error naming the file, and the sheet, row
// or cell when they are about one.
func Open(path string, o Options) (r *Reader, err error) {
	defer func() {
		// excelize can panic on a damaged workbook; the operator gets an
		// error naming the file, never a stack trace.
		if p := recover(); p != nil {
			if r != nil {
				r.Close()
			}
			r, err = nil, &sheet.Error{Path: path, Err: fmt.Errorf("cannot read the workbook (damaged file?): %v", p)}
		}
	}()
	if o.Sheet != "" && o.Index != 0 {
		return nil, &sheet.Error{Path: path, Err: fmt.Errorf("choose the sheet by name (%q) or by index (%d), not both", o.Sheet, o.Index)}
	}
	if o.Index < 0 || o.HeaderRow < 0 {
		return nil, &sheet.Error{Path: path, Err: fmt.Errorf("sheet index and header row count from 1 (got %d and %d)", o.Index, o.HeaderRow)}
	}
	if st, err := os.Stat(path); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, &sheet.Error{Path: path, Err: errors.New("no such file")}
		}
		return nil, &sheet.Error{Path: path, Err: errors.Unwrap(err)}
	} else if st.IsDir() {
		return nil, &sheet.Error{Path: path, Err: errors.New("is a directory, not a workbook")}
	}
	src := path
	inl, err := inlineSharedStrings(path, o)
	if err != nil {
		return nil, &sheet.Error{Path: path, Err: err}
	}
	if inl != nil {
		src = inl.path
		defer os.Remove(inl.path) // excelize has read or unpacked all of it
	}
	f, err := excelize.OpenFile(src, excelize.Options{UnzipXMLSizeLimit: unzipXMLLimit})
	if err != nil {
		return nil, &sheet.Error{Path: path, Err: openError(err)}
	}
	r = &Reader{path: path, f: f}
	if r.sheet, err = chooseSheet(f.GetSheetList(), o); err != nil {
		r.Close()
		return nil, &sheet.Error{Path: path, Err: err}
	}
	if err := datesAsISO(f); err != nil {
		r.Close()
		return nil, &sheet.Error{Path: path, Err: err}
	}
	if r.rows, err = f.Rows(r.sheet); err != nil {
		r.Close()
		return nil, r.errorf(0, "", "%v", err)
	}
	if err := r.readHeader(max(o.HeaderRow, 1)); err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}

// openError says what a file that excelize cannot open is.
func openError(err error) error {
	switch {
	case errors.Is(err, excelize.ErrWorkbookFileFormat), strings.Contains(err.Error(), "zip: not a valid zip file"):
		return errors.New("not an .xlsx workbook (an .xls from old Excel, or a CSV renamed? save it as .xlsx)")
	case errors.Is(err, excelize.ErrWorkbookPassword):
		return errors.New("the workbook is password-protected; save a copy without a password")
	}
	return err
}

// chooseSheet returns the name of the worksheet o asks for, of those in
// list (in tab order).
func chooseSheet(list []string, o Options) (string, error) {
	if len(list) == 0 {
		return "", errors.New("the workbook has no worksheets")
	}
	switch {
	case o.Sheet != "":
		for _, s := range list {
			if s == o.Sheet {
				return s, nil
			}
		}
		for _, s := range list {
			if strings.EqualFold(strings.TrimSpace(s), strings.TrimSpace(o.Sheet)) {
				return s, nil
			}
		}
		return "", fmt.Errorf("no sheet %q (sheets: %s)", o.Sheet, quoteList(list))
	case o.Index > 0:
		if o.Index > len(list) {
			return "", fmt.Errorf("no sheet %d: the workbook has %d (%s)", o.Index, len(list), quoteList(list))
		}
		return list[o.Index-1], nil
	}
	return list[0], nil
}

func quoteList(list []string) string {
	q := make([]string, len(list))
	for i, s := range list {
		q[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(q, ", ")
}

// readHeader reads rows up to the header row and takes its cells as the
// column names.
func (r *Reader) readHeader(at int) error {
	var cells []string
	for r.line < at {
		if !r.rows.Next() {
			if err := r.rows.Error(); err != nil {
				return r.errorf(r.line+1, "", "%v", err)
			}
			if at == 1 {
				return r.errorf(0, "", "the sheet is empty: no header row")
			}
			return r.errorf(0, "", "no header row: the sheet ends before row %d", at)
		}
		r.line++
		var err error
		if cells, err = r.rows.Columns(); err != nil {
			return r.errorf(r.line, "", "%v", err)
		}
	}
	if sheet.Blank(cells) {
		return r.errorf(at, "", "header row %d is empty", at)
	}
	names := make([]string, len(cells))
	for i, c := range cells {
		names[i] = strings.TrimSpace(c)
	}
	if col, err := sheet.CheckNames(names); err != nil {
		return r.errorf(at, cellName(col, at), "%v", err)
	}
	r.header.Names = names
	return nil
}

// Sheet returns the name of the worksheet being read.
func (r *Reader) Sheet() string { return r.sheet }

// Header returns the column names of the header row.
func (r *Reader) Header() sheet.Header { return r.header }

// Next returns the next row below the header, with its row number, or
// io.EOF after the last one. Rows of empty cells are skipped; short rows
// are padded with ""; a value to the right of the last named column is an
// error naming its cell. The workbook is closed at the end and on errors.
func (r *Reader) Next() (row sheet.Row, err error) {
	defer func() {
		if p := recover(); p != nil {
			r.Close()
			row, err = sheet.Row{}, r.errorf(r.line, "", "cannot read the row (damaged file?): %v", p)
		}
	}()
	for !r.done {
		if !r.rows.Next() {
			err := r.rows.Error()
			r.Close()
			if err != nil {
				return sheet.Row{}, r.errorf(r.line+1, "", "%v", err)
			}
			return sheet.Row{}, io.EOF
		}
		r.line++
		cells, err := r.rows.Columns()
		if err != nil {
			r.Close()
			return sheet.Row{}, r.errorf(r.line, "", "%v", err)
		}
		if sheet.Blank(cells) {
			continue
		}
		width := len(r.header.Names)
		for i := width; i < len(cells); i++ {
			if strings.TrimSpace(cells[i]) != "" {
				r.Close()
				return sheet.Row{}, r.errorf(r.line, cellName(i, r.line),
					"a value (%q) in a column with no header (the header row has %d columns: name it or clear the column)", clip(cells[i]), width)
			}
		}
		values := make([]string, width)
		copy(values, cells)
		return sheet.Row{Line: r.line, Values: values}, nil
	}
	return sheet.Row{}, io.EOF
}

// Close releases the workbook and its temporary files; it is safe to call
// more than once.
func (r *Reader) Close() error {
	if r.done {
		return nil
	}
	r.done = true
	var err error
	if r.rows != nil {
		err = r.rows.Close()
	}
	if cerr := r.f.Close(); err == nil {
		err = cerr
	}
	return err
}

func (r *Reader) errorf(line int, cell string, format string, args ...any) *sheet.Error {
	return &sheet.Error{Path: r.path, Sheet: r.sheet, Line: line, Cell: cell, Err: fmt.Errorf(format, args...)}
}

// cellName is the reference of 0-based column col in row ("C12").
func cellName(col, row int) string {
	name, err := excelize.CoordinatesToCellName(col+1, row)
	if err != nil {
		return fmt.Sprintf("R%dC%d", row, col+1)
	}
	return name
}

// clip shortens a cell value quoted in a message.
func clip(s string) string {
	if r := []rune(s); len(r) > 40 {
		return string(r[:40]) + "…"
	}
	return s
}
