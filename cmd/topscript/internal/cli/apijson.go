package cli

import (
	"io"

	"github.com/topscript/topscript/top/catalog"
)

// This file is the JSON form of `topscript api list --json` and `api show
// --json`: the catalog's facts with snake_case keys, for jq and scripts.
// Facts read out of the doc's text are named in a parameter's "mined",
// inferred ones in the API's "inferred".

// apiSummary is one entry of `api list --json`.
type apiSummary struct {
	Method string `json:"method,omitempty"` // "" for a title with no known method
	Title  string `json:"title,omitempty"`
	Access string `json:"access,omitempty"`
	Group  string `json:"group,omitempty"`
	DocURL string `json:"doc_url,omitempty"`
}

// apiDetail is `api show --json`.
type apiDetail struct {
	Method         string        `json:"method,omitempty"`
	Title          string        `json:"title,omitempty"`
	Aliases        []string      `json:"aliases,omitempty"`
	DocID          int           `json:"doc_id,omitempty"`
	DocURL         string        `json:"doc_url,omitempty"`
	Category       string        `json:"category,omitempty"`
	Group          string        `json:"group,omitempty"`
	Access         string        `json:"access,omitempty"`
	Idempotent     bool          `json:"idempotent"`
	IdempotentWhen string        `json:"idempotent_when,omitempty"`
	Session        string        `json:"session,omitempty"`
	Inferred       []string      `json:"inferred,omitempty"`
	Note           string        `json:"note,omitempty"`
	ParamsUnknown  bool          `json:"params_unknown,omitempty"`
	ParamsFiltered int           `json:"params_documented,omitempty"`
	Params         []paramDetail `json:"params"`
	Paging         *pagingDetail `json:"paging,omitempty"`
	ListField      string        `json:"list_field,omitempty"`
	Lists          []string      `json:"lists,omitempty"`
	Response       []fieldDetail `json:"response,omitempty"`
}

type pagingDetail struct {
	Style          string `json:"style,omitempty"`
	PageParam      string `json:"page_param,omitempty"`
	CursorParam    string `json:"cursor_param,omitempty"`
	SizeParam      string `json:"size_param,omitempty"`
	DefaultSize    int    `json:"default_size,omitempty"`
	MaxSize        int    `json:"max_size,omitempty"`
	TotalField     string `json:"total_field,omitempty"`
	TotalPages     string `json:"total_pages_field,omitempty"`
	HasNext        bool   `json:"has_next,omitempty"`
	UseHasNext     bool   `json:"use_has_next,omitempty"`
	Reverse        bool   `json:"reverse,omitempty"`
	SpanStart      string `json:"span_start,omitempty"`
	SpanEnd        string `json:"span_end,omitempty"`
	MaxSpanSeconds int    `json:"max_span_seconds,omitempty"`
}

type paramDetail struct {
	Name     string   `json:"name"`
	Type     string   `json:"type"`
	Required bool     `json:"required"`
	List     bool     `json:"list,omitempty"`
	MaxList  int      `json:"max_list,omitempty"`
	MinLen   int      `json:"min_len,omitempty"`
	MaxLen   int      `json:"max_len,omitempty"`
	Min      *float64 `json:"min,omitempty"`
	Max      *float64 `json:"max,omitempty"`
	Decimal  bool     `json:"decimal,omitempty"`
	Default  string   `json:"default,omitempty"`
	Enum     []string `json:"enum,omitempty"`
	Example  string   `json:"example,omitempty"`
	Desc     string   `json:"description,omitempty"`
	Mined    []string `json:"mined,omitempty"`
}

type fieldDetail struct {
	Name   string        `json:"name"`
	Type   string        `json:"type"`
	Fields []fieldDetail `json:"fields,omitempty"`
}

// writeAPIListJSON writes apis as one JSON array of summaries.
func writeAPIListJSON(w io.Writer, apis []*catalog.API) error {
	out := make([]apiSummary, 0, len(apis))
	for _, a := range apis {
		s := apiSummary{Method: a.Method, Title: a.Title, Group: a.Group, DocURL: a.DocURL()}
		if !a.Unmapped {
			s.Access = string(a.Access)
		}
		out = append(out, s)
	}
	return writeJSON(w, out)
}

// writeAPIShowJSON writes everything the catalog knows of a as one JSON
// object.
func writeAPIShowJSON(w io.Writer, a *catalog.API) error {
	d := apiDetail{
		Method: a.Method, Title: a.Title, Aliases: a.Aliases, DocID: a.DocID, DocURL: a.DocURL(),
		Category: a.Category, Group: a.Group, Idempotent: a.Idempotent, Session: a.Session,
		Inferred: a.Inferred, Note: a.Note, ParamsUnknown: a.ParamsUnknown, ParamsFiltered: a.ParamsFiltered,
		Params: []paramDetail{}, ListField: a.ListField, Lists: a.Lists,
	}
	if pg := a.Paging; pg != nil {
		d.Paging = &pagingDetail{
			Style: pg.Style, PageParam: pg.PageParam, CursorParam: pg.CursorParam, SizeParam: pg.SizeParam,
			DefaultSize: pg.DefaultSize, MaxSize: pg.MaxSize, TotalField: pg.TotalField, TotalPages: pg.TotalPages,
			HasNext: pg.HasNext, UseHasNext: pg.UseHasNext, Reverse: pg.Reverse,
			SpanStart: pg.SpanStart, SpanEnd: pg.SpanEnd, MaxSpanSeconds: pg.MaxSpanSeconds,
		}
	}
	if !a.Unmapped {
		d.Access = string(a.Access)
		d.IdempotentWhen = a.IdempotentIf.String()
	}
	for _, p := range a.Params {
		d.Params = append(d.Params, paramDetail{
			Name: p.Name, Type: p.Type, Required: p.Required, List: p.List, MaxList: p.MaxList,
			MinLen: p.MinLen, MaxLen: p.MaxLen, Min: p.Min, Max: p.Max, Decimal: p.Decimal,
			Default: p.Default, Enum: p.Enum, Example: p.Example, Desc: p.Desc, Mined: p.Mined,
		})
	}
	d.Response = fieldDetails(a.Response())
	return writeJSON(w, d)
}

func fieldDetails(fs []catalog.Field) []fieldDetail {
	if len(fs) == 0 {
		return nil
	}
	out := make([]fieldDetail, len(fs))
	for i, f := range fs {
		out[i] = fieldDetail{Name: f.Name, Type: f.Type, Fields: fieldDetails(f.Fields)}
	}
	return out
}
