// Package luatest runs Lua snippets in tests: the helpers the tests of the
// Lua modules (stdlib, luatop) share.
package luatest

import (
	"strings"
	"testing"

	lua "github.com/yuin/gopher-lua"
)

// Run executes src, failing the test on error.
func Run(t testing.TB, L *lua.LState, src string) {
	t.Helper()
	if err := L.DoString(src); err != nil {
		t.Fatalf("lua error: %v\nsource:\n%s", err, src)
	}
}

// Eval returns the value of a Lua expression.
func Eval(t testing.TB, L *lua.LState, expr string) lua.LValue {
	t.Helper()
	Run(t, L, "__result = "+expr)
	return L.GetGlobal("__result")
}

// EvalString returns tostring of a Lua expression.
func EvalString(t testing.TB, L *lua.LState, expr string) string {
	t.Helper()
	return Eval(t, L, "tostring("+expr+")").String()
}

// WantError runs src and checks that it fails with an error mentioning
// every fragment.
func WantError(t testing.TB, L *lua.LState, src string, fragments ...string) {
	t.Helper()
	err := L.DoString(src)
	if err == nil {
		t.Fatalf("want an error from:\n%s", src)
	}
	for _, f := range fragments {
		if !strings.Contains(err.Error(), f) {
			t.Errorf("error %q does not mention %q", err.Error(), f)
		}
	}
}
