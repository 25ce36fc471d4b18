package cli

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/topscript/topscript/config"
	"github.com/topscript/topscript/engine"
	"github.com/topscript/topscript/internal/syncbuf"
)

// The hard deadline exits with the run's code once grace has passed after
// the interrupt or the timeout, and never when the run ended in time. (The
// real process is tested in cmd/topscript's TestHardDeadline.)
func TestHardDeadlineCodes(t *testing.T) {
	codes := make(chan int, 1)
	saved := exitNow
	exitNow = func(code int) { codes <- code }
	t.Cleanup(func() { exitNow = saved })
	for _, tc := range []struct {
		cause error
		code  int
		msg   string
	}{
		{ErrInterrupted, ExitInterrupted, "topscript: interrupted; the script did not stop within 50ms: exiting"},
		{&timeoutError{3 * time.Second}, ExitScript, "s.lua: timed out after 3s; the script did not stop within 50ms: exiting"},
	} {
		var stderr syncbuf.Buffer
		ctx, cancel := context.WithCancelCause(context.Background())
		stop := hardDeadline(&State{Stderr: &stderr}, ctx, 50*time.Millisecond, "s.lua")
		cancel(tc.cause)
		select {
		case code := <-codes:
			if code != tc.code || strings.TrimSpace(stderr.String()) != tc.msg {
				t.Errorf("exit %d %q, want %d %q", code, stderr.String(), tc.code, tc.msg)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no exit")
		}
		stop()
	}
	// Stopped in time: no exit.
	ctx, cancel := context.WithCancelCause(context.Background())
	stop := hardDeadline(&State{Stderr: &syncbuf.Buffer{}}, ctx, 50*time.Millisecond, "s.lua")
	cancel(ErrInterrupted)
	stop()
	select {
	case code := <-codes:
		t.Errorf("exit %d after the run had ended", code)
	case <-time.After(200 * time.Millisecond):
	}
}

// The memory limit comes from the flag, else the configuration, else the
// engine's default.
func TestMemoryLimitSources(t *testing.T) {
	for _, tc := range []struct {
		flag string
		file int64
		want int64
	}{
		{"", 0, engine.DefaultMemoryLimit},
		{"", 256 << 20, 256 << 20},
		{"", -1, -1},
		{"512MiB", 256 << 20, 512 << 20},
		{"off", 256 << 20, -1},
		{"1.5GiB", 0, 3 << 29},
	} {
		o := limitFlags{MemoryLimit: tc.flag}
		got, err := o.memoryLimit("run", &config.File{MemoryLimit: tc.file})
		if err != nil || got != tc.want {
			t.Errorf("flag %q, file %d: %d, %v; want %d", tc.flag, tc.file, got, err, tc.want)
		}
	}
}
