package sheet

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Format is the layout of a text table.
type Format string

// Formats OpenCSV tells apart.
const (
	// CSV has one header row, then data.
	CSV Format = "csv"
	// Assistant is a 淘宝助理 (Taobao Assistant) export: a version line
	// ("version 1.00"), a row of English keys ("title", "num_id", ...), a
	// row of their Chinese labels ("宝贝名称", "数字ID", ...), then data.
	// The exports are UTF-16LE with a BOM and tab-separated; any encoding
	// and delimiter is recognised, the version line is what tells.
	Assistant Format = "taobao-assistant"
)

// Options are the reading options of OpenCSV.
type Options struct {
	// Delimiter separates cells. Zero means a tab for 淘宝助理 exports and
	// for files whose first line has tabs and no comma (what Excel's
	// "Unicode text" writes), else ','.
	Delimiter rune
	// Encoding is the text encoding; "" means Auto (see Decode).
	Encoding Encoding
	// Header names the columns of a file that has no header row: its first
	// line is data, and no format is detected.
	Header []string
}

// CSVReader streams the rows of a text table: CSV with one header row, or
// a 淘宝助理 export, told apart by the export's version line. Blank lines
// and rows of empty cells are skipped; every other row must have as many
// cells as the header; cells must be valid UTF-8 once decoded.
type CSVReader struct {
	path    string
	c       io.Closer // nil when not ours to close
	r       *csv.Reader
	header  Header
	format  Format
	version string
	done    bool
}

// OpenCSV opens path and reads its header rows. A missing file or a
// directory is an *Error naming path.
func OpenCSV(path string, o Options) (*CSVReader, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, errorf(path, 0, "no such file")
		}
		return nil, &Error{Path: path, Err: errors.Unwrap(err)}
	}
	if st, err := f.Stat(); err == nil && st.IsDir() {
		f.Close()
		return nil, errorf(path, 0, "is a directory, not a CSV file")
	}
	r, err := NewCSVReader(f, path, o)
	if err != nil {
		f.Close()
		return nil, err
	}
	r.c = f
	return r, nil
}

// NewCSVReader reads a text table from src; name is what errors call it.
// Closing the reader does not close src.
func NewCSVReader(src io.Reader, name string, o Options) (*CSVReader, error) {
	enc := o.Encoding
	if enc == "" {
		enc = Auto
	}
	text, _, err := Decode(src, enc)
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			e.Path = name
			return nil, e
		}
		return nil, &Error{Path: name, Err: err}
	}
	br := bufio.NewReader(text)
	if head, _ := br.Peek(64 << 10); bytes.IndexByte(head, '\r') >= 0 && bytes.IndexByte(head, '\n') < 0 {
		// Lines end with a CR alone (Excel's "CSV (Macintosh)", old Mac
		// files): encoding/csv would read the whole file as one line.
		br = bufio.NewReader(crLines{br})
	}
	format := CSV
	first, _ := br.Peek(4 << 10)
	first = firstLine(first)
	if o.Header == nil && versionLine.Match(first) {
		format = Assistant
	}
	comma := o.Delimiter
	if comma == 0 {
		comma = ','
		if format == Assistant || bytes.IndexByte(first, '\t') >= 0 && bytes.IndexByte(first, ',') < 0 {
			comma = '\t'
		}
	}
	cr := csv.NewReader(br)
	cr.Comma = comma
	cr.FieldsPerRecord = -1 // checked here, to name both counts
	r := &CSVReader{path: name, r: cr, format: format}
	if o.Header != nil {
		if _, err := CheckNames(o.Header); err != nil {
			return nil, &Error{Path: name, Err: err}
		}
		r.header.Names = o.Header
		return r, nil
	}
	if format == Assistant {
		rec, _, err := r.record()
		if err != nil {
			return nil, err
		}
		r.version = strings.TrimSpace(strings.TrimPrefix(strings.ToLower(strings.TrimSpace(rec[0])), "version"))
	}
	names, line, err := r.headerRow("no header row")
	if err != nil {
		return nil, err
	}
	r.header.Names = names
	if format == Assistant {
		rec, line2, err := r.record()
		if err == io.EOF {
			return nil, errorf(name, 0, "淘宝助理 export without its Chinese header row (line %d)", line+1)
		}
		if err != nil {
			return nil, err
		}
		if len(rec) > len(names) {
			return nil, errorf(name, line2, "the Chinese header row has %d columns, the key row above it %d", len(rec), len(names))
		}
		labels := make([]string, len(names))
		for i, l := range rec {
			labels[i] = strings.TrimSpace(l)
		}
		r.header.Labels = labels
	}
	return r, nil
}

// crLines reads a text whose lines end with CR alone as lines ending with
// LF.
type crLines struct{ r io.Reader }

func (c crLines) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	for i, b := range p[:n] {
		if b == '\r' {
			p[i] = '\n'
		}
	}
	return n, err
}

