package sandbox

import (
	"errors"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode"

	"github.com/topscript/topscript/top/catalog"
)

// Every method of the catalog that is not modelled with state (apis.go) is
// served from its documented response schema (catalog.API.Response):
//
//   - after the system checks, the method's own checks with the gateway's
//     codes: 40 for a missing required parameter, 41 for a value that is not
//     of its type or breaks one of the platform's structured limits (list
//     size, length, range). Facts only the doc texts state (allowed values,
//     ranges in prose) are not checked here: the gateway does not, the
//     backend answers them (the client refuses them before sending);
//   - a session is required when the catalog says so; a session given to
//     any other method must still be the sandbox's (27);
//   - then a deterministic answer, type for type: the same request (its
//     application parameters) always gets the same payload. Number fields
//     named like ids hold ids as long as real ones (19 digits for tid and
//     oid, 12 for other ids; id-named String fields the same digits), other
//     Numbers small counts; Date and time-named String fields a time in the
//     last three months; Price and price-named String fields "12.34";
//     Boolean true for success flags; a parameter of the request
//     echoed in the field of the same name; lists of structs one to three
//     elements; the page-style list of a paging method one to three items on
//     page 1 (with a matching total) and none after; `fields`, where the
//     method takes it, selects the members of the answer's structs (dotted
//     names select inside lists, as "orders.oid").
//
// A method the catalog knows without a response schema (the hand-curated
// methods the platform's model lacks) answers an empty payload after its
// checks. A method the catalog does not know answers 22.

// sessionNeed says how an API treats the session parameter.
type sessionNeed uint8

const (
	sessionNone     sessionNeed = iota // not looked at
	sessionIfGiven                     // a session given must be valid (27)
	sessionRequired                    // 26 without one, 27 with a bad one
)

// modelAPIs caches the APIs served from the catalog, by method.
var modelAPIs sync.Map

// apiFor returns the API serving method: the modelled one, else the one
// served from the catalog; nil when the catalog does not know method.
func apiFor(method string) *api {
	if a := apis()[method]; a != nil {
		return a
	}
	if a, ok := modelAPIs.Load(method); ok {
		return a.(*api)
	}
	ca, ok := catalog.Lookup(method)
	if !ok {
		return nil
	}
	a := &api{name: method, root: responseRoot(method), write: ca.Access == catalog.Write, model: ca,
		handle: (*Server).fromModel}
	switch ca.Session {
	case "required":
		a.session = sessionRequired
	case "none":
		a.session = sessionNone
	default:
		a.session = sessionIfGiven
	}
	for _, p := range ca.Params {
		if p.Required && !strings.Contains(p.Name, ".") {
			a.required = append(a.required, p.Name)
		}
	}
	got, _ := modelAPIs.LoadOrStore(method, a)
	return got.(*api)
}

// fromModel answers a call of a catalog method from its schema.
func (s *Server) fromModel(c *call) (obj, *apiErr) {
	ca := c.api.model
	if err := ca.Check(c.p, c.files, catalog.Checks{}); err != nil {
		var ve *catalog.ValidationError
		if errors.As(err, &ve) {
			if ve.Problem == catalog.Missing {
				return nil, errMissing(ve.Param)
			}
			return nil, errInvalid(ve.Param)
		}
		return nil, errInvalid("")
	}
	g := &generator{s: s, api: ca, p: c.p, seed: requestSeed(ca.Method, c.p)}
	fs := allFields()
	if ca.Takes("fields") {
		if f := c.str("fields"); f != "" && !ca.ParamsUnknown {
			fs = parseFields(f)
		}
	}
	return g.payload(ca.Response(), fs), nil
}

// requestSeed hashes a call's method and application parameters: the same
// request gets the same answer.
func requestSeed(method string, p map[string]string) uint64 {
	keys := make([]string, 0, len(p))
	for k := range p {
		if !isSystemParam(k) && k != "method" && k != "session" && k != "sign" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	h := hashString(0x51a4d_b0c5, method)
	for _, k := range keys {
		h = hashString(h, k)
		h = hashString(h, p[k])
	}
	return h
}

// hashString folds s into h (FNV-1a steps, then mixed).
func hashString(h uint64, s string) uint64 {
	h ^= 0xcbf29ce484222325
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 0x100000001b3
	}
	return mix(h)
}

