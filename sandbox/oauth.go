package sandbox

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"
)

// How a shop authorises the app (the authorization-code flow of the
// platform's reference/oauth.md) and how long its session lasts.
//
// GET /authorize?response_type=code&client_id=<app key>&redirect_uri=<uri>
// &state=<s>[&view=web|wap] approves at once, as in a test mode: it
// redirects (302) to <uri>?code=<code>&state=<s>. The shop approving is
// shop 1, or shop N with the sandbox's own parameter sandbox_shop=N. A
// bad client_id, response_type or redirect_uri answers 400 with a JSON
// error ({"error": ..., "error_description": ...}), redirecting nowhere.
// A code is single-use and lives 30 minutes.
//
// POST /token (form) exchanges: grant_type=authorization_code with
// client_id, client_secret, code and the redirect_uri the code was issued
// for; grant_type=refresh_token with client_id, client_secret and
// refresh_token. The answer is the token result (below); errors are
// {"error": ..., "error_description": ...}: 401 invalid_client (wrong key
// or secret), 400 invalid_request (a parameter missing), invalid_grant (a
// code or refresh token unknown, used, expired, or the redirect_uri not
// the code's), unsupported_grant_type.
//
// The same through the gateway (the app signs; no session):
// taobao.top.auth.token.create(code, uuid?) and
// taobao.top.auth.token.refresh(refresh_token) answer
// {"token_result": "<the token result as a JSON string>"}; a bad code or
// refresh token is code 15 with sub_code isv.code-invalid or
// isv.refresh-token-invalid (choices: the platform's are not documented).
// The platform serves token.create over HTTPS only; the sandbox over its
// plain HTTP too.
//
// The token result: access_token (the session), token_type "Bearer",
// expires_in, refresh_token and re_expires_in (absent and 0 when tokens
// cannot be refreshed, TokenOptions.NoRefresh), r1_expires_in,
// r2_expires_in, w1_expires_in, w2_expires_in, their absolute forms in
// epoch ms (expire_time, refresh_token_valid_time, r1_valid, r2_valid,
// w1_valid, w2_valid), taobao_user_id (digits, as a string),
// taobao_user_nick (URL-encoded), sub_taobao_user_id and
// sub_taobao_user_nick (empty: the shop's owner authorised),
// taobao_open_uid. Durations are whole seconds, as JSON numbers.
//
// Lifetimes (TokenOptions; the real clock, as for QPS windows): the
// session, r1 (ordinary reads), r2 (sensitive reads) and w1 (ordinary
// writes) last SessionTTL; w2 (sensitive writes) W2TTL, at most
// SessionTTL; a refresh token RefreshTTL. A call with an expired session
// answers 27; a call whose security level's window has closed answers 53
// "Insufficient security level". Levels are choices: w2 the price and
// stock writes (taobao.item.sku.price.update, taobao.item.quantity.update,
// taobao.skus.quantity.update), r2 the trade reads (buyers' data:
// taobao.trades.sold.get, taobao.trades.sold.increment.get,
// taobao.trade.fullinfo.get), w1 every other write, r1 every other read.
// The fixed sessions (Options.Session, Options.Sessions, each shop's) never
// expire and have every level.
//
// A refresh (a fact of the platform) makes the refresh token it used
// unusable at once; the new token's session, r1, r2 and w1 windows start
// anew, its w2 window does not (a choice: it closes when the
// authorisation's did — a sensitive write needs the shop to authorise
// again). The old session stays valid until its own expiry (a choice: the
// platform's docs do not say), so calls in flight while a host refreshes
// are not refused.

// Defaults of TokenOptions.
const (
	DefaultSessionTTL = 24 * time.Hour
	DefaultW2TTL      = 30 * time.Minute
	DefaultRefreshTTL = 30 * 24 * time.Hour
	// CodeTTL is how long an authorization code may be exchanged.
	CodeTTL = 30 * time.Minute
)

// TokenOptions set the tokens the OAuth endpoints issue. Zero fields take
// the defaults.
type TokenOptions struct {
	SessionTTL time.Duration // the session and its r1, r2, w1 windows (DefaultSessionTTL)
	W2TTL      time.Duration // the w2 window (DefaultW2TTL), at most SessionTTL
	RefreshTTL time.Duration // a refresh token (DefaultRefreshTTL)
	// NoRefresh issues tokens that cannot be refreshed, as the platform
	// does for apps not sold through its service market.
	NoRefresh bool
}

