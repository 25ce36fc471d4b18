package luatop

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/topscript/topscript/sheet"
	"github.com/topscript/topscript/stdlib"
	"github.com/topscript/topscript/top"
	"github.com/topscript/topscript/xlsx"
)

// The report of a job lists every input row, in input order, whatever
// order the calls finished in, and whether the job ran to its end, was
// interrupted or stopped: rows record their line in a spool file as they
// finish (jobspool.go), and the report is written from it when the job
// ends, the rows never started ("not_started") filled in from the row
// file. So a job of 100,000 rows writes its report in the memory of one
// of 10,000.
//
// Its columns: key, status (ok, failed, unknown, skipped, not_started,
// dry_run, late), code, sub_code, message, request_id, line (the row's
// line in its file — for a workbook, its row number in the sheet — else
// its position in the input), call (the method and parameters the row
// sent, or would send under --dry-run: values cut to 64 bytes, secrets
// redacted, as `topscript call` takes them), then the input columns.
//
// After the rows, a closing summary: the rows by status and, for the
// rows that did not end ok, by error code and sub_code, with a count and
// one example each. In a CSV report it follows the rows after a row of
// empty cells, its rows' key "(summary)" and status empty (so a filter on
// status leaves them out); a workbook has it on a sheet of its own,
// "summary", after the rows' sheet "report".
//
// A report whose name ends in .xlsx is a workbook (ids and every other
// cell written as text, so 19 digits survive; formula-like cells marked
// text); any other name is a CSV file (UTF-8 with a BOM, for Excel; cells
// that start with = + - @, but are no plain number, get a leading ' so a
// spreadsheet shows them rather than run them: sheet.Neutralise).
//
// With a run id (Options.RunID: topscript run gives every run one) each
// run's report is kept: it is written to the report's name with the run
// id before the extension (prices.report.20260102-150405-3f9a.csv), then
// copied to the name as given, which so always holds the latest run's.

// reportColumns are the report's own columns, before the input columns.
var reportColumns = []string{"key", "status", "code", "sub_code", "message", "request_id", "line", "call"}

// summaryKey is the key column of a CSV report's summary rows.
const summaryKey = "(summary)"

// SplitCSVReport splits the records of a CSV report read back into its
// header and rows, and the summary after them (the rows end at the first
// record of empty cells). ok is false when the records do not have that
// shape: no separator, or a summary record not keyed "(summary)" with an
// empty status.
func SplitCSVReport(recs [][]string) (rows, summary [][]string, ok bool) {
	for i, r := range recs {
		if strings.Join(r, "") != "" {
			continue
		}
		for _, s := range recs[i+1:] {
			if len(s) < 2 || s[0] != summaryKey || s[1] != "" {
				return recs[:i], recs[i+1:], false
			}
		}
		return recs[:i], recs[i+1:], true
	}
	return recs, nil, false
}

// jobReport collects a job's report while it runs and writes it at the
// end.
type jobReport struct {
	path   string // as the script gave it: the latest run's report
	file   string // this run's: path with the run id, or path
	book   bool   // a workbook (.xlsx)
	header []string
	spool  *spool
	redact func(string) string // the host's hiding of known secrets, or nil
	off    offsets             // per row, its record's offset
	err    error               // the first failed write, reported by flushReport
}

// newJobReport starts the report of rows rows at path with the input
// columns after the report's own (an input column named like one of them
// gets the prefix "input_"). runID, when not "", names this run's copy;
// redact, when not nil, rewrites each cell.
func newJobReport(path, runID string, input []string, rows int, redact func(string) string) (*jobReport, error) {
	header := append([]string{}, reportColumns...)
	for _, c := range input {
		if slices.Contains(reportColumns, c) {
			c = "input_" + c
		}
		header = append(header, c)
	}
	rep := &jobReport{path: path, file: path, header: header, redact: redact, off: newOffsets(rows),
		book: strings.EqualFold(filepath.Ext(path), ".xlsx")}
	if runID != "" {
		rep.file = RunReportPath(path, runID)
	}
	if _, err := sheet.CheckNames(header); err != nil {
		return nil, err
	}
	// Fail now, not after the job, when the report cannot be written.
	dir := filepath.Dir(rep.file)
	probe, err := os.CreateTemp(dir, "."+filepath.Base(rep.file)+".*.partial")
	if err != nil {
		return nil, fmt.Errorf("cannot write %s: %v", rep.file, errors.Unwrap(err))
	}
	probe.Close()
	os.Remove(probe.Name())
	sp, err := newSpool("job-report")
	if err != nil {
		return nil, err
	}
	rep.spool = sp
	return rep, nil
}

