package sandbox

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

// authorize asks /authorize for a code of shop k (0: no sandbox_shop)
// and returns the redirect's Location.
func authorize(t *testing.T, s *Server, q url.Values) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, "/authorize?"+q.Encode(), nil)
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)
	return w
}

func authQuery(s *Server, shop string) url.Values {
	q := url.Values{"response_type": {"code"}, "client_id": {s.opts.AppKey},
		"redirect_uri": {"http://127.0.0.1:5555/callback?x=1"}, "state": {"st4te"}, "view": {"web"}}
	if shop != "" {
		q.Set("sandbox_shop", shop)
	}
	return q
}

// codeOf gets a code of shop (as /authorize gives it) and checks the redirect.
func codeOf(t *testing.T, s *Server, shop string) string {
	t.Helper()
	w := authorize(t, s, authQuery(s, shop))
	if w.Code != http.StatusFound {
		t.Fatalf("/authorize: %d %s", w.Code, w.Body)
	}
	loc, err := url.Parse(w.Header().Get("Location"))
	if err != nil || loc.Host != "127.0.0.1:5555" || loc.Path != "/callback" || loc.Query().Get("x") != "1" || loc.Query().Get("state") != "st4te" {
		t.Fatalf("redirected to %q", w.Header().Get("Location"))
	}
	return loc.Query().Get("code")
}

// tokenReq posts a form to /token and decodes the JSON answer.
func tokenReq(t *testing.T, s *Server, f url.Values) (int, map[string]any) {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/token", strings.NewReader(f.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)
	return w.Code, decode(t, w.Body.Bytes())
}

func exchangeForm(s *Server, code string) url.Values {
	return url.Values{"grant_type": {"authorization_code"}, "client_id": {s.opts.AppKey}, "client_secret": {s.opts.AppSecret},
		"code": {code}, "redirect_uri": {"http://127.0.0.1:5555/callback?x=1"}}
}

func refreshForm(s *Server, rt string) url.Values {
	return url.Values{"grant_type": {"refresh_token"}, "client_id": {s.opts.AppKey}, "client_secret": {s.opts.AppSecret}, "refresh_token": {rt}}
}

// sellerOf calls taobao.user.seller.get with session.
func sellerOf(t *testing.T, s *Server, session string) map[string]any {
	t.Helper()
	return doCall(t, s, "taobao.user.seller.get", map[string]string{"fields": "user_id,nick", "session": session})
}

// The authorization-code flow: /authorize redirects with a code and the
// state; /token exchanges it once for a token result of the shop that
// approved, whose session works at the gateway; the refresh token gives
// a new session and dies, the old session living on until its expiry.
func TestOAuthCodeFlow(t *testing.T) {
	s := newTestServer(t, Options{Shops: 3})
	code := codeOf(t, s, "2")
	st, tok := tokenReq(t, s, exchangeForm(s, code))
	if st != 200 || tok["token_type"] != "Bearer" || tok["access_token"] == "" {
		t.Fatalf("/token: %d %v", st, tok)
	}
	if tok["taobao_user_id"] != "2206571234568" || tok["taobao_user_nick"] != url.QueryEscape("topscript沙箱店2") {
		t.Errorf("token of shop 2: user %v, nick %v", tok["taobao_user_id"], tok["taobao_user_nick"])
	}
	for _, k := range []string{"expires_in", "re_expires_in", "r1_expires_in", "r2_expires_in", "w1_expires_in", "w2_expires_in",
		"expire_time", "refresh_token_valid_time", "r1_valid", "w2_valid"} {
		if _, ok := tok[k].(json.Number); !ok {
			t.Errorf("%s = %#v, want a number", k, tok[k])
		}
	}
	if num(tok["expires_in"]) != "86400" || num(tok["w2_expires_in"]) != "1800" {
		t.Errorf("lifetimes: expires_in %v, w2 %v", tok["expires_in"], tok["w2_expires_in"])
	}
	sess := tok["access_token"].(string)
	if u := mustOK(t, sellerOf(t, s, sess), "user_seller_get_response"); num(path(u, "user", "user_id")) != "2206571234568" {
		t.Errorf("the session's seller: %v", u)
	}
	if st, e := tokenReq(t, s, exchangeForm(s, code)); st != 400 || e["error"] != "invalid_grant" {
		t.Errorf("a code used twice: %d %v", st, e)
	}
	// Refresh.
	rt := tok["refresh_token"].(string)
	st, tok2 := tokenReq(t, s, refreshForm(s, rt))
	if st != 200 || tok2["access_token"] == sess || tok2["refresh_token"] == rt {
		t.Fatalf("refresh: %d %v", st, tok2)
	}
	if st, e := tokenReq(t, s, refreshForm(s, rt)); st != 400 || e["error"] != "invalid_grant" {
		t.Errorf("the used refresh token again: %d %v", st, e)
	}
	for _, sk := range []string{sess, tok2["access_token"].(string)} {
		mustOK(t, sellerOf(t, s, sk), "user_seller_get_response")
	}
	if o := s.OAuthStats(); o.Authorizations != 1 || o.Exchanges != 1 || o.Refreshes != 1 || o.Errors["invalid_grant"] != 2 {
		t.Errorf("oauth stats %+v", o)
	}
}

