package luatop

import (
	"fmt"
	"hash/maphash"
	"slices"
	"sort"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/topscript/topscript/internal/numtext"
	"github.com/topscript/topscript/sheet"
	"github.com/topscript/topscript/stdlib"
)

// jobRow is one input row, while it is being worked on.
type jobRow struct {
	n     int // position in the input, from 1
	line  int // the row's line in its file, when the rows came from one
	val   lua.LValue
	key   string
	cells []string // input columns for the report
	// loadErr is set when the row could not be read back from the row
	// file: the job stops with it when the row comes up.
	loadErr error
	// hasCP is set when the job's checkpoints held the row's key at the
	// start; cpLoaded once prev was read (when the row first came up).
	hasCP, cpLoaded bool
	prev            checkpoint
	// prevRaw is prev as stored (nil: no checkpoint), to tell a change.
	prevRaw []byte
	// elsewhere is set when prev was written by another process while
	// this job ran (a shared store).
	elsewhere bool
	claimed   bool      // this run holds the row's claim
	fence     int64     // the claim's fencing token
	claimedAt time.Time // when the claim was taken or last checked
	deferred  bool      // another process held the claim when the row came up

	req   *request          // the row's call, once prepared
	fp    string            // req's fingerprint (callFingerprint)
	shown map[string]string // req's params as the checkpoint keeps them
	// why says why a row done before is sent again ("changed since ...").
	why string
	// intent is set while the row's sending record is stored and its
	// call in flight; resend once verify found the row not applied.
	intent, resend bool
	// verified is set once verify ran for the row in this run (it runs
	// at most once a row a run); verifyLater while its report waits for
	// verify at the end of the run.
	verified, verifyLater bool
}

// where names the row in messages.
func (r *jobRow) where() string {
	return where(r.n, r.line)
}

func where(n, line int) string {
	if line > 0 {
		return fmt.Sprintf("row %d (line %d)", n, line)
	}
	return fmt.Sprintf("row %d", n)
}

// shownLine is the report's line of a row: its line in its file, else its
// position in the input.
func shownLine(n, line int) int {
	if line > 0 {
		return line
	}
	return n
}

// rowStore holds a job's rows. They are read once, at the start (keys
// computed, duplicates refused), into a row file (a spool): a row that is
// a flat table of strings, numbers and booleans (what csv.rows and
// xlsx.rows give) is copied there and read back when it comes up, so the
// job holds in memory only the rows in progress, whatever the size of its
// input; a row that is not (a table holding tables or functions, one with
// a metatable) and every row of an array the script passed stay in memory
// as they are. Per row the job keeps a few bytes: a hash of its key, a
// checkpoint bit; records are found by reading on from the offset of every
// rowMark-th row.
type rowStore struct {
	j     *job
	spool *spool
	n     int                // rows
	marks []int64            // the offset of row k*rowMark
	cur   cursor             // where the next read starts
	mem   map[int]lua.LValue // rows kept as they are, by index
	live  map[int]*jobRow    // rows loaded and not yet reported
	seed  maphash.Seed
	// index holds, for each row, a 32-bit hash of its key and the row's
	// position (hash<<32 | i), sorted once the rows are read: duplicates
	// are found, and the checkpoints found at the start matched to their
	// rows, by comparing the keys of equal hashes (read from the row file).
	index []uint64
	hasCP []uint64 // a bit per row: its key had a checkpoint at the start
	// reported has a bit per row once it is settled (done).
	reported []uint64
}

func newRowStore(j *job) (*rowStore, error) {
	sp, err := newSpool("job-rows")
	if err != nil {
		return nil, err
	}
	return &rowStore{j: j, spool: sp, mem: map[int]lua.LValue{}, live: map[int]*jobRow{}, seed: maphash.MakeSeed()}, nil
}

func (s *rowStore) hash(key string) uint64 { return maphash.String(s.seed, key) >> 32 }

// rowMark is how many rows there are between the offsets a rowStore keeps.
const rowMark = 64

// cursor is a position in the row file: row i's record is at offset at.
type cursor struct {
	i  int
	at int64
}

// len is the number of rows.
func (s *rowStore) len() int { return s.n }

// close removes the row file.
func (s *rowStore) close() {
	if s != nil && s.spool != nil {
		s.spool.Close()
	}
}

// add stores the next row; keys are checked once every row is in
// (checkKeys).
func (s *rowStore) add(v lua.LValue, line int, key string) error {
	i := s.n
	s.index = append(s.index, s.hash(key)<<32|uint64(i))
	var e encoder
	e.uint(uint64(line))
	e.str(key)
	mark := len(e.b)
	e.b = append(e.b, 0)
	if _, isArray := s.j.spec.rows.(*lua.LTable); isArray || !e.flat(v) {
		e.b = e.b[:mark+1]
		e.b[mark] = 1 // kept in memory
		s.mem[i] = v
	}
	at, err := s.spool.Append(e.b)
	if err != nil {
		return fmt.Errorf("writing the row file: %w", err)
	}
	if i%rowMark == 0 {
		s.marks = append(s.marks, at)
	}
	s.n++
	return nil
}