// fill sets the defaults and checks the lifetimes.
func (t *TokenOptions) fill() error {
	if t.SessionTTL < 0 || t.W2TTL < 0 || t.RefreshTTL < 0 {
		return fmt.Errorf("sandbox: token lifetimes must not be negative")
	}
	if t.SessionTTL == 0 {
		t.SessionTTL = DefaultSessionTTL
	}
	if t.W2TTL == 0 {
		t.W2TTL = DefaultW2TTL
	}
	t.W2TTL = min(t.W2TTL, t.SessionTTL)
	if t.RefreshTTL == 0 {
		t.RefreshTTL = DefaultRefreshTTL
	}
	return nil
}

// Security levels of a call.
const (
	levelR1 = iota
	levelR2
	levelW1
	levelW2
	numLevels
)

var levelNames = [numLevels]string{"r1", "r2", "w1", "w2"}

// levelOf is the security level a call of a needs.
func levelOf(a *api) int {
	switch a.name {
	case "taobao.item.sku.price.update", "taobao.item.quantity.update", "taobao.skus.quantity.update":
		return levelW2
	case "taobao.trades.sold.get", "taobao.trades.sold.increment.get", "taobao.trade.fullinfo.get":
		return levelR2
	}
	if a.write {
		return levelW1
	}
	return levelR1
}

// OAuthStats counts what the OAuth endpoints and APIs did (Server.OAuthStats,
// GET /_sandbox/oauth).
type OAuthStats struct {
	Authorizations int64            `json:"authorizations"` // codes issued by /authorize
	Exchanges      int64            `json:"exchanges"`      // codes exchanged for tokens
	Refreshes      int64            `json:"refreshes"`      // tokens refreshed
	Errors         map[string]int64 `json:"errors"`         // refusals by error ("invalid_grant", "isv.code-invalid", ...)
}

// authCode is an authorization code not yet exchanged.
type authCode struct {
	shop     int
	redirect string
	expires  time.Time
}

// token is an issued token.
type token struct {
	shop       int
	access     string
	refresh    string // "" when it cannot be refreshed
	obtained   time.Time
	expires    time.Time
	reExpires  time.Time
	windows    [numLevels]time.Time
	authorised time.Time // when the shop authorised (w2 counts from it)
}

// authority issues and checks codes and tokens.
type authority struct {
	opts    TokenOptions
	mu      sync.Mutex
	codes   map[string]*authCode
	tokens  map[string]*token // by access token
	refresh map[string]*token // by live refresh token
	stats   OAuthStats
}

func newAuthority(o TokenOptions) *authority {
	return &authority{opts: o, codes: map[string]*authCode{}, tokens: map[string]*token{}, refresh: map[string]*token{},
		stats: OAuthStats{Errors: map[string]int64{}}}
}

// OAuthStats returns a copy of the OAuth counters.
func (s *Server) OAuthStats() OAuthStats {
	a := s.auth
	a.mu.Lock()
	defer a.mu.Unlock()
	st := a.stats
	st.Errors = make(map[string]int64, len(a.stats.Errors))
	for k, v := range a.stats.Errors {
		st.Errors[k] = v
	}
	return st
}

// randomToken is prefix and 16 random bytes in hex.
func randomToken(prefix string) string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// issueCode makes a code for shop k and redirect.
func (a *authority) issueCode(k int, redirect string) string {
	code := randomToken("sbxcode-")
	a.mu.Lock()
	defer a.mu.Unlock()
	a.codes[code] = &authCode{shop: k, redirect: redirect, expires: time.Now().Add(CodeTTL)}
	a.stats.Authorizations++
	return code
}

// refusal is why a code or refresh token was refused: an OAuth error and
// the gateway's sub_code.
type refusal struct{ oauth, subCode, desc string }

var (
	badCode    = &refusal{"invalid_grant", "isv.code-invalid", "the authorization code is unknown, used or expired"}
	badRefresh = &refusal{"invalid_grant", "isv.refresh-token-invalid", "the refresh token is unknown, used or expired, or tokens of this app cannot be refreshed"}
	badURI     = &refusal{"invalid_grant", "isv.code-invalid", "redirect_uri is not the one the code was issued for"}
)

// count records a refusal under key.
func (a *authority) count(key string) {
	a.mu.Lock()
	a.stats.Errors[key]++
	a.mu.Unlock()
}

