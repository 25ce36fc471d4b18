// Package build makes the compiled-in catalog (catalog.bin) from its two
// inputs: the project's copy of the platform's API model (data/model.jsonl,
// data/categories.tsv; see internal/model) and the hand facts (apis.toml).
//
// Every method of the model becomes an entry: its title, doc id, category,
// every parameter flattened (members of structured parameters as dotted
// names) with the platform's limits and the facts mined from its doc text,
// its response tree, and what internal/infer infers (read or write from the
// name, paging, the list field), marked as inferred. The session need comes
// from what the doc text says of one (marked inferred; "unknown" when it
// says nothing). A method with hand facts keeps every one of them: they win
// over the model's and over every inference (a hand session "unknown" does
// not hide an inferred one). Methods that only the hand facts know (removed
// or invite-only APIs) are entries too.
//
// The model's max_length counts characters only for String parameters; on a
// Number or a file (byte[]) it is not a length the client can check, and is
// left out.
package build

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/topscript/topscript/top/catalog/internal/blob"
	"github.com/topscript/topscript/top/catalog/internal/infer"
	"github.com/topscript/topscript/top/catalog/internal/model"
)

// Inputs names the files a build reads.
type Inputs struct {
	DataDir string // holds model.MethodsFile and model.CategoriesFile
	Hand    string // apis.toml
}

// Default are the inputs relative to the top/catalog directory.
var Default = Inputs{DataDir: "data", Hand: "apis.toml"}

// Stats says what a build made.
type Stats struct {
	Methods, InModel, HandOnly, Curated, Unmapped, Structs int
}

// Build reads in and returns the blob.
func Build(in Inputs) ([]byte, Stats, error) {
	var st Stats
	mf, err := os.Open(filepath.Join(in.DataDir, model.MethodsFile))
	if err != nil {
		return nil, st, err
	}
	defer mf.Close()
	methods, err := model.ReadMethods(mf, mf.Name())
	if err != nil {
		return nil, st, err
	}
	cf, err := os.Open(filepath.Join(in.DataDir, model.CategoriesFile))
	if err != nil {
		return nil, st, err
	}
	defer cf.Close()
	cats, err := model.ReadCategories(cf, cf.Name())
	if err != nil {
		return nil, st, err
	}
	src, err := os.ReadFile(in.Hand)
	if err != nil {
		return nil, st, err
	}
	hand, err := ParseHand(string(src))
	if err != nil {
		return nil, st, fmt.Errorf("%s: %w", in.Hand, err)
	}
	return assemble(methods, cats, hand)
}

func assemble(methods []model.Method, cats []model.Category, hand *Hand) ([]byte, Stats, error) {
	var st Stats
	catName := map[string]string{}
	for _, c := range cats {
		catName[c.Code] = strings.TrimRight(strings.TrimSpace(c.Name), ",，、 ")
	}
	shapes := newShapes()
	byName := map[string]*blob.Method{}
	var order []string
	for i := range methods {
		m := &methods[i]
		rec := fromModel(m, catName[m.Category], shapes)
		byName[m.Method] = rec
		order = append(order, m.Method)
		st.InModel++
	}
	for i := range hand.API {
		h := &hand.API[i]
		rec, ok := byName[h.Method]
		if !ok {
			rec = &blob.Method{}
			byName[h.Method] = rec
			order = append(order, h.Method)
			st.HandOnly++
		}
		overlay(rec, h)
		st.Curated++
	}
	entries := make([]blob.Entry, 0, len(order))
	for _, name := range order {
		entries = append(entries, blob.Entry{Name: name, Record: *byName[name]})
	}
	var um []blob.Unmapped
	for _, u := range hand.Unmapped {
		um = append(um, blob.Unmapped{Title: u.Title, Group: u.Group, Note: u.Note})
	}
	st.Methods, st.Unmapped, st.Structs = len(entries), len(um), len(shapes.list)
	b, err := blob.Write(entries, shapes.list, um)
	return b, st, err
}

