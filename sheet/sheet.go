// Package sheet holds what every table an operator brings shares, whatever
// its file format: the header (the names rows are keyed by and, where the
// file has a second header row, the labels shown to people), rows with the
// line they came from, the column mapping of a job spec, one error type that
// names the file, sheet, line and cell, and the neutralising of cells that a
// spreadsheet would run as formulas.
//
// It also reads the text formats: CSV in the encodings Chinese spreadsheets
// write, and 淘宝助理 (Taobao Assistant) item exports (see OpenCSV). The
// sibling package xlsx reads and writes workbooks into the same Header and
// Row. The Lua csv and xlsx modules are thin layers over the two, so a
// script sees the same rows whichever file the operator hands it.
//
// Why a package of its own: CSV decoding was inside the Lua csv module,
// where neither the xlsx package nor a Go embedder could use it, and the
// 淘宝助理 reader, the column mapping and the report cell rules are the
// same concept for every format.
package sheet

// Header names a table's columns.
type Header struct {
	// Names are the keys rows are keyed by: the header row, or for a
	// 淘宝助理 export its English-key row ("title", "num_id", ...).
	Names []string
	// Labels are the names shown to people, in the same order as Names:
	// the Chinese header row of a 淘宝助理 export ("宝贝名称", "数字ID", ...).
	// Nil when the file has one header row.
	Labels []string
}

// Index returns the column of name: the column whose name is name, else the
// one whose label is. It is -1 when there is none, or when name is no
// column's name and more than one column's label.
func (h Header) Index(name string) int {
	for i, n := range h.Names {
		if n == name {
			return i
		}
	}
	found := -1
	for i, l := range h.Labels {
		if l == name {
			if found >= 0 {
				return -1
			}
			found = i
		}
	}
	return found
}

// Row is one data row of a table.
type Row struct {
	// Line is where the row starts: the 1-based line of a text file (a
	// quoted cell may span lines), or the row number of a worksheet.
	Line int
	// Values has one cell per header column, in header order.
	Values []string
}

// Get returns the cell of the column named name (see Header.Index), and
// whether there is such a column.
func (r Row) Get(h Header, name string) (string, bool) {
	i := h.Index(name)
	if i < 0 || i >= len(r.Values) {
		return "", false
	}
	return r.Values[i], true
}
