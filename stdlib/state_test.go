package stdlib

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/topscript/topscript/state"
)

func TestStateModule(t *testing.T) {
	L := newState(t, nil)
	run(t, L, `
		local st = state.open("test")
		assert(st:get("missing") == nil)
		assert(st:get("missing", "dflt") == "dflt")
		assert(st:has("missing") == false)
		st:set("s", "hello")
		st:set("n", 42)
		st:set("f", 1.5)
		st:set("b", false)
		st:set("t", {a = 1, list = {"x", "y"}, big = "3612345000000000001"})
		st:set(7, "seven")
		assert(st:get("s") == "hello")
		assert(st:get("n") == 42)
		assert(st:get("f") == 1.5)
		assert(st:get("b") == false)
		assert(st:has("b") == true)
		local t = st:get("t")
		assert(t.a == 1 and t.list[2] == "y" and t.big == "3612345000000000001")
		assert(st:get("7") == "seven")
		local keys = st:keys()
		assert(#keys == 6 and keys[1] == "7" and keys[6] == "t", table.concat(keys, ","))
		st:delete("s")
		assert(st:get("s") == nil)
		st:set("n", nil)        -- nil deletes
		assert(not st:has("n"))
		st:delete("never-there")
		assert(tostring(st) == "state.store(test)")
		-- namespaces are separate
		assert(state.open("other"):get("b") == nil)
	`)
	wantError(t, L, `state.open("")`, "state.open", "non-empty string")
	wantError(t, L, `state.open("x"):set("", 1)`, "key must be a non-empty string")
	wantError(t, L, `state.open("x"):set("k", function() end)`, "cannot be stored")
	wantError(t, L, `state.open("x"):set("k", {f = function() end})`, "k")
	wantError(t, L, `local s = state.open("x"); s.get("k")`, "store:get")
}

// Values persist in a file store across engines, and the big ids stay exact.
func TestStateModulePersists(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	st, err := state.OpenFile(path, state.FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	L := newState(t, &Env{Store: st})
	run(t, L, `state.open("order_sync"):set("cursor", {at = "2024-11-11 00:30:00", tid = "3612345000000000001", n = 2^53})`)
	st.Close()

	st2, err := state.OpenFile(path, state.FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	raw, ok, err := st2.Get(context.Background(), "order_sync", "cursor")
	if err != nil || !ok {
		t.Fatalf("cursor not stored: %v %v", ok, err)
	}
	if got, want := string(raw), `{"at":"2024-11-11 00:30:00","n":9007199254740992,"tid":"3612345000000000001"}`; got != want {
		t.Errorf("stored %s, want %s", got, want)
	}
	L2 := newState(t, &Env{Store: st2})
	run(t, L2, `
		local c = state.open("order_sync"):get("cursor")
		assert(c.at == "2024-11-11 00:30:00", c.at)
		assert(c.tid == "3612345000000000001", tostring(c.tid))
	`)
}
