package luatop

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"

	lua "github.com/yuin/gopher-lua"
)

// spool is an append-only temporary file of records, each read back by
// the offset Append returned: job.run keeps its rows (and its report's
// records) here instead of in memory, so a job of 100,000 rows costs about
// what one of 10,000 does. The file is removed as soon as it is created
// where the system allows it (Unix), else when the spool is closed.
//
// Hand-written over os.File: what it stores are Lua rows and report lines
// in the order they come, read back at random once; an embedded database
// would cost a write transaction a row for none of its features.
type spool struct {
	f    *os.File
	name string // removed at close (it could not be removed at creation)
	w    *bufio.Writer
	size int64 // bytes appended, the offset of the next record
	// win holds the bytes of the file from winAt on, as last read: records
	// read in order (the common case) come out of it.
	win   []byte
	winAt int64
	buf   []byte
}

// spoolWindow is how much a read that misses the window reads.
const spoolWindow = 64 << 10

func newSpool(what string) (*spool, error) {
	f, err := os.CreateTemp("", "topscript-"+what+"-*")
	if err != nil {
		return nil, fmt.Errorf("a temporary file for the job's %s: %w", what, err)
	}
	s := &spool{f: f, w: bufio.NewWriterSize(f, 64<<10)}
	if os.Remove(f.Name()) != nil {
		s.name = f.Name()
	}
	return s, nil
}

// Append stores rec and returns its offset.
func (s *spool) Append(rec []byte) (int64, error) {
	at := s.size
	var n [binary.MaxVarintLen64]byte
	k := binary.PutUvarint(n[:], uint64(len(rec)))
	if _, err := s.w.Write(n[:k]); err != nil {
		return 0, err
	}
	if _, err := s.w.Write(rec); err != nil {
		return 0, err
	}
	s.size += int64(k + len(rec))
	return at, nil
}

// Read returns the record at offset at. The slice is valid until the next
// Read.
func (s *spool) Read(at int64) ([]byte, error) {
	rec, _, err := s.ReadNext(at)
	return rec, err
}

// ReadNext returns the record at offset at and the offset of the next
// one. The slice is valid until the next read.
func (s *spool) ReadNext(at int64) ([]byte, int64, error) {
	if at < 0 || at >= s.size {
		return nil, 0, errors.New("no record there")
	}
	head, err := s.bytes(at, min(binary.MaxVarintLen64, s.size-at))
	if err != nil {
		return nil, 0, err
	}
	size, k := binary.Uvarint(head)
	if k <= 0 || at+int64(k)+int64(size) > s.size {
		return nil, 0, errors.New("damaged record")
	}
	rec, err := s.bytes(at+int64(k), int64(size))
	if err != nil {
		return nil, 0, err
	}
	return rec, at + int64(k) + int64(size), nil
}

// bytes returns n bytes of the file from at, out of the window when they
// are in it, else reading a new window (or, for a record longer than a
// window, the record alone).
func (s *spool) bytes(at, n int64) ([]byte, error) {
	if at >= s.winAt && at+n <= s.winAt+int64(len(s.win)) {
		return s.win[at-s.winAt : at-s.winAt+n], nil
	}
	if s.w.Buffered() > 0 && at+n > s.size-int64(s.w.Buffered()) {
		if err := s.w.Flush(); err != nil {
			return nil, err
		}
	}
	if n > spoolWindow {
		if cap(s.buf) < int(n) {
			s.buf = make([]byte, n)
		}
		b := s.buf[:n]
		if _, err := s.f.ReadAt(b, at); err != nil {
			return nil, err
		}
		return b, nil
	}
	if s.win == nil {
		s.win = make([]byte, spoolWindow)
	}
	m, err := s.f.ReadAt(s.win[:cap(s.win)], at)
	if m < int(n) {
		if err == nil || errors.Is(err, io.EOF) {
			err = errors.New("record past the end")
		}
		return nil, err
	}
	s.win, s.winAt = s.win[:m], at
	return s.win[:n], nil
}

