package top_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/topscript/topscript/internal/sandboxtest"
	"github.com/topscript/topscript/sandbox"
	"github.com/topscript/topscript/top"
)

// skuQuantities is n "id:qty" entries joined by ';', as skus.quantity.update
// takes them.
func skuQuantities(n int) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = strconv.Itoa(4100000000000+i) + ":1"
	}
	return strings.Join(parts, ";")
}

// The catalog stops a call whose parameters break a documented limit before
// anything is sent: 21 item ids for taobao.opentrade.activity.sync (at most
// 20), a page_size over the maximum, an increment span over one day.
func TestCatalogValidationSendsNothing(t *testing.T) {
	s := sandboxtest.Start(t, sandbox.Options{})
	c := newClient(t, sandboxConfig(s))
	ids := make([]any, 21)
	for i := range ids {
		ids[i] = int64(100000000000 + i)
	}
	cases := []struct {
		method, param string
		params        top.Params
	}{
		{"taobao.opentrade.activity.sync", "item_id_list", top.Params{
			"activity_id": "2132", "activity_name": "会员优先购",
			"start_time": "2026-12-01 00:00:00", "end_time": "2026-12-02 00:00:00",
			"item_id_list": ids,
		}},
		{"taobao.opentrade.activity.sync", "activity_name", top.Params{
			"activity_id": "2132", "start_time": "2026-12-01 00:00:00", "end_time": "2026-12-02 00:00:00",
			"item_id_list": ids[:20],
		}},
		{"taobao.trades.sold.get", "page_size", top.Params{"fields": "tid", "page_size": 101}},
		{"taobao.skus.quantity.update", "skuid_quantities", top.Params{"num_iid": "600000153551", "skuid_quantities": skuQuantities(21)}},
		{"taobao.skus.quantity.update", "outerid_quantities", top.Params{"num_iid": "600000153551", "outerid_quantities": skuQuantities(21)}},
		{"taobao.trades.sold.increment.get", "end_modified", top.Params{
			"fields": "tid", "start_modified": "2026-11-01 00:00:00", "end_modified": "2026-11-02 00:00:01",
		}},
	}
	for _, tc := range cases {
		_, err := c.Call(context.Background(), tc.method, tc.params, nil)
		var e *top.Error
		if !errors.As(err, &e) || e.Kind != top.KindInvalid {
			t.Fatalf("%s: want an invalid-kind error, got %v", tc.method, err)
		}
		if !strings.Contains(e.Error(), tc.method) || !strings.Contains(e.Error(), tc.param) {
			t.Errorf("%s: the error %q does not name the method and %s", tc.method, e.Error(), tc.param)
		}
	}
	if st := s.Stats(); st.Requests != 0 || len(st.Calls) != 0 {
		t.Fatalf("validation failures reached the gateway: %d requests, calls %v", st.Requests, st.Calls)
	}

	// Twenty ids are within the limit: the call reaches the gateway (which
	// answers as it will about these ids).
	_, err := c.Call(context.Background(), "taobao.opentrade.activity.sync", top.Params{
		"activity_id": "2132", "activity_name": "会员优先购",
		"start_time": "2026-12-01 00:00:00", "end_time": "2026-12-02 00:00:00",
		"item_id_list": ids[:20],
	}, nil)
	if n := s.Stats().Calls["taobao.opentrade.activity.sync"]; n != 1 {
		t.Fatalf("20 ids: %d calls reached the gateway, want 1 (err %v)", n, err)
	}
	// Twenty SKUs a skus.quantity.update are within its limit too.
	_, err = c.Call(context.Background(), "taobao.skus.quantity.update", top.Params{"num_iid": "600000153551", "skuid_quantities": skuQuantities(20)}, nil)
	if n := s.Stats().Calls["taobao.skus.quantity.update"]; n != 1 {
		t.Fatalf("20 SKUs: %d calls reached the gateway, want 1 (err %v)", n, err)
	}
}