// RunReportPath is the name a run's own copy of the report at path gets:
// the run id inserted before the extension ("prices.report.csv" →
// "prices.report.<id>.csv").
func RunReportPath(path, runID string) string {
	ext := filepath.Ext(path)
	return strings.TrimSuffix(path, ext) + "." + runID + ext
}

// writeReport settles row r in the summary and, when the job has a
// report, records its line; the row is then done with (the row store lets
// it go).
func (j *job) writeReport(r *jobRow, status string, te *top.Error, msg, reqID string) {
	code, sub := "", ""
	if te != nil {
		if te.Code != 0 {
			code = strconv.Itoa(te.Code)
		}
		sub = te.SubCode
		msg = errorMessage(te)
		if te.RequestID != "" {
			reqID = te.RequestID
		}
	}
	if status == statusDryRun && msg == "" {
		msg = "not sent: --dry-run"
	}
	line := shownLine(r.n, r.line)
	j.tally.add(status, code, sub, r.key, line, msg, reqID)
	j.rows.done(r)
	if j.report == nil {
		return
	}
	rec := append([]string{r.key, status, code, sub, msg, reqID, strconv.Itoa(line), callText(r.req, r.shown)}, r.cells...)
	j.report.record(r.n-1, rec)
}

// record keeps row i's report line.
func (rep *jobReport) record(i int, rec []string) {
	if rep.err != nil {
		return
	}
	var e encoder
	e.uint(uint64(len(rec)))
	for _, c := range rec {
		e.str(c)
	}
	at, err := rep.spool.Append(e.b)
	if err != nil {
		rep.err = fmt.Errorf("keeping its lines in a temporary file: %w", err)
		return
	}
	rep.off.set(i, at)
}

// line returns row i's recorded report line, or nil when it has none.
func (rep *jobReport) line(i int) ([]string, error) {
	at, ok := rep.off.get(i)
	if !ok {
		return nil, nil
	}
	b, err := rep.spool.Read(at)
	if err != nil {
		return nil, err
	}
	d := decoder{b: b}
	rec := make([]string, d.uint())
	for k := range rec {
		rec[k] = d.str()
	}
	return rec, d.err
}

// callText is a call as the report shows it, as `topscript call` takes
// it: the method, then name=value pairs sorted by name (values as the
// checkpoint keeps them: cut, secrets redacted; quoted when they hold
// spaces or quotes).
func callText(req *request, shown map[string]string) string {
	if req == nil {
		return ""
	}
	names := make([]string, 0, len(shown))
	for k := range shown {
		names = append(names, k)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString(req.method)
	for _, k := range names {
		v := shown[k]
		if v == "" || strings.ContainsAny(v, " \t\r\n\"'") {
			v = strconv.Quote(v)
		}
		b.WriteString(" " + k + "=" + v)
	}
	return b.String()
}

// errorMessage is the report's message of a TOP error: the sub_msg (the
// useful part of a business error), else the message, with the kind of
// client-side errors.
func errorMessage(te *top.Error) string {
	parts := []string{}
	if te.Msg != "" {
		parts = append(parts, te.Msg)
	}
	if te.SubMsg != "" {
		parts = append(parts, te.SubMsg)
	}
	msg := strings.Join(parts, ": ")
	if te.Code == 0 && te.Kind != "" {
		msg = string(te.Kind) + ": " + msg
	}
	return strings.Join(strings.Fields(msg), " ")
}

// flushReport reports a failure to keep the report's lines (each row is
// recorded as it finishes).
func (j *job) flushReport() error {
	if j.report == nil || j.report.err == nil {
		return nil
	}
	return fmt.Errorf("report %s: %v", j.spec.report, j.report.err)
}

// notStarted settles the rows the job never got to (interrupted, or
// stopped early) and returns how many there were; why says what stopped
// the job.
func (j *job) notStarted(why string) int {
	n := 0
	for i := range j.rows.len() {
		if j.rows.isDone(i) {
			continue
		}
		n++
		r := j.rows.load(i)
		if r.loadErr != nil {
			r.key = "?"
		}
		j.writeReport(r, statusNotStarted, nil, "not started: "+why, "")
	}
	return n
}

// writeReportFile writes the report, rows in input order and the summary, to
// this run's file, then copies it to the report's name.
func (j *job) writeReportFile() error {
	rep := j.report
	if rep.err != nil {
		return rep.err
	}
	var err error
	if rep.book {
		err = rep.writeBook(j)
	} else {
		err = rep.writeCSV(j)
	}
	if err != nil {
		return err
	}
	if rep.file != rep.path {
		if err := copyFile(rep.file, rep.path); err != nil {
			j.log.Warn(fmt.Sprintf("job %s: the report of this run is %s; it could not be copied to %s (%v)", j.spec.name, rep.file, rep.path, err),
				"job", j.spec.name, "report", rep.file)
		}
	}
	return nil
}

// writeCSV writes the report as CSV, through a temporary file moved into
// place at the end.
func (rep *jobReport) writeCSV(j *job) error {
	tmp, err := os.CreateTemp(filepath.Dir(rep.file), "."+filepath.Base(rep.file)+".*.partial")
	if err != nil {
		return errors.Unwrap(err)
	}
	defer os.Remove(tmp.Name())
	w, err := stdlib.CreateCSV(rep.file, rep.header, stdlib.CSVOptions{Stream: tmp, Buffered: true, Redact: rep.redact})
	if err != nil {
		tmp.Close()
		return err
	}
	write := func(rec []string) error {
		for k, c := range rec {
			rec[k] = sheet.Neutralise(c)
		}
		return w.Write(rec)
	}
	err = rep.eachLine(j, write)
	if err == nil {
		blank := make([]string, len(rep.header))
		if err = w.Write(blank); err == nil {
			for _, rec := range j.tally.csvRows(j.sum, len(rep.header)) {
				if err = write(rec); err != nil {
					break
				}
			}
		}
	}
	if err == nil {
		err = w.Close()
	}
	if err == nil {
		err = tmp.Chmod(0o644) // as a file os.Create makes (CreateTemp's is 0600)
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), rep.file)
	}
	return err
}

