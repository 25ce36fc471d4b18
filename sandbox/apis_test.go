package sandbox

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/topscript/topscript/toptime"
)

func TestResponseShapes(t *testing.T) {
	s := newTestServer(t, Options{})
	args := map[string]string{"fields": "tid,status,orders.oid", "page_size": "2"}

	// JSON, not simplified: wrapper and wrapped lists.
	m := doCall(t, s, "taobao.trades.sold.get", args)
	r := mustOK(t, m, "trades_sold_get_response")
	trades, ok := path(r, "trades", "trade").([]any)
	if !ok || len(trades) != 2 {
		t.Fatalf("trades: %v", r)
	}
	tr := trades[0].(map[string]any)
	tid := num(tr["tid"])
	if _, err := strconv.ParseInt(tid, 10, 64); err != nil || len(tid) != 19 {
		t.Errorf("tid %q: %v", tid, err)
	}
	order := path(tr, "orders", "order").([]any)[0].(map[string]any)
	if oid := num(order["oid"]); len(oid) != 19 {
		t.Errorf("order %v", order)
	}
	if len(r["request_id"].(string)) != 12 {
		t.Errorf("request_id %v", r["request_id"])
	}
	if _, ok := tr["buyer_nick"]; ok {
		t.Error("fields not applied")
	}

	// Simplified: no wrapper, plain arrays, request_id at the root.
	args["simplify"] = "true"
	m = doCall(t, s, "taobao.trades.sold.get", args)
	if _, ok := m["trades_sold_get_response"]; ok {
		t.Fatal("simplify kept the wrapper")
	}
	arr, ok := m["trades"].([]any)
	if !ok || len(arr) != 2 || m["request_id"] == nil {
		t.Fatalf("simplified: %v", m)
	}
	if _, ok := arr[0].(map[string]any)["orders"].([]any); !ok {
		t.Errorf("simplified orders: %v", arr[0])
	}
	// Errors keep their wrapper under simplify.
	e := doCall(t, s, "taobao.trade.fullinfo.get", map[string]string{"simplify": "true", "fields": "tid", "tid": "1"})
	wantCode(t, e, "15", "isv.trade-not-exist")

	// XML ignores simplify.
	p := signed(s, "taobao.trades.sold.get", map[string]string{"fields": "tid", "page_size": "1", "format": "xml", "simplify": "true"})
	body := post(s, p).Body.String()
	if !strings.HasPrefix(body, `<?xml version="1.0" encoding="utf-8" ?><trades_sold_get_response><total_results>`) ||
		!strings.Contains(body, `<trades list="true"><trade><tid>`) {
		t.Errorf("xml: %s", body)
	}

	// tmall.* keeps its prefix.
	pid := strconv.FormatInt(s.st.fx[0].pid, 10)
	m = doCall(t, s, "tmall.supplychain.channel.product.downshelf", map[string]string{"product_id": pid})
	res := mustOK(t, m, "tmall_supplychain_channel_product_downshelf_response")
	if path(res, "result", "success") != true {
		t.Errorf("downshelf: %v", res)
	}
	if got := responseRoot("taobao.opentrade.activity.sync"); got != "opentrade_activity_sync_response" {
		t.Error(got)
	}
}

func TestTimeGet(t *testing.T) {
	s := newTestServer(t, Options{})
	m := doCall(t, s, "taobao.time.get", map[string]string{"session": "", "simplify": "true"})
	if m["time"] != "2024-06-01 12:00:00" {
		t.Errorf("%v", m)
	}
}

