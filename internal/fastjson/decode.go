package fastjson

import (
	"encoding/json"
	"sync/atomic"
)

// Decode reads data, one JSON value with nothing after it, into the values
// encoding/json gives an any with UseNumber: map[string]any, []any,
// string, json.Number, bool and nil. ok is false when the reader gives up;
// the caller then decodes with encoding/json, which decides, with its own
// errors, what the input is. data is only read (a string's bytes may be
// passed without a copy).
func Decode(data []byte) (v any, ok bool) {
	r := NewReader(data)
	v, ok = value(r, r.Peek())
	if !ok || !r.End() {
		return nil, false
	}
	return v, true
}

// value reads the value of kind k.
func value(r *Reader, k Kind) (any, bool) {
	switch k {
	case Object:
		if !r.Open() {
			return nil, false
		}
		m := make(map[string]any)
		for first := true; ; first = false {
			key, raw, more, ok := r.NextKey(first)
			if !ok {
				return nil, false
			}
			if !more {
				return m, true
			}
			ks := internKey(key, raw)
			v, ok := value(r, r.Peek())
			if !ok {
				return nil, false
			}
			m[ks] = v
		}
	case Array:
		if !r.Open() {
			return nil, false
		}
		a := []any{}
		for first := true; ; first = false {
			more, ok := r.NextElem(first)
			if !ok {
				return nil, false
			}
			if !more {
				return a, true
			}
			v, ok := value(r, r.Peek())
			if !ok {
				return nil, false
			}
			a = append(a, v)
		}
	case String:
		b, _, ok := r.String()
		if !ok {
			return nil, false
		}
		return string(b), true
	case Number:
		b, ok := r.Number()
		if !ok {
			return nil, false
		}
		return json.Number(b), true
	case True:
		return true, r.Literal(k)
	case False:
		return false, r.Literal(k)
	case Null:
		return nil, r.Literal(k)
	}
	return nil, false
}

// keyCache holds object keys: field names repeat across items and calls,
// and a cached one costs no allocation. It is direct-mapped and lock-free
// (a miss just allocates); strings are immutable, so sharing is safe.
var keyCache [512]atomic.Pointer[string]

// internKey returns key as a string, from the cache when it is there.
func internKey(key []byte, raw bool) string {
	if len(key) > 32 || !raw {
		return string(key)
	}
	h := uint32(2166136261) // FNV-1a
	for _, c := range key {
		h ^= uint32(c)
		h *= 16777619
	}
	slot := &keyCache[h&uint32(len(keyCache)-1)]
	if p := slot.Load(); p != nil && *p == string(key) {
		return *p
	}
	s := string(key)
	slot.Store(&s)
	return s
}
