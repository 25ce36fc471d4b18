package top

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestEncodeValue(t *testing.T) {
	type sku struct {
		ID    int64  `json:"sku_id"`
		Price string `json:"price"`
	}
	var nilMap map[string]any
	cases := []struct {
		in   any
		want string
	}{
		{"张三", "张三"},
		{"", ""},
		{nil, ""},
		{true, "true"},
		{false, "false"},
		{42, "42"},
		{int64(-7), "-7"},
		{uint64(18446744073709551615), "18446744073709551615"},
		{float64(12), "12"},
		{12.0, "12"},
		{12.5, "12.5"},
		{0.1, "0.1"},
		{1e21, "1000000000000000000000"},
		{float64(342161316540874752), "342161316540874752"},
		{1e-7, "0.0000001"},
		{float32(2.5), "2.5"},
		{json.Number("342161316540874753"), "342161316540874753"},
		{json.Number("12345678901234567890123"), "12345678901234567890123"},
		{[]any{int64(1), 2.0, "x", json.Number("342161316540874753")}, "1,2,x,342161316540874753"},
		{[]string{"a", "b"}, "a,b"},
		{[]int64{112123, 123123}, "112123,123123"},
		{[]int{1, 2}, "1,2"},
		{[]any{}, ""},
		{map[string]any{"b": 1.0, "a": "x<y&z", "c": []any{1.0, 2.5}}, `{"a":"x<y&z","b":1,"c":[1,2.5]}`},
		{[]any{map[string]any{"sku_id": json.Number("342161316540874753"), "price": "9.90"}},
			`[{"price":"9.90","sku_id":342161316540874753}]`},
		{map[string]any{"n": 1e21}, `{"n":1000000000000000000000}`},
		{[]sku{{ID: 1, Price: "1.00"}}, `[{"sku_id":1,"price":"1.00"}]`},
		{nilMap, ""},
		{time.Date(2020, 1, 1, 4, 0, 0, 0, time.UTC), "2020-01-01 12:00:00"},
	}
	for _, tc := range cases {
		got, err := EncodeValue(tc.in)
		if err != nil {
			t.Errorf("%#v: %v", tc.in, err)
			continue
		}
		if got != tc.want {
			t.Errorf("%#v: got %q want %q", tc.in, got, tc.want)
		}
	}
	cyc := map[string]any{}
	cyc["self"] = cyc
	for _, bad := range []any{math.NaN(), math.Inf(1), File{Name: "x"}, make(chan int), func() {}, cyc,
		map[string]any{"f": math.NaN()}, []any{map[string]any{"c": make(chan int)}}} {
		if _, err := EncodeValue(bad); err == nil {
			t.Errorf("%T: no error", bad)
		}
	}
}

func TestEncodeParamsOmitsEmptyAndRefusesSystemNames(t *testing.T) {
	ep, err := encodeParams(Params{"a": "", "b": nil, "c": "x", "d": []any{}, "e": 0})
	if err != nil {
		t.Fatal(err)
	}
	if len(ep.text) != 2 || ep.text["c"] != "x" || ep.text["e"] != "0" {
		t.Errorf("got %v", ep.text)
	}
	for _, k := range []string{"sign", "session", "timestamp", "app_key", "method"} {
		if _, err := encodeParams(Params{k: "x"}); err == nil {
			t.Errorf("system param %s accepted", k)
		}
	}
	g := newGW(t, func(_ int64, _ map[string]string, w http.ResponseWriter, _ *http.Request) { okBody(w, `{}`) })
	c := newTestClient(t, testConfig(g.srv.URL))
	_, err = c.Call(context.Background(), "taobao.time.get", Params{"session": "x"}, nil)
	var te *Error
	if !errors.As(err, &te) || te.Kind != KindInvalid || g.requests.Load() != 0 {
		t.Errorf("system param in Params: %v (requests %d)", err, g.requests.Load())
	}
}

