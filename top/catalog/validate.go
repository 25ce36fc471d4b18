package catalog

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/topscript/topscript/internal/suggest"
)

// Problem classifies a ValidationError.
type Problem string

// Problems.
const (
	Missing    Problem = "missing" // a required parameter is absent (the gateway's code 40)
	Unknown    Problem = "unknown" // not a parameter of the method
	BadType    Problem = "type"    // not a value of the parameter's type (41)
	OutOfRange Problem = "limit"   // a list size, length, range, page size or span limit (41)
	NotAllowed Problem = "enum"    // not one of the documented values
)

// ValidationError says why a call was refused before any request was sent.
type ValidationError struct {
	Method  string
	Param   string
	Reason  string
	Problem Problem
}

// Error returns "method: param: reason", e.g.
// "taobao.opentrade.activity.sync: item_id_list: 21 items, at most 20 allowed".
func (e *ValidationError) Error() string {
	return e.Method + ": " + e.Param + ": " + e.Reason
}

// DateLayout is how TOP writes Date parameters (GMT+8).
const DateLayout = "2006-01-02 15:04:05"

// Checks selects what Check checks beyond the required parameters, the
// types and the platform's structured limits (list sizes, lengths, ranges)
// and the hand facts (page sizes, spans).
type Checks struct {
	// Unknown refuses a parameter the method does not take, with the
	// nearest name it does take ("feilds": did you mean fields?). It
	// applies only where the catalog knows every parameter.
	Unknown bool
	// DocRules applies the facts read from doc texts (Param.Mined) too:
	// allowed values, ranges, lengths, list sizes, comma lists, decimals,
	// and an inferred page size maximum.
	DocRules bool
}

// AllChecks is what the client checks before sending.
var AllChecks = Checks{Unknown: true, DocRules: true}

// extraParams may be sent to any method: gateway parameters the client
// does not set itself (top-protocol: target_app_key, for APIs a third-party
// ISV provides).
var extraParams = map[string]bool{"target_app_key": true}

// Validate is Check with AllChecks and no files.
func (a *API) Validate(params map[string]string) error {
	return a.Check(params, nil, AllChecks)
}

// Check checks a call's parameters, already encoded as the strings that
// would be sent (lists comma-joined, objects as JSON), and the names of its
// file parameters, against what the catalog documents: a required
// parameter missing or empty; with ck.Unknown, a parameter the method does
// not take; a value not of its type (a Number that is not a whole number, a
// Price that is not a decimal, a Date that does not parse, a Boolean that is
// not true or false, a JSON parameter that is not JSON, a file parameter
// given as text or a text one given a file); a list longer than allowed; a
// text longer or shorter than allowed; a number out of its range; a value
// not among the allowed ones; a page size over the maximum; a start..end
// span over the documented limit, or backwards. It returns the first
// problem as a *ValidationError, or nil. Members of structured parameters
// (dotted names) are only documentation and are not checked.
func (a *API) Check(params map[string]string, files map[string]bool, ck Checks) error {
	if a == nil || a.Unmapped {
		return nil
	}
	fail := func(pr Problem, param, format string, args ...any) error {
		return &ValidationError{Method: a.Method, Param: param, Reason: fmt.Sprintf(format, args...), Problem: pr}
	}
	for _, p := range a.Params {
		if p.Required && !strings.Contains(p.Name, ".") && params[p.Name] == "" && !files[p.Name] {
			return fail(Missing, p.Name, "required parameter missing")
		}
	}
	if ck.Unknown && !a.ParamsUnknown && a.ParamsFiltered == 0 {
		if err := a.checkUnknown(params, files); err != nil {
			return err
		}
	}
	for i := range a.Params {
		p := &a.Params[i]
		if strings.Contains(p.Name, ".") {
			continue
		}
		if files[p.Name] {
			if !p.isFile() {
				return fail(BadType, p.Name, "takes a %s, not a file", p.Type)
			}
			continue
		}
		v := params[p.Name]
		if v == "" {
			continue
		}
		if pr, reason := p.check(v, ck.DocRules, a.pageSizeLimited(p.Name)); reason != "" {
			return fail(pr, p.Name, "%s", reason)
		}
	}
	pg := a.Paging
	if pg == nil {
		return nil
	}
	if pg.SizeParam != "" && pg.MaxSize > 0 && (ck.DocRules || !a.IsInferred("paging")) {
		if v := params[pg.SizeParam]; v != "" {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				return fail(BadType, pg.SizeParam, "%q is not a whole number", v)
			}
			if n > int64(pg.MaxSize) {
				return fail(OutOfRange, pg.SizeParam, "%d is over the maximum page size %d", n, pg.MaxSize)
			}
		}
	}
	if pg.SpanStart != "" && pg.SpanEnd != "" {
		sv, ev := params[pg.SpanStart], params[pg.SpanEnd]
		if sv == "" || ev == "" {
			return nil
		}
		start, err := parseDate(sv)
		if err != nil {
			return fail(BadType, pg.SpanStart, "%q is not a time as yyyy-MM-dd HH:mm:ss", sv)
		}
		end, err := parseDate(ev)
		if err != nil {
			return fail(BadType, pg.SpanEnd, "%q is not a time as yyyy-MM-dd HH:mm:ss", ev)
		}
		if start.After(end) {
			return fail(OutOfRange, pg.SpanStart, "%s is after %s %s", sv, pg.SpanEnd, ev)
		}
		if pg.MaxSpanSeconds > 0 {
			span := end.Sub(start)
			if limit := time.Duration(pg.MaxSpanSeconds) * time.Second; span > limit {
				return fail(OutOfRange, pg.SpanEnd, "%s after %s, at most %s allowed",
					HumanSpan(span), pg.SpanStart, HumanSpan(limit))
			}
		}
	}
	return nil
}

