package catalog

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"
)

// sandboxAPIs are the methods the sandbox models with state.
var sandboxAPIs = []string{
	"taobao.time.get", "taobao.trades.sold.get", "taobao.trades.sold.increment.get",
	"taobao.trade.fullinfo.get", "taobao.items.onsale.get", "taobao.item.seller.get",
	"taobao.item.sku.price.update", "taobao.item.quantity.update", "taobao.skus.quantity.update",
	"taobao.fenxiao.products.get", "taobao.fenxiao.product.update", "taobao.fenxiao.product.sku.update",
	"taobao.opentrade.activity.sync", "tmall.supplychain.channel.product.downshelf",
	"tmall.supplychain.channel.product.upshelf",
}

func mustLookup(t *testing.T, method string) *API {
	t.Helper()
	a, ok := Lookup(method)
	if !ok {
		t.Fatalf("%s not in the catalog", method)
	}
	return a
}

// The catalog holds every method of the platform's model (5,312), the 37
// hand-curated methods the model lacks, and 13 documented titles whose
// method is unknown.
func TestLoad(t *testing.T) {
	theStore()
	if openErr != nil {
		t.Fatal(openErr)
	}
	if err := whole().err; err != nil {
		t.Fatal(err)
	}
	var mapped, unmapped, inModel, curated, handOnly int
	for _, a := range All() {
		switch {
		case a.Unmapped:
			unmapped++
			if a.Method != "" {
				t.Errorf("unmapped entry %q has a method", a.Title)
			}
			continue
		case a.InModel:
			inModel++
		default:
			handOnly++
		}
		mapped++
		if a.Curated {
			curated++
		}
	}
	if mapped != 5349 || unmapped != 13 || inModel != 5312 || handOnly != 37 || curated != 193 {
		t.Errorf("got %d APIs (%d in the model, %d only hand-curated, %d curated) and %d unmapped titles, want 5349 (5312, 37, 193) and 13",
			mapped, inModel, handOnly, curated, unmapped)
	}
	all := All()
	if !sort.SliceIsSorted(all, func(i, j int) bool { return all[i].Method < all[j].Method }) {
		t.Error("All is not sorted by method")
	}
	// a broken blob is reported, not panicked on
	for _, b := range []string{"", "TSCAT1\n\x00", "not a catalog at all, not at all", catalogBin[:len(catalogBin)/2]} {
		if _, err := openStore(b); err == nil {
			t.Errorf("openStore(%d bytes) succeeded", len(b))
		}
	}
}

func TestSandboxAPIs(t *testing.T) {
	for _, m := range sandboxAPIs {
		a := mustLookup(t, m)
		want := "required"
		if m == "taobao.time.get" {
			want = "none"
		}
		if a.Session != want {
			t.Errorf("%s: session %q, want %q", m, a.Session, want)
		}
		if a.Title == "" || a.Group == "" {
			t.Errorf("%s: missing title or group", m)
		}
	}
	ps := mustLookup(t, "taobao.trades.sold.get").Paging
	if ps == nil || ps.PageParam != "page_no" || ps.SizeParam != "page_size" || ps.DefaultSize != 40 ||
		ps.MaxSize != 100 || ps.TotalField != "total_results" || !ps.HasNext || !ps.UseHasNext || ps.Reverse {
		t.Errorf("trades.sold.get paging = %+v", ps)
	}
	pi := mustLookup(t, "taobao.trades.sold.increment.get").Paging
	if pi == nil || !pi.Reverse || pi.MaxSpanSeconds != 86400 || pi.SpanStart != "start_modified" ||
		pi.SpanEnd != "end_modified" || pi.TotalField != "total_results" || pi.MaxSize != 100 {
		t.Errorf("trades.sold.increment.get paging = %+v", pi)
	}
	for m, want := range map[string]struct {
		list          string
		def, max      int
		totalOrHasNxt string
	}{
		"taobao.trades.sold.get":           {"trades", 40, 100, "total_results"},
		"taobao.trades.sold.increment.get": {"trades", 40, 100, "total_results"},
		"taobao.items.onsale.get":          {"items", 40, 200, "total_results"},
		"taobao.fenxiao.products.get":      {"products", 20, 50, "total_results"},
	} {
		a := mustLookup(t, m)
		if a.ListField != want.list || a.Paging == nil || a.Paging.DefaultSize != want.def ||
			a.Paging.MaxSize != want.max || a.Paging.TotalField != want.totalOrHasNxt {
			t.Errorf("%s: list %q paging %+v, want %+v", m, a.ListField, a.Paging, want)
		}
	}
	for _, m := range []string{"taobao.time.get", "taobao.trade.fullinfo.get", "taobao.item.seller.get",
		"taobao.opentrade.activity.sync"} {
		if a := mustLookup(t, m); a.Paging != nil {
			t.Errorf("%s pages: %+v", m, a.Paging)
		}
	}
}

