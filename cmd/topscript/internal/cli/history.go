package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/topscript/topscript/config"
	"github.com/topscript/topscript/internal/redact"
	"github.com/topscript/topscript/luatop"
	"github.com/topscript/topscript/runlog"
	"github.com/topscript/topscript/state"
	"github.com/topscript/topscript/toptime"
)

// The run history (package runlog): every run records itself when it
// starts and when it ends, one record per shop of a run over several
// shops (its ID the run's, a dot and the shop's name), and `topscript
// runs` reads the records back. A record that cannot be written is a
// warning: the history never fails a run.

// recordTimeout bounds each write of a run's record.
const recordTimeout = 5 * time.Second

// maxErrorLines is how much of a run's last word its record keeps.
const maxErrorLines = 5

// recorder keeps one target's record.
type recorder struct {
	log    *runlog.Log
	rec    runlog.Record
	logger *slog.Logger
	scrub  redact.Redactor // the run's secrets, hidden by value in the record
}

// startRecord records the start of the run of script for a target (shop
// "" for the profile's session) under id; secrets are hidden from the
// record by value, as from every output of the run.
func startRecord(ctx context.Context, b *state.Backend, logger *slog.Logger, id string, o *runOptions, shop string, secrets []string) *recorder {
	host, _ := os.Hostname()
	dir, _ := os.Getwd()
	r := &recorder{
		log:    &runlog.Log{Store: b.Runs()},
		logger: logger,
		scrub:  redact.New(secrets...),
		rec: runlog.Record{
			ID: id, Script: o.Script, Shop: shop, Entry: o.Entry, DryRun: o.DryRun,
			Host: host, PID: os.Getpid(), Dir: dir, Start: time.Now(),
		},
	}
	for _, a := range o.Args {
		r.rec.Args = append(r.rec.Args, r.scrub.Text(a))
	}
	r.put(ctx)
	return r
}

// put writes the record, warning when it cannot.
func (r *recorder) put(ctx context.Context) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	if err := r.log.Put(ctx, r.rec); err != nil && r.logger != nil {
		r.logger.Warn("run history: the run could not be recorded", "run", r.rec.ID, "error", err.Error())
	}
}

// finish records the end of the run (err is what runTarget returns) with
// the alerts held for the scheduler, then raises the alerts of its end.
func (r *recorder) finish(ctx context.Context, err error, jobs []luatop.JobSummary, alerts *alerter) {
	r.rec.End = time.Now()
	code, msg := exitOf(err)
	r.rec.ExitCode, r.rec.Error = code, r.scrub.Text(msg)
	for _, s := range jobs {
		r.rec.Jobs = append(r.rec.Jobs, jobRecord(s))
	}
	r.rec.Alerts = alerts.take()
	r.put(ctx)
	alerts.ended(r.rec)
}

// exitOf is the exit code of a command's end and its message cut to a few
// lines ("" when it ended well or said nothing).
func exitOf(err error) (int, string) {
	if err == nil {
		return ExitOK, ""
	}
	code, msg := ExitScript, err.Error()
	var ee *exitError
	if errors.As(err, &ee) {
		code, msg = ee.code, ee.msg
	}
	lines := strings.Split(strings.TrimRight(msg, "\n"), "\n")
	if len(lines) > maxErrorLines {
		lines = append(lines[:maxErrorLines], "…")
	}
	return code, strings.Join(lines, "\n")
}

// jobRecord is a job's summary as the history keeps it: its rows by
// status, and the report this run wrote (its own copy, named with the
// run's ID, which a later run does not overwrite).
func jobRecord(s luatop.JobSummary) runlog.Job {
	by := map[string]int{
		"ok": s.OK - s.NotSent, "dry_run": s.NotSent, "failed": s.Failed, "skipped": s.Skipped,
		"unknown": s.Unknown, "late": s.Late, "not_started": s.Pending,
	}
	for k, n := range by {
		if n <= 0 {
			delete(by, k)
		}
	}
	report := s.ReportFile // this run's own copy; s.Report holds the latest run's
	if report == "" {
		report = s.Report
	}
	return runlog.Job{Name: s.Name, Total: s.Total, Status: by, Report: report, Interrupted: s.Interrupted}
}

// runsOptions are the flags of `runs`.
type runsOptions struct {
	configFlags
	Last int
	JSON bool
}

// DefaultRunsLast is how many runs `topscript runs` lists by default.
const DefaultRunsLast = 20

const runsLong = `
Every run is recorded in the [state] backend when it starts and when it
ends: one record per shop of a run over several shops (the run's ID, a dot
and the shop's name), and one per scheduled run (its entry named). A
record holds the script and its arguments, the shop, the schedule entry,
start and end, the exit code and the run's last word, each job's rows by
status and its report: the run's own copy, named with the run's ID
(prices.report.<ID>.csv), which later runs leave alone; the report's
plain name holds the latest run's. A run still going, or one that died without a
word (kill -9), shows as running. The history keeps the newest 1000 runs.

  topscript runs                  # the newest 20, oldest first
  topscript runs --last 100 --json
  topscript runs show 20240601-020000-3fa1`

