package repl

import (
	"strings"

	lua "github.com/yuin/gopher-lua"

	"github.com/topscript/topscript/stdlib"
)

// Format renders a value the way the REPL prints it (stdlib.Format: the
// one rendering of a Lua value as text, which error messages use too).
func Format(L *lua.LState, v lua.LValue) string { return stdlib.Format(L, v) }

// FormatValues formats the results of one evaluation, tab-separated.
func FormatValues(L *lua.LState, vals []lua.LValue) string {
	parts := make([]string, len(vals))
	for i, v := range vals {
		parts[i] = Format(L, v)
	}
	return strings.Join(parts, "\t")
}
