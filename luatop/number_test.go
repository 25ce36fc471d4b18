package luatop

import (
	"path/filepath"
	"strings"
	"testing"

	lua "github.com/yuin/gopher-lua"
)

// The one number rule (internal/numtext) holds in a job too: a number key,
// a report cell and a parameter all write 1e20 with every digit (a job
// report wrote 1e+20 while csv.writer wrote the digits).
func TestJobNumbersAsText(t *testing.T) {
	const big = "100000000000000000000"
	f := newJobFixture(t, fixtureOptions{dryRun: true})
	report := filepath.Join(f.dir, "numbers.csv")
	L := f.newState(t)
	L.SetGlobal("report", lua.LString(report))
	run(t, L, `
		job.run {
			name = "numbers", report = report, columns = {"n", "half"},
			rows = {{n = 1e20, half = 0.5}},
			key = function(r) return r.n end,
			-- outer_id is a String: 1e20 passes the dry run's checks as text (a
			-- Number num_iid of 1e20 is refused as the real call would be).
			call = function(r) return "taobao.item.quantity.update", {num_iid = 1, outer_id = r.n, quantity = r.half * 2} end,
		}
	`)
	recs := readReport(t, report)
	if len(recs) != 2 {
		t.Fatalf("report rows: %v", recs)
	}
	if got := recs[1]; got[0] != big || got[8] != big || got[9] != "0.5" {
		t.Errorf("report row %q: want key and n %s, half 0.5", got, big)
	}
	if logs := f.logs.String(); !strings.Contains(logs, "outer_id="+big) || !strings.Contains(logs, "quantity=1") {
		t.Errorf("dry-run line lacks the parameters as text:\n%s", logs)
	}
	// Rows that are plain numbers: the report's one input column.
	run(t, L, `job.run{name = "plain", report = report, rows = {1e20}, key = function(r) return "k" end,
		call = function(r) return "taobao.time.get" end}`)
	if recs := readReport(t, report); len(recs) != 2 || recs[0][8] != "row" || recs[1][8] != big {
		t.Errorf("report of a plain number row: %q", recs)
	}
}

// Issue #20 case 6: a Lua number that cannot be sent exactly is refused,
// naming the parameter, before anything is sent — in top.call, top.try,
// call_all and a job's params. tid = 2026120112345678901 used to go out as
// tid=2026120112345678848, a write to another trade. Numbers that are
// exact (within 2^53, or with few digits like 1e20 or 59.9) are sent as
// before, and the same ids as strings go out digit for digit.
func TestInexactNumbersAreRefused(t *testing.T) {
	f := newJobFixture(t, fixtureOptions{})
	L := f.newState(t)
	for _, tc := range []struct{ code, want string }{
		{`top.call("taobao.trade.memo.update", {tid = 2026120112345678901, memo = "x"})`, "params.tid: 2026120112345678848 cannot be sent exactly as a Lua number"},
		{`top.call("taobao.item.quantity.update", {num_iid = 9007199254740993, quantity = 1})`, "params.num_iid: 9007199254740992 cannot be sent exactly"},
		{`top.call("taobao.item.sku.price.update", {num_iid = "1", properties = "p", price = 0.1 + 0.2})`, "params.price: 0.30000000000000004 cannot be sent exactly"},
		{`top.call("taobao.trades.sold.get", {fields = "tid", page_size = 0/0})`, "params.page_size: nan cannot be sent (not a number)"},
		{`local ok, e = top.try("taobao.trade.memo.update", {tid = 2026120112345678901}); error(e)`, "params.tid: 2026120112345678848 cannot be sent exactly"},
		{`local r = top.call_all({{"taobao.trade.fullinfo.get", {fields = "tid", tid = 2026120112345678901}}}); error(tostring(r[1].error or r[1].result))`, "params.tid: 2026120112345678848"},
		{`job.run{name = "n", rows = {{tid = 2026120112345678901}}, key = function(r) return "k" end,
			call = function(r) return "taobao.trade.memo.update", {tid = r.tid, memo = "x"} end}`, "params.tid: 2026120112345678848 cannot be sent exactly"},
		{`top.call("taobao.x.set", {items = {{num_iid = 2026120112345678901}}})`, "params.items[1].num_iid: 2026120112345678848"},
	} {
		before := len(f.seen)
		want := []string{tc.want}
		if !strings.Contains(tc.want, "nan") {
			want = append(want, "pass it as a string")
		}
		wantError(t, L, tc.code, want...)
		if len(f.seen) != before {
			t.Errorf("%s: %d requests sent, want none", tc.code, len(f.seen)-before)
		}
	}
	// Exact numbers and ids as strings are sent as they are.
	run(t, L, `
		top.call("taobao.item.quantity.update", {num_iid = "600000153551", sku_id = "4100779410358", quantity = 9007199254740992 - 9007199254740900, type = 1})
		assert(top.try("taobao.trade.fullinfo.get", {fields = "tid", tid = "2026120112345678901"}) ~= false)`)
	last := f.seen[len(f.seen)-1]
	if got := last.Get("tid"); got != "2026120112345678901" {
		t.Errorf("tid as a string sent as %q", got)
	}
	if got := f.seen[len(f.seen)-2].Get("quantity"); got != "92" {
		t.Errorf("quantity sent as %q", got)
	}
}
