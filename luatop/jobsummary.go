package luatop

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	lua "github.com/yuin/gopher-lua"
)

// JobSummary is the outcome of one job.run.
type JobSummary struct {
	Name     string
	Total    int // input rows
	OK       int // calls that succeeded this run (dry-run writes included)
	Failed   int // calls that failed this run
	Skipped  int // rows done in an earlier run, or whose call returned nothing
	Unknown  int // rows whose outcome is unknown (this run or an earlier one)
	NotSent  int // dry-run writes logged instead of sent
	Pending  int // rows not started because the job was interrupted or failed
	Verified int // rows of unknown outcome that verify found in effect (counted in OK)
	// Late counts rows whose answer came after this run's claim had passed
	// to another run (this process was paused past its lease): the other
	// run's record stands, and these rows are not counted as done here.
	Late int
	// Unrecorded counts rows whose outcome could not be saved because the
	// state store failed (counted in Unknown); StoreError says why.
	Unrecorded int
	StoreError string
	DryRun     bool // run under --dry-run: nothing was checkpointed
	// Report is the report as the script named it (the latest run's);
	// ReportFile this run's own copy (the same file without a run id).
	Report, ReportFile string
	Duration           time.Duration
	// Interrupted is true when the run's context ended the job early.
	Interrupted bool
	// Groups are the closing summary: the rows by status and, for rows
	// that did not end ok, by error code and sub_code, with one example
	// each (see ErrorGroup for the order).
	Groups []ErrorGroup
}

// ErrorGroup is one line of a job's closing summary: the rows that ended
// with one status and, for failed, unknown and late rows, one error code
// and sub_code. Groups come in the order of the statuses that need an
// operator first (failed, unknown, late, not_started, then ok, skipped,
// dry_run), the biggest first within a status.
type ErrorGroup struct {
	Status  string `json:"status"`
	Code    string `json:"code,omitempty"`
	SubCode string `json:"sub_code,omitempty"`
	Rows    int    `json:"rows"`
	// The first row of the group: its key, line, message and request id.
	Key       string `json:"key"`
	Line      int    `json:"line"`
	Message   string `json:"message,omitempty"`
	RequestID string `json:"request_id,omitempty"`
}

// Attention reports whether the group's rows need an operator.
func (g ErrorGroup) Attention() bool {
	switch g.Status {
	case statusFailed, statusUnknown, statusLate, statusNotStarted:
		return true
	}
	return false
}

// String is the group in one line: "37 rows failed with 15
// isv.item-not-exist, e.g. line 13 (key 600...): 商品不存在".
func (g ErrorGroup) String() string {
	s := fmt.Sprintf("%d %s %s", g.Rows, plural(g.Rows, "row", "rows"), g.Status)
	if code := strings.TrimSpace(g.Code + " " + g.SubCode); code != "" {
		s += " with " + code
	}
	s += fmt.Sprintf(", e.g. line %d (key %s)", g.Line, g.Key)
	if g.Message != "" {
		s += ": " + g.Message
	}
	return s
}

func plural(n int, one, more string) string {
	if n == 1 {
		return one
	}
	return more
}

// statusOrder is the order of statuses in summaries.
var statusOrder = []string{statusFailed, statusUnknown, statusLate, statusNotStarted, statusOK, statusSkipped, statusDryRun}

// tally counts a job's rows by status and error as they are settled.
type tally struct {
	groups map[groupKey]*ErrorGroup
}

type groupKey struct{ status, code, sub string }

func (t *tally) add(status, code, sub, key string, line int, msg, reqID string) {
	k := groupKey{status: status}
	switch status {
	case statusFailed, statusUnknown, statusLate:
		k.code, k.sub = code, sub
	}
	if t.groups == nil {
		t.groups = map[groupKey]*ErrorGroup{}
	}
	g := t.groups[k]
	if g == nil {
		g = &ErrorGroup{Status: status, Code: k.code, SubCode: k.sub, Key: key, Line: line, Message: msg, RequestID: reqID}
		t.groups[k] = g
	}
	g.Rows++
}

// list returns the groups in summary order.
func (t *tally) list() []ErrorGroup {
	rank := func(s string) int {
		for i, x := range statusOrder {
			if x == s {
				return i
			}
		}
		return len(statusOrder)
	}
	out := make([]ErrorGroup, 0, len(t.groups))
	for _, g := range t.groups {
		out = append(out, *g)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if ra, rb := rank(a.Status), rank(b.Status); ra != rb {
			return ra < rb
		}
		if a.Rows != b.Rows {
			return a.Rows > b.Rows
		}
		return a.Code+" "+a.SubCode < b.Code+" "+b.SubCode
	})
	return out
}

// totals is the summary's first line: "10000 rows: 9950 ok, 37 failed,
// 13 not_started".
func (t *tally) totals(total int) string {
	by := map[string]int{}
	for _, g := range t.groups {
		by[g.Status] += g.Rows
	}
	var parts []string
	for _, s := range statusOrder {
		if by[s] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", by[s], s))
		}
	}
	return fmt.Sprintf("%d %s: %s", total, plural(total, "row", "rows"), strings.Join(parts, ", "))
}

