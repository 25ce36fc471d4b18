package stdlib

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	lua "github.com/yuin/gopher-lua"
)

func benchPayload(b *testing.B, body string) map[string]any {
	dec := json.NewDecoder(strings.NewReader(body))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		b.Fatal(err)
	}
	return m
}

func benchTrades() string {
	var trades []string
	for i := range 100 {
		trades = append(trades, fmt.Sprintf(`{"tid":%d,"tid_str":"%d","status":"WAIT_SELLER_SEND_GOODS","type":"fixed","payment":"128.00","created":"2024-11-11 00:00:%02d","modified":"2024-11-11 00:00:%02d","buyer_nick":"买家","orders":{"order":[{"oid":%d,"num_iid":600000000001,"title":"商品","price":"64.00","num":2}]}}`,
			342161316540874753+i, 342161316540874753+i, i%60, i%60, 342161316540874753+i+1))
	}
	return `{"total_results":2000,"has_next":true,"trades":{"trade":[` + strings.Join(trades, ",") + `]},"request_id":"4jkl5mhpc274"}`
}

func BenchmarkToLuaItem(b *testing.B) {
	m := benchPayload(b, `{"item":{"num_iid":600000153551,"title":"复古围巾 2025款1","price":"59.90","num":896},"request_id":"9uk6zocud9gq"}`)
	L := lua.NewState()
	defer L.Close()
	b.ReportAllocs()
	for b.Loop() {
		ToLua(L, m)
	}
}

func BenchmarkToLuaTrades(b *testing.B) {
	m := benchPayload(b, benchTrades())
	L := lua.NewState()
	defer L.Close()
	b.ReportAllocs()
	for b.Loop() {
		ToLua(L, m)
	}
}

// BenchmarkDecodeJSONMessage: json.decode of a TMC trade message's content
// (what tmc.listen does for every message).
func BenchmarkDecodeJSONMessage(b *testing.B) {
	s := `{"buyer_nick":"陈老买家254","payment":"138.90","oid":3612345000292060315,"tid":3612345000292060314,"type":"guarantee_trade","seller_nick":"topscript沙箱旗舰店","status":"WAIT_SELLER_SEND_GOODS"}`
	L := lua.NewState()
	defer L.Close()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeJSON(L, s); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeJSONTrades: json.decode of a 100-trade page.
func BenchmarkDecodeJSONTrades(b *testing.B) {
	s := benchTrades()
	L := lua.NewState()
	defer L.Close()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeJSON(L, s); err != nil {
			b.Fatal(err)
		}
	}
}
