package top

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/topscript/topscript/internal/fastjson"
)

// Response is a successful gateway answer.
type Response struct {
	Method    string
	RequestID string
	// Payload is the unwrapped root: the "*_response" object of a plain
	// answer, or the root of a simplified one. Numbers are json.Number, so
	// 19-digit ids are exact; objects are map[string]any, arrays []any.
	Payload map[string]any
	// Body is the raw response body.
	Body []byte
}

// errMalformed marks a body that is not one complete JSON object (a
// truncated answer, an HTML error page, XML).
var errMalformed = errors.New("malformed response body")

// decodeJSON parses a body into a map, numbers as json.Number, refusing
// trailing data. The common case (well-formed JSON) takes the fast reader;
// anything it does not handle goes through encoding/json, which gives the
// same values and its own errors.
func decodeJSON(body []byte) (map[string]any, error) {
	if root, ok := fastDecode(body); ok {
		return root, nil
	}
	return slowDecodeJSON(body)
}

// slowDecodeJSON is decodeJSON with encoding/json only.
func slowDecodeJSON(body []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var root map[string]any
	if err := dec.Decode(&root); err != nil {
		return nil, fmt.Errorf("%w: %v", errMalformed, err)
	}
	if root == nil {
		return nil, fmt.Errorf("%w: not a JSON object", errMalformed)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: trailing data after the JSON object", errMalformed)
	}
	return root, nil
}

// decodeResponse decodes a body of method into a Response, or an *Error
// for an error_response. A body that is not a JSON object yields an error
// wrapping errMalformed.
func decodeResponse(method string, body []byte) (*Response, error) {
	root, err := decodeJSON(body)
	if err != nil {
		if e := xmlErrorResponse(method, body); e != nil {
			return nil, e
		}
		return nil, err
	}
	if er, ok := root["error_response"]; ok {
		m, _ := er.(map[string]any)
		return nil, parseErrorResponse(method, m)
	}
	payload := unwrapEnvelope(root)
	resp := &Response{Method: method, Payload: payload, Body: body}
	resp.RequestID = str(payload["request_id"])
	if resp.RequestID == "" {
		resp.RequestID = str(root["request_id"])
	}
	return resp, nil
}

// xmlErrorResponse decodes an XML error_response, nil when body is not
// one. The gateway answers in XML, whatever format was asked, when it
// cannot read the request's parameters at all (code 43 for a request too
// big to parse): that is the gateway's error, not a malformed body to
// retry.
func xmlErrorResponse(method string, body []byte) *Error {
	trimmed := bytes.TrimSpace(bytes.TrimPrefix(body, []byte("\uFEFF")))
	if !bytes.HasPrefix(trimmed, []byte("<")) || !bytes.Contains(trimmed, []byte("<error_response")) {
		return nil
	}
	var x struct {
		XMLName   xml.Name `xml:"error_response"`
		Code      string   `xml:"code"`
		Msg       string   `xml:"msg"`
		SubCode   string   `xml:"sub_code"`
		SubMsg    string   `xml:"sub_msg"`
		RequestID string   `xml:"request_id"`
	}
	if err := xml.Unmarshal(trimmed, &x); err != nil {
		return nil
	}
	m := map[string]any{"msg": x.Msg, "sub_code": x.SubCode, "sub_msg": x.SubMsg, "request_id": x.RequestID}
	if x.Code != "" {
		m["code"] = json.Number(strings.TrimSpace(x.Code))
	}
	return parseErrorResponse(method, m)
}

// unwrapEnvelope returns the payload of a decoded answer: the single
// top-level "*_response" object whatever its key, else the root itself
// (simplify=true).
func unwrapEnvelope(root map[string]any) map[string]any {
	if len(root) == 1 {
		for k, v := range root {
			if m, ok := v.(map[string]any); ok && strings.HasSuffix(k, "_response") {
				return m
			}
		}
	}
	return root
}

