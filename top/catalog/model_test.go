package catalog

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/topscript/topscript/top/catalog/internal/build"
	"github.com/topscript/topscript/top/catalog/internal/model"
)

// catalog.bin must be what `go generate` makes of data/ and apis.toml.
func TestGeneratedUpToDate(t *testing.T) {
	b, st, err := build.Build(build.Default)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != catalogBin {
		t.Fatalf("catalog.bin is stale (%d bytes; its inputs make %d): run go generate ./top/catalog", len(catalogBin), len(b))
	}
	if st.Methods != 5349 || st.InModel != 5312 || st.HandOnly != 37 || st.Curated != 193 || st.Unmapped != 13 {
		t.Errorf("build stats %+v", st)
	}
}

func readModel(t *testing.T) []model.Method {
	t.Helper()
	f, err := os.Open(filepath.Join("data", model.MethodsFile))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ms, err := model.ReadMethods(f, f.Name())
	if err != nil {
		t.Fatal(err)
	}
	return ms
}

// Every method of the model is in the catalog with every one of its
// parameters (members of structured ones as dotted names), each with the
// model's type and required flag, and its whole response tree with the
// model's types: what `api show` prints for any method.
func TestEveryModelMethodComplete(t *testing.T) {
	ms := readModel(t)
	if len(ms) != 5312 {
		t.Fatalf("data/model.jsonl has %d methods", len(ms))
	}
	var params, fields int
	for i := range ms {
		m := &ms[i]
		a, ok := Lookup(m.Method)
		if !ok {
			t.Errorf("%s: not in the catalog", m.Method)
			continue
		}
		if a.DocID != m.DocID || a.Category != m.Category || a.Title == "" && m.Title != "" {
			t.Errorf("%s: doc %d category %q title %q", m.Method, a.DocID, a.Category, a.Title)
		}
		want := map[string]model.Param{}
		var walk func(ps []model.Param, prefix string)
		walk = func(ps []model.Param, prefix string) {
			for _, p := range ps {
				want[prefix+p.Name] = p
				walk(p.Fields, prefix+p.Name+".")
			}
		}
		walk(m.Params, "")
		got := map[string]Param{}
		for _, p := range a.Params {
			got[p.Name] = p
		}
		for name, p := range want {
			g, ok := got[name]
			switch {
			case !ok:
				t.Errorf("%s: parameter %s missing", m.Method, name)
			case g.Type != p.Type:
				t.Errorf("%s: %s type %s, the model says %s", m.Method, name, g.Type, p.Type)
			case p.Required && !g.Required:
				t.Errorf("%s: %s not required", m.Method, name)
			}
			params++
		}
		fields += compareTree(t, m.Method, a.Response(), m.Response, "")
	}
	// 44,389 parameter entries, one of them twice (taobao.qimen.inventory.report
	// lists request.remark twice)
	if params != 44388 || fields != 67796 {
		t.Errorf("compared %d parameters and %d response fields, want 44388 and 67796", params, fields)
	}
}

// compareTree checks got against the model's tree and counts the fields.
func compareTree(t *testing.T, method string, got []Field, want []model.Field, path string) int {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %s has %d fields, the model %d", method, strings.TrimSuffix(path, "."), len(got), len(want))
		return 0
	}
	n := 0
	for i := range want {
		if got[i].Name != want[i].Name || got[i].Type != want[i].Type {
			t.Errorf("%s: %s%s %s, the model says %s %s", method, path, got[i].Name, got[i].Type, want[i].Name, want[i].Type)
			continue
		}
		n += 1 + compareTree(t, method, got[i].Fields, want[i].Fields, path+want[i].Name+".")
	}
	return n
}

// Lookup decodes the looked-up method's record alone: a run that calls
// one method pays for one record, not for 5,349.
func TestLookupDecodesOneRecord(t *testing.T) {
	s, err := openStore(catalogBin)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := s.lookup("taobao.trades.sold.get"); !ok {
		t.Fatal("not found")
	}
	if _, ok := s.lookup("taobao.trades.sold.get"); !ok {
		t.Fatal("not found the second time")
	}
	if _, ok := s.lookup("taobao.no.such.api"); ok {
		t.Fatal("an unknown method found")
	}
	decoded, structs := 0, 0
	s.apis.Range(func(any, any) bool { decoded++; return true })
	s.structs.Range(func(any, any) bool { structs++; return true })
	if decoded != 1 || structs != 0 {
		t.Errorf("%d records and %d response structs decoded, want 1 and 0", decoded, structs)
	}
}

