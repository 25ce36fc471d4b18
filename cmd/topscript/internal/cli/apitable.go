package cli

import (
	"bufio"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
	"unicode"

	"golang.org/x/text/width"

	"github.com/topscript/topscript/internal/numtext"
	"github.com/topscript/topscript/top/catalog"
)

// This file renders the catalog for `topscript api`: aligned tables that
// count a Chinese character as two terminal columns.

// writeAPIList writes apis as an aligned table: method, title, read/write and
// group, with a header line. Chinese titles count two columns per character.
// Entries with no known method show "-" for method and access.
func writeAPIList(w io.Writer, apis []*catalog.API) error {
	rows := [][]string{{"METHOD", "TITLE", "ACCESS", "GROUP"}}
	for _, a := range apis {
		m, acc := a.Method, string(a.Access)
		if a.Unmapped || m == "" {
			m, acc = "-", "-"
		}
		rows = append(rows, []string{m, dash(a.Title), acc, dash(a.Group)})
	}
	bw := bufio.NewWriter(w)
	writeTable(bw, rows, "")
	return bw.Flush()
}

// writeAPIShow writes everything the catalog knows of a: title, doc link,
// group, access and idempotency, session, notes, every parameter with type,
// required and limits (defaults and allowed values), paging, the response
// lists and the response tree with its types. A fact read out of the doc's
// text is marked "*", an inferred one "(inferred)".
func writeAPIShow(w io.Writer, a *catalog.API) error {
	if a == nil {
		return fmt.Errorf("api: no API to show")
	}
	bw := bufio.NewWriter(w)
	name := a.Method
	if a.Unmapped || name == "" {
		name = "(method unknown)"
	}
	fmt.Fprintln(bw, strings.TrimRight(name+"  "+a.Title, " "))
	kv := [][]string{}
	if u := a.DocURL(); u != "" {
		kv = append(kv, []string{"doc:", u})
	}
	if len(a.Aliases) > 0 {
		kv = append(kv, []string{"also titled:", strings.Join(a.Aliases, "; ")})
	}
	kv = append(kv, []string{"group:", dash(a.Group)})
	if !a.Unmapped {
		acc := string(a.Access)
		switch {
		case a.Idempotent:
			acc += ", idempotent"
		case a.IdempotentIf != nil:
			acc += ", not idempotent (idempotent when " + a.IdempotentIf.String() + ")"
		default:
			acc += ", not idempotent"
		}
		kv = append(kv, []string{"access:", acc + inferredMark(a, "access", "idempotent")},
			[]string{"session:", dash(a.Session) + inferredMark(a, "session")})
	}
	if a.Note != "" {
		kv = append(kv, []string{"note:", a.Note})
	}
	writeTable(bw, kv, "")

	fmt.Fprintln(bw)
	switch {
	case a.ParamsUnknown:
		fmt.Fprintln(bw, "parameters: unknown (not validated)")
	case len(a.Params) == 0:
		fmt.Fprintln(bw, "parameters: none")
	default:
		head := "parameters:"
		if a.ParamsFiltered > 0 {
			head = fmt.Sprintf("parameters (%d of %d documented: required, limited and paging ones):",
				len(a.Params), a.ParamsFiltered)
		}
		fmt.Fprintln(bw, head)
		rows := [][]string{{"NAME", "TYPE", "REQUIRED", "LIMITS", "DESCRIPTION"}}
		mined := false
		for _, p := range a.Params {
			req := "optional"
			if p.Required {
				req = "required"
			}
			desc := p.Desc
			if p.Example != "" {
				desc = strings.TrimSpace(desc + " (e.g. " + p.Example + ")")
			}
			l := limits(p)
			mined = mined || strings.Contains(l, "*")
			rows = append(rows, []string{p.Name, p.Type, req, dash(l), desc})
		}
		writeTable(bw, rows, "  ")
		if mined {
			fmt.Fprintln(bw, "  * read from the doc's text, not from the platform's structured limits")
		}
	}
	if !a.Unmapped {
		fmt.Fprintln(bw)
		kv = [][]string{{"paging:", pagingText(a.Paging) + inferredMark(a, "paging")}}
		lf := a.ListField
		if lf == "" {
			lf = "-"
		}
		if extra := otherLists(a); extra != "" {
			lf += " (response lists: " + extra + ")"
		}
		kv = append(kv, []string{"list field:", lf + inferredMark(a, "list_field")})
		writeTable(bw, kv, "")
	}
	if resp := a.Response(); len(resp) > 0 {
		fmt.Fprintln(bw, "\nresponse:")
		var rows [][]string
		var walk func(fs []catalog.Field, depth int)
		walk = func(fs []catalog.Field, depth int) {
			for _, f := range fs {
				rows = append(rows, []string{strings.Repeat("  ", depth) + f.Name, f.Type})
				walk(f.Fields, depth+1)
			}
		}
		walk(resp, 0)
		writeTable(bw, rows, "  ")
	}
	return bw.Flush()
}

