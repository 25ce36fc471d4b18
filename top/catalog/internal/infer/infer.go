// Package infer holds the catalog's rules for what the platform's model does
// not say: whether a method reads or writes (from its name), how it pages
// (from its parameters and response), which response list its items are in.
// The generator applies them to every method without hand facts, and marks
// the results as inferred; the client applies ReadName to methods the
// catalog does not know at all.
package infer

import (
	"slices"
	"strconv"
	"strings"

	"github.com/topscript/topscript/top/catalog/internal/blob"
)

// readLast are last name segments that read.
var readLast = map[string]bool{
	"get": true, "gets": true, "search": true, "query": true, "list": true, "count": true,
	"find": true, "detail": true, "details": true, "info": true, "fetch": true,
}

// ReadName reports whether method reads, judging by its last name segment:
// get, gets, search, query, list, count, find, detail(s), info, fetch, or a
// segment starting with get, query, search, find or list (getbyid,
// queryitems, findlist). Anything else is taken as a write, the safe side
// for dry runs and retries.
func ReadName(method string) bool {
	last := method
	if i := strings.LastIndexByte(method, '.'); i >= 0 {
		last = method[i+1:]
	}
	last = strings.ToLower(last)
	if readLast[last] {
		return true
	}
	for _, p := range []string{"get", "query", "search", "find", "list"} {
		if strings.HasPrefix(last, p) {
			return true
		}
	}
	return false
}

// ParamInfo is what Paging needs of a request parameter.
type ParamInfo struct {
	Name     string
	Default  string
	Min, Max *float64
}

// FieldInfo is what Paging and Lists need of a response field.
type FieldInfo struct {
	Name   string
	Type   string
	Fields []FieldInfo
}

var (
	pageParams   = []string{"page_no", "page_num", "page_number", "page_index", "current_page", "cur_page", "current_page_no", "page"}
	sizeParams   = []string{"page_size", "per_page_size", "pagesize"}
	cursorParams = []string{"cursor", "scroll_id", "next_key", "start_key", "next_token", "search_after"}
	totalFields  = []string{"total_results", "total_count", "total_num", "total_result", "total_record", "total"}
	pagesFields  = []string{"total_page", "total_pages", "page_count"}
)

// Paging infers how a method pages from its top-level parameters and
// response fields: a page number and a page size ("page", the style
// top.pages walks), an offset and a limit ("offset"), or a cursor
// ("cursor"); nil when it does not page. The page size's default and
// maximum are the size parameter's; the total and has_next fields are the
// response's.
func Paging(params []ParamInfo, response []FieldInfo) *blob.Paging {
	byName := map[string]ParamInfo{}
	for _, p := range params {
		if !strings.Contains(p.Name, ".") {
			byName[p.Name] = p
		}
	}
	first := func(names []string) (ParamInfo, bool) {
		for _, n := range names {
			if p, ok := byName[n]; ok {
				return p, true
			}
		}
		return ParamInfo{}, false
	}
	pg := &blob.Paging{}
	page, hasPage := first(pageParams)
	size, hasSize := first(sizeParams)
	cursor, hasCursor := first(cursorParams)
	_, hasOffset := byName["offset"]
	limit, hasLimit := byName["limit"]
	switch {
	case hasPage && hasSize:
		pg.Style, pg.Page, pg.Size = "page", page.Name, size.Name
	case hasCursor:
		pg.Style, pg.Cursor = "cursor", cursor.Name
		if hasSize {
			pg.Size = size.Name
		} else if hasLimit {
			pg.Size, size = limit.Name, limit
		}
	case hasOffset && hasLimit:
		pg.Style, pg.Size, size = "offset", limit.Name, limit
		pg.Page = "offset"
	default:
		return nil
	}
	if pg.Size != "" {
		if d, err := strconv.Atoi(size.Default); err == nil && d > 0 {
			pg.DefaultSize = d
		}
		if size.Max != nil && *size.Max > 0 && *size.Max < 1<<31 {
			pg.MaxSize = int(*size.Max)
		}
		if pg.MaxSize > 0 && pg.DefaultSize > pg.MaxSize {
			pg.DefaultSize = 0
		}
	}
	_, pg.UseHasNext = byName["use_has_next"]
	for _, f := range response {
		switch {
		case f.Name == "has_next" && f.Type == "Boolean":
			pg.HasNext = true
		case pg.Total == "" && slices.Contains(totalFields, f.Name) && f.Type == "Number":
			pg.Total = f.Name
		case pg.TotalPages == "" && slices.Contains(pagesFields, f.Name) && f.Type == "Number":
			pg.TotalPages = f.Name
		}
	}
	return pg
}

// Lists returns the dotted paths of the response's list fields, down to
// depth levels ("trades", "result.data").
func Lists(response []FieldInfo, depth int) []string {
	var out []string
	var walk func(fs []FieldInfo, prefix string, d int)
	walk = func(fs []FieldInfo, prefix string, d int) {
		for _, f := range fs {
			if strings.HasSuffix(f.Type, "[]") {
				out = append(out, prefix+f.Name)
				continue // members of list elements are not paths of the payload
			}
			if d+1 < depth && len(f.Fields) > 0 {
				walk(f.Fields, prefix+f.Name+".", d+1)
			}
		}
	}
	walk(response, "", 0)
	return out
}

// ListField picks the list top.each walks: the only list of the response,
// else the only list inside its only struct ("result.data"); "" when there
// is no single candidate.
func ListField(response []FieldInfo) string {
	if ls := Lists(response, 1); len(ls) == 1 {
		return ls[0]
	} else if len(ls) > 1 {
		return ""
	}
	var only *FieldInfo
	for i := range response {
		if len(response[i].Fields) > 0 {
			if only != nil {
				return ""
			}
			only = &response[i]
		}
	}
	if only == nil {
		return ""
	}
	if ls := Lists(only.Fields, 1); len(ls) == 1 {
		return only.Name + "." + ls[0]
	}
	return ""
}
