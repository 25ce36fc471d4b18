package sheet

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/topscript/topscript/internal/suggest"
)

// Alias is one entry of a job spec's columns option: each row gets Key,
// holding the cell of column Column (an index into Header.Names).
type Alias struct {
	Key    string
	Column int
}

// Resolve maps a job spec's columns option onto h: key → the column it
// reads, by name or by label, as in
//
//	columns = {num_iid = "宝贝ID", price = "价格"}
//
// so an operator's own sheet works without renaming its columns. The
// aliases come back sorted by key. Every entry is checked: the error names
// each key whose column is missing (with the table's columns and a "did you
// mean") or ambiguous (a label on several columns). A key that is also a
// column's name is shadowed by the alias in rows built from it.
func (h Header) Resolve(columns map[string]string) ([]Alias, error) {
	keys := make([]string, 0, len(columns))
	for k := range columns {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]Alias, 0, len(keys))
	var errs []error
	for _, k := range keys {
		col := columns[k]
		switch {
		case k == "":
			errs = append(errs, fmt.Errorf("columns: an empty key maps to %q", col))
			continue
		case col == "":
			errs = append(errs, fmt.Errorf("columns.%s: the column name is empty", k))
			continue
		}
		if i := h.Index(col); i >= 0 {
			out = append(out, Alias{Key: k, Column: i})
			continue
		}
		if n := h.countLabel(col); n > 1 {
			errs = append(errs, fmt.Errorf("columns.%s: %d columns are labelled %q; name one by its key (%s)", k, n, col, strings.Join(h.namesLabelled(col), ", ")))
			continue
		}
		msg := fmt.Sprintf("columns.%s: no column %q", k, col)
		if s := suggest.Closest(col, append(append([]string(nil), h.Names...), h.Labels...)); s != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", s)
		}
		errs = append(errs, errors.New(msg+"; the columns are: "+h.describe()))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

func (h Header) countLabel(l string) int {
	n := 0
	for _, x := range h.Labels {
		if x == l {
			n++
		}
	}
	return n
}

func (h Header) namesLabelled(l string) []string {
	var out []string
	for i, x := range h.Labels {
		if x == l && i < len(h.Names) {
			out = append(out, h.Names[i])
		}
	}
	return out
}

// describe lists the columns as "num_id (数字ID), title (宝贝名称)" or
// "num_iid, price".
func (h Header) describe() string {
	parts := make([]string, len(h.Names))
	for i, n := range h.Names {
		if i < len(h.Labels) && h.Labels[i] != "" && h.Labels[i] != n {
			n += " (" + h.Labels[i] + ")"
		}
		parts[i] = n
	}
	return strings.Join(parts, ", ")
}