// generator makes one answer.
type generator struct {
	s    *Server
	api  *catalog.API
	p    map[string]string
	seed uint64
}

// maxDepth bounds the answer's nesting (the model's deepest tree is 7).
const maxDepth = 10

// payload builds the top level: its struct members are selected by fs, and
// a page-style method's list holds one page.
func (g *generator) payload(fields []catalog.Field, fs fieldSet) obj {
	// A page-style list: one to three items in all, on page 1; the total
	// is the same whichever page is asked for.
	pageList, total, items := "", int64(0), int64(0)
	if pg := g.api.Paging; pg != nil && pg.Style == "page" && g.api.ListField != "" && !strings.Contains(g.api.ListField, ".") {
		pageList = g.api.ListField
		rest := make(map[string]string, len(g.p))
		for k, v := range g.p {
			if k != pg.PageParam && k != pg.SizeParam {
				rest[k] = v
			}
		}
		total = 1 + int64(requestSeed(g.api.Method, rest)%3)
		size, err := strconv.ParseInt(g.p[pg.SizeParam], 10, 64)
		if err != nil || size <= 0 {
			size = total
		}
		no, err := strconv.ParseInt(g.p[pg.PageParam], 10, 64)
		if err != nil || no < 1 {
			no = 1
		}
		if no-1 <= (total-1)/size { // (no-1)*size < total, without overflow
			items = min(total-(no-1)*size, size)
		}
	}
	onlyScalars := true
	for _, f := range fields {
		if len(f.Fields) > 0 {
			onlyScalars = false
		}
	}
	out := make(obj, 0, len(fields))
	for _, f := range fields {
		if onlyScalars && !fs.has(f.Name) {
			continue
		}
		// fields names the members of the answer's structs: a struct at the
		// top level gets the whole selection
		sub := fs
		var v any
		switch {
		case f.Name == pageList:
			v = g.list(f, sub, f.Name, 0, int(items))
			if items == 0 {
				v = nil
			}
		case g.api.Paging != nil && pageList != "" && f.Name == g.api.Paging.TotalField:
			v = total
		case f.Name == "has_next" && f.Type == "Boolean" && pageList != "":
			v = items > 0 && g.pageEnd(items) < total
		default:
			v = g.value(f, sub, f.Name, 0, 0)
		}
		if v != nil {
			out = append(out, kv{f.Name, v})
		}
	}
	return out
}

// pageEnd is how many items the pages up to this one hold.
func (g *generator) pageEnd(items int64) int64 {
	pg := g.api.Paging
	no, err := strconv.ParseInt(g.p[pg.PageParam], 10, 64)
	if err != nil || no < 1 {
		no = 1
	}
	size, err := strconv.ParseInt(g.p[pg.SizeParam], 10, 64)
	if err != nil || size <= 0 {
		return items
	}
	return (no-1)*size + items
}

// h is the hash of a field path and an element index.
func (g *generator) h(path string, i int) uint64 {
	return hashString(g.seed^uint64(i)*0x9e3779b97f4a7c15, path)
}

// value makes the value of field f at path (element i of its list).
func (g *generator) value(f catalog.Field, fs fieldSet, path string, depth, i int) any {
	if f.Type == "byte[]" {
		return "c2FuZGJveA==" // a file's bytes, base64 (as Java's byte[] comes out in JSON)
	}
	base, isList := strings.CutSuffix(f.Type, "[]")
	if isList {
		return g.list(f, fs, path, depth, 1+int(g.h(path, i)%3))
	}
	if len(f.Fields) > 0 || !isScalar(base) {
		if depth >= maxDepth {
			return nil
		}
		return g.object(f.Fields, fs, path, depth+1, i)
	}
	return g.scalar(f.Name, base, path, i)
}

// list makes n elements of list field f; nil when n is 0 (empty lists are
// left out, as on the platform).
func (g *generator) list(f catalog.Field, fs fieldSet, path string, depth, n int) any {
	if n <= 0 || depth >= maxDepth {
		return nil
	}
	base := strings.TrimSuffix(f.Type, "[]")
	l := list{item: itemName(base), elems: make([]any, 0, n)}
	for k := 0; k < n; k++ {
		if len(f.Fields) > 0 || !isScalar(base) {
			l.elems = append(l.elems, g.object(f.Fields, fs, path, depth+1, k))
		} else {
			l.elems = append(l.elems, g.scalar(f.Name, base, path, k))
		}
	}
	return l
}

