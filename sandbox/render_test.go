package sandbox

import (
	"encoding/json"
	"encoding/xml"
	"strings"
	"testing"
	"time"

	"github.com/topscript/topscript/toptime"
)

func TestFmtTime(t *testing.T) {
	for _, u := range []int64{0, 1577851200, 1717214400, 4102444799, -86400} {
		want := time.Unix(u, 0).In(toptime.Zone).Format(toptime.Layout)
		if got := fmtTime(u); got != want {
			t.Errorf("%d: %s, want %s", u, got, want)
		}
	}
}

func TestRenderEscaping(t *testing.T) {
	payload := obj{
		{"s", "a\"b\\c\n\t\x01<&>'\xff中文"},
		{"big", int64(9223372036854775807)},
		{"ok", true},
		{"l", list{item: "x", elems: []any{obj{{"n", 1}}, obj{{"n", 2}}}}},
	}
	rd := render{format: fmtJSON}
	b := rd.envelope(nil, "a_b_response", append(obj{}, payload...), "req")
	var v map[string]map[string]any
	d := json.NewDecoder(strings.NewReader(string(b)))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	r := v["a_b_response"]
	if r["s"] != "a\"b\\c\n\t\x01<&>'\uFFFD中文" || r["big"].(json.Number) != "9223372036854775807" || r["request_id"] != "req" {
		t.Errorf("%s", b)
	}
	xb := render{format: fmtXML}.envelope(nil, "a_b_response", append(obj{}, payload...), "req")
	if err := xml.Unmarshal(xb, new(struct{})); err != nil {
		t.Errorf("%s: %v", xb, err)
	}
	if !strings.Contains(string(xb), `<l list="true"><x><n>1</n></x><x><n>2</n></x></l>`) {
		t.Errorf("%s", xb)
	}
	sb := render{format: fmtJSON, simplify: true}.envelope(nil, "a_b_response", append(obj{}, payload...), "req")
	if !strings.Contains(string(sb), `"l":[{"n":1},{"n":2}]`) || strings.Contains(string(sb), "a_b_response") {
		t.Errorf("%s", sb)
	}
	eb := render{format: fmtJSON, simplify: true}.errorBody(nil, &apiErr{code: 7, msg: "App Call Limited", subCode: banSubCode, subMsg: "This ban will last for 1 more seconds"}, "r")
	if string(eb) != `{"error_response":{"code":7,"msg":"App Call Limited","sub_code":"accesscontrol.limited-by-app-access-count","sub_msg":"This ban will last for 1 more seconds","request_id":"r"}}` {
		t.Errorf("%s", eb)
	}
}