func TestSeed000Listed(t *testing.T) {
	if len(seed000) != 105 {
		t.Fatalf("seed list has %d methods, want 105", len(seed000))
	}
	listed := map[string]bool{}
	for _, a := range Find("") {
		listed[a.Method] = true
	}
	for _, s := range seed000 {
		a, ok := Lookup(s.method)
		if !ok {
			t.Errorf("%s: not in the catalog", s.method)
			continue
		}
		if a.Group != s.group {
			t.Errorf("%s: group %q, want %q", s.method, a.Group, s.group)
		}
		if !listed[s.method] {
			t.Errorf("%s: not listed", s.method)
		}
		if got := Find(s.method); len(got) == 0 || got[0].Method != s.method && !containsMethod(got, s.method) {
			t.Errorf("Find(%q) does not return it", s.method)
		}
	}
}

func containsMethod(apis []*API, m string) bool {
	for _, a := range apis {
		if a.Method == m {
			return true
		}
	}
	return false
}

func TestSeed001TitlesFindable(t *testing.T) {
	if len(seed001Titles) != 114 {
		t.Fatalf("seed list has %d titles, want 114", len(seed001Titles))
	}
	for _, title := range seed001Titles {
		found := Find(title)
		var exact *API
		for _, a := range found {
			for _, tt := range a.titles() {
				if fold(tt) == fold(title) {
					exact = a
				}
			}
		}
		if exact == nil {
			t.Errorf("title %q: not found (Find gave %d entries)", title, len(found))
			continue
		}
		if exact.Group != "分销API" && exact.Method != "" {
			// the distribution list's methods all belong to the 分销API group
			t.Errorf("title %q -> %s: group %q", title, exact.Method, exact.Group)
		}
	}
	// Within the hand-curated entries (the distribution list the seed
	// titles come from), each title names one method. The whole catalog may
	// hold other methods of the same title (tmall.channel.products.query is
	// 查询产品列表 too).
	for title, method := range map[string]string{
		"产品下架":   "tmall.supplychain.channel.product.downshelf",
		"产品上架":   "tmall.supplychain.channel.product.upshelf",
		"查询产品列表": "taobao.fenxiao.products.get",
		"渠道分销供应商上传线下流水预存款(减少)": "taobao.fenxiao.trade.prepay.offline.reduce", // half-width in the seed, full-width in the docs
	} {
		got := curated(Find(title))
		if len(got) != 1 || got[0].Method != method {
			t.Errorf("Find(%q) = %v among the curated entries, want only %s", title, methods(got), method)
		}
	}
	for _, title := range []string{"产品下载", "分销商付款", "红字确认单操作结果通知", "淘宝直播分销商品榜单查询"} {
		got := Find(title)
		if len(got) == 0 || !got[0].Unmapped || got[0].Method != "" {
			t.Errorf("Find(%q) = %v, want an unmapped entry", title, methods(got))
		}
	}
}

