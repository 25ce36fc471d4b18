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
	// corrupt: an offset past the end is an error (or no name) when read,
	// a truncated index does not open
	bad := []byte(string(b))
	for _, at := range []int{headerLen + 8, headerLen + 16} { // method 0's record, method 1's name
		bad[at], bad[at+1], bad[at+2] = 0xff, 0xff, 0xff
	}
	rb, err := Open(string(bad))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rb.Method(0); err == nil {
		t.Error("a record past the end decoded")
	}
	if rb.Name(1) != "" {
		t.Error("a name past the end read")
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