// The endpoints' refusals are the platform's JSON errors, naming what is
// wrong; /authorize redirects nowhere when refusing.
func TestOAuthErrors(t *testing.T) {
	s := newTestServer(t, Options{})
	for name, q := range map[string]url.Values{
		"invalid_client":            {"response_type": {"code"}, "client_id": {"nope"}, "redirect_uri": {"http://x/cb"}},
		"unsupported_response_type": {"response_type": {"token"}, "client_id": {s.opts.AppKey}, "redirect_uri": {"http://x/cb"}},
		"invalid_request":           {"response_type": {"code"}, "client_id": {s.opts.AppKey}, "redirect_uri": {"/relative"}},
	} {
		w := authorize(t, s, q)
		if m := decode(t, w.Body.Bytes()); w.Code != 400 || m["error"] != name || m["error_description"] == "" || w.Header().Get("Location") != "" {
			t.Errorf("/authorize %s: %d %v", name, w.Code, m)
		}
	}
	if w := authorize(t, s, authQuery(s, "2")); w.Code != 400 {
		t.Errorf("a shop the sandbox does not have: %d", w.Code)
	}
	code := codeOf(t, s, "")
	bad := exchangeForm(s, code)
	bad.Set("client_secret", "wrong")
	if st, e := tokenReq(t, s, bad); st != 401 || e["error"] != "invalid_client" {
		t.Errorf("wrong secret: %d %v", st, e)
	}
	other := exchangeForm(s, code)
	other.Set("redirect_uri", "http://elsewhere/cb")
	if st, e := tokenReq(t, s, other); st != 400 || e["error"] != "invalid_grant" {
		t.Errorf("another redirect_uri: %d %v", st, e)
	}
	noGrant := exchangeForm(s, code)
	noGrant.Set("grant_type", "password")
	if st, e := tokenReq(t, s, noGrant); st != 400 || e["error"] != "unsupported_grant_type" {
		t.Errorf("grant_type password: %d %v", st, e)
	}
	missing := exchangeForm(s, code)
	missing.Del("code")
	if st, e := tokenReq(t, s, missing); st != 400 || e["error"] != "invalid_request" || !strings.Contains(e["error_description"].(string), "code") {
		t.Errorf("no code: %d %v", st, e)
	}
	// The code survived the refusals above.
	if st, _ := tokenReq(t, s, exchangeForm(s, code)); st != 200 {
		t.Errorf("the code after refusals: %d", st)
	}
}

