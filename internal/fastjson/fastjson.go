// Package fastjson is a small, allocation-lean JSON reader for the hot path
// of a call: the client decoding a gateway answer, and the Lua bindings
// building tables from it. It reads the common shapes of well-formed JSON
// and gives up (ok = false) on anything else, so that its callers fall back
// to encoding/json, which then decides, with its own errors, what the
// input is. Where it succeeds, its reading is exactly encoding/json's:
// numbers keep their text (json.Number), strings are unescaped the same
// way, a repeated key is the caller's to resolve (the last one wins in both
// of its callers).
//
// It gives up on: any syntax error or trailing data, invalid UTF-8 in
// strings (which encoding/json replaces with U+FFFD), \u escapes of
// surrogates (pairs or lone ones), and nesting deeper than MaxDepth.
package fastjson

import (
	"unicode/utf8"
)

// MaxDepth is the deepest nesting read; deeper input is given up on.
const MaxDepth = 1000

// Kind is the kind of the next value.
type Kind uint8

// Kinds of values; Invalid means the input is not one the reader handles.
const (
	Invalid Kind = iota
	Object
	Array
	String
	Number
	True
	False
	Null
)

// Reader reads one JSON text from a byte slice.
type Reader struct {
	data  []byte
	pos   int
	depth int
}

// NewReader returns a reader of data.
func NewReader(data []byte) *Reader { return &Reader{data: data} }

// Reset makes r read data from the start.
func (r *Reader) Reset(data []byte) { *r = Reader{data: data} }

func (r *Reader) skipSpace() {
	for r.pos < len(r.data) {
		switch r.data[r.pos] {
		case ' ', '\t', '\n', '\r':
			r.pos++
		default:
			return
		}
	}
}

// Peek skips white space and reports the kind of the next value, without
// consuming it (Invalid at the end of input or on a byte no value starts
// with).
func (r *Reader) Peek() Kind {
	r.skipSpace()
	if r.pos >= len(r.data) {
		return Invalid
	}
	switch c := r.data[r.pos]; c {
	case '{':
		return Object
	case '[':
		return Array
	case '"':
		return String
	case 't':
		return True
	case 'f':
		return False
	case 'n':
		return Null
	default:
		if c == '-' || '0' <= c && c <= '9' {
			return Number
		}
	}
	return Invalid
}

// Literal consumes the literal (true, false or null) Peek reported.
func (r *Reader) Literal(k Kind) bool {
	var lit string
	switch k {
	case True:
		lit = "true"
	case False:
		lit = "false"
	case Null:
		lit = "null"
	default:
		return false
	}
	if len(r.data)-r.pos < len(lit) || string(r.data[r.pos:r.pos+len(lit)]) != lit {
		return false
	}
	r.pos += len(lit)
	return true
}

// Number consumes a number and returns its text, checked against the JSON
// grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (r *Reader) Number() ([]byte, bool) {
	d, i := r.data, r.pos
	start := i
	if i < len(d) && d[i] == '-' {
		i++
	}
	switch {
	case i < len(d) && d[i] == '0':
		i++
	case i < len(d) && '1' <= d[i] && d[i] <= '9':
		for i < len(d) && '0' <= d[i] && d[i] <= '9' {
			i++
		}
	default:
		return nil, false
	}
	if i < len(d) && d[i] == '.' {
		i++
		if i >= len(d) || d[i] < '0' || d[i] > '9' {
			return nil, false
		}
		for i < len(d) && '0' <= d[i] && d[i] <= '9' {
			i++
		}
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		if i >= len(d) || d[i] < '0' || d[i] > '9' {
			return nil, false
		}
		for i < len(d) && '0' <= d[i] && d[i] <= '9' {
			i++
		}
	}
	r.pos = i
	return d[start:i], true
}

