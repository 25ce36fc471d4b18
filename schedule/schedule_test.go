package schedule

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/topscript/topscript/internal/syncbuf"
	"github.com/topscript/topscript/state"
)

func newLogger() (*slog.Logger, *syncbuf.Buffer) {
	buf := &syncbuf.Buffer{}
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})), buf
}

func TestParse(t *testing.T) {
	for _, spec := range []string{"*/10 * * * *", "0 30 9 * * 1-5", "@every 30s", "@hourly", "CRON_TZ=UTC 0 3 * * *", " @every 1m30s "} {
		if _, err := Parse(spec); err != nil {
			t.Errorf("Parse(%q): %v", spec, err)
		}
	}
	// 6 fields: the first is seconds.
	s, _ := Parse("15 * * * * *")
	base := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	if got := s.Next(base); !got.Equal(base.Add(15 * time.Second)) {
		t.Errorf("6-field Next = %v", got)
	}
	s, _ = Parse("*/10 * * * *")
	if got := s.Next(base); !got.Equal(base.Add(10 * time.Minute)) {
		t.Errorf("5-field Next = %v", got)
	}
}

func TestInvalidEntries(t *testing.T) {
	run := func(context.Context, Entry) (int, error) { return 0, nil }
	cases := []struct {
		entries []Entry
		want    []string
	}{
		{[]Entry{{Name: "order_sync", Cron: "*/10 * * *", Script: "a.lua"}}, []string{`"order_sync"`, `"*/10 * * *"`}},
		{[]Entry{{Name: "order_sync", Cron: "61 * * * *", Script: "a.lua"}}, []string{`"order_sync"`, `"61 * * * *"`}},
		{[]Entry{{Name: "x", Cron: "@every banana", Script: "a.lua"}}, []string{`"x"`, `"@every banana"`}},
		{[]Entry{{Name: "x", Cron: "", Script: "a.lua"}}, []string{`"x"`, "empty"}},
		{[]Entry{{Name: "", Cron: "@hourly", Script: "a.lua"}}, []string{"entry 1", "name"}},
		{[]Entry{{Name: "x", Cron: "@hourly"}}, []string{`"x"`, "script"}},
		{[]Entry{{Name: "x", Cron: "@hourly", Script: "a"}, {Name: "x", Cron: "@daily", Script: "b"}}, []string{`"x"`, "twice"}},
	}
	for _, c := range cases {
		_, err := New(c.entries, run, nil)
		if err == nil {
			t.Errorf("New(%+v) succeeded", c.entries)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("New(%+v) = %q, want it to contain %s", c.entries, err, w)
			}
		}
		if Validate(c.entries) == nil {
			t.Errorf("Validate(%+v) = nil", c.entries)
		}
	}
	if _, err := New(nil, nil, nil); err == nil {
		t.Error("nil run accepted")
	}
}

// An @every 1s entry whose run takes 1.5 s runs repeatedly, never overlaps
// itself, logs the skipped ticks, and a cancelled Run waits for the running run.
func TestNoOverlap(t *testing.T) {
	if testing.Short() {
		t.Skip("takes 7 s")
	}
	logger, logs := newLogger()
	var running, maxRunning, runs, finished atomic.Int32
	run := func(ctx context.Context, e Entry) (int, error) {
		n := running.Add(1)
		for {
			m := maxRunning.Load()
			if n <= m || maxRunning.CompareAndSwap(m, n) {
				break
			}
		}
		runs.Add(1)
		time.Sleep(1500 * time.Millisecond)
		running.Add(-1)
		finished.Add(1)
		if e.Name != "slow" || e.Script != "slow.lua" || len(e.Args) != 1 {
			return 9, nil
		}
		return 0, nil
	}
	s, err := New([]Entry{{Name: "slow", Cron: "@every 1s", Script: "slow.lua", Args: []string{"x"}}}, run, logger)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.Run(ctx) }()

	time.Sleep(6500 * time.Millisecond)
	// Cancel while a run is going on (runs start on whole seconds and last 1.5 s).
	for running.Load() == 0 {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	cancelled := time.Now()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	waited := time.Since(cancelled)
	out := logs.String()
	t.Logf("runs=%d max concurrent=%d Run returned %v after cancel\n%s", runs.Load(), maxRunning.Load(), waited, out)

	if runs.Load() < 3 {
		t.Errorf("%d runs, want >= 3", runs.Load())
	}
	if maxRunning.Load() != 1 {
		t.Errorf("max concurrent runs = %d, want 1", maxRunning.Load())
	}
	if running.Load() != 0 || finished.Load() != runs.Load() {
		t.Errorf("Run returned with a run still going (running=%d finished=%d runs=%d)", running.Load(), finished.Load(), runs.Load())
	}
	if waited < 50*time.Millisecond {
		t.Errorf("Run returned %v after cancel: did not wait for the running run", waited)
	}
	if n := strings.Count(out, "skipped: previous run still running"); n < 2 {
		t.Errorf("%d skip lines, want >= 2", n)
	}
	for _, want := range []string{"entry=slow scheduled=", "run started", "run finished", "exit_code=0", "duration=1.5"} {
		if !strings.Contains(out, want) {
			t.Errorf("logs lack %q", want)
		}
	}
	if strings.Count(out, "run started") != strings.Count(out, "run finished") {
		t.Error("unbalanced start/finish lines")
	}
}

