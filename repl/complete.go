package repl

import (
	"regexp"
	"sort"
	"strings"

	lua "github.com/yuin/gopher-lua"

	"github.com/topscript/topscript/stdlib"
	"github.com/topscript/topscript/top/catalog"
)

// Completer completes REPL input: Lua globals and keywords, fields of
// modules and tables (`top.ca` → `top.call`, `json.enc` → `json.encode`,
// `w:wr` → `w:write`), TOP method names inside a string argument
// (`top.call("taobao.trades.so` → `taobao.trades.sold.get`, ...), and a
// method's parameter names as keys of the params table that follows it
// (`top.call("taobao.trades.sold.get", {st` → `start_created`, `status`),
// in top.call/try/pages/each, call_all's `{"method", {` entries and a job's
// `return "method", {`.
//
// It reads the Lua state's globals without running any Lua code, so it is
// safe to call between evaluations (liner calls it while prompting).
type Completer struct {
	L       *lua.LState
	methods []string // sorted
	// params returns a method's parameter names (the catalog's).
	params func(method string) []string
}

// NewCompleter returns a Completer over L's globals, the given TOP method
// names and the catalog's parameters of each method.
func NewCompleter(L *lua.LState, methods []string) *Completer {
	m := append([]string(nil), methods...)
	sort.Strings(m)
	return &Completer{L: L, methods: m, params: catalogParams}
}

// catalogParams lists the top-level parameters the catalog knows of
// method, required ones first.
func catalogParams(method string) []string {
	a, ok := catalog.Lookup(method)
	if !ok {
		return nil
	}
	var req, opt []string
	for _, p := range a.Params {
		switch {
		case strings.Contains(p.Name, "."): // a member of a structured parameter
		case p.Required:
			req = append(req, p.Name)
		default:
			opt = append(opt, p.Name)
		}
	}
	return append(req, opt...)
}

// Complete implements liner.WordCompleter: pos is the cursor position in
// runes. The line becomes head + one of completions + tail; completions
// are sorted and hold whole words (e.g. "top.call"), never duplicates.
func (c *Completer) Complete(line string, pos int) (head string, completions []string, tail string) {
	defer func() {
		if recover() != nil {
			head, completions, tail = line, nil, ""
		}
	}()
	runes := []rune(line)
	if pos < 0 {
		pos = 0
	}
	if pos > len(runes) {
		pos = len(runes)
	}
	before, after := string(runes[:pos]), string(runes[pos:])

	if method, start, given, ok := paramsKey(before); ok {
		prefix := before[start:]
		var out []string
		for _, p := range c.params(method) {
			if strings.HasPrefix(p, prefix) && !given[p] {
				out = append(out, p)
			}
		}
		sort.Strings(out)
		return before[:start], out, after
	}

	if start, ok := openString(before); ok {
		prefix := before[start:]
		if c.wantsMethod(before[:start-1], prefix) {
			return before[:start], c.methodsWith(prefix), after
		}
		return before, nil, after
	}

	start := len(before)
	for start > 0 && isWordByte(before[start-1]) {
		start--
	}
	word := before[start:]
	if word != "" && word[0] >= '0' && word[0] <= '9' {
		return before, nil, after
	}
	// Part of a method call on a value (`x:`) or field access (`a.b.`).
	cut := strings.LastIndexAny(word, ".:")
	if cut < 0 {
		return before[:start], c.globalsWith(word), after
	}
	base, sep, prefix := word[:cut], word[cut], word[cut+1:]
	if strings.Contains(base, ":") || base == "" {
		return before, nil, after
	}
	obj := c.resolve(strings.Split(base, "."))
	if obj == lua.LNil {
		return before, nil, after
	}
	var out []string
	for _, k := range c.fields(obj, sep == ':') {
		if strings.HasPrefix(k, prefix) {
			out = append(out, base+string(sep)+k)
		}
	}
	return before[:start], out, after
}

func isWordByte(b byte) bool {
	return b == '_' || b == '.' || b == ':' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9'
}

