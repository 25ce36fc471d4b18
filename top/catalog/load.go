package catalog

import (
	_ "embed"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/BurntSushi/toml"
)

// apisTOML is the catalog, authored in the project's own format: one [[api]]
// table per method and one [[unmapped]] table per documented title whose
// method is unknown. The header of the file describes every key.
//
//go:embed apis.toml
var apisTOML string

type fileData struct {
	API      []apiData      `toml:"api"`
	Unmapped []unmappedData `toml:"unmapped"`
}

type apiData struct {
	Method         string      `toml:"method"`
	Title          string      `toml:"title"`
	Aliases        []string    `toml:"aliases"`
	Group          string      `toml:"group"`
	Access         string      `toml:"access"`
	Idempotent     bool        `toml:"idempotent"`
	IdempotentIf   *condData   `toml:"idempotent_if"`
	Session        string      `toml:"session"`
	Note           string      `toml:"note"`
	ParamsUnknown  bool        `toml:"params_unknown"`
	ParamsFiltered int         `toml:"params_filtered"`
	Params         []paramData `toml:"params"`
	Paging         *pagingData `toml:"paging"`
	ListField      string      `toml:"list_field"`
	Lists          []string    `toml:"lists"`
}

type condData struct {
	Param  string   `toml:"param"`
	Values []string `toml:"values"`
	Absent bool     `toml:"absent"`
}

type paramData struct {
	Name     string   `toml:"name"`
	Type     string   `toml:"type"`
	Required bool     `toml:"required"`
	MaxList  int      `toml:"max_list"`
	MaxLen   int      `toml:"max_len"`
	Min      *float64 `toml:"min"`
	Max      *float64 `toml:"max"`
	Default  string   `toml:"default"`
	Example  string   `toml:"example"`
	Desc     string   `toml:"desc"`
}

type pagingData struct {
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

type unmappedData struct {
	Title string `toml:"title"`
	Group string `toml:"group"`
	Note  string `toml:"note"`
}

type index struct {
	all      []*API          // sorted by method, then title
	byMethod map[string]*API // mapped entries only
	names    []string        // sorted method names
}

var (
	loadOnce sync.Once
	loaded   *index
	loadErr  error
	// full is loaded once cat has run: Lookup then answers from it.
	full atomic.Pointer[index]
)

// cat returns the parsed catalog. The data is compiled in and checked by the
// package tests; should it ever fail to parse, the catalog is empty (every
// method passes through untouched) and loadErr says why.
func cat() *index {
	loadOnce.Do(func() {
		loaded, loadErr = parse(apisTOML)
		if loadErr != nil {
			loaded = &index{byMethod: map[string]*API{}}
		}
		full.Store(loaded)
	})
	return loaded
}

// Lookup does not parse the whole catalog (about 10 ms and 4 MB of
// garbage, a one-call script's biggest cost): a scan of the file finds
// each [[api]] table's text and method, and an entry is decoded alone the
// first time it is looked up. Tests check that every entry decodes alone
// exactly as in the whole file, and the whole file is used instead when
// it is already parsed or does not have the plain shape the scan expects.

// block is the text of one [[api]] table, decoded on first use.
type block struct {
	src  string
	once sync.Once
	api  *API // nil when the table does not decode alone
}

var (
	blocksOnce sync.Once
	blocks     map[string]*block // nil: use the whole catalog
)

// lookup returns the entry of method, decoding only its table when the
// whole catalog is not parsed yet.
func lookup(method string) (*API, bool) {
	if ix := full.Load(); ix != nil {
		a, ok := ix.byMethod[method]
		return a, ok
	}
	blocksOnce.Do(func() { blocks = scanBlocks(apisTOML) })
	if blocks == nil {
		a, ok := cat().byMethod[method]
		return a, ok
	}
	b, ok := blocks[method]
	if !ok {
		return nil, false
	}
	b.once.Do(func() { b.api = decodeBlock(b.src) })
	return b.api, b.api != nil
}

// scanBlocks splits src at its top-level table headers and maps each
// [[api]] table's method to its text. It returns nil when src is not in
// the plain shape it expects (every header a line of its own, every
// [[api]] with one method = "..." line before any other header, no method
// twice).
func scanBlocks(src string) map[string]*block {
	out := make(map[string]*block, 256)
	start, kind := -1, ""
	flush := func(end int) bool {
		if kind != "[[api]]" {
			return true
		}
		text := src[start:end]
		m, ok := blockMethod(text)
		if !ok {
			return false
		}
		if _, dup := out[m]; dup {
			return false
		}
		out[m] = &block{src: text}
		return true
	}
	for pos := 0; pos < len(src); {
		end := strings.IndexByte(src[pos:], '\n')
		if end < 0 {
			end = len(src)
		} else {
			end += pos
		}
		line := strings.TrimRight(src[pos:end], " \t\r")
		if strings.HasPrefix(line, "[") {
			switch line {
			case "[[api]]", "[[unmapped]]":
			default:
				return nil // a sub-table or another table: not the plain shape
			}
			if start >= 0 && !flush(pos) {
				return nil
			}
			start, kind = pos, line
		}
		pos = end + 1
	}
	if start >= 0 && !flush(len(src)) {
		return nil
	}
	return out
}

// blockMethod finds the method = "..." line of one [[api]] table.
func blockMethod(text string) (string, bool) {
	for _, line := range strings.Split(text, "\n") {
		rest, ok := strings.CutPrefix(line, "method = ")
		if !ok {
			continue
		}
		m, err := strconv.Unquote(strings.TrimSpace(rest))
		if err != nil || strings.ContainsAny(m, "\\\"") {
			return "", false
		}
		return m, true
	}
	return "", false
}

// decodeBlock decodes one [[api]] table alone; nil when it does not decode.
func decodeBlock(text string) *API {
	var fd fileData
	md, err := toml.Decode(text, &fd)
	if err != nil || len(md.Undecoded()) > 0 || len(fd.API) != 1 || len(fd.Unmapped) != 0 {
		return nil
	}
	a, err := fd.API[0].toAPI()
	if err != nil {
		return nil
	}
	return a
}

func parse(src string) (*index, error) {
	var fd fileData
	md, err := toml.Decode(src, &fd)
	if err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		return nil, fmt.Errorf("catalog: unknown key %s", und[0])
	}
	ix := &index{byMethod: make(map[string]*API, len(fd.API))}
	for i := range fd.API {
		a, err := fd.API[i].toAPI()
		if err != nil {
			return nil, err
		}
		if _, dup := ix.byMethod[a.Method]; dup {
			return nil, fmt.Errorf("catalog: %s: listed twice", a.Method)
		}
		ix.byMethod[a.Method] = a
		ix.all = append(ix.all, a)
		ix.names = append(ix.names, a.Method)
	}
	for _, u := range fd.Unmapped {
		if u.Title == "" {
			return nil, fmt.Errorf("catalog: unmapped entry without a title")
		}
		ix.all = append(ix.all, &API{Title: u.Title, Group: u.Group, Note: u.Note,
			Session: "unknown", Unmapped: true, ParamsUnknown: true})
	}
	sort.SliceStable(ix.all, func(i, j int) bool {
		if ix.all[i].Method != ix.all[j].Method {
			return ix.all[i].Method < ix.all[j].Method
		}
		return ix.all[i].Title < ix.all[j].Title
	})
	sort.Strings(ix.names)
	return ix, nil
}