// checkUnknown refuses the first (by name) parameter a does not take.
func (a *API) checkUnknown(params map[string]string, files map[string]bool) error {
	var bad []string
	for k := range params {
		if !a.takes(k) {
			bad = append(bad, k)
		}
	}
	for k := range files {
		if !a.takes(k) {
			bad = append(bad, k)
		}
	}
	if len(bad) == 0 {
		return nil
	}
	sort.Strings(bad)
	name := bad[0]
	if name == "" {
		return &ValidationError{Method: a.Method, Param: `""`, Reason: "a parameter with an empty name", Problem: Unknown}
	}
	var known []string
	for _, p := range a.Params {
		if !strings.Contains(p.Name, ".") {
			known = append(known, p.Name)
		}
	}
	reason := "not a parameter of " + a.Method
	switch {
	case len(known) == 0:
		reason += " (it takes none)"
	default:
		if s := suggest.Closest(name, known); s != "" {
			reason += "; did you mean " + s + "?"
		}
	}
	return &ValidationError{Method: a.Method, Param: name, Reason: reason, Problem: Unknown}
}

// pageSizeLimited reports whether name is the page size whose maximum the
// paging facts state (and check, with a message of their own).
func (a *API) pageSizeLimited(name string) bool {
	return a.Paging != nil && a.Paging.SizeParam == name && a.Paging.MaxSize > 0
}

// Takes reports whether a takes a parameter called name; true whenever its
// parameters are not all known.
func (a *API) Takes(name string) bool {
	if a == nil || a.ParamsUnknown || a.ParamsFiltered > 0 {
		return true
	}
	return a.takes(name)
}

// takes reports whether a takes a parameter called name.
func (a *API) takes(name string) bool {
	if extraParams[name] {
		return true
	}
	for i := range a.Params {
		if a.Params[i].Name == name {
			return true
		}
	}
	return false
}

// scalar types: the base types a comma-joined list may hold.
var scalars = map[string]bool{
	"String": true, "Number": true, "Boolean": true, "Date": true, "Price": true,
	"Long": true, "Integer": true, "Double": true, "Float": true, "BigDecimal": true, "byte": true,
}

// isFile reports whether p is a file upload: byte[] (a byte alone is a
// small integer, Java's Byte).
func (p *Param) isFile() bool { return p.Type == "byte[]" || p.Type == "byte[][]" }

// mined reports whether fact is one read from the doc text.
func (p *Param) mined(fact string) bool { return slices.Contains(p.Mined, fact) }

