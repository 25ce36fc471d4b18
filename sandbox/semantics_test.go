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

// skuItem returns the index of a seed item with at least n SKUs.
func skuItem(t *testing.T, s *Server, n int) int {
	t.Helper()
	for i := range s.st.items {
		if len(s.st.items[i].skus) >= n {
			return i
		}
	}
	t.Fatalf("no item with %d SKUs", n)
	return 0
}

// item.sku.price.update takes num_iid and properties (required) and no
// sku_id; price, quantity, outer_id and item_price are optional: a
// quantity-only update works.
func TestFactSkuPriceUpdateParams(t *testing.T) {
	s := newTestServer(t, Options{})
	it := &s.st.items[skuItem(t, s, 2)]
	numIID := strconv.FormatInt(it.numIID, 10)
	k := it.skus[0]
	e := wantCode(t, doCall(t, s, "taobao.item.sku.price.update", map[string]string{"num_iid": numIID, "sku_id": strconv.FormatInt(k.id, 10), "price": "1"}), "40", "")
	if e["msg"] != "Missing required arguments:properties" {
		t.Errorf("sku_id without properties: %v", e)
	}
	wantCode(t, doCall(t, s, "taobao.item.sku.price.update", map[string]string{"properties": k.props, "price": "1"}), "40", "")
	m := doCall(t, s, "taobao.item.sku.price.update", map[string]string{"num_iid": numIID, "properties": k.props, "quantity": "17"})
	mustOK(t, m, "item_sku_price_update_response")
	if got := it.skus[0]; got.qty != 17 || got.price != k.price {
		t.Errorf("quantity-only update: qty %d price %d, want 17 and the price unchanged (%d)", got.qty, got.price, k.price)
	}
	// A sku_id next to properties is ignored: properties names the SKU.
	m = doCall(t, s, "taobao.item.sku.price.update", map[string]string{"num_iid": numIID, "properties": k.props, "quantity": "18",
		"sku_id": strconv.FormatInt(it.skus[1].id, 10)})
	mustOK(t, m, "item_sku_price_update_response")
	if it.skus[0].qty != 18 || it.skus[1].qty == 18 {
		t.Errorf("sku_id chose the SKU: %d %d", it.skus[0].qty, it.skus[1].qty)
	}
}

// The item's price stays inside its SKUs' price range; item_price moves it
// along. The doc's example: item 6, SKUs 5 and 10 — the 5 may go to 0–6,
// the 10 to 6–∞.
func TestFactSkuPriceRange(t *testing.T) {
	s := newTestServer(t, Options{})
	it := &s.st.items[skuItem(t, s, 2)]
	it.skus = it.skus[:2]
	it.price, it.skus[0].price, it.skus[1].price = 600, 500, 1000
	numIID := strconv.FormatInt(it.numIID, 10)
	set := func(k int, price string, extra ...string) map[string]any {
		p := map[string]string{"num_iid": numIID, "properties": it.skus[k].props, "price": price}
		for i := 0; i+1 < len(extra); i += 2 {
			p[extra[i]] = extra[i+1]
		}
		return doCall(t, s, "taobao.item.sku.price.update", p)
	}
	restore := func() { it.price, it.skus[0].price, it.skus[1].price = 600, 500, 1000 }
	for _, c := range []struct {
		sku   int
		price string
		ok    bool
	}{
		{0, "0.01", true}, {0, "6.00", true}, {0, "6.01", false}, {0, "20", false},
		{1, "6.00", true}, {1, "5.99", false}, {1, "9999", true}, {1, "3", false},
	} {
		restore()
		m := set(c.sku, c.price)
		if c.ok {
			mustOK(t, m, "item_sku_price_update_response")
			continue
		}
		wantCode(t, m, "15", "isv.invalid-parameter:*")
		if it.skus[c.sku].price != []int64{500, 1000}[c.sku] || it.price != 600 {
			t.Errorf("SKU %d to %s failed but changed the item: %+v", c.sku, c.price, it)
		}
	}
	// item_price moves the item price along, into the new range.
	restore()
	mustOK(t, set(0, "20", "item_price", "10"), "item_sku_price_update_response")
	if it.price != 1000 || it.skus[0].price != 2000 {
		t.Errorf("item_price: item %d, SKU %d", it.price, it.skus[0].price)
	}
	restore()
	wantCode(t, set(0, "20", "item_price", "30"), "15", "isv.invalid-parameter:*") // outside [10, 20]
	// Three SKUs at one price all raised, without item_price: the last fails.
	s.Reset()
	it = &s.st.items[skuItem(t, s, 2)]
	var low []int
	for i, k := range it.skus {
		if k.price == it.price {
			low = append(low, i)
		}
	}
	numIID = strconv.FormatInt(it.numIID, 10)
	for n, i := range low {
		m := set(i, money(it.price+10000))
		if n < len(low)-1 {
			mustOK(t, m, "item_sku_price_update_response")
		} else {
			wantCode(t, m, "15", "isv.invalid-parameter:price-range")
		}
	}
}

