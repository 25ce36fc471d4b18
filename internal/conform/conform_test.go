package conform

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/topscript/topscript/top/catalog"
)

func TestCheck(t *testing.T) {
	tree := []catalog.Field{
		{Name: "total", Type: "Number"},
		{Name: "ok", Type: "Boolean"},
		{Name: "flag", Type: "byte"},
		{Name: "file", Type: "byte[]"},
		{Name: "rate", Type: "BigDecimal"},
		{Name: "extra", Type: "Json"},
		{Name: "items", Type: "Item[]", Fields: []catalog.Field{
			{Name: "id", Type: "Number"}, {Name: "price", Type: "Price"}, {Name: "created", Type: "Date"},
			{Name: "tags", Type: "String[]"},
		}},
	}
	decode := func(s string) map[string]any {
		d := json.NewDecoder(strings.NewReader(s))
		d.UseNumber()
		var m map[string]any
		if err := d.Decode(&m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	good := []string{
		`{"total":2,"ok":true,"flag":1,"file":"AAEC","rate":1.5,"extra":{"a":[1]},"request_id":"r",
		  "items":[{"id":1,"price":"12.50","created":"2024-06-01 12:00:00","tags":["a","b"]}]}`,
		// not simplified: lists wrapped
		`{"items":{"item":[{"id":1,"tags":{"string":["a"]}}]}}`,
		`{}`,
	}
	for _, s := range good {
		if mm := Check(tree, decode(s)); len(mm) != 0 {
			t.Errorf("%s: %v", s, mm)
		}
	}
	for s, want := range map[string]string{
		`{"total":2.5}`:                        "total: documented Number, got number 2.5",
		`{"total":"2"}`:                        `total: documented Number, got string "2"`,
		`{"ok":"true"}`:                        `ok: documented Boolean, got string "true"`,
		`{"flag":"1"}`:                         `flag: documented byte, got string "1"`,
		`{"file":[1,2]}`:                       "file: documented byte[] (base64 text), got an array of 2",
		`{"rate":"1.5"}`:                       `rate: documented BigDecimal, got string "1.5"`,
		`{"items":[{"price":12.5}]}`:           "items[0].price: documented Price, got number 12.5",
		`{"items":[{"price":"12,50"}]}`:        `items[0].price: documented Price, got "12,50" (not a decimal)`,
		`{"items":[{"created":"2024-06-01"}]}`: `items[0].created: documented Date, got "2024-06-01" (not yyyy-MM-dd HH:mm:ss)`,
		`{"items":{"id":1}}`:                   "items: documented Item[] (a list), got an object",
		`{"items":["x"]}`:                      `items[0]: documented Item (an object), got string "x"`,
		`{"items":[{"tags":"a,b"}]}`:           `items[0].tags: documented String[] (a list), got string "a,b"`,
		`{"nope":null}`:                        "nope: not in the documented response (null)",
	} {
		mm := Check(tree, decode(s))
		if len(mm) != 1 || mm[0].String() != want {
			t.Errorf("%s:\n got %v\nwant %s", s, mm, want)
		}
	}
}