func TestPagingLimits(t *testing.T) {
	s := newTestServer(t, Options{})
	cases := []struct {
		method, fields, list string
		def, max             int
	}{
		{"taobao.trades.sold.get", "tid", "trades", 40, 100},
		{"taobao.items.onsale.get", "num_iid", "items", 40, 200},
		{"taobao.fenxiao.products.get", "pid", "products", 20, 50},
	}
	for _, c := range cases {
		m := doCall(t, s, c.method, map[string]string{"fields": c.fields, "simplify": "true"})
		if n := len(m[c.list].([]any)); n != c.def {
			t.Errorf("%s default page: %d, want %d", c.method, n, c.def)
		}
		m = doCall(t, s, c.method, map[string]string{"fields": c.fields, "simplify": "true", "page_size": strconv.Itoa(c.max)})
		if n := len(m[c.list].([]any)); n != c.max && !(c.list == "products" && n == numFenxiao) {
			t.Errorf("%s max page: %d, want %d", c.method, n, c.max)
		}
		m = doCall(t, s, c.method, map[string]string{"fields": c.fields, "page_size": strconv.Itoa(c.max + 1)})
		if e := wantCode(t, m, "41", ""); e["msg"] != "Invalid arguments:page_size" {
			t.Errorf("%v", e)
		}
		m = doCall(t, s, c.method, map[string]string{"fields": c.fields, "page_no": "0"})
		wantCode(t, m, "41", "")
	}
	// The last page and beyond.
	m := doCall(t, s, "taobao.items.onsale.get", map[string]string{"fields": "num_iid", "simplify": "true", "page_size": "200", "page_no": "2"})
	if n := len(m["items"].([]any)); n != numItems-200 || num(m["total_results"]) != strconv.Itoa(numItems) {
		t.Errorf("page 2: %d items, total %v", n, m["total_results"])
	}
	m = doCall(t, s, "taobao.items.onsale.get", map[string]string{"fields": "num_iid", "simplify": "true", "page_size": "200", "page_no": "3"})
	if _, ok := m["items"]; ok || num(m["total_results"]) != strconv.Itoa(numItems) {
		t.Errorf("page 3: %v", m)
	}
}

func TestTradesSoldGet(t *testing.T) {
	s := newTestServer(t, Options{})
	m := doCall(t, s, "taobao.trades.sold.get", map[string]string{"fields": "tid,created,status,type", "simplify": "true", "page_size": "100"})
	if num(m["total_results"]) != "2880" { // 3000 less every 25th, of types the default query leaves out
		t.Fatalf("total %v", m["total_results"])
	}
	prev := "9999"
	for _, x := range m["trades"].([]any) {
		c := x.(map[string]any)["created"].(string)
		if c > prev {
			t.Fatalf("not newest first: %s after %s", c, prev)
		}
		prev = c
	}
	oldest := testNow.AddDate(0, -3, 0).In(toptime.Zone).Format(toptime.Layout)
	m = doCall(t, s, "taobao.trades.sold.get", map[string]string{"fields": "created", "simplify": "true", "page_size": "100", "page_no": "29"})
	last := m["trades"].([]any)
	if c := last[len(last)-1].(map[string]any)["created"].(string); c < oldest {
		t.Errorf("trade older than 3 months: %s", c)
	}

	// use_has_next drops total_results.
	m = doCall(t, s, "taobao.trades.sold.get", map[string]string{"fields": "tid", "simplify": "true", "use_has_next": "true", "page_no": "72"})
	if _, ok := m["total_results"]; ok || m["has_next"] != false {
		t.Errorf("has_next last page: %v", m)
	}
	m = doCall(t, s, "taobao.trades.sold.get", map[string]string{"fields": "tid", "simplify": "true", "use_has_next": "true", "page_no": "71"})
	if m["has_next"] != true {
		t.Errorf("has_next: %v", m)
	}

	// Filters: status, type, created window.
	m = doCall(t, s, "taobao.trades.sold.get", map[string]string{"fields": "tid,status", "simplify": "true", "status": "WAIT_SELLER_SEND_GOODS", "page_size": "100"})
	n, _ := strconv.Atoi(num(m["total_results"]))
	if n == 0 || n > 200 {
		t.Errorf("WAIT_SELLER_SEND_GOODS: %d", n)
	}
	for _, x := range m["trades"].([]any) {
		if x.(map[string]any)["status"] != "WAIT_SELLER_SEND_GOODS" {
			t.Fatal("status filter")
		}
	}
	m = doCall(t, s, "taobao.trades.sold.get", map[string]string{"fields": "type", "simplify": "true", "type": "step,auction", "page_size": "100"})
	for _, x := range m["trades"].([]any) {
		if ty := x.(map[string]any)["type"]; ty != "step" && ty != "auction" {
			t.Fatal("type filter", ty)
		}
	}
	from := testNow.Add(-48 * time.Hour).In(toptime.Zone).Format(toptime.Layout)
	to := testNow.Add(-24 * time.Hour).In(toptime.Zone).Format(toptime.Layout)
	m = doCall(t, s, "taobao.trades.sold.get", map[string]string{"fields": "created", "simplify": "true", "start_created": from, "end_created": to, "page_size": "100", "type": allTypes})
	n, _ = strconv.Atoi(num(m["total_results"]))
	if n < 20 || n > 50 {
		t.Errorf("a day holds %d of 3000 trades over 89 days", n)
	}
	for _, x := range m["trades"].([]any) {
		if c := x.(map[string]any)["created"].(string); c < from || c > to {
			t.Fatal("created window", c)
		}
	}
	wantCode(t, doCall(t, s, "taobao.trades.sold.get", map[string]string{"fields": "tid", "status": "NOPE"}), "41", "")
	wantCode(t, doCall(t, s, "taobao.trades.sold.get", map[string]string{"fields": "tid", "start_created": "2024/01/01"}), "41", "")
	wantCode(t, doCall(t, s, "taobao.trades.sold.get", nil), "40", "")
}

