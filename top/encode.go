package top

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"mime/multipart"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/topscript/topscript/internal/numtext"
	"github.com/topscript/topscript/toptime"
)

// Params are the application parameters of a call. Values may be string,
// bool, any Go integer or float type, json.Number, time.Time, []any,
// []string, []int64 (and other slices), map[string]any (and other maps),
// File, or nil. EncodeValue says how each is sent; nil, "" and values of
// only whitespace are omitted (Blank): neither sent nor signed, as the
// official Java SDK does.
type Params map[string]any

// Blank reports whether an encoded value is left out of a request: empty,
// or nothing but whitespace. It is the official Java SDK's rule
// (StringUtils.isEmpty: every character Character.isWhitespace), so a call
// that works with that SDK works here, and " " never reaches the gateway
// to be signed one way and checked another.
func Blank(s string) bool {
	for _, r := range s {
		if !javaWhitespace(r) {
			return false
		}
	}
	return true
}

// javaWhitespace is Java's Character.isWhitespace: the Unicode space,
// line and paragraph separators except the no-break spaces (U+00A0,
// U+2007, U+202F), and the ASCII controls \t \n \v \f \r and U+001C–U+001F.
func javaWhitespace(r rune) bool {
	switch r {
	case '\t', '\n', '\v', '\f', '\r', 0x1c, 0x1d, 0x1e, 0x1f:
		return true
	case 0xa0, 0x2007, 0x202f:
		return false
	}
	return r > 0x7f && unicode.In(r, unicode.Zs, unicode.Zl, unicode.Zp) || r == ' '
}

// File is a file parameter, sent as a multipart/form-data part with a
// filename. Data wins over Path; with no Data the file at Path is read when
// the call is made. Name is the filename sent to the gateway (the base of
// Path when empty). File params are never signed.
type File struct {
	Name string
	Path string
	Data []byte
}

// systemParams are set by the client (sysParams, method and sign) and may
// not appear in Params.
var systemParams = map[string]bool{
	"method": true, "app_key": true, "session": true, "timestamp": true,
	"format": true, "v": true, "sign_method": true, "sign": true,
	"simplify": true, "partner_id": true,
}

// EncodeValue turns one parameter value into the string the gateway
// expects:
//
//   - strings as they are; booleans "true"/"false";
//   - integral numbers without exponent or ".0" (int64, uint64, and float64
//     holding an integer); other floats in the shortest exact decimal form;
//     json.Number verbatim (so a 19-digit id round-trips exactly);
//   - time.Time as "yyyy-MM-dd HH:mm:ss" in GMT+8;
//   - arrays of scalars comma-joined ("1,2,3");
//   - other structured values (maps, arrays holding maps or arrays) as JSON
//     with sorted keys;
//   - nil as "" (the caller omits empty values).
//
// A File, NaN, ±Inf, channels, functions and cyclic values are errors.
func EncodeValue(v any) (s string, err error) {
	defer func() {
		if r := recover(); r != nil {
			s, err = "", fmt.Errorf("cannot encode %T: %v", v, r)
		}
	}()
	return encodeValue(v)
}

func encodeValue(v any) (string, error) {
	switch x := v.(type) {
	case nil:
		return "", nil
	case string:
		return x, nil
	case bool:
		return strconv.FormatBool(x), nil
	case json.Number:
		return string(x), nil
	case int:
		return strconv.FormatInt(int64(x), 10), nil
	case int8:
		return strconv.FormatInt(int64(x), 10), nil
	case int16:
		return strconv.FormatInt(int64(x), 10), nil
	case int32:
		return strconv.FormatInt(int64(x), 10), nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case uint:
		return strconv.FormatUint(uint64(x), 10), nil
	case uint8:
		return strconv.FormatUint(uint64(x), 10), nil
	case uint16:
		return strconv.FormatUint(uint64(x), 10), nil
	case uint32:
		return strconv.FormatUint(uint64(x), 10), nil
	case uint64:
		return strconv.FormatUint(x, 10), nil
	case float32:
		return formatFloat(float64(x), 32)
	case float64:
		return formatFloat(x, 64)
	case time.Time:
		return toptime.Format(x), nil
	case File, *File:
		return "", fmt.Errorf("a File is sent as a multipart part, not as a text value")
	case []string:
		return strings.Join(x, ","), nil
	case []int64:
		parts := make([]string, len(x))
		for i, n := range x {
			parts[i] = strconv.FormatInt(n, 10)
		}
		return strings.Join(parts, ","), nil
	case []any:
		if allScalars(x) {
			parts := make([]string, 0, len(x))
			for _, e := range x {
				s, err := encodeValue(e)
				if err != nil {
					return "", err
				}
				parts = append(parts, s)
			}
			return strings.Join(parts, ","), nil
		}
		return encodeJSON(x)
	case map[string]any:
		if x == nil {
			return "", nil
		}
		return encodeJSON(x)
	case fmt.Stringer:
		return x.String(), nil
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Slice, reflect.Array:
		if rv.Kind() == reflect.Slice && rv.IsNil() {
			return "", nil
		}
		elems := make([]any, rv.Len())
		for i := range elems {
			elems[i] = rv.Index(i).Interface()
		}
		return encodeValue(elems)
	case reflect.Map:
		if rv.IsNil() {
			return "", nil
		}
		return encodeJSON(v)
	case reflect.Struct:
		return encodeJSON(v)
	case reflect.Pointer, reflect.Interface:
		if rv.IsNil() {
			return "", nil
		}
		return encodeValue(rv.Elem().Interface())
	case reflect.String:
		return rv.String(), nil
	case reflect.Bool:
		return strconv.FormatBool(rv.Bool()), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.FormatInt(rv.Int(), 10), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return strconv.FormatUint(rv.Uint(), 10), nil
	case reflect.Float32, reflect.Float64:
		return formatFloat(rv.Float(), 64)
	}
	return "", fmt.Errorf("cannot encode a value of type %T", v)
}