// Through the gateway: taobao.top.auth.token.create and refresh answer the
// token result as a JSON string; a bad code is 15 isv.code-invalid.
func TestOAuthGatewayAPIs(t *testing.T) {
	s := newTestServer(t, Options{Shops: 2})
	code := codeOf(t, s, "2")
	res := mustOK(t, doCall(t, s, "taobao.top.auth.token.create", map[string]string{"code": code, "session": ""}), "top_auth_token_create_response")
	raw, ok := res["token_result"].(string)
	if !ok {
		t.Fatalf("token_result is not a string: %#v", res["token_result"])
	}
	tok := decode(t, []byte(raw))
	if tok["taobao_user_id"] != "2206571234568" {
		t.Errorf("token.create: %v", tok)
	}
	wantCode(t, doCall(t, s, "taobao.top.auth.token.create", map[string]string{"code": code, "session": ""}), "15", "isv.code-invalid")
	res = mustOK(t, doCall(t, s, "taobao.top.auth.token.refresh", map[string]string{"refresh_token": tok["refresh_token"].(string), "session": ""}),
		"top_auth_token_refresh_response")
	tok2 := decode(t, []byte(res["token_result"].(string)))
	mustOK(t, sellerOf(t, s, tok2["access_token"].(string)), "user_seller_get_response")
	wantCode(t, doCall(t, s, "taobao.top.auth.token.refresh", map[string]string{"refresh_token": tok["refresh_token"].(string), "session": ""}),
		"15", "isv.refresh-token-invalid")
}

// Short lifetimes: an expired session answers 27; once the w2 window has
// closed a sensitive write answers 53 while reads and ordinary writes
// still work; a refresh does not reopen w2; a token that cannot be
// refreshed carries no refresh token and refreshing fails.
func TestOAuthLifetimes(t *testing.T) {
	s := newTestServer(t, Options{Tokens: TokenOptions{SessionTTL: 2500 * time.Millisecond, W2TTL: time.Second}})
	_, tok := tokenReq(t, s, exchangeForm(s, codeOf(t, s, "")))
	sess := tok["access_token"].(string)
	item := firstItemWithSKU(t, s)
	price := func(session string) map[string]any {
		return doCall(t, s, "taobao.item.sku.price.update", map[string]string{"num_iid": item[0], "properties": item[1], "price": "19.90", "session": session})
	}
	if e := errOf(price(sess)); e != nil {
		t.Fatalf("a sensitive write inside w2: %v", e)
	}
	time.Sleep(1200 * time.Millisecond)
	e := wantCode(t, price(sess), "53", "isv.security-level-expired:w2")
	if !strings.Contains(e["sub_msg"].(string), "w2") {
		t.Errorf("53 says %v", e)
	}
	mustOK(t, sellerOf(t, s, sess), "user_seller_get_response")
	mustOK(t, doCall(t, s, "taobao.opentrade.activity.sync", map[string]string{"session": sess, "activity_id": "2131",
		"start_time": "2024-07-01 00:00:00", "end_time": "2024-07-03 00:00:00", "activity_name": "x", "item_id_list": item[0]}),
		"opentrade_activity_sync_response")
	_, tok2 := tokenReq(t, s, refreshForm(s, tok["refresh_token"].(string)))
	wantCode(t, price(tok2["access_token"].(string)), "53", "")
	time.Sleep(1500 * time.Millisecond)
	wantCode(t, sellerOf(t, s, sess), "27", "invalid-sessionkey")
	mustOK(t, sellerOf(t, s, tok2["access_token"].(string)), "user_seller_get_response")
	// The fixed session never expires and has every level.
	if e := errOf(price(s.opts.Session)); e != nil {
		t.Errorf("the fixed session: %v", e)
	}

	fixed := newTestServer(t, Options{Tokens: TokenOptions{NoRefresh: true}})
	_, tok = tokenReq(t, fixed, exchangeForm(fixed, codeOf(t, fixed, "")))
	if _, has := tok["refresh_token"]; has || num(tok["re_expires_in"]) != "0" {
		t.Errorf("a token that cannot be refreshed: %v", tok)
	}
	if st, e := tokenReq(t, fixed, refreshForm(fixed, "sbxrefr-anything")); st != 400 || e["error"] != "invalid_grant" {
		t.Errorf("refreshing: %d %v", st, e)
	}
}

// firstItemWithSKU returns the num_iid and properties of a seed SKU.
func firstItemWithSKU(t *testing.T, s *Server) [2]string {
	t.Helper()
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, it := range s.st.items {
		if len(it.skus) > 0 {
			return [2]string{strconv.FormatInt(it.numIID, 10), it.skus[0].props}
		}
	}
	t.Fatal("no item with SKUs")
	return [2]string{}
}