// scan walks s as Lua source, calling code (when not nil) for each byte
// outside string literals. It reports whether s ends inside a string and
// where that string's text starts, or that a comment ended the walk.
func scan(s string, code func(i int, ch byte)) (strStart int, inString, comment bool) {
	var quote byte
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if quote != 0 {
			switch ch {
			case '\\':
				i++
			case quote:
				quote = 0
			}
			continue
		}
		switch ch {
		case '"', '\'':
			quote = ch
			strStart = i + 1
			continue
		case '-':
			if i+1 < len(s) && s[i+1] == '-' {
				return 0, false, true
			}
		}
		if code != nil {
			code(i, ch)
		}
	}
	return strStart, quote != 0, false
}

// openString reports whether s ends inside a quoted string literal and
// where its text starts. Comments end the scan (nothing to complete there).
func openString(s string) (start int, ok bool) {
	start, in, _ := scan(s, nil)
	return start, in
}

// paramsKey reports whether s ends where a key of a TOP call's params table
// is typed: inside `{` that follows `"method",` as the first argument of
// top.<fn>(, an entry `{"method", {` of call_all, or `return "method", {`
// (a job's call function). It returns the method, where the key's text
// starts in s and the keys the table already has.
func paramsKey(s string) (method string, start int, given map[string]bool, ok bool) {
	// Find the innermost open bracket outside strings and comments, and
	// the last separator inside it.
	type open struct {
		ch       byte
		pos, sep int
	}
	var stack []open
	_, inString, comment := scan(s, func(i int, ch byte) {
		switch ch {
		case '{', '(', '[':
			stack = append(stack, open{ch, i, i})
		case '}', ')', ']':
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
		case ',', ';':
			if len(stack) > 0 {
				stack[len(stack)-1].sep = i
			}
		}
	})
	if inString || comment || len(stack) == 0 || stack[len(stack)-1].ch != '{' {
		return "", 0, nil, false
	}
	tbl := stack[len(stack)-1]
	// The key being typed: an identifier prefix after the last separator.
	start = len(s)
	for start > tbl.sep+1 && isIdentByte(s[start-1]) {
		start--
	}
	if strings.TrimSpace(s[tbl.sep+1:start]) != "" || start < len(s) && s[start] >= '0' && s[start] <= '9' {
		return "", 0, nil, false
	}
	// Before the table: "method" and a comma.
	lead := strings.TrimRight(s[:tbl.pos], " \t")
	if !strings.HasSuffix(lead, ",") {
		return "", 0, nil, false
	}
	lead = strings.TrimRight(lead[:len(lead)-1], " \t")
	if lead == "" || (lead[len(lead)-1] != '"' && lead[len(lead)-1] != '\'') {
		return "", 0, nil, false
	}
	q := lead[len(lead)-1]
	qi := strings.LastIndexByte(lead[:len(lead)-1], q)
	if qi < 0 {
		return "", 0, nil, false
	}
	method = lead[qi+1 : len(lead)-1]
	before := strings.TrimRight(lead[:qi], " \t")
	switch {
	case strings.HasSuffix(before, "{"), hasWordSuffix(before, "return"):
	case strings.HasSuffix(before, "("):
		call := strings.TrimRight(before[:len(before)-1], " \t")
		i := len(call)
		for i > 0 && isWordByte(call[i-1]) {
			i--
		}
		if !strings.HasPrefix(call[i:], "top.") && !strings.HasPrefix(call[i:], "top:") {
			return "", 0, nil, false
		}
	default:
		return "", 0, nil, false
	}
	given = map[string]bool{}
	for _, m := range tableKey.FindAllStringSubmatch(s[tbl.pos+1:], -1) {
		given[m[1]] = true
	}
	return method, start, given, true
}

// tableKey matches a `name =` key of a table constructor (not `==`).
var tableKey = regexp.MustCompile(`(?:^|[{,;])\s*([A-Za-z_][A-Za-z0-9_]*)\s*=(?:[^=]|$)`)

func isIdentByte(b byte) bool {
	return b == '_' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9'
}

