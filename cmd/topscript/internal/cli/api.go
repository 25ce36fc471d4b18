package cli

import (
	"context"
	"fmt"
	"github.com/topscript/topscript/internal/suggest"
	"sort"
	"strings"

	"github.com/topscript/topscript/top/catalog"
)

var apiCommand = &command{
	name:  "api",
	usage: "api list [QUERY] | show METHOD",
	short: "Browse the API catalog: methods, parameters, limits, paging",
	long:  apiLong,
	run:   runAPI,
}

const apiLong = `
api list prints the catalog's APIs: all of them, those whose method matches a
glob ("taobao.fenxiao.*"), or those whose method or Chinese title contains a
word ("sku", "产品上架").

api show prints one API: title, group, read or write, idempotency, session,
parameters with their limits, paging and the response list.`

// apiOptions are the arguments of `api`.
type apiOptions struct {
	Sub   string // list or show
	Query string
}

func runAPI(_ context.Context, st *State, c *command, args []string) error {
	var o apiOptions
	fs := newFlagSet(c)
	pos, err := fs.parseOrHelp(st, args, false)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return usageErrorf("api", "missing subcommand: list or show")
	}
	o.Sub = pos[0]
	switch o.Sub {
	case "list":
		if len(pos) > 2 {
			return usageErrorf("api", "list takes one QUERY, got %d", len(pos)-1)
		}
		if len(pos) == 2 {
			o.Query = pos[1]
		}
		apis := catalog.Find(o.Query)
		if len(apis) == 0 {
			fmt.Fprintf(st.Stderr, "no API matches %q\n", o.Query)
			return nil
		}
		return writeAPIList(st.Stdout, apis)
	case "show":
		if len(pos) != 2 {
			return usageErrorf("api", "show takes one METHOD")
		}
		o.Query = pos[1]
		a, err := findAPI(o.Query)
		if err != nil {
			return err
		}
		return writeAPIShow(st.Stdout, a)
	}
	return usageErrorf("api", "unknown subcommand %q: want list or show", o.Sub)
}

// findAPI resolves a method name, or a title or fragment naming exactly one
// API; otherwise a usage error listing close matches.
func findAPI(q string) (*catalog.API, error) {
	if a, ok := catalog.Lookup(q); ok {
		return a, nil
	}
	found := catalog.Find(q)
	if len(found) == 1 {
		return found[0], nil
	}
	msg := fmt.Sprintf("topscript api: unknown method %q", q)
	if len(found) == 0 {
		found = nearMethods(q, 5)
	}
	if len(found) > 0 {
		const most = 10
		lines := []string{msg + "; did you mean:"}
		for i, a := range found {
			if i == most {
				lines = append(lines, fmt.Sprintf("  ... and %d more (topscript api list %s)", len(found)-most, q))
				break
			}
			name := a.Method
			if name == "" {
				name = "(method unknown)"
			}
			lines = append(lines, "  "+strings.TrimSpace(name+"  "+a.Title))
		}
		msg = strings.Join(lines, "\n")
	}
	return nil, &exitError{code: ExitUsage, msg: msg}
}

// nearMethods returns up to n catalog methods nearest to q by edit
// distance, within a fifth of q's length.
func nearMethods(q string, n int) []*catalog.API {
	type scored struct {
		a *catalog.API
		d int
	}
	var s []scored
	limit := max(2, len(q)/5)
	for _, a := range catalog.All() {
		if a.Method == "" {
			continue
		}
		if d := suggest.Distance(q, a.Method); d <= limit {
			s = append(s, scored{a, d})
		}
	}
	sort.SliceStable(s, func(i, j int) bool { return s[i].d < s[j].d })
	out := make([]*catalog.API, 0, n)
	for i := 0; i < len(s) && i < n; i++ {
		out = append(out, s[i].a)
	}
	return out
}
