package cli

import (
	"context"
	"log/slog"

	"github.com/topscript/topscript/engine"
	"github.com/topscript/topscript/repl"
	"github.com/topscript/topscript/tmc"
)

var replCommand = &command{
	name:  "repl",
	usage: "repl",
	short: "Start an interactive Lua prompt with top and the modules loaded",
	long:  replLong,
	run:   runREPL,
}

const replLong = `
The prompt is "top> " ("...> " while a chunk is incomplete). Expressions
print their values; Tab completes globals, module fields and TOP method
names; Ctrl-C clears the line or cancels the running call; Ctrl-D exits.
History is kept in ~/.topscript_history. With standard input not a terminal
it reads and evaluates lines, printing the same output.

  topscript repl --sandbox
  top> top.call("taobao.time.get")`

// replOptions are the flags of `repl`.
type replOptions struct {
	clientOptions
}

func runREPL(ctx context.Context, st *State, c *command, args []string) error {
	var o replOptions
	fs := newFlagSet(c)
	o.register(fs)
	pos, err := fs.parseOrHelp(st, args, false)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageErrorf("repl", "unexpected argument %q", pos[0])
	}
	logger := slog.New(slog.NewTextHandler(st.Stderr, nil))
	s, err := o.connect(st, logger, true)
	if err != nil {
		return err
	}
	defer s.Close()
	eng, err := engine.New(engine.Options{
		Client: s.client,
		Stdin:  st.Stdin,
		Stdout: st.Stdout,
		Stderr: st.Stderr,
		Logger: logger,
		Store:  s.store(), // state and job.reset see the configured store, scoped to the shop
		TMC:    tmc.Config{URL: s.tmcURL},
	})
	if err != nil {
		return err
	}
	defer eng.Close()
	// The REPL handles SIGINT itself on a terminal (it cancels the running
	// evaluation); its context is not cancelled by signals.
	return repl.Run(ctx, repl.Options{Engine: eng, In: st.Stdin, Out: st.Stdout, Err: st.Stderr})
}
