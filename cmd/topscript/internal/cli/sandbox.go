package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/topscript/topscript/internal/redact"
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
truncate apply it and lose the answer.

Credentials: the app secret and the session are public test values unless
given. A value on the command line (--app-secret, --session) shows in ps
and in the banner; one read from a file (--app-secret-file, --session-file:
its first line) or from the environment (TOPSCRIPT_SANDBOX_APP_SECRET,
TOPSCRIPT_SANDBOX_SESSION) shows in neither.

Shops: --shops N serves N sellers of the app, each with its own data and
session (GET /_sandbox/shops lists them). They authorise the app as on the
platform: GET /authorize approves at once and redirects with a code
(sandbox_shop=K picks the shop), POST /token exchanges or refreshes it, so
'topscript auth login' works against the sandbox. --session-ttl and --w2-ttl
make tokens (and their sensitive-write window) expire in seconds: expired
sessions answer 27, a closed window 53. --refreshable=false issues tokens
that cannot be refreshed. GET /_sandbox/oauth counts codes, exchanges and
refreshes.`

// sandboxOptions are the flags of `sandbox`.
type sandboxOptions struct {
	Addr        string
	AppKey      string
	AppSecret   string
	SecretFile  string
	Session     string
	SessionFile string
	QPS         float64
	Latency     time.Duration
	Faults      string
	Seed        int64
	Trades      int
	Churn       float64
	Redeliver   time.Duration
	Shops       int
	SessionTTL  time.Duration
	W2TTL       time.Duration
	Refreshable bool
	// given says which of --app-secret and --session were on the command line.
	secretGiven, sessionGiven bool
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
			o.secretGiven, o.sessionGiven = c.Flags().Changed("app-secret"), c.Flags().Changed("session")
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
	fs.StringVar(&o.SecretFile, "app-secret-file", "", "read the app secret from the first line of `file` (else $"+envSandboxSecret+")")
	fs.StringVar(&o.Session, "session", sandbox.DefaultSession, "the session `key` it accepts")
	fs.StringVar(&o.SessionFile, "session-file", "", "read the session from the first line of `file` (else $"+envSandboxSession+")")
	fs.Float64Var(&o.QPS, "qps", 0, "calls per second per app key before code 7 bans (0 = unlimited)")
	fs.DurationVar(&o.Latency, "latency", 0, "added to every answer, e.g. 50ms")
	fs.StringVar(&o.Faults, "faults", "", "injected failure probabilities, e.g. isp=0.05,ban=0.01")
	fs.Int64Var(&o.Seed, "seed", 1, "seed of the generated data and fault draws")
	fs.IntVar(&o.Trades, "trades", 0, "number of generated trades (0 = the sandbox default, 3000)")
	fs.Float64Var(&o.Churn, "churn", 0, "trade events a second (created, paid, shipped, modified, refunded) while callers read")
	fs.DurationVar(&o.Redeliver, "tmc-redeliver", sandbox.DefaultTMCRedeliver, "how long a TMC message may stay unconfirmed before it is delivered again")
	fs.IntVar(&o.Shops, "shops", 1, "number of shops (sellers) of the app, each with its own data and session")
	fs.DurationVar(&o.SessionTTL, "session-ttl", sandbox.DefaultSessionTTL, "lifetime of the sessions /token issues (and of their r1, r2, w1 windows)")
	fs.DurationVar(&o.W2TTL, "w2-ttl", sandbox.DefaultW2TTL, "lifetime of an issued session's w2 (sensitive write) window")
	fs.BoolVar(&o.Refreshable, "refreshable", true, "issue tokens that can be refreshed (false: fixed-length tokens, as for apps outside the service market)")
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
	case o.Shops < 1 || o.Shops > sandbox.MaxShops:
		return usageErrorf("sandbox", "--shops must be between 1 and %d", sandbox.MaxShops)
	case o.SessionTTL <= 0:
		return usageErrorf("sandbox", "--session-ttl must be positive")
	case o.W2TTL <= 0:
		return usageErrorf("sandbox", "--w2-ttl must be positive")
	}
	faults, err := sandbox.ParseFaults(o.Faults)
	if err != nil {
		return usageErrorf("sandbox", "--faults: %v", err)
	}
	secret, err := sandboxCredential(st, credentialSource{flag: "app-secret", value: o.AppSecret, given: o.secretGiven, file: o.SecretFile, env: envSandboxSecret, def: sandbox.DefaultAppSecret})
	if err != nil {
		return err
	}
	session, err := sandboxCredential(st, credentialSource{flag: "session", value: o.Session, given: o.sessionGiven, file: o.SessionFile, env: envSandboxSession, def: sandbox.DefaultSession})
	if err != nil {
		return err
	}
	o.AppSecret, o.Session = secret.value, session.value

	ctx, stop := st.Interruptible(ctx)
	defer stop()
	sb, err := sandbox.New(sandbox.Options{
		AppKey: o.AppKey, AppSecret: o.AppSecret, Session: o.Session,
		QPS: o.QPS, Latency: o.Latency, Faults: faults, Seed: o.Seed, Trades: o.Trades,
		Churn: o.Churn, TMC: sandbox.TMCOptions{Redeliver: o.Redeliver},
		Shops: o.Shops, Tokens: sandbox.TokenOptions{SessionTTL: o.SessionTTL, W2TTL: o.W2TTL, NoRefresh: !o.Refreshable},
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

	// The test values, and values given on the command line, are shown:
	// printing them is the point. Values read from a file or the
	// environment are not.
	fmt.Fprintf(st.Stdout, `topscript sandbox: serving the TOP gateway at %s
