package top

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestDecodeEnvelopes(t *testing.T) {
	plain := `{"trades_sold_get_response":{"total_results":2,"trades":{"trade":[{"tid":342161316540874753,"tid_str":"342161316540874753"},{"tid":2}]},"request_id":"4jkl5mhpc274"}}`
	simple := `{"total_results":2,"trades":[{"tid":342161316540874753,"tid_str":"342161316540874753"},{"tid":2}],"request_id":"4jkl5mhpc274"}`
	other := `{"whatever_key_response":{"trades":{"trade":[{"tid":342161316540874753}]},"request_id":"4jkl5mhpc274"}}`
	for _, body := range []string{plain, simple, other} {
		r, err := decodeResponse("taobao.trades.sold.get", []byte(body))
		if err != nil {
			t.Fatal(err)
		}
		if r.RequestID != "4jkl5mhpc274" || r.Method != "taobao.trades.sold.get" || string(r.Body) != body {
			t.Errorf("response %+v", r)
		}
		list, name, ok := FindList(r.Payload, "trades")
		if !ok || name != "trades" || len(list) == 0 {
			t.Fatalf("FindList: %v %v %v", list, name, ok)
		}
		tid := list[0].(map[string]any)["tid"]
		if n, ok := tid.(json.Number); !ok || n.String() != "342161316540874753" {
			t.Errorf("tid %T %v: not exact", tid, tid)
		}
		if g, name, ok := FindList(r.Payload, ""); !ok || name != "trades" || len(g) != len(list) {
			t.Errorf("guess: %v %v", name, ok)
		}
	}
}

func TestFindList(t *testing.T) {
	p := map[string]any{
		"item": map[string]any{"skus": map[string]any{"sku": []any{1, 2}}, "title": "x"},
		"a":    []any{1}, "b": []any{2},
	}
	if l, _, ok := FindList(p, "item.skus"); !ok || len(l) != 2 {
		t.Errorf("dotted: %v %v", l, ok)
	}
	if _, _, ok := FindList(p, ""); ok {
		t.Error("ambiguous guess succeeded")
	}
	if _, _, ok := FindList(p, "missing"); ok {
		t.Error("missing list found")
	}
	if _, _, ok := FindList(nil, "x"); ok {
		t.Error("nil payload")
	}
	if _, _, ok := FindList(map[string]any{"x": map[string]any{"a": []any{}, "b": []any{}}}, "x"); ok {
		t.Error("object with two lists taken as a list")
	}
}

func TestDecodeMalformed(t *testing.T) {
	for _, body := range []string{``, `{"a":`, `<html>502</html>`, `[1,2]`, `null`, `{"a":1} {"b":2}`, `<?xml version="1.0"?><x/>`} {
		if _, err := decodeResponse("m", []byte(body)); !errors.Is(err, errMalformed) {
			t.Errorf("%q: %v", body, err)
		}
	}
}

func TestErrorParsingAndKind(t *testing.T) {
	cases := []struct {
		body  string
		kind  Kind
		str   string
		after time.Duration
	}{
		{`{"error_response":{"code":15,"msg":"Remote service error","sub_code":"isv.item-not-exist","sub_msg":"商品不存在","request_id":"4jkl5mhpc274"}}`,
			KindISV, "taobao.item.sku.price.update: 15 Remote service error; isv.item-not-exist: 商品不存在 (request_id 4jkl5mhpc274)", 0},
		{`{"error_response":{"code":7,"msg":"App Call Limited","sub_code":"accesscontrol.limited-by-app-access-count","sub_msg":"This ban will last for 31062 more seconds","request_id":"4jkl5mhpc274"}}`,
			KindFlowControl, "taobao.item.sku.price.update: 7 App Call Limited; accesscontrol.limited-by-app-access-count: This ban will last for 31062 more seconds (request_id 4jkl5mhpc274)", 31062 * time.Second},
		{`{"error_response":{"code":15,"msg":"Remote service error","sub_code":"isp.top-remote-connection-timeout"}}`, KindISP, "taobao.item.sku.price.update: 15 Remote service error; isp.top-remote-connection-timeout", 0},
		{`{"error_response":{"code":15,"msg":"x","sub_code":"isp.call-limited","sub_msg":"This ban will last for 3 more seconds"}}`, KindFlowControl, "", 3 * time.Second},
		// The suffixed forms real traffic carries classify by family and base.
		{`{"error_response":{"code":15,"msg":"Remote service error","sub_code":"isv.item-not-exist:invalid-numIid-or-iid-tmall","sub_msg":"商品不存在"}}`, KindISV, "", 0},
		{`{"error_response":{"code":15,"msg":"Remote service error","sub_code":"isv.invalid-parameter:quantity-tmall"}}`, KindISV, "", 0},
		{`{"error_response":{"code":15,"msg":"Remote service error","sub_code":"isp.top-remote-connection-timeout-tmall"}}`, KindISP, "", 0},
		{`{"error_response":{"code":15,"msg":"x","sub_code":"isp.call-limited:app","sub_msg":"This ban will last for 3 more seconds"}}`, KindFlowControl, "", 3 * time.Second},
		{`{"error_response":{"code":10,"msg":"Service Currently Unavailable"}}`, KindISP, "taobao.item.sku.price.update: 10 Service Currently Unavailable", 0},
		{`{"error_response":{"code":27,"msg":"Invalid session","sub_code":"invalid-sessionkey","sub_msg":"非法或过期的SessionKey参数，请使用有效的SessionKey参数"}}`, KindAuth, "", 0},
		{`{"error_response":{"code":11,"msg":"Insufficient isv permissions","sub_code":"isv.permission-api-package-limit"}}`, KindAuth, "", 0},
		{`{"error_response":{"code":29,"msg":"Invalid app Key","sub_code":"isv.appkey-not-exists"}}`, KindAuth, "", 0},
		{`{"error_response":{"code":25,"msg":"Invalid signature"}}`, KindAuth, "", 0},
		{`{"error_response":{"code":22,"msg":"Invalid method"}}`, KindInvalid, "", 0},
		{`{"error_response":{"code":31,"msg":"Invalid timestamp"}}`, KindInvalid, "", 0},
		{`{"error_response":{"code":41,"msg":"Invalid arguments:cid","sub_code":"isv.invalid-parameter"}}`, KindInvalid, "", 0},
		{`{"error_response":{"code":40,"msg":"Missing required arguments:nicks"}}`, KindInvalid, "", 0},
		{`{"error_response":{"code":50,"msg":"Remote service error","sub_code":"isv.invalid-parameter"}}`, KindISV, "", 0},
		{`{"error_response":{"code":4,"msg":"User Call Limited"}}`, KindFlowControl, "", 0},
		{`{"error_response":{"code":8,"msg":"App Call Exceeds Limited Frequency"}}`, KindFlowControl, "", 0},
		{`{"error_response":{"code":"7","msg":"string code"}}`, KindFlowControl, "", 0},
		{`{"error_response":{}}`, KindISV, "", 0},
		{`{"error_response":"weird"}`, KindISV, "", 0},
	}
	for _, tc := range cases {
		_, err := decodeResponse("taobao.item.sku.price.update", []byte(tc.body))
		var e *Error
		if !errors.As(err, &e) {
			t.Fatalf("%s: %v", tc.body, err)
		}
		if e.Kind != tc.kind {
			t.Errorf("%s: kind %s want %s", tc.body, e.Kind, tc.kind)
		}
		if tc.str != "" && e.Error() != tc.str {
			t.Errorf("Error():\n got %s\nwant %s", e.Error(), tc.str)
		}
		if e.RetryAfter != tc.after {
			t.Errorf("%s: RetryAfter %v want %v", tc.body, e.RetryAfter, tc.after)
		}
		if strings.Contains(e.Error(), "\n") {
			t.Errorf("multi-line: %q", e.Error())
		}
	}
}

