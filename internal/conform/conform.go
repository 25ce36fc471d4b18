// Package conform checks a decoded TOP answer against the response tree the
// catalog documents for its method: every field's JSON type (a Number is a
// JSON integer, a String a string, a Date a string as yyyy-MM-dd HH:mm:ss,
// a Price a decimal string, a Boolean true or false, a byte (Java's Byte)
// an integer, a byte[] base64 text, a list an array — or,
// without simplify, an object wrapping one array — a struct an object), and
// every field the documentation does not list. The sandbox's tests run it
// over the answers of every method; it is what a client decoding into the
// documented types would trip over.
package conform

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/topscript/topscript/top/catalog"
)

// Mismatch is one field that is not as documented.
type Mismatch struct {
	Path string // "trades[0].orders[1].sku_id"
	Want string // the documented type, "" for a field the doc does not list
	Got  string // what the answer holds: "number 123", "a string", ...
}

func (m Mismatch) String() string {
	if m.Want == "" {
		return m.Path + ": not in the documented response (" + m.Got + ")"
	}
	return m.Path + ": documented " + m.Want + ", got " + m.Got
}

// Check walks payload, a decoded answer (json.Number for numbers; the
// payload itself, without the "<name>_response" wrapper) against tree.
// request_id at the top is the gateway's, not the method's.
func Check(tree []catalog.Field, payload map[string]any) []Mismatch {
	var out []Mismatch
	top := map[string]any{}
	for k, v := range payload {
		if k != "request_id" {
			top[k] = v
		}
	}
	checkObject(&out, "", tree, top)
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

func checkObject(out *[]Mismatch, path string, fields []catalog.Field, o map[string]any) {
	byName := make(map[string]*catalog.Field, len(fields))
	for i := range fields {
		byName[fields[i].Name] = &fields[i]
	}
	keys := make([]string, 0, len(o))
	for k := range o {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		p := join(path, k)
		f := byName[k]
		if f == nil {
			*out = append(*out, Mismatch{Path: p, Got: describe(o[k])})
			continue
		}
		checkValue(out, p, f, o[k])
	}
}

func checkValue(out *[]Mismatch, path string, f *catalog.Field, v any) {
	if f.Type == "byte[]" {
		// a file's bytes: base64 text, as Java's byte[] comes out in JSON
		if _, ok := v.(string); !ok {
			*out = append(*out, Mismatch{Path: path, Want: f.Type + " (base64 text)", Got: describe(v)})
		}
		return
	}
	base, isList := strings.CutSuffix(f.Type, "[]")
	if isList {
		arr, ok := v.([]any)
		if !ok {
			// not simplified: {"trade": [...]}
			if m, isObj := v.(map[string]any); isObj && len(m) == 1 {
				for _, inner := range m {
					arr, ok = inner.([]any)
				}
			}
		}
		if !ok {
			*out = append(*out, Mismatch{Path: path, Want: f.Type + " (a list)", Got: describe(v)})
			return
		}
		for i, e := range arr {
			checkElem(out, fmt.Sprintf("%s[%d]", path, i), base, f.Fields, e)
		}
		return
	}
	checkElem(out, path, base, f.Fields, v)
}

// checkElem checks one value of type base (members for a struct).
func checkElem(out *[]Mismatch, path, base string, members []catalog.Field, v any) {
	if len(members) > 0 || !scalar(base) {
		o, ok := v.(map[string]any)
		if !ok {
			*out = append(*out, Mismatch{Path: path, Want: base + " (an object)", Got: describe(v)})
			return
		}
		checkObject(out, path, members, o)
		return
	}
	if reason := scalarMismatch(base, v); reason != "" {
		*out = append(*out, Mismatch{Path: path, Want: base, Got: reason})
	}
}

func scalar(base string) bool {
	switch base {
	case "String", "Number", "Long", "Integer", "Double", "Float", "BigDecimal", "Boolean", "Date", "Price", "Json", "byte", "Object", "Map":
		return true
	}
	return false
}

var decimalRe = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^-?\d+(\.\d+)?$`) })

// scalarMismatch says what is wrong with v as a base, "" when nothing.
func scalarMismatch(base string, v any) string {
	switch base {
	case "Json", "Object", "Map":
		return ""
	case "String":
		if _, ok := v.(string); !ok {
			return describe(v)
		}
	case "Number", "Long", "Integer", "byte":
		n, ok := v.(json.Number)
		if !ok || strings.ContainsAny(string(n), ".eE") {
			return describe(v)
		}
	case "Double", "Float", "BigDecimal":
		if _, ok := v.(json.Number); !ok {
			return describe(v)
		}
	case "Boolean":
		if _, ok := v.(bool); !ok {
			return describe(v)
		}
	case "Date":
		s, ok := v.(string)
		if !ok {
			return describe(v)
		}
		if _, err := time.Parse("2006-01-02 15:04:05", s); err != nil {
			return fmt.Sprintf("%q (not yyyy-MM-dd HH:mm:ss)", s)
		}
	case "Price":
		s, ok := v.(string)
		if !ok {
			return describe(v)
		}
		if !decimalRe().MatchString(s) {
			return fmt.Sprintf("%q (not a decimal)", s)
		}
	}
	return ""
}

// describe names v's JSON type, with the value when it is short.
func describe(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		if len(x) > 24 {
			x = x[:24] + "…"
		}
		return fmt.Sprintf("string %q", x)
	case json.Number:
		return "number " + string(x)
	case float64:
		return fmt.Sprintf("number %v", x)
	case bool:
		return fmt.Sprintf("boolean %v", x)
	case []any:
		return fmt.Sprintf("an array of %d", len(x))
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

func join(path, k string) string {
	if path == "" {
		return k
	}
	return path + "." + k
}
