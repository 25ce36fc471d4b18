package luatop

import (
	"path/filepath"
	"strings"
	"testing"

	lua "github.com/yuin/gopher-lua"
)

// The report's input columns come from the rows value itself, in file
// order, for csv.read's array as for csv.rows's iterator (sorted keys would
// put price before properties).
func TestJobReportColumnsFromTheRows(t *testing.T) {
	f := newJobFixture(t, fixtureOptions{dryRun: true})
	input := f.pricesCSV(t, 3)
	for _, rows := range []string{"csv.read(input)", "csv.rows(input)"} {
		report := filepath.Join(f.dir, "cols.csv")
		L := f.newState(t)
		L.SetGlobal("input", lua.LString(input))
		L.SetGlobal("report", lua.LString(report))
		run(t, L, `job.run{name = "cols", report = report, rows = `+rows+`,
			key = function(r) return r.num_iid .. ":" .. r.properties end,
			call = function(r) return "taobao.item.sku.price.update", {num_iid = r.num_iid, properties = r.properties, price = r.price} end}`)
		recs := readReport(t, report)
		if got := strings.Join(recs[0], ","); got != "key,status,code,sub_code,message,request_id,line,call,num_iid,properties,price" {
			t.Errorf("%s: report header %q", rows, got)
		}
		if len(recs) != 4 {
			t.Errorf("%s: %d report rows, want 3", rows, len(recs)-1)
		}
	}
}
