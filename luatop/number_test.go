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
			call = function(r) return "taobao.item.quantity.update", {num_iid = r.n, quantity = r.half * 2} end,
		}
	`)
	recs := readReport(t, report)
	if len(recs) != 2 {
		t.Fatalf("report rows: %v", recs)
	}
	if got := recs[1]; got[0] != big || got[6] != big || got[7] != "0.5" {
		t.Errorf("report row %q: want key and n %s, half 0.5", got, big)
	}
	if logs := f.logs.String(); !strings.Contains(logs, "num_iid="+big) || !strings.Contains(logs, "quantity=1") {
		t.Errorf("dry-run line lacks the parameters as text:\n%s", logs)
	}
	// Rows that are plain numbers: the report's one input column.
	run(t, L, `job.run{name = "plain", report = report, rows = {1e20}, key = function(r) return "k" end,
		call = function(r) return "taobao.time.get" end}`)
	if recs := readReport(t, report); len(recs) != 2 || recs[0][6] != "row" || recs[1][6] != big {
		t.Errorf("report of a plain number row: %q", recs)
	}
}