func TestDocURLAndInference(t *testing.T) {
	sku := mustLookup(t, "taobao.item.sku.get")
	if sku.DocURL() != "https://open.taobao.com/api.htm?docId="+strconv.Itoa(sku.DocID)+"&docType=2" || sku.DocID == 0 {
		t.Errorf("DocURL %q", sku.DocURL())
	}
	if sku.Access != Read || !sku.Idempotent || !sku.IsInferred("access") || sku.Curated {
		t.Errorf("taobao.item.sku.get: %+v", sku)
	}
	send := mustLookup(t, "taobao.logistics.offline.send")
	if send.Access != Write || send.Idempotent || !send.IsInferred("access") || !send.IsInferred("idempotent") {
		t.Errorf("taobao.logistics.offline.send: access %s idempotent %v inferred %v", send.Access, send.Idempotent, send.Inferred)
	}
	if IsWrite("taobao.logistics.offline.send") != true || IsIdempotent("taobao.logistics.offline.send") {
		t.Error("offline.send: not a non-idempotent write")
	}
	// hand facts win: trades.sold.get's paging is the curated one
	ts := mustLookup(t, "taobao.trades.sold.get")
	if ts.IsInferred("paging") || ts.IsInferred("access") || ts.IsInferred("session") || !ts.Curated || !ts.InModel {
		t.Errorf("trades.sold.get inferred %v", ts.Inferred)
	}
	if len(ts.Params) < 13 {
		t.Errorf("trades.sold.get has %d parameters, the doc 13", len(ts.Params))
	}
	// an inferred paging: page number and size, their default and maximum
	// from the doc text, the total field from the response
	var pg *API
	for _, a := range All() {
		if a.IsInferred("paging") && a.Paging.Style == "page" && a.Paging.MaxSize > 0 && a.Paging.DefaultSize > 0 && a.Paging.TotalField != "" {
			pg = a
			break
		}
	}
	if pg == nil {
		t.Fatal("no inferred page-style paging with sizes and a total")
	}
	if pg.ListField == "" || !pg.IsInferred("list_field") {
		t.Errorf("%s: list field %q (inferred %v)", pg.Method, pg.ListField, pg.Inferred)
	}
	var styles = map[string]int{}
	sessions := map[string]int{}
	for _, a := range All() {
		if a.Paging != nil {
			styles[a.Paging.Style]++
		}
		if a.IsInferred("session") {
			sessions[a.Session]++
		}
	}
	if styles["page"] < 250 || styles["cursor"] == 0 || styles["offset"] == 0 || sessions["required"] < 100 || sessions["none"] == 0 {
		t.Errorf("paging styles %v, inferred sessions %v", styles, sessions)
	}
}

