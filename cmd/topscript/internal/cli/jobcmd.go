package cli

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/topscript/topscript/luatop"
	"github.com/topscript/topscript/runlog"
	"github.com/topscript/topscript/state"
	"github.com/topscript/topscript/toptime"
)

// `topscript job list | show NAME | reset NAME [KEY]`: the jobs whose
// checkpoints the [state] backend holds, in the scope a run would use (the
// profile's session's shop, or --shop NAME's), read and forgotten through
// luatop's JobNames, ReadJob and ResetJob — the same code as job.reset.

const jobLong = `
A job's checkpoints (job.run's "job:<name>" namespace) say which rows are
done, for which call, and which have an unknown outcome. They live in the
[state] backend under the shop a run works for: the profile's session's,
or --shop NAME's, as run --shop NAME would see them.

  topscript job list
  topscript job show bulk_price:prices.csv
  topscript job reset bulk_price:prices.csv              # every row sent again next run
  topscript job reset bulk_price:prices.csv 600000153551:1627207:28320   # one row

Unknown rows (the outcome of their write is open) are never sent again by
themselves: check them on the platform, then reset them one by one, or run
the job once with resend_unknown = true.`

// jobFlags are the flags of the job commands.
type jobFlags struct {
	configFlags
	Shop string
	JSON bool
}

func (o *jobFlags) register(c *cobra.Command, json bool) {
	fs := c.Flags()
	o.configFlags.register(fs)
	fs.StringVar(&o.Shop, "shop", "", "the jobs of the authorised shop `NAME` (default: the profile's)")
	if json {
		fs.BoolVar(&o.JSON, "json", false, "print JSON")
	}
}

