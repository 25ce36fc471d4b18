package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/topscript/topscript/config"
	"github.com/topscript/topscript/engine"
	"github.com/topscript/topscript/internal/bytesize"
	"github.com/topscript/topscript/luatop"
)

// limitFlags are run's limits: --memory-limit and --grace.
type limitFlags struct {
	MemoryLimit string        // --memory-limit: a size or "off"; "" = the configuration's, else the default
	Grace       time.Duration // --grace: how long a stopped script may take before the process exits anyway
}

// DefaultGrace is how long a script may take to stop after --timeout or
// the first SIGINT/SIGTERM before topscript exits anyway: a job's calls in
// flight get luatop.JobGrace to finish, then its checkpoints and report
// are written.
const DefaultGrace = luatop.JobGrace + 10*time.Second

func (o *limitFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&o.MemoryLimit, "memory-limit", "", "stop the script when it would use more than `size` of memory, e.g. 512MiB, 2GiB, or off (default: memory_limit of the configuration, else "+bytesize.Format(engine.DefaultMemoryLimit)+")")
	fs.DurationVar(&o.Grace, "grace", DefaultGrace, "after --timeout or the first SIGINT/SIGTERM, how long the script may take to stop before topscript exits anyway")
}

// memoryLimit returns the run's memory limit in bytes, -1 for none: the
// flag, else the configuration's memory_limit, else the engine's default.
// A bad flag is a usage error.
func (o *limitFlags) memoryLimit(cmd string, f *config.File) (int64, error) {
	switch v := strings.TrimSpace(o.MemoryLimit); {
	case strings.EqualFold(v, "off"):
		return -1, nil
	case v != "":
		n, err := bytesize.Parse(v)
		if err != nil || n <= 0 {
			return 0, usageErrorf(cmd, "--memory-limit %q: want a size such as 512MiB or 2GiB, or off", o.MemoryLimit)
		}
		return n, nil
	case f != nil && f.MemoryLimit != 0:
		return f.MemoryLimit, nil
	}
	return engine.DefaultMemoryLimit, nil
}

// applyMemoryLimit makes the Go runtime collect garbage before the process
// grows past limit (the engine refuses what a script would hold over it;
// this bounds what is garbage on top), as GOMEMLIMIT would, unless
// GOMEMLIMIT is set.
func applyMemoryLimit(st *State, limit int64) {
	if limit > 0 && st.getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(limit)
	}
}

// exitNow ends the process; a variable so that a test can see the call.
var exitNow = os.Exit

// hardDeadline makes sure the process ends after ctx is done: the script
// is asked to stop (the engine stops Lua at its next instruction, and
// every wait and read gives way), but code that cannot be interrupted (a
// host function, a blocking open of a FIFO) could hold it forever. When
// the returned stop function has not been called grace after ctx is done,
// it prints why on stderr and exits with the run's code: 130 after an
// interrupt, 1 after --timeout.
func hardDeadline(st *State, ctx context.Context, grace time.Duration, script string) (stop func()) {
	done := make(chan struct{})
	go func() {
		select {
		case <-done:
			return
		case <-ctx.Done():
		}
		t := time.NewTimer(grace)
		defer t.Stop()
		select {
		case <-done:
			return
		case <-t.C:
		}
		code, why := ExitInterrupted, "topscript: interrupted"
		var te *timeoutError
		if cause := context.Cause(ctx); errors.As(cause, &te) {
			code, why = ExitScript, fmt.Sprintf("%s: %v", script, te)
		}
		fmt.Fprintf(st.Stderr, "%s; the script did not stop within %s: exiting\n", why, grace)
		exitNow(code)
	}()
	var closed bool
	return func() {
		if !closed {
			closed = true
			close(done)
		}
	}
}
