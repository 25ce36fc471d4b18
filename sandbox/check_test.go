package sandbox

import (
	"bytes"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/topscript/topscript/toptime"
)

// The six vectors of the TOP protocol reference (secret "secret").
func TestSignVectors(t *testing.T) {
	base := map[string]string{
		"method": "taobao.item.seller.get", "app_key": "12345678", "session": "test",
		"timestamp": "2020-01-01 12:00:00", "format": "json", "v": "2.0",
	}
	trades := map[string]string{
		"method": "taobao.trades.sold.get", "app_key": "12345678", "session": "test",
		"timestamp": "2020-01-01 12:00:00", "format": "json", "v": "2.0",
		"fields": "tid,status", "buyer_nick": "张三", "simplify": "true",
	}
	cases := []struct {
		params map[string]string
		method string
		want   string
	}{
		{base, "md5", "A599E42DFE311554D1F1922126AC87E5"},
		{base, "hmac", "5C7B008810D0A3E416820839E3EF5434"},
		{base, "hmac-sha256", "C59642E8789B0C6086E944BE83EEAD14702857718D4F521A715F2EAB7F0E6A81"},
		{trades, "md5", "5925AC9758E8CDA0F719138F82BA5413"},
		{trades, "hmac", "1BC093CC66D2478250D29AC18024BB4C"},
		{trades, "hmac-sha256", "8947FF1A31B7BBE45DC0059678E21E7FCDA65993188F045129669C4932A00C10"},
	}
	for _, c := range cases {
		p := map[string]string{"sign_method": c.method, "sign": "ignored"}
		for k, v := range c.params {
			p[k] = v
		}
		got, ok := computeSign(p, nil, nil, "secret", c.method)
		if !ok || got != c.want {
			t.Errorf("%s %s: got %s, want %s", c.params["method"], c.method, got, c.want)
		}
		// What is received is signed: an empty value too (as "empty").
		p["empty"] = ""
		if got, _ := computeSign(p, nil, nil, "secret", c.method); got == c.want {
			t.Errorf("%s %s: an empty parameter received is left out of the sign", c.params["method"], c.method)
		}
	}
	if _, ok := computeSign(base, nil, nil, "secret", "sha1"); ok {
		t.Error("unknown sign method accepted")
	}
}