// check checks one present value; it returns the problem and its reason,
// or "" when v is fine.
func (p *Param) check(v string, docRules, pageSize bool) (Problem, string) {
	use := func(fact string) bool { return docRules || !p.mined(fact) }
	if p.isFile() {
		return BadType, "a file parameter given as text: pass a file (k=@path on the command line)"
	}
	base, isList := strings.CutSuffix(p.Type, "[]")
	elemList := isList && scalars[base]
	if !isList && (p.List && use("list")) && scalars[base] {
		elemList = true
	}
	var elems []string
	sep := ","
	if p.ListSep != "" {
		sep = p.ListSep
	}
	switch {
	case elemList:
		for _, e := range strings.Split(v, sep) {
			if e = strings.TrimSpace(e); e != "" {
				elems = append(elems, e)
			}
		}
	case scalars[base] && !isList:
		elems = []string{v}
	}
	decimal := p.Decimal && use("decimal")
	// type
	switch {
	case elemList || scalars[base] && !isList:
		for _, e := range elems {
			if reason := scalarType(base, e, decimal); reason != "" {
				return BadType, reason
			}
		}
	case base == "Json" || base == "Object" || base == "Map":
		if !json.Valid([]byte(v)) {
			return BadType, fmt.Sprintf("%s is not valid JSON", quoteShort(v))
		}
	case isList:
		// a list of structs: a JSON array
		var arr []json.RawMessage
		if err := json.Unmarshal([]byte(v), &arr); err != nil {
			return BadType, fmt.Sprintf("%s is not a JSON array (of %s)", quoteShort(v), base)
		}
		elems = make([]string, len(arr))
	default:
		// a struct: a JSON object
		var obj map[string]json.RawMessage
		if err := json.Unmarshal([]byte(v), &obj); err != nil {
			return BadType, fmt.Sprintf("%s is not a JSON object (type %s)", quoteShort(v), base)
		}
	}
	// list size
	if p.MaxList > 0 && use("max_list") && (elemList || isList) && len(elems) > p.MaxList {
		return OutOfRange, fmt.Sprintf("%d items, at most %d allowed", len(elems), p.MaxList)
	}
	// length
	if base == "String" && !elemList {
		n := utf8.RuneCountInString(v)
		if p.MaxLen > 0 && use("max_len") && n > p.MaxLen {
			return OutOfRange, fmt.Sprintf("%d characters, at most %d allowed", n, p.MaxLen)
		}
		if p.MinLen > 0 && use("min_len") && n < p.MinLen {
			return OutOfRange, fmt.Sprintf("%d characters, at least %d needed", n, p.MinLen)
		}
	}
	// range
	if (p.Min != nil && use("min") || p.Max != nil && use("max")) && elems != nil {
		for _, e := range elems {
			f, err := strconv.ParseFloat(strings.TrimSpace(e), 64)
			if err != nil {
				return BadType, fmt.Sprintf("%q is not a number", e)
			}
			if p.Min != nil && use("min") && f < *p.Min {
				return OutOfRange, fmt.Sprintf("%s is below the minimum %s", e, num(*p.Min))
			}
			if p.Max != nil && use("max") && f > *p.Max && !pageSize {
				return OutOfRange, fmt.Sprintf("%s is over the maximum %s", e, num(*p.Max))
			}
		}
	}
	// allowed values
	if len(p.Enum) > 0 && use("enum") && elems != nil {
		for _, e := range elems {
			if !slices.Contains(p.Enum, e) {
				return NotAllowed, fmt.Sprintf("%q is not one of %s (from the doc text)", e, strings.Join(p.Enum, ", "))
			}
		}
	}
	return "", ""
}

var decimalRe = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[+-]?(\d+(\.\d*)?|\.\d+)$`) })

// scalarType checks one scalar value of type base.
func scalarType(base, v string, decimal bool) string {
	v = strings.TrimSpace(v)
	switch base {
	case "byte":
		if _, err := strconv.ParseInt(v, 10, 8); err != nil {
			return fmt.Sprintf("%q is not a byte (a whole number from -128 to 127)", v)
		}
	case "Number", "Long", "Integer":
		if _, err := strconv.ParseInt(v, 10, 64); err == nil {
			return ""
		}
		if decimal && decimalRe().MatchString(v) {
			return ""
		}
		return fmt.Sprintf("%q is not a whole number", v)
	case "Price", "Double", "Float", "BigDecimal":
		if !decimalRe().MatchString(v) {
			return fmt.Sprintf("%q is not a decimal number (as 12.50)", v)
		}
	case "Boolean":
		if !strings.EqualFold(v, "true") && !strings.EqualFold(v, "false") {
			return fmt.Sprintf("%q is not a Boolean (true or false)", v)
		}
	case "Date":
		if _, err := parseDate(v); err != nil {
			return fmt.Sprintf("%q is not a time as yyyy-MM-dd HH:mm:ss", v)
		}
	}
	return ""
}

// quoteShort quotes v, cut to 40 characters.
func quoteShort(v string) string {
	if utf8.RuneCountInString(v) > 40 {
		r := []rune(v)
		return strconv.Quote(string(r[:40])) + "…"
	}
	return strconv.Quote(v)
}

func parseDate(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	t, err := time.Parse(DateLayout, s)
	if err != nil {
		t, err = time.Parse("2006-01-02", s)
	}
	return t, err
}

func num(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// HumanSpan writes d as "1 day", "1 day 2h30m", "30m", "45s".
func HumanSpan(d time.Duration) string {
	if d <= 0 {
		return "0s"
	}
	days := d / (24 * time.Hour)
	rest := d - days*24*time.Hour
	var b strings.Builder
	switch days {
	case 0:
	case 1:
		b.WriteString("1 day")
	default:
		fmt.Fprintf(&b, "%d days", days)
	}
	if rest > 0 {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		s := rest.String() // e.g. 2h30m0s
		if strings.HasSuffix(s, "m0s") {
			s = strings.TrimSuffix(s, "0s")
		}
		if strings.HasSuffix(s, "h0m") {
			s = strings.TrimSuffix(s, "0m")
		}
		b.WriteString(s)
	}
	return b.String()
}