// record reads row i's line, key and (with L) value.
func (s *rowStore) record(i int, L *lua.LState) (int, string, lua.LValue, error) {
	if i < s.cur.i || i-s.cur.i >= rowMark { // else read on from the cursor
		s.cur = cursor{i: i / rowMark * rowMark, at: s.marks[i/rowMark]}
	}
	var b []byte
	var err error
	for s.cur.i <= i && err == nil {
		var next int64
		b, next, err = s.spool.ReadNext(s.cur.at)
		s.cur = cursor{i: s.cur.i + 1, at: next}
	}
	if err != nil {
		s.cur = cursor{}
		return 0, "", nil, fmt.Errorf("reading row %d back from the row file: %w", i+1, err)
	}
	d := decoder{b: b}
	line := int(d.uint())
	key := d.str()
	var v lua.LValue = lua.LNil
	if L != nil && len(d.b) > 0 {
		inMem := d.b[0] == 1
		d.b = d.b[1:]
		if inMem {
			v = s.mem[i]
		} else {
			v = d.value(L)
		}
	}
	if d.err != nil {
		return 0, "", nil, fmt.Errorf("reading row %d back from the row file: %w", i+1, d.err)
	}
	return line, key, v, nil
}

// keyAt returns row i's line and key.
func (s *rowStore) keyAt(i int) (int, string, error) {
	line, key, _, err := s.record(i, nil)
	return line, key, err
}

// checkKeys sorts the index and refuses duplicate keys, naming the first
// row whose key an earlier row has, and that earlier row.
func (s *rowStore) checkKeys() error {
	slices.Sort(s.index)
	best := [2]int{-1, -1}
	for a := 0; a < len(s.index); {
		b := a + 1
		for b < len(s.index) && s.index[b]>>32 == s.index[a]>>32 {
			b++
		}
		for x := a; x < b-1; x++ { // rows of one hash, in input order
			for y := x + 1; y < b; y++ {
				i, j := int(uint32(s.index[x])), int(uint32(s.index[y]))
				if best[1] >= 0 && j >= best[1] {
					break
				}
				_, ki, err := s.keyAt(i)
				if err != nil {
					return err
				}
				_, kj, err := s.keyAt(j)
				if err != nil {
					return err
				}
				if ki == kj {
					best = [2]int{i, j}
				}
			}
		}
		a = b
	}
	if best[1] < 0 {
		return nil
	}
	li, key, _ := s.keyAt(best[0])
	lj, _, _ := s.keyAt(best[1])
	return fmt.Errorf("duplicate key %q: %s and %s (keys must be unique per row)", key, where(best[0]+1, li), where(best[1]+1, lj))
}

// markCheckpoints notes which rows have a key among keys (the keys of the
// job's checkpoints), in one pass over the row file.
func (s *rowStore) markCheckpoints(keys []string) error {
	if len(keys) == 0 || s.n == 0 {
		return nil
	}
	byHash := make([]uint64, len(keys)) // hash<<32 | position in keys
	for k, key := range keys {
		byHash[k] = s.hash(key)<<32 | uint64(k)
	}
	slices.Sort(byHash)
	for i := range s.n {
		_, key, _, err := s.record(i, nil)
		if err != nil {
			return err
		}
		h := s.hash(key)
		k, _ := slices.BinarySearch(byHash, h<<32)
		for ; k < len(byHash) && byHash[k]>>32 == h; k++ {
			if keys[uint32(byHash[k])] == key {
				s.markCheckpoint(i)
				break
			}
		}
	}
	return nil
}

// markCheckpoint notes that row i's key has a checkpoint.
func (s *rowStore) markCheckpoint(i int) {
	if s.hasCP == nil {
		s.hasCP = make([]uint64, (s.n+63)/64)
	}
	s.hasCP[i/64] |= 1 << (i % 64)
}

// at returns row i (from 0), reading it back from the row file the first
// time; it stays in memory until it is reported (release).
func (s *rowStore) at(i int) *jobRow {
	if r, ok := s.live[i]; ok {
		return r
	}
	r := s.load(i)
	s.live[i] = r
	return r
}

// load reads row i without keeping it.
func (s *rowStore) load(i int) *jobRow {
	r := &jobRow{n: i + 1}
	line, key, v, err := s.record(i, s.j.L)
	if err != nil {
		r.loadErr, r.val = err, lua.LNil
		return r
	}
	r.line, r.key, r.val = line, key, v
	r.hasCP = s.hasCP != nil && s.hasCP[i/64]&(1<<(i%64)) != 0
	r.cells = s.j.cells(v)
	return r
}

// done marks a row settled (reported) and lets it go.
func (s *rowStore) done(r *jobRow) {
	i := r.n - 1
	if s.reported == nil {
		s.reported = make([]uint64, (s.n+63)/64)
	}
	s.reported[i/64] |= 1 << (i % 64)
	delete(s.live, i)
}