// exchange turns a code into a token; redirect is checked when checkURI.
func (a *authority) exchange(code, redirect string, checkURI bool) (*token, *refusal) {
	now := time.Now()
	a.mu.Lock()
	defer a.mu.Unlock()
	c := a.codes[code]
	if c == nil || now.After(c.expires) {
		delete(a.codes, code)
		return nil, badCode
	}
	if checkURI && c.redirect != redirect {
		return nil, badURI
	}
	delete(a.codes, code) // single-use
	t := a.newToken(c.shop, now, now)
	a.stats.Exchanges++
	return t, nil
}

// renew refreshes the token of refreshToken: the refresh token dies.
func (a *authority) renew(refreshToken string) (*token, *refusal) {
	now := time.Now()
	a.mu.Lock()
	defer a.mu.Unlock()
	old := a.refresh[refreshToken]
	if old == nil || now.After(old.reExpires) {
		delete(a.refresh, refreshToken)
		return nil, badRefresh
	}
	delete(a.refresh, refreshToken)
	t := a.newToken(old.shop, now, old.authorised)
	a.stats.Refreshes++
	return t, nil
}

// newToken issues a token for shop k at now, authorised at authorised.
// Call with a.mu held.
func (a *authority) newToken(k int, now, authorised time.Time) *token {
	o := a.opts
	t := &token{shop: k, access: randomToken("sbxsess-"), obtained: now, expires: now.Add(o.SessionTTL), authorised: authorised}
	for l := range numLevels {
		t.windows[l] = t.expires
	}
	t.windows[levelW2] = authorised.Add(o.W2TTL)
	if !o.NoRefresh {
		t.refresh = randomToken("sbxrefr-")
		t.reExpires = now.Add(o.RefreshTTL)
		a.refresh[t.refresh] = t
	}
	a.tokens[t.access] = t
	return t
}

// check returns the shop of an issued session good for level: 27 when it
// is unknown or expired, 53 when the level's window has closed.
func (a *authority) check(session string, level int) (int, *apiErr) {
	now := time.Now()
	a.mu.Lock()
	t := a.tokens[session]
	a.mu.Unlock()
	switch {
	case t == nil, now.After(t.expires):
		return 0, errInvalidSession()
	case now.After(t.windows[level]):
		return 0, &apiErr{code: 53, msg: "Insufficient security level", subCode: "isv.security-level-expired:" + levelNames[level],
			subMsg: "the session's " + levelNames[level] + " window closed at " + fmtTime(t.windows[level].Unix()) + ": the shop must authorise again"}
	}
	return t.shop, nil
}

// result is the token result of t for shop id.
func (t *token) result(id shopIdentity) obj {
	secs := func(until time.Time) int64 { return max(0, int64(until.Sub(t.obtained)/time.Second)) }
	ms := func(at time.Time) int64 { return at.UnixMilli() }
	o := obj{{"access_token", t.access}, {"token_type", "Bearer"}, {"expires_in", secs(t.expires)}}
	if t.refresh != "" {
		o = append(o, kv{"refresh_token", t.refresh}, kv{"re_expires_in", secs(t.reExpires)})
	} else {
		o = append(o, kv{"re_expires_in", int64(0)})
	}
	for l := range numLevels {
		o = append(o, kv{levelNames[l] + "_expires_in", secs(t.windows[l])})
	}
	for l := range numLevels {
		o = append(o, kv{levelNames[l] + "_valid", ms(t.windows[l])})
	}
	o = append(o, kv{"expire_time", ms(t.expires)})
	if t.refresh != "" {
		o = append(o, kv{"refresh_token_valid_time", ms(t.reExpires)})
	}
	return append(o,
		kv{"taobao_user_id", strconv.FormatInt(id.userID, 10)},
		kv{"taobao_user_nick", url.QueryEscape(id.nick)},
		kv{"sub_taobao_user_id", ""}, kv{"sub_taobao_user_nick", ""},
		kv{"taobao_open_uid", fmt.Sprintf("AAH%016xopenuid", uint64(id.userID)*0x9e3779b97f4a7c15)})
}

// tokenJSON renders a token result as JSON.
func (s *Server) tokenJSON(t *token) []byte {
	return appendJSON(nil, t.result(s.shopOf(t.shop).seller()), false)
}

// serveOAuth serves /authorize, /token, /_sandbox/shops and
// /_sandbox/oauth.
func (s *Server) serveOAuth(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/_sandbox/shops":
		writeJSON(w, http.StatusOK, s.Shops())
	case "/_sandbox/oauth":
		writeJSON(w, http.StatusOK, s.OAuthStats())
	case "/authorize":
		s.serveAuthorize(w, r)
	case "/token":
		s.serveToken(w, r)
	}
}

