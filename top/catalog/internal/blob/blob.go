// Package blob is the format of the compiled-in catalog (catalog.bin): an
// index that a binary search reads in place, and one small JSON record per
// method and per response struct, decoded only when asked for. A run that
// looks up one method decodes that method's record alone; nothing is parsed
// at start-up.
//
// Layout (integers little-endian uint32):
//
//	"TSCAT1\n\x00"                          magic, 8 bytes
//	nMethods, nStructs, unmappedOff, unmappedLen
//	nMethods × (nameOff, nameLen, recOff, recLen)   sorted by method name
//	nStructs × (off, len)                           struct 1 is the first
//	the bytes the offsets point into
//
// Response structs are deduplicated by shape: two methods answering the
// same tree (a Trade with the same members) share its records. Struct id 0
// means "no struct".
package blob

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Magic starts every blob.
const Magic = "TSCAT1\n\x00"

const headerLen = len(Magic) + 4*4

// Method is one method's record.
type Method struct {
	Title      string `json:"t,omitempty"`
	DocID      int    `json:"d,omitempty"`
	Category   string `json:"c,omitempty"`
	Group      string `json:"g,omitempty"`
	Access     string `json:"a"`
	Idempotent bool   `json:"i,omitempty"`
	// IdempotentIf: the call is idempotent when this holds.
	IdempotentIf *Cond  `json:"ii,omitempty"`
	Session      string `json:"s,omitempty"`
	// Inferred names the facts inferred rather than documented or
	// hand-checked: "access", "idempotent", "session", "paging", "list_field".
	Inferred []string `json:"inf,omitempty"`
	// Curated: the method has hand facts (apis.toml). InModel: it is in the
	// platform's API model.
	Curated        bool     `json:"h,omitempty"`
	InModel        bool     `json:"m,omitempty"`
	Note           string   `json:"n,omitempty"`
	Aliases        []string `json:"al,omitempty"`
	Params         []Param  `json:"p,omitempty"`
	ParamsFiltered int      `json:"pf,omitempty"`
	ParamsUnknown  bool     `json:"pu,omitempty"`
	Paging         *Paging  `json:"pg,omitempty"`
	ListField      string   `json:"l,omitempty"`
	Lists          []string `json:"ls,omitempty"`
	// Response is the struct id of the response's members (0: none known).
	Response int `json:"r,omitempty"`
}

// Cond is a test on one parameter (see catalog.Condition).
type Cond struct {
	Param  string   `json:"p"`
	Values []string `json:"v,omitempty"`
	Absent bool     `json:"a,omitempty"`
}

// Param is one request parameter.
type Param struct {
	Name     string   `json:"n"`
	Type     string   `json:"t"`
	Required bool     `json:"r,omitempty"`
	MaxList  int      `json:"ml,omitempty"`
	ListSep  string   `json:"sp,omitempty"` // a List's separator when not ","
	MaxLen   int      `json:"mx,omitempty"`
	MinLen   int      `json:"mn,omitempty"`
	Min      *float64 `json:"lo,omitempty"`
	Max      *float64 `json:"hi,omitempty"`
	Default  string   `json:"df,omitempty"`
	Enum     []string `json:"e,omitempty"`
	List     bool     `json:"li,omitempty"`
	Decimal  bool     `json:"dc,omitempty"`
	Example  string   `json:"ex,omitempty"`
	Desc     string   `json:"ds,omitempty"`
	// Mined names the facts read from the doc text rather than from the
	// platform's structured limits or the hand facts.
	Mined []string `json:"mi,omitempty"`
}

// Paging is how a method pages.
type Paging struct {
	Style          string `json:"st,omitempty"` // "page", "offset", "cursor"
	Page           string `json:"p,omitempty"`
	Size           string `json:"s,omitempty"`
	Cursor         string `json:"c,omitempty"`
	DefaultSize    int    `json:"ds,omitempty"`
	MaxSize        int    `json:"ms,omitempty"`
	Total          string `json:"t,omitempty"`
	TotalPages     string `json:"tp,omitempty"`
	HasNext        bool   `json:"hn,omitempty"`
	UseHasNext     bool   `json:"uh,omitempty"`
	Reverse        bool   `json:"rv,omitempty"`
	SpanStart      string `json:"ss,omitempty"`
	SpanEnd        string `json:"se,omitempty"`
	MaxSpanSeconds int    `json:"mss,omitempty"`
}

// Field is one member of a response struct.
type Field struct {
	Name string `json:"n"`
	Type string `json:"t"`
	// Struct is the id of the member's own members (a struct or a list of
	// structs); 0 for a scalar.
	Struct int `json:"s,omitempty"`
}

// Unmapped is a documented title whose method is unknown.
type Unmapped struct {
	Title string `json:"t"`
	Group string `json:"g,omitempty"`
	Note  string `json:"n,omitempty"`
}

// Entry is one method to write.
type Entry struct {
	Name   string
	Record Method
}

