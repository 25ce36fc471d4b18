package luatop

import (
	"testing"

	lua "github.com/yuin/gopher-lua"

	"github.com/topscript/topscript/internal/luatest"
	"github.com/topscript/topscript/stdlib"
)

// The shared Lua test helpers (internal/luatest), by their short names.
var (
	run       = luatest.Run
	wantError = luatest.WantError
)

// newState returns a Lua state with the stdlib modules and the top and job
// modules of f.opts preloaded and required into globals of the same name;
// the state module shares the job's store, as under the engine.
func (f *jobFixture) newState(t *testing.T) *lua.LState {
	t.Helper()
	L := lua.NewState()
	t.Cleanup(L.Close)
	stdlib.Preload(L, &stdlib.Env{Logger: f.opts.Logger, Store: f.opts.Store}, nil)
	Preload(L, *f.opts, nil)
	for _, name := range append(stdlib.Names(), Names()...) {
		run(t, L, name+` = require("`+name+`")`)
	}
	return L
}