// String consumes a string and returns its value. raw is true when the
// bytes returned are a slice of the input (no escapes), which the caller
// must copy before keeping; else they are freshly allocated.
func (r *Reader) String() (s []byte, raw bool, ok bool) {
	d := r.data
	i := r.pos + 1 // after the quote
	start := i
	ascii := true
	for i < len(d) {
		c := d[i]
		switch {
		case c == '"':
			seg := d[start:i]
			if !ascii && !utf8.Valid(seg) {
				return nil, false, false
			}
			r.pos = i + 1
			return seg, true, true
		case c == '\\':
			return r.escaped(start, i)
		case c < 0x20:
			return nil, false, false
		case c >= 0x80:
			ascii = false
		}
		i++
	}
	return nil, false, false
}

// escaped finishes a string holding escapes, from its first backslash at i.
func (r *Reader) escaped(start, i int) ([]byte, bool, bool) {
	d := r.data
	out := make([]byte, 0, i-start+16)
	out = append(out, d[start:i]...)
	for i < len(d) {
		c := d[i]
		switch {
		case c == '"':
			if !utf8.Valid(out) {
				return nil, false, false
			}
			r.pos = i + 1
			return out, false, true
		case c < 0x20:
			return nil, false, false
		case c != '\\':
			out = append(out, c)
			i++
			continue
		}
		if i+1 >= len(d) {
			return nil, false, false
		}
		switch d[i+1] {
		case '"', '\\', '/':
			out = append(out, d[i+1])
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			if i+6 > len(d) {
				return nil, false, false
			}
			var v rune
			for _, h := range d[i+2 : i+6] {
				switch {
				case '0' <= h && h <= '9':
					h -= '0'
				case 'a' <= h && h <= 'f':
					h -= 'a' - 10
				case 'A' <= h && h <= 'F':
					h -= 'A' - 10
				default:
					return nil, false, false
				}
				v = v<<4 | rune(h)
			}
			if 0xD800 <= v && v < 0xE000 {
				return nil, false, false // surrogates: encoding/json's rules
			}
			out = utf8.AppendRune(out, v)
			i += 6
			continue
		default:
			return nil, false, false
		}
		i += 2
	}
	return nil, false, false
}

// Open consumes the '{' or '[' of the object or array Peek reported.
func (r *Reader) Open() bool {
	if r.depth >= MaxDepth {
		return false
	}
	r.depth++
	r.pos++
	return true
}

// NextKey moves to the next member of an object opened with Open: first
// says whether it is the first. It returns more = false at the closing
// brace (consumed), else the member's key, with the reader before its
// value. raw is as for String.
func (r *Reader) NextKey(first bool) (key []byte, raw, more, ok bool) {
	r.skipSpace()
	if r.pos >= len(r.data) {
		return nil, false, false, false
	}
	c := r.data[r.pos]
	if c == '}' && first {
		r.pos++
		r.depth--
		return nil, false, false, true
	}
	if !first {
		switch c {
		case '}':
			r.pos++
			r.depth--
			return nil, false, false, true
		case ',':
			r.pos++
			r.skipSpace()
			if r.pos >= len(r.data) {
				return nil, false, false, false
			}
			c = r.data[r.pos]
		default:
			return nil, false, false, false
		}
	}
	if c != '"' {
		return nil, false, false, false
	}
	key, raw, ok = r.String()
	if !ok {
		return nil, false, false, false
	}
	r.skipSpace()
	if r.pos >= len(r.data) || r.data[r.pos] != ':' {
		return nil, false, false, false
	}
	r.pos++
	return key, raw, true, true
}

// NextElem moves to the next element of an array opened with Open: first
// says whether it is the first. It returns more = false at the closing
// bracket (consumed), else the reader is before the element.
func (r *Reader) NextElem(first bool) (more, ok bool) {
	r.skipSpace()
	if r.pos >= len(r.data) {
		return false, false
	}
	c := r.data[r.pos]
	if c == ']' {
		r.pos++
		r.depth--
		return false, true
	}
	if first {
		return true, true
	}
	if c != ',' {
		return false, false
	}
	r.pos++
	r.skipSpace()
	if r.pos < len(r.data) && r.data[r.pos] == ']' {
		return false, false // a trailing comma
	}
	return true, true
}

// End reports whether only white space remains.
func (r *Reader) End() bool {
	r.skipSpace()
	return r.pos == len(r.data)
}