// The answer of item.sku.price.update holds sku with num_iid, modified,
// sku_id and iid, nothing more.
func TestFactSkuPriceResponse(t *testing.T) {
	s := newTestServer(t, Options{})
	it := s.st.items[skuItem(t, s, 1)]
	m := doCall(t, s, "taobao.item.sku.price.update", map[string]string{"num_iid": strconv.FormatInt(it.numIID, 10),
		"properties": it.skus[0].props, "price": money(it.skus[0].price), "simplify": "true"})
	sku := m["sku"].(map[string]any)
	var keys []string
	for k := range sku {
		keys = append(keys, k)
	}
	if len(keys) != 4 || sku["iid"] == nil || sku["num_iid"] == nil || sku["modified"] == nil || sku["sku_id"] == nil {
		t.Errorf("sku: %v", sku)
	}
	if len(m) != 2 { // sku and request_id
		t.Errorf("answer: %v", m)
	}
}

// skus.quantity.update takes at most 20 SKUs a call.
func TestFactSkusQuantityAtMost20(t *testing.T) {
	s := newTestServer(t, Options{})
	it := s.st.items[skuItem(t, s, 1)]
	k := strconv.FormatInt(it.skus[0].id, 10)
	entries := func(n int) string {
		parts := make([]string, n)
		for i := range parts {
			parts[i] = k + ":" + strconv.Itoa(i)
		}
		return strings.Join(parts, ";")
	}
	numIID := strconv.FormatInt(it.numIID, 10)
	mustOK(t, doCall(t, s, "taobao.skus.quantity.update", map[string]string{"num_iid": numIID, "skuid_quantities": entries(20)}), "skus_quantity_update_response")
	wantCode(t, doCall(t, s, "taobao.skus.quantity.update", map[string]string{"num_iid": numIID, "skuid_quantities": entries(21)}), "41", "")
	wantCode(t, doCall(t, s, "taobao.skus.quantity.update", map[string]string{"num_iid": numIID, "outerid_quantities": strings.Repeat(it.skus[0].outerID+":1;", 21)}), "41", "")
}

// type=1 sets the stock, type=2 adds to it; an addition below zero sets it
// to 0.
func TestFactSkusQuantityTypes(t *testing.T) {
	s := newTestServer(t, Options{})
	it := &s.st.items[skuItem(t, s, 1)]
	numIID, sid := strconv.FormatInt(it.numIID, 10), strconv.FormatInt(it.skus[0].id, 10)
	upd := func(q, typ string) {
		t.Helper()
		mustOK(t, doCall(t, s, "taobao.skus.quantity.update", map[string]string{"num_iid": numIID, "skuid_quantities": sid + ":" + q, "type": typ}), "skus_quantity_update_response")
	}
	for _, c := range []struct {
		q, typ string
		want   int64
	}{{"10", "1", 10}, {"5", "2", 15}, {"-4", "2", 11}, {"-50", "2", 0}, {"7", "", 7}} {
		upd(c.q, c.typ)
		if it.skus[0].qty != c.want {
			t.Errorf("%s type %q: stock %d, want %d", c.q, c.typ, it.skus[0].qty, c.want)
		}
	}
	wantCode(t, doCall(t, s, "taobao.skus.quantity.update", map[string]string{"num_iid": numIID, "skuid_quantities": sid + ":-1", "type": "1"}), "41", "")
}

