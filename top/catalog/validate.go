package catalog

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// ValidationError says why a call was refused before any request was sent.
type ValidationError struct {
	Method string
	Param  string
	Reason string
}

// Error returns "method: param: reason", e.g.
// "taobao.opentrade.activity.sync: item_id_list: 21 items, at most 20 allowed".
func (e *ValidationError) Error() string {
	return e.Method + ": " + e.Param + ": " + e.Reason
}

// DateLayout is how TOP writes Date parameters (GMT+8).
const DateLayout = "2006-01-02 15:04:05"

// Validate checks params, already encoded as the strings that would be sent
// (lists comma-joined, objects as JSON), against what the catalog documents:
// a required parameter missing or empty; a list longer than allowed; a string
// longer than allowed; a number out of its range; a page size over the
// maximum; a start..end span over the documented limit, or backwards. It
// returns the first problem as a *ValidationError, or nil. Parameters the
// catalog does not list pass untouched, as do the fields of structured
// parameters (dotted names), which are only documentation.
func (a *API) Validate(params map[string]string) error {
	if a == nil || a.Unmapped {
		return nil
	}
	fail := func(param, format string, args ...any) error {
		return &ValidationError{Method: a.Method, Param: param, Reason: fmt.Sprintf(format, args...)}
	}
	for _, p := range a.Params {
		if p.Required && !strings.Contains(p.Name, ".") && params[p.Name] == "" {
			return fail(p.Name, "required parameter missing")
		}
	}
	for _, p := range a.Params {
		v := params[p.Name]
		if v == "" || strings.Contains(p.Name, ".") {
			continue
		}
		if p.MaxList > 0 {
			if n, ok := listLen(p.Type, v); ok && n > p.MaxList {
				return fail(p.Name, "%d items, at most %d allowed", n, p.MaxList)
			}
		}
		if p.MaxLen > 0 {
			if n := utf8.RuneCountInString(v); n > p.MaxLen {
				return fail(p.Name, "%d characters, at most %d allowed", n, p.MaxLen)
			}
		}
		if p.Min != nil || p.Max != nil {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				return fail(p.Name, "%q is not a number", v)
			}
			if p.Min != nil && f < *p.Min {
				return fail(p.Name, "%s is below the minimum %s", v, num(*p.Min))
			}
			if p.Max != nil && f > *p.Max {
				return fail(p.Name, "%s is over the maximum %s", v, num(*p.Max))
			}
		}
	}
	pg := a.Paging
	if pg == nil {
		return nil
	}
	if pg.SizeParam != "" && pg.MaxSize > 0 {
		if v := params[pg.SizeParam]; v != "" {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				return fail(pg.SizeParam, "%q is not a whole number", v)
			}
			if n > int64(pg.MaxSize) {
				return fail(pg.SizeParam, "%d is over the maximum page size %d", n, pg.MaxSize)
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
			return fail(pg.SpanStart, "%q is not a time as yyyy-MM-dd HH:mm:ss", sv)
		}
		end, err := parseDate(ev)
		if err != nil {
			return fail(pg.SpanEnd, "%q is not a time as yyyy-MM-dd HH:mm:ss", ev)
		}
		if start.After(end) {
			return fail(pg.SpanStart, "%s is after %s %s", sv, pg.SpanEnd, ev)
		}
		if pg.MaxSpanSeconds > 0 {
			span := end.Sub(start)
			if limit := time.Duration(pg.MaxSpanSeconds) * time.Second; span > limit {
				return fail(pg.SpanEnd, "%s after %s, at most %s allowed",
					HumanSpan(span), pg.SpanStart, HumanSpan(limit))
			}
		}
	}
	return nil
}

// listLen counts the elements of a list parameter: comma-joined scalars, or a
// JSON array for lists of objects. ok is false when v is not a list the
// catalog can count (then nothing is flagged).
func listLen(typ, v string) (n int, ok bool) {
	if !strings.HasSuffix(typ, "[]") {
		return 0, false
	}
	switch strings.TrimSpace(strings.TrimSuffix(typ, "[]")) {
	case "String", "Number", "Boolean", "Date", "Price", "Long", "Integer":
		for _, e := range strings.Split(v, ",") {
			if strings.TrimSpace(e) != "" {
				n++
			}
		}
		return n, true
	}
	var arr []json.RawMessage
	if err := json.Unmarshal([]byte(v), &arr); err != nil {
		return 0, false
	}
	return len(arr), true
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
