package reliability

import (
	"path/filepath"
	"strconv"
	"testing"

	"github.com/topscript/topscript/sandbox"
)

// appliedFaults is issue #13's demonstration setting: 10% of calls are
// applied and then answered with an isp timeout, 2% applied and then
// answered with HTTP 502.
const appliedFaults = "isp_applied=0.1,http502_applied=0.02"

// The issue #13 demonstration, with faults that apply and then fail and a
// shop that changes while it is read:
//
//   - a 2,000-row SKU price job whose writes are not re-sent once their
//     outcome is open (opts idempotent = false, the way a job with a
//     read-back is to run them): no row lost, no SKU written twice, and
//     every write whose answer was an isp timeout or a 502 reported
//     unknown — one unknown row per such fault, each applied once;
//   - order_sync.lua, twice, on the same churning shop under the same
//     faults: no trade lost, none written twice (checkChurnSync).
//
// What is not here yet: job.run's verify (issue #20), which is to read each
// unknown row back and settle it, so that none is left unknown.
func TestPriceJobAndSyncUnderAppliedFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("a 2,000-row job and a million-trade shop: skipped with -short")
	}
	faults, err := sandbox.ParseFaults(appliedFaults)
	if err != nil {
		t.Fatal(err)
	}
	all, err := loadShopRows(700)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) < 2000 {
		t.Fatalf("the shop has %d SKUs, want 2,000", len(all))
	}
	rows := all[:2000]
	for i := range rows {
		rows[i].price = strconv.Itoa(20+i%300) + ".80"
	}
	cw := newChurnWorld(t, worldOptions{faults: faults, items: 700}, 2)
	input := writeRowsCSV(t, rows)
	report := filepath.Join(t.TempDir(), "price.report.csv")
	const src = `
local csv, job, json = require("csv"), require("job"), require("json")
local s = job.run {
  name = "price2000",
  rows = csv.rows(arg[1]),
  key = function(r) return r.num_iid .. ":" .. r.properties end,
  call = function(r)
    -- item_price = the SKU's new price keeps the item inside its SKUs'
    -- range whatever order the rows land in.
    return "taobao.item.sku.price.update",
      {num_iid = r.num_iid, properties = r.properties, price = r.price, item_price = r.price},
      {idempotent = false}
  end,
  concurrency = 8,
  report = arg[2],
}
print(json.encode(s))`
	const method = "taobao.item.sku.price.update"
	before := cw.sb.Stats()
	res := cw.run("price.lua", src, input, report)
	if res.err != nil {
		t.Fatal(res.err)
	}
	after := cw.sb.Stats()
	s := res.jobs[0]
	statuses, recs := readReport(t, report)
	if len(recs) != len(rows) || s.Total != len(rows) || s.OK+s.Unknown != s.Total {
		t.Fatalf("summary %+v, %d report rows: want all %d rows ok or unknown", s, len(recs), len(rows))
	}
	writes := after.Writes[method]
	unknown := 0
	for _, r := range rows {
		k := r.numIID + ":" + r.props
		switch statuses[k] {
		case "ok", "unknown":
			if writes[k] != 1 {
				t.Errorf("row %s %s, applied %d times: want once", k, statuses[k], writes[k])
			}
			if statuses[k] == "unknown" {
				unknown++
			}
		default:
			t.Errorf("row %s: status %q", k, statuses[k])
		}
	}
	openFaults := after.Errors["isp_applied"] - before.Errors["isp_applied"] +
		after.Errors["http502_applied"] - before.Errors["http502_applied"]
	if int64(unknown) != openFaults || unknown == 0 {
		t.Errorf("%d unknown rows, want one per isp timeout or 502 answered after applying (%d)", unknown, openFaults)
	}
	// A rerun sends nothing: the ok rows are done, the unknown ones wait for
	// a check (verify, or an operator).
	res = cw.run("price.lua", src, input, report)
	if res.err != nil {
		t.Fatal(res.err)
	}
	if n := cw.sb.Stats().Calls[method] - after.Calls[method]; n != 0 || res.jobs[0].Unknown != unknown {
		t.Errorf("rerun: %d calls sent, summary %+v", n, res.jobs[0])
	}
	t.Logf("price job under %s: %d rows, %d ok, %d unknown (= %d open faults), 0 lost, 0 written twice",
		appliedFaults, len(rows), s.OK, unknown, openFaults)

	// The order sync, same shop, same faults, 40 trade events before each answer.
	cw.churnPer.Store(40)
	sb := cw.sb.Stats()
	cs := cw.syncTwice(t, exampleScript(t, "order_sync.lua"))
	checkChurnSync(t, cs)
	sa := cw.sb.Stats()
	if n := sa.Errors["isp_applied"] + sa.Errors["http502_applied"] - sb.Errors["isp_applied"] - sb.Errors["http502_applied"]; n == 0 {
		t.Error("no fault hit the order sync")
	} else {
		t.Logf("order sync: %d faults injected into its reads, retried", n)
	}
}