Point a profile of topscript.toml at it:
  [profiles.sandbox]
  app_key    = %q
  app_secret = %s
  session    = %s
  gateway    = %q
then: topscript call taobao.time.get --profile sandbox
Message channel (TMC): %s
%sStop with Ctrl-C.
`, sb.URL(), o.AppKey, secret.shown, session.shown, sb.URL(), sb.TMCURL(), sandboxShops(sb, session))
	<-ctx.Done()
	fmt.Fprintln(st.Stderr, "topscript sandbox: stopped")
	return nil
}

// The environment variables the sandbox reads its credentials from.
const (
	envSandboxSecret  = "TOPSCRIPT_SANDBOX_APP_SECRET"
	envSandboxSession = "TOPSCRIPT_SANDBOX_SESSION"
)

// credentialSource is where one sandbox credential may come from, first
// found first: the flag when given, its file flag, the environment, the
// default.
type credentialSource struct {
	flag, value string // the flag's name and value
	given       bool   // the flag was on the command line
	file        string // its file flag's value
	env         string // the environment variable
	def         string // the public test value
}

// credential is a value and how the banner writes it in a profile.
type credential struct {
	value, shown string
}

// sandboxCredential picks one credential. A value from a file or the
// environment is shown as a reference to it, never itself.
func sandboxCredential(st *State, c credentialSource) (credential, error) {
	switch {
	case c.given && c.file != "":
		return credential{}, usageErrorf("sandbox", "--%s and --%s-file: give one", c.flag, c.flag)
	case c.given:
		return credential{c.value, fmt.Sprintf("%q", c.value)}, nil
	case c.file != "":
		b, err := os.ReadFile(c.file)
		if err != nil {
			return credential{}, usageErrorf("sandbox", "--%s-file: %v", c.flag, err)
		}
		v, _, _ := strings.Cut(string(b), "\n")
		if v = strings.TrimSpace(v); v == "" {
			return credential{}, usageErrorf("sandbox", "--%s-file %s: the first line is empty", c.flag, c.file)
		}
		return credential{v, fmt.Sprintf("%q  # the value in %s", redact.Mark, c.file)}, nil
	case st.getenv(c.env) != "":
		return credential{st.getenv(c.env), fmt.Sprintf("%q", "${"+c.env+"}")}, nil
	}
	return credential{c.def, fmt.Sprintf("%q", c.def)}, nil
}

// sandboxShops describes the shops of a sandbox serving several, and how
// they authorise. A shop's fixed session is the sandbox's and its number:
// shown as the sandbox's session is (a value read from a file or the
// environment is never shown).
func sandboxShops(sb *sandbox.Server, session credential) string {
	shops := sb.Shops()
	base := strings.TrimSuffix(sb.URL(), "/router/rest")
	if len(shops) == 1 {
		return "Shops authorise at " + base + "/authorize (topscript auth login --shop NAME).\n"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d shops, each its own data (topscript auth login --shop NAME authorises one at %s/authorize):\n", len(shops), base)
	public := session.shown == strconv.Quote(session.value)
	for _, s := range shops {
		shown := strconv.Quote(s.Session)
		switch {
		case !public && s.Index == 1:
			shown = "the session above"
		case !public:
			shown = fmt.Sprintf("the session above and \"-%d\"", s.Index)
		}
		fmt.Fprintf(&b, "  shop %d  user_id %d  %s  session %s\n", s.Index, s.UserID, s.Nick, shown)
	}
	return b.String()
}
