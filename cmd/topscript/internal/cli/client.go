package cli

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/topscript/topscript/config"
	"github.com/topscript/topscript/sandbox"
	"github.com/topscript/topscript/state"
	"github.com/topscript/topscript/top"
)

// clientOptions are the flags of every command that talks to TOP.
type clientOptions struct {
	Config  string // --config
	Profile string // --profile
	Sandbox bool   // --sandbox
}

func (o *clientOptions) register(fs *flagSet) {
	fs.StringVar(&o.Config, "config", "", "configuration `file` (default ./topscript.toml, else $XDG_CONFIG_HOME/topscript/topscript.toml)")
	fs.StringVar(&o.Profile, "profile", "", "profile `name` in the configuration (default: its profile key, else \"default\")")
	fs.BoolVar(&o.Sandbox, "sandbox", false, "run against an in-process sandbox gateway with its test credentials (no account or configuration needed)")
}

// loadConfig loads the configuration the options name. Errors are
// configuration errors (exit 2).
func (o *clientOptions) loadConfig(st *State) (*config.File, error) {
	// ./topscript.toml is looked up in the working directory, and named
	// relative to it in messages.
	f, err := config.LoadOptions(config.Options{
		Path:          o.Config,
		Profile:       o.Profile,
		Env:           st.getenv,
		NoCredentials: o.Sandbox,
	})
	if err != nil {
		return nil, configError(err)
	}
	return f, nil
}

// session is a configured client, and the sandbox behind it with --sandbox.
type session struct {
	cfg    *config.File
	client *top.Client
	sb     *sandbox.Server
	scope  string // state.Scope of the app and shop the client works for
	// redis is the [state] backend = "redis" store, opened at start: the
	// client's throttle and bans are shared through it, and the run's
	// state, checkpoints and locks live in it.
	redis *state.RedisStore
}

// appKey is the app key the session's client uses ("" without one): it
// names the app's keys in a Redis state backend.
func (s *session) appKey() string {
	if s.client != nil {
		return s.client.Config().AppKey
	}
	return s.cfg.Client.AppKey
}

// Close stops the sandbox, if any, and closes the Redis store.
func (s *session) Close() {
	if s.redis != nil {
		s.redis.Close()
	}
	if s.sb != nil {
		s.sb.Close()
	}
}

// openRedis opens the [state] Redis store of the app eagerly: the throttle
// needs it before the first call, and an unreachable or misconfigured
// server must stop the command at start (exit 2, naming the URL with its
// password redacted), never fall back to local state.
func openRedis(f *config.File, appKey string) (*state.RedisStore, error) {
	rs, err := state.OpenRedis(context.Background(), f.State.RedisURL, appKey)
	if err != nil {
		where := "[state]"
		if f.Path != "" {
			where = f.Path + ": [state]"
		}
		return nil, configError(fmt.Errorf("%s: %w", where, err))
	}
	rs.SetLease(f.State.LockLease)
	return rs, nil
}

// connect loads the configuration and builds the client; with --sandbox it
// starts a sandbox on a free loopback port and points the client at it.
// Without credentials it returns a session with a nil client when optional,
// else a configuration error saying where credentials come from.
func (o *clientOptions) connect(st *State, logger *slog.Logger, optional bool) (*session, error) {
	f, err := o.loadConfig(st)
	if err != nil {
		return nil, err
	}
	s := &session{cfg: f}
	cfg := f.Client
	if o.Sandbox {
		sb, err := sandbox.StartLocal(sandbox.Options{})
		if err != nil {
			return nil, fmt.Errorf("starting the sandbox: %w", err)
		}
		s.sb = sb
		cfg.Gateway = sb.URL()
		cfg.AppKey, cfg.AppSecret, cfg.Session = sandbox.DefaultAppKey, sandbox.DefaultAppSecret, sandbox.DefaultSession
	}
	if cfg.AppKey == "" || cfg.AppSecret == "" {
		if optional {
			return s, nil
		}
		return nil, &exitError{code: ExitUsage, msg: noCredentials(f)}
	}
	s.scope = state.Scope(cfg.AppKey, cfg.Session)
	var opts []top.Option
	if logger != nil {
		opts = append(opts, top.WithLogger(logger))
	}
	if f.State.Backend == config.StateRedis {
		rs, err := openRedis(f, cfg.AppKey)
		if err != nil {
			s.Close()
			return nil, err
		}
		s.redis = rs
		// One quota for the fleet: the app and method rates, and code-7
		// bans, are shared by every process of the app.
		lim := rs.Limiter()
		opts = append(opts, top.WithShared(lim, lim))
	}
	c, err := top.NewClient(cfg, opts...)
	if err != nil {
		s.Close()
		return nil, configError(err)
	}
	s.client = c
	return s, nil
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