// An outer_id shared by several SKUs: outerid_quantities updates all of
// them.
func TestFactSkusQuantitySharedOuterID(t *testing.T) {
	s := newTestServer(t, Options{})
	it := &s.st.items[skuItem(t, s, 3)]
	numIID := strconv.FormatInt(it.numIID, 10)
	for _, i := range []int{0, 2} { // two SKUs take the same outer_id
		mustOK(t, doCall(t, s, "taobao.item.sku.price.update", map[string]string{"num_iid": numIID,
			"properties": it.skus[i].props, "outer_id": "SHARED-1"}), "item_sku_price_update_response")
	}
	m := doCall(t, s, "taobao.skus.quantity.update", map[string]string{"num_iid": numIID, "outerid_quantities": "SHARED-1:33"})
	skus := path(mustOK(t, m, "skus_quantity_update_response"), "item", "skus", "sku").([]any)
	if it.skus[0].qty != 33 || it.skus[2].qty != 33 || it.skus[1].qty == 33 || len(skus) != 2 {
		t.Errorf("stocks %d %d %d, answer %v: want both SKUs of SHARED-1 at 33", it.skus[0].qty, it.skus[1].qty, it.skus[2].qty, skus)
	}
}

// items.onsale.get answers only its listed fields (no SKUs), newest listed
// first by default.
func TestFactItemsOnsale(t *testing.T) {
	s := newTestServer(t, Options{})
	m := doCall(t, s, "taobao.items.onsale.get", map[string]string{"simplify": "true", "page_size": "200",
		"fields": "num_iid,title,list_time,sku,skus,desc,sold_quantity,has_showcase,props"})
	prev := "9999"
	for _, x := range m["items"].([]any) {
		it := x.(map[string]any)
		for k := range it {
			if !onsaleFields[k] {
				t.Fatalf("items.onsale.get answered %s: %v", k, it)
			}
		}
		if it["sold_quantity"] == nil || it["props"] == nil {
			t.Fatalf("listed fields missing: %v", it)
		}
		lt := it["list_time"].(string)
		if lt > prev {
			t.Fatalf("list_time %s after %s: not newest listed first", lt, prev)
		}
		prev = lt
	}
	m = doCall(t, s, "taobao.items.onsale.get", map[string]string{"simplify": "true", "fields": "num_iid,list_time", "order_by": "list_time:asc"})
	items := m["items"].([]any)
	if a, b := items[0].(map[string]any)["list_time"].(string), items[1].(map[string]any)["list_time"].(string); a > b {
		t.Errorf("order_by list_time:asc: %s before %s", a, b)
	}
	wantCode(t, doCall(t, s, "taobao.items.onsale.get", map[string]string{"fields": "num_iid", "order_by": "price:desc"}), "41", "")
}

// fenxiao.products.get: fields (skus, images) applies only with pids;
// products come newest-published first; the text is description.
func TestFactFenxiaoProductsGet(t *testing.T) {
	s := newTestServer(t, Options{})
	m := doCall(t, s, "taobao.fenxiao.products.get", map[string]string{"simplify": "true", "fields": "skus,images", "page_size": "50"})
	prev, pid := "9999", ""
	for _, x := range m["products"].([]any) {
		p := x.(map[string]any)
		if p["skus"] != nil || p["pictures"] != nil {
			t.Fatalf("fields applied without pids: %v", p)
		}
		if p["description"] == nil {
			t.Fatalf("no description: %v", p)
		}
		c := p["created"].(string)
		if c > prev {
			t.Fatalf("created %s after %s: not newest published first", c, prev)
		}
		prev, pid = c, num(p["pid"])
	}
	m = doCall(t, s, "taobao.fenxiao.products.get", map[string]string{"simplify": "true", "fields": "skus,images", "pids": pid})
	p := m["products"].([]any)[0].(map[string]any)
	if p["skus"] == nil || p["pictures"] == nil {
		t.Errorf("fields with pids: %v", p)
	}
	mustOK(t, doCall(t, s, "taobao.fenxiao.product.update", map[string]string{"pid": pid, "desc": "新的描述文字"}), "fenxiao_product_update_response")
	m = doCall(t, s, "taobao.fenxiao.products.get", map[string]string{"simplify": "true", "pids": pid})
	if d := m["products"].([]any)[0].(map[string]any)["description"]; d != "新的描述文字" {
		t.Errorf("description after desc update: %v", d)
	}
}