// writeBook writes the report as a workbook: the rows on the sheet
// "report", the summary on the sheet "summary".
func (rep *jobReport) writeBook(j *job) error {
	w, err := xlsx.Create(rep.file, rep.header, xlsx.WriterOptions{Sheet: "report"})
	if err != nil {
		return err
	}
	cells := make([]any, len(rep.header))
	err = rep.eachLine(j, func(rec []string) error {
		for k := range cells {
			cells[k] = nil
			if k < len(rec) && rec[k] != "" {
				cells[k] = rep.hide(rec[k])
			}
		}
		return w.Write(cells)
	})
	if err == nil {
		err = w.NextSheet("summary", summaryHeader)
	}
	if err == nil {
		for _, rec := range j.tally.sheetRows(j.sum) {
			for k, c := range rec {
				if s, ok := c.(string); ok {
					rec[k] = rep.hide(s)
				}
			}
			if err = w.Write(rec); err != nil {
				break
			}
		}
	}
	if err != nil {
		w.Abort()
		return err
	}
	return w.Close()
}

// hide removes known secrets from a workbook cell (a CSV report's cells
// go through its writer's Redact).
func (rep *jobReport) hide(s string) string {
	if rep.redact == nil {
		return s
	}
	return rep.redact(s)
}

// eachLine passes every row's report line to fn, in input order.
func (rep *jobReport) eachLine(j *job, fn func([]string) error) error {
	for i := range rep.off.len() {
		rec, err := rep.line(i)
		if err != nil {
			return fmt.Errorf("reading row %d's line back: %w", i+1, err)
		}
		if rec == nil { // cannot be: notStarted settled every row
			return fmt.Errorf("row %d has no line", i+1)
		}
		if err := fn(rec); err != nil {
			return err
		}
	}
	return nil
}

// offsets are a spool offset per row, 4 bytes each while the spool is
// under 4 GiB (offsets beyond go to a map).
type offsets struct {
	lo  []uint32 // offset + 1; 0: none
	big map[int]int64
}

func newOffsets(n int) offsets { return offsets{lo: make([]uint32, n)} }

func (o *offsets) len() int { return len(o.lo) }

func (o *offsets) set(i int, at int64) {
	if at+1 < math.MaxUint32 {
		o.lo[i] = uint32(at + 1)
		return
	}
	if o.big == nil {
		o.big = map[int]int64{}
	}
	o.lo[i] = math.MaxUint32
	o.big[i] = at
}

func (o *offsets) get(i int) (int64, bool) {
	switch v := o.lo[i]; v {
	case 0:
		return 0, false
	case math.MaxUint32:
		return o.big[i], true
	default:
		return int64(v) - 1, true
	}
}

// copyFile copies src to dst through a temporary file renamed over dst.
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".*.partial")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	_, err = io.Copy(tmp, in)
	if err == nil {
		err = tmp.Chmod(0o644)
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), dst)
	}
	return err
}
