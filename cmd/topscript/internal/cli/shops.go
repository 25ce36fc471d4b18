package cli

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync"

	"github.com/spf13/pflag"

	"github.com/topscript/topscript/config"
	"github.com/topscript/topscript/luatop"
	"github.com/topscript/topscript/oauth"
	"github.com/topscript/topscript/shop"
	"github.com/topscript/topscript/state"
	"github.com/topscript/topscript/top"
)

// The shops a command works for: the authorised shops of the app (shop.Book
// in the state backend's tokens store), their sessions kept alive
// (shop.Keeper), and the targets of a run — one per shop, or the
// profile's own session as before shops existed.

// shopFlags select the shops a run is for.
type shopFlags struct {
	Shop     string   // --shop
	Shops    []string // --shops A,B
	AllShops bool     // --all-shops
	Parallel int      // --parallel
}

// DefaultParallel is how many shops a run over several runs at a time.
const DefaultParallel = 4

func (o *shopFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&o.Shop, "shop", "", "run for the authorised shop `NAME` (topscript auth login --shop NAME), with its session kept fresh")
	fs.StringSliceVar(&o.Shops, "shops", nil, "run once for each of these authorised shops (`A,B`), each its own engine and top.shop")
	fs.BoolVar(&o.AllShops, "all-shops", false, "run once for every authorised shop")
	fs.IntVar(&o.Parallel, "parallel", DefaultParallel, "with --shops or --all-shops: `N` shops run at a time, all under the app's one throttle")
}

// check refuses contradictory selections (cmd names the command).
func (o *shopFlags) check(cmd string) error {
	n := 0
	for _, set := range []bool{o.Shop != "", len(o.Shops) > 0, o.AllShops} {
		if set {
			n++
		}
	}
	switch {
	case n > 1:
		return usageErrorf(cmd, "give one of --shop, --shops and --all-shops")
	case o.Parallel < 1 || o.Parallel > 64:
		return usageErrorf(cmd, "--parallel must be between 1 and 64")
	}
	names := o.Shops
	if o.Shop != "" {
		names = []string{o.Shop}
	}
	if _, err := shop.CheckNames(names); err != nil {
		return usageErrorf(cmd, "%v", err)
	}
	return nil
}

// many reports whether the selection may name several shops.
func (o *shopFlags) many() bool { return o.AllShops || len(o.Shops) > 0 }

// book is the app's authorised shops.
func (s *session) book(appKey string) *shop.Book {
	return &shop.Book{Store: s.state.Tokens(), AppKey: appKey}
}

// keeper keeps the app's shop sessions: refreshes through the exchanger
// the profile names, under the backend's locks.
func (s *session) keeper(cfg top.Config) *shop.Keeper {
	return &shop.Keeper{
		Book:      s.book(cfg.AppKey),
		Locker:    s.state.Locker(),
		Exchanger: exchanger(s.cfg, cfg, s.client),
		Log:       s.log,
	}
}

// endpoint is where the profile's shops authorise.
func endpoint(f *config.File, cfg top.Config) oauth.Endpoint {
	if f.Shops.OAuthURL != "" {
		return oauth.EndpointAt(f.Shops.OAuthURL)
	}
	return oauth.EndpointFor(cfg.Gateway)
}

// exchanger exchanges and refreshes the profile's tokens: at the token URL,
// or through the gateway (oauth_exchange = "gateway").
func exchanger(f *config.File, cfg top.Config, c *top.Client) oauth.Exchanger {
	if f.Shops.Exchange == config.ExchangeGateway && c != nil {
		return &oauth.Gateway{Client: c}
	}
	return &oauth.App{Key: cfg.AppKey, Secret: cfg.AppSecret, Endpoint: endpoint(f, cfg), HTTP: &http.Client{Timeout: cfg.Timeout}}
}

// target is one engine's share of a run: a shop's, or the profile's
// session's.
type target struct {
	name   string // the shop's name; "" for the profile's session
	client *top.Client
	src    refusals // what the gateway refused
	rec    *shop.Record
	shop   *shop.Resolver
	store  state.Store
}

// refusals is a session source that remembers the gateway's refusals.
type refusals interface {
	top.SessionSource
	Refused() *top.Error
}

// fixedSession is the profile's session as a source: the session does not
// change; refusals are remembered for the run's last word.
type fixedSession struct {
	session string
	mu      sync.Mutex
	refused *top.Error
}

func (f *fixedSession) Session(context.Context) (string, error) { return f.session, nil }

func (f *fixedSession) Rejected(_ string, e *top.Error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.refused == nil {
		c := *e
		f.refused = &c
	}
}

func (f *fixedSession) Refused() *top.Error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.refused
}

