package cli

import (
	"context"
	"errors"
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/topscript/topscript/engine"
	"github.com/topscript/topscript/repl"
	"github.com/topscript/topscript/tmc"
)

const replLong = `
The prompt is "top> " ("...> " while a chunk is incomplete). Expressions
print their values; Tab completes globals, module fields, TOP method names
and, inside a call's params table, the method's parameter names; Ctrl-C
clears the line or cancels the running call; Ctrl-D exits. History is kept
in ~/.topscript_history.

With standard input not a terminal it reads and evaluates lines, printing
the same output. An error is printed and the input goes on; the exit status
is then 1 (as "lua -"), and --stop-on-error stops at the first one:

  topscript repl --sandbox
  top> top.call("taobao.time.get")
  echo 'require("job").reset("bulk_price:prices.csv")' | topscript repl --sandbox --stop-on-error`

// replOptions are the flags of `repl`.
type replOptions struct {
	clientOptions
	StopOnError bool // --stop-on-error
}

// newReplCmd is `topscript repl`. runF, when not nil, runs instead of the
// command.
func newReplCmd(st *State, runF func(context.Context, *replOptions) error) *cobra.Command {
	o := &replOptions{}
	c := &cobra.Command{
		Use:               "repl",
		Short:             "Start an interactive Lua prompt with top and the modules loaded",
		Long:              replLong,
		Args:              noArgs,
		ValidArgsFunction: cobra.NoFileCompletions,
		RunE: func(c *cobra.Command, args []string) error {
			if runF != nil {
				return runF(c.Context(), o)
			}
			return runREPL(c.Context(), st, o)
		},
	}
	o.register(c.Flags())
	c.Flags().BoolVar(&o.StopOnError, "stop-on-error", false, "with standard input not a terminal, stop at the first error (exit 1)")
	return c
}

func runREPL(ctx context.Context, st *State, o *replOptions) error {
	logger := slog.New(slog.NewTextHandler(st.Stderr, nil))
	s, err := o.connect(st, logger, true)
	if err != nil {
		return err
	}
	defer s.Close()
	eng, err := engine.New(engine.Options{
		Client:    s.client,
		Stdin:     st.Stdin,
		Stdout:    st.Stdout,
		Stderr:    st.Stderr,
		Logger:    s.log,
		Store:     s.store(nil), // state and job.reset see the configured store, scoped to the shop
		TMC:       tmc.Config{URL: s.tmcURL},
		Secrets:   s.secrets,
		LookupEnv: st.LookupEnv,
	})
	if err != nil {
		return err
	}
	defer eng.Close()
	// The REPL handles SIGINT itself on a terminal (it cancels the running
	// evaluation); its context is not cancelled by signals. Its echo goes
	// through the engine's streams, which hide the secrets.
	err = repl.Run(ctx, repl.Options{Engine: eng, In: st.Stdin, Out: eng.Stdout(), Err: eng.Stderr(), StopOnError: o.StopOnError})
	if errors.Is(err, repl.ErrInputFailed) {
		// The error lines are printed already: exit 1, as lua - does.
		return &exitError{code: ExitScript, err: err}
	}
	return err
}
