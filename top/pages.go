package top

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/topscript/topscript/top/catalog"
)

// PageOptions adjust paging.
type PageOptions struct {
	// PageSize is sent as the page size; 0 takes the params' own, else the
	// catalog's default size, else the gateway's default (not sent).
	PageSize int
	// Reverse pages an increment API backwards: page 1 is fetched first to
	// learn total_results, then pages are walked from the last back to 1, so
	// nothing is missed while data shifts under the walk.
	Reverse bool
	// Items names the list field ("trades"); "" takes the catalog's, else
	// guesses the single list of the payload.
	Items string
	// UseHasNext sends use_has_next=true (not with Reverse): the gateway
	// then answers has_next instead of total_results.
	UseHasNext bool
	// Call holds the options of every call of the walk.
	Call *CallOptions
}

// Pager walks the pages of a list API. Use Next until it reports false.
// A Pager is not safe for concurrent use.
type Pager struct {
	c         *Client
	method    string
	params    Params
	o         PageOptions
	pageParam string
	sizeParam string
	total     string // total field
	items     string
	size      int64 // 0 = unknown (gateway default)
	first     int64 // first page number (forward)
	page      int64 // next page to fetch
	seen      int64 // items seen (forward)
	single    bool  // the method does not page: one call, no page parameters
	started   bool
	done      bool
}

// Pages returns a Pager over method's pages. Paging parameter names, the
// default page size, the total field and the list field come from the
// catalog when it knows method ("page_no", "page_size", "total_results"
// otherwise); a catalogued method that takes no page parameter is called
// once, without them. Nothing is sent until Next.
//
// Forward paging stops at has_next=false, when page_no·page_size reaches
// total_results, at a short or empty page, or after a page with no paging
// information at all.
func (c *Client) Pages(ctx context.Context, method string, params Params, o PageOptions) *Pager {
	p := &Pager{c: c, method: method, o: o, pageParam: "page_no", sizeParam: "page_size", total: "total_results", items: o.Items}
	p.params = make(Params, len(params)+3)
	for k, v := range params {
		p.params[k] = v
	}
	if api, ok := catalog.Lookup(method); ok {
		if pg := api.Paging; pg != nil {
			if pg.PageParam != "" {
				p.pageParam = pg.PageParam
			}
			if pg.SizeParam != "" {
				p.sizeParam = pg.SizeParam
			}
			if pg.TotalField != "" {
				p.total = pg.TotalField
			}
			if pg.DefaultSize > 0 {
				p.size = int64(pg.DefaultSize)
			}
		}
		if p.items == "" {
			p.items = api.ListField
		}
		// A method that takes no page parameter answers one page: sending
		// page_no would be refused as a parameter it does not take.
		p.single = api.Paging == nil && !api.Takes(p.pageParam)
	}
	if v, ok := p.params[p.sizeParam]; ok {
		if n, ok := paramInt(v); ok && n > 0 {
			p.size = n
		}
	}
	if o.PageSize > 0 {
		p.size = int64(o.PageSize)
	}
	p.first = 1
	if v, ok := p.params[p.pageParam]; ok && !o.Reverse {
		if n, ok := paramInt(v); ok && n > 0 {
			p.first = n
		}
	}
	p.page = p.first
	if o.UseHasNext && !o.Reverse {
		p.params["use_has_next"] = true
	}
	if o.Reverse {
		delete(p.params, "use_has_next")
	}
	return p
}

