package stdlib

import "testing"

func TestIterChunks(t *testing.T) {
	L := newState(t, nil)
	run(t, L, `
		local ids = {}
		for i = 1, 45 do ids[i] = tostring(586413322700 + i) end
		local sizes, idx = {}, {}
		for chunk, i in iter.chunks(ids, 20) do
			sizes[#sizes + 1] = #chunk
			idx[#idx + 1] = i
		end
		result = table.concat(sizes, ",") .. "/" .. table.concat(idx, ",")
		local n = 0
		for c in iter.chunks({}, 3) do n = n + 1 end
		assert(n == 0)
		local all = {}
		for c in iter.chunks({1, 2, 3}, 1) do all[#all + 1] = c[1] end
		assert(#all == 3 and all[3] == 3)
		-- iterator sources, e.g. csv.rows
		local k = 0
		local function gen() k = k + 1; if k <= 5 then return k end end
		local got = {}
		for c in iter.chunks(gen, 2) do got[#got + 1] = table.concat(c, "+") end
		result2 = table.concat(got, ",")
	`)
	if got := L.GetGlobal("result").String(); got != "20,20,5/1,2,3" {
		t.Fatalf("chunks: %s", got)
	}
	if got := L.GetGlobal("result2").String(); got != "1+2,3+4,5" {
		t.Fatalf("function chunks: %s", got)
	}
	wantError(t, L, `iter.chunks({1}, 0)`, "≥ 1")
	wantError(t, L, `iter.chunks({1}, 1.5)`, "integer")
	wantError(t, L, `iter.chunks({1})`, "chunk size")
	wantError(t, L, `iter.chunks("abc", 2)`, "array")
}
