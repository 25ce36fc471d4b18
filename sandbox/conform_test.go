package sandbox

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/topscript/topscript/internal/conform"
	"github.com/topscript/topscript/top/catalog"
	"github.com/topscript/topscript/toptime"
)

// memberNames lists the members of the struct (or struct list) at path in
// method's documented response, comma-joined: a fields value asking for
// everything the model documents there.
func memberNames(t *testing.T, method string, path ...string) string {
	t.Helper()
	a, ok := catalog.Lookup(method)
	if !ok {
		t.Fatalf("%s: not in the catalog", method)
	}
	fs := a.Response()
	for _, name := range path {
		var next []catalog.Field
		for _, f := range fs {
			if f.Name == name {
				next = f.Fields
			}
		}
		if next == nil {
			t.Fatalf("%s: no struct %s in the documented response", method, name)
		}
		fs = next
	}
	var names []string
	for _, f := range fs {
		names = append(names, f.Name)
	}
	return strings.Join(names, ",")
}

// modelledCalls are calls of every method modelled with state that answer
// with seeded data, asking for every documented field.
func modelledCalls(t *testing.T, s *Server) []struct {
	method string
	params map[string]string
} {
	t.Helper()
	s.mu.RLock()
	it := s.st.items[1] // has SKUs
	plain := s.st.items[0]
	for i := range s.st.items {
		if len(s.st.items[i].skus) == 0 {
			plain = s.st.items[i]
			break
		}
	}
	fx := s.st.fx[0]
	s.mu.RUnlock()
	numIID := strconv.FormatInt(it.numIID, 10)
	skuID := strconv.FormatInt(it.skus[0].id, 10)
	pid := strconv.FormatInt(fx.pid, 10)
	tid := strconv.FormatInt(s.trades.tid(s.trades.n-1), 10)
	trade := memberNames(t, "taobao.trades.sold.get", "trades")
	item := memberNames(t, "taobao.items.onsale.get", "items")
	sellerItem := memberNames(t, "taobao.item.seller.get", "item")
	full := memberNames(t, "taobao.trade.fullinfo.get", "trade")
	end := testNow.Add(-time.Hour)
	return []struct {
		method string
		params map[string]string
	}{
		{"taobao.time.get", nil},
		{"taobao.trades.sold.get", map[string]string{"fields": trade, "page_size": "100"}},
		{"taobao.trades.sold.get", map[string]string{"fields": trade, "use_has_next": "true", "page_size": "5"}},
		{"taobao.trades.sold.increment.get", map[string]string{"fields": trade, "page_size": "100",
			"start_modified": end.Add(-24 * time.Hour).Format(toptime.Layout), "end_modified": end.Format(toptime.Layout)}},
		{"taobao.trade.fullinfo.get", map[string]string{"fields": full, "tid": tid}},
		{"taobao.items.onsale.get", map[string]string{"fields": item, "page_size": "200"}},
		{"taobao.item.seller.get", map[string]string{"fields": sellerItem, "num_iid": numIID}},
		{"taobao.item.seller.get", map[string]string{"fields": "num_iid,title,sku", "num_iid": strconv.FormatInt(plain.numIID, 10)}},
		{"taobao.item.sku.price.update", map[string]string{"num_iid": numIID, "properties": it.skus[0].props, "price": "12.30", "quantity": "7"}},
		{"taobao.item.quantity.update", map[string]string{"num_iid": numIID, "sku_id": skuID, "quantity": "5"}},
		{"taobao.item.quantity.update", map[string]string{"num_iid": strconv.FormatInt(plain.numIID, 10), "quantity": "5", "type": "2"}},
		{"taobao.skus.quantity.update", map[string]string{"num_iid": numIID, "skuid_quantities": skuID + ":9"}},
		{"taobao.fenxiao.products.get", map[string]string{"page_size": "50"}},
		{"taobao.fenxiao.products.get", map[string]string{"fields": "skus,images", "pids": pid}},
		{"taobao.fenxiao.product.update", map[string]string{"pid": pid, "standard_price": "20.00"}},
		{"taobao.fenxiao.product.sku.update", map[string]string{"product_id": pid, "properties": fx.skus[0].props, "quantity": "3"}},
		{"taobao.opentrade.activity.sync", map[string]string{"activity_id": "2131", "activity_name": "会员优先购",
			"start_time": "2024-06-02 00:00:00", "end_time": "2024-06-03 00:00:00", "item_id_list": numIID}},
		{"tmall.supplychain.channel.product.downshelf", map[string]string{"product_id": pid}},
		{"tmall.supplychain.channel.product.upshelf", map[string]string{"product_id": pid}},
	}
}