// versionLine is the first line of a 淘宝助理 export, as "version 1.00".
var versionLine = regexp.MustCompile(`^(?i)"?version\s+[0-9][0-9.]*"?[\t,;]*\r?$`)

// firstLine is b up to its first newline.
func firstLine(b []byte) []byte {
	for i, c := range b {
		if c == '\n' {
			return b[:i]
		}
	}
	return b
}

// Header returns the table's column names (and labels, for a 淘宝助理
// export).
func (r *CSVReader) Header() Header { return r.header }

// Format returns the layout found.
func (r *CSVReader) Format() Format { return r.format }

// Version is the version on a 淘宝助理 export's first line ("1.00"); "" for
// plain CSV.
func (r *CSVReader) Version() string { return r.version }

// Next returns the next data row, or io.EOF after the last one. The file is
// closed at the end and on an error.
func (r *CSVReader) Next() (Row, error) {
	for !r.done {
		rec, line, err := r.record()
		if err == io.EOF {
			r.Close()
			return Row{}, io.EOF
		}
		if err != nil {
			r.Close()
			return Row{}, err
		}
		if Blank(rec) {
			continue
		}
		if err := checkUTF8(r.path, line, rec); err != nil {
			r.Close()
			return Row{}, err
		}
		if len(rec) != len(r.header.Names) {
			r.Close()
			return Row{}, errorf(r.path, line, "row has %d columns, header has %d", len(rec), len(r.header.Names))
		}
		return Row{Line: line, Values: rec}, nil
	}
	return Row{}, io.EOF
}

// Close closes the file; it is safe to call more than once.
func (r *CSVReader) Close() error {
	if r.done {
		return nil
	}
	r.done = true
	if r.c != nil {
		return r.c.Close()
	}
	return nil
}

// record reads one record and the line it starts on.
func (r *CSVReader) record() ([]string, int, error) {
	rec, err := r.r.Read()
	if err == io.EOF {
		return nil, 0, io.EOF
	}
	if err != nil {
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			return nil, 0, &Error{Path: r.path, Line: pe.Line, Column: pe.Column, Err: pe.Err}
		}
		return nil, 0, &Error{Path: r.path, Err: err}
	}
	line, _ := r.r.FieldPos(0)
	return rec, line, nil
}

// headerRow reads the next record as column names.
func (r *CSVReader) headerRow(missing string) ([]string, int, error) {
	rec, line, err := r.record()
	if err == io.EOF {
		return nil, 0, errorf(r.path, 0, "empty file: %s", missing)
	}
	if err != nil {
		return nil, 0, err
	}
	if err := checkUTF8(r.path, line, rec); err != nil {
		return nil, 0, err
	}
	names := make([]string, len(rec))
	for i, h := range rec {
		// A byte-order mark left in a name (a file saved with two, or
		// joined from two files) is as invisible as a space.
		names[i] = strings.TrimFunc(h, func(r rune) bool { return unicode.IsSpace(r) || r == '\uFEFF' })
	}
	if _, err := CheckNames(names); err != nil {
		return nil, 0, &Error{Path: r.path, Line: line, Err: err}
	}
	return names, line, nil
}

// CheckNames refuses a header without columns, or with an empty or
// duplicate column name. The column returned is the 0-based column the
// problem is at (-1 for no columns), for callers that name its cell.
func CheckNames(names []string) (int, error) {
	if len(names) == 0 {
		return -1, errors.New("no columns: the header is empty")
	}
	seen := make(map[string]int, len(names))
	for i, h := range names {
		if h == "" {
			return i, fmt.Errorf("header column %d has no name", i+1)
		}
		if strings.ContainsRune(h, 0) {
			return i, fmt.Errorf("header column %d holds a NUL byte: not a text file, or UTF-16 without a byte-order mark (save it as UTF-8)", i+1)
		}
		if j, dup := seen[h]; dup {
			return i, fmt.Errorf("duplicate header %q (columns %d and %d)", h, j, i+1)
		}
		seen[h] = i + 1
	}
	return 0, nil
}

// checkUTF8 refuses a record that is not valid UTF-8: a file read as
// UTF-8 that is not (a GBK export read with encoding "utf-8", or a file
// mixing encodings) would otherwise hand the script garbled keys and values.
func checkUTF8(path string, line int, rec []string) error {
	for i, v := range rec {
		if !utf8.ValidString(v) {
			return errorf(path, line, "column %d is not valid UTF-8 (is the file GBK? read it with {encoding = \"gbk\"})", i+1)
		}
	}
	return nil
}

// Blank reports a row of empty cells (what spreadsheets leave behind):
// readers skip them.
func Blank(rec []string) bool {
	for _, v := range rec {
		if strings.TrimSpace(v) != "" {
			return false
		}
	}
	return true
}
