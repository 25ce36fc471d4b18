package cli

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/topscript/topscript/config"
	"github.com/topscript/topscript/notify"
	"github.com/topscript/topscript/runlog"
	"github.com/topscript/topscript/state"
	"github.com/topscript/topscript/top"
)

// Alerts ([[notify]] in topscript.toml, package notify) about runs:
//
//   - job_failed: a job finished with failed rows (or rows of unknown
//     outcome, or answered late): exit 3;
//   - script_error: a run ended with any other failure but an interrupt and
//     a held --lock (a script error, --timeout, os.exit(n) with n > 0, a
//     configuration error of a scheduled run);
//   - ban: the gateway answered a code-7 ban longer than max_ban_wait
//     (top.WithLongBan), once per ban scope a run;
//   - session_expiring: a shop's session ends for good within
//     shop.WarnAhead (the start-of-run warning), once per shop per day
//     (GMT+8) across every run sharing the history (runlog.Log.Once).
//
// A run by hand sends its alerts itself: bans and sessions as they come,
// the end of the run at its end, then waits at most alertFlush for them to
// go. A scheduled run leaves its alerts in its record; the scheduler
// (one long-lived dispatcher, so its rate limits hold across runs) reads
// the record once the run has exited and sends them. Alerts never block
// or fail a run: a target that cannot be reached is logged.

// alertFlush bounds the wait for a run's alerts to go at its end.
const alertFlush = 5 * time.Second

// newDispatcher starts the dispatcher of f's [[notify]] targets (nil when
// there are none).
func newDispatcher(f *config.File, logger *slog.Logger, secrets []string) *notify.Dispatcher {
	if len(f.Notify) == 0 {
		return nil
	}
	targets := make([]notify.Target, len(f.Notify))
	for i := range f.Notify {
		targets[i] = f.Notify[i].Target(i+1, nil, nil)
	}
	return notify.New(targets, notify.Options{Logger: logger, Secrets: append(f.Secrets(), secrets...)})
}

// alerter raises one run's alerts.
type alerter struct {
	d      *notify.Dispatcher // nil: no target, or the scheduler sends them
	hold   bool               // a scheduled run: alerts go into its record
	runs   *runlog.Log
	log    *slog.Logger
	script string

	mu    sync.Mutex
	held  []notify.Event
	bans  map[string]bool
	close sync.Once
}

// newAlerter is the alerter of a run of script: scheduled (entry != ""),
// it holds its alerts for the scheduler.
func newAlerter(f *config.File, b *state.Backend, logger *slog.Logger, secrets []string, script, entry string) *alerter {
	a := &alerter{runs: &runlog.Log{Store: b.Runs()}, log: logger, script: filepath.Base(script), hold: entry != "", bans: map[string]bool{}}
	if len(f.Notify) > 0 && !a.hold {
		a.d = newDispatcher(f, logger, secrets)
	}
	return a
}

// active reports whether the run's alerts go anywhere.
func (a *alerter) active() bool { return a != nil && (a.d != nil || a.hold) }

// raise sends e, or holds it for the record.
func (a *alerter) raise(e notify.Event) {
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	if a.hold {
		a.mu.Lock()
		a.held = append(a.held, e)
		a.mu.Unlock()
		return
	}
	if a.d != nil {
		a.d.Notify(e)
	}
}

