package sandbox

import (
	"strconv"
	"sync"
	"unicode/utf8"
)

// The sandbox builds every response as a small ordered tree and serialises it
// by hand: no reflection, exact int64 ids, and one tree for JSON, simplified
// JSON and XML.

// kv is one field of an obj.
type kv struct {
	k string
	v any // string, int64, int, bool, rawNumber, obj, list
}

// obj is an ordered JSON object / XML element.
type obj []kv

// rawNumber is a decimal written as a bare JSON number ("12.50").
type rawNumber string

// list is a TOP list: wrapped as {"<item>": [...]} (and <x list="true"><item>
// in XML) unless simplified, where it is a plain array.
type list struct {
	item  string
	elems []any
}

// format of a response.
type format uint8

const (
	fmtXML format = iota
	fmtJSON
)

// render is the per-call response shape.
type render struct {
	format   format
	simplify bool
}

// envelope appends to b a success payload for method (root
// "<name>_response").
func (r render) envelope(b []byte, root string, payload obj, requestID string) []byte {
	payload = append(payload, kv{"request_id", requestID})
	if r.format == fmtXML {
		b = append(b, xmlHeader...)
		return appendXML(b, root, payload)
	}
	if r.simplify {
		return appendJSON(b, payload, true)
	}
	b = append(b, `{"`...)
	b = append(b, root...)
	b = append(b, `":`...)
	b = appendJSON(b, payload, false)
	return append(b, '}')
}

// errorBody appends to b an error_response (kept wrapped even with
// simplify).
func (r render) errorBody(b []byte, e *apiErr, requestID string) []byte {
	o := obj{{"code", e.code}, {"msg", e.msg}}
	if e.subCode != "" {
		o = append(o, kv{"sub_code", e.subCode})
	}
	if e.subMsg != "" {
		o = append(o, kv{"sub_msg", e.subMsg})
	}
	o = append(o, kv{"request_id", requestID})
	if r.format == fmtXML {
		b = append(b, xmlHeader...)
		return appendXML(b, "error_response", o)
	}
	b = append(b, `{"error_response":`...)
	b = appendJSON(b, o, false)
	return append(b, '}')
}

func (r render) contentType() string {
	if r.format == fmtXML {
		return "text/xml;charset=UTF-8"
	}
	return "application/json;charset=UTF-8"
}

// bufPool recycles response buffers.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 16<<10); return &b }}

func getBuf() *[]byte { return bufPool.Get().(*[]byte) }

func putBuf(b *[]byte, used []byte) {
	if cap(used) > 1<<20 {
		return
	}
	*b = used[:0]
	bufPool.Put(b)
}

const xmlHeader = `<?xml version="1.0" encoding="utf-8" ?>`

// responseRoot is the envelope key of method: "taobao." stripped, dots to
// underscores, "_response" appended.
func responseRoot(method string) string {
	const p = "taobao."
	if len(method) > len(p) && method[:len(p)] == p {
		method = method[len(p):]
	}
	b := make([]byte, 0, len(method)+9)
	for i := 0; i < len(method); i++ {
		c := method[i]
		if c == '.' {
			c = '_'
		}
		b = append(b, c)
	}
	return string(append(b, "_response"...))
}

func appendJSON(b []byte, v any, simplify bool) []byte {
	switch x := v.(type) {
	case string:
		return appendJSONString(b, x)
	case int64:
		return strconv.AppendInt(b, x, 10)
	case int:
		return strconv.AppendInt(b, int64(x), 10)
	case bool:
		return strconv.AppendBool(b, x)
	case rawNumber:
		return append(b, x...)
	case obj:
		b = append(b, '{')
		for i, f := range x {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, f.k)
			b = append(b, ':')
			b = appendJSON(b, f.v, simplify)
		}
		return append(b, '}')
	case list:
		if !simplify {
			b = append(b, '{')
			b = appendJSONString(b, x.item)
			b = append(b, ':')
		}
		b = append(b, '[')
		for i, e := range x.elems {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSON(b, e, simplify)
		}
		b = append(b, ']')
		if !simplify {
			b = append(b, '}')
		}
		return b
	default:
		return append(b, "null"...)
	}
}

const hexDigits = "0123456789abcdef"

// appendJSONString quotes s; invalid UTF-8 becomes U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

func appendXML(b []byte, name string, v any) []byte {
	switch x := v.(type) {
	case obj:
		b = appendTag(b, name, false)
		for _, f := range x {
			b = appendXML(b, f.k, f.v)
		}
		return appendTag(b, name, true)
	case list:
		b = append(b, '<')
		b = append(b, name...)
		b = append(b, ` list="true">`...)
		for _, e := range x.elems {
			b = appendXML(b, x.item, e)
		}
		return appendTag(b, name, true)
	}
	b = appendTag(b, name, false)
	switch x := v.(type) {
	case string:
		b = appendXMLText(b, x)
	case int64:
		b = strconv.AppendInt(b, x, 10)
	case int:
		b = strconv.AppendInt(b, int64(x), 10)
	case bool:
		b = strconv.AppendBool(b, x)
	case rawNumber:
		b = append(b, x...)
	}
	return appendTag(b, name, true)
}

func appendTag(b []byte, name string, closing bool) []byte {
	b = append(b, '<')
	if closing {
		b = append(b, '/')
	}
	b = append(b, name...)
	return append(b, '>')
}

// appendXMLText escapes s as XML character data, dropping characters XML
// cannot carry.
func appendXMLText(b []byte, s string) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '<':
				b = append(b, "&lt;"...)
			case c == '>':
				b = append(b, "&gt;"...)
			case c == '&':
				b = append(b, "&amp;"...)
			case c == '"':
				b = append(b, "&quot;"...)
			case c == '\'':
				b = append(b, "&apos;"...)
			case c < 0x20 && c != '\n' && c != '\r' && c != '\t':
				// not representable in XML 1.0
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, "\uFFFD"...)
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return b
}