// formatFloat writes f by the one number rule (internal/numtext: no
// exponent, no ".0"); NaN and the infinities have no TOP form.
func formatFloat(f float64, bits int) (string, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return "", fmt.Errorf("cannot encode %v as a number", f)
	}
	if bits == 32 {
		return numtext.Format32(float32(f)), nil
	}
	return numtext.Format(f), nil
}

// allScalars reports whether every element of a is a scalar (not a map,
// slice or array), which makes a comma-joined list.
func allScalars(a []any) bool {
	for _, e := range a {
		switch e.(type) {
		case nil, string, bool, json.Number, int, int8, int16, int32, int64,
			uint, uint8, uint16, uint32, uint64, float32, float64, time.Time:
			continue
		}
		switch reflect.ValueOf(e).Kind() {
		case reflect.Map, reflect.Slice, reflect.Array, reflect.Struct, reflect.Pointer, reflect.Interface:
			return false
		}
	}
	return true
}

// encodeJSON writes v as compact JSON with sorted keys, no HTML escaping,
// and integral floats without ".0" or exponent.
func encodeJSON(v any) (string, error) {
	norm, err := normalizeJSON(v, 0)
	if err != nil {
		return "", err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(norm); err != nil {
		return "", fmt.Errorf("cannot encode as JSON: %w", err)
	}
	return strings.TrimSuffix(buf.String(), "\n"), nil
}

// maxDepth bounds nesting (and so cycles) in structured values.
const maxDepth = 100

// normalizeJSON rewrites floats as json.Number in the exact form
// EncodeValue uses for scalars, so 1e21 is not sent as "1e+21"; it also
// bounds the depth so cyclic values are errors, not stack overflows.
func normalizeJSON(v any, depth int) (any, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("value nested deeper than %d levels (cyclic?)", maxDepth)
	}
	switch x := v.(type) {
	case nil, string, bool, json.Number:
		return x, nil
	case float32, float64:
		s, err := encodeValue(x)
		if err != nil {
			return nil, err
		}
		return json.Number(s), nil
	case time.Time:
		return toptime.Format(x), nil
	case File, *File:
		return nil, fmt.Errorf("a File cannot be nested in a structured value")
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			n, err := normalizeJSON(e, depth+1)
			if err != nil {
				return nil, err
			}
			out[k] = n
		}
		return out, nil
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			n, err := normalizeJSON(e, depth+1)
			if err != nil {
				return nil, err
			}
			out[i] = n
		}
		return out, nil
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Slice, reflect.Array:
		if rv.Kind() == reflect.Slice && rv.IsNil() {
			return nil, nil
		}
		if rv.Type().Elem().Kind() == reflect.Uint8 {
			return v, nil // []byte: base64, as encoding/json does
		}
		out := make([]any, rv.Len())
		for i := range out {
			out[i] = rv.Index(i).Interface()
		}
		return normalizeJSON(out, depth)
	case reflect.Map:
		if rv.IsNil() {
			return nil, nil
		}
		if rv.Type().Key().Kind() != reflect.String {
			return v, nil // let encoding/json handle (or reject) other keys
		}
		out := make(map[string]any, rv.Len())
		it := rv.MapRange()
		for it.Next() {
			out[it.Key().String()] = it.Value().Interface()
		}
		return normalizeJSON(out, depth)
	case reflect.Pointer, reflect.Interface:
		if rv.IsNil() {
			return nil, nil
		}
		return normalizeJSON(rv.Elem().Interface(), depth+1)
	case reflect.Float32, reflect.Float64:
		return normalizeJSON(rv.Float(), depth)
	case reflect.Chan, reflect.Func, reflect.UnsafePointer, reflect.Complex64, reflect.Complex128:
		return nil, fmt.Errorf("cannot encode a value of type %T", v)
	}
	return v, nil
}

