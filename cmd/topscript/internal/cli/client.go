package cli

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/spf13/pflag"

	"github.com/topscript/topscript/config"
	"github.com/topscript/topscript/internal/redact"
	"github.com/topscript/topscript/sandbox"
	"github.com/topscript/topscript/shop"
	"github.com/topscript/topscript/state"
	"github.com/topscript/topscript/top"
)

// clientOptions are the flags of every command that talks to TOP.
type clientOptions struct {
	configFlags
	Sandbox bool // --sandbox
	// Churn is the --sandbox sandbox's trade events a second (run's
	// --churn; 0: none).
	Churn float64
	// Faults is the --sandbox sandbox's injected faults (run's --faults;
	// sandbox.ParseFaults).
	Faults string
	// onLongBan, when set, is told of bans longer than max_ban_wait
	// (top.WithLongBan): run's alerts.
	onLongBan func(top.LongBan)
}

func (o *clientOptions) register(fs *pflag.FlagSet) {
	o.configFlags.register(fs)
	fs.BoolVar(&o.Sandbox, "sandbox", false, "run against an in-process sandbox gateway with its test credentials (no account or configuration needed)")
}

// session is a configured client, and the sandbox behind it with --sandbox.
type session struct {
	cfg    *config.File
	client *top.Client
	sb     *sandbox.Server
	tmcURL string // the message channel tmc.listen connects to
	// shop tells the shop the client works for, whose scope the state
	// lives under (nil without a client).
	shop *shop.Resolver
	// state is the [state] backend (state.Open): a Redis one is connected
	// at start, since the client's throttle and bans are shared through
	// it; a file one opens its database at first use. With --sandbox it
	// is in memory (state.Memory).
	state *state.Backend
	log   *slog.Logger // the command's logger, the secrets hidden
	// secrets are the values no output may show: the credentials in use
	// (the sandbox's with --sandbox) and the configuration's secrets.
	secrets []string
	// session is the profile's session the client was built with (the
	// sandbox's with --sandbox).
	session string
	// alerts raises a run's alerts (nil outside run).
	alerts *alerter
}

// store is the store a run's scripts see (the state module, job.run):
// the backend's, scoped to the shop r tells (nil: the shop of the
// profile's session), resolved at its first use. With --sandbox it is in
// memory, and its first use says so.
func (s *session) store(r *shop.Resolver) state.Store {
	st := s.state.Store()
	if r == nil {
		r = s.shop
	}
	if r != nil {
		st = r.ScopedStore()
	}
	if s.sb != nil {
		st = &announcedStore{Store: st, say: func() {
			if s.log != nil {
				s.log.Info("--sandbox: state (job checkpoints, the state module) is kept in memory for this run only, " +
					"as the sandbox starts from its seed every run: real runs' [state] is not read or written")
			}
		}}
	}
	return st
}

// announcedStore calls say once, at its first use.
type announcedStore struct {
	state.Store
	once sync.Once
	say  func()
}

func (a *announcedStore) Get(ctx context.Context, ns, key string) ([]byte, bool, error) {
	a.once.Do(a.say)
	return a.Store.Get(ctx, ns, key)
}

func (a *announcedStore) Set(ctx context.Context, ns, key string, val []byte) error {
	a.once.Do(a.say)
	return a.Store.Set(ctx, ns, key, val)
}

func (a *announcedStore) SetMany(ctx context.Context, ns string, kv map[string][]byte) error {
	a.once.Do(a.say)
	return a.Store.SetMany(ctx, ns, kv)
}

func (a *announcedStore) Delete(ctx context.Context, ns, key string) error {
	a.once.Do(a.say)
	return a.Store.Delete(ctx, ns, key)
}

func (a *announcedStore) Keys(ctx context.Context, ns string) ([]string, error) {
	a.once.Do(a.say)
	return a.Store.Keys(ctx, ns)
}

// appKey is the app key the session's client uses ("" without one): it
// names the app's keys in a Redis state backend.
func (s *session) appKey() string {
	if s.client != nil {
		return s.client.Config().AppKey
	}
	return s.cfg.Client.AppKey
}

// Close stops the sandbox, if any, and closes the state backend.
func (s *session) Close() {
	if s.state != nil {
		s.state.Close()
	}
	if s.sb != nil {
		s.sb.Close()
	}
}

// openState opens the [state] backend of f for appKey. An unreachable or
// misconfigured Redis server stops the command at start (exit 2, naming
// the URL with its password redacted): there is never a silent fallback to
// local state.
func openState(f *config.File, appKey string) (*state.Backend, error) {
	b, err := state.Open(context.Background(), f.State, appKey)
	if err != nil {
		where := "[state]"
		if f.Path != "" {
			where = f.Path + ": [state]"
		}
		return nil, configError(fmt.Errorf("%s: %w", where, err))
	}
	return b, nil
}