// parseErrorResponse turns an error_response object into an *Error.
func parseErrorResponse(method string, m map[string]any) *Error {
	e := &Error{Method: method}
	if m != nil {
		e.Code = toInt(m["code"])
		e.Msg = str(m["msg"])
		e.SubCode = str(m["sub_code"])
		e.SubMsg = str(m["sub_msg"])
		e.RequestID = str(m["request_id"])
	}
	if e.Code == 0 && e.Msg == "" && e.SubCode == "" {
		e.Msg = "error_response without code"
	}
	e.Kind = classify(e.Code, e.SubCode)
	if e.Kind == KindFlowControl {
		if n, ok := banSeconds(e.SubMsg); ok {
			e.RetryAfter = n
		} else if n, ok := banSeconds(e.Msg); ok {
			e.RetryAfter = n
		}
	}
	return e
}

// str renders a scalar JSON value as a string ("" for nil and structures).
func str(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return string(x)
	case bool:
		return strconv.FormatBool(x)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	return ""
}

// toInt reads an integer from a JSON number or numeric string (0 if none).
func toInt(v any) int {
	switch x := v.(type) {
	case json.Number:
		n, err := x.Int64()
		if err == nil {
			return int(n)
		}
		f, err := x.Float64()
		if err == nil {
			return int(f)
		}
	case string:
		n, err := strconv.Atoi(strings.TrimSpace(x))
		if err == nil {
			return n
		}
	case float64:
		return int(x)
	case int:
		return x
	case int64:
		return int(x)
	}
	return 0
}

// toInt64 reads an integer from a JSON value; ok is false when absent.
func toInt64(v any) (int64, bool) {
	switch x := v.(type) {
	case json.Number:
		n, err := x.Int64()
		return n, err == nil
	case string:
		n, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64)
		return n, err == nil
	case float64:
		return int64(x), true
	case int:
		return int64(x), true
	case int64:
		return x, true
	}
	return 0, false
}

// toBool reads a JSON boolean or "true"/"false" string.
func toBool(v any) (bool, bool) {
	switch x := v.(type) {
	case bool:
		return x, true
	case string:
		b, err := strconv.ParseBool(x)
		return b, err == nil
	}
	return false, false
}

// FindList finds a list in a payload in either envelope shape:
// "trades": [...] (simplified) or "trades": {"trade": [...]} (plain).
// name may be a dotted path ("item.skus"). With name "" it guesses: the one
// top-level list of the payload, if there is exactly one. It returns the
// list, the name it was found under and whether one was found.
func FindList(payload map[string]any, name string) ([]any, string, bool) {
	if payload == nil {
		return nil, name, false
	}
	if name != "" {
		parts := strings.Split(name, ".")
		cur := payload
		for _, p := range parts[:len(parts)-1] {
			next, ok := cur[p].(map[string]any)
			if !ok {
				return nil, name, false
			}
			cur = next
		}
		l, ok := asList(cur[parts[len(parts)-1]])
		return l, name, ok
	}
	keys := make([]string, 0, len(payload))
	for k := range payload {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var found []any
	var foundName string
	n := 0
	for _, k := range keys {
		if l, ok := asList(payload[k]); ok {
			found, foundName = l, k
			n++
		}
	}
	if n == 1 {
		return found, foundName, true
	}
	return nil, "", false
}

// asList accepts a plain array, or an object wrapping exactly one array
// (the non-simplified list shape).
func asList(v any) ([]any, bool) {
	switch x := v.(type) {
	case []any:
		return x, true
	case map[string]any:
		if len(x) == 1 {
			for _, e := range x {
				if l, ok := e.([]any); ok {
					return l, true
				}
			}
		}
	}
	return nil, false
}

// fastDecode reads a body that is one JSON object with the fast reader;
// ok is false when the reader gives up (malformed or unusual input).
func fastDecode(body []byte) (map[string]any, bool) {
	v, ok := fastjson.Decode(body)
	m, isObject := v.(map[string]any)
	return m, ok && isObject
}
