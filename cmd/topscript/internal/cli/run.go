package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/topscript/topscript/config"
	"github.com/topscript/topscript/engine"
	"github.com/topscript/topscript/internal/bytesize"
	"github.com/topscript/topscript/luatop"
	"github.com/topscript/topscript/runlog"
	"github.com/topscript/topscript/tmc"
	"github.com/topscript/topscript/top"
)

var runLong = fmt.Sprintf(`
The script sees its arguments as arg[1], arg[2], ... (arg[0] is SCRIPT).
topscript's own flags below may come before or after SCRIPT; the other
arguments go to the script, in order. A script argument that starts with
"-" goes after "--" (everything after it goes to the script as it is): an
unknown flag is refused, so a mistyped --dry-run never runs for real.

  topscript run --sandbox sync.lua orders.csv
  topscript run sync.lua orders.csv --sandbox --dry-run
  topscript run sync.lua orders.csv -- -v --since 1h   # the script gets "-v", "--since", "1h"
  topscript run --sandbox --churn 20 scripts/examples/order_sync_tmc.lua

State (the state module, job checkpoints) and --lock locks live in the
[state] backend of the configuration: .topscript/state.db by default.
--lock takes a lock named after the script's file name without its
extension (bulk_price.lua → "bulk_price").

With [state] backend = "redis", a fleet of hosts working for one app key
shares one quota: the [throttle] rates (and top.throttle, which every host
must set alike) pace all of them together, and a code-7 ban one of them
runs into holds back all of them. --lock is a Redis lease ([state]
lock_lease, default 30s) renewed while the run lives, freed after the lease
when its holder dies. job.run claims each row before sending it, so hosts
running the same job over the same rows split them, each row sent once.
Redis unreachable at start: exit 2, naming the URL.

Security model. Scripts are trusted code: they run with your rights, and
io.open reads and writes any file you can (os.execute and io.popen are
disabled). The app secret, the session and the configuration's other
secrets are replaced by [REDACTED], by value, in everything the run prints
or logs (text and JSON), in error messages, csv.writer and xlsx.writer
files and job reports; files written with io.open are the script's own
data, written as they are. os.getenv answers nil for TOPSCRIPT_APP_SECRET,
TOPSCRIPT_SESSION and any variable holding a secret's value, unless
--env-secrets.

Limits. --memory-limit (default: memory_limit of the configuration, else
%s) bounds what the script holds: a string or a table that would pass it
is refused before it is built or grown, and a script that grows past it
otherwise is stopped; either way "file:line: out of memory: ..." and exit
1. No one string may be over %s. --timeout stops the script at its next
step, even inside a pattern match or a read of standard input; so does the
first SIGINT or SIGTERM (a second one exits at once). A script that still has not stopped
--grace later (default %s: a job's calls in flight get %s to finish) is
left behind: topscript exits with 1 after --timeout, 130 after a signal.

Shops (topscript auth login --shop NAME authorises one): --shop NAME runs
for that shop, with its session from the [state] backend, refreshed before
it expires; --shops A,B and --all-shops run the script once per shop, each
in an engine of its own (top.shop = {name, nick, user_id}, its own state,
checkpoints and --lock), --parallel at a time, all under the app's one
throttle. Each shop's output lines are prefixed "[NAME] ", its job reports
get its name inserted (prices.report.csv → prices.report.NAME.csv), and
the run ends with one summary; its exit status is the worst of the shops'
(interrupted, then usage, script error, lock held, failed rows). A session
the gateway refuses (codes 26, 27, 53) ends with "shop NAME must authorise
again: topscript auth login --shop NAME".

History and alerts. Every run is recorded in the [state] backend when it
starts and ends (topscript runs, runs show ID). Each run keeps its job
reports: a report is written under its name with the run's ID before the
extension (prices.report.20240601-020000.123-3fa1.csv; a shop's
prices.report.NAME.<ID>.csv), which the run's record names, then copied
to the name as given, which so always holds the latest run's. With [[notify]] targets in
the configuration a run sends alerts: a job with failed rows, a script
error, a code-7 ban longer than max_ban_wait (once per ban scope), a
shop's session about to expire (once per shop per day); rate-limited,
secrets hidden, and never blocking the run: at its end it waits at most 5s
for them to go.

Exit status: 0 ok, 1 script error (an uncaught Lua or TOP error, printed as
file:line: message) or --timeout, 2 usage or configuration error, 3 a job
finished with failed rows (or rows of unknown outcome), or stopped because
its checkpoints could not be saved, 4 --lock is held by another run, 130
interrupted (SIGINT, SIGTERM), or n after os.exit(n) for an integer n from
0 to 255 (any other number but 0 exits 1).`,
	bytesize.Format(engine.DefaultMemoryLimit), bytesize.Format(engine.MaxStringBytes), DefaultGrace, luatop.JobGrace)

