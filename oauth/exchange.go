package oauth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/topscript/topscript/internal/redact"
	"github.com/topscript/topscript/top"
)

// Exchanger turns a code into a token and refreshes tokens.
type Exchanger interface {
	// Exchange exchanges code, issued for redirectURI, for a token.
	Exchange(ctx context.Context, code, redirectURI string) (*Token, error)
	// Refresh refreshes a token by its refresh token (which dies).
	Refresh(ctx context.Context, refreshToken string) (*Token, error)
}

// Endpoint is where shops authorise the app and codes are exchanged.
type Endpoint struct {
	AuthorizeURL string
	TokenURL     string
}

// The platform's endpoints.
var (
	Taobao        = Endpoint{AuthorizeURL: "https://oauth.taobao.com/authorize", TokenURL: "https://oauth.taobao.com/token"}
	TaobaoSandbox = Endpoint{AuthorizeURL: "https://oauth.tbsandbox.com/authorize", TokenURL: "https://oauth.tbsandbox.com/token"}
)

// EndpointAt is the endpoint served at base ("https://oauth.taobao.com"):
// base/authorize and base/token.
func EndpointAt(base string) Endpoint {
	base = strings.TrimRight(base, "/")
	return Endpoint{AuthorizeURL: base + "/authorize", TokenURL: base + "/token"}
}

// EndpointFor is the endpoint of a gateway: the platform's for its
// gateways (eco.taobao.com, gw.api.taobao.com; gw.api.tbsandbox.com for
// its sandbox), else the gateway's own host (the topscript sandbox serves
// /authorize and /token beside /router/rest).
func EndpointFor(gateway string) Endpoint {
	u, err := url.Parse(gateway)
	if err != nil || u.Host == "" {
		return Taobao
	}
	switch h := strings.ToLower(u.Hostname()); {
	case h == "eco.taobao.com", h == "gw.api.taobao.com", strings.HasSuffix(h, ".taobao.com"):
		return Taobao
	case strings.HasSuffix(h, "tbsandbox.com"):
		return TaobaoSandbox
	}
	return EndpointAt(u.Scheme + "://" + u.Host)
}

// Views of the authorize page.
const (
	ViewWeb = "web" // a computer's browser
	ViewWap = "wap" // a phone's
)

// App is the app's side of the flow at the platform's OAuth endpoint.
type App struct {
	Key, Secret string
	Endpoint    Endpoint
	// HTTP sends the token requests (nil: http.DefaultClient).
	HTTP *http.Client
	// Now is the clock of the token lifetimes (nil: time.Now).
	Now func() time.Time
}

// config is the x/oauth2 configuration of the app for redirectURI.
func (a *App) config(redirectURI string) *oauth2.Config {
	return &oauth2.Config{
		ClientID:     a.Key,
		ClientSecret: a.Secret,
		// The platform reads client_id and client_secret from the form.
		Endpoint:    oauth2.Endpoint{AuthURL: a.Endpoint.AuthorizeURL, TokenURL: a.Endpoint.TokenURL, AuthStyle: oauth2.AuthStyleInParams},
		RedirectURL: redirectURI,
	}
}

// AuthorizeURL is the page the shop's owner opens to authorise the app:
// response_type=code, client_id, redirect_uri, state and view (ViewWeb
// when "").
func (a *App) AuthorizeURL(redirectURI, state, view string) string {
	if view == "" {
		view = ViewWeb
	}
	return a.config(redirectURI).AuthCodeURL(state, oauth2.SetAuthURLParam("view", view))
}

func (a *App) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

func (a *App) ctx(ctx context.Context) context.Context {
	if a.HTTP != nil {
		return context.WithValue(ctx, oauth2.HTTPClient, a.HTTP)
	}
	return ctx
}

// Exchange implements Exchanger: POST TokenURL with
// grant_type=authorization_code.
func (a *App) Exchange(ctx context.Context, code, redirectURI string) (*Token, error) {
	tok, err := a.config(redirectURI).Exchange(a.ctx(ctx), code)
	return a.result("exchange", tok, err, code)
}

// Refresh implements Exchanger: POST TokenURL with
// grant_type=refresh_token.
func (a *App) Refresh(ctx context.Context, refreshToken string) (*Token, error) {
	if refreshToken == "" {
		return nil, &Error{Op: "refresh", Code: "invalid_request", Description: "the token has no refresh token"}
	}
	// An expired token makes the source refresh, once.
	src := a.config("").TokenSource(a.ctx(ctx), &oauth2.Token{RefreshToken: refreshToken, Expiry: time.Unix(1, 0)})
	tok, err := src.Token()
	return a.result("refresh", tok, err, refreshToken)
}