// object makes a struct's members, those fs selects.
func (g *generator) object(fields []catalog.Field, fs fieldSet, path string, depth, i int) obj {
	o := make(obj, 0, len(fields))
	for _, f := range fields {
		if !fs.has(f.Name) && !fs.hasList(f.Name) {
			continue
		}
		sub := allFields()
		if len(f.Fields) > 0 {
			sub = fs.sub(f.Name)
		}
		if v := g.value(f, sub, path+"."+f.Name, depth, i); v != nil {
			o = append(o, kv{f.Name, v})
		}
	}
	return o
}

// scalar makes a scalar of type base for a field called name.
func (g *generator) scalar(name, base, path string, i int) any {
	if v, ok := g.echo(name, base); ok {
		return v
	}
	h := g.h(path, i)
	lname := strings.ToLower(name)
	switch base {
	case "Number", "Long", "Integer":
		return idOrCount(lname, h)
	case "Double", "Float", "BigDecimal":
		return rawNumber(money(int64(h % 100000)))
	case "Boolean":
		switch lname {
		case "success", "is_success", "issuccess", "succeed", "result", "ok":
			return true
		}
		return h&1 == 1
	case "Date":
		return fmtTime(g.s.base.Unix() - int64(h%(89*86400)))
	case "Price":
		return money(int64(100 + h%99900))
	case "Json":
		return `{"sandbox":true}`
	case "byte":
		return int64(h % 2) // Java's Byte: a small integer (flags, statuses)
	}
	// String (and any other scalar), shaped by its name
	switch {
	case strings.HasSuffix(lname, "time") || strings.HasSuffix(lname, "date") || lname == "created" || lname == "modified":
		return fmtTime(g.s.base.Unix() - int64(h%(89*86400)))
	case strings.HasSuffix(lname, "id"):
		return strconv.FormatInt(idOrCount(lname, h), 10)
	case strings.Contains(lname, "price") || strings.Contains(lname, "fee") || strings.Contains(lname, "payment") || strings.Contains(lname, "amount"):
		return money(int64(100 + h%99900))
	case strings.HasSuffix(lname, "url"):
		return "https://sandbox.topscript.invalid/" + name + "/" + strconv.FormatUint(h%100000, 10)
	case strings.HasSuffix(lname, "nick"):
		return "沙箱用户" + strconv.FormatUint(h%1000, 10)
	}
	return name + "-" + strconv.FormatUint(h%100000, 10)
}

// echo returns the request's parameter of the same name when it is a
// value of the field's type.
func (g *generator) echo(name, base string) (any, bool) {
	v, ok := g.p[name]
	if !ok || v == "" || strings.Contains(v, ",") {
		return nil, false
	}
	switch base {
	case "Number", "Long", "Integer", "byte":
		n, err := strconv.ParseInt(v, 10, 64)
		return n, err == nil
	case "String":
		return v, true
	}
	return nil, false
}

// idOrCount makes a Number: an id as long as real ones for id-named
// fields, else a small count.
func idOrCount(name string, h uint64) int64 {
	switch {
	case name == "tid" || name == "oid" || strings.HasSuffix(name, "_tid") || strings.HasSuffix(name, "_oid"):
		return 3_000_000_000_000_000_000 + int64(h%1_000_000_000_000_000_000)
	case name == "id" || strings.HasSuffix(name, "id") || strings.HasSuffix(name, "_id"):
		return 100_000_000_000 + int64(h%900_000_000_000)
	}
	return int64(h % 1000)
}

// isScalar reports whether a type has no members.
func isScalar(base string) bool {
	switch base {
	case "String", "Number", "Long", "Integer", "Double", "Float", "BigDecimal", "Boolean", "Date", "Price", "Json", "byte":
		return true
	}
	return false
}

// itemName is the element name of a list of base on the wire (non-simplified
// JSON and XML): "Trade" → "trade", "FenxiaoProduct" → "fenxiao_product",
// "String" → "string".
func itemName(base string) string {
	var b strings.Builder
	for i, r := range base {
		if unicode.IsUpper(r) {
			if i > 0 {
				b.WriteByte('_')
			}
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	s := b.String()
	if s == "" {
		return "item"
	}
	return s
}