// checkAnswer calls method both ways (simplify true and false) and checks
// each payload against the documented response; it returns the mismatches
// and the number of fields checked.
func checkAnswer(t *testing.T, s *Server, method string, params map[string]string, files []string) []string {
	t.Helper()
	a, _ := catalog.Lookup(method)
	var out []string
	for _, simplify := range []string{"true", "false"} {
		p := map[string]string{"simplify": simplify}
		for k, v := range params {
			p[k] = v
		}
		m := callWith(t, s, method, p, files)
		if e := errOf(m); e != nil {
			out = append(out, fmt.Sprintf("%s: error %v", method, e))
			continue
		}
		payload := m
		if simplify == "false" {
			var ok bool
			if payload, ok = m[responseRoot(method)].(map[string]any); !ok {
				out = append(out, fmt.Sprintf("%s: no %s wrapper: %v", method, responseRoot(method), m))
				continue
			}
		}
		seen := map[string]bool{}
		for _, mm := range conform.Check(a.Response(), payload) {
			// one line per field, not per list element
			mm.Path = indexRe.ReplaceAllString(mm.Path, "[]")
			key := mm.Path + " " + mm.Want + " " + strings.Fields(mm.Got)[0]
			if !seen[key] {
				seen[key] = true
				out = append(out, method+" (simplify="+simplify+"): "+mm.String())
			}
		}
	}
	return out
}

var indexRe = regexp.MustCompile(`\[\d+\]`)

// callWith posts a signed JSON call, as multipart when it carries files.
func callWith(t *testing.T, s *Server, method string, params map[string]string, files []string) map[string]any {
	t.Helper()
	p := signed(s, method, params)
	if len(files) == 0 {
		w := post(s, p)
		return decode(t, w.Body.Bytes())
	}
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for k, v := range p {
		_ = mw.WriteField(k, v)
	}
	for _, f := range files {
		fw, _ := mw.CreateFormFile(f, f+".jpg")
		_, _ = fw.Write([]byte{0xff, 0xd8, 0xff})
	}
	_ = mw.Close()
	r := httptest.NewRequest(http.MethodPost, "/router/rest", &body)
	r.Header.Set("Content-Type", mw.FormDataContentType())
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)
	return decode(t, w.Body.Bytes())
}

// validParams makes a value for each required parameter of a that the
// gateway accepts (files named apart).
func validParams(a *catalog.API) (map[string]string, []string) {
	p := map[string]string{}
	var files []string
	for _, q := range a.Params {
		if !q.Required || strings.Contains(q.Name, ".") {
			continue
		}
		base, isList := strings.CutSuffix(q.Type, "[]")
		v := "x"
		switch {
		case q.Type == "byte[]" || q.Type == "byte[][]":
			files = append(files, q.Name)
			continue
		case isList && !scalarType(base):
			v = "[{}]"
		case !scalarType(base) || base == "Json":
			v = "{}"
		case base == "Number" || base == "Long" || base == "Integer" || base == "byte":
			v = "1"
			if q.Min != nil {
				v = strconv.FormatFloat(*q.Min, 'f', -1, 64)
			}
		case base == "Price" || base == "Double" || base == "Float" || base == "BigDecimal":
			v = "1.00"
			if q.Min != nil {
				v = strconv.FormatFloat(*q.Min, 'f', -1, 64)
			}
		case base == "Boolean":
			v = "true"
		case base == "Date":
			v = "2024-05-01 00:00:00"
		case q.MinLen > 1:
			v = strings.Repeat("x", q.MinLen)
		}
		p[q.Name] = v
	}
	return p, files
}

