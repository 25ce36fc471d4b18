package stdlib

import (
	"testing"

	lua "github.com/yuin/gopher-lua"

	"github.com/topscript/topscript/internal/luacompile"
)

// gopher-lua (v1.1.2) miscompiles a generic for whose iterator is a field
// of another call's result: `for r in require("csv").rows(p) do` failed
// with "attempt to call a non-function object", and the package doc told
// scripts to name the module first. Scripts are compiled through
// internal/luacompile, which rewrites that shape (its R3), so every way of
// writing the loop iterates. This test compiles the loops as the engine
// does.
func TestGenericForForms(t *testing.T) {
	path := writeFile(t, "prices.csv", []byte(priceCSV))
	L := newState(t, nil)
	L.SetGlobal("p", lua.LString(path))
	for _, src := range []string{
		`for r in require("csv").rows(p) do n = n + 1 end`, // the form that failed
		`for r in (require("csv")).rows(p) do n = n + 1 end`,
		`for r in require("csv")["rows"](p) do n = n + 1 end`,
		`local function req() return require("csv") end for r in req().rows(p) do n = n + 1 end`,
		`local csv = require("csv"); for r in csv.rows(p) do n = n + 1 end`,
		`for r in csv.rows(p) do n = n + 1 end`, // the module as a global
		`local rows = require("csv").rows(p); for r in rows do n = n + 1 end`,
		`local f, s, c = require("csv").rows(p); for r in f, s, c do n = n + 1 end`,
		`for _, r in ipairs(require("csv").read(p)) do n = n + 1 end`,
		`local t = {rows = require("csv").rows(p)}; for r in t.rows do n = n + 1 end`, // as job.run{rows = ...} takes it
	} {
		proto, err := luacompile.Compile("forms.lua", "n = 0\n"+src)
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		L.Push(L.NewFunctionFromProto(proto))
		if err := L.PCall(0, 0, nil); err != nil {
			t.Errorf("%s: %v", src, err)
			continue
		}
		if n := L.GetGlobal("n"); n != lua.LNumber(2) {
			t.Errorf("%s: %v rows, want 2", src, n)
		}
	}
	// What csv.rows returns: the iterator alone.
	if n := evalString(t, L, `select("#", require("csv").rows(p))`); n != "1" {
		t.Errorf("csv.rows returns %s values, want 1", n)
	}
}