func TestTradesIncrementAndFullinfo(t *testing.T) {
	s := newTestServer(t, Options{})
	day := func(d int) string {
		return testNow.Add(time.Duration(d) * 24 * time.Hour).In(toptime.Zone).Format(toptime.Layout)
	}
	wantCode(t, doCall(t, s, "taobao.trades.sold.increment.get", map[string]string{"fields": "tid", "start_modified": day(-3)}), "40", "")
	e := wantCode(t, doCall(t, s, "taobao.trades.sold.increment.get", map[string]string{"fields": "tid", "start_modified": day(-3), "end_modified": day(-1)}), "15", "isv.invalid-parameter:*")
	if !strings.Contains(e["sub_msg"].(string), "一天") {
		t.Error(e)
	}
	wantCode(t, doCall(t, s, "taobao.trades.sold.increment.get", map[string]string{"fields": "tid", "start_modified": day(-1), "end_modified": day(-2)}), "15", "isv.invalid-parameter:*")

	// Page through one day, backwards from the last page as the docs advise.
	args := map[string]string{"fields": "tid,modified,orders.oid", "start_modified": day(-2), "end_modified": day(-1), "simplify": "true", "page_size": "100"}
	m := doCall(t, s, "taobao.trades.sold.increment.get", args)
	total, _ := strconv.Atoi(num(m["total_results"]))
	if total < 20 {
		t.Fatalf("total %d", total)
	}
	seen := map[string]bool{}
	for page := (total + 99) / 100; page >= 1; page-- {
		args["page_no"] = strconv.Itoa(page)
		m = doCall(t, s, "taobao.trades.sold.increment.get", args)
		for _, x := range m["trades"].([]any) {
			tr := x.(map[string]any)
			mod := tr["modified"].(string)
			if mod < day(-2) || mod > day(-1) {
				t.Fatalf("modified %s out of window", mod)
			}
			seen[num(tr["tid"])] = true
		}
	}
	if len(seen) != total {
		t.Errorf("saw %d distinct of %d", len(seen), total)
	}
	m = doCall(t, s, "taobao.trades.sold.increment.get", map[string]string{"fields": "tid", "start_modified": day(-2), "end_modified": day(-1), "use_has_next": "true", "simplify": "true", "page_size": "10"})
	if _, ok := m["total_results"]; ok || m["has_next"] != true {
		t.Errorf("increment has_next: %v", m)
	}

	// fullinfo of a listed trade round-trips the 19-digit id exactly.
	var tid string
	for k := range seen {
		tid = k
		break
	}
	m = doCall(t, s, "taobao.trade.fullinfo.get", map[string]string{"tid": tid, "fields": "tid,tid_str,payment,orders,buyer_nick,receiver_city"})
	tr := mustOK(t, m, "trade_fullinfo_get_response")["trade"].(map[string]any)
	if num(tr["tid"]) != tid || tr["tid_str"] != tid || tr["buyer_nick"] == "" || tr["receiver_city"] == nil {
		t.Errorf("fullinfo: %v", tr)
	}
	orders := path(tr, "orders", "order").([]any)
	if o := orders[0].(map[string]any); o["title"] == nil || o["payment"] == nil || len(num(o["oid"])) != 19 {
		t.Errorf("order: %v", o)
	}
	wantCode(t, doCall(t, s, "taobao.trade.fullinfo.get", map[string]string{"tid": "12x", "fields": "tid"}), "41", "")
	wantCode(t, doCall(t, s, "taobao.trade.fullinfo.get", map[string]string{"tid": "3612345000000000001", "fields": "tid"}), "15", "isv.trade-not-exist")
}