// curated keeps the hand-curated entries of apis (and the unmapped titles).
func curated(apis []*API) []*API {
	var out []*API
	for _, a := range apis {
		if a.Curated || a.Unmapped {
			out = append(out, a)
		}
	}
	return out
}

func methods(apis []*API) []string {
	var out []string
	for _, a := range apis {
		if a.Method == "" {
			out = append(out, "("+a.Title+")")
		} else {
			out = append(out, a.Method)
		}
	}
	return out
}

func TestFind(t *testing.T) {
	if n, all := len(Find("")), len(All()); n != all {
		t.Errorf("Find(\"\") = %d entries, All = %d", n, all)
	}
	fx := Find("taobao.fenxiao.*")
	if len(fx) < 50 {
		t.Errorf("taobao.fenxiao.* matched %d", len(fx))
	}
	for _, a := range fx {
		if !strings.HasPrefix(a.Method, "taobao.fenxiao.") {
			t.Errorf("taobao.fenxiao.* matched %s", a.Method)
		}
	}
	if got := methods(Find("tmall.supplychain.channel.product.*shelf")); strings.Join(got, " ") !=
		"tmall.supplychain.channel.product.downshelf tmall.supplychain.channel.product.upshelf" {
		t.Errorf("glob shelf = %v", got)
	}
	if got := methods(curated(Find("*下架"))); len(got) != 1 || got[0] != "tmall.supplychain.channel.product.downshelf" {
		t.Errorf("glob on title *下架 = %v among the curated entries", got)
	}
	if got := methods(Find("*下架")); len(got) != 11 || !containsString(got, "taobao.item.update.delisting") {
		t.Errorf("glob on title *下架 = %v", got)
	}
	if got := methods(Find("TAOBAO.TIME")); len(got) != 1 || got[0] != "taobao.time.get" {
		t.Errorf("case-insensitive Find = %v", got)
	}
	if got := strings.Join(methods(Find("trades.sold")), " "); got != "taobao.open.trades.sold.get taobao.trades.sold.get "+
		"taobao.trades.sold.history.get taobao.trades.sold.increment.get taobao.trades.sold.incrementv.get taobao.trades.sold.query" {
		t.Errorf("Find(trades.sold) = %v", got)
	}
	// the methods issue 12 found missing
	for _, m := range []string{"taobao.logistics.offline.send", "taobao.item.sku.get", "taobao.items.inventory.get",
		"taobao.item.update.delisting", "taobao.refunds.receive.get", "taobao.trade.memo.update", "taobao.user.seller.get"} {
		if got := Find(m); len(got) == 0 || got[0].Method != m {
			t.Errorf("Find(%q) = %v", m, methods(got))
		}
		if a, ok := Lookup(m); !ok || !a.InModel || len(a.Params) == 0 || a.Response() == nil {
			t.Errorf("Lookup(%q) = %+v, %v", m, a, ok)
		}
	}
	if got := Find("[bad"); got != nil {
		t.Errorf("malformed glob matched %v", methods(got))
	}
	if got := Find("no.such.api"); len(got) != 0 {
		t.Errorf("Find(no.such.api) = %v", methods(got))
	}
	if _, ok := Lookup("taobao.no.such.api"); ok {
		t.Error("Lookup of an unknown method succeeded")
	}
	if _, ok := Lookup(""); ok {
		t.Error("Lookup(\"\") succeeded")
	}
}

func TestNames(t *testing.T) {
	n := Names()
	if len(n) != 5349 || !sort.StringsAreSorted(n) {
		t.Fatalf("Names: %d, sorted %v", len(n), sort.StringsAreSorted(n))
	}
	for i, m := range n {
		if m == "" || i > 0 && n[i-1] == m {
			t.Errorf("bad name %q at %d", m, i)
		}
	}
	n[0] = "mutated"
	if Names()[0] == "mutated" {
		t.Error("Names shares its slice")
	}
}