// fenxiao.product.update: status up, down or delete (other values are
// ignored); quantity from 1 to 999999.
func TestFactFenxiaoProductUpdate(t *testing.T) {
	s := newTestServer(t, Options{})
	var plain *fxProduct // quantity is set directly on a product without SKUs
	p := &s.st.fx[0]
	plain = &s.st.fx[1]
	plain.skus = nil
	pid := strconv.FormatInt(p.pid, 10)
	upd := func(args ...string) map[string]any {
		q := map[string]string{"pid": pid}
		for i := 0; i+1 < len(args); i += 2 {
			q[args[i]] = args[i+1]
		}
		return doCall(t, s, "taobao.fenxiao.product.update", q)
	}
	mustOK(t, upd("status", "down"), "fenxiao_product_update_response")
	if p.status != "down" {
		t.Errorf("status %s", p.status)
	}
	mustOK(t, upd("status", "bogus", "name", "改名"), "fenxiao_product_update_response")
	if p.status != "down" || p.name != "改名" {
		t.Errorf("an unknown status is ignored: %s %s", p.status, p.name)
	}
	mustOK(t, upd("status", "up"), "fenxiao_product_update_response")
	plainID := strconv.FormatInt(plain.pid, 10)
	for _, c := range []struct {
		q  string
		ok bool
	}{{"0", false}, {"1", true}, {"999999", true}, {"1000000", false}} {
		m := doCall(t, s, "taobao.fenxiao.product.update", map[string]string{"pid": plainID, "quantity": c.q})
		if c.ok {
			mustOK(t, m, "fenxiao_product_update_response")
			if strconv.FormatInt(plain.qty, 10) != c.q {
				t.Errorf("quantity %s: stored %d", c.q, plain.qty)
			}
		} else {
			wantCode(t, m, "41", "")
		}
	}
	mustOK(t, upd("status", "delete"), "fenxiao_product_update_response")
	m := doCall(t, s, "taobao.fenxiao.products.get", map[string]string{"simplify": "true", "pids": pid})
	if _, ok := m["products"]; ok || num(m["total_results"]) != "0" {
		t.Errorf("a deleted product is still listed: %v", m)
	}
	wantCode(t, upd("name", "x"), "15", "isv.product-not-exist")
	wantCode(t, doCall(t, s, "tmall.supplychain.channel.product.upshelf", map[string]string{"product_id": pid}), "50", "isv.invalid-parameter")
}

// The channel shelf APIs answer result.module as a Boolean.
func TestFactChannelModuleBoolean(t *testing.T) {
	s := newTestServer(t, Options{})
	pid := strconv.FormatInt(s.st.fx[0].pid, 10)
	for _, method := range []string{"tmall.supplychain.channel.product.downshelf", "tmall.supplychain.channel.product.upshelf"} {
		body := post(s, signed(s, method, map[string]string{"product_id": pid, "simplify": "true"})).Body.String()
		if !strings.Contains(body, `"module":true`) {
			t.Errorf("%s: %s", method, body)
		}
	}
}

// Real traffic carries suffixed sub_codes; the sandbox answers them so.
func TestFactSuffixedSubCodes(t *testing.T) {
	s := newTestServer(t, Options{})
	it := s.st.items[skuItem(t, s, 1)]
	e := wantCode(t, doCall(t, s, "taobao.item.seller.get", map[string]string{"num_iid": "123456789012", "fields": "title"}), "15", "isv.item-not-exist:*")
	if e["sub_code"] != "isv.item-not-exist:invalid-numIid-or-iid" {
		t.Errorf("item not found: %v", e["sub_code"])
	}
	e = wantCode(t, doCall(t, s, "taobao.item.sku.price.update", map[string]string{"num_iid": strconv.FormatInt(it.numIID, 10), "properties": "1:1", "price": "1"}), "15", "isv.invalid-parameter:*")
	if e["sub_code"] != "isv.invalid-parameter:sku-properties" {
		t.Errorf("no such SKU: %v", e["sub_code"])
	}
	s = newTestServer(t, Options{Faults: Faults{ISP: 1}})
	seen := map[string]bool{}
	for range 40 {
		e := wantCode(t, doCall(t, s, "taobao.time.get", nil), "15", "")
		seen[e["sub_code"].(string)] = true
	}
	if !seen["isp.top-remote-connection-timeout-tmall"] || !seen["isp.top-remote-connection-timeout"] {
		t.Errorf("isp sub_codes seen: %v", seen)
	}
}