// hasWordSuffix reports whether s ends with the word w.
func hasWordSuffix(s, w string) bool {
	return strings.HasSuffix(s, w) && (len(s) == len(w) || !isIdentByte(s[len(s)-len(w)-1]))
}

// wantsMethod decides whether a string being typed is a TOP method name:
// the first argument of top.<fn>(, or text that already looks like one.
func (c *Completer) wantsMethod(lead, prefix string) bool {
	for i := 0; i < len(prefix); i++ {
		ch := prefix[i]
		if !(ch == '.' || ch == '_' || ch == '*' || ch >= 'a' && ch <= 'z' || ch >= '0' && ch <= '9') {
			return false
		}
	}
	lead = strings.TrimRight(lead, " \t")
	if strings.HasSuffix(lead, "(") {
		call := strings.TrimRight(lead[:len(lead)-1], " \t")
		i := len(call)
		for i > 0 && isWordByte(call[i-1]) {
			i--
		}
		if strings.HasPrefix(call[i:], "top.") || strings.HasPrefix(call[i:], "top:") {
			return true
		}
	}
	return strings.Contains(prefix, ".")
}

func (c *Completer) methodsWith(prefix string) []string {
	i := sort.SearchStrings(c.methods, prefix)
	var out []string
	for ; i < len(c.methods) && strings.HasPrefix(c.methods[i], prefix); i++ {
		if len(out) == 0 || out[len(out)-1] != c.methods[i] {
			out = append(out, c.methods[i])
		}
	}
	return out
}

// globalsWith lists globals and keywords starting with prefix.
func (c *Completer) globalsWith(prefix string) []string {
	seen := map[string]bool{}
	var out []string
	add := func(s string) {
		if strings.HasPrefix(s, prefix) && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	for _, k := range stdlib.LuaKeywords {
		if prefix != "" {
			add(k)
		}
	}
	if c.L != nil {
		for _, k := range c.fields(c.L.G.Global, false) {
			add(k)
		}
	}
	sort.Strings(out)
	return out
}

// resolve walks a dotted path from the globals without running
// metamethods (only __index tables are followed).
func (c *Completer) resolve(parts []string) lua.LValue {
	if c.L == nil {
		return lua.LNil
	}
	var cur lua.LValue = c.L.G.Global
	for _, part := range parts {
		if part == "" {
			return lua.LNil
		}
		cur = rawField(cur, part)
		if cur == lua.LNil {
			return lua.LNil
		}
	}
	return cur
}

// rawField returns v[name] for tables (raw, then through __index tables)
// and userdata (through __index tables).
func rawField(v lua.LValue, name string) lua.LValue {
	for depth := 0; depth < 8; depth++ {
		var mt lua.LValue = lua.LNil
		switch x := v.(type) {
		case *lua.LTable:
			if f := x.RawGetString(name); f != lua.LNil {
				return f
			}
			mt = x.Metatable
		case *lua.LUserData:
			mt = x.Metatable
		default:
			return lua.LNil
		}
		mtt, ok := mt.(*lua.LTable)
		if !ok {
			return lua.LNil
		}
		v = mtt.RawGetString("__index")
	}
	return lua.LNil
}

// fields lists the identifier keys of a table or userdata, including those
// reachable through __index tables; onlyFuncs keeps function values.
func (c *Completer) fields(v lua.LValue, onlyFuncs bool) []string {
	seen := map[string]bool{}
	var out []string
	for depth := 0; depth < 8; depth++ {
		var mt lua.LValue = lua.LNil
		switch x := v.(type) {
		case *lua.LTable:
			x.ForEach(func(k, val lua.LValue) {
				s, ok := k.(lua.LString)
				if !ok || !stdlib.IsLuaName(string(s)) || seen[string(s)] {
					return
				}
				if onlyFuncs && val.Type() != lua.LTFunction {
					return
				}
				seen[string(s)] = true
				out = append(out, string(s))
			})
			mt = x.Metatable
		case *lua.LUserData:
			mt = x.Metatable
		}
		mtt, ok := mt.(*lua.LTable)
		if !ok {
			break
		}
		v = mtt.RawGetString("__index")
	}
	sort.Strings(out)
	return out
}
