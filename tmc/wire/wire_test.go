package wire

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
	"time"
)

// The bytes of a SEND frame written by hand from the format: the codec is
// checked against the format, not against itself.
func TestEncodeMatchesFormat(t *testing.T) {
	f := &Frame{Type: Send, Token: "tk", Headers: []Header{
		{"__kind", I16(2)},
		{"id", I64(9007199254740993)},
		{"topic", Str("t")},
		{"n", Value{Format: Void}},
		{"b", Value{Format: Byte, Int: 7}},
		{"i", I32(-2)},
		{"time", Value{Format: Date, Int: 1000}},
		{"z", Bytes([]byte{1, 2})},
	}}
	want := []byte{
		2, 2, // version, SEND
		5, 0, 2, 0, 0, 0, 't', 'k', // Token
		1, 0, 6, 0, 0, 0, '_', '_', 'k', 'i', 'n', 'd', 3, 2, 0, // int16 2
		1, 0, 2, 0, 0, 0, 'i', 'd', 5, 1, 0, 0, 0, 0, 0, 0x20, 0, // int64 2^53+1
		1, 0, 5, 0, 0, 0, 't', 'o', 'p', 'i', 'c', 1, 1, 0, 0, 0, 't',
		1, 0, 1, 0, 0, 0, 'n', 0,
		1, 0, 1, 0, 0, 0, 'b', 2, 7,
		1, 0, 1, 0, 0, 0, 'i', 4, 0xfe, 0xff, 0xff, 0xff,
		1, 0, 4, 0, 0, 0, 't', 'i', 'm', 'e', 6, 0xe8, 3, 0, 0, 0, 0, 0, 0,
		1, 0, 1, 0, 0, 0, 'z', 7, 2, 0, 0, 0, 1, 2,
		0, 0, // End
	}
	got := Encode(nil, f)
	if !bytes.Equal(got, want) {
		t.Fatalf("Encode:\n got % x\nwant % x", got, want)
	}
	back, err := Decode(want)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, f) {
		t.Fatalf("Decode = %+v, want %+v", back, f)
	}
	if id, ok := back.Get("id"); !ok || id.Int != 9007199254740993 {
		t.Fatalf("id = %+v, want 9007199254740993 exactly", id)
	}
}

func TestStatusHeaders(t *testing.T) {
	f := &Frame{Type: ConnectAck, StatusCode: 401, StatusPhrase: "invalid sign", Flag: 3}
	b := Encode(nil, f)
	want := []byte{2, 1, 2, 0, 0x91, 1, 0, 0, 3, 0, 12, 0, 0, 0}
	want = append(want, "invalid sign"...)
	want = append(want, 4, 0, 3, 0, 0, 0, 0, 0)
	if !bytes.Equal(b, want) {
		t.Fatalf("got % x\nwant % x", b, want)
	}
	back, err := Decode(b)
	if err != nil || !reflect.DeepEqual(back, f) {
		t.Fatalf("Decode = %+v, %v", back, err)
	}
}

func TestDecodeErrors(t *testing.T) {
	good := Encode(nil, &Frame{Type: Send, Headers: []Header{{"topic", Str("x")}}})
	for name, b := range map[string][]byte{
		"empty":          {},
		"version":        {1, 2, 0, 0},
		"type":           {2, 9, 0, 0},
		"no end":         good[:len(good)-2],
		"cut string":     good[:len(good)-4],
		"trailing bytes": append(append([]byte{}, good...), 0),
		"unknown header": {2, 2, 9, 0},
		"unknown format": {2, 2, 1, 0, 1, 0, 0, 0, 'k', 9, 0, 0},
		"huge length":    {2, 2, 3, 0, 0xff, 0xff, 0xff, 0xff},
	} {
		if _, err := Decode(b); err == nil {
			t.Errorf("%s: Decode accepted % x", name, b)
		}
	}
	if _, err := Decode([]byte{3, 2, 0, 0}); !errors.Is(err, ErrVersion) {
		t.Errorf("version 3: err = %v, want ErrVersion", err)
	}
}

func TestValueConversions(t *testing.T) {
	for _, c := range []struct {
		v    Value
		n    int64
		ok   bool
		text string
	}{
		{Str("3612345000000000123"), 3612345000000000123, true, "3612345000000000123"},
		{Str("-9223372036854775808"), -9223372036854775808, true, "-9223372036854775808"},
		{Str("9223372036854775808"), 0, false, "9223372036854775808"},
		{Str("12a"), 0, false, "12a"},
		{I16(20), 20, true, "20"},
		{Time(time.UnixMilli(1700000000123)), 1700000000123, true, "1700000000123"},
	} {
		n, ok := c.v.Integer()
		if n != c.n || ok != c.ok {
			t.Errorf("%+v.Integer() = %d, %v; want %d, %v", c.v, n, ok, c.n, c.ok)
		}
		if s, _ := c.v.Text(); s != c.text {
			t.Errorf("%+v.Text() = %q, want %q", c.v, s, c.text)
		}
	}
	if _, ok := Bytes([]byte("x")).Text(); ok {
		t.Error("a byte array is not text")
	}
}

// FuzzDecode: any input decodes or fails cleanly, and what decodes encodes
// back to the same bytes once normalised (fixed headers first).
func FuzzDecode(f *testing.F) {
	f.Add(Encode(nil, &Frame{Type: Connect, Headers: []Header{{"app_key", Str("1")}, {"sign", Str("AB")}}}))
	f.Add(Encode(nil, &Frame{Type: ConnectAck, StatusCode: 401, StatusPhrase: "x"}))
	f.Add(Encode(nil, &Frame{Type: Send, Token: "t", Headers: []Header{{"id", I64(-1)}, {"z", Bytes([]byte{0})}, {"v", Value{}}}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, err := Decode(b)
		if err != nil {
			return
		}
		enc := Encode(nil, fr)
		again, err := Decode(enc)
		if err != nil {
			t.Fatalf("re-decode of % x: %v", enc, err)
		}
		if !reflect.DeepEqual(normal(again), normal(fr)) {
			t.Fatalf("round trip changed the frame: %+v -> %+v", fr, again)
		}
		if enc2 := Encode(nil, again); !bytes.Equal(enc, enc2) {
			t.Fatalf("encoding is not stable")
		}
	})
}

// normal maps empty byte arrays to nil for comparison.
func normal(f *Frame) *Frame {
	g := *f
	g.Headers = nil
	for _, h := range f.Headers {
		if len(h.Value.Bytes) == 0 {
			h.Value.Bytes = nil
		}
		switch h.Value.Format {
		case Byte:
			h.Value.Int = int64(byte(h.Value.Int))
		}
		g.Headers = append(g.Headers, h)
	}
	return &g
}
