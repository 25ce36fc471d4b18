package sandbox

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/topscript/topscript/toptime"
)

// testNow is the fixed gateway clock of the tests.
var testNow = time.Date(2024, 6, 1, 12, 0, 0, 0, toptime.Zone)

func newTestServer(t testing.TB, o Options) *Server {
	t.Helper()
	if o.Now == nil {
		o.Now = func() time.Time { return testNow }
	}
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// signed returns method's params with the system params added and signed
// (hmac-sha256, json, with session).
func signed(s *Server, method string, app map[string]string) map[string]string {
	p := map[string]string{
		"method":      method,
		"app_key":     s.opts.AppKey,
		"timestamp":   toptime.Format(s.opts.Now()),
		"v":           "2.0",
		"format":      "json",
		"sign_method": "hmac-sha256",
		"session":     s.opts.Session,
	}
	for k, v := range app {
		if v == "" {
			delete(p, k)
		} else {
			p[k] = v
		}
	}
	sign(s, p)
	return p
}

func sign(s *Server, p map[string]string) {
	sm := p["sign_method"]
	if sm == "" {
		sm = "md5"
	}
	sig, _ := computeSign(p, nil, nil, s.opts.AppSecret, sm)
	p["sign"] = sig
}

func form(p map[string]string) string {
	v := url.Values{}
	for k, x := range p {
		v.Set(k, x)
	}
	return v.Encode()
}

// post sends p as an urlencoded body through ServeHTTP.
func post(s *Server, p map[string]string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, "/router/rest", strings.NewReader(form(p)))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded;charset=utf-8")
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)
	return w
}

// doCall signs and posts a JSON call and decodes the body.
func doCall(t testing.TB, s *Server, method string, app map[string]string) map[string]any {
	t.Helper()
	w := post(s, signed(s, method, app))
	if w.Code != 200 {
		t.Fatalf("%s: HTTP %d: %s", method, w.Code, w.Body)
	}
	return decode(t, w.Body.Bytes())
}

func decode(t testing.TB, b []byte) map[string]any {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		t.Fatalf("decode %q: %v", b, err)
	}
	return m
}

// errOf returns the error_response of m, or nil.
func errOf(m map[string]any) map[string]any {
	e, _ := m["error_response"].(map[string]any)
	return e
}

// mustOK returns the payload under root, failing on an error.
func mustOK(t testing.TB, m map[string]any, root string) map[string]any {
	t.Helper()
	if e := errOf(m); e != nil {
		t.Fatalf("unexpected error: %v", e)
	}
	p, ok := m[root].(map[string]any)
	if !ok {
		t.Fatalf("no %s in %v", root, m)
	}
	return p
}

// allTypes lists every trade type: the type parameter that returns every
// trade (without it, only the default query's five types come back).
var allTypes = strings.Join(tradeTypeNames, ",")

// wantCode checks that m is the error code with a sub_code matching
// subCode: "" matches any; "isv.x" the base isv.x, bare or suffixed
// ("isv.x:y"), as real traffic carries them; "isv.x:*" only a suffixed form;
// "isv.x:y" exactly.
func wantCode(t testing.TB, m map[string]any, code, subCode string) map[string]any {
	t.Helper()
	e := errOf(m)
	if e == nil {
		t.Fatalf("want error %s, got %v", code, m)
	}
	if got := e["code"].(json.Number).String(); got != code {
		t.Fatalf("code = %s (%v), want %s", got, e, code)
	}
	if subCode != "" && !subCodeMatches(fmt.Sprint(e["sub_code"]), subCode) {
		t.Fatalf("sub_code = %v, want %s", e["sub_code"], subCode)
	}
	if id, _ := e["request_id"].(string); len(id) != 12 {
		t.Fatalf("request_id %q", id)
	}
	return e
}

// subCodeMatches matches a sub_code against a wantCode pattern.
func subCodeMatches(got, want string) bool {
	base, suffix, suffixed := strings.Cut(want, ":")
	gotBase, gotSuffix, gotSuffixed := strings.Cut(got, ":")
	switch {
	case !suffixed:
		return gotBase == base
	case suffix == "*":
		return gotBase == base && gotSuffixed && gotSuffix != ""
	}
	return got == want
}

// path walks nested maps: path(m, "a", "b").
func path(m any, keys ...string) any {
	for _, k := range keys {
		mm, ok := m.(map[string]any)
		if !ok {
			return nil
		}
		m = mm[k]
	}
	return m
}

func num(v any) string {
	if n, ok := v.(json.Number); ok {
		return n.String()
	}
	return ""
}