func (d *apiData) toAPI() (*API, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("catalog: %s: %s", d.Method, fmt.Sprintf(format, args...))
	}
	if d.Method == "" || strings.ContainsAny(d.Method, " \t") {
		return nil, fmt.Errorf("catalog: bad method name %q", d.Method)
	}
	a := &API{
		Method:         d.Method,
		Title:          d.Title,
		Aliases:        d.Aliases,
		Group:          d.Group,
		Access:         Access(d.Access),
		Idempotent:     d.Idempotent,
		Session:        d.Session,
		Note:           d.Note,
		ParamsUnknown:  d.ParamsUnknown,
		ParamsFiltered: d.ParamsFiltered,
		ListField:      d.ListField,
		Lists:          d.Lists,
	}
	switch a.Access {
	case Read, Write:
	default:
		return nil, bad("access %q is neither read nor write", d.Access)
	}
	if a.Access == Read && !a.Idempotent {
		return nil, bad("a read must be idempotent")
	}
	switch a.Session {
	case "required", "optional", "none", "unknown":
	case "":
		a.Session = "unknown"
	default:
		return nil, bad("session %q", d.Session)
	}
	if c := d.IdempotentIf; c != nil {
		a.IdempotentIf = &Condition{Param: c.Param, Values: c.Values, Absent: c.Absent}
	}
	seen := map[string]bool{}
	for _, p := range d.Params {
		if p.Name == "" || p.Type == "" {
			return nil, bad("parameter without name or type")
		}
		if seen[p.Name] {
			return nil, bad("parameter %s listed twice", p.Name)
		}
		seen[p.Name] = true
		a.Params = append(a.Params, Param{
			Name: p.Name, Type: p.Type, Required: p.Required,
			MaxList: p.MaxList, MaxLen: p.MaxLen, Min: p.Min, Max: p.Max,
			Default: p.Default, Example: p.Example, Desc: p.Desc,
		})
	}
	if pg := d.Paging; pg != nil {
		a.Paging = &Paging{
			PageParam: pg.Page, SizeParam: pg.Size,
			DefaultSize: pg.DefaultSize, MaxSize: pg.MaxSize,
			TotalField: pg.Total, TotalPages: pg.TotalPages,
			HasNext: pg.HasNext, UseHasNext: pg.UseHasNext, Reverse: pg.Reverse,
			SpanStart: pg.SpanStart, SpanEnd: pg.SpanEnd, MaxSpanSeconds: pg.MaxSpanSeconds,
		}
		if pg.Page == "" && pg.Size == "" {
			return nil, bad("paging without page or size parameter")
		}
		if pg.MaxSpanSeconds > 0 && (pg.SpanStart == "" || pg.SpanEnd == "") {
			return nil, bad("max_span_seconds without span_start and span_end")
		}
	}
	return a, nil
}
