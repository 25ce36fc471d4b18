package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/topscript/topscript/sandbox"
)

const sandboxLong = `
The sandbox answers at /router/rest (and /router/batch) as the real gateway
does: signatures, system checks, error codes, paging and seeded shop data
that writes change. It serves until SIGINT or SIGTERM.

Admin: GET /_sandbox/stats, POST /_sandbox/reset, GET /_sandbox/changes?since=N
(the trade change log), POST /_sandbox/churn?n=N (N trade events now),
GET /_sandbox/tmc (message channel counters), POST /_sandbox/tmc/drop.

The message channel (TMC) is served at ws://ADDR/tmc: trade events (--churn,
or /_sandbox/churn) and item writes publish messages to shops that called
taobao.tmc.user.permit.

Fault controls: --faults "isp=0.05,http502=0.01,drop=0.01,truncate=0.01,ban=0.01"
gives per-call probabilities of each injected failure. isp and http502 apply
nothing; isp_applied and http502_applied apply the call, then answer an isp
timeout or a 502 (as a backend that did not answer in time does); drop and
truncate apply it and lose the answer.`

// sandboxOptions are the flags of `sandbox`.
type sandboxOptions struct {
	Addr      string
	AppKey    string
	AppSecret string
	Session   string
	QPS       float64
	Latency   time.Duration
	Faults    string
	Seed      int64
	Trades    int
	Churn     float64
	Redeliver time.Duration
}

// newSandboxCmd is `topscript sandbox`. runF, when not nil, runs instead
// of the command.
func newSandboxCmd(st *State, runF func(context.Context, *sandboxOptions) error) *cobra.Command {
	o := &sandboxOptions{}
	c := &cobra.Command{
		Use:               "sandbox [--addr HOST:PORT]",
		Short:             "Serve a local TOP-compatible gateway with seeded test data",
		Long:              sandboxLong,
		Args:              noArgs,
		ValidArgsFunction: cobra.NoFileCompletions,
		RunE: func(c *cobra.Command, args []string) error {
			if runF != nil {
				return runF(c.Context(), o)
			}
			return runSandbox(c.Context(), st, o)
		},
	}
	fs := c.Flags()
	fs.StringVar(&o.Addr, "addr", "127.0.0.1:8790", "listen `address` (port 0 picks a free one)")
	fs.StringVar(&o.AppKey, "app-key", sandbox.DefaultAppKey, "the app `key` it accepts")
	fs.StringVar(&o.AppSecret, "app-secret", sandbox.DefaultAppSecret, "the app `secret` it signs with")
	fs.StringVar(&o.Session, "session", sandbox.DefaultSession, "the session `key` it accepts")
	fs.Float64Var(&o.QPS, "qps", 0, "calls per second per app key before code 7 bans (0 = unlimited)")
	fs.DurationVar(&o.Latency, "latency", 0, "added to every answer, e.g. 50ms")
	fs.StringVar(&o.Faults, "faults", "", "injected failure probabilities, e.g. isp=0.05,ban=0.01")
	fs.Int64Var(&o.Seed, "seed", 1, "seed of the generated data and fault draws")
	fs.IntVar(&o.Trades, "trades", 0, "number of generated trades (0 = the sandbox default, 3000)")
	fs.Float64Var(&o.Churn, "churn", 0, "trade events a second (created, paid, shipped, modified, refunded) while callers read")
	fs.DurationVar(&o.Redeliver, "tmc-redeliver", sandbox.DefaultTMCRedeliver, "how long a TMC message may stay unconfirmed before it is delivered again")
	return c
}

func runSandbox(ctx context.Context, st *State, o *sandboxOptions) error {
	switch {
	case o.QPS < 0:
		return usageErrorf("sandbox", "--qps must not be negative")
	case o.Latency < 0:
		return usageErrorf("sandbox", "--latency must not be negative")
	case o.Trades < 0:
		return usageErrorf("sandbox", "--trades must not be negative")
	case o.Churn < 0:
		return usageErrorf("sandbox", "--churn must not be negative")
	case o.Redeliver <= 0:
		return usageErrorf("sandbox", "--tmc-redeliver must be positive")
	}
	faults, err := sandbox.ParseFaults(o.Faults)
	if err != nil {
		return usageErrorf("sandbox", "--faults: %v", err)
	}

	ctx, stop := st.Interruptible(ctx)
	defer stop()
	sb, err := sandbox.New(sandbox.Options{
		AppKey: o.AppKey, AppSecret: o.AppSecret, Session: o.Session,
		QPS: o.QPS, Latency: o.Latency, Faults: faults, Seed: o.Seed, Trades: o.Trades,
		Churn: o.Churn, TMC: sandbox.TMCOptions{Redeliver: o.Redeliver},
	})
	if err != nil {
		return usageErrorf("sandbox", "%v", err)
	}
	if err := sb.Start(o.Addr); err != nil {
		// A malformed address or a port in use: the user picks another --addr.
		if cause := errors.Unwrap(err); cause != nil {
			err = cause
		}
		return usageErrorf("sandbox", "--addr %s: cannot listen: %v", o.Addr, err)
	}
	defer sb.Close()

	// The sandbox's credentials are public test values: printing them is
	// the point.
	fmt.Fprintf(st.Stdout, `topscript sandbox: serving the TOP gateway at %s
Point a profile of topscript.toml at it:
  [profiles.sandbox]
  app_key    = %q
  app_secret = %q
  session    = %q
  gateway    = %q
then: topscript call taobao.time.get --profile sandbox
Message channel (TMC): %s
Stop with Ctrl-C.
`, sb.URL(), o.AppKey, o.AppSecret, o.Session, sb.URL(), sb.TMCURL())
	<-ctx.Done()
	fmt.Fprintln(st.Stderr, "topscript sandbox: stopped")
	return nil
}