// isDone reports whether row i is settled.
func (s *rowStore) isDone(i int) bool {
	return s.reported != nil && s.reported[i/64]&(1<<(i%64)) != 0
}

// readRows reads every row, maps the columns option's keys onto them,
// computes the keys and checks they are unique.
func (j *job) readRows() error {
	rs, err := newRowStore(j)
	if err != nil {
		return err
	}
	j.rows = rs
	header := stdlib.RowsHeader(j.spec.rows)
	var aliases []sheet.Alias
	first := true
	add := func(v lua.LValue, line int) error {
		n := rs.len() + 1
		if first {
			first = false
			if len(header.Names) == 0 {
				header = sheet.Header{Names: tableKeys(v)}
			}
			j.columns = j.inputColumns(header, v)
			if aliases, err = j.resolveColumns(header); err != nil {
				return err
			}
		}
		if len(aliases) > 0 {
			t, ok := v.(*lua.LTable)
			if !ok {
				return fmt.Errorf("%s is %s: the columns option maps the columns of rows that are tables", where(n, line), stdlib.Describe(v))
			}
			for _, a := range aliases {
				if a.Column < len(header.Names) {
					t.RawSetString(a.Key, t.RawGetString(header.Names[a.Column]))
				}
			}
		}
		rets, err := j.pcall(j.spec.key, 1, "key function failed on "+where(n, line), v)
		if err != nil {
			return err
		}
		var key string
		switch k := rets[0].(type) {
		case lua.LString:
			key = string(k)
		case lua.LNumber:
			key = numtext.Format(float64(k))
		default:
			return fmt.Errorf("key function returned %s for %s: want a non-empty string", stdlib.Describe(k), where(n, line))
		}
		if key == "" {
			return fmt.Errorf("key function returned an empty key for %s", where(n, line))
		}
		return rs.add(v, line, key)
	}
	switch src := j.spec.rows.(type) {
	case *lua.LTable:
		n := src.Len()
		for i := 1; i <= n; i++ {
			v := src.RawGetInt(i)
			if err := add(v, stdlib.RowsLine(src, v)); err != nil {
				return err
			}
		}
	default: // an iterator: a function, or a callable value such as csv.rows gives
		for {
			rets, err := j.pcall(src, 2, "reading rows")
			if err != nil {
				return err
			}
			if rets[0] == lua.LNil {
				break
			}
			line := 0
			if n, ok := rets[1].(lua.LNumber); ok {
				line = int(n)
			}
			if err := add(rets[0], line); err != nil {
				return err
			}
		}
	}
	if first && len(j.spec.aliases) > 0 && len(header.Names) > 0 { // no rows: the mapping is still checked
		if _, err := j.resolveColumns(header); err != nil {
			return err
		}
	}
	return rs.checkKeys()
}

// resolveColumns maps the columns option's keys onto header (by column
// name or label), naming the input file in errors.
func (j *job) resolveColumns(h sheet.Header) ([]sheet.Alias, error) {
	if len(j.spec.aliases) == 0 {
		return nil, nil
	}
	al, err := h.Resolve(j.spec.aliases)
	if err != nil {
		if src := stdlib.RowsSource(j.spec.rows); src != "" {
			return nil, fmt.Errorf("%s: %w", src, err)
		}
		return nil, err
	}
	return al, nil
}

// tableKeys are the string keys of a table row whose values are scalars,
// sorted (the columns of rows that carry no header).
func tableKeys(v lua.LValue) []string {
	t, ok := v.(*lua.LTable)
	if !ok {
		return nil
	}
	var cols []string
	t.ForEach(func(k, v lua.LValue) {
		if s, ok := k.(lua.LString); ok {
			switch v.(type) {
			case lua.LString, lua.LNumber, lua.LBool:
				cols = append(cols, string(s))
			}
		}
	})
	sort.Strings(cols)
	return cols
}

// inputColumns decides the report's input columns: the columns option's
// array, else the header the rows carry (csv.rows, csv.read, xlsx.rows,
// xlsx.read: in file order), else the first row's keys in sorted order.
func (j *job) inputColumns(h sheet.Header, first lua.LValue) []string {
	if len(j.spec.columns) > 0 {
		return j.spec.columns
	}
	if len(h.Names) > 0 {
		return h.Names
	}
	if _, ok := first.(*lua.LTable); !ok {
		return []string{"row"}
	}
	return nil
}

// cells renders a row's input columns as csv.writer renders cells
// (stdlib.CSVCell).
func (j *job) cells(v lua.LValue) []string {
	out := make([]string, len(j.columns))
	t, ok := v.(*lua.LTable)
	if !ok {
		if len(out) == 1 {
			out[0] = stdlib.CSVCell(j.L, v)
		}
		return out
	}
	for i, c := range j.columns {
		out[i] = stdlib.CSVCell(j.L, t.RawGetString(c))
	}
	return out
}