// csvRows are the summary as a CSV report's rows (width cells each):
// key "(summary)", status empty, the totals then a row a group.
func (t *tally) csvRows(sum JobSummary, width int) [][]string {
	row := func(code, sub, msg, reqID string, line int) []string {
		r := make([]string, width)
		r[0], r[2], r[3], r[4], r[5] = summaryKey, code, sub, msg, reqID
		if line > 0 {
			r[6] = strconv.Itoa(line)
		}
		return r
	}
	out := [][]string{row("", "", t.totals(sum.Total), "", 0)}
	for _, g := range t.list() {
		out = append(out, row(g.Code, g.SubCode, g.String(), g.RequestID, g.Line))
	}
	return out
}

// summaryHeader is the header of a workbook report's summary sheet.
var summaryHeader = []string{"status", "code", "sub_code", "rows", "example_line", "example_key", "example_message", "example_request_id"}

// sheetRows are the summary as the rows of a workbook's summary sheet:
// a row a group, then the totals.
func (t *tally) sheetRows(sum JobSummary) [][]any {
	var out [][]any
	for _, g := range t.list() {
		out = append(out, []any{g.Status, g.Code, g.SubCode, g.Rows, g.Line, g.Key, g.Message, g.RequestID})
	}
	return append(out, []any{"total", "", "", sum.Total, nil, nil, t.totals(sum.Total), nil})
}

// NeedsAttention reports whether rows failed, have an unknown outcome or
// were answered late, or the job stopped because its checkpoints could
// not be saved.
func (s JobSummary) NeedsAttention() bool {
	return s.Failed > 0 || s.Unknown > 0 || s.Late > 0 || s.StoreError != ""
}

// summaryTable is the summary returned to the script.
func (j *job) summaryTable() *lua.LTable {
	L := j.L
	t := L.CreateTable(0, 10)
	s := j.sum
	t.RawSetString("name", lua.LString(s.Name))
	t.RawSetString("total", lua.LNumber(s.Total))
	t.RawSetString("ok", lua.LNumber(s.OK))
	t.RawSetString("failed", lua.LNumber(s.Failed))
	t.RawSetString("skipped", lua.LNumber(s.Skipped))
	t.RawSetString("unknown", lua.LNumber(s.Unknown))
	t.RawSetString("not_sent", lua.LNumber(s.NotSent))
	t.RawSetString("verified", lua.LNumber(s.Verified))
	t.RawSetString("late", lua.LNumber(s.Late))
	t.RawSetString("dry_run", lua.LBool(s.DryRun))
	t.RawSetString("seconds", lua.LNumber(s.Duration.Seconds()))
	if s.Report != "" {
		t.RawSetString("report", lua.LString(s.Report))
		t.RawSetString("report_file", lua.LString(s.ReportFile))
	}
	t.RawSetString("not_started", lua.LNumber(s.Pending))
	return t
}

// logSummary logs the one summary line of the job.
func (j *job) logSummary() {
	s := j.sum
	attrs := []any{"job", s.Name, "total", s.Total, "ok", s.OK, "failed", s.Failed,
		"skipped", s.Skipped, "unknown", s.Unknown, "duration", s.Duration.Round(time.Millisecond).String()}
	if s.Verified > 0 {
		attrs = append(attrs, "verified", s.Verified)
	}
	if s.Late > 0 {
		attrs = append(attrs, "late", s.Late)
	}
	if s.Unrecorded > 0 {
		attrs = append(attrs, "unrecorded", s.Unrecorded)
	}
	if s.DryRun {
		attrs = append(attrs, "dry_run", true, "not_sent", s.NotSent)
	}
	if s.Pending > 0 {
		attrs = append(attrs, "not_started", s.Pending)
	}
	if s.Report != "" {
		attrs = append(attrs, "report", s.Report)
	}
	switch {
	case s.Interrupted:
		j.log.Warn("job interrupted", attrs...)
	case s.NeedsAttention():
		j.log.Warn("job finished with rows needing attention", attrs...)
	default:
		j.log.Info("job finished", attrs...)
	}
	// The closing summary: a line for each group of rows that need an
	// operator, the biggest first.
	shown := 0
	for _, g := range s.Groups {
		if !g.Attention() {
			continue
		}
		if shown == maxSummaryLines {
			j.log.Warn(fmt.Sprintf("job %s: more groups of rows in the report's summary", s.Name), "job", s.Name)
			break
		}
		shown++
		j.log.Warn(fmt.Sprintf("job %s: %s", s.Name, g), "job", s.Name, "status", g.Status, "code", g.Code, "sub_code", g.SubCode, "rows", g.Rows)
	}
}

// maxSummaryLines is how many groups the log's summary names.
const maxSummaryLines = 10
