package luatop

import (
	"fmt"
	"sort"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/topscript/topscript/internal/numtext"
	"github.com/topscript/topscript/stdlib"
)

// jobRow is one input row.
type jobRow struct {
	n     int // position in the input, from 1
	line  int // CSV line when the iterator gave one
	val   lua.LValue
	key   string
	cells []string // input columns for the report
	prev  checkpoint
	// prevRaw is prev as stored (nil: no checkpoint), to tell a change.
	prevRaw []byte
	// elsewhere is set when prev was written by another process while
	// this job ran (a shared store).
	elsewhere bool
	claimed   bool      // this run holds the row's claim
	fence     int64     // the claim's fencing token
	claimedAt time.Time // when the claim was taken or last checked
	deferred  bool      // another process held the claim when the row came up

	req   *request          // the row's call, once prepared
	fp    string            // req's fingerprint (callFingerprint)
	shown map[string]string // req's params as the checkpoint keeps them
	// why says why a row done before is sent again ("changed since ...").
	why string
	// intent is set while the row's sending record is stored and its
	// call in flight; resend once verify found the row not applied.
	intent, resend bool
	// verified is set once verify ran for the row in this run (it runs
	// at most once a row a run); verifyLater while its report waits for
	// verify at the end of the run.
	verified, verifyLater bool
}

// where names the row in messages.
func (r *jobRow) where() string {
	if r.line > 0 {
		return fmt.Sprintf("row %d (line %d)", r.n, r.line)
	}
	return fmt.Sprintf("row %d", r.n)
}

// readRows reads every row, computes the keys and checks they are unique.
func (j *job) readRows() error {
	var vals []lua.LValue
	var lines []int
	switch src := j.spec.rows.(type) {
	case *lua.LTable:
		n := src.Len()
		for i := 1; i <= n; i++ {
			vals = append(vals, src.RawGetInt(i))
		}
	default: // an iterator: a function, or a callable value such as csv.rows gives
		for {
			rets, err := j.pcall(src, 2, "reading rows")
			if err != nil {
				return err
			}
			if rets[0] == lua.LNil {
				break
			}
			vals = append(vals, rets[0])
			line := 0
			if n, ok := rets[1].(lua.LNumber); ok {
				line = int(n)
			}
			lines = append(lines, line)
		}
	}
	j.columns = j.inputColumns(vals)
	seen := make(map[string]*jobRow, len(vals))
	j.rows = make([]*jobRow, len(vals))
	for i, v := range vals {
		r := &jobRow{n: i + 1, val: v}
		if i < len(lines) {
			r.line = lines[i]
		}
		rets, err := j.pcall(j.spec.key, 1, "key function failed on "+r.where(), v)
		if err != nil {
			return err
		}
		switch k := rets[0].(type) {
		case lua.LString:
			r.key = string(k)
		case lua.LNumber:
			r.key = numtext.Format(float64(k))
		default:
			return fmt.Errorf("key function returned %s for %s: want a non-empty string", stdlib.Describe(k), r.where())
		}
		if r.key == "" {
			return fmt.Errorf("key function returned an empty key for %s", r.where())
		}
		if first, dup := seen[r.key]; dup {
			return fmt.Errorf("duplicate key %q: %s and %s (keys must be unique per row)", r.key, first.where(), r.where())
		}
		seen[r.key] = r
		r.cells = j.cells(v)
		j.rows[i] = r
	}
	return nil
}

// inputColumns decides the report's input columns.
func (j *job) inputColumns(vals []lua.LValue) []string {
	if len(j.spec.columns) > 0 {
		return j.spec.columns
	}
	if h := stdlib.RowsHeader(j.spec.rows); len(h.Names) > 0 {
		return h.Names // the columns of csv.rows, csv.read, xlsx.rows or xlsx.read, in file order
	}
	if len(vals) == 0 {
		return nil
	}
	t, ok := vals[0].(*lua.LTable)
	if !ok {
		return []string{"row"}
	}
	var cols []string
	t.ForEach(func(k, v lua.LValue) {
		if s, ok := k.(lua.LString); ok {
			switch v.(type) {
			case lua.LString, lua.LNumber, lua.LBool:
				cols = append(cols, string(s))
			}
		}
	})
	sort.Strings(cols)
	return cols
}

// cells renders a row's input columns as csv.writer renders cells
// (stdlib.CSVCell).
func (j *job) cells(v lua.LValue) []string {
	out := make([]string, len(j.columns))
	t, ok := v.(*lua.LTable)
	if !ok {
		if len(out) == 1 {
			out[0] = stdlib.CSVCell(j.L, v)
		}
		return out
	}
	for i, c := range j.columns {
		out[i] = stdlib.CSVCell(j.L, t.RawGetString(c))
	}
	return out
}
