package stdlib

import (
	"os"
	"path/filepath"
	"testing"
)

// One rule writes a Lua number as text (internal/numtext): a CSV cell, a
// state key and a converted table's key all write 1e20 with every digit.
func TestOneNumberRule(t *testing.T) {
	const big = "100000000000000000000"
	out := filepath.Join(t.TempDir(), "n.csv")
	L := newState(t, nil)
	L.SetGlobal("out", luaString(out))
	run(t, L, `
		local w = csv.writer(out, {"n", "half"}, {bom = false})
		w:write({1e20, 0.5})
		w:close()
		local st = state.open("numbers")
		st:set(1e20, "x")
		keys = st:keys()
		m = {[1e20] = true}
	`)
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if want := "n,half\n" + big + ",0.5\n"; string(data) != want {
		t.Errorf("csv.writer wrote %q, want %q", data, want)
	}
	if got := evalString(t, L, "keys[1]"); got != big {
		t.Errorf("state key = %q, want %q", got, big)
	}
	g, err := FromLua(L.GetGlobal("m"))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := g.(map[string]any)[big]; !ok {
		t.Errorf("table key converted to %v, want %q", g, big)
	}
}