// runOptions are the flags and arguments of `run`.
type runOptions struct {
	clientOptions
	logFlags
	limitFlags
	shopFlags
	DryRun     bool
	Lock       bool
	EnvSecrets bool // --env-secrets: os.getenv reads the TOP credentials
	Timeout    time.Duration
	// Entry and RunID are set by the scheduler (hidden flags): the
	// [[schedule]] entry the run is for, and the ID its record gets (its
	// shops' records: the ID, a dot and the shop's name).
	Entry, RunID string
	Script       string
	Args         []string
}

// newRunCmd is `topscript run`. runF, when not nil, runs instead of the
// command (tests read the options it gets).
func newRunCmd(st *State, runF func(context.Context, *runOptions) error) *cobra.Command {
	o := &runOptions{}
	c := &cobra.Command{
		Use:         "run SCRIPT [ARGS...]",
		Short:       "Run a Lua script",
		Long:        runLong,
		Annotations: map[string]string{annScriptArgs: "true"},
		ValidArgsFunction: func(_ *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
			if len(args) == 0 {
				return []string{"lua"}, cobra.ShellCompDirectiveFilterFileExt
			}
			return nil, cobra.ShellCompDirectiveDefault
		},
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageErrorf("run", "missing SCRIPT")
			}
			o.Script, o.Args = args[0], args[1:]
			if runF != nil {
				return runF(c.Context(), o)
			}
			return runRun(c.Context(), st, o)
		},
	}
	fs := c.Flags()
	o.clientOptions.register(fs)
	fs.BoolVar(&o.DryRun, "dry-run", false, "log writes instead of sending them (each checked as it would be sent); reads are sent")
	fs.BoolVar(&o.Lock, "lock", false, "hold a lock named after the script while it runs; exit 4 at once if another run holds it")
	fs.DurationVar(&o.Timeout, "timeout", 0, "stop the script after `duration` (e.g. 10m), exit 1")
	fs.Float64Var(&o.Churn, "churn", 0, "with --sandbox: `N` trade events a second, whose TMC messages tmc.listen receives")
	fs.BoolVar(&o.EnvSecrets, "env-secrets", false, "let os.getenv read the TOP credentials (by default it answers nil for them)")
	o.limitFlags.register(fs)
	o.shopFlags.register(fs)
	fs.StringVar(&o.Faults, "faults", "", "with --sandbox: injected failure probabilities (`SPEC`), e.g. isp=0.05,isp_applied=0.1,http502_applied=0.02")
	o.logFlags.register(fs)
	fs.StringVar(&o.Entry, "schedule-entry", "", "the [[schedule]] entry this run is for (set by topscript schedule)")
	fs.StringVar(&o.RunID, "run-id", "", "the run's ID in the history (set by topscript schedule)")
	_ = fs.MarkHidden("schedule-entry")
	_ = fs.MarkHidden("run-id")
	completeLogFormat(c)
	return c
}

func runRun(ctx context.Context, st *State, o *runOptions) error {
	logger, err := o.logger(st, "run")
	if err != nil {
		return err
	}
	if err := scriptFile(o.Script); err != nil {
		return usageErrorf("run", "%v", err)
	}
	if o.Timeout < 0 {
		return usageErrorf("run", "--timeout must not be negative")
	}
	if o.Grace <= 0 {
		return usageErrorf("run", "--grace must be positive")
	}
	switch {
	case o.Churn < 0 || o.Churn > 100_000:
		return usageErrorf("run", "--churn must be between 0 and 100000 trade events a second")
	case o.Churn > 0 && !o.Sandbox:
		return usageErrorf("run", "--churn needs --sandbox (a real shop's trades change by themselves)")
	case o.Faults != "" && !o.Sandbox:
		return usageErrorf("run", "--faults needs --sandbox (it shapes the in-process gateway)")
	}

	if err := o.shopFlags.check("run"); err != nil {
		return err
	}

	var alerts *alerter
	o.onLongBan = func(b top.LongBan) { alerts.ban(b) } // set before the first call
	s, err := o.connect(st, logger, true)
	if err != nil {
		return err
	}
	defer s.Close()
	alerts = newAlerter(s.cfg, s.state, s.log, s.secrets, o.Script, o.Entry)
	s.alerts = alerts
	defer alerts.flush()
	memLimit, err := o.memoryLimit("run", s.cfg)
	if err != nil {
		return err
	}
	applyMemoryLimit(st, memLimit)
	ctx, stop := st.Interruptible(ctx)
	defer stop()
	if o.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, o.Timeout, &timeoutError{o.Timeout})
		defer cancel()
	}
	targets, err := s.targets(ctx, o.shopFlags)
	if err != nil {
		return err
	}
	for _, t := range targets {
		if w := t.expiryWarning(); w != "" {
			alerts.expiring(ctx, t.name, w)
		}
	}
	endDeadline := hardDeadline(st, ctx, o.Grace, o.Script)
	defer endDeadline()
	if o.RunID == "" {
		o.RunID = runlog.NewID(time.Now())
	}
	if len(targets) == 1 && !o.many() {
		return runTarget(ctx, st, o, s, targets[0], runIO{stdout: st.Stdout, stderr: st.Stderr, log: s.log, memLimit: memLimit})
	}
	return runShops(ctx, st, o, s, targets, memLimit)
}

