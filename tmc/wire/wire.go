// Package wire is the binary frame format of TMC, the platform's message
// channel: what a consumer and a server exchange inside binary WebSocket
// messages. It holds the codec only; the consumer is package tmc and the
// server is the sandbox's /tmc endpoint.
//
// A frame, all integers little-endian:
//
//	u8  protocol version (2)
//	u8  message type: 0 CONNECT, 1 CONNECTACK, 2 SEND, 3 SENDACK
//	repeat: u16 header type, then its value
//	  0 End (no value: the frame ends)
//	  1 Custom: counted-string key, u8 value format, value
//	  2 StatusCode: u32      3 StatusPhrase: counted string
//	  4 Flag: u32            5 Token: counted string
//	counted string = u32 byte length + UTF-8 bytes
//	value formats: 0 void, 1 counted string, 2 byte, 3 int16, 4 int32,
//	               5 int64, 6 date (int64 ms since the epoch),
//	               7 byte array (u32 length + bytes)
//
// Encode writes the fixed headers in the order StatusCode, StatusPhrase,
// Flag, Token (each only when set), then the Custom headers in their order.
// Decode accepts the headers in any order; a repeated fixed header keeps its
// last value. A hand-written codec: no library implements this format.
package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"
)

// Version is the protocol version written and accepted.
const Version = 2

// Type is a frame's message type.
type Type uint8

// Message types.
const (
	Connect    Type = 0
	ConnectAck Type = 1
	Send       Type = 2
	SendAck    Type = 3
)

func (t Type) String() string {
	switch t {
	case Connect:
		return "CONNECT"
	case ConnectAck:
		return "CONNECTACK"
	case Send:
		return "SEND"
	case SendAck:
		return "SENDACK"
	}
	return fmt.Sprintf("type(%d)", uint8(t))
}

// KindHeader is the Custom header holding a client frame's kind, written as
// an Int16 (the kinds are small; readers accept any integer format).
const KindHeader = "__kind"

// Kinds of SEND frames.
const (
	KindPull    = 1  // pull request: the client asks for messages
	KindConfirm = 2  // confirm, with "id"
	KindData    = 3  // a message
	KindFailed  = 20 // failed, with "id" and "msg" (a reason of at most 128 characters)
)

// Header types.
const (
	hdrEnd          = 0
	hdrCustom       = 1
	hdrStatusCode   = 2
	hdrStatusPhrase = 3
	hdrFlag         = 4
	hdrToken        = 5
)

// Format is the value format of a Custom header.
type Format uint8

// Value formats.
const (
	Void      Format = 0
	String    Format = 1
	Byte      Format = 2
	Int16     Format = 3
	Int32     Format = 4
	Int64     Format = 5
	Date      Format = 6
	ByteArray Format = 7
)

// Value is a Custom header's value: Str for String, Int for the integer
// formats and Date (milliseconds since the epoch), Bytes for ByteArray.
type Value struct {
	Format Format
	Str    string
	Int    int64
	Bytes  []byte
}

// Str makes a String value.
func Str(s string) Value { return Value{Format: String, Str: s} }

// I16 makes an Int16 value.
func I16(v int16) Value { return Value{Format: Int16, Int: int64(v)} }

// I32 makes an Int32 value.
func I32(v int32) Value { return Value{Format: Int32, Int: int64(v)} }

// I64 makes an Int64 value.
func I64(v int64) Value { return Value{Format: Int64, Int: v} }

// Time makes a Date value (millisecond precision).
func Time(t time.Time) Value { return Value{Format: Date, Int: t.UnixMilli()} }

// Bytes makes a ByteArray value.
func Bytes(b []byte) Value { return Value{Format: ByteArray, Bytes: b} }

// Integer returns the value as an integer: the integer formats and Date as
// they are, a String holding decimal digits parsed exactly; ok is false for
// anything else.
func (v Value) Integer() (int64, bool) {
	switch v.Format {
	case Byte, Int16, Int32, Int64, Date:
		return v.Int, true
	case String:
		return parseInt(v.Str)
	}
	return 0, false
}

// Text returns the value as text: a String as it is, an integer in decimal;
// ok is false for Void and ByteArray.
func (v Value) Text() (string, bool) {
	switch v.Format {
	case String:
		return v.Str, true
	case Byte, Int16, Int32, Int64, Date:
		return fmt.Sprint(v.Int), true
	}
	return "", false
}