// connect loads the configuration and builds the client; with --sandbox it
// starts a sandbox on a free loopback port and points the client at it.
// Without credentials it returns a session with a nil client when optional,
// else a configuration error saying where credentials come from.
func (o *clientOptions) connect(st *State, logger *slog.Logger, optional bool) (*session, error) {
	faults, err := sandbox.ParseFaults(o.Faults)
	if err != nil {
		return nil, usageErrorf("run", "--faults: %v", err)
	}
	f, err := o.load(st, o.Sandbox)
	if err != nil {
		return nil, err
	}
	s := &session{cfg: f, tmcURL: f.TMCURL, log: logger}
	cfg := f.Client
	if o.Sandbox {
		sb, err := sandbox.StartLocal(sandbox.Options{Churn: o.Churn, Faults: faults})
		if err != nil {
			return nil, fmt.Errorf("starting the sandbox: %w", err)
		}
		s.sb = sb
		cfg.Gateway, s.tmcURL = sb.URL(), sb.TMCURL()
		cfg.AppKey, cfg.AppSecret, cfg.Session = sandbox.DefaultAppKey, sandbox.DefaultAppSecret, sandbox.DefaultSession
	}
	// Every output of the command hides the credentials in use (the
	// sandbox's with --sandbox) and the configuration's secrets, by value.
	s.secrets = append([]string{cfg.AppSecret, cfg.Session}, f.Secrets()...)
	if logger != nil {
		logger = slog.New(redact.Handler(logger.Handler(), redact.New(s.secrets...)))
	}
	s.log = logger
	open := func() (err error) {
		if o.Sandbox {
			// The sandbox starts from its seed every run: so does its state,
			// kept apart from real runs' (issue #14 item 5).
			s.state = state.Memory()
			return nil
		}
		if s.state, err = openState(f, cfg.AppKey); err != nil {
			return err
		}
		if w := s.state.PersistenceWarning(context.Background()); w != "" && logger != nil {
			logger.Warn(w)
		}
		return nil
	}
	if cfg.AppKey == "" || cfg.AppSecret == "" {
		if !optional {
			return nil, &exitError{code: ExitUsage, msg: noCredentials(f)}
		}
		if err := open(); err != nil {
			s.Close()
			return nil, err
		}
		return s, nil
	}
	if err := open(); err != nil {
		s.Close()
		return nil, err
	}
	var opts []top.Option
	if logger != nil {
		opts = append(opts, top.WithLogger(logger))
	}
	if o.onLongBan != nil {
		opts = append(opts, top.WithLongBan(o.onLongBan))
	}
	if lim := s.state.Limiter(); lim != nil {
		// One quota for the fleet: the app and method rates, and code-7
		// bans, are shared by every process of the app.
		opts = append(opts, top.WithShared(lim, lim))
	}
	c, err := top.NewClient(cfg, opts...)
	if err != nil {
		s.Close()
		return nil, configError(err)
	}
	s.client, s.session = c, cfg.Session
	s.shop = &shop.Resolver{Client: c, Store: s.state.Store(), AppKey: cfg.AppKey, Session: cfg.Session, Log: logger}
	if f.Path == "" && !o.Sandbox && cfg.Throttle.QPS <= 0 && logger != nil {
		warnUnthrottled(logger)
	}
	return s, nil
}

// warnUnthrottled says at start that calls to the real gateway are not
// paced: with no configuration file (credentials from the environment)
// there is no [throttle] qps, the client sends as fast as the script asks,
// and the platform answers an app over its quota with code-7 bans. This is
// a choice: a default rate would be a guess at an app's quota, which the
// platform sets per app, and would slow every app whose quota is higher.
// A configuration file states its throttle (config check shows it); the
// sandbox has no quota and is not warned about.
func warnUnthrottled(logger *slog.Logger) {
	logger.Warn("no configuration file: calls to TOP are not throttled (unlimited); set the app's rate in topscript.toml ([throttle] qps = N) to stay under its quota")
}

// noCredentials explains where an app key and secret come from.
func noCredentials(f *config.File) string {
	where := "no configuration file was found"
	if f.Path != "" {
		where = f.Path
		if f.Profile != "" {
			where += ", profile " + f.Profile + ","
		}
		where += " has none"
	}
	return fmt.Sprintf("topscript: no app key and secret (%s): set app_key and app_secret in a profile of topscript.toml, "+
		"or %s and %s, or use --sandbox", where, config.EnvAppKey, config.EnvAppSecret)
}