// runID is the ID of t's record: the run's, and for a shop of a run over
// several shops a dot and the shop's name.
func (o *runOptions) runID(t *target) string {
	if t.name != "" && o.many() {
		return o.RunID + "." + t.name
	}
	return o.RunID
}

// runIO is where one target's run writes, and its limits.
type runIO struct {
	stdout, stderr io.Writer
	log            *slog.Logger
	// progress is where job.run draws its bar (nil: stderr when a
	// terminal).
	progress io.Writer
	// report maps job.run's report paths (nil: as written).
	report   func(string) string
	memLimit int64
}

// runTarget runs the script for one target (a shop, or the profile's
// session): its lock, its engine, its exit status — ending with what to do
// when the gateway refused the target's session.
func runTarget(ctx context.Context, st *State, o *runOptions, s *session, t *target, rio runIO) (err error) {
	rec := startRecord(ctx, s.state, rio.log, o.runID(t), o, t.name, append(append([]string(nil), s.secrets...), t.secrets()...))
	var jobs jobTracker
	defer func() { rec.finish(ctx, err, jobs.list(), s.alerts) }()
	err = runEngine(ctx, st, o, s, t, rio, &jobs)
	if hint := t.reauthorise(s.cfg.Profile); hint != "" {
		var ee *exitError
		switch {
		case err == nil:
			rio.log.Warn(hint)
		case errors.As(err, &ee) && ee.msg != "":
			ee.msg += "\n" + hint
		case errors.As(err, &ee):
			ee.msg = hint
		default:
			err = &exitError{code: ExitScript, msg: "topscript: " + err.Error() + "\n" + hint, err: err}
		}
	}
	return err
}

// runEngine runs the script in an engine of its own for t.
func runEngine(ctx context.Context, st *State, o *runOptions, s *session, t *target, rio runIO, jobs *jobTracker) error {
	if o.Lock {
		name, err := t.lockName(ctx, o.Script)
		if err != nil {
			return &exitError{code: ExitScript, msg: fmt.Sprintf("topscript: --lock: %v", err), err: err}
		}
		lock, err := acquireRunLock(ctx, s.state, name, o.Script)
		if err != nil {
			return err
		}
		defer releaseLock(lock)
	}
	progress := rio.progress // job progress bar on stderr when it is a terminal
	if o.LogFormat == "json" {
		progress = io.Discard // one JSON object per line: no bar
	}
	eng, err := engine.New(engine.Options{
		Client:        t.client,
		Stdin:         st.Stdin,
		Stdout:        rio.stdout,
		Stderr:        rio.stderr,
		Logger:        rio.log,
		DryRun:        o.DryRun,
		Secrets:       append(append([]string(nil), s.secrets...), t.secrets()...),
		HideSecretEnv: !o.EnvSecrets,
		SecretEnv:     config.SecretEnv,
		LookupEnv:     st.LookupEnv,
		Store:         t.store,
		OnJob:         jobs.add,
		Progress:      progress,
		TMC:           tmc.Config{URL: s.tmcURL},
		MemoryLimit:   rio.memLimit,
		Shop:          t.luaShop(),
		ReportPath:    rio.report,
		RunID:         o.RunID,
	})
	if err != nil {
		return err
	}
	defer eng.Close()

	err = eng.RunFile(ctx, o.Script, o.Args)
	if res := scriptResult(ctx, o.Script, err); res != nil {
		if t.client == nil && errors.Is(err, luatop.ErrNoClient) {
			// The script called TOP without credentials: say where they come from.
			return &exitError{code: ExitScript, msg: res.Error() + "\n" + noCredentials(s.cfg), err: err}
		}
		var ee *exitError
		if errors.As(res, &ee) && ee.code == ExitScript && jobs.storeFailed() {
			// A job stopped because its checkpoints could not be saved: its
			// report names the rows of unknown outcome (exit 3, not 1).
			ee.code = ExitJobFailed
		}
		return res
	}
	return jobs.failed()
}