// writeJSON writes v as a JSON answer.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// oauthError answers an OAuth error and counts it.
func (s *Server) oauthError(w http.ResponseWriter, status int, code, desc string) {
	s.auth.count(code)
	writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

func (s *Server) serveAuthorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	redirect, err := url.Parse(q.Get("redirect_uri"))
	k := 1
	if n := q.Get("sandbox_shop"); n != "" {
		k, _ = strconv.Atoi(n)
	}
	switch {
	case q.Get("client_id") != s.opts.AppKey:
		s.oauthError(w, http.StatusBadRequest, "invalid_client", "client_id is not an app key of this gateway")
	case q.Get("response_type") != "code":
		s.oauthError(w, http.StatusBadRequest, "unsupported_response_type", "response_type must be code")
	case q.Get("redirect_uri") == "" || err != nil || (redirect.Scheme != "http" && redirect.Scheme != "https") || redirect.Host == "":
		s.oauthError(w, http.StatusBadRequest, "invalid_request", "redirect_uri must be an absolute http(s) URL")
	case s.shopOf(k) == nil:
		s.oauthError(w, http.StatusBadRequest, "invalid_request", fmt.Sprintf("sandbox_shop must be a shop from 1 to %d", len(s.shops)))
	default:
		code := s.auth.issueCode(k, q.Get("redirect_uri"))
		back := redirect.Query()
		back.Set("code", code)
		if st := q.Get("state"); st != "" {
			back.Set("state", st)
		}
		redirect.RawQuery = back.Encode()
		http.Redirect(w, r, redirect.String(), http.StatusFound)
	}
}

func (s *Server) serveToken(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		s.oauthError(w, http.StatusMethodNotAllowed, "invalid_request", "POST the token request")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		s.oauthError(w, http.StatusBadRequest, "invalid_request", "the body is not a form")
		return
	}
	f := r.PostForm
	if f.Get("client_id") != s.opts.AppKey || f.Get("client_secret") != s.opts.AppSecret {
		s.oauthError(w, http.StatusUnauthorized, "invalid_client", "client_id or client_secret is wrong")
		return
	}
	var t *token
	var why *refusal
	switch f.Get("grant_type") {
	case "authorization_code":
		for _, k := range []string{"code", "redirect_uri"} {
			if f.Get(k) == "" {
				s.oauthError(w, http.StatusBadRequest, "invalid_request", "missing "+k)
				return
			}
		}
		t, why = s.auth.exchange(f.Get("code"), f.Get("redirect_uri"), true)
	case "refresh_token":
		if f.Get("refresh_token") == "" {
			s.oauthError(w, http.StatusBadRequest, "invalid_request", "missing refresh_token")
			return
		}
		t, why = s.auth.renew(f.Get("refresh_token"))
	default:
		s.oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "grant_type must be authorization_code or refresh_token")
		return
	}
	if why != nil {
		s.oauthError(w, http.StatusBadRequest, why.oauth, why.desc)
		return
	}
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	_, _ = w.Write(s.tokenJSON(t))
}

// authAPIs are the gateway's token APIs.
func authAPIs() []*api {
	return []*api{
		{name: "taobao.top.auth.token.create", required: []string{"code"}, handle: (*Server).authTokenCreate},
		{name: "taobao.top.auth.token.refresh", required: []string{"refresh_token"}, handle: (*Server).authTokenRefresh},
	}
}

// tokenAnswer is the answer of the token APIs, or the refusal as code 15.
func (s *Server) tokenAnswer(t *token, why *refusal) (obj, *apiErr) {
	if why != nil {
		s.auth.count(why.subCode)
		return nil, errBiz(why.subCode, why.desc)
	}
	return obj{{"token_result", string(s.tokenJSON(t))}}, nil
}

// authTokenCreate: taobao.top.auth.token.create.
func (s *Server) authTokenCreate(c *call) (obj, *apiErr) {
	t, why := s.auth.exchange(c.str("code"), "", false)
	return s.tokenAnswer(t, why)
}

// authTokenRefresh: taobao.top.auth.token.refresh.
func (s *Server) authTokenRefresh(c *call) (obj, *apiErr) {
	t, why := s.auth.renew(c.str("refresh_token"))
	return s.tokenAnswer(t, why)
}