func parseInt(s string) (int64, bool) {
	if s == "" || len(s) > 20 {
		return 0, false
	}
	neg := s[0] == '-'
	if neg {
		s = s[1:]
		if s == "" {
			return 0, false
		}
	}
	var u uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		if u > (math.MaxUint64-9)/10 {
			return 0, false
		}
		u = u*10 + uint64(c-'0')
	}
	if neg {
		if u > 1<<63 {
			return 0, false
		}
		return -int64(u), true
	}
	if u > math.MaxInt64 {
		return 0, false
	}
	return int64(u), true
}

// Header is one Custom header.
type Header struct {
	Key   string
	Value Value
}

// Frame is one protocol message.
type Frame struct {
	Type         Type
	StatusCode   uint32 // written when non-zero
	StatusPhrase string // written when non-empty
	Flag         uint32 // written when non-zero
	Token        string // written when non-empty
	Headers      []Header
}

// Get returns the Custom header key.
func (f *Frame) Get(key string) (Value, bool) {
	for i := range f.Headers {
		if f.Headers[i].Key == key {
			return f.Headers[i].Value, true
		}
	}
	return Value{}, false
}

// Text returns Custom header key as text ("" when absent or not text).
func (f *Frame) Text(key string) string {
	v, ok := f.Get(key)
	if !ok {
		return ""
	}
	s, _ := v.Text()
	return s
}

// Set appends a Custom header.
func (f *Frame) Set(key string, v Value) { f.Headers = append(f.Headers, Header{key, v}) }

// Limits on decoded frames.
const (
	// MaxFrame is the largest frame Decode accepts.
	MaxFrame = 16 << 20
	// maxHeaders bounds the Custom headers of a frame.
	maxHeaders = 1024
)

// Errors of Decode.
var (
	ErrShort   = errors.New("tmc frame: truncated")
	ErrVersion = errors.New("tmc frame: unsupported protocol version")
)

// Encode appends f to b.
func Encode(b []byte, f *Frame) []byte {
	b = append(b, Version, byte(f.Type))
	if f.StatusCode != 0 {
		b = binary.LittleEndian.AppendUint16(b, hdrStatusCode)
		b = binary.LittleEndian.AppendUint32(b, f.StatusCode)
	}
	if f.StatusPhrase != "" {
		b = binary.LittleEndian.AppendUint16(b, hdrStatusPhrase)
		b = appendCounted(b, f.StatusPhrase)
	}
	if f.Flag != 0 {
		b = binary.LittleEndian.AppendUint16(b, hdrFlag)
		b = binary.LittleEndian.AppendUint32(b, f.Flag)
	}
	if f.Token != "" {
		b = binary.LittleEndian.AppendUint16(b, hdrToken)
		b = appendCounted(b, f.Token)
	}
	for _, h := range f.Headers {
		b = binary.LittleEndian.AppendUint16(b, hdrCustom)
		b = appendCounted(b, h.Key)
		b = append(b, byte(h.Value.Format))
		switch h.Value.Format {
		case String:
			b = appendCounted(b, h.Value.Str)
		case Byte:
			b = append(b, byte(h.Value.Int))
		case Int16:
			b = binary.LittleEndian.AppendUint16(b, uint16(h.Value.Int))
		case Int32:
			b = binary.LittleEndian.AppendUint32(b, uint32(h.Value.Int))
		case Int64, Date:
			b = binary.LittleEndian.AppendUint64(b, uint64(h.Value.Int))
		case ByteArray:
			b = binary.LittleEndian.AppendUint32(b, uint32(len(h.Value.Bytes)))
			b = append(b, h.Value.Bytes...)
		}
	}
	return binary.LittleEndian.AppendUint16(b, hdrEnd)
}