func TestSystemChecks(t *testing.T) {
	s := newTestServer(t, Options{})
	type mod func(p map[string]string)
	resign := func(p map[string]string) { sign(s, p) }
	cases := []struct {
		name    string
		method  string
		mod     mod
		code    string
		msg     string
		subCode string
	}{
		{"missing method", "", nil, "21", "Missing method", ""},
		{"invalid method", "taobao.nothing.here", nil, "22", "Invalid method", ""},
		{"missing app key", "taobao.time.get", func(p map[string]string) { delete(p, "app_key"); resign(p) }, "28", "Missing app key", ""},
		{"invalid app key", "taobao.time.get", func(p map[string]string) { p["app_key"] = "999"; resign(p) }, "29", "Invalid app Key", "isv.appkey-not-exists"},
		{"missing timestamp", "taobao.time.get", func(p map[string]string) { delete(p, "timestamp"); resign(p) }, "30", "Missing timestamp", ""},
		{"garbage timestamp", "taobao.time.get", func(p map[string]string) { p["timestamp"] = "yesterday"; resign(p) }, "31", "Invalid timestamp", ""},
		{"skewed timestamp", "taobao.time.get", func(p map[string]string) {
			p["timestamp"] = testNow.Add(11 * time.Minute).In(toptime.Zone).Format(toptime.Layout)
			resign(p)
		}, "31", "Invalid timestamp", ""},
		{"skewed epoch", "taobao.time.get", func(p map[string]string) {
			p["timestamp"] = strconv.FormatInt(testNow.Add(-11*time.Minute).UnixMilli(), 10)
			resign(p)
		}, "31", "Invalid timestamp", ""},
		{"timestamp in UTC", "taobao.time.get", func(p map[string]string) {
			p["timestamp"] = testNow.UTC().Format(toptime.Layout) // 8 hours off as GMT+8
			resign(p)
		}, "31", "Invalid timestamp", ""},
		{"missing version", "taobao.time.get", func(p map[string]string) { delete(p, "v"); resign(p) }, "32", "Missing version", ""},
		{"invalid version", "taobao.time.get", func(p map[string]string) { p["v"] = "two"; resign(p) }, "33", "Invalid version", ""},
		{"unsupported version", "taobao.time.get", func(p map[string]string) { p["v"] = "1.0"; resign(p) }, "34", "Unsupported version", ""},
		{"missing signature", "taobao.time.get", func(p map[string]string) { delete(p, "sign") }, "24", "Missing signature", ""},
		{"invalid signature", "taobao.time.get", func(p map[string]string) { p["sign"] = "0123456789ABCDEF0123456789ABCDEF" }, "25", "Invalid signature", ""},
		{"tampered param", "taobao.item.seller.get", func(p map[string]string) { p["num_iid"] = "1" }, "25", "Invalid signature", ""},
		{"unknown sign method", "taobao.time.get", func(p map[string]string) { p["sign_method"] = "sha1" }, "25", "Invalid signature", ""},
		{"missing session", "taobao.item.seller.get", func(p map[string]string) { delete(p, "session"); resign(p) }, "26", "Missing session", ""},
		{"invalid session", "taobao.item.seller.get", func(p map[string]string) { p["session"] = "expired"; resign(p) }, "27", "Invalid session", "invalid-sessionkey"},
		{"missing argument", "taobao.item.seller.get", func(p map[string]string) { delete(p, "num_iid"); resign(p) }, "40", "Missing required arguments:num_iid", ""},
		{"invalid argument", "taobao.item.seller.get", func(p map[string]string) { p["num_iid"] = "abc"; resign(p) }, "41", "Invalid arguments:num_iid", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := signed(s, c.method, map[string]string{"fields": "num_iid", "num_iid": "600000000001"})
			if c.method == "" {
				delete(p, "method")
				sign(s, p)
			}
			if c.mod != nil {
				c.mod(p)
			}
			e := wantCode(t, decode(t, post(s, p).Body.Bytes()), c.code, c.subCode)
			if e["msg"] != c.msg {
				t.Errorf("msg = %q, want %q", e["msg"], c.msg)
			}
			if c.code == "27" && e["sub_msg"] != "非法或过期的SessionKey参数，请使用有效的SessionKey参数" {
				t.Errorf("sub_msg = %q", e["sub_msg"])
			}
		})
	}

	// 23: an invalid format answers in XML.
	p := signed(s, "taobao.time.get", map[string]string{"format": "yaml"})
	w := post(s, p)
	if body := w.Body.String(); !strings.Contains(body, "<error_response><code>23</code><msg>Invalid format</msg>") {
		t.Errorf("invalid format: %s", body)
	}
	// 9: wrong HTTP method.
	r := httptest.NewRequest(http.MethodPut, "/router/rest?format=json", nil)
	rw := httptest.NewRecorder()
	s.ServeHTTP(rw, r)
	wantCode(t, decode(t, rw.Body.Bytes()), "9", "")

	st := s.Stats()
	for _, key := range []string{"21", "22", "23", "24", "25", "26", "27/invalid-sessionkey", "28", "29/isv.appkey-not-exists", "30", "31", "32", "33", "34", "40", "41"} {
		if st.Errors[key] == 0 {
			t.Errorf("stats.errors[%s] = 0 (%v)", key, st.Errors)
		}
	}
}

func TestTimestampFormsAndSignMethods(t *testing.T) {
	s := newTestServer(t, Options{})
	for _, sm := range []string{"md5", "hmac", "hmac-sha256", ""} {
		for _, ts := range []string{toptime.Format(testNow), strconv.FormatInt(testNow.Add(9*time.Minute).UnixMilli(), 10)} {
			p := signed(s, "taobao.time.get", map[string]string{"sign_method": sm, "timestamp": ts, "session": ""})
			got := decode(t, post(s, p).Body.Bytes())
			if tm := path(got, "time_get_response", "time"); tm != "2024-06-01 12:00:00" {
				t.Errorf("sign_method %q ts %q: %v", sm, ts, got)
			}
		}
	}
	// Lower-case hex signatures are accepted too.
	p := signed(s, "taobao.time.get", nil)
	p["sign"] = strings.ToLower(p["sign"])
	mustOK(t, decode(t, post(s, p).Body.Bytes()), "time_get_response")
}

// A third-party-style call: md5, everything in the body, no format (XML), no
// simplify.
func TestThirdPartyXMLCall(t *testing.T) {
	s := newTestServer(t, Options{})
	numIID := strconv.FormatInt(s.st.items[0].numIID, 10)
	p := map[string]string{
		"method": "taobao.item.seller.get", "app_key": DefaultAppKey, "session": DefaultSession,
		"timestamp": testNow.Format(toptime.Layout), "v": "2.0", "sign_method": "md5",
		"partner_id": "top-sdk-java", "fields": "num_iid,title,price,sku", "num_iid": numIID,
	}
	sign(s, p)
	w := post(s, p)
	body := w.Body.String()
	if !strings.HasPrefix(body, `<?xml version="1.0" encoding="utf-8" ?><item_seller_get_response><item><num_iid>`+numIID+`</num_iid>`) {
		t.Fatalf("body: %s", body)
	}
	if !strings.Contains(body, `<skus list="true"><sku><sku_id>`) || !strings.Contains(body, "<request_id>") {
		t.Errorf("body: %s", body)
	}
	if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/xml") {
		t.Errorf("content type %q", ct)
	}
}

