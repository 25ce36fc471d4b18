package sandbox

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/topscript/topscript/toptime"
)

// The facts of the platform's doc pages about the core APIs (issue #13),
// one test each, against the sandbox. Facts tested elsewhere: page_size
// default and maximum (TestPagingLimits), use_has_next (TestTradesSoldGet),
// code 7's three scopes (TestBanScopes), signing what is received
// (TestSignsWhatItReceives), faults applied or not (faults_test.go).

// tradeTypesOf pages through a trade query and counts the types returned.
func tradeTypesOf(t *testing.T, s *Server, method string, args map[string]string) (map[string]int, int) {
	t.Helper()
	types := map[string]int{}
	n := 0
	for page := 1; ; page++ {
		p := map[string]string{"fields": "tid,type", "simplify": "true", "page_size": "100", "page_no": strconv.Itoa(page)}
		for k, v := range args {
			p[k] = v
		}
		m := doCall(t, s, method, p)
		if e := errOf(m); e != nil {
			t.Fatalf("%s %v: %v", method, args, e)
		}
		trades, _ := m["trades"].([]any)
		for _, x := range trades {
			types[x.(map[string]any)["type"].(string)]++
			n++
		}
		if len(trades) < 100 {
			return types, n
		}
	}
}

// Without type, trades.sold.get and increment.get return only the default
// query's types (guarantee_trade, auto_delivery, ec, cod, step); listing
// every type returns every trade.
func TestFactTradeTypesDefault(t *testing.T) {
	s := newTestServer(t, Options{})
	window := map[string]string{
		"start_modified": testNow.Add(-24 * time.Hour).Format(toptime.Layout),
		"end_modified":   testNow.Format(toptime.Layout),
	}
	for _, method := range []string{"taobao.trades.sold.get", "taobao.trades.sold.increment.get"} {
		var args map[string]string
		if method == "taobao.trades.sold.increment.get" {
			args = window
		}
		def, nDef := tradeTypesOf(t, s, method, args)
		for ty := range def {
			switch ty {
			case "fixed", "auction", "step", "auto_delivery", "ec", "cod":
			default:
				t.Errorf("%s without type returned a %s trade", method, ty)
			}
		}
		all := map[string]string{"type": allTypes}
		for k, v := range args {
			all[k] = v
		}
		every, nAll := tradeTypesOf(t, s, method, all)
		if nAll <= nDef || len(every) <= len(def) {
			t.Errorf("%s: every type listed returns %d trades of %d types, the default %d of %d types", method, nAll, len(every), nDef, len(def))
		}
		if method == "taobao.trades.sold.get" && nAll != DefaultTrades {
			t.Errorf("every type listed: %d trades, want all %d", nAll, DefaultTrades)
		}
	}
	wantCode(t, doCall(t, s, "taobao.trades.sold.get", map[string]string{"fields": "tid", "type": "fixed,fixd"}), "41", "")
}

// guarantee_trade is a query group, not a type: no trade carries it, and
// asking for it returns the fixed-price and auction trades.
func TestFactGuaranteeTradeIsAGroup(t *testing.T) {
	s := newTestServer(t, Options{})
	every, _ := tradeTypesOf(t, s, "taobao.trades.sold.get", map[string]string{"type": allTypes})
	if every["guarantee_trade"] != 0 {
		t.Errorf("%d trades typed guarantee_trade", every["guarantee_trade"])
	}
	got, n := tradeTypesOf(t, s, "taobao.trades.sold.get", map[string]string{"type": "guarantee_trade"})
	if len(got) != 2 || got["fixed"] != every["fixed"] || got["auction"] != every["auction"] || got["auction"] == 0 {
		t.Errorf("type=guarantee_trade returned %v (%d), want every fixed (%d) and auction (%d) trade", got, n, every["fixed"], every["auction"])
	}
}

// increment.get: end_modified must be strictly after start_modified, within
// one day of it.
func TestFactIncrementWindow(t *testing.T) {
	s := newTestServer(t, Options{})
	at := func(d time.Duration) string { return testNow.Add(d).Format(toptime.Layout) }
	call := func(start, end string) map[string]any {
		return doCall(t, s, "taobao.trades.sold.increment.get", map[string]string{"fields": "tid", "start_modified": start, "end_modified": end})
	}
	wantCode(t, call(at(-time.Hour), at(-time.Hour)), "15", "isv.invalid-parameter:*")
	wantCode(t, call(at(-time.Hour), at(-2*time.Hour)), "15", "isv.invalid-parameter:*")
	wantCode(t, call(at(-25*time.Hour-time.Second), at(-time.Hour)), "15", "isv.invalid-parameter:*")
	mustOK(t, call(at(-time.Hour-time.Second), at(-time.Hour)), "trades_sold_increment_get_response")
	mustOK(t, call(at(-25*time.Hour), at(-time.Hour)), "trades_sold_increment_get_response")
}