func appendCounted(b []byte, s string) []byte {
	b = binary.LittleEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

// Decode parses one frame. Bytes after the End header are an error, as is
// anything truncated, an unknown header type or value format, or a frame
// over MaxFrame.
func Decode(b []byte) (*Frame, error) {
	if len(b) > MaxFrame {
		return nil, fmt.Errorf("tmc frame: %d bytes, over the %d limit", len(b), MaxFrame)
	}
	r := reader{b: b}
	ver, ok := r.u8()
	if !ok {
		return nil, ErrShort
	}
	if ver != Version {
		return nil, fmt.Errorf("%w %d", ErrVersion, ver)
	}
	typ, ok := r.u8()
	if !ok {
		return nil, ErrShort
	}
	if typ > byte(SendAck) {
		return nil, fmt.Errorf("tmc frame: unknown message type %d", typ)
	}
	f := &Frame{Type: Type(typ)}
	for {
		ht, ok := r.u16()
		if !ok {
			return nil, ErrShort
		}
		switch ht {
		case hdrEnd:
			if r.off != len(b) {
				return nil, fmt.Errorf("tmc frame: %d bytes after the end", len(b)-r.off)
			}
			return f, nil
		case hdrStatusCode:
			if f.StatusCode, ok = r.u32(); !ok {
				return nil, ErrShort
			}
		case hdrFlag:
			if f.Flag, ok = r.u32(); !ok {
				return nil, ErrShort
			}
		case hdrStatusPhrase:
			if f.StatusPhrase, ok = r.counted(); !ok {
				return nil, ErrShort
			}
		case hdrToken:
			if f.Token, ok = r.counted(); !ok {
				return nil, ErrShort
			}
		case hdrCustom:
			if len(f.Headers) >= maxHeaders {
				return nil, fmt.Errorf("tmc frame: more than %d custom headers", maxHeaders)
			}
			h, err := r.custom()
			if err != nil {
				return nil, err
			}
			f.Headers = append(f.Headers, h)
		default:
			return nil, fmt.Errorf("tmc frame: unknown header type %d", ht)
		}
	}
}

type reader struct {
	b   []byte
	off int
}

func (r *reader) take(n int) ([]byte, bool) {
	if n < 0 || len(r.b)-r.off < n {
		return nil, false
	}
	p := r.b[r.off : r.off+n]
	r.off += n
	return p, true
}

func (r *reader) u8() (byte, bool) {
	p, ok := r.take(1)
	if !ok {
		return 0, false
	}
	return p[0], true
}

func (r *reader) u16() (uint16, bool) {
	p, ok := r.take(2)
	if !ok {
		return 0, false
	}
	return binary.LittleEndian.Uint16(p), true
}

func (r *reader) u32() (uint32, bool) {
	p, ok := r.take(4)
	if !ok {
		return 0, false
	}
	return binary.LittleEndian.Uint32(p), true
}

func (r *reader) u64() (uint64, bool) {
	p, ok := r.take(8)
	if !ok {
		return 0, false
	}
	return binary.LittleEndian.Uint64(p), true
}

func (r *reader) blob() ([]byte, bool) {
	n, ok := r.u32()
	if !ok || n > MaxFrame {
		return nil, false
	}
	return r.take(int(n))
}

func (r *reader) counted() (string, bool) {
	p, ok := r.blob()
	return string(p), ok
}

func (r *reader) custom() (Header, error) {
	key, ok := r.counted()
	if !ok {
		return Header{}, ErrShort
	}
	vf, ok := r.u8()
	if !ok {
		return Header{}, ErrShort
	}
	h := Header{Key: key, Value: Value{Format: Format(vf)}}
	switch Format(vf) {
	case Void:
	case String:
		if h.Value.Str, ok = r.counted(); !ok {
			return h, ErrShort
		}
	case Byte:
		var v byte
		if v, ok = r.u8(); !ok {
			return h, ErrShort
		}
		h.Value.Int = int64(v)
	case Int16:
		var v uint16
		if v, ok = r.u16(); !ok {
			return h, ErrShort
		}
		h.Value.Int = int64(int16(v))
	case Int32:
		var v uint32
		if v, ok = r.u32(); !ok {
			return h, ErrShort
		}
		h.Value.Int = int64(int32(v))
	case Int64, Date:
		var v uint64
		if v, ok = r.u64(); !ok {
			return h, ErrShort
		}
		h.Value.Int = int64(v)
	case ByteArray:
		var p []byte
		if p, ok = r.blob(); !ok {
			return h, ErrShort
		}
		h.Value.Bytes = append([]byte(nil), p...)
	default:
		return h, fmt.Errorf("tmc frame: header %q has unknown value format %d", key, vf)
	}
	return h, nil
}
