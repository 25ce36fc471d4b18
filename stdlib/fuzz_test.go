package stdlib

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	lua "github.com/yuin/gopher-lua"

	"github.com/topscript/topscript/internal/fastjson"
)

// FuzzJSONDecode feeds arbitrary text to json.decode and arbitrary JSON
// numbers to ToLua (the path of every TOP response). Invariants: nothing
// panics; every document encoding/json accepts decodes; the result encodes
// again, and decoding that encoding and encoding it once more gives the
// same text (a fixed point); an integer beyond ±2^53 arrives as a string
// of its exact digits.
func FuzzJSONDecode(f *testing.F) {
	for _, s := range []string{
		`{"trades":[{"tid":342161316540874753,"price":"1.50","ok":true,"none":null}],"total_results":1}`,
		`[1,2.5,-0,1e400,-1e-400,"\u00e9\ud83d\ude00",[],{}]`,
		`{"a":{"b":{"c":[[[[[[1]]]]]]}}}`,
		`"\ud800"`, `9223372036854775808`, `-9007199254740993`, `1.0`, `{"":1,"1":2}`,
		`{"a":1}{"b":2}`, "\xff", ``, `[`, `{"a" 1}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		L := lua.NewState()
		defer L.Close()
		v, err := DecodeJSON(L, s)
		var probe any
		dec := json.NewDecoder(strings.NewReader(s))
		dec.UseNumber()
		single := dec.Decode(&probe) == nil && !dec.More()
		if json.Valid([]byte(s)) && single && err != nil {
			t.Fatalf("valid JSON %q refused: %v", s, err)
		}
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("multi-line error: %q", err)
			}
			return
		}
		enc1, err := EncodeJSON(v, "")
		if err != nil {
			t.Fatalf("decoded %q but cannot encode it: %v", s, err)
		}
		if !json.Valid([]byte(enc1)) {
			t.Fatalf("encoding of %q is not JSON: %q", s, enc1)
		}
		v2, err := DecodeJSON(L, enc1)
		if err != nil {
			t.Fatalf("re-decoding %q: %v", enc1, err)
		}
		enc2, err := EncodeJSON(v2, "")
		if err != nil || enc2 != enc1 {
			t.Fatalf("not a fixed point:\n%q\n%q (%v)", enc1, enc2, err)
		}

		// Exact big integers on the response path.
		if n, ok := probe.(json.Number); ok {
			lv := ToLua(L, n)
			if i, err := strconv.ParseInt(string(n), 10, 64); err == nil && (i > 1<<53 || i < -(1<<53)) {
				if ls, ok := lv.(lua.LString); !ok || string(ls) != string(n) {
					t.Fatalf("big integer %s became %v", n, lv)
				}
			}
		}
	})
}

// FuzzJSONFastReader: where the fast reader (internal/fastjson) takes
// json.decode's input, it reads exactly what encoding/json reads; where
// encoding/json refuses the input, the fast reader does too.
func FuzzJSONFastReader(f *testing.F) {
	for _, s := range []string{
		`{"buyer_nick":"买家","payment":"138.90","oid":3612345000292060315,"tid":3612345000292060314,"status":"WAIT_SELLER_SEND_GOODS"}`,
		` {"k":"v\n\"x\"","k":2} `, `"plain"`, `true`, `null`, `[null,false,"é"]`, `{"a":[1,{"b":null}]}`,
		`[1,2.5,-0,1e400,"\u00e9\ud83d\ude00",[],{}]`, `{"a":1}{"b":2}`, "\xff", ``, `[`, `{"a" 1}`, `01`, `1.`, `"\x"`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		fv, ok := fastjson.Decode([]byte(s))
		if !ok {
			return
		}
		sv, err := slowDecode(s)
		if err != nil || !reflect.DeepEqual(fv, sv) {
			t.Fatalf("%q: fast %#v, encoding/json %#v (%v)", s, fv, sv, err)
		}
	})
}

// FuzzCSVRead reads arbitrary bytes as a CSV file with csv.read, in every
// encoding mode. Invariants: nothing panics; a failure is one Lua error
// naming the file; every row read has exactly the header's keys, with
// valid UTF-8 values.
func FuzzCSVRead(f *testing.F) {
	for _, s := range []string{
		"num_iid,properties,price\n1,\"1627207:28320\",9.90\n",
		"\xef\xbb\xbfa,b\r\n1,2\r\n",
		"\xc9\xcc\xc6\xb7,\xbc\xdb\xb8\xf1\n\xd2\xbb,1\n", // GBK
		"a,b\n1\n", "a,a\n1,2\n", ",b\n1,2\n", "", "a\n\"unterminated\n", "a,b\n,\n\n1,2\n",
		"\xff\xfea\x00,\x00b\x00\n\x00",
	} {
		f.Add([]byte(s), "auto")
	}
	f.Add([]byte("a;b\n1;2\n"), "utf-8")
	f.Add([]byte("\xd2\xbb\n\xb6\xfe\n"), "gbk")
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte, enc string) {
		switch enc {
		case "auto", "utf-8", "gbk", "gb18030":
		default:
			enc = "auto"
		}
		path := filepath.Join(dir, "in.csv")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		L := lua.NewState()
		defer L.Close()
		Preload(L, &Env{}, nil)
		L.SetGlobal("path", lua.LString(path))
		L.SetGlobal("enc", lua.LString(enc))
		err := L.DoString(`
			local csv = require("csv")
			rows, header = {}, nil
			for row in csv.rows(path, {encoding = enc}) do rows[#rows + 1] = row end`)
		if err != nil {
			msg := err.Error()
			if !strings.Contains(msg, path) {
				t.Fatalf("error does not name the file: %q", msg)
			}
			if strings.Contains(msg, "goroutine ") || strings.Contains(msg, "panic") {
				t.Fatalf("panic text in error: %q", msg)
			}
			return
		}
		rows := L.GetGlobal("rows").(*lua.LTable)
		width := -1
		rows.ForEach(func(_, r lua.LValue) {
			n := 0
			r.(*lua.LTable).ForEach(func(k, v lua.LValue) {
				n++
				if !utf8.ValidString(string(k.(lua.LString))) || !utf8.ValidString(string(v.(lua.LString))) {
					t.Fatalf("invalid UTF-8 in row: %q=%q", k, v)
				}
			})
			if width >= 0 && n != width {
				t.Fatalf("rows of %d and %d keys", width, n)
			}
			width = n
		})
	})
}
