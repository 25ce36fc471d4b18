package oauth_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/topscript/topscript/internal/sandboxtest"
	"github.com/topscript/topscript/oauth"
	"github.com/topscript/topscript/sandbox"
	"github.com/topscript/topscript/top"
)

// noFollow is an HTTP client that does not follow redirects.
var noFollow = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// approve opens u as the shop's owner's browser would, for shop k of the
// sandbox, and returns where the sandbox redirected.
func approve(t *testing.T, u string, k string) *url.URL {
	t.Helper()
	if k != "" {
		u += "&sandbox_shop=" + k
	}
	resp, err := noFollow.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("authorize: HTTP %d", resp.StatusCode)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func app(sb *sandbox.Server) *oauth.App {
	return &oauth.App{Key: sandbox.DefaultAppKey, Secret: sandbox.DefaultAppSecret, Endpoint: oauth.EndpointFor(sb.URL())}
}

// The whole flow at the token URL: the authorize URL names the app, the
// redirect URI, the state and the view; the code comes back to the
// loopback listener; it is exchanged once for a token of the shop that
// approved, which refreshes into another (the refresh token dying).
func TestAppFlow(t *testing.T) {
	sb := sandboxtest.Start(t, sandbox.Options{Shops: 2})
	a := app(sb)
	state := oauth.NewState()
	cb, err := oauth.Listen("127.0.0.1:0", state)
	if err != nil {
		t.Fatal(err)
	}
	defer cb.Close()
	au := a.AuthorizeURL(cb.RedirectURI(), state, "")
	q, _ := url.Parse(au)
	if q.Path != "/authorize" || q.Query().Get("client_id") != sandbox.DefaultAppKey || q.Query().Get("response_type") != "code" ||
		q.Query().Get("redirect_uri") != cb.RedirectURI() || q.Query().Get("state") != state || q.Query().Get("view") != "web" {
		t.Fatalf("authorize URL %s", au)
	}
	// A redirect carrying another state is refused and waited past.
	loc := approve(t, au, "2")
	forged := *loc
	fq := forged.Query()
	fq.Set("state", "forged")
	forged.RawQuery = fq.Encode()
	if resp, err := http.Get(forged.String()); err != nil || resp.StatusCode != 400 {
		t.Fatalf("forged redirect: %v %v", resp, err)
	}
	if resp, err := http.Get(loc.String()); err != nil || resp.StatusCode != 200 {
		t.Fatalf("redirect: %v %v", resp, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	code, err := cb.Wait(ctx)
	if err != nil || code == "" {
		t.Fatalf("Wait: %q %v", code, err)
	}
	tok, err := a.Exchange(ctx, code, cb.RedirectURI())
	if err != nil {
		t.Fatal(err)
	}
	if tok.UserID != "2206571234568" || tok.Nick != "topscript沙箱店2" || !tok.Refreshable(time.Now()) {
		t.Errorf("token of shop 2: %+v", tok)
	}
	if d := time.Until(tok.Expires); d < 23*time.Hour || d > 24*time.Hour {
		t.Errorf("expires in %v", d)
	}
	if d := time.Until(tok.W2); d < 29*time.Minute || d > 30*time.Minute {
		t.Errorf("w2 ends in %v", d)
	}
	if !tok.R1.Equal(tok.Expires) {
		t.Errorf("r1 %v, expires %v", tok.R1, tok.Expires)
	}
	_, err = a.Exchange(ctx, code, cb.RedirectURI())
	var oe *oauth.Error
	if !errors.As(err, &oe) || oe.Code != "invalid_grant" || !oe.Refused() || strings.Contains(err.Error(), code) {
		t.Errorf("the code again: %v", err)
	}
	fresh, err := a.Refresh(ctx, tok.RefreshToken)
	if err != nil || fresh.AccessToken == tok.AccessToken || fresh.RefreshToken == tok.RefreshToken || fresh.UserID != tok.UserID {
		t.Fatalf("refresh: %+v %v", fresh, err)
	}
	_, err = a.Refresh(ctx, tok.RefreshToken)
	if !errors.As(err, &oe) || !oe.Refused() || strings.Contains(err.Error(), tok.RefreshToken) {
		t.Errorf("the dead refresh token: %v", err)
	}
	bad := *a
	bad.Secret = "wrong-secret"
	_, err = bad.Refresh(ctx, fresh.RefreshToken)
	if !errors.As(err, &oe) || oe.Code != "invalid_client" || strings.Contains(err.Error(), "wrong-secret") {
		t.Errorf("a wrong secret: %v", err)
	}
	if o := sb.OAuthStats(); o.Exchanges != 1 || o.Refreshes != 1 {
		t.Errorf("sandbox saw %+v", o)
	}
	// No answer at all: not a refusal.
	gone := *a
	gone.Endpoint = oauth.EndpointAt("http://127.0.0.1:1")
	_, err = gone.Refresh(ctx, fresh.RefreshToken)
	if !errors.As(err, &oe) || oe.Refused() || strings.Contains(err.Error(), fresh.RefreshToken) {
		t.Errorf("unreachable token URL: %v", err)
	}
}

// The owner's refusal at the authorize page ends the wait with its error.
func TestCallbackRefusal(t *testing.T) {
	cb, err := oauth.Listen("127.0.0.1:0", "s")
	if err != nil {
		t.Fatal(err)
	}
	defer cb.Close()
	if _, err := http.Get(cb.RedirectURI() + "?state=s&error=access_denied&error_description=no"); err != nil {
		t.Fatal(err)
	}
	_, err = cb.Wait(context.Background())
	var oe *oauth.Error
	if !errors.As(err, &oe) || oe.Code != "access_denied" {
		t.Errorf("refused: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := cb.Wait(ctx); !errors.Is(err, oauth.ErrNoRedirect) {
		t.Errorf("nothing came: %v", err)
	}
}

// Through the gateway: token.create and token.refresh, the result decoded
// from its JSON string; a bad code is refused (15 isv.code-invalid).
func TestGatewayFlow(t *testing.T) {
	sb := sandboxtest.Start(t, sandbox.Options{})
	cfg := top.DefaultConfig()
	cfg.AppKey, cfg.AppSecret, cfg.Gateway = sandbox.DefaultAppKey, sandbox.DefaultAppSecret, sb.URL()
	c, err := top.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	g := &oauth.Gateway{Client: c}
	loc := approve(t, app(sb).AuthorizeURL("http://127.0.0.1:9/cb", "x", oauth.ViewWap), "")
	ctx := context.Background()
	tok, err := g.Exchange(ctx, loc.Query().Get("code"), "")
	if err != nil || tok.UserID != "2206571234567" || tok.AccessToken == "" {
		t.Fatalf("token.create: %+v %v", tok, err)
	}
	_, err = g.Exchange(ctx, loc.Query().Get("code"), "")
	var oe *oauth.Error
	if !errors.As(err, &oe) || oe.Code != "isv.code-invalid" || !oe.Refused() || strings.Contains(err.Error(), loc.Query().Get("code")) {
		t.Errorf("the code again: %v", err)
	}
	fresh, err := g.Refresh(ctx, tok.RefreshToken)
	if err != nil || fresh.AccessToken == tok.AccessToken {
		t.Fatalf("token.refresh: %v", err)
	}
}

// Token results as the platform may write them: numbers as strings,
// absolute times only, no level windows, re_expires_in 0; unusable ones
// are refused naming the field.
func TestDecodeResult(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	tok, err := oauth.DecodeResult([]byte(`{"access_token":"s","expires_in":"3600","refresh_token":"r","re_expires_in":7200,
		"w2_expires_in":0,"taobao_user_id":2206571234567,"taobao_user_nick":"%E5%BA%97","sub_taobao_user_id":"0"}`), now)
	if err != nil {
		t.Fatal(err)
	}
	if !tok.Expires.Equal(now.Add(time.Hour)) || !tok.RefreshExpires.Equal(now.Add(2*time.Hour)) || !tok.R2.Equal(tok.Expires) ||
		!tok.W2.Equal(now) || tok.UserID != "2206571234567" || tok.Nick != "店" || tok.SubUserID != "" || !tok.Refreshable(now) {
		t.Errorf("decoded %+v", tok)
	}
	abs, err := oauth.DecodeResult([]byte(`{"access_token":"s","expire_time":1700003600000,"r1_valid":1700001800000,"taobao_user_id":"1","re_expires_in":0,"refresh_token":"r"}`), now)
	if err != nil || !abs.Expires.Equal(now.Add(time.Hour)) || !abs.R1.Equal(now.Add(30*time.Minute)) || abs.Refreshable(now) || abs.RefreshToken != "" {
		t.Errorf("absolute forms, re_expires_in 0: %+v %v", abs, err)
	}
	for raw, want := range map[string]string{
		`{"expires_in":1,"taobao_user_id":"1"}`:                     "access_token",
		`{"access_token":"s","expires_in":1}`:                       "taobao_user_id",
		`{"access_token":"s","expires_in":1,"taobao_user_id":"u1"}`: "taobao_user_id",
		`{"access_token":"s","taobao_user_id":"1"}`:                 "expires_in",
		`[]`: "JSON object",
		`{"access_token":"s","expires_in":-5,"taobao_user_id":"1"}`: "expires_in",
	} {
		if _, err := oauth.DecodeResult([]byte(raw), now); !errors.Is(err, oauth.ErrBadResult) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want an error naming %s", raw, err, want)
		}
	}
	// A Token keeps every time through JSON (the form it is stored in).
	b, _ := json.Marshal(tok)
	var back oauth.Token
	if err := json.Unmarshal(b, &back); err != nil || !back.W2.Equal(tok.W2) || back.RefreshToken != "r" || !back.Expires.Equal(tok.Expires) {
		t.Errorf("through JSON: %+v %v", back, err)
	}
}

func TestEndpointFor(t *testing.T) {
	for gw, want := range map[string]string{
		"https://eco.taobao.com/router/rest":       "https://oauth.taobao.com/token",
		"http://gw.api.taobao.com/router/rest":     "https://oauth.taobao.com/token",
		"http://gw.api.tbsandbox.com/router/rest":  "https://oauth.tbsandbox.com/token",
		"http://127.0.0.1:8790/router/rest":        "http://127.0.0.1:8790/token",
		"https://top.example.com:8443/router/rest": "https://top.example.com:8443/token",
	} {
		if got := oauth.EndpointFor(gw).TokenURL; got != want {
			t.Errorf("%s: %s, want %s", gw, got, want)
		}
	}
}
