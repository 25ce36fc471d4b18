package infer

import (
	"reflect"
	"testing"

	"github.com/topscript/topscript/top/catalog/internal/blob"
)

func TestReadName(t *testing.T) {
	for m, want := range map[string]bool{
		"taobao.item.sku.get": true, "taobao.trades.sold.query": true, "taobao.ump.mbb.getbyid": true,
		"alibaba.wdk.item.findlist": true, "taobao.items.inventory.list": true, "x.y.detail": true,
		"taobao.item.update.delisting": false, "taobao.logistics.offline.send": false, "taobao.item.sku.price.update": false,
		"taobao.opentrade.activity.sync": false, "": false,
	} {
		if got := ReadName(m); got != want {
			t.Errorf("ReadName(%q) = %v, want %v", m, got, want)
		}
	}
}

func TestPaging(t *testing.T) {
	hundred := 100.0
	resp := []FieldInfo{{Name: "total_results", Type: "Number"}, {Name: "has_next", Type: "Boolean"}, {Name: "items", Type: "Item[]"}}
	got := Paging([]ParamInfo{{Name: "page_no"}, {Name: "page_size", Default: "40", Max: &hundred}, {Name: "use_has_next"}}, resp)
	want := &blob.Paging{Style: "page", Page: "page_no", Size: "page_size", DefaultSize: 40, MaxSize: 100,
		Total: "total_results", HasNext: true, UseHasNext: true}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("page style: %+v", got)
	}
	if got := Paging([]ParamInfo{{Name: "scroll_id"}, {Name: "limit"}}, nil); got == nil || got.Style != "cursor" || got.Cursor != "scroll_id" || got.Size != "limit" {
		t.Errorf("cursor style: %+v", got)
	}
	if got := Paging([]ParamInfo{{Name: "offset"}, {Name: "limit"}}, nil); got == nil || got.Style != "offset" {
		t.Errorf("offset style: %+v", got)
	}
	// a page number alone, or paging inside a structured parameter, is not paging
	if got := Paging([]ParamInfo{{Name: "page_no"}, {Name: "q.page_size"}}, nil); got != nil {
		t.Errorf("no paging: %+v", got)
	}
	// a default over the maximum is dropped
	if got := Paging([]ParamInfo{{Name: "page"}, {Name: "page_size", Default: "200", Max: &hundred}}, nil); got.DefaultSize != 0 || got.MaxSize != 100 {
		t.Errorf("default over max: %+v", got)
	}
}

func TestLists(t *testing.T) {
	resp := []FieldInfo{{Name: "total", Type: "Number"}, {Name: "result", Type: "Result", Fields: []FieldInfo{
		{Name: "data", Type: "Item[]", Fields: []FieldInfo{{Name: "skus", Type: "Sku[]"}}}, {Name: "code", Type: "String"}}}}
	if got := Lists(resp, 3); !reflect.DeepEqual(got, []string{"result.data"}) {
		t.Errorf("Lists = %v", got)
	}
	if got := ListField(resp); got != "result.data" {
		t.Errorf("ListField = %q", got)
	}
	if got := ListField([]FieldInfo{{Name: "a", Type: "X[]"}, {Name: "b", Type: "Y[]"}}); got != "" {
		t.Errorf("two lists: %q", got)
	}
	if got := ListField([]FieldInfo{{Name: "trades", Type: "Trade[]"}}); got != "trades" {
		t.Errorf("one list: %q", got)
	}
}
