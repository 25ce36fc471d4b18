package top_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/topscript/topscript/internal/sandboxtest"
	"github.com/topscript/topscript/sandbox"
	"github.com/topscript/topscript/top"
)

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
}