func TestActivitySyncParams(t *testing.T) {
	a := mustLookup(t, "taobao.opentrade.activity.sync")
	want := []Param{
		{Name: "activity_id", Type: "String", Required: true},
		{Name: "start_time", Type: "Date", Required: true},
		{Name: "end_time", Type: "Date", Required: true},
		{Name: "activity_name", Type: "String", Required: true},
		{Name: "item_id_list", Type: "Number[]", Required: true, MaxList: 20},
	}
	if len(a.Params) != len(want) {
		t.Fatalf("%d params, want %d", len(a.Params), len(want))
	}
	for i, w := range want {
		p := a.Params[i]
		if p.Name != w.Name || p.Type != w.Type || p.Required != w.Required || p.MaxList != w.MaxList ||
			p.MaxLen != 0 || p.Min != nil || p.Max != nil || p.Default != "" {
			t.Errorf("param %d = %+v, want %+v", i, p, w)
		}
	}
	if a.Title != "尖货交易活动信息同步" || a.Access != Write || !a.Idempotent || a.Session != "required" || a.ParamsFiltered != 0 {
		t.Errorf("activity.sync = %+v", a)
	}
}

func ids(n int) string {
	s := make([]string, n)
	for i := range s {
		s[i] = fmt.Sprint(5000000000 + i)
	}
	return strings.Join(s, ",")
}

func syncParams(n int) map[string]string {
	return map[string]string{
		"activity_id": "2132", "start_time": "2020-04-12 15:00:18", "end_time": "2020-04-18 15:00:18",
		"activity_name": "会员优先购", "item_id_list": ids(n),
	}
}

