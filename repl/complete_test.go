package repl

import (
	"bytes"
	"reflect"
	"testing"
)

func TestComplete(t *testing.T) {
	var out bytes.Buffer
	eng := newEngine(t, &out, false)
	s := &session{eng: eng, L: eng.State(), out: &out, errw: &out}
	s.importModules()
	if err := eng.State().DoString(`
		shop = {name = "x", orders = {count = 1}, sync = function() end}
		w = csv.writer("` + t.TempDir() + `/w.csv", {"a"})
	`); err != nil {
		t.Fatal(err)
	}
	methods := []string{
		"taobao.trades.sold.get", "taobao.trades.sold.increment.get", "taobao.trade.fullinfo.get",
		"taobao.time.get", "tmall.supplychain.channel.product.upshelf",
	}
	c := NewCompleter(eng.State(), methods)

	type want struct {
		head  string
		list  []string
		tail  string
		exact bool // list must equal; otherwise list must contain
	}
	cases := []struct {
		line string
		pos  int // -1: end of line
		want want
	}{
		{"top.ca", -1, want{"", []string{"top.call", "top.call_all"}, "", true}},
		{"json.enc", -1, want{"", []string{"json.encode"}, "", true}},
		{"x = json.de", -1, want{"x = ", []string{"json.decode"}, "", true}},
		{"json.enc(t)", 8, want{"", []string{"json.encode"}, "(t)", true}},
		{"pri", -1, want{"", []string{"print"}, "", true}},
		{"fun", -1, want{"", []string{"function"}, "", true}},
		{"for i, v in ip", -1, want{"for i, v in ", []string{"ipairs"}, "", true}},
		{"shop.orders.c", -1, want{"", []string{"shop.orders.count"}, "", true}},
		{"shop.", -1, want{"", []string{"shop.name", "shop.orders", "shop.sync"}, "", true}},
		{"shop:", -1, want{"", []string{"shop:sync"}, "", true}},
		{"w:wr", -1, want{"", []string{"w:write"}, "", true}},
		{"time.", -1, want{"", []string{"time.add", "time.format", "time.now", "time.parse", "time.sleep", "time.unix", "time.windows"}, "", true}},
		{"string.up", -1, want{"", []string{"string.upper"}, "", true}},
		{"nosuch.x", -1, want{"nosuch.x", nil, "", true}},
		{"1.5", -1, want{"1.5", nil, "", true}},
		{`top.call("taobao.trades.so`, -1, want{`top.call("`, []string{"taobao.trades.sold.get", "taobao.trades.sold.increment.get"}, "", true}},
		{`top.call("taobao.trades.so", {})`, 26, want{`top.call("`, []string{"taobao.trades.sold.get", "taobao.trades.sold.increment.get"}, `", {})`, true}},
		{`top.each('tm`, -1, want{`top.each('`, []string{"tmall.supplychain.channel.product.upshelf"}, "", true}},
		{`top.call("`, -1, want{`top.call("`, methods, "", false}},
		{`calls = {{"taobao.ti`, -1, want{`calls = {{"`, []string{"taobao.time.get"}, "", true}},
		{`csv.read("da`, -1, want{`csv.read("da`, nil, "", true}},
		{`x = "a" .. json.enc`, -1, want{`x = "a" .. `, []string{"json.encode"}, "", true}},
		{`-- json.enc`, -1, want{`-- `, []string{"json.encode"}, "", true}},
		{`print("中文", json.enc`, -1, want{`print("中文", `, []string{"json.encode"}, "", true}},
	}
	for _, tc := range cases {
		pos := tc.pos
		if pos < 0 {
			pos = len([]rune(tc.line))
		}
		head, list, tail := c.Complete(tc.line, pos)
		if head != tc.want.head || tail != tc.want.tail {
			t.Errorf("Complete(%q, %d): head %q tail %q, want %q %q", tc.line, pos, head, tail, tc.want.head, tc.want.tail)
		}
		if tc.want.exact {
			if !reflect.DeepEqual(list, tc.want.list) {
				t.Errorf("Complete(%q, %d) = %q, want %q", tc.line, pos, list, tc.want.list)
			}
			continue
		}
		set := map[string]bool{}
		for _, l := range list {
			set[l] = true
		}
		for _, w := range tc.want.list {
			if !set[w] {
				t.Errorf("Complete(%q) lacks %q (got %q)", tc.line, w, list)
			}
		}
	}
}

func TestCompleteNoState(t *testing.T) {
	c := NewCompleter(nil, []string{"taobao.time.get"})
	if _, list, _ := c.Complete("pri", 3); list != nil {
		t.Fatalf("no state, got %q", list)
	}
	if _, list, _ := c.Complete(`top.call("taobao.ti`, 19); len(list) != 1 {
		t.Fatalf("methods without a state: %q", list)
	}
	if _, list, _ := c.Complete("x", 99); list != nil {
		t.Fatalf("out of range pos: %q", list)
	}
}
