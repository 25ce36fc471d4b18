package luatop

import (
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
	Report     string
	Duration   time.Duration
	// Interrupted is true when the run's context ended the job early.
	Interrupted bool
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
	}
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
}
