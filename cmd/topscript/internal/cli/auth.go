package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os/exec"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/topscript/topscript/oauth"
	"github.com/topscript/topscript/shop"
	"github.com/topscript/topscript/toptime"
)

const authLong = `
A shop authorises the app once (auth login); topscript keeps its token
result — session, refresh token, the lifetimes of the session and of each
security level — in the [state] backend (a 0600 file beside the state file,
or Redis), never in topscript.toml. Runs name the shop (run --shop NAME,
--shops A,B, --all-shops, or a profile's shop key) and get its session,
refreshed before it expires (once across a fleet sharing Redis). A session
that cannot be refreshed is warned about at the start of every run within
3 days of its end.

Where shops authorise: the platform's oauth.taobao.com for its gateways,
the gateway's own host for any other (the topscript sandbox), or a
profile's oauth_url. Codes are exchanged and tokens refreshed at the token
URL, or through the gateway with oauth_exchange = "gateway"
(taobao.top.auth.token.create and refresh).

No token, code or secret is ever printed.`

// newAuthCmd is `topscript auth`.
func newAuthCmd(st *State) *cobra.Command {
	c := &cobra.Command{
		Use:               "auth",
		Short:             "Authorise shops and keep their sessions (login, list, refresh, logout)",
		Long:              authLong,
		Annotations:       map[string]string{annSynopsis: "auth login|list|refresh|logout"},
		Args:              subcommandError,
		ValidArgsFunction: cobra.NoFileCompletions,
		RunE:              func(c *cobra.Command, args []string) error { return subcommandError(c, args) },
	}
	c.AddCommand(newAuthLoginCmd(st, nil), newAuthListCmd(st, nil), newAuthRefreshCmd(st, nil), newAuthLogoutCmd(st, nil))
	return c
}

// authFlags are the flags every auth command has.
type authFlags struct {
	configFlags
	JSON bool // --json
}

func (o *authFlags) register(c *cobra.Command) {
	o.configFlags.register(c.Flags())
	c.Flags().BoolVar(&o.JSON, "json", false, "print the result as JSON")
}

// connect is what an auth command works with: the app's client (its
// credentials required) and the state backend its shops are kept in.
func (o *authFlags) connect(st *State) (*session, error) {
	co := clientOptions{configFlags: o.configFlags}
	return co.connect(st, slog.New(slog.NewTextHandler(st.Stderr, nil)), false)
}

// ---- login ----

// authLoginOptions are the flags of `auth login`.
type authLoginOptions struct {
	authFlags
	Shop        string
	Code        string
	RedirectURI string
	Listen      string
	NoBrowser   bool
	View        string
	Wait        time.Duration
}

const authLoginLong = `
Without --code: prints the authorize page's URL (and opens it in a browser
where there is one), listens on the loopback address (--listen) for the
platform's redirect, checks that it carries this login's state, and
exchanges the code. The platform redirects only to a URI registered for
the app: where that is not this host, open the page anywhere, copy the
code from the address the browser lands on, and pass it with --code (and
--redirect-uri, the URI the page was opened with); --code - reads it from
standard input, out of the shell's history.

Without --shop the shop is named after its nick.`

