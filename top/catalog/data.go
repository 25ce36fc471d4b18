package catalog

import (
	_ "embed"
	"errors"
	"fmt"
	"sort"
	"sync"

	"github.com/topscript/topscript/top/catalog/internal/blob"
)

//go:generate go run ./internal/gencatalog

// catalogBin is the catalog, made by internal/gencatalog from data/ and
// apis.toml (see the package doc) and read in place.
//
//go:embed catalog.bin
var catalogBin string

// store is the catalog being read: the blob and what has been decoded of it
// (maps rather than slices of 5,349 and 10,394 slots: a run looks up a few).
type store struct {
	r       *blob.Reader
	apis    sync.Map // method index → *API, decoded on first use
	structs sync.Map // struct id → []Field, decoded on first use
}

var (
	openOnce sync.Once
	opened   *store
	// openErr says why the catalog could not be read. The blob is compiled
	// in and checked by the package tests; should it ever be unreadable,
	// the catalog is empty (every method passes through untouched).
	openErr error
)

func theStore() *store {
	openOnce.Do(func() { opened, openErr = openStore(catalogBin) })
	return opened
}

func openStore(b string) (*store, error) {
	r, err := blob.Open(b)
	if err != nil {
		return &store{}, err
	}
	return &store{r: r}, nil
}

// lookup returns method's entry, decoding its record the first time.
func (s *store) lookup(method string) (*API, bool) {
	if s.r == nil || method == "" {
		return nil, false
	}
	i, ok := s.r.Find(method)
	if !ok {
		return nil, false
	}
	a, err := s.at(i)
	return a, err == nil
}

// at returns the entry of method index i.
func (s *store) at(i int) (*API, error) {
	if a, ok := s.apis.Load(i); ok {
		return a.(*API), nil
	}
	rec, err := s.r.Method(i)
	if err != nil {
		return nil, fmt.Errorf("catalog: %s: %v", s.r.Name(i), err)
	}
	a, _ := s.apis.LoadOrStore(i, fromRecord(s.r.Name(i), &rec))
	return a.(*API), nil
}

// tree returns struct id's members with theirs, decoding each struct once
// (structs shared by several methods are shared here too).
func (s *store) tree(id int) ([]Field, error) {
	if id <= 0 || s.r == nil || id > s.r.Structs() {
		return nil, nil
	}
	if fs, ok := s.structs.Load(id); ok {
		return fs.([]Field), nil
	}
	raw, err := s.r.Struct(id)
	if err != nil {
		return nil, fmt.Errorf("catalog: response struct %d: %v", id, err)
	}
	out := make([]Field, len(raw))
	for i, f := range raw {
		out[i] = Field{Name: f.Name, Type: f.Type}
		if f.Struct > 0 {
			if f.Struct >= id {
				// Members are interned before the struct holding them.
				return nil, fmt.Errorf("catalog: response struct %d: member %s names struct %d", id, f.Name, f.Struct)
			}
			if out[i].Fields, err = s.tree(f.Struct); err != nil {
				return nil, err
			}
		}
	}
	fs, _ := s.structs.LoadOrStore(id, out)
	return fs.([]Field), nil
}

// Response returns the documented response tree of a: the fields of the
// payload, each with its type and, for structs and lists of structs, its
// members. It is nil for a method the platform's model does not document.
// Callers must not modify it.
func (a *API) Response() []Field {
	if a == nil || a.respID == 0 {
		return nil
	}
	fs, err := theStore().tree(a.respID)
	if err != nil {
		return nil
	}
	return fs
}

func fromRecord(method string, m *blob.Method) *API {
	a := &API{
		Method: method, Title: m.Title, DocID: m.DocID, Category: m.Category, Group: m.Group,
		Access: Access(m.Access), Idempotent: m.Idempotent, Session: m.Session, Note: m.Note,
		Aliases: m.Aliases, ListField: m.ListField, Lists: m.Lists,
		ParamsFiltered: m.ParamsFiltered, ParamsUnknown: m.ParamsUnknown,
		Inferred: m.Inferred, Curated: m.Curated, InModel: m.InModel, respID: m.Response,
	}
	if a.Session == "" {
		a.Session = "unknown"
	}
	if c := m.IdempotentIf; c != nil {
		a.IdempotentIf = &Condition{Param: c.Param, Values: c.Values, Absent: c.Absent}
	}
	if len(m.Params) > 0 {
		a.Params = make([]Param, len(m.Params))
		for i, p := range m.Params {
			a.Params[i] = Param{
				Name: p.Name, Type: p.Type, Required: p.Required,
				MaxList: p.MaxList, MaxLen: p.MaxLen, MinLen: p.MinLen, Min: p.Min, Max: p.Max,
				Default: p.Default, Enum: p.Enum, List: p.List, ListSep: p.ListSep, Decimal: p.Decimal,
				Example: p.Example, Desc: p.Desc, Mined: p.Mined,
			}
		}
	}
	if pg := m.Paging; pg != nil {
		a.Paging = &Paging{
			Style: pg.Style, PageParam: pg.Page, SizeParam: pg.Size, CursorParam: pg.Cursor,
			DefaultSize: pg.DefaultSize, MaxSize: pg.MaxSize,
			TotalField: pg.Total, TotalPages: pg.TotalPages,
			HasNext: pg.HasNext, UseHasNext: pg.UseHasNext, Reverse: pg.Reverse,
			SpanStart: pg.SpanStart, SpanEnd: pg.SpanEnd, MaxSpanSeconds: pg.MaxSpanSeconds,
		}
	}
	return a
}

// names are the sorted method names, read once (no record decoded).
var names = sync.OnceValue(func() []string {
	s := theStore()
	if s.r == nil {
		return nil
	}
	out := make([]string, s.r.Len())
	for i := range out {
		out[i] = s.r.Name(i)
	}
	return out
})

// everything is the whole catalog, decoded once when All or Find first
// needs it.
type everything struct {
	all []*API // unmapped titles first (by title), then by method
	err error
}

var whole = sync.OnceValue(func() *everything {
	s := theStore()
	e := &everything{err: openErr}
	if s.r == nil {
		return e
	}
	e.all = make([]*API, 0, s.r.Len()+16)
	var errs []error
	if um, err := s.r.Unmapped(); err != nil {
		errs = append(errs, fmt.Errorf("catalog: unmapped titles: %v", err))
	} else {
		for _, u := range um {
			e.all = append(e.all, &API{Title: u.Title, Group: u.Group, Note: u.Note,
				Session: "unknown", Unmapped: true, ParamsUnknown: true})
		}
		sort.SliceStable(e.all, func(i, j int) bool { return e.all[i].Title < e.all[j].Title })
	}
	for i := 0; i < s.r.Len(); i++ {
		a, err := s.at(i)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		e.all = append(e.all, a)
	}
	if len(errs) > 0 {
		e.err = errors.Join(errs...)
	}
	return e
})