// fromModel makes the entry of a model method, every fact not documented
// being inferred.
func fromModel(m *model.Method, group string, shapes *shapes) *blob.Method {
	rec := &blob.Method{
		Title: m.Title, DocID: m.DocID, Category: m.Category, Group: group,
		InModel: true, Session: "unknown",
	}
	rec.Params = flatten(m.Params, "")
	if infer.ReadName(m.Method) {
		rec.Access, rec.Idempotent = "read", true
		rec.Inferred = append(rec.Inferred, "access")
	} else {
		rec.Access = "write"
		rec.Inferred = append(rec.Inferred, "access", "idempotent")
	}
	if m.Session != "" {
		rec.Session = m.Session
		rec.Inferred = append(rec.Inferred, "session")
	}
	resp := fieldInfos(m.Response)
	var pinfo []infer.ParamInfo
	for _, p := range rec.Params {
		pinfo = append(pinfo, infer.ParamInfo{Name: p.Name, Default: p.Default, Min: p.Min, Max: p.Max})
	}
	if pg := infer.Paging(pinfo, resp); pg != nil {
		rec.Paging = pg
		rec.Inferred = append(rec.Inferred, "paging")
	}
	rec.Lists = infer.Lists(resp, 3)
	if lf := infer.ListField(resp); lf != "" {
		rec.ListField = lf
		rec.Inferred = append(rec.Inferred, "list_field")
	}
	rec.Response = shapes.intern(m.Response)
	return rec
}

func fieldInfos(fs []model.Field) []infer.FieldInfo {
	out := make([]infer.FieldInfo, len(fs))
	for i, f := range fs {
		out[i] = infer.FieldInfo{Name: f.Name, Type: f.Type, Fields: fieldInfos(f.Fields)}
	}
	return out
}

// flatten lists ps and their members (as "parent.member") in order.
func flatten(ps []model.Param, prefix string) []blob.Param {
	var out []blob.Param
	for _, p := range ps {
		out = append(out, param(p, prefix))
		out = append(out, flatten(p.Fields, prefix+p.Name+".")...)
	}
	return out
}

// param merges a parameter's structured limits with what its doc text
// says; the structured ones win.
func param(p model.Param, prefix string) blob.Param {
	bp := blob.Param{Name: prefix + p.Name, Type: p.Type, Required: p.Required, MaxList: p.MaxList, Min: p.Min, Max: p.Max}
	if p.MaxLength > 0 && p.Type == "String" {
		bp.MaxLen = p.MaxLength
	}
	if p.MaxList > 0 && !strings.HasSuffix(p.Type, "[]") {
		// The platform's maxListSize on a scalar: comma-joined values.
		bp.List = true
	}
	d := p.Doc
	if d == nil {
		return bp
	}
	mined := func(name string) { bp.Mined = append(bp.Mined, name) }
	if d.Default != "" {
		bp.Default = d.Default
		mined("default")
	}
	if len(d.Enum) > 0 {
		bp.Enum = d.Enum
		mined("enum")
	}
	if bp.Min == nil && d.Min != nil {
		bp.Min = d.Min
		mined("min")
	}
	if bp.Max == nil && d.Max != nil {
		bp.Max = d.Max
		mined("max")
	}
	if bp.MaxLen == 0 && d.MaxLength > 0 {
		bp.MaxLen = d.MaxLength
		mined("max_len")
	}
	if d.MinLength > 0 {
		bp.MinLen = d.MinLength
		mined("min_len")
	}
	if bp.MaxList == 0 && d.MaxList > 0 {
		bp.MaxList = d.MaxList
		mined("max_list")
	}
	if d.List {
		bp.List = true
		mined("list")
	}
	if d.Decimal {
		bp.Decimal = true
		mined("decimal")
	}
	return bp
}