// Query string and body are merged (Java SDK layout), GET works, and a
// multipart file part is left out of the sign.
func TestRequestLayouts(t *testing.T) {
	s := newTestServer(t, Options{})
	numIID := strconv.FormatInt(s.st.items[1].numIID, 10)
	p := signed(s, "taobao.item.seller.get", map[string]string{"fields": "num_iid", "num_iid": numIID})

	sys, app := map[string]string{}, map[string]string{}
	for k, v := range p {
		if k == "fields" || k == "num_iid" {
			app[k] = v
		} else {
			sys[k] = v
		}
	}
	r := httptest.NewRequest(http.MethodPost, "/router/rest?"+form(sys), strings.NewReader(form(app)))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded;charset=utf-8")
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)
	if got := num(path(decode(t, w.Body.Bytes()), "item_seller_get_response", "item", "num_iid")); got != numIID {
		t.Errorf("split layout: %s", w.Body)
	}

	r = httptest.NewRequest(http.MethodGet, "/router/rest?"+form(p), nil)
	w = httptest.NewRecorder()
	s.ServeHTTP(w, r)
	if got := num(path(decode(t, w.Body.Bytes()), "item_seller_get_response", "item", "num_iid")); got != numIID {
		t.Errorf("GET: %s", w.Body)
	}

	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, v := range p {
		_ = mw.WriteField(k, v)
	}
	fw, _ := mw.CreateFormFile("image", "a.jpg")
	_, _ = fw.Write([]byte("\xff\xd8binary"))
	_ = mw.Close()
	r = httptest.NewRequest(http.MethodPost, "/router/rest", &buf)
	r.Header.Set("Content-Type", mw.FormDataContentType())
	w = httptest.NewRecorder()
	s.ServeHTTP(w, r)
	if got := num(path(decode(t, w.Body.Bytes()), "item_seller_get_response", "item", "num_iid")); got != numIID {
		t.Errorf("multipart: %s", w.Body)
	}
}

// Garbage never panics and always gets an error_response.
func TestGarbageRequests(t *testing.T) {
	s := newTestServer(t, Options{})
	bodies := []string{"", "%", "a=%zz&method=%", "&&&==&", "method=taobao.time.get&format=json&sign=%ZZ", strings.Repeat("x=1&", 2000)}
	for _, b := range bodies {
		for _, ct := range []string{"application/x-www-form-urlencoded", "multipart/form-data; boundary=zz", "text/plain", ""} {
			r := httptest.NewRequest(http.MethodPost, "/router/rest?format=json&%=", strings.NewReader(b))
			if ct != "" {
				r.Header.Set("Content-Type", ct)
			}
			w := httptest.NewRecorder()
			s.ServeHTTP(w, r)
			if errOf(decode(t, w.Body.Bytes())) == nil {
				t.Errorf("%q %q: %s", b, ct, w.Body)
			}
		}
	}
}

// FuzzRest feeds arbitrary query strings and bodies to /router/rest and
// /router/batch: every answer must be a well-formed envelope, never a panic.
func FuzzRest(f *testing.F) {
	s := newTestServer(f, Options{})
	p := signed(s, "taobao.trades.sold.get", map[string]string{"fields": "tid,orders", "page_size": "2"})
	f.Add("format=json", form(p), "application/x-www-form-urlencoded")
	f.Add("", "method=taobao.time.get&format=xml&sign=x", "")
	f.Add("format=json&simplify=true", "--zz\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nb\r\n--zz--", "multipart/form-data; boundary=zz")
	f.Fuzz(func(t *testing.T, query, body, ct string) {
		for _, path := range []string{"/router/rest", "/router/batch"} {
			r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
			r.URL.Path = path
			r.URL.RawQuery = query
			r.Header.Set("Content-Type", ct)
			w := httptest.NewRecorder()
			s.ServeHTTP(w, r)
			if w.Code != 200 || w.Body.Len() == 0 {
				t.Fatalf("%s %q %q: %d %s", path, query, body, w.Code, w.Body)
			}
		}
	})
}

// The gateway signs exactly what it receives: "q=" is signed as "q" and
// "q= " as "q ", so a client that sends an empty or blank value must sign
// it (the Python SDK does), and one that leaves it out of its sign fails.
func TestSignsWhatItReceives(t *testing.T) {
	s := newTestServer(t, Options{})
	for _, v := range []string{"", " "} {
		p := signed(s, "taobao.time.get", nil)
		delete(p, "sign")
		p["q"] = v
		sign(s, p) // the sign over everything sent, q included
		if m := decode(t, post(s, p).Body.Bytes()); errOf(m) != nil {
			t.Errorf("q=%q signed as received: %v", v, errOf(m))
		}
		bad := map[string]string{}
		for k, x := range p {
			bad[k] = x
		}
		delete(bad, "q")
		sign(s, bad) // a sign that skips q
		bad["q"] = v
		wantCode(t, decode(t, post(s, bad).Body.Bytes()), "25", "")
	}
}
