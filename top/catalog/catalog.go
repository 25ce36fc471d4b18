// Package catalog is topscript's compiled-in knowledge of the TOP APIs:
// every method of the platform's published API model (5,312 methods) plus
// the hand-curated ones the model lacks, each with its title, doc id,
// category, read/write, idempotency, session need, every parameter with its
// type and limits, paging, list fields and the response tree with its types.
// It knows nothing of HTTP or Lua.
//
// # Where the facts come from
//
// Three inputs, in order of precedence: the hand facts in apis.toml
// (groups from the big-promotion notice, hand-checked idempotency, notes,
// paging, the 37 methods the model lacks); the project's own copy of the
// platform's API model in data/ (names, types, required flags and
// structured limits, titles, doc ids, categories, response trees, and the
// defaults, allowed values, maximums and "at most N" rules read out of the
// doc texts, see internal/mine); and inference (internal/infer: read or
// write from the name, paging from the parameters, the list field from the
// response; the session need from what the doc text says). Inferred facts
// are named in API.Inferred, facts read from doc texts in Param.Mined.
//
// # Regenerating
//
// When the reference model changes, a developer imports it, then
// regenerates the embedded catalog:
//
//	go run ./top/catalog/internal/importmodel -model PATH/top-api-model.jsonl
//	go generate ./top/catalog
//
// importmodel rewrites data/model.jsonl and data/categories.tsv (facts
// only, no doc sentences); go generate runs internal/gencatalog, which
// turns data/ and apis.toml into catalog.bin. A test fails when catalog.bin
// is not what its inputs make. Nothing in the build or the tests reads the
// reference model itself.
//
// # Start-up
//
// catalog.bin is embedded and read in place: an index of sorted method names
// that Lookup binary-searches, and one small record per method decoded the
// first time it is looked up. A run that calls one method decodes one
// record; All, Find and Names read everything only when asked.
package catalog

import (
	"strconv"
	"strings"
)

// Access says whether a method reads or changes state.
type Access string

// Access values.
const (
	Read  Access = "read"
	Write Access = "write"
)

// Param is one request parameter of an API. A dotted name ("param0.page")
// is a member of a structured (JSON) parameter: shown, not validated.
type Param struct {
	Name     string
	Type     string // String, Number, Boolean, Date, Price, Json, byte[], Number[], a struct name, ...
	Required bool
	MaxList  int // most list elements allowed (comma-joined, or a JSON array of objects); 0 = no limit
	MaxLen   int // most characters (the docs' byte limits are counted as characters); 0 = no limit
	MinLen   int // fewest characters; 0 = no limit
	Min, Max *float64
	Default  string
	Enum     []string // allowed values (of each element of a list); nil = any
	// List is true for a parameter documented as a scalar (String, Number)
	// that takes comma-joined values ("1001,1002"), or values joined by
	// ListSep ("sku_id:qty;sku_id:qty").
	List    bool
	ListSep string // the separator of a List when not ","
	// Decimal is true for a Number that carries money or another decimal.
	Decimal bool
	Example string // example value as the platform documents it
	Desc    string // hand-written description (apis.toml), if any
	// Mined names the facts above read from the doc text rather than taken
	// from the platform's structured limits or the hand facts: "default",
	// "enum", "min", "max", "max_len", "min_len", "max_list", "list",
	// "decimal".
	Mined []string
}

// Paging describes how an API pages.
type Paging struct {
	// Style is "page" (a page number and a page size: what top.pages
	// walks), "offset" (an offset and a limit) or "cursor".
	Style          string
	PageParam      string // "page_no"; "offset" for the offset style
	CursorParam    string // the cursor style's parameter ("scroll_id")
	SizeParam      string // "page_size"
	DefaultSize    int
	MaxSize        int
	TotalField     string // "total_results", "" if none
	HasNext        bool   // answers has_next
	UseHasNext     bool   // accepts use_has_next=true
	Reverse        bool   // increment API: page backwards from the last page
	SpanStart      string // e.g. "start_modified"
	SpanEnd        string // e.g. "end_modified"
	MaxSpanSeconds int    // longest allowed start..end span; 0 = no limit
	TotalPages     string // field answering the number of pages (e.g. "total_page"), "" if none
}

// API is one catalog entry.
type API struct {
	Method     string
	Title      string // Chinese title as the platform documents it
	DocID      int    // the doc page's id (DocURL); 0 if unknown
	Category   string // the platform's category code ("fenxiao", "tbitem")
	Group      string // e.g. 分销API, 交易API, 运费模板, 营销API: the hand group, else the category's name
	Access     Access
	Idempotent bool   // safe to send twice (a price set is; a stock increment is not)
	Session    string // "required", "optional", "none" or "unknown"
	Params     []Param
	Paging     *Paging
	ListField  string // response list, e.g. "trades"
	Unmapped   bool   // a documented title with no known method name

	Aliases []string // other titles the API is documented under (searchable)
	// IdempotentIf, when set, names the parameter values under which a call
	// of a method that is not idempotent as a whole is (see IdempotentFor).
	IdempotentIf *Condition
	Note         string   // provenance and caveats, one paragraph
	Lists        []string // every list field of the response, e.g. "trade.orders"
	// ParamsFiltered is the number of parameters the source documents when
	// Params holds only the required, limited and paging ones (0 = complete).
	ParamsFiltered int
	// ParamsUnknown is true when nothing is known of the parameters.
	ParamsUnknown bool

	// Inferred names the facts inferred rather than documented or
	// hand-checked: "access", "idempotent", "session", "paging",
	// "list_field".
	Inferred []string
	// Curated is true when apis.toml holds hand facts about the method;
	// InModel when the platform's API model documents it.
	Curated, InModel bool

	respID int // the response tree's struct (see Response)
}

// DocURL is the method's doc page on open.taobao.com, "" when unknown.
func (a *API) DocURL() string {
	if a == nil || a.DocID == 0 {
		return ""
	}
	return "https://open.taobao.com/api.htm?docId=" + strconv.Itoa(a.DocID) + "&docType=2"
}

// IsInferred reports whether fact ("access", "session", "paging", ...) is
// inferred for a.
func (a *API) IsInferred(fact string) bool {
	if a == nil {
		return false
	}
	for _, f := range a.Inferred {
		if f == fact {
			return true
		}
	}
	return false
}

// Field is one field of a response: Fields are the members of a struct,
// or of each element of a list of structs (Type "Trade[]").
type Field struct {
	Name   string
	Type   string // String, Number, Boolean, Date, Price, Json, String[], Trade, Order[], ...
	Fields []Field
}

// Condition is a test on one request parameter: it holds when the parameter
// is absent or empty and Absent is true, or when its value is one of Values.
type Condition struct {
	Param  string
	Values []string
	Absent bool
}

// Holds reports whether the condition holds for params.
func (c *Condition) Holds(params map[string]string) bool {
	if c == nil {
		return false
	}
	v := params[c.Param]
	if v == "" {
		return c.Absent
	}
	for _, w := range c.Values {
		if v == w {
			return true
		}
	}
	return false
}

// String writes the condition, e.g. "type=1" or "type absent or type=1".
func (c *Condition) String() string {
	if c == nil {
		return ""
	}
	var alts []string
	if c.Absent {
		alts = append(alts, c.Param+" absent")
	}
	for _, v := range c.Values {
		alts = append(alts, c.Param+"="+v)
	}
	return strings.Join(alts, " or ")
}