// paramInt reads a page number or size given as a param value.
func paramInt(v any) (int64, bool) {
	s, err := EncodeValue(v)
	if err != nil {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

// Items returns the list of a page's payload (the list field named in the
// options or the catalog, else the single list of the payload).
func (p *Pager) Items(r *Response) []any {
	l, _ := p.List(r)
	return l
}

// List is Items, and whether the payload has the list at all. A payload
// of a list API without it and without paging information is an answer
// of a method that does not page: CheckList says so.
func (p *Pager) List(r *Response) ([]any, bool) {
	if r == nil {
		return nil, false
	}
	l, _, ok := FindList(r.Payload, p.items)
	return l, ok
}

// CheckList returns the error of a walk over items (top.each) whose first
// page r has no list: the method does not page (the catalog says so, or
// the answer has neither the list nor total_results nor has_next), so
// there is nothing to walk. A list API answering an empty result (the
// gateway leaves out an empty list but sends total_results) is no error.
func (p *Pager) CheckList(r *Response) error {
	if r == nil {
		return nil
	}
	if _, ok := p.List(r); ok {
		return nil
	}
	_, hasNext := r.Payload["has_next"]
	_, hasTotal := r.Payload[p.total]
	if !p.single && (hasNext || hasTotal) {
		return nil
	}
	fields := make([]string, 0, len(r.Payload))
	for k := range r.Payload {
		if k != "request_id" {
			fields = append(fields, k)
		}
	}
	sort.Strings(fields)
	what := "an answer without a list"
	if p.items != "" {
		what = "an answer without the list " + strconv.Quote(p.items)
	}
	return &Error{Method: p.method, Kind: KindInvalid,
		Msg: fmt.Sprintf("does not page: %s (fields: %s); call it with top.call, or name its list with opts.items", what, strings.Join(fields, ", "))}
}

// Page returns the number of the page Next fetches next.
func (p *Pager) Page() int64 { return p.page }

// Next fetches the next page. It returns false when there are no more
// pages; an error ends the walk.
func (p *Pager) Next(ctx context.Context) (*Response, bool, error) {
	if p == nil || p.c == nil || p.done {
		return nil, false, nil
	}
	if p.single {
		p.done = true
		r, err := p.c.Call(ctx, p.method, p.params, p.o.Call)
		if err != nil {
			return nil, false, err
		}
		return r, true, nil
	}
	if p.o.Reverse {
		return p.nextReverse(ctx)
	}
	r, err := p.fetch(ctx, p.page)
	if err != nil {
		p.done = true
		return nil, false, err
	}
	items := p.Items(r)
	n := int64(len(items))
	p.seen += n
	started := p.started
	p.started = true
	if n == 0 {
		p.done = true
		if started {
			return nil, false, nil
		}
		return r, true, nil
	}
	last := false
	if hasNext, ok := toBool(r.Payload["has_next"]); ok {
		last = !hasNext
	} else if total, ok := toInt64(r.Payload[p.total]); ok {
		if p.size > 0 {
			last = p.page*p.size >= total
		} else {
			last = p.seen >= total
		}
	} else if p.size > 0 && n < p.size {
		last = true
	} else if _, _, found := FindList(r.Payload, p.items); !found {
		last = true
	}
	if last {
		p.done = true
	} else {
		p.page++
	}
	return r, true, nil
}

// nextReverse walks from the last page back to page 1.
func (p *Pager) nextReverse(ctx context.Context) (*Response, bool, error) {
	if !p.started {
		p.started = true
		r, err := p.fetch(ctx, 1)
		if err != nil {
			p.done = true
			return nil, false, err
		}
		total, ok := toInt64(r.Payload[p.total])
		if !ok {
			p.done = true
			return nil, false, &Error{Method: p.method, Kind: KindInvalid,
				Msg: fmt.Sprintf("reverse paging needs %s in the answer (do not send use_has_next)", p.total)}
		}
		n := int64(len(p.Items(r)))
		if p.size <= 0 {
			p.size = n // the gateway's default, seen on a full first page
		}
		if p.size <= 0 || total <= p.size {
			p.done = true
			return r, true, nil
		}
		p.page = (total + p.size - 1) / p.size
	}
	if p.page < 1 {
		p.done = true
		return nil, false, nil
	}
	r, err := p.fetch(ctx, p.page)
	if err != nil {
		p.done = true
		return nil, false, err
	}
	p.page--
	if p.page < 1 {
		p.done = true
	}
	return r, true, nil
}

// fetch calls one page.
func (p *Pager) fetch(ctx context.Context, page int64) (*Response, error) {
	params := make(Params, len(p.params)+2)
	for k, v := range p.params {
		params[k] = v
	}
	params[p.pageParam] = page
	if p.size > 0 {
		params[p.sizeParam] = p.size
	}
	return p.c.Call(ctx, p.method, params, p.o.Call)
}