// Close removes the file.
func (s *spool) Close() error {
	err := s.f.Close()
	if s.name != "" {
		os.Remove(s.name)
	}
	return err
}

// The encoding of a record: fields one after the other, each a kind byte
// and its data (lengths and integers as uvarints).
const (
	encNil    = 'z'
	encString = 's'
	encNumber = 'n'
	encTrue   = 't'
	encFalse  = 'f'
	encTable  = 'T' // a count of pairs, then each key and value
)

// encoder builds a record.
type encoder struct{ b []byte }

func (e *encoder) uint(n uint64) { e.b = binary.AppendUvarint(e.b, n) }

func (e *encoder) str(s string) {
	e.uint(uint64(len(s)))
	e.b = append(e.b, s...)
}

// scalar appends a flat value; it reports false for values that are not
// (tables, functions, userdata): those rows stay in memory.
func (e *encoder) scalar(v lua.LValue) bool {
	switch x := v.(type) {
	case *lua.LNilType:
		e.b = append(e.b, encNil)
	case lua.LString:
		e.b = append(e.b, encString)
		e.str(string(x))
	case lua.LNumber:
		e.b = append(e.b, encNumber)
		e.b = binary.LittleEndian.AppendUint64(e.b, math.Float64bits(float64(x)))
	case lua.LBool:
		if x {
			e.b = append(e.b, encTrue)
		} else {
			e.b = append(e.b, encFalse)
		}
	default:
		return false
	}
	return true
}

// flat appends v when it is a scalar or a table of scalar keys and values
// without a metatable (what csv.rows and xlsx.rows give), and reports
// whether it could: a row that holds tables, functions or userdata, or has
// a metatable, is not copied (its identity may matter to the script).
func (e *encoder) flat(v lua.LValue) bool {
	t, ok := v.(*lua.LTable)
	if !ok {
		return e.scalar(v)
	}
	if t.Metatable != lua.LNil {
		return false
	}
	mark := len(e.b)
	e.b = append(e.b, encTable)
	count := 0
	var pairs encoder
	good := true
	t.ForEach(func(k, val lua.LValue) {
		if good {
			good = pairs.scalar(k) && pairs.scalar(val)
			count++
		}
	})
	if !good {
		e.b = e.b[:mark]
		return false
	}
	e.uint(uint64(count))
	e.b = append(e.b, pairs.b...)
	return true
}

// decoder reads a record.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail() {
	if d.err == nil {
		d.err = errors.New("damaged record")
	}
}

func (d *decoder) uint() uint64 {
	n, k := binary.Uvarint(d.b)
	if k <= 0 {
		d.fail()
		d.b = nil
		return 0
	}
	d.b = d.b[k:]
	return n
}

func (d *decoder) str() string {
	n := d.uint()
	if uint64(len(d.b)) < n {
		d.fail()
		d.b = nil
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

func (d *decoder) value(L *lua.LState) lua.LValue {
	if len(d.b) == 0 {
		d.fail()
		return lua.LNil
	}
	kind := d.b[0]
	d.b = d.b[1:]
	switch kind {
	case encNil:
		return lua.LNil
	case encString:
		return lua.LString(d.str())
	case encNumber:
		if len(d.b) < 8 {
			d.fail()
			return lua.LNil
		}
		n := math.Float64frombits(binary.LittleEndian.Uint64(d.b))
		d.b = d.b[8:]
		return lua.LNumber(n)
	case encTrue:
		return lua.LTrue
	case encFalse:
		return lua.LFalse
	case encTable:
		n := int(d.uint())
		t := L.CreateTable(0, n)
		for i := 0; i < n && d.err == nil; i++ {
			k := d.value(L)
			v := d.value(L)
			if k != lua.LNil {
				t.RawSet(k, v)
			}
		}
		return t
	}
	d.fail()
	return lua.LNil
}