// inferredMark is " (inferred)" when any of facts is inferred for a.
func inferredMark(a *catalog.API, facts ...string) string {
	for _, f := range facts {
		if a.IsInferred(f) {
			return " (inferred)"
		}
	}
	return ""
}

// limits writes p's limits, defaults and allowed values; those read out of
// the doc's text (Param.Mined) are marked "*".
func limits(p catalog.Param) string {
	var l []string
	add := func(fact, text string) {
		if slices.Contains(p.Mined, fact) {
			text += "*"
		}
		l = append(l, text)
	}
	if p.List {
		add("list", "comma-joined list")
	}
	if p.MaxList > 0 {
		add("max_list", fmt.Sprintf("max %d items", p.MaxList))
	}
	if p.MinLen > 0 {
		add("min_len", fmt.Sprintf("min %d chars", p.MinLen))
	}
	if p.MaxLen > 0 {
		add("max_len", fmt.Sprintf("max %d chars", p.MaxLen))
	}
	if p.Min != nil {
		add("min", "min "+numtext.Format(*p.Min))
	}
	if p.Max != nil {
		add("max", "max "+numtext.Format(*p.Max))
	}
	if p.Decimal {
		add("decimal", "decimal")
	}
	if p.Default != "" {
		add("default", "default "+p.Default)
	}
	if len(p.Enum) > 0 {
		add("enum", "one of "+strings.Join(p.Enum, "|"))
	}
	return strings.Join(l, ", ")
}

func pagingText(pg *catalog.Paging) string {
	if pg == nil {
		return "none"
	}
	var parts []string
	size := ""
	switch {
	case pg.PageParam != "" && pg.SizeParam != "":
		size = pg.PageParam + " / " + pg.SizeParam
	case pg.PageParam != "":
		size = pg.PageParam
	default:
		size = pg.SizeParam
	}
	var sz []string
	if pg.DefaultSize > 0 {
		sz = append(sz, fmt.Sprintf("default %d", pg.DefaultSize))
	}
	if pg.MaxSize > 0 {
		sz = append(sz, fmt.Sprintf("max %d", pg.MaxSize))
	}
	if len(sz) > 0 {
		size += " (" + strings.Join(sz, ", ") + ")"
	}
	parts = append(parts, size)
	if pg.TotalField != "" {
		parts = append(parts, "total: "+pg.TotalField)
	}
	if pg.TotalPages != "" {
		parts = append(parts, "pages: "+pg.TotalPages)
	}
	if pg.HasNext {
		parts = append(parts, "has_next")
	}
	if pg.UseHasNext {
		parts = append(parts, "accepts use_has_next=true")
	}
	if pg.Reverse {
		parts = append(parts, "reverse: page from the last page back")
	}
	if pg.SpanStart != "" && pg.MaxSpanSeconds > 0 {
		parts = append(parts, fmt.Sprintf("%s..%s at most %s", pg.SpanStart, pg.SpanEnd,
			catalog.HumanSpan(time.Duration(pg.MaxSpanSeconds)*time.Second)))
	}
	return strings.Join(parts, "; ")
}

func otherLists(a *catalog.API) string {
	var o []string
	for _, l := range a.Lists {
		if l != a.ListField {
			o = append(o, l)
		}
	}
	return strings.Join(o, ", ")
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// writeTable writes rows with columns padded to the widest cell (in terminal
// columns); the last column is not padded and trailing spaces are trimmed.
func writeTable(w io.Writer, rows [][]string, indent string) {
	var widths []int
	for _, r := range rows {
		for i, c := range r {
			if i >= len(widths) {
				widths = append(widths, 0)
			}
			if n := textWidth(c); n > widths[i] && i < len(r)-1 {
				widths[i] = n
			}
		}
	}
	for _, r := range rows {
		var b strings.Builder
		b.WriteString(indent)
		for i, c := range r {
			b.WriteString(c)
			if i < len(r)-1 {
				b.WriteString(strings.Repeat(" ", widths[i]-textWidth(c)+2))
			}
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	}
}

// textWidth is the number of terminal columns s takes: East Asian wide and
// full-width characters take two, combining marks none.
func textWidth(s string) int {
	n := 0
	for _, r := range s {
		switch {
		case unicode.Is(unicode.Mn, r), unicode.Is(unicode.Me, r), r == '\u200b':
		case isWide(r):
			n += 2
		default:
			n++
		}
	}
	return n
}

func isWide(r rune) bool {
	switch width.LookupRune(r).Kind() {
	case width.EastAsianWide, width.EastAsianFullwidth:
		return true
	}
	return false
}
