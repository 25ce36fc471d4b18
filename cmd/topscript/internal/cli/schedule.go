package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/topscript/topscript/config"
	"github.com/topscript/topscript/notify"
	"github.com/topscript/topscript/runlog"
	"github.com/topscript/topscript/schedule"
	"github.com/topscript/topscript/state"
)

const scheduleLong = `
Each [[schedule]] entry runs its script on its cron schedule: 5 fields
("*/10 * * * *"), 6 with a leading seconds field, or a descriptor such as
"@every 30s" or "@hourly", in the machine's time zone unless the spec
starts with CRON_TZ=Asia/Shanghai. Every run is a separate
"topscript run --config F SCRIPT -- ARGS..." process, logged when it
starts and when it ends, with its exit code. An entry with shops = "all"
runs for every authorised shop (run --all-shops), shops = ["A", "B"] for
those, shop = "A" for one: once per shop, as run does.

An entry never overlaps itself: a tick that comes while the entry's last run
is still going is skipped (and logged). With [state] backend = "redis" each
run also holds the lock "schedule:<name>", so a fleet of hosts running the
same configuration runs each entry on one host at a time.

SIGINT or SIGTERM stop the schedule: no new runs start, and running ones
may finish for --grace (each run is in its own process group, so a Ctrl-C
on the terminal reaches the scheduler only); after it they get SIGTERM
(and are interrupted as by Ctrl-C: checkpoints saved, exit 130), and are
killed 30 seconds later if still running.

Every run is recorded in the history (topscript runs), its entry named.
With [[notify]] targets in the configuration, the scheduler sends the
alerts of each run once it has exited (a failed job, a script error, a ban
longer than max_ban_wait, a session about to expire), through one
dispatcher for all runs: a DingTalk robot gets at most 20 messages a
minute, alerts that come faster go out together as one digest.

With --log-format json every line on stderr is a JSON record: the runs log
JSON too, and a line a run writes that is not one is wrapped as a record
({"msg": LINE, "entry": NAME, "stream": "stderr"}). A run that failed ends
with a "run finished" record carrying its exit_code and error.`

// scheduleOptions are the flags of `schedule`.
type scheduleOptions struct {
	configFlags
	logFlags   // the runs log the same way
	Grace      time.Duration
	EnvSecrets bool // passed on to the runs
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
	fs.BoolVar(&o.EnvSecrets, "env-secrets", false, "let the scripts' os.getenv read the TOP credentials (by default it answers nil for them)")
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
	if err := f.CheckScripts(); err != nil {
		return configError(err)
	}
	entries := make([]schedule.Entry, len(f.Schedules))
	shops := map[string][]string{}
	for i, s := range f.Schedules {
		entries[i] = schedule.Entry{Name: s.Name, Cron: s.Cron, Script: s.Script, Args: s.Args}
		shops[s.Name] = shopArgs(s)
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("schedule: cannot find the topscript executable: %w", err)
	}
	// The runs record themselves in the history; the scheduler reads each
	// record once its run has exited and sends its alerts, through one
	// dispatcher whose rate limits hold across runs.
	b, err := openState(f, f.Client.AppKey)
	if err != nil {
		return err
	}
	defer b.Close()
	r := &processRunner{
		exe: exe, argv0: os.Args[0], config: f.Path, profile: o.Profile, log: o.logFlags, envSecrets: o.EnvSecrets,
		stdout: st.Stdout, stderr: st.Stderr, logger: logger, shops: shops,
		runs: &runlog.Log{Store: b.Runs()}, alerts: newDispatcher(f, logger, nil),
	}
	defer r.flushAlerts()
	opts := []schedule.Option{schedule.WithGrace(o.Grace)}
	if f.State.Backend == state.KindRedis {
		// A fleet running one configuration runs each entry on one host at a time.
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
	envSecrets      bool     // --env-secrets, passed on
	stdout, stderr  io.Writer
	logger          *slog.Logger
	// shops are the run flags of each entry's shops (shopArgs), by name.
	shops map[string][]string
	// runs is the history the runs record themselves in; alerts sends
	// their alerts (nil: no [[notify]] target).
	runs   *runlog.Log
	alerts *notify.Dispatcher
}

// alertRun sends the alerts of entry e's run id once it has exited with
// code: those its records hold (each shop's) and those of their ends. A
// run that left no record (it failed before it started: a configuration
// error) gets a script_error alert from what the scheduler saw.
func (r *processRunner) alertRun(e schedule.Entry, id string, code int, lastErr string) {
	if r.alerts == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), recordTimeout)
	defer cancel()
	var recs []runlog.Record
	if keys, err := r.runs.Store.Keys(ctx, runlog.NS); err == nil {
		for _, k := range keys {
			if k == id || strings.HasPrefix(k, id+".") {
				if rec, err := r.runs.Get(ctx, k); err == nil {
					recs = append(recs, rec)
				}
			}
		}
	}
	if len(recs) == 0 {
		recs = []runlog.Record{{ID: id, Script: e.Script, Entry: e.Name, End: time.Now(), ExitCode: code, Error: lastErr}}
	}
	for _, rec := range recs {
		for _, a := range rec.Alerts {
			r.alerts.Notify(a)
		}
		for _, a := range endAlerts(rec) {
			r.alerts.Notify(a)
		}
	}
}

