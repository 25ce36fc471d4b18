package blob

import (
	"reflect"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	structs := [][]Field{
		{{Name: "sku_id", Type: "Number"}, {Name: "price", Type: "Price"}},
		{{Name: "skus", Type: "Sku[]", Struct: 1}, {Name: "total", Type: "Number"}},
	}
	ms := []Entry{
		{Name: "b.item.get", Record: Method{Title: "商品", Access: "read", Idempotent: true, Response: 2,
			Params: []Param{{Name: "num_iid", Type: "Number", Required: true}}}},
		{Name: "a.time.get", Record: Method{Access: "read", Idempotent: true}},
	}
	b, err := Write(ms, structs, []Unmapped{{Title: "无名"}})
	if err != nil {
		t.Fatal(err)
	}
	r, err := Open(string(b))
	if err != nil {
		t.Fatal(err)
	}
	if r.Len() != 2 || r.Structs() != 2 || r.Name(0) != "a.time.get" || r.Name(1) != "b.item.get" {
		t.Fatalf("len %d structs %d names %q %q", r.Len(), r.Structs(), r.Name(0), r.Name(1))
	}
	i, ok := r.Find("b.item.get")
	if !ok || i != 1 {
		t.Fatalf("Find = %d, %v", i, ok)
	}
	if _, ok := r.Find("c.none"); ok {
		t.Error("found an absent method")
	}
	m, err := r.Method(i)
	if err != nil || !reflect.DeepEqual(m, ms[1].Record) && !reflect.DeepEqual(m, ms[0].Record) {
		t.Errorf("record %+v, %v", m, err)
	}
	fs, err := r.Struct(2)
	if err != nil || !reflect.DeepEqual(fs, structs[1]) {
		t.Errorf("struct 2 = %+v, %v", fs, err)
	}
	if _, err := r.Struct(3); err == nil {
		t.Error("struct 3 decoded")
	}
	um, err := r.Unmapped()
	if err != nil || len(um) != 1 || um[0].Title != "无名" {
		t.Errorf("unmapped %+v, %v", um, err)
	}
	// corrupt: an offset past the end, a truncated index
	bad := []byte(string(b))
	bad[headerLen+8] = 0xff
	bad[headerLen+9] = 0xff
	bad[headerLen+10] = 0xff
	if _, err := Open(string(bad)); err == nil {
		t.Error("an offset past the end opened")
	}
	if _, err := Open(string(b[:headerLen+4])); err == nil {
		t.Error("a truncated index opened")
	}
	// bad input to Write
	if _, err := Write([]Entry{{Name: "x", Record: Method{Response: 5}}}, nil, nil); err == nil {
		t.Error("a response naming a missing struct written")
	}
	if _, err := Write([]Entry{{Name: "x"}, {Name: "x"}}, nil, nil); err == nil {
		t.Error("a method twice written")
	}
}