// take returns the alerts held so far and forgets them: the record that
// ends next carries them.
func (a *alerter) take() []notify.Event {
	if a == nil {
		return nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	out := a.held
	a.held = nil
	return out
}

// ban is top.WithLongBan's hook: an alert per ban scope a run.
func (a *alerter) ban(b top.LongBan) {
	if !a.active() {
		return
	}
	a.mu.Lock()
	seen := a.bans[b.Scope]
	a.bans[b.Scope] = true
	a.mu.Unlock()
	if seen {
		return
	}
	a.raise(notify.Event{
		Kind: notify.LongBan, Subject: a.script,
		Summary: fmt.Sprintf("code-7 ban for %s: calls of %s held back", b.Wait.Round(time.Second), b.Scope),
		Fields:  []notify.Field{{Name: "method", Value: b.Method}, {Name: "scope", Value: b.Scope}, {Name: "sub_code", Value: b.Err.SubCode}},
	})
}

// expiring raises the start-of-run warning that shop's session ends soon,
// once per shop per day across the runs sharing the history.
func (a *alerter) expiring(ctx context.Context, shopName, warning string) {
	if !a.active() {
		return
	}
	first, err := a.runs.Once(ctx, string(notify.SessionExpiring)+":"+shopName, time.Now())
	if err != nil {
		a.log.Warn("alerts: cannot tell whether the session alert was sent today; sending it", "shop", shopName, "error", err.Error())
	} else if !first {
		return
	}
	a.raise(notify.Event{Kind: notify.SessionExpiring, Subject: "shop " + shopName, Summary: warning,
		Fields: []notify.Field{{Name: "shop", Value: shopName}}})
}

// ended raises the alerts of a run's end (a run by hand; a scheduled
// run's go into its record for the scheduler).
func (a *alerter) ended(rec runlog.Record) {
	if a == nil || a.hold || a.d == nil {
		return
	}
	for _, e := range endAlerts(rec) {
		a.d.Notify(e)
	}
}

// flush waits at most alertFlush for the run's alerts to go.
func (a *alerter) flush() {
	if a == nil || a.d == nil {
		return
	}
	a.close.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), alertFlush)
		defer cancel()
		if err := a.d.Flush(ctx); err != nil {
			a.log.Warn("alerts: "+err.Error(), "run", a.script)
		}
	})
}

// endAlerts are the alerts a run's end raises: job_failed for exit 3,
// script_error for any other failure but an interrupt and a held lock.
func endAlerts(rec runlog.Record) []notify.Event {
	subject := filepath.Base(rec.Script)
	fields := func() []notify.Field {
		var fs []notify.Field
		if rec.Shop != "" {
			fs = append(fs, notify.Field{Name: "shop", Value: rec.Shop})
		}
		if rec.Entry != "" {
			fs = append(fs, notify.Field{Name: "schedule", Value: rec.Entry})
		}
		fs = append(fs, notify.Field{Name: "run", Value: rec.ID}, notify.Field{Name: "exit code", Value: strconv.Itoa(rec.ExitCode)})
		if rec.Host != "" {
			fs = append(fs, notify.Field{Name: "host", Value: rec.Host})
		}
		return fs
	}
	switch rec.ExitCode {
	case ExitOK, ExitInterrupted, ExitLockHeld:
		return nil
	case ExitJobFailed:
		var out []notify.Event
		for _, j := range rec.Jobs {
			bad := j.Status["failed"] + j.Status["unknown"] + j.Status["late"]
			if bad == 0 {
				continue
			}
			fs := append(fields(), notify.Field{Name: "job", Value: j.Name}, notify.Field{Name: "rows", Value: runlog.FormatRows(j.Status)})
			if j.Report != "" {
				fs = append(fs, notify.Field{Name: "report", Value: j.Report})
			}
			out = append(out, notify.Event{Kind: notify.JobFailed, Subject: subject,
				Summary: fmt.Sprintf("job %s: %d of %d rows need attention", j.Name, bad, j.Total), Fields: fs, Time: rec.End})
		}
		if len(out) > 0 {
			return out
		}
	}
	summary := firstLine(rec.Error)
	if summary == "" {
		summary = fmt.Sprintf("exited with %d", rec.ExitCode)
	}
	fs := fields()
	if rest := strings.TrimSpace(strings.TrimPrefix(rec.Error, firstLine(rec.Error))); rest != "" {
		fs = append(fs, notify.Field{Name: "error", Value: rest})
	}
	return []notify.Event{{Kind: notify.ScriptError, Subject: subject, Summary: summary, Fields: fs, Time: rec.End}}
}