// increment.get returns the trades newest modification first, across pages.
func TestFactIncrementNewestFirst(t *testing.T) {
	s := newTestServer(t, Options{Trades: 20000})
	args := map[string]string{"fields": "tid,modified", "simplify": "true", "page_size": "100",
		"start_modified": testNow.Add(-24 * time.Hour).Format(toptime.Layout), "end_modified": testNow.Format(toptime.Layout)}
	prev, n := "9999", 0
	for page := 1; page <= 3; page++ {
		args["page_no"] = strconv.Itoa(page)
		for _, x := range doCall(t, s, "taobao.trades.sold.increment.get", args)["trades"].([]any) {
			mod := x.(map[string]any)["modified"].(string)
			if mod > prev {
				t.Fatalf("page %d: modified %s after %s: not newest first", page, mod, prev)
			}
			prev = mod
			n++
		}
	}
	if n != 300 {
		t.Errorf("%d trades on 3 pages", n)
	}
	// A trade that changes moves to the front.
	ch := s.Churn(1)[0]
	for ch.Event == "created" {
		ch = s.Churn(1)[0]
	}
	args["page_no"] = "1"
	args["type"] = allTypes
	args["start_modified"] = testNow.Add(-23 * time.Hour).Format(toptime.Layout)
	args["end_modified"] = testNow.Add(time.Second).Format(toptime.Layout)
	first := doCall(t, s, "taobao.trades.sold.increment.get", args)["trades"].([]any)[0].(map[string]any)
	if num(first["tid"]) != strconv.FormatInt(ch.Tid, 10) {
		t.Errorf("the trade churn changed (%d) is not first: %v", ch.Tid, first)
	}
}

// tid, oid and num_iid are bare JSON numbers of up to 19 digits;
// orders.sku_id is a String.
func TestFactTradeIDTypes(t *testing.T) {
	s := newTestServer(t, Options{})
	body := post(s, signed(s, "taobao.trades.sold.get", map[string]string{
		"fields": "tid,num_iid,orders.oid,orders.num_iid,orders.sku_id", "page_size": "100", "simplify": "true"})).Body.String()
	for _, re := range []string{`"tid":\d{19}[,}]`, `"oid":\d{19}[,}]`, `"num_iid":\d{12}[,}]`, `"sku_id":"\d{13}"`} {
		if !regexp.MustCompile(re).MatchString(body) {
			t.Errorf("no %s in %.300s", re, body)
		}
	}
	if regexp.MustCompile(`"(tid|oid|num_iid)":"`).MatchString(body) || regexp.MustCompile(`"sku_id":\d`).MatchString(body) {
		t.Errorf("an id of the wrong JSON type: %.300s", body)
	}
}

// tid_str and oid_str are documented for trade.fullinfo.get, not for the
// lists: sold.get and increment.get leave them out even when asked.
func TestFactStrIDsOnlyInFullinfo(t *testing.T) {
	s := newTestServer(t, Options{})
	fields := "tid,tid_str,orders.oid,orders.oid_str"
	m := doCall(t, s, "taobao.trades.sold.get", map[string]string{"fields": fields, "page_size": "5", "simplify": "true"})
	tr := m["trades"].([]any)[0].(map[string]any)
	if _, ok := tr["tid_str"]; ok {
		t.Errorf("sold.get returned tid_str: %v", tr)
	}
	if _, ok := tr["orders"].([]any)[0].(map[string]any)["oid_str"]; ok {
		t.Errorf("sold.get returned oid_str: %v", tr)
	}
	inc := post(s, signed(s, "taobao.trades.sold.increment.get", map[string]string{"fields": fields,
		"start_modified": testNow.Add(-24 * time.Hour).Format(toptime.Layout), "end_modified": testNow.Format(toptime.Layout)})).Body.String()
	if !strings.Contains(inc, `"oid":`) || strings.Contains(inc, "_str") {
		t.Errorf("increment.get: %.300s", inc)
	}
	tid := num(tr["tid"])
	full := doCall(t, s, "taobao.trade.fullinfo.get", map[string]string{"tid": tid, "fields": fields, "simplify": "true"})["trade"].(map[string]any)
	o := full["orders"].([]any)[0].(map[string]any)
	if full["tid_str"] != tid || o["oid_str"] != num(o["oid"]) {
		t.Errorf("fullinfo: %v", full)
	}
}