// result decodes an x/oauth2 answer (every field read from the raw
// result: x/oauth2 would give a refresh's dead refresh token back when the
// answer names none), or makes its error one of ours.
func (a *App) result(op string, tok *oauth2.Token, err error, secret string) (*Token, error) {
	rd := redact.New(a.Secret, secret)
	if err != nil {
		e := &Error{Op: op}
		var re *oauth2.RetrieveError
		switch {
		case errors.As(err, &re):
			e.Code, e.Description = rd.Text(re.ErrorCode), rd.Text(re.ErrorDescription)
			if re.Response != nil {
				e.Status = re.Response.StatusCode
			}
		case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
			e.Err = err
		default:
			e.Description = rd.Text(err.Error())
			e.Err = errTransport
		}
		return nil, e
	}
	t, derr := decodeResult(func(k string) (any, bool) {
		v := tok.Extra(k)
		return v, v != nil
	}, a.now())
	if derr != nil {
		return nil, &Error{Op: op, Description: derr.Error(), Err: derr}
	}
	return t, nil
}

// errTransport marks an Error of a request that got no usable answer.
var errTransport = errors.New("no answer")

// Gateway is the app's side of the flow through the TOP gateway:
// taobao.top.auth.token.create and taobao.top.auth.token.refresh.
type Gateway struct {
	Client *top.Client // the app's (no session is sent)
	Now    func() time.Time
}

// Exchange implements Exchanger with taobao.top.auth.token.create (the
// redirect URI is not sent).
func (g *Gateway) Exchange(ctx context.Context, code, _ string) (*Token, error) {
	return g.call(ctx, "exchange", "taobao.top.auth.token.create", "code", code)
}

// Refresh implements Exchanger with taobao.top.auth.token.refresh.
func (g *Gateway) Refresh(ctx context.Context, refreshToken string) (*Token, error) {
	return g.call(ctx, "refresh", "taobao.top.auth.token.refresh", "refresh_token", refreshToken)
}

// call calls method with its one parameter name = secret (a code or a
// refresh token).
func (g *Gateway) call(ctx context.Context, op, method, name, secret string) (*Token, error) {
	// A code is single-use and a refresh kills its refresh token: an
	// answer lost on the way is not asked for again (Retries 0).
	// The app's call: no shop's session goes with it.
	resp, err := g.Client.WithSessions(noSession{}).Call(ctx, method, top.Params{name: secret}, &top.CallOptions{Retries: 0})
	if err != nil {
		rd := redact.New(secret)
		e := &Error{Op: op, Description: rd.Text(err.Error()), Err: errTransport}
		var te *top.Error
		if errors.As(err, &te) && te.Code != 0 {
			e.Code, e.Description, e.Err = te.SubCode, rd.Text(te.SubMsg), nil
			if e.Code == "" {
				e.Code, e.Description = fmt.Sprint(te.Code), rd.Text(te.Msg)
			}
			if te.Kind == top.KindISP || te.Kind == top.KindFlowControl {
				e.Err = errTransport // the platform's fault or a limit: try again later
			}
		}
		return nil, e
	}
	raw, _ := resp.Payload["token_result"].(string)
	if raw == "" {
		return nil, &Error{Op: op, Description: method + " answered no token_result"}
	}
	now := time.Now
	if g.Now != nil {
		now = g.Now
	}
	t, derr := DecodeResult([]byte(raw), now())
	if derr != nil {
		return nil, &Error{Op: op, Description: derr.Error(), Err: derr}
	}
	return t, nil
}

// noSession is the session source of the app's own calls: none.
type noSession struct{}

func (noSession) Session(context.Context) (string, error) { return "", nil }
func (noSession) Rejected(string, *top.Error)             {}

// Error is a refused or failed exchange or refresh. Its text holds no
// secret.
type Error struct {
	Op          string // "exchange" or "refresh"
	Code        string // the OAuth error ("invalid_grant") or the gateway's sub_code (or code)
	Description string
	Status      int   // the token URL's HTTP status, when it answered
	Err         error // the cause, when there is one
}

// Error implements error.
func (e *Error) Error() string {
	what := "the token URL"
	if e.Op != "" {
		what = e.Op
	}
	var b strings.Builder
	b.WriteString("oauth: " + what)
	switch {
	case e.Code != "":
		b.WriteString(" refused: " + e.Code)
		if e.Description != "" {
			b.WriteString(": " + e.Description)
		}
	case e.Description != "":
		b.WriteString(" failed: " + e.Description)
	case e.Err != nil:
		b.WriteString(" failed: " + e.Err.Error())
	default:
		b.WriteString(" failed")
	}
	if e.Status != 0 && e.Code == "" {
		fmt.Fprintf(&b, " (HTTP %d)", e.Status)
	}
	return b.String()
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Refused reports whether the platform refused the code or refresh token
// itself (trying the same again cannot succeed: the shop must authorise
// again), as opposed to an answer that did not come.
func (e *Error) Refused() bool {
	return e.Code != "" && !errors.Is(e.Err, errTransport) && !errors.Is(e.Err, context.Canceled) && !errors.Is(e.Err, context.DeadlineExceeded)
}
