// Package schedule runs the [[schedule]] entries of topscript.toml: each
// entry's script is started on its cron schedule, never overlapping itself.
//
// Specs are parsed by robfig/cron/v3: 5 fields ("*/10 * * * *"), 6 fields
// with a leading seconds field ("30 */10 * * * *"), descriptors ("@hourly",
// "@every 30s") and an optional "CRON_TZ=Asia/Shanghai " prefix. Times are
// in the scheduler's location (WithLocation; time.Local by default).
//
// When a tick comes while the entry's previous run is still going, the tick
// is skipped and logged. With WithLocker, each run also takes the lock
// "schedule:<name>" so that a fleet of hosts sharing a Locker (Redis) runs
// an entry on one host at a time; a tick whose lock is held elsewhere is
// skipped.
package schedule

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/topscript/topscript/state"
)

// Entry is one [[schedule]] entry.
type Entry struct {
	Name   string   // unique; names the lock and the log lines
	Cron   string   // cron spec (see the package doc)
	Script string   // script path, passed on to the run function
	Args   []string // script arguments
}

// RunFunc runs one entry and returns its exit code (0 = success) and, for
// a failed run, the error that ended it (logged with the run's end; nil if
// unknown). Its context carries the values of Run's context but is not
// cancelled when Run's context is; it is cancelled when the grace period
// (WithGrace) runs out.
type RunFunc func(ctx context.Context, e Entry) (code int, err error)

// Option configures a Scheduler.
type Option func(*Scheduler)

// WithLocker makes every run hold the lock "schedule:<name>" from l, with the
// given lease (state.DefaultLease when <= 0), for cross-host no-overlap.
func WithLocker(l state.Locker, lease time.Duration) Option {
	return func(s *Scheduler) { s.locker, s.lease = l, lease }
}

// WithLocation sets the time zone in which specs are read (default time.Local).
func WithLocation(loc *time.Location) Option {
	return func(s *Scheduler) {
		if loc != nil {
			s.loc = loc
		}
	}
}

// WithGrace limits how long Run waits for running runs once its context is
// done: after d their contexts are cancelled (and Run still waits for them
// to return). The default, 0, waits as long as the runs take.
func WithGrace(d time.Duration) Option {
	return func(s *Scheduler) { s.grace = d }
}

// Scheduler runs entries on their schedules. Create it with New.
type Scheduler struct {
	entries []*entry
	run     RunFunc
	log     *slog.Logger
	locker  state.Locker
	lease   time.Duration
	loc     *time.Location
	grace   time.Duration

	mu      sync.Mutex
	started bool
}

type entry struct {
	Entry
	sched cron.Schedule

	mu      sync.Mutex
	running bool
}

