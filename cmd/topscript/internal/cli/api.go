package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/topscript/topscript/top/catalog"
)

const apiLong = `
api list prints the catalog's APIs: all of them, those whose method matches a
glob ("taobao.fenxiao.*"), or those whose method or Chinese title contains a
word ("sku", "产品上架").

api show prints one API: title, doc link, group, read or write, idempotency,
session, every parameter with its type, limits, default and allowed values,
paging, and the response tree with its types. A limit read out of the doc's
text rather than the platform's structured facts is marked "*", a fact
topscript inferred (read/write from the name, the session need, paging)
"(inferred)".

Both take --json: api list a JSON array, api show one JSON object (facts
read from the doc's text are named in each parameter's "mined", inferred
ones in "inferred").`

// apiOptions are the flags and arguments of `api list` and `api show`.
type apiOptions struct {
	JSON  bool   // --json
	Query string // list: the glob or word; show: the method
}

// newAPICmd is `topscript api` and its subcommands list and show.
func newAPICmd(st *State) *cobra.Command {
	c := &cobra.Command{
		Use:         "api",
		Short:       "Browse the API catalog: methods, parameters, limits, paging",
		Long:        apiLong,
		Annotations: map[string]string{annSynopsis: "api list [QUERY] | show METHOD"},
		RunE: func(c *cobra.Command, args []string) error {
			return subcommandError(c, args)
		},
	}
	c.AddCommand(newAPIListCmd(st), newAPIShowCmd(st))
	return c
}

func newAPIListCmd(st *State) *cobra.Command {
	o := &apiOptions{}
	c := &cobra.Command{
		Use:   "list [GLOB|WORD]",
		Short: "List the APIs, or those matching a glob or a word of their title",
		ValidArgsFunction: func(_ *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
			return nil, cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(_ *cobra.Command, args []string) error {
			if len(args) > 1 {
				return usageErrorf("api list", "list takes one QUERY, got %d", len(args))
			}
			if len(args) == 1 {
				o.Query = args[0]
			}
			apis := catalog.Find(o.Query)
			if o.JSON {
				return writeAPIListJSON(st.Stdout, apis)
			}
			if len(apis) == 0 {
				fmt.Fprintf(st.Stderr, "no API matches %q\n", o.Query)
				return nil
			}
			return writeAPIList(st.Stdout, apis)
		},
	}
	c.Flags().BoolVar(&o.JSON, "json", false, "print a JSON array of {method, title, access, group, doc_url}")
	return c
}

func newAPIShowCmd(st *State) *cobra.Command {
	o := &apiOptions{}
	c := &cobra.Command{
		Use:               "show METHOD",
		Short:             "Show one API: parameters, limits, paging, the response",
		ValidArgsFunction: completeMethodArg,
		RunE: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageErrorf("api show", "show takes one METHOD")
			}
			o.Query = args[0]
			a, err := findAPI(o.Query)
			if err != nil {
				return err
			}
			if o.JSON {
				return writeAPIShowJSON(st.Stdout, a)
			}
			return writeAPIShow(st.Stdout, a)
		},
	}
	c.Flags().BoolVar(&o.JSON, "json", false, "print every fact of the API as one JSON object")
	return c
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
		for _, m := range catalog.Nearest(q, 5) {
			if a, ok := catalog.Lookup(m); ok {
				found = append(found, a)
			}
		}
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
