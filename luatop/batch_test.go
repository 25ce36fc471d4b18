package luatop_test

import (
	"strings"
	"testing"

	"github.com/topscript/topscript/engine"
	"github.com/topscript/topscript/sandbox"
)

// call_all with {batch = N} packs N calls per /router/batch request and
// still answers each call on its own, in input order.
func TestCallAllBatch(t *testing.T) {
	v := newEnv(t, sandbox.Options{}, engine.Options{})
	v.run(t, `
		local calls = {}
		for i = 1, 25 do calls[i] = {"taobao.time.get"} end
		calls[7] = {"taobao.no.such.method"}
		local rs = top.call_all(calls, {batch = 10, concurrency = 2})
		assert(#rs == 25)
		for i, r in ipairs(rs) do
			if i == 7 then
				assert(not r.ok and r.error.code == 22, tostring(r.error))
			else
				assert(r.ok and r.result.time, i)
			end
		end
	`)
	if st := v.s.Stats(); st.Requests != 3 || st.Calls["taobao.time.get"] != 24 {
		t.Errorf("want 3 batch requests: %+v", st)
	}
	if err := v.e.RunString(t.Context(), "bad.lua", `top.call_all({{"taobao.time.get"}}, {batch = 0})`); err == nil || !strings.Contains(err.Error(), "opts.batch") {
		t.Errorf("batch = 0: %v", err)
	}
}

// Under dry-run, batched writes are not sent.
func TestCallAllBatchDryRun(t *testing.T) {
	v := newEnv(t, sandbox.Options{}, engine.Options{DryRun: true})
	v.run(t, `
		local rs = top.call_all({
			{"taobao.time.get"},
			{"taobao.item.quantity.update", {num_iid = "1", quantity = 1}},
			{"taobao.time.get"},
		}, {batch = 5})
		assert(rs[1].ok and rs[1].result.time)
		assert(rs[2].ok and rs[2].result.dry_run)
		assert(rs[3].ok and rs[3].result.time)
	`)
	if st := v.s.Stats(); st.Requests != 1 || len(st.Writes) != 0 {
		t.Errorf("%+v", st)
	}
}