// Several shops: each session reaches its own shop's seller, items and
// trades, all ids distinct; writes change only that shop; the counters
// and the QPS window are the app's.
func TestShops(t *testing.T) {
	s := newTestServer(t, Options{Shops: 5, QPS: 1000})
	shops := s.Shops()
	if len(shops) != 5 || shops[0].Session != s.opts.Session || shops[4].Session != s.opts.Session+"-5" {
		t.Fatalf("shops %+v", shops)
	}
	items, tids := map[string]int{}, map[string]int{}
	for _, sh := range shops {
		u := mustOK(t, sellerOf(t, s, sh.Session), "user_seller_get_response")
		if num(path(u, "user", "user_id")) != strconv.FormatInt(sh.UserID, 10) || path(u, "user", "nick") != sh.Nick {
			t.Errorf("shop %d: seller %v, want %d %s", sh.Index, u, sh.UserID, sh.Nick)
		}
		page := mustOK(t, doCall(t, s, "taobao.items.onsale.get", map[string]string{"fields": "num_iid", "page_size": "200", "session": sh.Session}),
			"items_onsale_get_response")
		for _, it := range path(page, "items", "item").([]any) {
			items[num(path(it, "num_iid"))]++
		}
		tr := mustOK(t, doCall(t, s, "taobao.trades.sold.get", map[string]string{"fields": "tid", "page_size": "100", "session": sh.Session}),
			"trades_sold_get_response")
		for _, x := range path(tr, "trades", "trade").([]any) {
			tid := num(path(x, "tid"))
			tids[tid]++
			full := doCall(t, s, "taobao.trade.fullinfo.get", map[string]string{"fields": "tid", "tid": tid, "session": sh.Session})
			if errOf(full) != nil {
				t.Fatalf("shop %d cannot read its own trade %s: %v", sh.Index, tid, full)
			}
		}
	}
	if len(items) != 5*200 || len(tids) != 5*100 {
		t.Errorf("%d distinct items of 1000 listed, %d distinct trades of 500", len(items), len(tids))
	}
	// Shop 2 cannot read shop 1's trade.
	tr := mustOK(t, doCall(t, s, "taobao.trades.sold.get", map[string]string{"fields": "tid", "page_size": "1"}), "trades_sold_get_response")
	tid := num(path(tr, "trades", "trade").([]any)[0].(map[string]any)["tid"])
	if errOf(doCall(t, s, "taobao.trade.fullinfo.get", map[string]string{"fields": "tid", "tid": tid, "session": shops[1].Session})) == nil {
		t.Error("shop 2 read shop 1's trade")
	}
	// A write to shop 3 leaves shop 1 as it was.
	sh3 := s.shopOf(3)
	item := firstItemWithSKU(t, sh3)
	before := firstItemWithSKU(t, s)
	mustOK(t, doCall(t, s, "taobao.item.sku.price.update", map[string]string{"num_iid": item[0], "properties": item[1], "price": "77.00", "session": shops[2].Session}),
		"item_sku_price_update_response")
	wantCode(t, doCall(t, s, "taobao.item.sku.price.update", map[string]string{"num_iid": item[0], "properties": item[1], "price": "77.00"}), "15", "")
	if before == item {
		t.Error("shops 1 and 3 have the same first item")
	}
	st := s.Stats()
	if st.Writes["taobao.item.sku.price.update"][item[0]+":"+item[1]] != 1 || st.Calls["taobao.user.seller.get"] != 5 {
		t.Errorf("the app's stats: writes %v, seller calls %d", st.Writes, st.Calls["taobao.user.seller.get"])
	}
	// A code of shop 4 gives a session of shop 4.
	_, tok := tokenReq(t, s, exchangeForm(s, codeOf(t, s, "4")))
	if u := mustOK(t, sellerOf(t, s, tok["access_token"].(string)), "user_seller_get_response"); num(path(u, "user", "user_id")) != strconv.FormatInt(shops[3].UserID, 10) {
		t.Errorf("shop 4's token is %v's", u)
	}
	if _, err := New(Options{Shops: MaxShops + 1}); err == nil {
		t.Error("more than MaxShops shops accepted")
	}
}
