// Package catalog is topscript's compiled-in knowledge of the TOP APIs its
// users live on: titles, groups, read/write, idempotency, parameters with
// their limits, paging and list fields. It knows nothing of HTTP or Lua.
package catalog

import (
	"strings"
)

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
	Example  string // example value as the platform documents it
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
	TotalPages     string // field answering the number of pages (e.g. "total_page"), "" if none
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
