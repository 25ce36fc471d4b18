// Package oauth is how a shop authorises the app on the Taobao Open
// Platform: the authorization-code flow. It builds the authorize URL the
// shop's owner opens (AuthorizeURL), catches the redirect on a loopback
// listener with a state check (Listen), and exchanges the code for a token
// and refreshes tokens (Exchanger): at the platform's token URL (App, over
// golang.org/x/oauth2) or through the gateway (Gateway:
// taobao.top.auth.token.create and taobao.top.auth.token.refresh, whose
// token_result is a JSON string). Either way the token result is decoded
// once, here, into a Token whose lifetimes are absolute times.
//
// The facts (reference/oauth.md): oauth.taobao.com/authorize and /token
// (oauth.tbsandbox.com for the platform's own sandbox); the code is
// single-use and lives about 30 minutes; a refresh kills the refresh token
// it used; only apps sold through the service market can refresh; the
// token result's fields are listed at Token. Choices where the docs are
// silent:
//   - a lifetime is taken from its relative form (expires_in,
//     re_expires_in, r1_expires_in…) counted from when the answer arrived,
//     else from its absolute form (expire_time, refresh_token_valid_time,
//     r1_valid… in epoch ms): the host's clock decides expiry, so the
//     platform's clock skew does not matter;
//   - a level window the result does not give lasts as long as the token;
//   - a result with re_expires_in 0, or without a refresh_token, cannot be
//     refreshed;
//   - any other gateway than the platform's (the topscript sandbox, an
//     emulator) serves /authorize and /token itself (EndpointFor).
//
// The app secret, codes, sessions and refresh tokens never appear in an
// error's text.
package oauth

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Token is a shop's token: the token result of an exchange or a refresh.
// It holds secrets (AccessToken, RefreshToken): never print or log it.
type Token struct {
	AccessToken  string `json:"access_token"`            // the session
	RefreshToken string `json:"refresh_token,omitempty"` // "" when it cannot be refreshed
	// Obtained is when the result arrived; the times below are the
	// host's, counted from it.
	Obtained       time.Time `json:"obtained"`
	Expires        time.Time `json:"expires"`                        // the session's end
	RefreshExpires time.Time `json:"refresh_expires,omitzero"`       // the refresh token's end (zero: not said)
	R1             time.Time `json:"r1"`                             // ordinary reads until
	R2             time.Time `json:"r2"`                             // sensitive reads until
	W1             time.Time `json:"w1"`                             // ordinary writes until
	W2             time.Time `json:"w2"`                             // sensitive writes until
	UserID         string    `json:"taobao_user_id"`                 // the shop (digits)
	Nick           string    `json:"taobao_user_nick"`               // decoded
	SubUserID      string    `json:"sub_taobao_user_id,omitempty"`   // a sub-account that authorised, if one did
	SubNick        string    `json:"sub_taobao_user_nick,omitempty"` // decoded
	OpenUID        string    `json:"taobao_open_uid,omitempty"`
}

// Levels names the security levels of a session, in order.
var Levels = []string{"r1", "r2", "w1", "w2"}

// Level returns the end of the window of level ("r1", "r2", "w1", "w2").
func (t *Token) Level(level string) time.Time {
	switch level {
	case "r1":
		return t.R1
	case "r2":
		return t.R2
	case "w1":
		return t.W1
	case "w2":
		return t.W2
	}
	return time.Time{}
}

// Refreshable reports whether the token can be refreshed at now: it has a
// refresh token that has not expired.
func (t *Token) Refreshable(now time.Time) bool {
	return t.RefreshToken != "" && (t.RefreshExpires.IsZero() || now.Before(t.RefreshExpires))
}

// ErrBadResult is matched (errors.Is) by the error of a token result that
// cannot be used.
var ErrBadResult = errors.New("oauth: unusable token result")

// field reads one field of a token result.
type field func(name string) (any, bool)

// decodeResult decodes a token result whose fields get reads, arrived at
// now.
func decodeResult(get field, now time.Time) (*Token, error) {
	t := &Token{Obtained: now}
	t.AccessToken = text(get, "access_token")
	if t.AccessToken == "" {
		return nil, fmt.Errorf("%w: it has no access_token", ErrBadResult)
	}
	t.UserID = text(get, "taobao_user_id")
	if t.UserID == "" || strings.Trim(t.UserID, "0123456789") != "" {
		return nil, fmt.Errorf("%w: taobao_user_id is not a user id", ErrBadResult)
	}
	t.Nick = unescape(text(get, "taobao_user_nick"))
	t.SubUserID = text(get, "sub_taobao_user_id")
	if t.SubUserID == "0" {
		t.SubUserID = ""
	}
	t.SubNick = unescape(text(get, "sub_taobao_user_nick"))
	t.OpenUID = text(get, "taobao_open_uid")

	var ok bool
	if t.Expires, ok = until(get, now, "expires_in", "expire_time"); !ok {
		return nil, fmt.Errorf("%w: it says neither expires_in nor expire_time", ErrBadResult)
	}
	t.RefreshToken = text(get, "refresh_token")
	if re, said := until(get, now, "re_expires_in", "refresh_token_valid_time"); said {
		t.RefreshExpires = re
		if !re.After(now) {
			t.RefreshToken, t.RefreshExpires = "", time.Time{} // re_expires_in 0: cannot be refreshed
		}
	}
	for _, l := range []struct {
		name string
		dst  *time.Time
	}{{"r1", &t.R1}, {"r2", &t.R2}, {"w1", &t.W1}, {"w2", &t.W2}} {
		if at, said := until(get, now, l.name+"_expires_in", l.name+"_valid"); said {
			*l.dst = at
		} else {
			*l.dst = t.Expires
		}
	}
	return t, nil
}

// text reads a string or number field as text ("" when absent).
func text(get field, name string) string {
	v, ok := get(name)
	if !ok || v == nil {
		return ""
	}
	switch x := v.(type) {
	case string:
		return strings.TrimSpace(x)
	case json.Number:
		return x.String()
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
			return strconv.FormatFloat(x, 'f', -1, 64)
		}
	}
	return fmt.Sprint(v)
}

// number reads a numeric field (a JSON number or a string of digits).
func number(get field, name string) (float64, bool) {
	s := text(get, name)
	if s == "" {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 {
		return 0, false
	}
	return f, true
}

// until reads a lifetime: seconds from now (rel), else epoch ms (abs).
func until(get field, now time.Time, rel, abs string) (time.Time, bool) {
	if s, ok := number(get, rel); ok {
		return now.Add(time.Duration(s * float64(time.Second))), true
	}
	if ms, ok := number(get, abs); ok && ms > 0 {
		return time.UnixMilli(int64(ms)), true
	}
	return time.Time{}, false
}

// unescape decodes a URL-encoded nick, leaving a malformed one as it is.
func unescape(s string) string {
	if u, err := url.QueryUnescape(s); err == nil {
		return u
	}
	return s
}

// DecodeResult decodes a token result given as JSON (as
// taobao.top.auth.token.create's token_result string holds it), arrived
// at now.
func DecodeResult(raw []byte, now time.Time) (*Token, error) {
	d := json.NewDecoder(strings.NewReader(string(raw)))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		return nil, fmt.Errorf("%w: it is not a JSON object", ErrBadResult)
	}
	return decodeResult(func(k string) (any, bool) { v, ok := m[k]; return v, ok }, now)
}