func TestDeterministicData(t *testing.T) {
	a := newTestServer(t, Options{Seed: 7})
	b := newTestServer(t, Options{Seed: 7})
	c := newTestServer(t, Options{Seed: 8})
	args := map[string]string{"fields": "tid,payment,buyer_nick,orders", "page_size": "5"}
	ma := doCall(t, a, "taobao.trades.sold.get", args)
	mb := doCall(t, b, "taobao.trades.sold.get", args)
	mc := doCall(t, c, "taobao.trades.sold.get", args)
	delete(ma["trades_sold_get_response"].(map[string]any), "request_id")
	delete(mb["trades_sold_get_response"].(map[string]any), "request_id")
	delete(mc["trades_sold_get_response"].(map[string]any), "request_id")
	ja, _ := json.Marshal(ma)
	jb, _ := json.Marshal(mb)
	jc, _ := json.Marshal(mc)
	if string(ja) != string(jb) || string(ja) == string(jc) {
		t.Error("data not determined by the seed")
	}
}

func TestItems(t *testing.T) {
	s := newTestServer(t, Options{})
	m := doCall(t, s, "taobao.items.onsale.get", map[string]string{"fields": "num_iid,title,price,num", "page_size": "3", "simplify": "true"})
	items := m["items"].([]any)
	it := items[0].(map[string]any)
	if len(num(it["num_iid"])) != 12 || it["title"] == "" || it["price"] == nil || it["pic_url"] != nil {
		t.Errorf("item %v", it)
	}
	numIID := num(it["num_iid"])

	m = doCall(t, s, "taobao.item.seller.get", map[string]string{"num_iid": numIID, "fields": "num_iid,title,sku"})
	item := mustOK(t, m, "item_seller_get_response")["item"].(map[string]any)
	skus := path(item, "skus", "sku").([]any)
	sk := skus[0].(map[string]any)
	for _, f := range []string{"sku_id", "properties", "price", "quantity"} {
		if sk[f] == nil {
			t.Errorf("sku lacks %s: %v", f, sk)
		}
	}
	if !strings.HasPrefix(sk["properties"].(string), "1627207:") || !strings.Contains(sk["price"].(string), ".") {
		t.Errorf("sku %v", sk)
	}
	m = doCall(t, s, "taobao.item.seller.get", map[string]string{"num_iid": numIID, "fields": "title"})
	if item := mustOK(t, m, "item_seller_get_response")["item"].(map[string]any); len(item) != 1 {
		t.Errorf("fields: %v", item)
	}
	e := wantCode(t, doCall(t, s, "taobao.item.seller.get", map[string]string{"num_iid": "123456789012", "fields": "title"}), "15", "isv.item-not-exist")
	if e["msg"] != "Remote service error" || e["sub_msg"] != "商品不存在" {
		t.Error(e)
	}
	m = doCall(t, s, "taobao.items.onsale.get", map[string]string{"fields": "num_iid", "q": "款1", "simplify": "true"})
	if n, _ := strconv.Atoi(num(m["total_results"])); n == 0 || n >= numItems {
		t.Errorf("q filter: %d", n)
	}
}