func newAuthLoginCmd(st *State, runF func(context.Context, *authLoginOptions) error) *cobra.Command {
	o := &authLoginOptions{}
	c := &cobra.Command{
		Use:               "login [--shop NAME]",
		Short:             "Authorise a shop: the authorization-code flow",
		Long:              authLoginLong,
		Args:              noArgs,
		ValidArgsFunction: cobra.NoFileCompletions,
		RunE: func(c *cobra.Command, args []string) error {
			if runF != nil {
				return runF(c.Context(), o)
			}
			return runAuthLogin(c.Context(), st, o)
		},
	}
	o.authFlags.register(c)
	fs := c.Flags()
	fs.StringVar(&o.Shop, "shop", "", "the `NAME` to keep the shop under (default: its nick)")
	fs.StringVar(&o.Code, "code", "", "exchange this authorization `CODE` (\"-\": read it from standard input) instead of waiting for the redirect")
	fs.StringVar(&o.RedirectURI, "redirect-uri", "", "with --code: the `URI` the authorize page was opened with")
	fs.StringVar(&o.Listen, "listen", "127.0.0.1:0", "the loopback `address` catching the redirect (port 0: a free one)")
	fs.BoolVar(&o.NoBrowser, "no-browser", false, "print the authorize page's URL only, do not open a browser")
	fs.StringVar(&o.View, "view", oauth.ViewWeb, "the authorize page for a computer (web) or a phone (wap)")
	fs.DurationVar(&o.Wait, "wait", 10*time.Minute, "how long to wait for the redirect")
	return c
}

func runAuthLogin(ctx context.Context, st *State, o *authLoginOptions) error {
	if o.Shop != "" {
		if err := shop.CheckName(o.Shop); err != nil {
			return usageErrorf("auth login", "--shop: %v", err)
		}
	}
	switch {
	case o.View != oauth.ViewWeb && o.View != oauth.ViewWap:
		return usageErrorf("auth login", "--view %q: want web or wap", o.View)
	case o.Wait <= 0:
		return usageErrorf("auth login", "--wait must be positive")
	}
	s, err := o.connect(st)
	if err != nil {
		return err
	}
	defer s.Close()
	ctx, stop := st.Interruptible(ctx)
	defer stop()
	cfg := s.client.Config()
	cfg.AppSecret = s.cfg.Client.AppSecret
	app := &oauth.App{Key: cfg.AppKey, Secret: cfg.AppSecret, Endpoint: endpoint(s.cfg, cfg)}
	ex := exchanger(s.cfg, cfg, s.client)

	code, redirect := o.Code, o.RedirectURI
	switch {
	case code == "-":
		line, err := bufio.NewReader(st.Stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("auth login: reading the code: %w", err)
		}
		code = strings.TrimSpace(line)
		if code == "" {
			return usageErrorf("auth login", "--code -: standard input holds no code")
		}
	case code == "" && redirect != "":
		return usageErrorf("auth login", "--redirect-uri goes with --code (without it the redirect URI is the loopback listener's)")
	}
	if code != "" {
		if _, isApp := ex.(*oauth.App); isApp && redirect == "" {
			return usageErrorf("auth login", "--code needs --redirect-uri: the URI the authorize page was opened with (the token URL checks it)")
		}
	} else {
		if code, redirect, err = awaitCode(ctx, st, o, app); err != nil {
			return err
		}
	}
	tok, err := ex.Exchange(ctx, code, redirect)
	if err != nil {
		return authError("auth login", err)
	}
	name := o.Shop
	if name == "" {
		name = tok.Nick
		if shop.CheckName(name) != nil {
			name = "shop-" + tok.UserID
		}
	}
	book := s.book(cfg.AppKey)
	if old, err := book.Get(ctx, name); err == nil && old.Token.UserID != tok.UserID {
		s.log.Warn(fmt.Sprintf("shop %s was user %s (%s); it is now user %s (%s): its runs now keep the new shop's state",
			name, old.Token.UserID, old.Token.Nick, tok.UserID, tok.Nick))
	}
	rec, err := book.Put(ctx, name, tok)
	if err != nil {
		return fmt.Errorf("auth login: keeping shop %s: %w", name, err)
	}
	if o.JSON {
		return writeJSON(st.Stdout, shopJSON(rec, time.Now()))
	}
	fmt.Fprintf(st.Stdout, "shop %s authorised: %s (user %s); its session expires at %s, %s\n",
		name, tok.Nick, tok.UserID, toptime.Format(tok.Expires), refreshText(rec, time.Now()))
	return nil
}