// Write lays out methods (any order; sorted here) and structs (struct i+1
// is structs[i]).
func Write(methods []Entry, structs [][]Field, unmapped []Unmapped) ([]byte, error) {
	sort.Slice(methods, func(i, j int) bool { return methods[i].Name < methods[j].Name })
	for i := 1; i < len(methods); i++ {
		if methods[i].Name == methods[i-1].Name {
			return nil, fmt.Errorf("blob: %s twice", methods[i].Name)
		}
	}
	var data bytes.Buffer
	type span struct{ off, len uint32 }
	put := func(b []byte) span {
		s := span{uint32(data.Len()), uint32(len(b))}
		data.Write(b)
		return s
	}
	// The names first, together: a binary search then touches few pages.
	mIdx := make([][2]span, len(methods))
	for i, m := range methods {
		if m.Name == "" || strings.ContainsAny(m.Name, "\x00\n") {
			return nil, fmt.Errorf("blob: bad method name %q", m.Name)
		}
		mIdx[i][0] = put([]byte(m.Name))
	}
	for i, m := range methods {
		rec, err := json.Marshal(m.Record)
		if err != nil {
			return nil, fmt.Errorf("blob: %s: %v", m.Name, err)
		}
		if m.Record.Response < 0 || m.Record.Response > len(structs) {
			return nil, fmt.Errorf("blob: %s: response struct %d of %d", m.Name, m.Record.Response, len(structs))
		}
		mIdx[i][1] = put(rec)
	}
	sIdx := make([]span, len(structs))
	for i, s := range structs {
		for _, f := range s {
			if f.Struct < 0 || f.Struct > len(structs) {
				return nil, fmt.Errorf("blob: struct %d: member %s names struct %d of %d", i+1, f.Name, f.Struct, len(structs))
			}
		}
		b, err := json.Marshal(s)
		if err != nil {
			return nil, err
		}
		sIdx[i] = put(b)
	}
	um, err := json.Marshal(unmapped)
	if err != nil {
		return nil, err
	}
	umSpan := put(um)

	base := uint32(headerLen + 16*len(methods) + 8*len(structs))
	out := make([]byte, 0, int(base)+data.Len())
	out = append(out, Magic...)
	u32 := func(v uint32) { out = binary.LittleEndian.AppendUint32(out, v) }
	u32(uint32(len(methods)))
	u32(uint32(len(structs)))
	u32(base + umSpan.off)
	u32(umSpan.len)
	for _, ix := range mIdx {
		u32(base + ix[0].off)
		u32(ix[0].len)
		u32(base + ix[1].off)
		u32(ix[1].len)
	}
	for _, s := range sIdx {
		u32(base + s.off)
		u32(s.len)
	}
	return append(out, data.Bytes()...), nil
}

// Reader reads a blob in place.
type Reader struct {
	b        string
	nMethods int
	nStructs int
}

// Open checks b's header and sizes.
func Open(b string) (*Reader, error) {
	if len(b) < headerLen || b[:len(Magic)] != Magic {
		return nil, errors.New("blob: not a catalog blob")
	}
	r := &Reader{b: b}
	r.nMethods = int(r.u32(len(Magic)))
	r.nStructs = int(r.u32(len(Magic) + 4))
	if headerLen+16*r.nMethods+8*r.nStructs > len(b) {
		return nil, errors.New("blob: truncated index")
	}
	if !r.fits(r.u32(len(Magic)+8), r.u32(len(Magic)+12)) {
		return nil, errors.New("blob: unmapped list out of range")
	}
	return r, nil
}

func (r *Reader) fits(off, n uint32) bool { return uint64(off)+uint64(n) <= uint64(len(r.b)) }

func (r *Reader) u32(at int) uint32 {
	return uint32(r.b[at]) | uint32(r.b[at+1])<<8 | uint32(r.b[at+2])<<16 | uint32(r.b[at+3])<<24
}

func (r *Reader) mEntry(i int) int  { return headerLen + 16*i }
func (r *Reader) sEntry(id int) int { return headerLen + 16*r.nMethods + 8*(id-1) }

// Len is the number of methods.
func (r *Reader) Len() int { return r.nMethods }

// Structs is the number of response structs.
func (r *Reader) Structs() int { return r.nStructs }

// Name is method i's name (in sorted order); "" when the blob is damaged
// there. Offsets are checked as they are read, not all at Open: a run that
// looks up one method reads a dozen index entries, not 5,349.
func (r *Reader) Name(i int) string {
	at := r.mEntry(i)
	off, n := r.u32(at), r.u32(at+4)
	if !r.fits(off, n) {
		return ""
	}
	return r.b[off : off+n]
}

// Find returns the index of method name.
func (r *Reader) Find(name string) (int, bool) {
	i := sort.Search(r.nMethods, func(i int) bool { return r.Name(i) >= name })
	return i, i < r.nMethods && r.Name(i) == name
}

// Method decodes method i's record.
func (r *Reader) Method(i int) (Method, error) {
	at := r.mEntry(i)
	off, n := r.u32(at+8), r.u32(at+12)
	if !r.fits(off, n) {
		return Method{}, fmt.Errorf("blob: method %d out of range", i)
	}
	var m Method
	err := json.Unmarshal([]byte(r.b[off:off+n]), &m)
	return m, err
}

// Struct decodes struct id's members (1 <= id <= Structs()).
func (r *Reader) Struct(id int) ([]Field, error) {
	if id < 1 || id > r.nStructs {
		return nil, fmt.Errorf("blob: no struct %d", id)
	}
	at := r.sEntry(id)
	off, n := r.u32(at), r.u32(at+4)
	if !r.fits(off, n) {
		return nil, fmt.Errorf("blob: struct %d out of range", id)
	}
	var fs []Field
	err := json.Unmarshal([]byte(r.b[off:off+n]), &fs)
	return fs, err
}

// Unmapped decodes the documented titles whose method is unknown.
func (r *Reader) Unmapped() ([]Unmapped, error) {
	off, n := r.u32(len(Magic)+8), r.u32(len(Magic)+12)
	var u []Unmapped
	err := json.Unmarshal([]byte(r.b[off:off+n]), &u)
	return u, err
}
