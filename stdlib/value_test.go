package stdlib_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	lua "github.com/yuin/gopher-lua"

	"github.com/topscript/topscript/stdlib"
)

// Tests of value.go: the conversions top.call relies on.

func decode(t *testing.T, s string) any {
	t.Helper()
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestValueRoundTrip(t *testing.T) {
	L := lua.NewState()
	defer L.Close()
	in := decode(t, `{"tid":342161316540874753,"small":9007199254740992,"big":9007199254740993,"neg":-9007199254740993,
		"price":"59.90","f":2.5,"e":1e300,"huge":123456789012345678901234567890,"ok":true,"none":null,
		"list":[1,"a",null,{"x":1}],"empty":[],"obj":{}}`)
	lv := stdlib.ToLua(L, in)
	L.SetGlobal("v", lv)
	if err := L.DoString(`
		assert(v.tid == "342161316540874753")
		assert(v.small == 9007199254740992 and type(v.small) == "number")
		assert(v.big == "9007199254740993" and v.neg == "-9007199254740993")
		assert(v.huge == "123456789012345678901234567890")
		assert(v.f == 2.5 and v.e == 1e300 and v.ok == true and v.none == nil)
		assert(v.list[1] == 1 and v.list[2] == "a" and v.list[3] == nil and v.list[4].x == 1)
		assert(next(v.empty) == nil and next(v.obj) == nil)
		local n = 0
		for k, val in pairs(v) do n = n + 1 end
		assert(n == 12, "pairs saw " .. n)
		v.added = "x"; v.price = nil
	`); err != nil {
		t.Fatal(err)
	}
	out, err := stdlib.FromLua(lv)
	if err != nil {
		t.Fatal(err)
	}
	m := out.(map[string]any)
	want := map[string]any{
		"tid": "342161316540874753", "small": int64(9007199254740992), "big": "9007199254740993",
		"f": 2.5, "ok": true, "list": []any{int64(1), "a", nil, map[string]any{"x": int64(1)}},
		"empty": []any{}, "obj": map[string]any{}, "added": "x",
	}
	for k, w := range want {
		if !reflect.DeepEqual(m[k], w) {
			t.Errorf("%s = %#v, want %#v", k, m[k], w)
		}
	}
	if _, ok := m["price"]; ok {
		t.Error("price should be gone")
	}
}

func TestFromLuaShapes(t *testing.T) {
	L := lua.NewState()
	defer L.Close()
	if err := L.DoString(`
		seq = {10, 20, 30}
		sparse = {1, 2, nil, 4}
		mixed = {1, 2, x = 3}
		numkeys = {[1.5] = "a", [-1] = "b"}
		empty = {}
		nested = {a = {b = {c = {1, 2, {f = print}}}}}
		cyc = {}; cyc.me = cyc
		shared = {}; dag = {a = shared, b = shared}
		badkey = {[true] = 1}
		odd = {["a b"] = {print}}
	`); err != nil {
		t.Fatal(err)
	}
	g := func(name string) (any, error) { return stdlib.FromLuaAt(L.GetGlobal(name), "params", "a parameter") }
	cases := map[string]any{
		"seq":     []any{int64(10), int64(20), int64(30)},
		"sparse":  map[string]any{"1": int64(1), "2": int64(2), "4": int64(4)},
		"mixed":   map[string]any{"1": int64(1), "2": int64(2), "x": int64(3)},
		"numkeys": map[string]any{"1.5": "a", "-1": "b"},
		"empty":   map[string]any{},
		"dag":     map[string]any{"a": map[string]any{}, "b": map[string]any{}},
	}
	for name, want := range cases {
		got, err := g(name)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%s = %#v, %v; want %#v", name, got, err, want)
		}
	}
	errs := map[string]string{
		"nested": "params.a.b.c[3].f: a function cannot be a parameter",
		"cyc":    "params.me: a table cannot contain itself (cycle)",
		"badkey": "params: a boolean cannot be a key",
		"odd":    `params["a b"][1]: a function cannot be a parameter`,
	}
	for name, want := range errs {
		if _, err := g(name); err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%s: err = %v, want %q", name, err, want)
		}
	}
	// Markers force the shape.
	arr := stdlib.MarkArray(L, L.NewTable())
	if got, _ := stdlib.FromLua(arr); !reflect.DeepEqual(got, []any{}) {
		t.Errorf("marked empty array = %#v", got)
	}
	obj := stdlib.MarkObject(L, L.GetGlobal("seq").(*lua.LTable))
	if got, _ := stdlib.FromLua(obj); !reflect.DeepEqual(got, map[string]any{"1": int64(10), "2": int64(20), "3": int64(30)}) {
		t.Errorf("marked object = %#v", got)
	}
	if got, err := stdlib.FromLua(stdlib.Null(L)); got != nil || err != nil {
		t.Errorf("null = %#v, %v", got, err)
	}
	if got, _ := stdlib.FromLua(lua.LNumber(2.5)); got != 2.5 {
		t.Errorf("2.5 = %#v", got)
	}
}

func BenchmarkToLua(b *testing.B) {
	L := lua.NewState()
	defer L.Close()
	d := json.NewDecoder(strings.NewReader(`{"item":{"num_iid":600000153551,"title":"复古围巾 2025款1","price":"59.90","num":896,
		"skus":[` + strings.Repeat(`{"sku_id":4100779410358,"num_iid":600000153551,"properties":"1627207:28320;20509:28315","price":"59.90","quantity":12},`, 7) +
		`{"sku_id":4100779410358,"num_iid":600000153551,"properties":"1627207:28320;20509:28315","price":"59.90","quantity":12}]}}`))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		stdlib.ToLua(L, v)
	}
}