// overlay applies hand facts to rec; they win.
func overlay(rec *blob.Method, h *HandAPI) {
	rec.Curated = true
	if h.Title != "" {
		rec.Title = h.Title
	}
	if h.Group != "" {
		rec.Group = h.Group
	}
	rec.Aliases = h.Aliases
	rec.Note = h.Note
	rec.Access, rec.Idempotent = h.Access, h.Idempotent
	rec.Inferred = without(rec.Inferred, "access", "idempotent")
	if c := h.IdempotentIf; c != nil {
		rec.IdempotentIf = &blob.Cond{Param: c.Param, Values: c.Values, Absent: c.Absent}
	}
	if h.Session != "" && h.Session != "unknown" || rec.Session == "" {
		rec.Session = h.Session
		if rec.Session == "" {
			rec.Session = "unknown"
		}
		rec.Inferred = without(rec.Inferred, "session")
	}
	// Hand paging and lists win whole: a curated entry without paging does
	// not page (alibaba.ascp.cnsku.search pages through a structured
	// parameter's fields, which top.pages cannot).
	rec.Paging = nil
	if pg := h.Paging; pg != nil {
		rec.Paging = &blob.Paging{
			Style: "page", Page: pg.Page, Size: pg.Size, DefaultSize: pg.DefaultSize, MaxSize: pg.MaxSize,
			Total: pg.Total, TotalPages: pg.TotalPages, HasNext: pg.HasNext, UseHasNext: pg.UseHasNext,
			Reverse: pg.Reverse, SpanStart: pg.SpanStart, SpanEnd: pg.SpanEnd, MaxSpanSeconds: pg.MaxSpanSeconds,
		}
	}
	rec.ListField, rec.Lists = h.ListField, h.Lists
	rec.Inferred = without(rec.Inferred, "paging", "list_field")
	if !rec.InModel {
		rec.ParamsFiltered, rec.ParamsUnknown = h.ParamsFiltered, h.ParamsUnknown
	}
	for _, hp := range h.Params {
		i := slices.IndexFunc(rec.Params, func(p blob.Param) bool { return p.Name == hp.Name })
		if i < 0 {
			rec.Params = append(rec.Params, blob.Param{Name: hp.Name})
			i = len(rec.Params) - 1
		}
		p := &rec.Params[i]
		p.Type = hp.Type
		p.Required = p.Required || hp.Required
		if hp.MaxList > 0 {
			p.MaxList, p.Mined = hp.MaxList, without(p.Mined, "max_list")
		}
		if hp.ListSep != "" {
			// A scalar holding a list joined by ListSep ("id:qty;id:qty").
			p.ListSep, p.List, p.Mined = hp.ListSep, true, without(p.Mined, "list")
		}
		if hp.MaxLen > 0 {
			p.MaxLen, p.Mined = hp.MaxLen, without(p.Mined, "max_len")
		}
		if hp.Min != nil {
			p.Min, p.Mined = hp.Min, without(p.Mined, "min")
		}
		if hp.Max != nil {
			p.Max, p.Mined = hp.Max, without(p.Mined, "max")
		}
		if hp.Default != "" {
			p.Default, p.Mined = hp.Default, without(p.Mined, "default")
		}
		if hp.Example != "" {
			p.Example = hp.Example
		}
		if hp.Desc != "" {
			p.Desc = hp.Desc
		}
	}
	if len(rec.Inferred) == 0 {
		rec.Inferred = nil
	}
}