// scriptFile refuses a script path the engine would not run: missing, a
// directory, a device (/dev/zero), a FIFO, too big. The error names the
// path: "x.lua: no such file or directory".
func scriptFile(path string) error {
	err := engine.CheckScriptFile(path)
	var se *engine.ScriptError
	if errors.As(err, &se) {
		reason := strings.TrimPrefix(strings.TrimPrefix(se.Msg, "cannot open script: "), "cannot run script: ")
		return fmt.Errorf("%s: %s", path, reason)
	}
	return err
}

// timeoutError is the cause of a run's context when --timeout expires.
type timeoutError struct{ d time.Duration }

func (e *timeoutError) Error() string { return "timed out after " + e.d.String() }

// scriptResult maps the end of a script run to its exit status: an
// interrupt wins (130), then the timeout (1), os.exit(n) (n), and script
// errors (1, printed as file:line: message).
func scriptResult(ctx context.Context, script string, err error) error {
	cause := context.Cause(ctx)
	var te *timeoutError
	switch {
	case errors.Is(cause, ErrInterrupted):
		return &exitError{code: ExitInterrupted, msg: "topscript: interrupted", err: cause}
	case err != nil && errors.As(cause, &te):
		where := script
		var se *engine.ScriptError
		if errors.As(err, &se) && se.File != "" && se.Line > 0 {
			where = fmt.Sprintf("%s:%d", se.File, se.Line)
		}
		return &exitError{code: ExitScript, msg: fmt.Sprintf("%s: %v", where, te), err: err}
	case err == nil:
		return nil
	}
	var ee *engine.ExitError
	if errors.As(err, &ee) {
		return &exitError{code: ee.Code, err: ee}
	}
	var se *engine.ScriptError
	if errors.As(err, &se) {
		return &exitError{code: ExitScript, msg: se.Error(), err: se}
	}
	var tpe *top.Error
	if errors.As(err, &tpe) {
		return &exitError{code: ExitScript, msg: script + ": " + tpe.Error(), err: err}
	}
	return &exitError{code: ExitScript, msg: fmt.Sprintf("topscript: %s: %v", script, err), err: err}
}

// jobTracker collects the summaries of a run's jobs.
type jobTracker struct {
	mu   sync.Mutex
	jobs []luatop.JobSummary
}

func (t *jobTracker) add(s luatop.JobSummary) {
	t.mu.Lock()
	t.jobs = append(t.jobs, s)
	t.mu.Unlock()
}

// list returns the summaries so far.
func (t *jobTracker) list() []luatop.JobSummary {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]luatop.JobSummary(nil), t.jobs...)
}

// storeFailed reports whether a job stopped because its checkpoints could
// not be saved.
func (t *jobTracker) storeFailed() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, s := range t.jobs {
		if s.StoreError != "" {
			return true
		}
	}
	return false
}

// failed returns exit status 3 with a message when a finished job left
// failed or unknown rows, else nil.
func (t *jobTracker) failed() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	var lines []string
	for _, s := range t.jobs {
		if !s.NeedsAttention() || s.Interrupted {
			continue
		}
		var parts []string
		if s.Failed > 0 {
			parts = append(parts, fmt.Sprintf("%d failed", s.Failed))
		}
		if s.Unknown > 0 {
			parts = append(parts, fmt.Sprintf("%d with an unknown outcome (not re-sent: verify them)", s.Unknown))
		}
		if s.Late > 0 {
			parts = append(parts, fmt.Sprintf("%d answered after another run took them over (this run was paused past its claims' lease)", s.Late))
		}
		line := fmt.Sprintf("topscript: job %s: %s of %d rows", s.Name, strings.Join(parts, ", "), s.Total)
		if s.Report != "" {
			line += "; see " + s.Report
		}
		lines = append(lines, line)
	}
	if len(lines) == 0 {
		return nil
	}
	return &exitError{code: ExitJobFailed, msg: strings.Join(lines, "\n")}
}