// Each kind of problem stops a call with a named parameter and a reason.
func TestValidateTypesAndDocRules(t *testing.T) {
	cases := []struct {
		method  string
		params  map[string]string
		param   string
		problem Problem
		reason  string
	}{
		{"taobao.item.seller.get", map[string]string{"fields": "num_iid", "num_iid": "abc"}, "num_iid", BadType, `"abc" is not a whole number`},
		{"taobao.item.seller.get", map[string]string{"fields": "num_iid", "num_iid": "600000000001"}, "", "", ""},
		{"taobao.item.seller.get", map[string]string{"feilds": "num_iid", "num_iid": "600000000001"}, "fields", Missing, "required parameter missing"},
		{"taobao.item.seller.get", map[string]string{"fields": "num_iid", "num_iid": "1", "feilds": "x"}, "feilds", Unknown, "not a parameter of taobao.item.seller.get; did you mean fields?"},
		{"taobao.item.sku.price.update", map[string]string{"num_iid": "1", "properties": "1:2", "price": "12,50"}, "price", BadType, `"12,50" is not a decimal number (as 12.50)`},
		{"taobao.item.sku.price.update", map[string]string{"num_iid": "1", "properties": "1:2", "price": "12.50"}, "", "", ""},
		{"taobao.item.sku.price.update", map[string]string{"num_iid": "1", "properties": "1:2", "price": "12.50", "lang": "en"}, "lang", NotAllowed, `"en" is not one of zh_HK, zh_CN (from the doc text)`},
		{"taobao.trades.sold.get", map[string]string{"fields": "tid", "start_created": "2024-13-01 00:00:00"}, "start_created", BadType, `"2024-13-01 00:00:00" is not a time as yyyy-MM-dd HH:mm:ss`},
		{"taobao.trades.sold.get", map[string]string{"fields": "tid", "start_created": "2024-03-01"}, "", "", ""},
		{"taobao.trades.sold.get", map[string]string{"fields": "tid", "use_has_next": "yes"}, "use_has_next", BadType, `"yes" is not a Boolean (true or false)`},
		{"taobao.trades.sold.get", map[string]string{"fields": "tid", "use_has_next": "true"}, "", "", ""},
		{"taobao.fenxiao.products.get", map[string]string{"pids": ids(31)}, "pids", OutOfRange, "31 items, at most 30 allowed"},
		{"taobao.fenxiao.products.get", map[string]string{"pids": ids(30)}, "", "", ""},
		{"taobao.fenxiao.products.get", map[string]string{"pids": "1,x,3"}, "pids", BadType, `"x" is not a whole number`},
		{"taobao.fenxiao.product.update", map[string]string{"pid": "1", "name": strings.Repeat("名", 61)}, "name", OutOfRange, "61 characters, at most 60 allowed"},
		{"taobao.fenxiao.product.update", map[string]string{"pid": "1", "desc": "四个字"}, "desc", OutOfRange, "3 characters, at least 5 needed"},
		{"taobao.fenxiao.product.update", map[string]string{"pid": "1", "standard_price": "0.001"}, "standard_price", OutOfRange, "0.001 is below the minimum 0.01"},
		{"taobao.fenxiao.product.update", map[string]string{"pid": "1", "standard_price": "20000000"}, "standard_price", OutOfRange, "20000000 is over the maximum 10000000"},
		{"taobao.fenxiao.product.update", map[string]string{"pid": "1", "status": "on"}, "status", NotAllowed, `"on" is not one of up, down, delete (from the doc text)`},
		{"taobao.fenxiao.product.update", map[string]string{"pid": "1", "image": "not a file"}, "image", BadType, "a file parameter given as text: pass a file (k=@path on the command line)"},
		{"taobao.opentrade.activity.sync", map[string]string{"activity_id": "1", "start_time": "2024-01-01 00:00:00", "end_time": "2024-01-02 00:00:00", "activity_name": "x", "item_id_list": "1,2,a"}, "item_id_list", BadType, `"a" is not a whole number`},
		{"taobao.kaola.scitem.add", map[string]string{"option": "[1]"}, "option", BadType, `"[1]" is not a JSON object (type AddCnskuOption)`},
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
			t.Errorf("%s %v: want a ValidationError on %s, got %v", c.method, c.params, c.param, err)
			continue
		}
		if ve.Method != c.method || ve.Param != c.param || ve.Problem != c.problem || ve.Reason != c.reason {
			t.Errorf("%s: got %+v, want %s %s %q", c.method, *ve, c.param, c.problem, c.reason)
		}
	}
	// A file for a file parameter passes; a file for a text one does not.
	up := mustLookup(t, "taobao.fenxiao.product.update")
	if err := up.Check(map[string]string{"pid": "1"}, map[string]bool{"image": true}, AllChecks); err != nil {
		t.Errorf("a file for image: %v", err)
	}
	var ve *ValidationError
	if err := up.Check(map[string]string{"pid": "1"}, map[string]bool{"name": true}, AllChecks); !errors.As(err, &ve) || ve.Param != "name" || ve.Problem != BadType {
		t.Errorf("a file for name: %v", err)
	}
	// Without the doc-text rules, what only the doc text says is not checked.
	if err := up.Check(map[string]string{"pid": "1", "status": "on", "desc": "短"}, nil, Checks{}); err != nil {
		t.Errorf("doc-text rules checked without DocRules: %v", err)
	}
	if err := up.Check(map[string]string{"pid": "x"}, nil, Checks{}); !errors.As(err, &ve) || ve.Problem != BadType {
		t.Errorf("types not checked without DocRules: %v", err)
	}
}

// A byte is Java's Byte, a small integer; only byte[] is a file.
func TestByteIsANumber(t *testing.T) {
	a := mustLookup(t, "alibaba.alihouse.merchant.enterprise.entry")
	var p *Param
	for i := range a.Params {
		if a.Params[i].Name == "is_test" {
			p = &a.Params[i]
		}
	}
	if p == nil || p.Type != "byte" {
		t.Fatalf("is_test: %+v", p)
	}
	if pr, reason := p.check("1", true, false); reason != "" {
		t.Errorf("is_test=1: %s %s", pr, reason)
	}
	if pr, reason := p.check("300", true, false); pr != BadType || reason != `"300" is not a byte (a whole number from -128 to 127)` {
		t.Errorf("is_test=300: %s %s", pr, reason)
	}
}
