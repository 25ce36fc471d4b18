package top

import (
	"reflect"
	"strings"
	"testing"
)

// fastDecodeSeeds are bodies of every shape the fast reader meets or must
// give up on.
var fastDecodeSeeds = []string{
	`{"trades_sold_get_response":{"total_results":2,"trades":{"trade":[{"tid":342161316540874753,"tid_str":"342161316540874753"},{"tid":2}]},"request_id":"4jkl5mhpc274"}}`,
	`{"item":{"num_iid":600000153551,"title":"复古围巾 2025款1","price":"59.90","num":896},"request_id":"9uk6zocud9gq"}`,
	`{"error_response":{"code":7,"msg":"App Call Limited","sub_code":"accesscontrol.limited-by-app-access-count","sub_msg":"This ban will last for 12 more seconds","request_id":"x"}}`,
	` {"a" : [ 1 , -2.5e+3 , 0, -0, 1E9, true , false , null , {} , [] , "" ] } `,
	`{"a":"\"\\\/\b\f\n\r\t\u0041\u00e9\u4e2d\ud83d\ude00\ud800 x"}`,
	`{"a":1,"a":{"b":2},"a":[3]}`,
	`{"a":"\xff\xfe"}`, `{"a":"` + "\x01" + `"}`, `{"a":01}`, `{"a":1.}`, `{"a":.5}`, `{"a":1e}`, `{"a":-}`,
	`{"a":1,}`, `{,}`, `{"a":[1,]}`, `{"a":[,1]}`, `{"a" 1}`, `{"a":1}x`, `{"a":1}{}`, `{"a":tru}`, `{"a":nul}`,
	`[1,2]`, `"x"`, `null`, ``, ` `, `{`, `{"a":`, `{"a":"x`, `{"a":"\u12"}`, `{"a":"\q"}`,
	strings.Repeat(`{"a":`, 1200) + `1` + strings.Repeat(`}`, 1200),
	strings.Repeat(`[`, 20) + strings.Repeat(`]`, 20),
	`{"big":123456789012345678901234567890,"neg":-9007199254740993,"f":1.0,"e":2E-7}`,
}

// Where the fast reader takes a body, it decodes it exactly as
// encoding/json does; where it gives up, decodeJSON still answers as
// encoding/json does.
func FuzzFastDecode(f *testing.F) {
	for _, s := range fastDecodeSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		checkFastDecode(t, body)
	})
}

func TestFastDecodeSeeds(t *testing.T) {
	taken := 0
	for _, s := range fastDecodeSeeds {
		if checkFastDecode(t, []byte(s)) {
			taken++
		}
	}
	if taken < 5 {
		t.Errorf("the fast reader took only %d seeds", taken)
	}
}

func checkFastDecode(t *testing.T, body []byte) bool {
	t.Helper()
	want, werr := slowDecodeJSON(body)
	got, ok := fastDecode(body)
	if ok {
		if werr != nil {
			t.Fatalf("%q: fast reader took it, encoding/json: %v", body, werr)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%q:\n fast %#v\n json %#v", body, got, want)
		}
	}
	all, err := decodeJSON(body)
	if (err == nil) != (werr == nil) || (err != nil && err.Error() != werr.Error()) || !reflect.DeepEqual(all, want) {
		t.Fatalf("%q: decodeJSON %v %v, encoding/json %v %v", body, all, err, want, werr)
	}
	return ok
}