func scalarType(base string) bool {
	switch base {
	case "String", "Number", "Long", "Integer", "Double", "Float", "BigDecimal", "Boolean", "Date", "Price", "Json", "byte":
		return true
	}
	return false
}

// TestConformance walks the answers of every method the sandbox serves —
// the modelled ones on their seeded data, and every other method of the
// catalog from its schema — and checks every field's JSON type against the
// platform's model. The whole walk takes about a second, so CI runs all of
// it.
func TestConformance(t *testing.T) {
	s := newTestServer(t, Options{Trades: 300})
	var bad []string
	for _, c := range modelledCalls(t, s) {
		bad = append(bad, checkAnswer(t, s, c.method, c.params, nil)...)
	}
	start := time.Now()
	checked, noSchema := 0, 0
	for _, m := range catalog.Names() {
		if apis()[m] != nil {
			continue
		}
		a, _ := catalog.Lookup(m)
		if a.Response() == nil {
			noSchema++
		}
		p, files := validParams(a)
		bad = append(bad, checkAnswer(t, s, m, p, files)...)
		checked++
	}
	if len(bad) > 0 {
		sort.Strings(bad)
		if len(bad) > 200 {
			bad = append(bad[:200], fmt.Sprintf("... and %d more", len(bad)-200))
		}
		t.Fatalf("%d answers not as documented:\n%s", len(bad), strings.Join(bad, "\n"))
	}
	t.Logf("%d modelled calls and %d generated methods (%d without a schema) conform, both envelopes, in %v",
		len(modelledCalls(t, s)), checked, noSchema, time.Since(start).Round(time.Millisecond))
	if checked != len(catalog.Names())-len(apis()) {
		t.Errorf("checked %d generated methods, want %d", checked, len(catalog.Names())-len(apis()))
	}
}