func TestSubCodeBaseAndFamily(t *testing.T) {
	for _, c := range []struct{ sub, base, family string }{
		{"isv.item-not-exist:invalid-numIid-or-iid", "isv.item-not-exist", "isv"},
		{"isv.invalid-parameter:sku-properties", "isv.invalid-parameter", "isv"},
		{"isp.top-remote-connection-timeout-tmall", "isp.top-remote-connection-timeout-tmall", "isp"},
		{"accesscontrol.limited-by-app-access-count", "accesscontrol.limited-by-app-access-count", "accesscontrol"},
		{"invalid-sessionkey", "invalid-sessionkey", ""},
		{"weird:a.b", "weird", ""},
		{"", "", ""},
	} {
		if got := SubCodeBase(c.sub); got != c.base {
			t.Errorf("SubCodeBase(%q) = %q, want %q", c.sub, got, c.base)
		}
		if got := SubCodeFamily(c.sub); got != c.family {
			t.Errorf("SubCodeFamily(%q) = %q, want %q", c.sub, got, c.family)
		}
	}
	e := &Error{SubCode: "isv.item-not-exist:invalid-numIid-or-iid"}
	if !e.HasSubCode("isv.item-not-exist") || e.HasSubCode("isv.item") || e.HasSubCode("isv.item-not-exist:invalid") {
		t.Error("HasSubCode compares the base before ':' only, as a whole")
	}
}

func TestErrorString(t *testing.T) {
	cases := []struct {
		e    *Error
		want string
	}{
		{&Error{Method: "m", Kind: KindTransport, Msg: "connection refused"}, "m: connection refused"},
		{&Error{Method: "m", Code: 7}, "m: 7"},
		{&Error{Kind: KindClosed}, "closed error"},
		{&Error{Method: "m", Code: 15, Msg: "a\nb", SubMsg: "only msg"}, "m: 15 a b; only msg"},
		{nil, "<nil>"},
	}
	for _, tc := range cases {
		if got := tc.e.Error(); got != tc.want {
			t.Errorf("got %q want %q", got, tc.want)
		}
	}
	cause := errors.New("root")
	e := &Error{Err: cause}
	if !errors.Is(e, cause) || errors.Unwrap(e) != cause {
		t.Error("Unwrap")
	}
	if KindOf(error(e)) != "" || KindOf(&Error{Kind: KindISP}) != KindISP || KindOf(errors.New("x")) != "" {
		t.Error("KindOf")
	}
}

// Error answers reach the caller as *Error, whatever the HTTP status.
func TestCallReturnsTypedError(t *testing.T) {
	g := newGW(t, func(_ int64, _ map[string]string, w http.ResponseWriter, _ *http.Request) {
		errBody(w, 15, "Remote service error", "isv.item-not-exist", "商品不存在")
	})
	c := newTestClient(t, testConfig(g.srv.URL))
	_, err := c.Call(context.Background(), "taobao.item.seller.get", Params{"num_iid": 1, "fields": "num_iid"}, nil)
	var e *Error
	if !errors.As(err, &e) || e.SubCode != "isv.item-not-exist" || e.Kind != KindISV || e.RequestID != "req15" || e.Method != "taobao.item.seller.get" {
		t.Fatalf("%#v", err)
	}
}