// secrets are the target's own secrets, hidden from every output of its
// run as the configuration's are: the shop's session and refresh token.
func (t *target) secrets() []string {
	if t.rec == nil {
		return nil
	}
	return []string{t.rec.Token.AccessToken, t.rec.Token.RefreshToken}
}

// expiryWarning is the start-of-run warning that the target's shop loses
// its session for good soon ("" when it does not, or it is no shop).
func (t *target) expiryWarning() string {
	if src, ok := t.src.(*shop.Source); ok {
		return src.Warning()
	}
	return ""
}

// luaShop is the target's top.shop (nil for the profile's session).
func (t *target) luaShop() *luatop.Shop {
	if t.rec == nil {
		return nil
	}
	id := t.rec.Identity()
	return &luatop.Shop{Name: t.name, Nick: id.Nick, UserID: id.UserID}
}

// reauthorise is what to do about a refused session of the target ("":
// nothing was refused).
func (t *target) reauthorise(profile string) string {
	if t.src == nil {
		return ""
	}
	e := t.src.Refused()
	if e == nil {
		return ""
	}
	if t.name != "" {
		return shop.Reauthorise(t.name)
	}
	what := "the session"
	if profile != "" {
		what = "the session of profile " + profile
	}
	return fmt.Sprintf("%s was refused (%d %s): authorise the shop (topscript auth login --shop NAME) and run with --shop NAME, or set a new session",
		what, e.Code, e.Msg)
}

// lockName is the --lock name of script for the target (session.lockName).
func (t *target) lockName(ctx context.Context, script string) (string, error) {
	name := lockName(script)
	if t.shop == nil {
		return name, nil
	}
	id, err := t.shop.Identity(ctx)
	if err != nil {
		return "", err
	}
	if id.UserID != "" {
		name += " (shop " + id.UserID + ")"
	}
	return name, nil
}

// shopNames are the shops sel names: the flags', else the profile's shop.
func (s *session) shopNames(ctx context.Context, sel shopFlags, cfg top.Config) ([]string, error) {
	switch {
	case sel.AllShops:
		names, err := s.book(cfg.AppKey).Names(ctx)
		if err != nil {
			return nil, err
		}
		if len(names) == 0 {
			return nil, &exitError{code: ExitUsage, msg: "topscript run: --all-shops: no shop is authorised for app " + cfg.AppKey +
				": authorise one with topscript auth login --shop NAME"}
		}
		return names, nil
	case len(sel.Shops) > 0:
		seen := map[string]bool{}
		var names []string
		for _, n := range sel.Shops {
			if !seen[n] {
				seen[n] = true
				names = append(names, n)
			}
		}
		return names, nil
	case sel.Shop != "":
		return []string{sel.Shop}, nil
	case s.cfg.Shops.Shop != "":
		return []string{s.cfg.Shops.Shop}, nil
	}
	return nil, nil
}

// targets are the engines a run starts: one per selected shop, else the
// profile's session (or none).
func (s *session) targets(ctx context.Context, sel shopFlags) ([]*target, error) {
	var cfg top.Config
	if s.client != nil {
		cfg = s.client.Config()
		cfg.AppSecret = s.cfg.Client.AppSecret
	}
	names, err := s.shopNames(ctx, sel, cfg)
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		t := &target{client: s.client, shop: s.shop, store: s.store(nil)}
		if s.client != nil {
			fs := &fixedSession{session: s.session}
			t.src, t.client = fs, s.client.WithSessions(fs)
		}
		return []*target{t}, nil
	}
	if s.client == nil {
		return nil, &exitError{code: ExitUsage, msg: noCredentials(s.cfg)}
	}
	k := s.keeper(cfg)
	out := make([]*target, 0, len(names))
	for _, name := range names {
		src, err := k.Source(ctx, name)
		if errors.Is(err, shop.ErrNotAuthorised) {
			return nil, &exitError{code: ExitUsage, msg: "topscript run: " + err.Error(), err: err}
		}
		if err != nil {
			return nil, fmt.Errorf("shop %s: %w", name, err)
		}
		rec := src.Record()
		c := s.client.WithSessions(src)
		res := &shop.Resolver{Client: c, Store: s.state.Store(), AppKey: cfg.AppKey, Session: rec.Token.AccessToken, Shop: rec.Identity(), Log: s.log}
		out = append(out, &target{name: name, client: c, src: src, rec: rec, shop: res, store: s.store(res)})
		if w := src.Warning(); w != "" && s.log != nil {
			s.log.Warn(w, "shop", name)
		}
	}
	return out, nil
}

// shopReportPath inserts a shop's name into a job's report path:
// "prices.report.csv" → "prices.report.A.csv".
func shopReportPath(name string) func(string) string {
	return func(p string) string {
		ext := filepath.Ext(p)
		if ext == "" || strings.ContainsAny(ext, `/\`) {
			return p + "." + name
		}
		return strings.TrimSuffix(p, ext) + "." + name + ext
	}
}