// The checker itself: one field of the wrong type, a Date that does not
// parse, a list that is not one, a field the doc does not list — each is
// found; the right answer is clean.
func TestConformChecker(t *testing.T) {
	s := newTestServer(t, Options{Trades: 50})
	a, _ := catalog.Lookup("taobao.trades.sold.get")
	m := doCall(t, s, "taobao.trades.sold.get", map[string]string{"fields": "tid,orders.sku_id,orders.oid,created", "simplify": "true", "page_size": "3"})
	if mm := conform.Check(a.Response(), m); len(mm) != 0 {
		t.Fatalf("clean answer: %v", mm)
	}
	trades := m["trades"].([]any)
	var order map[string]any
	for _, tr := range trades {
		for _, o := range tr.(map[string]any)["orders"].([]any) {
			if _, ok := o.(map[string]any)["sku_id"]; ok {
				order = o.(map[string]any)
			}
		}
	}
	if order == nil {
		t.Fatal("no order with a sku_id")
	}
	order["sku_id"] = json.Number("123") // a number where the doc says String
	trades[0].(map[string]any)["created"] = "2024/06/01"
	m["extra"] = true
	mm := conform.Check(a.Response(), m)
	var got []string
	for _, x := range mm {
		got = append(got, x.String())
	}
	want := []string{
		"extra: not in the documented response (boolean true)",
		"trades[0].created: documented Date, got \"2024/06/01\" (not yyyy-MM-dd HH:mm:ss)",
		"sku_id: documented String, got number 123",
	}
	if len(mm) != 3 || got[0] != want[0] || got[1] != want[1] || !strings.HasSuffix(got[2], want[2]) {
		t.Errorf("mismatches:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	m2 := map[string]any{"trades": map[string]any{"trade": "not a list"}}
	if mm := conform.Check(a.Response(), m2); len(mm) != 1 || !strings.Contains(mm[0].String(), "documented Trade[] (a list)") {
		t.Errorf("a list that is not one: %v", mm)
	}
}

// Generated answers are deterministic, honour fields, page, answer in XML,
// and check their parameters with the gateway's codes.
func TestGeneratedMethods(t *testing.T) {
	s := newTestServer(t, Options{})
	args := map[string]string{"fields": "refund_id,tid,total_fee", "simplify": "true"}
	a := doCall(t, s, "taobao.refunds.receive.get", args)
	b := doCall(t, s, "taobao.refunds.receive.get", args)
	delete(a, "request_id")
	delete(b, "request_id")
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Errorf("same request, different answers:\n%v\n%v", a, b)
	}
	refunds, ok := a["refunds"].([]any)
	if !ok || len(refunds) == 0 || len(refunds) > 3 {
		t.Fatalf("refunds: %v", a)
	}
	if n := num(a["total_results"]); n != strconv.Itoa(len(refunds)) {
		t.Errorf("total_results %s for %d refunds", n, len(refunds))
	}
	for _, r := range refunds {
		keys := []string{}
		for k := range r.(map[string]any) {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		if strings.Join(keys, ",") != "refund_id,tid,total_fee" {
			t.Errorf("fields not honoured: %v", keys)
		}
		if tid := num(r.(map[string]any)["tid"]); len(tid) != 19 {
			t.Errorf("tid %s is not 19 digits", tid)
		}
	}
	// page 2 is empty, the total unchanged
	args["page_no"] = "2"
	p2 := doCall(t, s, "taobao.refunds.receive.get", args)
	if _, ok := p2["refunds"]; ok || num(p2["total_results"]) != strconv.Itoa(len(refunds)) {
		t.Errorf("page 2: %v", p2)
	}
	// a request parameter comes back in the field of its name
	sku := doCall(t, s, "taobao.item.sku.get", map[string]string{"fields": "sku_id,num_iid", "sku_id": "1234567890123", "num_iid": "600000000001", "simplify": "true"})
	if got := sku["sku"].(map[string]any); num(got["sku_id"]) != "1234567890123" {
		t.Errorf("sku %v", got)
	}
	// 40 and 41 with the gateway's messages
	e := doCall(t, s, "taobao.item.sku.get", map[string]string{"fields": "sku_id", "num_iid": "1"})
	wantCode(t, e, "40", "")
	if msg := errOf(e)["msg"]; msg != "Missing required arguments:sku_id" {
		t.Errorf("40: %v", msg)
	}
	e = doCall(t, s, "taobao.item.sku.get", map[string]string{"fields": "sku_id", "sku_id": "abc"})
	wantCode(t, e, "41", "")
	if msg := errOf(e)["msg"]; msg != "Invalid arguments:sku_id" {
		t.Errorf("41: %v", msg)
	}
	// XML, well-formed, under the method's root
	body := post(s, signed(s, "taobao.refunds.receive.get", map[string]string{"fields": "refund_id,tid", "format": "xml"})).Body.String()
	if !strings.Contains(body, "<refunds_receive_get_response>") || !strings.Contains(body, `<refunds list="true"><refund>`) {
		t.Errorf("xml: %s", body)
	}
	dec := xml.NewDecoder(strings.NewReader(body))
	for {
		if _, err := dec.Token(); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("xml: %v\n%s", err, body)
		}
	}
	// not in the catalog: 22; a bad session: 27
	wantCode(t, doCall(t, s, "taobao.no.such.method", nil), "22", "")
	p := signed(s, "taobao.item.sku.get", map[string]string{"fields": "sku_id", "sku_id": "1", "session": "wrong"})
	wantCode(t, decode(t, post(s, p).Body.Bytes()), "27", "invalid-sessionkey")
}
