package sandbox

import "strings"

// fieldSet is a parsed "fields" param: "tid,status,orders" or
// "tid,orders.oid,orders.title" (dotted names select sub-fields of a list).
type fieldSet struct {
	m map[string]bool
	// parents names lists with dotted sub-field selections ("orders").
	parents map[string]bool
	all     bool
}

func parseFields(s string) fieldSet {
	fs := fieldSet{m: make(map[string]bool, 8)}
	for s != "" {
		var f string
		f, s, _ = strings.Cut(s, ",")
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		fs.m[f] = true
		if p, _, ok := strings.Cut(f, "."); ok {
			if fs.parents == nil {
				fs.parents = map[string]bool{}
			}
			fs.parents[p] = true
		}
	}
	return fs
}

// allFields selects everything.
func allFields() fieldSet { return fieldSet{all: true} }

func (fs fieldSet) has(name string) bool { return fs.all || fs.m[name] }

// hasList reports whether list parent is selected, whole or by sub-field.
func (fs fieldSet) hasList(parent string) bool {
	return fs.all || fs.m[parent] || fs.parents[parent]
}

// sub is the selection inside list parent: everything when the list is named
// whole, else its dotted sub-fields.
func (fs fieldSet) sub(parent string) fieldSet {
	if fs.all || fs.m[parent] {
		return allFields()
	}
	out := fieldSet{m: map[string]bool{}}
	prefix := parent + "."
	for f := range fs.m {
		if strings.HasPrefix(f, prefix) {
			out.m[f[len(prefix):]] = true
		}
	}
	return out
}
