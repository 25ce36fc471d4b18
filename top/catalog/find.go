package catalog

import (
	"path"
	"sort"
	"strings"

	"golang.org/x/text/unicode/norm"

	"github.com/topscript/topscript/internal/suggest"
	"github.com/topscript/topscript/top/catalog/internal/infer"
)

// Lookup returns the catalog entry of method. Callers must not modify it.
// Methods not in the catalog are not an error anywhere: they pass through
// untouched.
func Lookup(method string) (*API, bool) {
	return theStore().lookup(method)
}

// All returns every entry sorted by method, including the documented titles
// whose method is unknown (Unmapped, Method ""), which sort first by title.
func All() []*API {
	return append([]*API(nil), whole().all...)
}

// Names returns the sorted method names of the catalog, for completion.
func Names() []string {
	return append([]string(nil), names()...)
}

// Find returns the entries matching query, in All order. An empty query
// matches everything. A query holding a glob metacharacter (* ? [) is matched
// path.Match-style against the whole method name (or title), e.g.
// "taobao.fenxiao.*". Any other query matches a case-insensitive substring of
// the method name or of a Chinese title; full-width and half-width forms are
// the same to it (（减少） finds (减少)).
func Find(query string) []*API {
	query = strings.TrimSpace(query)
	all := whole().all
	if query == "" {
		return All()
	}
	var out []*API
	if strings.ContainsAny(query, "*?[") {
		if _, err := path.Match(query, ""); err != nil {
			return nil // malformed pattern matches nothing
		}
		for _, a := range all {
			if globMatch(query, a) {
				out = append(out, a)
			}
		}
		return out
	}
	q := fold(query)
	for _, a := range all {
		if strings.Contains(fold(a.Method), q) || titleContains(a, q) {
			out = append(out, a)
		}
	}
	return out
}

func globMatch(pattern string, a *API) bool {
	if a.Method != "" {
		if ok, _ := path.Match(pattern, a.Method); ok {
			return true
		}
	}
	p := fold(pattern)
	for _, t := range a.titles() {
		if ok, _ := path.Match(p, fold(t)); ok {
			return true
		}
	}
	return false
}

func titleContains(a *API, q string) bool {
	for _, t := range a.titles() {
		if strings.Contains(fold(t), q) {
			return true
		}
	}
	return false
}

func (a *API) titles() []string {
	if a.Title == "" {
		return a.Aliases
	}
	return append([]string{a.Title}, a.Aliases...)
}

// fold normalises for matching: NFKC (full-width to half-width) and lower case.
func fold(s string) string {
	return strings.ToLower(norm.NFKC.String(s))
}

// IsWrite reports whether method changes state: the catalog's answer when it
// knows the method, else a guess from the name (infer.ReadName): a method
// whose last name segment reads (get, search, query, list, count, find, or
// starting with get, query, search, find or list, as getbyid) is a read;
// anything else is taken as a write, the safe side for dry runs and retries.
func IsWrite(method string) bool {
	if a, ok := Lookup(method); ok {
		return a.Access == Write
	}
	return !infer.ReadName(method)
}

// IsIdempotent reports whether a call of method may be sent twice with no
// further effect, so that a call whose outcome is unknown may be retried.
// Reads are; catalogued writes are as hand-checked in the catalog (a price
// set, a shelf change or an upsert is; an add, a send or a stock increment is
// not); writes the catalog does not know are not.
//
// A method whose idempotency depends on its parameters (taobao.item.quantity.update:
// type=1 sets the stock, type=2 adds to it) is not idempotent here; a caller
// holding the parameters can ask (*API).IdempotentFor.
func IsIdempotent(method string) bool {
	if a, ok := Lookup(method); ok {
		return a.Idempotent
	}
	return infer.ReadName(method)
}

// IdempotentFor reports whether this call of a, with these parameters, is
// idempotent: true if the API is, or if its IdempotentIf condition holds (for
// taobao.item.quantity.update: an explicit type=1, a full set).
func (a *API) IdempotentFor(params map[string]string) bool {
	if a == nil {
		return false
	}
	return a.Idempotent || a.IdempotentIf.Holds(params)
}

// Nearest returns up to n catalog methods nearest to name by edit
// distance, within a fifth of name's length (at least 2), nearest first:
// the "did you mean" of an unknown method.
func Nearest(name string, n int) []string {
	type scored struct {
		m string
		d int
	}
	var s []scored
	limit := max(2, len(name)/5)
	for _, m := range names() {
		if d := suggest.Distance(name, m); d <= limit {
			s = append(s, scored{m, d})
		}
	}
	sort.SliceStable(s, func(i, j int) bool { return s[i].d < s[j].d })
	out := make([]string, 0, min(n, len(s)))
	for i := 0; i < len(s) && i < n; i++ {
		out = append(out, s[i].m)
	}
	return out
}
