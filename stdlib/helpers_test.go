package stdlib

import (
	"context"
	"strings"
	"testing"

	lua "github.com/yuin/gopher-lua"
)

// newState returns a Lua state with every module preloaded and required
// into globals of the same name.
func newState(t *testing.T, env *Env) *lua.LState {
	t.Helper()
	L := lua.NewState()
	t.Cleanup(L.Close)
	if env == nil {
		env = &Env{}
	}
	Preload(L, env, nil)
	for _, name := range Names() {
		if err := L.DoString(name + ` = require("` + name + `")`); err != nil {
			t.Fatalf("require %s: %v", name, err)
		}
	}
	return L
}

// run executes src, failing the test on error.
func run(t *testing.T, L *lua.LState, src string) {
	t.Helper()
	if err := L.DoString(src); err != nil {
		t.Fatalf("lua error: %v\nsource:\n%s", err, src)
	}
}

// eval returns the value of a Lua expression.
func eval(t *testing.T, L *lua.LState, expr string) lua.LValue {
	t.Helper()
	run(t, L, "__result = "+expr)
	return L.GetGlobal("__result")
}

// evalString returns tostring of a Lua expression.
func evalString(t *testing.T, L *lua.LState, expr string) string {
	t.Helper()
	return eval(t, L, "tostring("+expr+")").String()
}

// wantError runs src and checks the error mentions every fragment.
func wantError(t *testing.T, L *lua.LState, src string, fragments ...string) {
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

func TestPreloadAllow(t *testing.T) {
	L := lua.NewState()
	defer L.Close()
	Preload(L, nil, func(name string) bool { return name != "csv" })
	if err := L.DoString(`require("json"); require("time"); require("log"); require("iter")`); err != nil {
		t.Fatal(err)
	}
	if err := L.DoString(`require("csv")`); err == nil {
		t.Fatal("csv was not allowed but loaded")
	}
}

func TestEnvContextFallback(t *testing.T) {
	env := &Env{}
	if env.context(nil) == nil {
		t.Fatal("nil context")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	env.Context = func() context.Context { return ctx }
	if env.context(nil) != ctx {
		t.Fatal("Env.Context not used")
	}
}

func luaString(s string) lua.LString { return lua.LString(s) }