func TestWritesVisibleAndCounted(t *testing.T) {
	s := newTestServer(t, Options{})
	it := s.st.items[0]
	numIID := strconv.FormatInt(it.numIID, 10)
	props := it.skus[0].props
	skuID := strconv.FormatInt(it.skus[1].id, 10)

	get := func() map[string]any {
		m := doCall(t, s, "taobao.item.seller.get", map[string]string{"num_iid": numIID, "fields": "num,price,sku", "simplify": "true"})
		return m["item"].(map[string]any)
	}
	skuOf := func(item map[string]any, i int) map[string]any { return item["skus"].([]any)[i].(map[string]any) }

	for i := 0; i < 2; i++ { // idempotent set
		m := doCall(t, s, "taobao.item.sku.price.update", map[string]string{"num_iid": numIID, "properties": props, "price": "12.50"})
		if r := mustOK(t, m, "item_sku_price_update_response"); num(path(r, "sku", "sku_id")) != strconv.FormatInt(it.skus[0].id, 10) {
			t.Errorf("%v", r)
		}
	}
	item := get()
	if skuOf(item, 0)["price"] != "12.50" {
		t.Errorf("price not applied: %v", item)
	}
	wantCode(t, doCall(t, s, "taobao.item.sku.price.update", map[string]string{"num_iid": numIID, "properties": "1:2", "price": "1"}), "15", "isv.invalid-parameter:sku-properties")
	wantCode(t, doCall(t, s, "taobao.item.sku.price.update", map[string]string{"num_iid": numIID, "properties": props, "price": "1.234"}), "41", "")
	wantCode(t, doCall(t, s, "taobao.item.sku.price.update", map[string]string{"num_iid": numIID, "sku_id": skuID, "price": "8"}), "40", "")
	wantCode(t, doCall(t, s, "taobao.item.sku.price.update", map[string]string{"num_iid": "600000000000", "properties": props, "price": "1"}), "15", "isv.item-not-exist")

	// Quantities: full, incremental, several SKUs at once.
	sku0 := strconv.FormatInt(it.skus[0].id, 10)
	doCall(t, s, "taobao.item.quantity.update", map[string]string{"num_iid": numIID, "sku_id": sku0, "quantity": "10"})
	doCall(t, s, "taobao.item.quantity.update", map[string]string{"num_iid": numIID, "sku_id": sku0, "quantity": "-3", "type": "2"})
	if q := num(skuOf(get(), 0)["quantity"]); q != "7" {
		t.Errorf("quantity %s", q)
	}
	wantCode(t, doCall(t, s, "taobao.item.quantity.update", map[string]string{"num_iid": numIID, "sku_id": sku0, "quantity": "-8", "type": "2"}), "15", "isv.invalid-parameter")
	wantCode(t, doCall(t, s, "taobao.item.quantity.update", map[string]string{"num_iid": numIID, "quantity": "5"}), "15", "isv.invalid-parameter")
	m := doCall(t, s, "taobao.skus.quantity.update", map[string]string{"num_iid": numIID, "skuid_quantities": sku0 + ":4;" + skuID + ":6"})
	mustOK(t, m, "skus_quantity_update_response")
	item = get()
	if num(skuOf(item, 0)["quantity"]) != "4" || num(skuOf(item, 1)["quantity"]) != "6" {
		t.Errorf("skus quantities: %v", item)
	}
	wantCode(t, doCall(t, s, "taobao.skus.quantity.update", map[string]string{"num_iid": numIID, "skuid_quantities": "4;x"}), "41", "")

	// An item without SKUs.
	plain := s.st.items[noSKUEvery-1]
	pid := strconv.FormatInt(plain.numIID, 10)
	m = doCall(t, s, "taobao.item.quantity.update", map[string]string{"num_iid": pid, "quantity": "42"})
	if num(path(mustOK(t, m, "item_quantity_update_response"), "item", "num")) != "42" {
		t.Errorf("%v", m)
	}

	w := s.Stats().Writes
	if w["taobao.item.sku.price.update"][numIID+":"+props] != 2 || len(w["taobao.item.sku.price.update"]) != 1 {
		t.Errorf("writes %v", w)
	}
	if w["taobao.item.quantity.update"][numIID] != 2 || w["taobao.item.quantity.update"][pid] != 1 || w["taobao.skus.quantity.update"][numIID] != 1 {
		t.Errorf("writes %v", w)
	}
	st := s.Stats()
	if st.Calls["taobao.item.sku.price.update"] != 6 || st.Errors["15/isv.invalid-parameter:sku-properties"] != 1 {
		t.Errorf("stats %+v", st)
	}

	s.Reset()
	if item := get(); skuOf(item, 0)["price"] == "12.50" && it.skus[0].price != 1250 {
		t.Error("reset kept a write")
	}
	if st := s.Stats(); len(st.Writes) != 0 || st.Requests != 1 {
		t.Errorf("stats after reset %+v", st)
	}
}