// A run that panics or fails is logged; the scheduler keeps going.
func TestRunFailureAndPanic(t *testing.T) {
	logger, logs := newLogger()
	var calls atomic.Int32
	run := func(ctx context.Context, e Entry) (int, error) {
		if calls.Add(1) == 1 {
			panic("boom")
		}
		return 3, errors.New("job p: 2 failed of 5 rows")
	}
	s, _ := New([]Entry{{Name: "p", Cron: "@every 1s", Script: "p.lua"}}, run, logger)
	ctx, cancel := context.WithTimeout(context.Background(), 2200*time.Millisecond)
	defer cancel()
	if err := s.Run(ctx); err != nil {
		t.Fatal(err)
	}
	out := logs.String()
	// The run's error is in its "run finished" line.
	for _, want := range []string{"run crashed", "panic=boom", "exit_code=1", `error="crashed: boom"`, "exit_code=3", `error="job p: 2 failed of 5 rows"`, "level=WARN"} {
		if !strings.Contains(out, want) {
			t.Errorf("logs lack %q:\n%s", want, out)
		}
	}
	if err := s.Run(context.Background()); err == nil {
		t.Error("second Run accepted")
	}
}

// With a Locker, a tick whose lock is held elsewhere is skipped.
func TestLocker(t *testing.T) {
	logger, logs := newLogger()
	locker := state.NewMemLocker()
	other, err := locker.Acquire(context.Background(), "schedule:a", 0) // another host runs "a"
	if err != nil {
		t.Fatal(err)
	}
	var ranA, ranB atomic.Int32
	run := func(ctx context.Context, e Entry) (int, error) {
		if e.Name == "a" {
			ranA.Add(1)
		} else {
			ranB.Add(1)
		}
		return 0, nil
	}
	s, _ := New([]Entry{
		{Name: "a", Cron: "@every 1s", Script: "a.lua"},
		{Name: "b", Cron: "* * * * * *", Script: "b.lua"},
	}, run, logger, WithLocker(locker, time.Minute))
	ctx, cancel := context.WithTimeout(context.Background(), 2200*time.Millisecond)
	defer cancel()
	s.Run(ctx)
	if ranA.Load() != 0 || ranB.Load() < 2 {
		t.Errorf("runs a=%d b=%d, want 0 and >= 2", ranA.Load(), ranB.Load())
	}
	if !strings.Contains(logs.String(), "skipped: running on another host") {
		t.Errorf("no lock skip logged:\n%s", logs.String())
	}
	// b released its lock after each run.
	l, err := locker.Acquire(context.Background(), "schedule:b", 0)
	if err != nil {
		t.Errorf("schedule:b still held after Run: %v", err)
	} else {
		l.Release(context.Background())
	}
	other.Release(context.Background())
}

// WithGrace cancels runs that outlive the grace period.
func TestGrace(t *testing.T) {
	started := make(chan struct{}, 1)
	run := func(ctx context.Context, e Entry) (int, error) {
		started <- struct{}{}
		select {
		case <-ctx.Done():
			return 130, errors.New("interrupted")
		case <-time.After(10 * time.Second):
			return 0, nil
		}
	}
	logger, logs := newLogger()
	s, _ := New([]Entry{{Name: "long", Cron: "@every 1s", Script: "l.lua"}}, run, logger, WithGrace(200*time.Millisecond))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	<-started
	cancel()
	start := time.Now()
	select {
	case <-done:
	case <-time.After(3 * time.Second):
		t.Fatal("Run did not return after the grace period")
	}
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Errorf("Run returned after %v, before the grace period", d)
	}
	if !strings.Contains(logs.String(), "exit_code=130") {
		t.Errorf("run not cancelled:\n%s", logs.String())
	}
}
