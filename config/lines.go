package config

import (
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
)

// keyLines maps the display path of every key and table header of a TOML
// document to the 1-based line it is on. Display paths are what errors show:
// parts joined with "." and quoted as TOML would ("throttle.methods.\"a.*\""),
// with the 1-based element of an array of tables in brackets
// ("closures[2].start").
//
// The TOML library keeps key positions to itself, so they are recovered here
// by reading the lines: a header or a "key =" at the start of a line, outside
// any multi-line string or array. The document is known to parse when this
// runs, so the scanner can be forgiving.
type keyLines map[string]int

// line returns the line of path, or of its nearest ancestor that has one
// (a key inside an inline table is reported at the line of the table), or 0.
func (kl keyLines) line(path string) int {
	for path != "" {
		if n, ok := kl[path]; ok {
			return n
		}
		path = parentPath(path)
	}
	return 0
}

// parentPath strips the last part of a display path: "a.b" → "a",
// "a[2]" → "a", "a" → "".
func parentPath(path string) string {
	if strings.HasSuffix(path, "]") {
		if i := strings.LastIndexByte(path, '['); i > 0 {
			return path[:i]
		}
	}
	// Find the last "." outside double quotes.
	in, last := false, -1
	for i := 0; i < len(path); i++ {
		switch c := path[i]; {
		case c == '\\' && in:
			i++
		case c == '"':
			in = !in
		case c == '.' && !in:
			last = i
		}
	}
	if last < 0 {
		return ""
	}
	return path[:last]
}

// joinPath appends one key to a display path.
func joinPath(path, key string) string {
	seg := toml.Key{key}.String()
	if path == "" {
		return seg
	}
	return path + "." + seg
}

// indexPath appends a 0-based array index to a display path, shown 1-based.
func indexPath(path string, i int) string {
	return path + "[" + strconv.Itoa(i+1) + "]"
}

// scanLines builds the keyLines of src.
func scanLines(src string) keyLines {
	kl := keyLines{}
	arrays := map[string]int{} // raw path of an array of tables → elements seen
	table := ""                // display path of the current table
	var v valueScanner
	for i, ln := range strings.Split(src, "\n") {
		if v.open() {
			v.scan(ln)
			continue
		}
		s := strings.TrimSpace(ln)
		switch {
		case s == "" || s[0] == '#':
			continue
		case strings.HasPrefix(s, "[["):
			parts, _, ok := parseKey(s[2:])
			if !ok {
				continue
			}
			raw := toml.Key(parts).String()
			arrays[raw]++
			table = headerPath(parts, arrays, true)
			kl[table] = i + 1
		case s[0] == '[':
			parts, _, ok := parseKey(s[1:])
			if !ok {
				continue
			}
			table = headerPath(parts, arrays, false)
			if _, seen := kl[table]; !seen {
				kl[table] = i + 1
			}
		default:
			parts, rest, ok := parseKey(s)
			if !ok || !strings.HasPrefix(rest, "=") {
				continue
			}
			p := table
			for _, part := range parts {
				p = joinPath(p, part)
				if _, seen := kl[p]; !seen {
					kl[p] = i + 1
				}
			}
			v.scan(rest[1:])
		}
	}
	return kl
}

// headerPath is the display path of a table header, indexing every prefix
// that is an array of tables by its current element. The last part of an
// "[[array]]" header is indexed too.
func headerPath(parts []string, arrays map[string]int, isArray bool) string {
	p := ""
	for i := range parts {
		p = joinPath(p, parts[i])
		if n := arrays[toml.Key(parts[:i+1]).String()]; n > 0 && (i < len(parts)-1 || isArray) {
			p = indexPath(p, n-1)
		}
	}
	return p
}

// parseKey reads a dotted key (bare, "basic" or 'literal' parts) from the
// start of s and returns its parts and what follows, trimmed.
func parseKey(s string) (parts []string, rest string, ok bool) {
	for {
		s = strings.TrimLeft(s, " \t")
		if s == "" {
			return nil, "", false
		}
		switch s[0] {
		case '"':
			end := 1
			for end < len(s) && s[end] != '"' {
				if s[end] == '\\' {
					end++
				}
				end++
			}
			if end >= len(s) {
				return nil, "", false
			}
			part, err := strconv.Unquote(s[:end+1])
			if err != nil {
				part = s[1:end]
			}
			parts = append(parts, part)
			s = s[end+1:]
		case '\'':
			end := strings.IndexByte(s[1:], '\'')
			if end < 0 {
				return nil, "", false
			}
			parts = append(parts, s[1:end+1])
			s = s[end+2:]
		default:
			end := 0
			for end < len(s) && isBare(s[end]) {
				end++
			}
			if end == 0 {
				return nil, "", false
			}
			parts = append(parts, s[:end])
			s = s[end:]
		}
		s = strings.TrimLeft(s, " \t")
		if !strings.HasPrefix(s, ".") {
			return parts, s, true
		}
		s = s[1:]
	}
}

func isBare(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

// valueScanner follows a value across lines far enough to know whether the
// next line starts a new key: it tracks multi-line strings and open
// brackets, skipping ordinary strings and comments.
type valueScanner struct {
	multi string // `"""` or `'''` while inside a multi-line string
	depth int    // open [ and { outside strings
}

func (v *valueScanner) open() bool { return v.multi != "" || v.depth > 0 }

func (v *valueScanner) scan(s string) {
	for i := 0; i < len(s); i++ {
		if v.multi != "" {
			if v.multi == `"""` && s[i] == '\\' {
				i++
				continue
			}
			if strings.HasPrefix(s[i:], v.multi) {
				i += 2
				v.multi = ""
			}
			continue
		}
		switch c := s[i]; c {
		case '#':
			return
		case '[', '{':
			v.depth++
		case ']', '}':
			if v.depth > 0 {
				v.depth--
			}
		case '"', '\'':
			q := string([]byte{c, c, c})
			if strings.HasPrefix(s[i:], q) {
				v.multi = q
				i += 2
				continue
			}
			for i++; i < len(s) && s[i] != c; i++ {
				if c == '"' && s[i] == '\\' {
					i++
				}
			}
		}
	}
}