// awaitCode runs the browser half of the flow: the authorize URL printed
// (and opened), the redirect caught on the loopback listener.
func awaitCode(ctx context.Context, st *State, o *authLoginOptions, app *oauth.App) (code, redirect string, err error) {
	state := oauth.NewState()
	cb, err := oauth.Listen(o.Listen, state)
	if err != nil {
		return "", "", usageErrorf("auth login", "--listen %s: %v", o.Listen, errors.Unwrap(err))
	}
	defer cb.Close()
	page := app.AuthorizeURL(cb.RedirectURI(), state, o.View)
	fmt.Fprintf(st.Stderr, "Open this page to authorise the shop (waiting %s for the redirect to %s; Ctrl-C stops):\n  %s\n",
		o.Wait, cb.RedirectURI(), page)
	if !o.NoBrowser {
		open := st.OpenURL
		if open == nil {
			open = openBrowser
		}
		_ = open(page) // no browser: the page is printed above
	}
	wctx, cancel := context.WithTimeout(ctx, o.Wait)
	defer cancel()
	code, err = cb.Wait(wctx)
	if err != nil {
		if errors.Is(context.Cause(ctx), ErrInterrupted) {
			return "", "", &exitError{code: ExitInterrupted, msg: "topscript auth login: interrupted", err: err}
		}
		return "", "", authError("auth login", err)
	}
	return code, cb.RedirectURI(), nil
}

