package sandbox

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"testing"

	"github.com/topscript/topscript/top/catalog"
)

// fuzzMethods returns the methods a signed fuzzed request may name: the
// modelled ones, and every 40th method served from the catalog's schema
// (with a few that page, take fields, or take files).
func fuzzMethods() []string {
	var m []string
	for name := range apis() {
		m = append(m, name)
	}
	sort.Strings(m)
	m = append(m, "taobao.refunds.receive.get", "taobao.item.sku.get", "taobao.fenxiao.product.image.upload", "taobao.logistics.offline.send")
	for i, name := range catalog.Names() {
		if i%40 == 0 && apis()[name] == nil {
			m = append(m, name)
		}
	}
	return m
}

// FuzzServeHTTP sends arbitrary requests to the gateway: a query string and
// a body of any content type, either as they are or merged into a signed
// call of a real method. Invariants: nothing panics; /router/rest and
// /router/batch answer HTTP 200 with a well-formed JSON or XML body carrying
// a request_id (faults are off); Stats().Requests counts each request once.
func FuzzServeHTTP(f *testing.F) {
	f.Add("format=json&method=taobao.time.get", []byte(""), uint8(0), uint8(0), false)
	f.Add("", []byte("num_iid=1&properties=1627207:28320&price=9.90"), uint8(0), uint8(5), true)
	f.Add("format=xml", []byte("fields=tid,status&page_size=100&page_no=99999999999999999999"), uint8(0), uint8(2), true)
	f.Add("", []byte("--b\r\nContent-Disposition: form-data; name=\"method\"\r\n\r\ntaobao.time.get\r\n--b--\r\n"), uint8(1), uint8(0), false)
	f.Add("format=json", []byte("#PUBLIC#session=x\r\n-S-\r\nmethod=taobao.time.get\r\n-S-\r\nmethod=nope"), uint8(2), uint8(1), true)
	f.Add("%zz=1&=&&a", []byte("\xff\x00%"), uint8(3), uint8(7), true)
	methods := fuzzMethods()
	f.Fuzz(func(t *testing.T, query string, body []byte, kind, pick uint8, sign bool) {
		s := newTestServer(t, Options{})
		path := "/router/rest"
		ctype := "application/x-www-form-urlencoded"
		switch kind % 4 {
		case 1:
			ctype = "multipart/form-data; boundary=b"
		case 2:
			path = "/router/batch"
			ctype = "text/plain;charset=UTF-8"
		case 3:
			ctype = ""
		}
		if sign {
			// A signed call of a real method whose app params come from
			// the body: the fuzzer then reaches the handlers.
			app := map[string]string{}
			if q, err := url.ParseQuery(string(body)); err == nil {
				for k, v := range q {
					app[k] = v[0]
				}
			}
			method := methods[int(pick)%len(methods)]
			p := signed(s, method, app)
			if path == "/router/batch" {
				delete(p, "method")
				delete(p, "sign")
				sig, _ := computeSign(p, nil, body, s.opts.AppSecret, p["sign_method"])
				p["sign"] = sig
			} else {
				form := url.Values{}
				for k, v := range p {
					form.Set(k, v)
				}
				body = []byte(form.Encode())
				ctype = "application/x-www-form-urlencoded"
			}
			v := url.Values{}
			for k, val := range p {
				if path == "/router/batch" {
					v.Set(k, val)
				}
			}
			if enc := v.Encode(); enc != "" {
				query = enc + "&" + query
			}
		}
		req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
		req.URL.RawQuery = query // as it came off the wire, undecoded
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		w := httptest.NewRecorder()
		s.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			t.Fatalf("HTTP %d: %s", w.Code, w.Body)
		}
		out := w.Body.Bytes()
		if !bytes.Contains(out, []byte("request_id")) {
			t.Fatalf("no request_id in %q", out)
		}
		parts := [][]byte{out}
		if path == "/router/batch" {
			parts = bytes.Split(out, []byte(DefaultBatchSeparator))
		}
		for _, part := range parts {
			if err := wellFormed(part); err != nil {
				t.Fatalf("malformed answer (%v): %q", err, part)
			}
		}
		if n := s.Stats().Requests; n != 1 {
			t.Fatalf("Stats().Requests = %d after one request", n)
		}
	})
}

// wellFormed checks that b is one JSON value or one XML document.
func wellFormed(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '{' {
		if !json.Valid(b) {
			return errors.New("invalid JSON")
		}
		return nil
	}
	d := xml.NewDecoder(bytes.NewReader(b))
	elems := 0
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if _, ok := tok.(xml.StartElement); ok {
			elems++
		}
	}
	if elems == 0 {
		return errors.New("no XML element")
	}
	return nil
}
