package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/topscript/topscript/schedule"
	"github.com/topscript/topscript/state"
)

const scheduleLong = `
Each [[schedule]] entry runs its script on its cron schedule: 5 fields
("*/10 * * * *"), 6 with a leading seconds field, or a descriptor such as
"@every 30s" or "@hourly", in the machine's time zone unless the spec
starts with CRON_TZ=Asia/Shanghai. Every run is a separate
"topscript run --config F SCRIPT -- ARGS..." process, logged when it
starts and when it ends, with its exit code.

An entry never overlaps itself: a tick that comes while the entry's last run
is still going is skipped (and logged). With [state] backend = "redis" each
run also holds the lock "schedule:<name>", so a fleet of hosts running the
same configuration runs each entry on one host at a time.

SIGINT or SIGTERM stop the schedule: no new runs start, and running ones
may finish for --grace; after it they get SIGTERM (and are interrupted as
by Ctrl-C: checkpoints saved, exit 130).`

// scheduleOptions are the flags of `schedule`.
type scheduleOptions struct {
	configFlags
	logFlags // the runs log the same way
	Grace    time.Duration
}

// newScheduleCmd is `topscript schedule`. runF, when not nil, runs
// instead of the command.
func newScheduleCmd(st *State, runF func(context.Context, *scheduleOptions) error) *cobra.Command {
	o := &scheduleOptions{}
	c := &cobra.Command{
		Use:               "schedule [--config F]",
		Short:             "Run the [[schedule]] entries of the configuration",
		Long:              scheduleLong,
		Args:              noArgs,
		ValidArgsFunction: cobra.NoFileCompletions,
		RunE: func(c *cobra.Command, args []string) error {
			if runF != nil {
				return runF(c.Context(), o)
			}
			return runSchedule(c.Context(), st, o)
		},
	}
	fs := c.Flags()
	o.configFlags.register(fs)
	o.logFlags.register(fs)
	fs.DurationVar(&o.Grace, "grace", 2*time.Minute, "on SIGINT/SIGTERM, how long running runs may finish before they are interrupted")
	completeLogFormat(c)
	return c
}

func runSchedule(ctx context.Context, st *State, o *scheduleOptions) error {
	if o.Grace < 0 {
		return usageErrorf("schedule", "--grace must not be negative")
	}
	logger, err := o.logger(st, "schedule")
	if err != nil {
		return err
	}
	f, err := o.load(st, false)
	if err != nil {
		return err
	}
	if len(f.Schedules) == 0 {
		where := "no configuration file was found"
		if f.Path != "" {
			where = f.Path + " has no [[schedule]] entries"
		}
		return &exitError{code: ExitUsage, msg: "topscript schedule: nothing to run: " + where}
	}
	entries := make([]schedule.Entry, len(f.Schedules))
	for i, s := range f.Schedules {
		entries[i] = schedule.Entry{Name: s.Name, Cron: s.Cron, Script: s.Script, Args: s.Args}
		if fi, err := os.Stat(s.Script); err != nil || fi.IsDir() {
			return &exitError{code: ExitUsage, msg: fmt.Sprintf("%s:%d: schedule %q: script %s: not a file", f.Path, s.Line, s.Name, s.Script)}
		}
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("schedule: cannot find the topscript executable: %w", err)
	}
	r := &processRunner{
		exe: exe, argv0: os.Args[0], config: f.Path, profile: o.Profile, log: o.logFlags,
		stdout: st.Stdout, stderr: st.Stderr, logger: logger,
	}
	opts := []schedule.Option{schedule.WithGrace(o.Grace)}
	if f.State.Backend == state.KindRedis {
		// A fleet running one configuration runs each entry on one host at a time.
		b, err := openState(f, f.Client.AppKey)
		if err != nil {
			return err
		}
		defer b.Close()
		if w := b.PersistenceWarning(ctx); w != "" {
			logger.Warn(w)
		}
		opts = append(opts, schedule.WithLocker(b.Locker(), b.Lease()))
	}
	sched, err := schedule.New(entries, r.run, logger, opts...)
	if err != nil {
		return configError(fmt.Errorf("%s: %w", f.Path, err))
	}
	ctx, stop := st.Interruptible(ctx)
	defer stop()
	logger.Info("schedule started", "config", f.Path, "entries", len(entries))
	if err := sched.Run(ctx); err != nil {
		return err
	}
	logger.Info("schedule stopped")
	return nil
}

// processRunner runs a schedule entry as a `topscript run` child process:
// a crash, a leak or os.exit in one run cannot touch the scheduler or
// other runs, and the exit code is the run's own.
type processRunner struct {
	exe, argv0      string
	config, profile string
	log             logFlags // passed on to the runs
	stdout, stderr  io.Writer
	logger          *slog.Logger
}

// args is the child's command line after the program name.
func (r *processRunner) args(e schedule.Entry) []string {
	args := []string{"run", "--log-format", r.log.LogFormat}
	if r.log.Verbose {
		args = append(args, "-v")
	}
	if r.config != "" {
		args = append(args, "--config", r.config)
	}
	if r.profile != "" {
		args = append(args, "--profile", r.profile)
	}
	args = append(args, e.Script, "--")
	return append(args, e.Args...)
}

// run starts the child and returns its exit code. When ctx is cancelled
// (the grace period is over) the child gets SIGTERM, and SIGKILL 30 s later.
func (r *processRunner) run(ctx context.Context, e schedule.Entry) int {
	cmd := exec.CommandContext(ctx, r.exe)
	cmd.Args = append([]string{r.argv0}, r.args(e)...)
	cmd.Stdout, cmd.Stderr = r.stdout, r.stderr
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 30 * time.Second
	err := cmd.Run()
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if code := ee.ExitCode(); code >= 0 {
			return code
		}
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return 1
	}
	r.logger.Error("run could not start", "entry", e.Name, "error", err.Error())
	return 1
}