// open is the store of the jobs the flags name, and the session it
// lives in.
func (o *jobFlags) open(ctx context.Context, st *State, cmd string) (state.Store, *session, error) {
	if o.Shop != "" {
		sel := shopFlags{Shop: o.Shop, Parallel: 1}
		if err := sel.check(cmd); err != nil {
			return nil, nil, err
		}
	}
	logger := slog.New(slog.NewTextHandler(st.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	co := &clientOptions{configFlags: o.configFlags}
	s, err := co.connect(st, logger, true)
	if err != nil {
		return nil, nil, err
	}
	targets, err := s.targets(ctx, shopFlags{Shop: o.Shop, Parallel: 1})
	if err != nil {
		s.Close()
		return nil, nil, err
	}
	return targets[0].store, s, nil
}

// newJobCmd is `topscript job`.
func newJobCmd(st *State) *cobra.Command {
	c := &cobra.Command{
		Use:               "job",
		Annotations:       map[string]string{annSynopsis: "job list | show NAME | reset NAME [KEY]"},
		Short:             "List, show and reset the jobs' checkpoints",
		Long:              jobLong,
		ValidArgsFunction: cobra.NoFileCompletions,
		RunE:              subcommandError,
	}
	c.AddCommand(newJobListCmd(st), newJobShowCmd(st), newJobResetCmd(st))
	return c
}

func newJobListCmd(st *State) *cobra.Command {
	o := &jobFlags{}
	c := &cobra.Command{
		Use:               "list",
		Short:             "List the jobs with checkpoints: rows done, unknown, in flight, late answers",
		Args:              noArgs,
		ValidArgsFunction: cobra.NoFileCompletions,
		RunE: func(c *cobra.Command, args []string) error {
			return runJobList(c.Context(), st, o)
		},
	}
	o.register(c, true)
	return c
}

func runJobList(ctx context.Context, st *State, o *jobFlags) error {
	store, s, err := o.open(ctx, st, "job list")
	if err != nil {
		return err
	}
	defer s.Close()
	names, err := luatop.JobNames(ctx, store)
	if err != nil {
		return fmt.Errorf("job list: %w", err)
	}
	jobs := make([]luatop.JobState, 0, len(names))
	for _, n := range names {
		js, err := luatop.ReadJob(ctx, store, n, false)
		if err != nil {
			return fmt.Errorf("job list: %s: %w", n, err)
		}
		jobs = append(jobs, js)
	}
	if o.JSON {
		return writeJSON(st.Stdout, jobs)
	}
	if len(jobs) == 0 {
		fmt.Fprintln(st.Stderr, "no job has checkpoints"+o.where())
		return nil
	}
	tw := tabwriter.NewWriter(st.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "JOB\tCHECKPOINTED\tROWS")
	for _, js := range jobs {
		fmt.Fprintf(tw, "%s\t%d\t%s\n", js.Name, js.Checkpointed(), jobRows(js))
	}
	return tw.Flush()
}

// where names the shop in messages.
func (o *jobFlags) where() string {
	if o.Shop != "" {
		return " for shop " + o.Shop
	}
	return ""
}

// jobRows is a job's checkpoints by status, and its late answers.
func jobRows(js luatop.JobState) string {
	s := runlog.FormatRows(js.Rows)
	if js.Late > 0 {
		s = strings.TrimPrefix(s+fmt.Sprintf(", %d late answers kept", js.Late), ", ")
	}
	return orDash(s)
}

// knownJob refuses a name the store holds no job of: exit 2, naming the
// jobs it holds.
func (o *jobFlags) knownJob(ctx context.Context, store state.Store, cmd, name string) error {
	names, err := luatop.JobNames(ctx, store)
	if err != nil {
		return fmt.Errorf("%s: %w", cmd, err)
	}
	for _, n := range names {
		if n == name {
			return nil
		}
	}
	known := "none has"
	if len(names) > 0 {
		known = "known: " + strings.Join(names, ", ")
	}
	return &exitError{code: ExitUsage, msg: fmt.Sprintf("topscript %s: no job %q has checkpoints%s (%s)", cmd, name, o.where(), known)}
}

type jobShowOptions struct {
	jobFlags
	Name string
}

func newJobShowCmd(st *State) *cobra.Command {
	o := &jobShowOptions{}
	c := &cobra.Command{
		Use:               "show NAME",
		Short:             "Show a job: its checkpoints by status, the rows of unknown outcome, its last run",
		Args:              argsFrom(1, 1, "NAME (topscript job list lists them)"),
		ValidArgsFunction: cobra.NoFileCompletions,
		RunE: func(c *cobra.Command, args []string) error {
			o.Name = args[0]
			return runJobShow(c.Context(), st, o)
		},
	}
	o.register(c, true)
	return c
}

// jobShown is `job show --json`.
type jobShown struct {
	luatop.JobState
	LastRun *runlog.Record `json:"last_run,omitempty"`
}

func runJobShow(ctx context.Context, st *State, o *jobShowOptions) error {
	store, s, err := o.open(ctx, st, "job show")
	if err != nil {
		return err
	}
	defer s.Close()
	if err := o.knownJob(ctx, store, "job show", o.Name); err != nil {
		return err
	}
	js, err := luatop.ReadJob(ctx, store, o.Name, true)
	if err != nil {
		return fmt.Errorf("job show: %w", err)
	}
	shown := jobShown{JobState: js, LastRun: lastRunOf(ctx, s.state, o.Name, o.Shop)}
	if o.JSON {
		return writeJSON(st.Stdout, shown)
	}
	tw := tabwriter.NewWriter(st.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "job\t%s\n", js.Name)
	fmt.Fprintf(tw, "checkpointed\t%d rows: %s\n", js.Checkpointed(), jobRows(js))
	for i, k := range js.Keys {
		label := ""
		if i == 0 {
			label = "attention"
		}
		fmt.Fprintf(tw, "%s\t%s (unknown outcome: check it, then topscript job reset %s KEY)\n", label, k, js.Name)
	}
	if r := shown.LastRun; r != nil {
		fmt.Fprintf(tw, "last run\t%s at %s: %s\n", r.ID, toptime.Format(r.Start), r.Status())
		for _, j := range r.Jobs {
			if j.Name == o.Name {
				fmt.Fprintf(tw, "\t%d rows: %s\n", j.Total, orDash(runlog.FormatRows(j.Status)))
				if j.Report != "" {
					fmt.Fprintf(tw, "\treport %s\n", j.Report)
				}
			}
		}
	}
	return tw.Flush()
}

// lastRunOf is the newest recorded run of job name for shop ("" the
// profile's session), nil when the history has none.
func lastRunOf(ctx context.Context, b *state.Backend, name, shop string) *runlog.Record {
	recs, err := (&runlog.Log{Store: b.Runs()}).List(ctx, 0)
	if err != nil {
		return nil
	}
	for i := len(recs) - 1; i >= 0; i-- {
		if recs[i].Shop != shop {
			continue
		}
		for _, j := range recs[i].Jobs {
			if j.Name == name {
				return &recs[i]
			}
		}
	}
	return nil
}

type jobResetOptions struct {
	jobFlags
	Name, Key string
}

func newJobResetCmd(st *State) *cobra.Command {
	o := &jobResetOptions{}
	c := &cobra.Command{
		Use:               "reset NAME [KEY]",
		Short:             "Forget a job's checkpoints (KEY: one row's): those rows are sent again by the next run",
		Args:              argsFrom(1, 2, "NAME (topscript job list lists them)"),
		ValidArgsFunction: cobra.NoFileCompletions,
		RunE: func(c *cobra.Command, args []string) error {
			o.Name = args[0]
			if len(args) == 2 {
				o.Key = args[1]
				if o.Key == "" {
					return usageErrorf("job reset", "empty KEY (leave it out to reset every row)")
				}
			}
			return runJobReset(c.Context(), st, o)
		},
	}
	o.register(c, false)
	return c
}

func runJobReset(ctx context.Context, st *State, o *jobResetOptions) error {
	store, s, err := o.open(ctx, st, "job reset")
	if err != nil {
		return err
	}
	defer s.Close()
	if err := o.knownJob(ctx, store, "job reset", o.Name); err != nil {
		return err
	}
	n, err := luatop.ResetJob(ctx, store, o.Name, o.Key)
	if err != nil {
		return fmt.Errorf("job reset: %w", err)
	}
	if o.Key != "" && n == 0 {
		return &exitError{code: ExitUsage, msg: fmt.Sprintf("topscript job reset: job %q has no checkpoint for key %q%s (topscript job show %s lists the rows of unknown outcome)",
			o.Name, o.Key, o.where(), o.Name)}
	}
	what := plural(n, "checkpoint")
	fmt.Fprintf(st.Stdout, "job %s: %s forgotten\n", o.Name, what)
	return nil
}
