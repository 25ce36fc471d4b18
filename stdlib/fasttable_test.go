package stdlib

import (
	"testing"

	lua "github.com/yuin/gopher-lua"
)

// mapToLua builds response tables through an unsafe fast path (see "Fast
// tables" in value.go) that turns itself off when gopher-lua's table
// layout is not the one it knows, falling back to RawSetString. These
// tests fail when the fast path is silently off, and run the fallback with
// the same assertions.

// checkConvertedTables converts a response and checks, in Lua, that the
// tables read, iterate and change like any other; it returns how many
// tables the fast path built meanwhile.
func checkConvertedTables(t *testing.T) uint64 {
	t.Helper()
	L := lua.NewState()
	defer L.Close()
	before := fastBuilds.Load()
	L.SetGlobal("v", ToLua(L, map[string]any{
		"a": int64(1), "b": "x", "none": nil,
		"c":    map[string]any{"d": true, "e": 2.5},
		"list": []any{map[string]any{"id": "1"}, map[string]any{"id": "2"}},
	}))
	built := fastBuilds.Load() - before
	if err := L.DoString(`
		assert(v.a == 1 and v.b == "x" and v.none == nil)
		assert(v.c.d == true and v.c.e == 2.5 and #v.list == 2 and v.list[2].id == "2")
		local n = 0
		for k, x in pairs(v) do n = n + 1; assert(rawget(v, k) == x, k) end
		assert(n == 4, "pairs saw " .. n)
		v.added = "y"; v.a = nil
		n = 0
		for k in pairs(v) do n = n + 1 end
		assert(n == 4 and v.added == "y" and v.a == nil, "after changes: " .. n)
		local keys = {}
		for k in pairs(v.c) do keys[#keys + 1] = k end
		table.sort(keys)
		assert(keys[1] == "d" and keys[2] == "e" and #keys == 2)
	`); err != nil {
		t.Fatal(err)
	}
	if out, err := FromLua(L.GetGlobal("v")); err != nil || len(out.(map[string]any)) != 4 {
		t.Fatalf("back to Go: %v, %v", out, err)
	}
	return built
}

// TestFastTablesActive fails when the fast path is off: gopher-lua's
// LTable no longer has the fields (strdict, keys, k2i) of the types
// value.go writes, and every response converts at the slow speed. Check
// the layout of the new gopher-lua version and update checkFastTables.
func TestFastTablesActive(t *testing.T) {
	checkFastTables()
	if !fastTables {
		t.Fatal("the fast table path is off: gopher-lua's LTable layout is not the one value.go knows")
	}
	if built := checkConvertedTables(t); built != 4 {
		t.Fatalf("the fast path built %d tables, want 4 (the response and its 3 objects)", built)
	}
}

// TestFastTablesFallback forces the fallback and runs the same checks.
func TestFastTablesFallback(t *testing.T) {
	checkFastTables()
	saved := fastTables
	fastTables = false
	t.Cleanup(func() { fastTables = saved })
	if built := checkConvertedTables(t); built != 0 {
		t.Fatalf("the fast path built %d tables while off", built)
	}
}
