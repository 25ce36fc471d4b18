package top

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// The per-call cost of the client's own work, no network: encode the
// params, sign, write the body, decode a 20-trade answer.
func BenchmarkSignEncodeDecode(b *testing.B) {
	c, err := NewClient(testConfig("http://127.0.0.1:1/router/rest"), WithClock(newFakeClock(time.Now())))
	if err != nil {
		b.Fatal(err)
	}
	var trades []string
	for i := range 20 {
		trades = append(trades, fmt.Sprintf(`{"tid":%d,"tid_str":"%d","status":"WAIT_SELLER_SEND_GOODS","payment":"128.00","created":"2024-11-11 00:00:%02d","orders":{"order":[{"oid":%d,"num_iid":600000000001,"title":"商品","price":"64.00","num":2}]}}`,
			342161316540874753+i, 342161316540874753+i, i, 342161316540874753+i+1))
	}
	body := []byte(`{"trades_sold_get_response":{"total_results":2000,"has_next":true,"trades":{"trade":[` + strings.Join(trades, ",") + `]},"request_id":"4jkl5mhpc274"}}`)
	params := Params{
		"fields":         "tid,tid_str,status,payment,created,orders",
		"start_created":  "2024-11-01 00:00:00",
		"end_created":    "2024-11-11 23:59:59",
		"status":         "WAIT_SELLER_SEND_GOODS",
		"page_no":        3,
		"page_size":      int64(20),
		"use_has_next":   true,
		"buyer_nick":     "张三",
		"ext":            map[string]any{"b": 1.0, "a": json.Number("342161316540874753")},
		"item_id_list":   []any{int64(1), int64(2), int64(3)},
		"some_big_value": json.Number("342161316540874753"),
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		cl, err := c.prepare("taobao.trades.sold.get", params, nil)
		if err != nil {
			b.Fatal(err)
		}
		all, err := c.signedParams(cl)
		if err != nil {
			b.Fatal(err)
		}
		if _, _, err := encodeBody(all, nil); err != nil {
			b.Fatal(err)
		}
		r, err := decodeResponse(cl.method, body)
		if err != nil {
			b.Fatal(err)
		}
		if l, _, _ := FindList(r.Payload, "trades"); len(l) != 20 {
			b.Fatal("list")
		}
	}
}
