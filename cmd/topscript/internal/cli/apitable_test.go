package cli

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/topscript/topscript/top/catalog"
)

// mustLookup returns the catalog's entry of method.
func mustLookup(t *testing.T, method string) *catalog.API {
	t.Helper()
	a, ok := catalog.Lookup(method)
	if !ok {
		t.Fatalf("%s not in the catalog", method)
	}
	return a
}

const activitySyncShow = `taobao.opentrade.activity.sync  尖货交易活动信息同步
doc:      https://open.taobao.com/api.htm?docId=49612&docType=2
group:    交易开放
access:   write, idempotent
session:  required
note:     Creates or updates the activity keyed by activity_id: sending it twice leaves the same state.

parameters:
  NAME           TYPE      REQUIRED  LIMITS        DESCRIPTION
  activity_id    String    required  -             排队活动ID，排队时如传入，这里需要填写；若未传，这里也可以不传 (e.g. 2132)
  start_time     Date      required  -             活动开始时间 (e.g. 2020-04-12 15:00:18)
  end_time       Date      required  -             活动结束时间（全流程结束时间，非排队结束时间） (e.g. 2020-04-18 15:00:18)
  activity_name  String    required  -             活动名称 (e.g. 会员优先购)
  item_id_list   Number[]  required  max 20 items  活动关联的商品列表，使用逗号(,)分割 (e.g. 112123,123123)

paging:      none
list field:  -

response:
  start_time     String
  item_ids       String
  activity_name  String
  appkey         String
  activity_id    String
  gmt_modified   String
  end_time       String
`

func TestAPIShowActivitySync(t *testing.T) {
	var b bytes.Buffer
	if err := writeAPIShow(&b, mustLookup(t, "taobao.opentrade.activity.sync")); err != nil {
		t.Fatal(err)
	}
	if b.String() != activitySyncShow {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), activitySyncShow)
	}
}

func TestAPIShowOthers(t *testing.T) {
	var b bytes.Buffer
	if err := writeAPIShow(&b, mustLookup(t, "taobao.trades.sold.increment.get")); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"paging:      page_no / page_size (default 40, max 100); total: total_results; has_next; accepts use_has_next=true; reverse: page from the last page back; start_modified..end_modified at most 1 day",
		"list field:  trades",
		"start_modified  Date     required",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("show increment.get lacks %q:\n%s", want, b.String())
		}
	}
	b.Reset()
	_ = writeAPIShow(&b, mustLookup(t, "taobao.item.quantity.update"))
	if !strings.Contains(b.String(), "access:   write, not idempotent (idempotent when type=1)") {
		t.Errorf("show item.quantity.update:\n%s", b.String())
	}
	b.Reset()
	_ = writeAPIShow(&b, catalog.Find("产品下载")[0])
	if !strings.HasPrefix(b.String(), "(method unknown)  产品下载\n") || !strings.Contains(b.String(), "parameters: unknown") {
		t.Errorf("show unmapped:\n%s", b.String())
	}
	if err := writeAPIShow(&b, nil); err == nil {
		t.Error("writeAPIShow(nil) succeeded")
	}
}

// api show marks what was read from the doc's text (*) or inferred, shows
// allowed values and defaults, and the response tree nested with types;
// --json carries the same facts.
func TestAPIShowFacts(t *testing.T) {
	var b bytes.Buffer
	if err := writeAPIShow(&b, mustLookup(t, "taobao.trades.sold.get")); err != nil {
		t.Fatal(err)
	}
	for _, re := range []string{
		`(?m)^doc: +https://open\.taobao\.com/api\.htm\?docId=46&docType=2$`,
		`(?m)^  tag +String +optional +one of time_card\|fee_card\*$`,
		`(?m)^  page_size +Number +optional +max 100\*, default 40 `,
		`(?m)^  fields +String +required +comma-joined list\*$`,
		`(?m)^  \* read from the doc's text`,
		`(?m)^response:$`,
		`(?m)^  trades +Trade\[\]$`,
		`(?m)^    tid +Number$`,
		`(?m)^    orders +Order\[\]$`,
		`(?m)^      oid +Number$`,
	} {
		if !regexp.MustCompile(re).MatchString(b.String()) {
			t.Errorf("show trades.sold.get lacks %s", re)
		}
	}
	b.Reset()
	_ = writeAPIShow(&b, mustLookup(t, "taobao.logistics.offline.send"))
	for _, want := range []string{"access:   write, not idempotent (inferred)", "session:  required (inferred)", "default 0*"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("show logistics.offline.send lacks %q:\n%s", want, b.String())
		}
	}

	b.Reset()
	if err := writeAPIShowJSON(&b, mustLookup(t, "taobao.trades.sold.get")); err != nil {
		t.Fatal(err)
	}
	var d apiDetail
	if err := json.Unmarshal(b.Bytes(), &d); err != nil {
		t.Fatal(err)
	}
	a := mustLookup(t, "taobao.trades.sold.get")
	if len(d.Params) != len(a.Params) || d.DocURL != a.DocURL() || d.Paging == nil || d.Paging.MaxSize != 100 {
		t.Errorf("json: %d params (want %d), doc %q, paging %+v", len(d.Params), len(a.Params), d.DocURL, d.Paging)
	}
	var trades *fieldDetail
	for i := range d.Response {
		if d.Response[i].Name == "trades" {
			trades = &d.Response[i]
		}
	}
	if trades == nil || trades.Type != "Trade[]" || len(trades.Fields) < 50 {
		t.Errorf("json response trades: %+v", trades)
	}
	for _, p := range d.Params {
		if p.Name == "tag" && (strings.Join(p.Enum, ",") != "time_card,fee_card" || strings.Join(p.Mined, ",") != "enum") {
			t.Errorf("json tag: %+v", p)
		}
	}
}

func TestAPIListAligned(t *testing.T) {
	var b bytes.Buffer
	apis := append(catalog.Find("tmall.supplychain.channel.product.*"), catalog.Find("产品下载")...)
	apis = append(apis, mustLookup(t, "taobao.time.get"))
	if err := writeAPIList(&b, apis); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if len(lines) != len(apis)+1 || !strings.HasPrefix(lines[0], "METHOD") {
		t.Fatalf("list:\n%s", b.String())
	}
	// the access column starts at the same display column on every line
	col := -1
	for _, l := range lines {
		f := strings.Fields(l)
		acc := f[len(f)-2]
		i := strings.LastIndex(l, "  "+acc+"  ") + 2
		w := textWidth(l[:i])
		if col < 0 {
			col = w
		} else if w != col {
			t.Errorf("misaligned (%d vs %d):\n%s", w, col, b.String())
			break
		}
	}
	if !strings.Contains(b.String(), "tmall.supplychain.channel.product.downshelf") ||
		!strings.Contains(b.String(), "产品下架") || !strings.Contains(b.String(), "\n-  ") {
		t.Errorf("list:\n%s", b.String())
	}
}

func TestTextWidth(t *testing.T) {
	for s, w := range map[string]int{"abc": 3, "产品下架": 8, "（减少）": 8, "(减少)": 6, "SKU查询接口": 11, "": 0} {
		if got := textWidth(s); got != w {
			t.Errorf("textWidth(%q) = %d, want %d", s, got, w)
		}
	}
}