func TestValidate(t *testing.T) {
	incr := func(start, end string) map[string]string {
		return map[string]string{"fields": "tid", "start_modified": start, "end_modified": end}
	}
	with := func(m map[string]string, k, v string) map[string]string {
		c := map[string]string{}
		for a, b := range m {
			c[a] = b
		}
		c[k] = v
		return c
	}
	cases := []struct {
		method string
		params map[string]string
		param  string // "" = valid
		reason string
	}{
		{"taobao.opentrade.activity.sync", syncParams(21), "item_id_list", "21 items, at most 20 allowed"},
		{"taobao.opentrade.activity.sync", syncParams(20), "", ""},
		{"taobao.opentrade.activity.sync", syncParams(1), "", ""},
		{"taobao.opentrade.activity.sync", with(syncParams(3), "activity_name", ""), "activity_name", "required parameter missing"},
		{"taobao.opentrade.activity.sync", with(syncParams(0), "extra_param", "kept"), "item_id_list", "required parameter missing"},
		// a parameter the method does not take is refused, with the nearest name it takes
		{"taobao.opentrade.activity.sync", with(syncParams(2), "unknown_param", strings.Repeat("x", 9999)), "unknown_param", "not a parameter of taobao.opentrade.activity.sync"},
		{"taobao.trades.sold.get", map[string]string{"feilds": "tid"}, "fields", "required parameter missing"},
		{"taobao.trades.sold.get", map[string]string{"fields": "tid", "feilds": "tid"}, "feilds", "not a parameter of taobao.trades.sold.get; did you mean fields?"},
		{"taobao.time.get", map[string]string{"x": "1"}, "x", "not a parameter of taobao.time.get (it takes none)"},
		{"taobao.trades.sold.get", map[string]string{"fields": "tid", "target_app_key": "1"}, "", ""},
		{"taobao.trades.sold.get", map[string]string{"fields": "tid", "page_size": "101"}, "page_size", "101 is over the maximum page size 100"},
		{"taobao.trades.sold.get", map[string]string{"fields": "tid", "page_size": "100"}, "", ""},
		{"taobao.trades.sold.get", map[string]string{"fields": "tid", "page_size": "lots"}, "page_size", `"lots" is not a whole number`},
		{"taobao.trades.sold.get", map[string]string{"page_size": "10"}, "fields", "required parameter missing"},
		{"taobao.items.onsale.get", map[string]string{"fields": "num_iid", "page_size": "200"}, "", ""},
		{"taobao.items.onsale.get", map[string]string{"fields": "num_iid", "page_size": "201"}, "page_size", "201 is over the maximum page size 200"},
		{"taobao.fenxiao.products.get", map[string]string{"page_size": "51"}, "page_size", "51 is over the maximum page size 50"},
		{"taobao.trades.sold.increment.get", incr("2024-03-01 00:00:00", "2024-03-02 00:00:00"), "", ""},
		{"taobao.trades.sold.increment.get", incr("2024-03-01 00:00:00", "2024-03-01 00:30:00"), "", ""},
		{"taobao.trades.sold.increment.get", incr("2024-03-01 00:00:00", "2024-03-02 00:00:01"), "end_modified", "1 day 1s after start_modified, at most 1 day allowed"},
		{"taobao.trades.sold.increment.get", incr("2024-03-01 00:00:00", "2024-03-03 06:30:00"), "end_modified", "2 days 6h30m after start_modified, at most 1 day allowed"},
		{"taobao.trades.sold.increment.get", incr("2024-03-02 00:00:00", "2024-03-01 00:00:00"), "start_modified", "2024-03-02 00:00:00 is after end_modified 2024-03-01 00:00:00"},
		{"taobao.trades.sold.increment.get", incr("yesterday", "2024-03-01 00:00:00"), "start_modified", `"yesterday" is not a time as yyyy-MM-dd HH:mm:ss`},
		{"taobao.trades.sold.increment.get", incr("2024-03-01 00:00:00", ""), "end_modified", "required parameter missing"},
		{"taobao.trades.sold.increment.get", with(incr("2024-03-01 00:00:00", "2024-03-01 01:00:00"), "page_size", "0"), "page_size", "0 is below the minimum 1"},
		{"taobao.fenxiao.productcat.add", map[string]string{"name": "十一个字的产品线名称呀", "retail_low_percent": "1",
			"retail_high_percent": "1", "agent_cost_percent": "1", "dealer_cost_percent": "1"}, "name", "11 characters, at most 10 allowed"},
		{"taobao.fenxiao.productcat.add", map[string]string{"name": "十个字的产品线名称呀", "retail_low_percent": "1",
			"retail_high_percent": "1", "agent_cost_percent": "1", "dealer_cost_percent": "1"}, "", ""},
		// lists of objects are JSON arrays; their fields (dotted names) are not required at the top level
		{"taobao.region.price.manage", map[string]string{"item_id": "1", "regional_price_dtos": "[" + strings.TrimSuffix(strings.Repeat(`{"province":"浙江","city":"杭州","price":100},`, 21), ",") + "]"},
			"regional_price_dtos", "21 items, at most 20 allowed"},
		{"taobao.region.price.manage", map[string]string{"item_id": "1", "regional_price_dtos": `[{"province":"浙江","city":"杭州,西湖","price":100}]`}, "", ""},
		{"taobao.kaola.scitem.add", map[string]string{"option": "{}"}, "", ""},
		{"tmall.supplychain.channel.product.downshelf", map[string]string{}, "product_id", "required parameter missing"},
		{"tmall.supplychain.channel.product.downshelf", map[string]string{"product_id": "1234567"}, "", ""},
		{"taobao.time.get", nil, "", ""},
		{"taobao.ump.tool.add", map[string]string{"anything": "x"}, "", ""}, // nothing known: pass through
	}
	for _, c := range cases {
		a := mustLookup(t, c.method)
		err := a.Validate(c.params)
		if c.param == "" {
			if err != nil {
				t.Errorf("%s %v: unexpected %v", c.method, c.params, err)
			}
			continue
		}
		var ve *ValidationError
		if !errors.As(err, &ve) {
			t.Errorf("%s: want a ValidationError on %s, got %v", c.method, c.param, err)
			continue
		}
		if ve.Method != c.method || ve.Param != c.param || ve.Reason != c.reason {
			t.Errorf("%s: got %+v, want param %s reason %q", c.method, *ve, c.param, c.reason)
		}
	}
	err := mustLookup(t, "taobao.opentrade.activity.sync").Validate(syncParams(21))
	if got, want := err.Error(), "taobao.opentrade.activity.sync: item_id_list: 21 items, at most 20 allowed"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	var nilAPI *API
	if err := nilAPI.Validate(map[string]string{"x": "y"}); err != nil {
		t.Errorf("nil API validates: %v", err)
	}
}

