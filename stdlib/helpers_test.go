package stdlib

import (
	"context"
	"testing"

	lua "github.com/yuin/gopher-lua"

	"github.com/topscript/topscript/internal/luatest"
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

// The shared Lua test helpers (internal/luatest), by their short names.
var (
	run        = luatest.Run
	eval       = luatest.Eval
	evalString = luatest.EvalString
	wantError  = luatest.WantError
)

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
