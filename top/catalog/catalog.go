// Package catalog is topscript's compiled-in knowledge of the TOP APIs its
// users live on: titles, groups, read/write, idempotency, parameters with
// their limits, paging and list fields. It knows nothing of HTTP or Lua.
package catalog

// Access says whether a method reads or changes state.
type Access string

// Access values.
const (
	Read  Access = "read"
	Write Access = "write"
)

// Param is one request parameter of an API.
type Param struct {
	Name     string
	Type     string // String, Number, Boolean, Date, Price, byte[], Number[], ...
	Required bool
	MaxList  int // most comma-joined elements allowed; 0 = no limit
	MaxLen   int // most bytes (or characters, as documented); 0 = no limit
	Min, Max *float64
	Default  string
	Desc     string
}

// Paging describes how an API pages.
type Paging struct {
	PageParam      string // "page_no"
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
}

// API is one catalog entry.
type API struct {
	Method     string
	Title      string // Chinese title as the platform documents it
	Group      string // e.g. 分销API, 交易API, 运费模板, 营销API
	Access     Access
	Idempotent bool   // safe to send twice (a price set is; a stock increment is not)
	Session    string // "required", "optional", "none" or "unknown"
	Params     []Param
	Paging     *Paging
	ListField  string // response list, e.g. "trades"
	Unmapped   bool   // a documented title with no known method name
}