func without(list []string, drop ...string) []string {
	out := list[:0:0]
	for _, s := range list {
		if !slices.Contains(drop, s) {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// shapes deduplicates response structs by shape.
type shapes struct {
	ids  map[string]int
	list [][]blob.Field
}

func newShapes() *shapes { return &shapes{ids: map[string]int{}} }

// intern returns the id of fs's shape (0 for none), interning its members'
// shapes first.
func (s *shapes) intern(fs []model.Field) int {
	if len(fs) == 0 {
		return 0
	}
	out := make([]blob.Field, len(fs))
	for i, f := range fs {
		out[i] = blob.Field{Name: f.Name, Type: f.Type, Struct: s.intern(f.Fields)}
	}
	key, _ := json.Marshal(out)
	if id, ok := s.ids[string(key)]; ok {
		return id
	}
	s.list = append(s.list, out)
	s.ids[string(key)] = len(s.list)
	return len(s.list)
}

// Hand is the parsed apis.toml.
type Hand struct {
	API      []HandAPI      `toml:"api"`
	Unmapped []HandUnmapped `toml:"unmapped"`
}

// HandAPI is one [[api]] table.
type HandAPI struct {
	Method         string      `toml:"method"`
	Title          string      `toml:"title"`
	Aliases        []string    `toml:"aliases"`
	Group          string      `toml:"group"`
	Access         string      `toml:"access"`
	Idempotent     bool        `toml:"idempotent"`
	IdempotentIf   *HandCond   `toml:"idempotent_if"`
	Session        string      `toml:"session"`
	Note           string      `toml:"note"`
	ParamsUnknown  bool        `toml:"params_unknown"`
	ParamsFiltered int         `toml:"params_filtered"`
	Params         []HandParam `toml:"params"`
	Paging         *HandPaging `toml:"paging"`
	ListField      string      `toml:"list_field"`
	Lists          []string    `toml:"lists"`
}

// HandCond is an idempotent_if table.
type HandCond struct {
	Param  string   `toml:"param"`
	Values []string `toml:"values"`
	Absent bool     `toml:"absent"`
}

// HandParam is one entry of params.
type HandParam struct {
	Name     string   `toml:"name"`
	Type     string   `toml:"type"`
	Required bool     `toml:"required"`
	MaxList  int      `toml:"max_list"`
	ListSep  string   `toml:"list_sep"`
	MaxLen   int      `toml:"max_len"`
	Min      *float64 `toml:"min"`
	Max      *float64 `toml:"max"`
	Default  string   `toml:"default"`
	Example  string   `toml:"example"`
	Desc     string   `toml:"desc"`
}

// HandPaging is a paging table.
type HandPaging struct {
	Page           string `toml:"page"`
	Size           string `toml:"size"`
	DefaultSize    int    `toml:"default_size"`
	MaxSize        int    `toml:"max_size"`
	Total          string `toml:"total"`
	TotalPages     string `toml:"total_pages"`
	HasNext        bool   `toml:"has_next"`
	UseHasNext     bool   `toml:"use_has_next"`
	Reverse        bool   `toml:"reverse"`
	SpanStart      string `toml:"span_start"`
	SpanEnd        string `toml:"span_end"`
	MaxSpanSeconds int    `toml:"max_span_seconds"`
}

// HandUnmapped is one [[unmapped]] table.
type HandUnmapped struct {
	Title string `toml:"title"`
	Group string `toml:"group"`
	Note  string `toml:"note"`
}

// ParseHand decodes and checks apis.toml: no unknown key, no method twice,
// access read or write, every read idempotent, a known session value,
// parameters with a name and a type and none twice, paging with a page or
// size parameter, a span limit with both span parameters.
func ParseHand(src string) (*Hand, error) {
	var h Hand
	md, err := toml.Decode(src, &h)
	if err != nil {
		return nil, err
	}
	if und := md.Undecoded(); len(und) > 0 {
		return nil, fmt.Errorf("unknown key %s", und[0])
	}
	seen := map[string]bool{}
	for i := range h.API {
		a := &h.API[i]
		bad := func(format string, args ...any) error {
			return fmt.Errorf("%s: %s", a.Method, fmt.Sprintf(format, args...))
		}
		if a.Method == "" || strings.ContainsAny(a.Method, " \t") {
			return nil, fmt.Errorf("bad method name %q", a.Method)
		}
		if seen[a.Method] {
			return nil, bad("listed twice")
		}
		seen[a.Method] = true
		switch a.Access {
		case "read", "write":
		default:
			return nil, bad("access %q is neither read nor write", a.Access)
		}
		if a.Access == "read" && !a.Idempotent {
			return nil, bad("a read must be idempotent")
		}
		switch a.Session {
		case "required", "optional", "none", "unknown", "":
		default:
			return nil, bad("session %q", a.Session)
		}
		names := map[string]bool{}
		for _, p := range a.Params {
			if p.Name == "" || p.Type == "" {
				return nil, bad("parameter without name or type")
			}
			if names[p.Name] {
				return nil, bad("parameter %s listed twice", p.Name)
			}
			names[p.Name] = true
		}
		if pg := a.Paging; pg != nil {
			if pg.Page == "" && pg.Size == "" {
				return nil, bad("paging without page or size parameter")
			}
			if pg.MaxSpanSeconds > 0 && (pg.SpanStart == "" || pg.SpanEnd == "") {
				return nil, bad("max_span_seconds without span_start and span_end")
			}
		}
	}
	for _, u := range h.Unmapped {
		if u.Title == "" {
			return nil, fmt.Errorf("unmapped entry without a title")
		}
	}
	return &h, nil
}