// newRunsCmd is `topscript runs`.
func newRunsCmd(st *State) *cobra.Command {
	o := &runsOptions{}
	c := &cobra.Command{
		Use:               "runs [--last N] [--json]",
		Annotations:       map[string]string{annSynopsis: "runs [--last N] [--json] | runs show ID"},
		Short:             "List the latest runs: when, how long, how they ended, their rows",
		Long:              runsLong,
		Args:              noArgs,
		ValidArgsFunction: cobra.NoFileCompletions,
		RunE: func(c *cobra.Command, args []string) error {
			return runRuns(c.Context(), st, o)
		},
	}
	fs := c.Flags()
	o.configFlags.register(fs)
	fs.IntVar(&o.Last, "last", DefaultRunsLast, "list the newest `N` runs (0: all the history keeps)")
	fs.BoolVar(&o.JSON, "json", false, "print the records as a JSON array")
	c.AddCommand(newRunsShowCmd(st))
	return c
}

// history opens the run history of the configuration the flags name. It
// needs the app key and the [state] backend, not the app secret or a
// session: an operator reads the history without them in the environment.
func (o *configFlags) history(st *State) (*runlog.Log, func(), error) {
	f, err := o.loadOptions(st, config.Options{NoSecrets: true})
	if err != nil {
		return nil, nil, err
	}
	b, err := openState(f, f.Client.AppKey)
	if err != nil {
		return nil, nil, err
	}
	return &runlog.Log{Store: b.Runs()}, func() { b.Close() }, nil
}

func runRuns(ctx context.Context, st *State, o *runsOptions) error {
	if o.Last < 0 {
		return usageErrorf("runs", "--last must not be negative")
	}
	l, done, err := o.history(st)
	if err != nil {
		return err
	}
	defer done()
	recs, err := l.List(ctx, o.Last)
	if err != nil {
		return fmt.Errorf("run history: %w", err)
	}
	if o.JSON {
		if recs == nil {
			recs = []runlog.Record{}
		}
		return writeJSON(st.Stdout, recs)
	}
	if len(recs) == 0 {
		fmt.Fprintln(st.Stderr, "no run is recorded yet")
		return nil
	}
	tw := tabwriter.NewWriter(st.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTART\tTOOK\tSTATUS\tSHOP\tENTRY\tSCRIPT\tROWS")
	for _, r := range recs {
		took := "-"
		if !r.Running() {
			took = r.Duration().Round(time.Millisecond).String()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, toptime.Format(r.Start), took, r.Status(),
			orDash(r.Shop), orDash(r.Entry), r.Script, orDash(runlog.FormatRows(r.Rows())))
	}
	return tw.Flush()
}

// runsShowOptions are the flags of `runs show`.
type runsShowOptions struct {
	configFlags
	JSON bool
	ID   string
}

func newRunsShowCmd(st *State) *cobra.Command {
	o := &runsShowOptions{}
	c := &cobra.Command{
		Use:               "show ID",
		Short:             "Show one run: its arguments, shop, times, exit, last word, jobs and reports",
		Args:              argsFrom(1, 1, "ID (topscript runs lists them)"),
		ValidArgsFunction: cobra.NoFileCompletions,
		RunE: func(c *cobra.Command, args []string) error {
			o.ID = args[0]
			return runRunsShow(c.Context(), st, o)
		},
	}
	fs := c.Flags()
	o.configFlags.register(fs)
	fs.BoolVar(&o.JSON, "json", false, "print the record as JSON")
	return c
}

func runRunsShow(ctx context.Context, st *State, o *runsShowOptions) error {
	l, done, err := o.history(st)
	if err != nil {
		return err
	}
	defer done()
	r, err := l.Get(ctx, o.ID)
	var nf *runlog.NotFoundError
	if errors.As(err, &nf) {
		return &exitError{code: ExitUsage, msg: "topscript runs show: " + nf.Error(), err: err}
	}
	if err != nil {
		return fmt.Errorf("run history: %w", err)
	}
	if o.JSON {
		return writeJSON(st.Stdout, r)
	}
	tw := tabwriter.NewWriter(st.Stdout, 0, 4, 2, ' ', 0)
	row := func(k, format string, args ...any) { fmt.Fprintf(tw, "%s\t%s\n", k, fmt.Sprintf(format, args...)) }
	row("id", "%s", r.ID)
	row("script", "%s", strings.TrimSpace(r.Script+" "+strings.Join(quoteArgs(r.Args), " ")))
	row("shop", "%s", orDash(r.Shop))
	if r.Entry != "" {
		row("entry", "%s (scheduled)", r.Entry)
	}
	if r.DryRun {
		row("dry run", "yes")
	}
	row("host", "%s (pid %d)", orDash(r.Host), r.PID)
	row("start", "%s", toptime.Format(r.Start))
	if r.Running() {
		row("end", "- (running, or it died without a word)")
	} else {
		row("end", "%s (took %s)", toptime.Format(r.End), r.Duration().Round(time.Millisecond))
	}
	row("status", "%s", r.Status())
	for i, line := range strings.Split(r.Error, "\n") {
		if r.Error == "" {
			break
		}
		k := ""
		if i == 0 {
			k = "error"
		}
		row(k, "%s", line)
	}
	for _, j := range r.Jobs {
		what := fmt.Sprintf("%d rows: %s", j.Total, orDash(runlog.FormatRows(j.Status)))
		if j.Interrupted {
			what += " (interrupted)"
		}
		row("job "+j.Name, "%s", what)
		if j.Report != "" {
			row("", "report %s", j.Report)
		}
	}
	for _, a := range r.Alerts {
		row("alert", "%s: %s", a.Title(), a.Summary)
	}
	return tw.Flush()
}

// quoteArgs quotes the arguments that need it to read as one.
func quoteArgs(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " \t\"'") {
			a = fmt.Sprintf("%q", a)
		}
		out[i] = a
	}
	return out
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