// openBrowser opens u in the desktop's browser, where there is one
// (xdg-open, open, the Windows shell). Hand-written: five lines no library
// does better; a failure is not an error, the URL is printed anyway.
func openBrowser(u string) error {
	var cmd *exec.Cmd
	switch runtime.GOOS {
	case "darwin":
		cmd = exec.Command("open", u)
	case "windows":
		cmd = exec.Command("rundll32", "url.dll,FileProtocolHandler", u)
	default:
		if _, err := exec.LookPath("xdg-open"); err != nil {
			return err
		}
		cmd = exec.Command("xdg-open", u)
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	go func() { _ = cmd.Wait() }()
	return nil
}

// authError is an exchange or refresh that failed: exit 1, the error as
// it is (it holds no secret).
func authError(cmd string, err error) error {
	return &exitError{code: ExitScript, msg: "topscript " + cmd + ": " + err.Error(), err: err}
}

// ---- list ----

// authListOptions are the flags of `auth list`.
type authListOptions struct{ authFlags }

func newAuthListCmd(st *State, runF func(context.Context, *authListOptions) error) *cobra.Command {
	o := &authListOptions{}
	c := &cobra.Command{
		Use:               "list",
		Short:             "List the authorised shops: nick, user id, when the session and each level expire, refreshable or not",
		Args:              noArgs,
		ValidArgsFunction: cobra.NoFileCompletions,
		RunE: func(c *cobra.Command, args []string) error {
			if runF != nil {
				return runF(c.Context(), o)
			}
			return runAuthList(c.Context(), st, o)
		},
	}
	o.authFlags.register(c)
	return c
}

func runAuthList(ctx context.Context, st *State, o *authListOptions) error {
	s, err := o.connect(st)
	if err != nil {
		return err
	}
	defer s.Close()
	recs, err := s.book(s.client.Config().AppKey).List(ctx)
	if err != nil {
		return err
	}
	now := time.Now()
	if o.JSON {
		out := make([]shopInfo, len(recs))
		for i, r := range recs {
			out[i] = shopJSON(r, now)
		}
		return writeJSON(st.Stdout, out)
	}
	if len(recs) == 0 {
		fmt.Fprintln(st.Stderr, "no shop is authorised: topscript auth login --shop NAME")
		return nil
	}
	tw := tabwriter.NewWriter(st.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SHOP\tNICK\tUSER ID\tSESSION EXPIRES\tR1\tR2\tW1\tW2\tREFRESHABLE")
	for _, r := range recs {
		t := &r.Token
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Name, t.Nick, t.UserID, when(t.Expires, now),
			when(t.R1, now), when(t.R2, now), when(t.W1, now), when(t.W2, now), refreshText(r, now))
	}
	return tw.Flush()
}

// when is an expiry as the tables show it: the time, or "expired" after
// it.
func when(t, now time.Time) string {
	if !t.After(now) {
		return "expired " + toptime.Format(t)
	}
	return toptime.Format(t)
}

// refreshText says whether the record's session will be refreshed.
func refreshText(r *shop.Record, now time.Time) string {
	switch {
	case r.Refreshable(now) && !r.Token.RefreshExpires.IsZero():
		return "refreshable until " + toptime.Format(r.Token.RefreshExpires)
	case r.Refreshable(now):
		return "refreshable"
	case r.RefreshError != "":
		return "not refreshable (the last refresh was refused)"
	}
	return "not refreshable"
}

// shopInfo is a shop as --json prints it: no secret.
type shopInfo struct {
	Shop           string            `json:"shop"`
	Nick           string            `json:"nick"`
	UserID         string            `json:"user_id"`
	SubUserID      string            `json:"sub_user_id,omitempty"`
	Expires        string            `json:"expires"`
	Expired        bool              `json:"expired"`
	Levels         map[string]string `json:"levels"`
	Refreshable    bool              `json:"refreshable"`
	RefreshExpires string            `json:"refresh_expires,omitempty"`
	RefreshError   string            `json:"refresh_error,omitempty"`
	Authorised     string            `json:"authorised"`
	Refreshed      string            `json:"refreshed,omitempty"`
}

func shopJSON(r *shop.Record, now time.Time) shopInfo {
	t := &r.Token
	info := shopInfo{Shop: r.Name, Nick: t.Nick, UserID: t.UserID, SubUserID: t.SubUserID,
		Expires: toptime.Format(t.Expires), Expired: !t.Expires.After(now), Levels: map[string]string{},
		Refreshable: r.Refreshable(now), RefreshError: r.RefreshError, Authorised: toptime.Format(r.Authorised)}
	for _, l := range oauth.Levels {
		info.Levels[l] = toptime.Format(t.Level(l))
	}
	if !t.RefreshExpires.IsZero() && info.Refreshable {
		info.RefreshExpires = toptime.Format(t.RefreshExpires)
	}
	if !r.Refreshed.IsZero() {
		info.Refreshed = toptime.Format(r.Refreshed)
	}
	return info
}

// ---- refresh ----

// authRefreshOptions are the flags of `auth refresh`.
type authRefreshOptions struct {
	authFlags
	Shops []string
}

func newAuthRefreshCmd(st *State, runF func(context.Context, *authRefreshOptions) error) *cobra.Command {
	o := &authRefreshOptions{}
	c := &cobra.Command{
		Use:               "refresh [--shop NAME]...",
		Short:             "Refresh shops' sessions now (every authorised shop without --shop)",
		Args:              noArgs,
		ValidArgsFunction: cobra.NoFileCompletions,
		RunE: func(c *cobra.Command, args []string) error {
			if runF != nil {
				return runF(c.Context(), o)
			}
			return runAuthRefresh(c.Context(), st, o)
		},
	}
	o.authFlags.register(c)
	c.Flags().StringSliceVar(&o.Shops, "shop", nil, "the shop `NAME` to refresh (repeat it, or A,B)")
	return c
}

// refreshInfo is one refresh as --json prints it.
type refreshInfo struct {
	Shop      string `json:"shop"`
	Refreshed bool   `json:"refreshed"`
	Expires   string `json:"expires,omitempty"`
	Error     string `json:"error,omitempty"`
}

func runAuthRefresh(ctx context.Context, st *State, o *authRefreshOptions) error {
	s, err := o.connect(st)
	if err != nil {
		return err
	}
	defer s.Close()
	ctx, stop := st.Interruptible(ctx)
	defer stop()
	cfg := s.client.Config()
	cfg.AppSecret = s.cfg.Client.AppSecret
	k := s.keeper(cfg)
	k.Log = nil // each refresh is reported below
	names := o.Shops
	if len(names) == 0 {
		if names, err = k.Book.Names(ctx); err != nil {
			return err
		}
	}
	var out []refreshInfo
	failed := 0
	for _, name := range names {
		rec, refreshed, err := k.Refresh(ctx, name)
		info := refreshInfo{Shop: name, Refreshed: refreshed}
		if rec != nil {
			info.Expires = toptime.Format(rec.Token.Expires)
		}
		if err != nil {
			failed++
			info.Error = err.Error()
			if errors.Is(err, shop.ErrNotRefreshable) || isRefused(err) {
				info.Error += "; " + shop.Reauthorise(name)
			}
		}
		out = append(out, info)
		if o.JSON {
			continue
		}
		switch {
		case err != nil:
			fmt.Fprintf(st.Stderr, "shop %s: not refreshed: %s\n", name, info.Error)
		case refreshed:
			fmt.Fprintf(st.Stdout, "shop %s: refreshed; the session expires at %s\n", name, info.Expires)
		default:
			fmt.Fprintf(st.Stdout, "shop %s: refreshed by another process just now; the session expires at %s\n", name, info.Expires)
		}
	}
	if o.JSON {
		if out == nil {
			out = []refreshInfo{}
		}
		if err := writeJSON(st.Stdout, out); err != nil {
			return err
		}
	}
	if len(names) == 0 && !o.JSON {
		fmt.Fprintln(st.Stderr, "no shop is authorised: topscript auth login --shop NAME")
	}
	if failed > 0 {
		return &exitError{code: ExitScript}
	}
	return nil
}

// isRefused reports whether err is the platform refusing a refresh.
func isRefused(err error) bool {
	var oe *oauth.Error
	return errors.As(err, &oe) && oe.Refused()
}

// ---- logout ----

// authLogoutOptions are the flags of `auth logout`.
type authLogoutOptions struct {
	authFlags
	Shop string
}

func newAuthLogoutCmd(st *State, runF func(context.Context, *authLogoutOptions) error) *cobra.Command {
	o := &authLogoutOptions{}
	c := &cobra.Command{
		Use:               "logout --shop NAME",
		Short:             "Forget a shop's session",
		Args:              noArgs,
		ValidArgsFunction: cobra.NoFileCompletions,
		RunE: func(c *cobra.Command, args []string) error {
			if runF != nil {
				return runF(c.Context(), o)
			}
			return runAuthLogout(c.Context(), st, o)
		},
	}
	o.authFlags.register(c)
	c.Flags().StringVar(&o.Shop, "shop", "", "the shop `NAME` to forget")
	return c
}

func runAuthLogout(ctx context.Context, st *State, o *authLogoutOptions) error {
	if o.Shop == "" {
		return usageErrorf("auth logout", "missing --shop NAME")
	}
	s, err := o.connect(st)
	if err != nil {
		return err
	}
	defer s.Close()
	book := s.book(s.client.Config().AppKey)
	rec, err := book.Get(ctx, o.Shop)
	if errors.Is(err, shop.ErrNotAuthorised) {
		return &exitError{code: ExitUsage, msg: "topscript auth logout: " + err.Error(), err: err}
	}
	if err != nil {
		return err
	}
	removed, err := book.Delete(ctx, o.Shop)
	if err != nil {
		return err
	}
	if o.JSON {
		return writeJSON(st.Stdout, map[string]any{"shop": o.Shop, "removed": removed})
	}
	fmt.Fprintf(st.Stdout, "shop %s forgotten: topscript keeps no copy of its session (the platform honours it until %s, or until the shop revokes the app)\n",
		o.Shop, toptime.Format(rec.Token.Expires))
	return nil
}
