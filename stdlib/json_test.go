package stdlib

import (
	"testing"

	lua "github.com/yuin/gopher-lua"
)

func TestJSONBigIntRoundTrip(t *testing.T) {
	L := newState(t, nil)
	run(t, L, `
		local v = json.decode('{"tid": 342161316540874753, "n": 42, "price": 12.5, "neg": -9007199254740993}')
		assert(type(v.tid) == "string", "big int must decode as a string, got " .. type(v.tid))
		assert(v.tid == "342161316540874753", v.tid)
		assert(v.n == 42 and type(v.n) == "number")
		assert(v.price == 12.5)
		assert(v.neg == "-9007199254740993", v.neg)
		s = json.encode(v)
	`)
	got := L.GetGlobal("s").String()
	want := `{"n":42,"neg":"-9007199254740993","price":12.5,"tid":"342161316540874753"}`
	if got != want {
		t.Fatalf("encode = %s\nwant     %s", got, want)
	}
	// 2^53 itself is exact and stays a number.
	if v := eval(t, L, `json.decode("9007199254740992")`); v.Type() != lua.LTNumber {
		t.Fatalf("2^53 decoded as %s", v.Type())
	}
}

func TestJSONEncodeSortedIndent(t *testing.T) {
	L := newState(t, nil)
	got := eval(t, L, `json.encode({b = 1, a = {3, 2, 1}, c = {z = true, y = "中文<&>"}}, {indent = 2})`).String()
	want := `{
  "a": [
    3,
    2,
    1
  ],
  "b": 1,
  "c": {
    "y": "中文<&>",
    "z": true
  }
}`
	if got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	// A float beyond 2^53 is written so that it reads back as the same
	// number (as digits it would come back a string).
	if got := eval(t, L, `json.encode({1e16, -2^60, 2^53})`).String(); got != `[1e+16,-1.152921504606847e+18,9007199254740992]` {
		t.Errorf("big floats: %s", got)
	}
	if got := eval(t, L, `json.encode(json.decode(json.encode(1e16)))`).String(); got != `1e+16` {
		t.Errorf("1e16 round trip: %s", got)
	}
	if got := eval(t, L, `json.encode({x = "a\"b\n", f = 0.1, big = 1e21, i = -3})`).String(); got != `{"big":1e+21,"f":0.1,"i":-3,"x":"a\"b\n"}` {
		t.Fatalf("got %s", got)
	}
}

func TestJSONShapes(t *testing.T) {
	L := newState(t, nil)
	cases := map[string]string{
		`json.encode({})`:                            `{}`,
		`json.encode(json.array({}))`:                `[]`,
		`json.encode(json.array())`:                  `[]`,
		`json.encode(json.object({1, 2}))`:           `{"1":1,"2":2}`,
		`json.encode({1, 2, 3})`:                     `[1,2,3]`,
		`json.encode(json.decode("[]"))`:             `[]`,
		`json.encode(json.decode("{}"))`:             `{}`,
		`json.encode({items = json.array({})})`:      `{"items":[]}`,
		`json.encode(json.null)`:                     `null`,
		`json.encode(json.decode('[1,null,3]'))`:     `[1,null,3]`,
		`json.encode(json.decode('{"a":null}'))`:     `{"a":null}`,
		`json.encode("x")`:                           `"x"`,
		`tostring(json.null)`:                        `null`,
		`tostring(json.decode("null") == json.null)`: `true`,
		`tostring(#json.decode('[1,null,3]'))`:       `3`,
	}
	for expr, want := range cases {
		if got := eval(t, L, expr).String(); got != want {
			t.Errorf("%s = %s, want %s", expr, got, want)
		}
	}
}

func TestJSONErrors(t *testing.T) {
	L := newState(t, nil)
	wantError(t, L, `json.decode('{"a": 1,\n "b": }')`, "json.decode", "line 2")
	wantError(t, L, `json.decode('{"a": 1')`, "json.decode", "unexpected end")
	wantError(t, L, `json.decode('{"a": 1} x')`, "json.decode", "after the JSON value")
	wantError(t, L, `json.decode('')`, "json.decode", "empty")
	wantError(t, L, `json.encode({items = {1, print}})`, "json.encode", "items[2]", "function")
	wantError(t, L, `local t = {}; t.self = t; json.encode(t)`, "json.encode", "cycle")
	wantError(t, L, `json.encode({x = 0/0})`, "json.encode", "x", "NaN")
	wantError(t, L, `json.encode({}, 5)`, "options")
}