// flushAlerts waits at most alertFlush for the alerts queued to go.
func (r *processRunner) flushAlerts() {
	if r.alerts == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), alertFlush)
	defer cancel()
	if err := r.alerts.Flush(ctx); err != nil {
		r.logger.Warn("alerts: " + err.Error())
	}
}

// shopArgs are the run flags of an entry's shops: --all-shops for
// shops = "all", --shops A,B for a list (the run goes once per shop, as
// run does), none for an entry of the profile's own session or shop.
func shopArgs(s config.Schedule) []string {
	switch {
	case s.AllShops:
		return []string{"--all-shops"}
	case len(s.Shops) > 0:
		return []string{"--shops", strings.Join(s.Shops, ",")}
	}
	return nil
}

// args is the child's command line after the program name, for its run
// id.
func (r *processRunner) args(e schedule.Entry, id string) []string {
	args := []string{"run", "--log-format", r.log.LogFormat, "--schedule-entry", e.Name, "--run-id", id}
	if r.log.Verbose {
		args = append(args, "-v")
	}
	if r.envSecrets {
		args = append(args, "--env-secrets")
	}
	if r.config != "" {
		args = append(args, "--config", r.config)
	}
	if r.profile != "" {
		args = append(args, "--profile", r.profile)
	}
	args = append(args, r.shops[e.Name]...)
	args = append(args, e.Script, "--")
	return append(args, e.Args...)
}

// run starts the child and returns its exit code and, when it failed, its
// last error line. The child is in its own process group: a Ctrl-C on the
// terminal reaches the scheduler only, which lets the run finish for
// --grace. When ctx is cancelled (the grace period is over) the child's
// group gets SIGTERM (the run stops as on Ctrl-C: checkpoints saved, exit
// 130), and the child SIGKILL 30 s later.
func (r *processRunner) run(ctx context.Context, e schedule.Entry) (int, error) {
	id := runlog.NewID(time.Now())
	cmd := exec.CommandContext(ctx, r.exe)
	cmd.Args = append([]string{r.argv0}, r.args(e, id)...)
	stderr := &runStderr{w: r.stderr, entry: e.Name}
	if r.log.LogFormat == "json" {
		stderr.wrap = r.logger
	}
	cmd.Stdout, cmd.Stderr = r.stdout, stderr
	ownProcessGroup(cmd)
	cmd.Cancel = func() error { return interruptGroup(cmd.Process) }
	cmd.WaitDelay = 30 * time.Second
	err := cmd.Run()
	stderr.flush()
	code, err := r.exitOf(e, err, stderr)
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	r.alertRun(e, id, code, msg)
	return code, err
}

// exitOf is the exit code of a run that ended with err, and its last
// error line.
func (r *processRunner) exitOf(e schedule.Entry, err error, stderr *runStderr) (int, error) {
	if err == nil {
		return 0, nil
	}
	code := 1
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		if c := ee.ExitCode(); c >= 0 {
			code = c
		} else if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			code = 128 + int(ws.Signal())
		}
	default:
		r.logger.Error("run could not start", "entry", e.Name, "error", err.Error())
		return 1, err
	}
	if last := stderr.lastError(); last != "" {
		return code, errors.New(last)
	}
	return code, nil
}

// runStderr carries a run's standard error to the scheduler's, line by
// line: as it is, or, with wrap (--log-format json), each line that is not
// a JSON record already as a record of its own ({"msg": line, "entry":
// name, "stream": "stderr"}), so that the scheduler's stream stays JSON.
// It keeps the run's last error for the "run finished" record: the message
// of its last ERROR record, else its last line.
type runStderr struct {
	w     io.Writer
	wrap  *slog.Logger
	entry string

	mu      sync.Mutex
	partial []byte
	errMsg  string // the last ERROR record's message
	last    string // the last non-empty line
}

func (r *runStderr) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.partial = append(r.partial, p...)
	for {
		i := bytes.IndexByte(r.partial, '\n')
		if i < 0 {
			break
		}
		r.line(r.partial[:i])
		r.partial = r.partial[i+1:]
	}
	return len(p), nil
}

// flush writes an unfinished last line.
func (r *runStderr) flush() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.partial) > 0 {
		r.line(r.partial)
		r.partial = nil
	}
}

func (r *runStderr) line(l []byte) {
	l = bytes.TrimRight(l, "\r")
	if len(bytes.TrimSpace(l)) == 0 {
		return
	}
	r.last = string(l)
	var rec struct{ Level, Msg string }
	isRecord := len(l) > 0 && l[0] == '{' && json.Unmarshal(l, &rec) == nil
	if isRecord && rec.Level == "ERROR" {
		r.errMsg = rec.Msg
	}
	if r.wrap == nil || isRecord {
		r.w.Write(append(l, '\n'))
		return
	}
	r.wrap.Info(string(l), "entry", r.entry, "stream", "stderr")
}

// lastError is the run's last error message, "" if it wrote none.
func (r *runStderr) lastError() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.errMsg != "" {
		return r.errMsg
	}
	return r.last
}