// File params go as multipart parts with a filename; text params as parts;
// the file is not signed (the test gateway verifies the sign).
func TestMultipartUpload(t *testing.T) {
	var gotFile, gotName string
	var img2 []byte
	g := newGW(t, func(_ int64, p map[string]string, w http.ResponseWriter, r *http.Request) {
		if r.MultipartForm == nil {
			t.Error("not multipart")
			okBody(w, `{}`)
			return
		}
		fh := r.MultipartForm.File["image"]
		if len(fh) == 1 {
			gotName = fh[0].Filename
			f, _ := fh[0].Open()
			b, _ := io.ReadAll(f)
			gotFile = string(b)
		}
		if fh := r.MultipartForm.File["image2"]; len(fh) == 1 {
			f, _ := fh[0].Open()
			img2, _ = io.ReadAll(f)
		}
		if p["product_id"] != "342161316540874753" || p["method"] == "" {
			t.Errorf("text parts: %v", p)
		}
		okBody(w, `{"fenxiao_product_image_upload_response":{"result":true}}`)
	})
	dir := t.TempDir()
	path := filepath.Join(dir, "pic.jpg")
	if err := os.WriteFile(path, []byte{0xff, 0xd8, 0x00, 0x01}, 0o600); err != nil {
		t.Fatal(err)
	}
	c := newTestClient(t, testConfig(g.srv.URL))
	_, err := c.Call(context.Background(), "taobao.fenxiao.product.image.upload", Params{
		"product_id": json.Number("342161316540874753"),
		"image":      File{Name: "a.png", Data: []byte("PNGDATA")},
		"image2":     File{Path: path},
		"position":   1,
	}, &CallOptions{Retries: -1, SkipValidation: true}) // image2 is this test's own file part, not the API's
	if err != nil {
		t.Fatal(err)
	}
	if gotName != "a.png" || gotFile != "PNGDATA" || string(img2) != "\xff\xd8\x00\x01" {
		t.Errorf("file part: %q %q %q", gotName, gotFile, img2)
	}
	_, err = c.Call(context.Background(), "taobao.fenxiao.product.image.upload", Params{"image": File{Path: filepath.Join(dir, "missing")}}, nil)
	if KindOf(err) != KindInvalid {
		t.Errorf("missing file: %v", err)
	}
}

// A urlencoded body carries everything; nothing is in the URL.
func TestURLEncodedBody(t *testing.T) {
	g := newGW(t, func(_ int64, p map[string]string, w http.ResponseWriter, r *http.Request) {
		if ct := r.Header.Get("Content-Type"); ct != "application/x-www-form-urlencoded;charset=utf-8" {
			t.Errorf("content type %q", ct)
		}
		if r.Method != http.MethodPost {
			t.Errorf("method %s", r.Method)
		}
		okBody(w, `{"ok":true}`)
	})
	c := newTestClient(t, testConfig(g.srv.URL))
	if _, err := c.Call(context.Background(), "taobao.trades.sold.get", Params{"fields": "tid,status", "buyer_nick": "张三 &=+"}, nil); err != nil {
		t.Fatal(err)
	}
	if p := g.lastParams(); p["buyer_nick"] != "张三 &=+" || p["fields"] != "tid,status" {
		t.Errorf("params %v", p)
	}
}

// Blank values (empty, or only whitespace as Java's Character.isWhitespace
// counts it) are neither sent nor signed, as the official Java SDK does;
// a no-break space is not whitespace there, so it is sent.
func TestBlankValuesNeitherSentNorSigned(t *testing.T) {
	for _, v := range []string{"", " ", "\t", " \r\n ", "\u3000", "\u2028", "\x1f"} {
		if !Blank(v) {
			t.Errorf("Blank(%q) = false", v)
		}
	}
	for _, v := range []string{"x", " x ", "\u00a0", "\u2007", "\u202f", "0"} {
		if Blank(v) {
			t.Errorf("Blank(%q) = true", v)
		}
	}
	g := newGW(t, func(_ int64, _ map[string]string, w http.ResponseWriter, _ *http.Request) { okBody(w, `{}`) })
	c := newTestClient(t, testConfig(g.srv.URL))
	_, err := c.Call(context.Background(), "taobao.time.get",
		Params{"q": " ", "r": "\t\u3000", "s": "", "nbsp": "\u00a0", "keep": " x "}, &CallOptions{SkipValidation: true})
	if err != nil {
		t.Fatal(err)
	}
	p := g.lastParams() // the gateway checked the sign over exactly these
	for _, k := range []string{"q", "r", "s"} {
		if _, sent := p[k]; sent {
			t.Errorf("blank %s sent as %q", k, p[k])
		}
	}
	if p["nbsp"] != "\u00a0" || p["keep"] != " x " {
		t.Errorf("non-blank values: nbsp %q keep %q", p["nbsp"], p["keep"])
	}
	if got := FormatParams(Params{"q": " ", "a": "1"}); got != "a=1" {
		t.Errorf("FormatParams shows a blank value: %q", got)
	}
}