func TestIsWrite(t *testing.T) {
	for m, want := range map[string]bool{
		"taobao.time.get":                             false,
		"taobao.trades.sold.get":                      false,
		"taobao.trades.sold.query":                    false,
		"taobao.ump.mbb.getbyid":                      false,
		"alibaba.ascp.cnsku.search":                   false,
		"taobao.item.sku.price.update":                true,
		"taobao.opentrade.activity.sync":              true,
		"tmall.supplychain.channel.product.downshelf": true,
		"taobao.promotion.benefit.selector":           false, // catalog says read, whatever the name
		// not in the catalog: name-based
		"taobao.refunds.receive.get":      false,
		"taobao.logistics.address.search": false,
		"taobao.items.inventory.list":     false,
		"taobao.item.update.delisting":    true,
		"taobao.logistics.offline.send":   true,
		"taobao.something.new":            true,
		"":                                true,
	} {
		if got := IsWrite(m); got != want {
			t.Errorf("IsWrite(%q) = %v, want %v", m, got, want)
		}
	}
}

// TestIsIdempotent is the table the client's retry policy relies on: a write
// whose request may have reached the gateway is retried only when this says so.
func TestIsIdempotent(t *testing.T) {
	for m, want := range map[string]bool{
		"taobao.trades.sold.get":                        true, // reads are
		"taobao.time.get":                               true,
		"taobao.item.sku.price.update":                  true, // a price set
		"tmall.item.price.update":                       true,
		"taobao.fenxiao.product.update":                 true,
		"taobao.fenxiao.product.sku.update":             true,
		"tmall.supplychain.channel.product.downshelf":   true,
		"tmall.supplychain.channel.product.upshelf":     true,
		"taobao.opentrade.activity.sync":                true, // upsert by activity_id
		"taobao.delivery.template.delete":               true,
		"taobao.item.quantity.update":                   false, // type=2 increments: conservative
		"taobao.skus.quantity.update":                   false,
		"taobao.fenxiao.product.quantity.update":        false,
		"taobao.fenxiao.product.add":                    false,
		"taobao.fenxiao.product.link":                   false,
		"taobao.promotion.coupon.send":                  false,
		"tmall.promotion.tip.campaign.create":           false,
		"taobao.fenxiao.dealer.requisitionorder.create": false,
		"taobao.promotion.benefit.activity.update":      false, // adds benefits
		"taobao.unknown.thing.update":                   false, // unknown writes are not
		"taobao.unknown.things.get":                     true,  // unknown reads are
	} {
		if got := IsIdempotent(m); got != want {
			t.Errorf("IsIdempotent(%q) = %v, want %v", m, got, want)
		}
	}
	// every write of the catalog was hand-checked; reads are all idempotent
	for _, a := range All() {
		if a.Access == Read && !a.Idempotent {
			t.Errorf("%s: read not idempotent", a.Method)
		}
		if a.Access == Write && a.Idempotent && a.IdempotentIf != nil {
			t.Errorf("%s: idempotent with a condition", a.Method)
		}
		last := a.Method[strings.LastIndexByte(a.Method, '.')+1:]
		if a.Access == Write && a.Idempotent && (strings.HasPrefix(last, "add") || last == "create" || last == "send" || last == "link") {
			t.Errorf("%s: an add/create/send/link marked idempotent", a.Method)
		}
	}
}