// Every kind of problem the catalog knows stops the call before anything is
// sent, with an invalid-kind error naming the method and the parameter.
func TestValidationCasesSendNothing(t *testing.T) {
	s := sandboxtest.Start(t, sandbox.Options{})
	c := newClient(t, sandboxConfig(s))
	long := strings.Repeat("名", 61)
	cases := []struct {
		method, param, reason string
		params                top.Params
	}{
		{"taobao.trades.sold.get", "feilds", "did you mean fields?", top.Params{"fields": "tid", "feilds": "tid"}},
		{"taobao.trades.sold.get", "fields", "required parameter missing", top.Params{"feilds": "tid"}},
		{"taobao.item.seller.get", "num_iid", `"abc" is not a whole number`, top.Params{"fields": "num_iid", "num_iid": "abc"}},
		{"taobao.item.sku.price.update", "price", `"12,50" is not a decimal number`, top.Params{"num_iid": 1, "properties": "1:2", "price": "12,50"}},
		{"taobao.trades.sold.get", "start_created", `"2024/03/01" is not a time`, top.Params{"fields": "tid", "start_created": "2024/03/01"}},
		{"taobao.trades.sold.get", "use_has_next", `"yes" is not a Boolean`, top.Params{"fields": "tid", "use_has_next": "yes"}},
		{"taobao.fenxiao.products.get", "pids", "31 items, at most 30 allowed", top.Params{"pids": func() []any {
			v := make([]any, 31)
			for i := range v {
				v[i] = 1000000000 + i
			}
			return v
		}()}},
		{"taobao.fenxiao.product.update", "name", "61 characters, at most 60 allowed", top.Params{"pid": 1, "name": long}},
		{"taobao.fenxiao.product.update", "standard_price", "is over the maximum 10000000", top.Params{"pid": 1, "standard_price": "20000000"}},
		{"taobao.fenxiao.product.update", "status", `"on" is not one of up, down, delete`, top.Params{"pid": 1, "status": "on"}},
		{"taobao.items.onsale.get", "page_size", "201 is over the maximum page size 200", top.Params{"fields": "num_iid", "page_size": 201}},
	}
	for _, tc := range cases {
		_, err := c.Call(context.Background(), tc.method, tc.params, nil)
		var e *top.Error
		if !errors.As(err, &e) || e.Kind != top.KindInvalid {
			t.Errorf("%s: want an invalid-kind error, got %v", tc.method, err)
			continue
		}
		if msg := e.Error(); !strings.HasPrefix(msg, tc.method+": "+tc.param+": ") || !strings.Contains(msg, tc.reason) {
			t.Errorf("%s: the error %q does not name %s with %q", tc.method, msg, tc.param, tc.reason)
		}
	}
	if st := s.Stats(); st.Requests != 0 || len(st.Calls) != 0 {
		t.Fatalf("validation failures reached the gateway: %d requests, calls %v", st.Requests, st.Calls)
	}

	// The per-call switch sends what the catalog would refuse; the gateway
	// then judges it.
	_, err := c.Call(context.Background(), "taobao.fenxiao.products.get", top.Params{"fields": "pid"},
		&top.CallOptions{Retries: -1, SkipValidation: true})
	if n := s.Stats().Calls["taobao.fenxiao.products.get"]; n != 1 {
		t.Fatalf("SkipValidation: %d calls reached the gateway, want 1 (err %v)", n, err)
	}
	// So does the config switch, for matching methods only.
	cfg := sandboxConfig(s)
	cfg.SkipValidation = []string{"taobao.fenxiao.*"}
	c2 := newClient(t, cfg)
	_, err = c2.Call(context.Background(), "taobao.fenxiao.products.get", top.Params{"fields": "pid"}, nil)
	if n := s.Stats().Calls["taobao.fenxiao.products.get"]; n != 2 {
		t.Fatalf("skip_validation glob: %d calls reached the gateway, want 2 (err %v)", n, err)
	}
	if _, err := c2.Call(context.Background(), "taobao.item.seller.get", top.Params{"fields": "num_iid", "num_iid": "abc"}, nil); top.KindOf(err) != top.KindInvalid {
		t.Errorf("a method outside the glob was not checked: %v", err)
	}
	if n := s.Stats().Calls["taobao.item.seller.get"]; n != 0 {
		t.Errorf("item.seller.get reached the gateway %d times", n)
	}
	if _, err := top.NewClient(top.Config{AppKey: "k", AppSecret: "s", SkipValidation: []string{"a["}}); err == nil ||
		!strings.Contains(err.Error(), "skip_validation") {
		t.Errorf("a bad glob: %v", err)
	}
}

// A method the catalog does not know is still sent (new APIs appear every
// week); the gateway's code 22 then says which known methods are nearest.
func TestUnknownMethodSentWithSuggestion(t *testing.T) {
	s := sandboxtest.Start(t, sandbox.Options{})
	c := newClient(t, sandboxConfig(s))
	_, err := c.Call(context.Background(), "taobao.trade.sold.get", top.Params{"fields": "tid"}, nil)
	var e *top.Error
	if !errors.As(err, &e) || e.Code != 22 {
		t.Fatalf("want code 22, got %v", err)
	}
	if !strings.Contains(e.Error(), "did you mean taobao.trades.sold.get") {
		t.Errorf("no suggestion: %q", e.Error())
	}
	if n := s.Stats().Calls["taobao.trade.sold.get"]; n != 1 {
		t.Errorf("the unknown method reached the gateway %d times, want 1", n)
	}
}

// Validate checks a call as Call would and sends nothing (for dry runs).
func TestClientValidateSendsNothing(t *testing.T) {
	s := sandboxtest.Start(t, sandbox.Options{})
	c := newClient(t, sandboxConfig(s))
	err := c.Validate("taobao.item.sku.price.update", top.Params{"num_iid": 1, "properties": "1:2", "price": "12,50"}, nil)
	var e *top.Error
	if !errors.As(err, &e) || e.Kind != top.KindInvalid || !strings.Contains(e.Error(), "price") {
		t.Errorf("Validate: %v", err)
	}
	if err := c.Validate("taobao.item.sku.price.update", top.Params{"num_iid": 1, "properties": "1:2", "price": "12.50"}, nil); err != nil {
		t.Errorf("a valid call: %v", err)
	}
	if err := c.Validate("taobao.item.sku.price.update", top.Params{"num_iid": 1, "properties": "1:2", "price": "12,50"},
		&top.CallOptions{SkipValidation: true}); err != nil {
		t.Errorf("SkipValidation: %v", err)
	}
	if st := s.Stats(); st.Requests != 0 {
		t.Errorf("Validate sent %d requests", st.Requests)
	}
}