func TestFenxiaoAndChannel(t *testing.T) {
	s := newTestServer(t, Options{})
	m := doCall(t, s, "taobao.fenxiao.products.get", map[string]string{"simplify": "true"})
	ps := m["products"].([]any)
	if num(m["total_results"]) != strconv.Itoa(numFenxiao) || len(ps) != 20 {
		t.Fatalf("%v", m)
	}
	p0 := ps[0].(map[string]any)
	if p0["skus"] != nil || p0["name"] == nil || p0["outer_id"] == nil {
		t.Errorf("default fields %v", p0)
	}
	pid := num(p0["pid"])
	m = doCall(t, s, "taobao.fenxiao.products.get", map[string]string{"pids": pid, "fields": "skus"})
	pr := path(mustOK(t, m, "fenxiao_products_get_response"), "products", "fenxiao_product").([]any)[0].(map[string]any)
	if pr["name"] == nil || pr["skus"] == nil {
		t.Errorf("fields=skus with pids: %v", pr)
	}
	fsku := path(pr, "skus", "fenxiao_sku").([]any)[0].(map[string]any)
	props := fsku["properties"].(string)

	mustOK(t, doCall(t, s, "taobao.fenxiao.product.update", map[string]string{"pid": pid, "name": "新名字", "standard_price": "99.90"}), "fenxiao_product_update_response")
	mustOK(t, doCall(t, s, "taobao.fenxiao.product.sku.update", map[string]string{"product_id": pid, "properties": props, "standard_price": "88", "quantity": "5"}), "fenxiao_product_sku_update_response")
	m = doCall(t, s, "taobao.fenxiao.products.get", map[string]string{"pids": pid, "fields": "skus", "simplify": "true"})
	pr = m["products"].([]any)[0].(map[string]any)
	fsku = pr["skus"].([]any)[0].(map[string]any)
	if pr["name"] != "新名字" || pr["standard_price"] != "99.90" || fsku["standard_price"] != "88.00" || num(fsku["quantity"]) != "5" {
		t.Errorf("updates not visible: %v", pr)
	}
	wantCode(t, doCall(t, s, "taobao.fenxiao.product.update", map[string]string{"pid": "1"}), "15", "isv.product-not-exist")
	wantCode(t, doCall(t, s, "taobao.fenxiao.products.get", map[string]string{"page_size": "51"}), "41", "")

	// Channel shelf state is the product status.
	mustOK(t, doCall(t, s, "tmall.supplychain.channel.product.downshelf", map[string]string{"product_id": pid}), "tmall_supplychain_channel_product_downshelf_response")
	m = doCall(t, s, "taobao.fenxiao.products.get", map[string]string{"pids": pid, "fields": "status", "simplify": "true"})
	if st := m["products"].([]any)[0].(map[string]any)["status"]; st != "down" {
		t.Errorf("status %v", st)
	}
	mustOK(t, doCall(t, s, "tmall.supplychain.channel.product.upshelf", map[string]string{"product_id": pid}), "tmall_supplychain_channel_product_upshelf_response")
	e := wantCode(t, doCall(t, s, "tmall.supplychain.channel.product.upshelf", map[string]string{"product_id": "999"}), "50", "isv.invalid-parameter")
	if e["sub_msg"] != "非法参数" {
		t.Error(e)
	}
	w := s.Stats().Writes
	if w["taobao.fenxiao.product.update"][pid] != 1 || w["taobao.fenxiao.product.sku.update"][pid+":"+props] != 1 ||
		w["tmall.supplychain.channel.product.downshelf"][pid] != 1 || w["tmall.supplychain.channel.product.upshelf"][pid] != 1 {
		t.Errorf("writes %v", w)
	}
}

func TestActivitySync(t *testing.T) {
	s := newTestServer(t, Options{})
	ids := make([]string, 20)
	for i := range ids {
		ids[i] = strconv.FormatInt(s.st.items[i].numIID, 10)
	}
	args := map[string]string{"activity_id": "2132", "start_time": "2024-06-12 15:00:18", "end_time": "2024-06-18 15:00:18",
		"activity_name": "会员优先购", "item_id_list": strings.Join(ids, ",")}
	r := mustOK(t, doCall(t, s, "taobao.opentrade.activity.sync", args), "opentrade_activity_sync_response")
	want := map[string]any{"start_time": "2024-06-12 15:00:18", "end_time": "2024-06-18 15:00:18", "activity_name": "会员优先购",
		"activity_id": "2132", "appkey": DefaultAppKey, "item_ids": strings.Join(ids, ","), "gmt_modified": "2024-06-01 12:00:00"}
	for k, v := range want {
		if r[k] != v {
			t.Errorf("%s = %v, want %v", k, r[k], v)
		}
	}
	if a := s.st.activities["2132"]; a == nil || a.name != "会员优先购" {
		t.Error("activity not stored")
	}
	args["item_id_list"] += ",1"
	wantCode(t, doCall(t, s, "taobao.opentrade.activity.sync", args), "41", "")
	args["item_id_list"] = "1,2"
	args["end_time"] = "2024-06-01 00:00:00"
	wantCode(t, doCall(t, s, "taobao.opentrade.activity.sync", args), "50", "isv.invalid-parameter")
	delete(args, "activity_name")
	e := wantCode(t, doCall(t, s, "taobao.opentrade.activity.sync", args), "40", "")
	if e["msg"] != "Missing required arguments:activity_name" {
		t.Error(e)
	}
	if s.Stats().Writes["taobao.opentrade.activity.sync"]["2132"] != 1 {
		t.Error(s.Stats().Writes)
	}
}

