package config

import (
	"regexp"
	"testing"
)

// envRefRE is the regexp expandRefs scans for, kept here as its reference.
var envRefRE = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// expandRE is expandRefs done with the regexp.
func expandRE(s string, repl func(string) string) string {
	return envRefRE.ReplaceAllStringFunc(s, func(ref string) string { return repl(ref[2 : len(ref)-1]) })
}

func mark(name string) string { return "<" + name + ">" }

var expandCases = []string{
	"", "plain", "${A}", "${TOP_APP_SECRET}", "x${A}y${_b9}z", "${9A}", "${}", "${A", "$A}", "$${A}}",
	"${${A}}", "${A-B}", "${A}${B}", "${A }", "${a_1}tail", "${", "$", "}", "${A}$", "中${文}${名}",
	"${_}", "${A}${", "$}{A}", "${A\x00}",
}

// expandRefs replaces exactly what the regexp `\$\{([A-Za-z_][A-Za-z0-9_]*)\}` matches.
func TestExpandRefs(t *testing.T) {
	for _, s := range expandCases {
		if got, want := expandRefs(s, mark), expandRE(s, mark); got != want {
			t.Errorf("expandRefs(%q) = %q, want %q", s, got, want)
		}
	}
}

func FuzzExpandRefs(f *testing.F) {
	for _, s := range expandCases {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := expandRefs(s, mark), expandRE(s, mark); got != want {
			t.Errorf("expandRefs(%q) = %q, want %q", s, got, want)
		}
	})
}