// encodedParams are the app params of one call, encoded once.
type encodedParams struct {
	text  map[string]string // non-empty text values
	files map[string]File   // file params with their data loaded
}

// encodeParams encodes app params, dropping nil and Blank values, loading
// file data, and refusing system param names.
func encodeParams(p Params) (*encodedParams, error) {
	ep := &encodedParams{text: make(map[string]string, len(p))}
	for k, v := range p {
		if k == "" {
			return nil, fmt.Errorf("empty parameter name")
		}
		if !validParamName(k) {
			return nil, fmt.Errorf("parameter name %q: control characters or invalid UTF-8 are not allowed", k)
		}
		if systemParams[k] {
			return nil, fmt.Errorf("parameter %q is a system parameter set by the client (use the call options)", k)
		}
		var f *File
		switch x := v.(type) {
		case File:
			f = &x
		case *File:
			if x == nil {
				continue
			}
			f = x
		}
		if f != nil {
			loaded, err := loadFile(*f)
			if err != nil {
				return nil, fmt.Errorf("parameter %s: %w", k, err)
			}
			if ep.files == nil {
				ep.files = make(map[string]File)
			}
			ep.files[k] = loaded
			continue
		}
		s, err := EncodeValue(v)
		if err != nil {
			return nil, fmt.Errorf("parameter %s: %w", k, err)
		}
		if Blank(s) {
			continue
		}
		ep.text[k] = s
	}
	return ep, nil
}

// validParamName reports whether k can be sent as a parameter name: valid
// UTF-8 without control characters (a multipart header cannot carry them).
func validParamName(k string) bool {
	if !utf8.ValidString(k) {
		return false
	}
	for _, r := range k {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

// loadFile reads a File's data from Path when it has none, and names it.
func loadFile(f File) (File, error) {
	if f.Data == nil {
		if f.Path == "" {
			return f, fmt.Errorf("file has neither Data nor Path")
		}
		b, err := os.ReadFile(f.Path)
		if err != nil {
			return f, fmt.Errorf("reading file: %w", err)
		}
		f.Data = b
	}
	if f.Name == "" {
		f.Name = baseName(f.Path)
	}
	if f.Name == "" {
		f.Name = "file"
	}
	return f, nil
}

func baseName(p string) string {
	if i := strings.LastIndexAny(p, `/\`); i >= 0 {
		return p[i+1:]
	}
	return p
}

// formContentType is the content type of a body without files.
const formContentType = "application/x-www-form-urlencoded;charset=utf-8"

// encodeBody writes all params (system, app and sign) as a request body:
// multipart/form-data when there are files, urlencoded otherwise. It
// returns the body and its content type.
func encodeBody(all map[string]string, files map[string]File) ([]byte, string, error) {
	if len(files) == 0 {
		ps := mapParams(all)
		return appendForm(make([]byte, 0, formLen(ps)), ps), formContentType, nil
	}
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for _, k := range sortedNames(all) {
		if err := w.WriteField(k, all[k]); err != nil {
			return nil, "", err
		}
	}
	names := make([]string, 0, len(files))
	for k := range files {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		f := files[k]
		part, err := w.CreateFormFile(k, f.Name)
		if err != nil {
			return nil, "", err
		}
		if _, err := part.Write(f.Data); err != nil {
			return nil, "", err
		}
	}
	if err := w.Close(); err != nil {
		return nil, "", err
	}
	return buf.Bytes(), w.FormDataContentType(), nil
}

// FormatParams renders params for a log line as they would be sent:
// "name=value" pairs, sorted by name, joined by "&", each value encoded by
// EncodeValue (a value it refuses is shown with fmt.Sprint), Blank values
// left out. It redacts nothing: pass the result through (*Client).Redact.
func FormatParams(p Params) string {
	keys := make([]string, 0, len(p))
	for k := range p {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		v, err := EncodeValue(p[k])
		if err != nil {
			v = fmt.Sprint(p[k])
		}
		if Blank(v) {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('&')
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(v)
	}
	return b.String()
}