var parser = cron.NewParser(cron.SecondOptional | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// Parse parses one cron spec (5 or 6 fields, a descriptor such as
// "@every 30s", optionally prefixed by "CRON_TZ=Zone "). "@every" intervals
// are whole seconds; shorter ones are rounded up to 1s.
func Parse(spec string) (cron.Schedule, error) {
	spec = strings.TrimSpace(spec)
	if spec == "" {
		return nil, errors.New("empty cron spec")
	}
	return parser.Parse(spec)
}

// Validate checks entries as New does: names present and unique, scripts
// present, cron specs valid. Errors name the entry and the spec.
func Validate(entries []Entry) error {
	_, err := parseEntries(entries)
	return err
}

func parseEntries(entries []Entry) ([]*entry, error) {
	seen := map[string]bool{}
	out := make([]*entry, 0, len(entries))
	for i, e := range entries {
		if strings.TrimSpace(e.Name) == "" {
			return nil, fmt.Errorf("schedule entry %d: name is empty", i+1)
		}
		if seen[e.Name] {
			return nil, fmt.Errorf("schedule entry %q: name is used twice", e.Name)
		}
		seen[e.Name] = true
		if strings.TrimSpace(e.Script) == "" {
			return nil, fmt.Errorf("schedule entry %q: script is empty", e.Name)
		}
		sched, err := Parse(e.Cron)
		if err != nil {
			return nil, fmt.Errorf("schedule entry %q: invalid cron %q: %v", e.Name, e.Cron, err)
		}
		e.Args = append([]string(nil), e.Args...)
		out = append(out, &entry{Entry: e, sched: sched})
	}
	return out, nil
}

// New returns a Scheduler for entries, calling run for each due run. A nil
// logger discards logs. It fails on an invalid entry (see Validate).
func New(entries []Entry, run RunFunc, logger *slog.Logger, opts ...Option) (*Scheduler, error) {
	if run == nil {
		return nil, errors.New("schedule: run function is nil")
	}
	es, err := parseEntries(entries)
	if err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Scheduler{entries: es, run: run, log: logger, loc: time.Local}
	for _, o := range opts {
		o(s)
	}
	return s, nil
}

// Next returns the next time entry name is due after t, or the zero time
// for an unknown name.
func (s *Scheduler) Next(name string, t time.Time) time.Time {
	for _, e := range s.entries {
		if e.Name == name {
			return e.sched.Next(t.In(s.loc))
		}
	}
	return time.Time{}
}

// Run runs the schedule until ctx is done, then stops starting runs and
// waits for the running ones (see WithGrace) before returning nil. A
// Scheduler can be Run once.
func (s *Scheduler) Run(ctx context.Context) error {
	s.mu.Lock()
	if s.started {
		s.mu.Unlock()
		return errors.New("schedule: Run called twice")
	}
	s.started = true
	s.mu.Unlock()

	runCtx, cancelRuns := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelRuns()
	var runs, tickers sync.WaitGroup
	for _, e := range s.entries {
		s.log.Info("schedule entry loaded", "entry", e.Name, "cron", e.Cron, "script", e.Script,
			"next", e.sched.Next(time.Now().In(s.loc)).Format(time.RFC3339))
		tickers.Add(1)
		go func() {
			defer tickers.Done()
			s.loop(ctx, runCtx, e, &runs)
		}()
	}
	<-ctx.Done()
	tickers.Wait() // no new runs from here on

	done := make(chan struct{})
	go func() { runs.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	default:
	}
	s.log.Info("schedule stopping: waiting for running runs")
	var graceC <-chan time.Time
	if s.grace > 0 {
		t := time.NewTimer(s.grace)
		defer t.Stop()
		graceC = t.C
	}
	select {
	case <-done:
	case <-graceC:
		s.log.Warn("schedule stopping: grace period over, cancelling running runs", "grace", s.grace)
		cancelRuns()
		<-done
	}
	return nil
}

// loop fires e's ticks until ctx is done.
func (s *Scheduler) loop(ctx, runCtx context.Context, e *entry, runs *sync.WaitGroup) {
	for {
		now := time.Now().In(s.loc)
		next := e.sched.Next(now)
		if next.IsZero() { // a spec that never fires again
			return
		}
		t := time.NewTimer(next.Sub(now))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		e.mu.Lock()
		busy := e.running
		if !busy {
			e.running = true
		}
		e.mu.Unlock()
		if busy {
			s.log.Info("skipped: previous run still running", "entry", e.Name, "scheduled", next.Format(time.RFC3339))
			continue
		}
		runs.Add(1)
		go func() {
			defer runs.Done()
			defer func() { e.mu.Lock(); e.running = false; e.mu.Unlock() }()
			s.runOnce(runCtx, e, next)
		}()
	}
}

// runOnce runs e once for the tick at scheduled, under the lock when configured.
func (s *Scheduler) runOnce(ctx context.Context, e *entry, scheduled time.Time) {
	sched := scheduled.Format(time.RFC3339)
	if s.locker != nil {
		lock, err := s.locker.Acquire(ctx, "schedule:"+e.Name, s.lease)
		if errors.Is(err, state.ErrLocked) {
			s.log.Info("skipped: running on another host", "entry", e.Name, "scheduled", sched, "reason", err.Error())
			return
		}
		if err != nil {
			s.log.Error("skipped: cannot take the schedule lock", "entry", e.Name, "scheduled", sched, "error", err.Error())
			return
		}
		defer func() {
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			if err := lock.Release(rctx); err != nil {
				s.log.Warn("cannot release the schedule lock", "entry", e.Name, "error", err.Error())
			}
		}()
		stop := make(chan struct{})
		defer close(stop)
		go func() {
			select {
			case <-lock.Lost():
				s.log.Warn("schedule lock lost during the run; another host may start this entry", "entry", e.Name, "scheduled", sched)
			case <-stop:
			}
		}()
	}

	start := time.Now()
	s.log.Info("run started", "entry", e.Name, "scheduled", sched, "script", e.Script)
	code, err := s.call(ctx, e)
	dur := time.Since(start)
	level := slog.LevelInfo
	if code != 0 {
		level = slog.LevelWarn
	}
	attrs := []any{"entry", e.Name, "scheduled", sched, "exit_code", code, "duration", dur.Round(time.Millisecond).String()}
	if err != nil {
		attrs = append(attrs, "error", err.Error())
	}
	s.log.Log(context.Background(), level, "run finished", attrs...)
}

// call runs e, turning a panic in the run function into exit code 1.
func (s *Scheduler) call(ctx context.Context, e *entry) (code int, err error) {
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("run crashed", "entry", e.Name, "panic", fmt.Sprint(r))
			s.log.Debug("run crash stack", "entry", e.Name, "stack", string(debug.Stack()))
			code, err = 1, fmt.Errorf("crashed: %v", r)
		}
	}()
	run := e.Entry
	run.Args = append([]string(nil), e.Args...) // the run may not change the entry
	return s.run(ctx, run)
}