func TestMillionTrades(t *testing.T) {
	start := time.Now()
	s := newTestServer(t, Options{Trades: 1_000_000})
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Errorf("New took %v", d)
	}
	m := doCall(t, s, "taobao.trades.sold.get", map[string]string{"fields": "tid", "simplify": "true", "page_size": "100", "page_no": "10000", "type": allTypes})
	if num(m["total_results"]) != "1000000" || len(m["trades"].([]any)) != 100 {
		t.Errorf("every type: %v", m["total_results"])
	}
	// The default query's five types: every 25th trade left out, as fast.
	m = doCall(t, s, "taobao.trades.sold.get", map[string]string{"fields": "tid", "simplify": "true", "page_size": "100", "page_no": "9600"})
	if num(m["total_results"]) != "960000" || len(m["trades"].([]any)) != 100 {
		t.Errorf("default types: %v", m["total_results"])
	}
	day := func(h int) string {
		return testNow.Add(time.Duration(h) * time.Hour).In(toptime.Zone).Format(toptime.Layout)
	}
	t0 := time.Now()
	m = doCall(t, s, "taobao.trades.sold.increment.get", map[string]string{"fields": "tid", "simplify": "true", "start_modified": day(-24), "end_modified": day(-23)})
	n, _ := strconv.Atoi(num(m["total_results"]))
	if n < 100 {
		t.Errorf("an hour of a million trades: %d", n)
	}
	if d := time.Since(t0); d > 2*time.Second {
		t.Errorf("increment query took %v", d)
	}
	last := strconv.FormatInt(s.trades.tid(999_999), 10)
	m = doCall(t, s, "taobao.trade.fullinfo.get", map[string]string{"tid": last, "fields": "tid", "simplify": "true"})
	if num(path(m, "trade", "tid")) != last {
		t.Errorf("%v", m)
	}
}

// taobao.user.seller.get answers the shop every session of the sandbox
// belongs to, the same for a renewed session (Options.Sessions): the
// identity job checkpoints and state are kept under. Another session is 27.
func TestUserSellerGet(t *testing.T) {
	s := newTestServer(t, Options{Sessions: []string{"renewed-session"}})
	for _, sess := range []string{s.opts.Session, "renewed-session"} {
		m := doCall(t, s, "taobao.user.seller.get", map[string]string{"fields": "user_id,nick", "session": sess, "simplify": "true"})
		u, ok := m["user"].(map[string]any)
		if !ok || u["user_id"].(json.Number).String() != "2206571234567" || u["nick"] != sellerNick || len(u) != 2 {
			t.Errorf("session %s: %v", sess, m)
		}
	}
	wantCode(t, doCall(t, s, "taobao.user.seller.get", map[string]string{"fields": "user_id", "session": "someone-else"}), "27", "")
	wantCode(t, doCall(t, s, "taobao.user.seller.get", map[string]string{"fields": "user_id", "session": ""}), "26", "")
}

// Options.Items sets the number of items on sale; the first items are the
// seed's whatever their number.
func TestItemsOption(t *testing.T) {
	def := newTestServer(t, Options{})
	big := newTestServer(t, Options{Items: 700})
	m := doCall(t, big, "taobao.items.onsale.get", map[string]string{"fields": "num_iid", "simplify": "true", "page_size": "1"})
	if num(m["total_results"]) != "700" {
		t.Errorf("items on sale: %v", m["total_results"])
	}
	for i := range def.st.items {
		a, b := def.st.items[i], big.st.items[i]
		if a.numIID != b.numIID || len(a.skus) != len(b.skus) || a.price != b.price {
			t.Fatalf("item %d differs: %d vs %d", i, a.numIID, b.numIID)
		}
	}
	for _, n := range []int{-1, MaxItems + 1} {
		if _, err := New(Options{Items: n}); err == nil || !strings.Contains(err.Error(), "items") {
			t.Errorf("Items %d: %v", n, err)
		}
	}
}