func TestIdempotentFor(t *testing.T) {
	q := mustLookup(t, "taobao.item.quantity.update")
	for _, c := range []struct {
		params map[string]string
		want   bool
	}{
		{map[string]string{"num_iid": "1", "quantity": "5"}, false}, // absent type: not in the facts, conservative
		{map[string]string{"num_iid": "1", "quantity": "5", "type": "1"}, true},
		{map[string]string{"num_iid": "1", "quantity": "5", "type": "2"}, false},
		{map[string]string{"num_iid": "1", "quantity": "5", "type": ""}, false},
	} {
		if got := q.IdempotentFor(c.params); got != c.want {
			t.Errorf("IdempotentFor(%v) = %v, want %v", c.params, got, c.want)
		}
	}
	if !mustLookup(t, "taobao.item.sku.price.update").IdempotentFor(nil) {
		t.Error("price update not idempotent for nil params")
	}
	if mustLookup(t, "taobao.fenxiao.product.add").IdempotentFor(nil) {
		t.Error("product.add idempotent")
	}
}

// TestDataConsistency checks the catalog against itself.
func TestDataConsistency(t *testing.T) {
	// the hand groups (the big-promotion notice's); other entries are
	// grouped by the platform's category name
	groups := map[string]bool{"分销API": true, "交易API": true, "运费模板": true, "营销API": true,
		"交易开放": true, "商品API": true, "系统API": true}
	for _, a := range All() {
		name := a.Method
		if a.Unmapped {
			name = a.Title
		}
		if (a.Curated || a.Unmapped) && !groups[a.Group] || a.Group == "" || strings.HasSuffix(a.Group, ",") {
			t.Errorf("%s: group %q", name, a.Group)
		}
		if a.InModel && (a.DocID == 0 || a.Category == "" || a.Title == "") {
			t.Errorf("%s: doc id %d, category %q, title %q", name, a.DocID, a.Category, a.Title)
		}
		if a.Unmapped {
			continue
		}
		byName := map[string]Param{}
		for _, p := range a.Params {
			byName[p.Name] = p
		}
		if pg := a.Paging; pg != nil && !a.ParamsUnknown {
			for _, n := range []string{pg.PageParam, pg.SizeParam} {
				if _, ok := byName[n]; n != "" && !ok {
					t.Errorf("%s: paging param %s not among its params", name, n)
				}
			}
			if pg.MaxSize > 0 && pg.DefaultSize > pg.MaxSize {
				t.Errorf("%s: default page size over the maximum", name)
			}
		}
		if a.ListField != "" && !containsString(a.Lists, a.ListField) {
			t.Errorf("%s: list field %s not among %v", name, a.ListField, a.Lists)
		}
		if a.ParamsUnknown && len(a.Params) > 0 {
			t.Errorf("%s: params unknown yet listed", name)
		}
		if c := a.IdempotentIf; c != nil {
			if _, ok := byName[c.Param]; !ok {
				t.Errorf("%s: idempotent_if names unknown param %s", name, c.Param)
			}
		}
		for _, p := range a.Params {
			if p.MaxList > 0 && !strings.HasSuffix(p.Type, "[]") && !p.List {
				t.Errorf("%s: %s has max_list but type %s and no comma list", name, p.Name, p.Type)
			}
		}
	}
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestHumanSpan(t *testing.T) {
	for secs, want := range map[int]string{0: "0s", 45: "45s", 1800: "30m", 3600: "1h", 86400: "1 day",
		86401: "1 day 1s", 2*86400 + 5400: "2 days 1h30m", 90061: "1 day 1h1m1s"} {
		if got := HumanSpan(time.Duration(secs) * time.Second); got != want {
			t.Errorf("HumanSpan(%ds) = %q, want %q", secs, got, want)
		}
	}
}
