package luatop

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/topscript/topscript/sandbox"
	"github.com/topscript/topscript/xlsx"
)

// parseCSV parses a CSV file's records.
func parseCSV(t *testing.T, data []byte) [][]string {
	t.Helper()
	recs, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// readReportAll parses a CSV report: its header and rows, and its summary
// rows.
func readReportAll(t *testing.T, path string) ([][]string, [][]string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	recs := parseCSV(t, data[3:])
	return splitSummary(t, recs)
}

// The price jobs of these tests send item_price = price, as priceJob
// does: the item stays inside its SKUs' price range whatever order the
// rows land in.

// Calls finish out of order (every third row is slow), and the report
// still lists every row in input order, with its line in the file and the
// call it sent; the summary counts the rows and names the failed ones'
// error with an example.
func TestJobReportInInputOrder(t *testing.T) {
	f := newJobFixture(t, fixtureOptions{})
	slow := func(p url.Values) {
		if n, _ := strconv.Atoi(strings.TrimSuffix(p.Get("price"), ".90")); n%3 == 0 {
			time.Sleep(40 * time.Millisecond)
		}
	}
	f.before.Store(&slow)
	input := f.pricesCSV(t, 30, "600000153551,1627207:99999;20509:28315,53.90\n")
	L := f.newState(t)
	report := filepath.Join(f.dir, "report.csv")
	L.SetGlobal("input", lua.LString(input))
	L.SetGlobal("report", lua.LString(report))
	run(t, L, `order = {}
	summary = job.run {
		name = "prices", rows = csv.rows(input), concurrency = 8, report = report,
		key = function(r) return r.num_iid .. ":" .. r.properties end,
		call = function(r) return "taobao.item.sku.price.update", {num_iid = r.num_iid, properties = r.properties, price = r.price, item_price = r.price} end,
		on_result = function(r) order[#order + 1] = r.num_iid .. ":" .. r.properties end,
	}`)
	var finished []string
	L.GetGlobal("order").(*lua.LTable).ForEach(func(_, v lua.LValue) { finished = append(finished, v.String()) })
	wantSummary(t, summaryOf(t, L), map[string]float64{"total": 31, "ok": 30, "failed": 1})
	rows, summary := readReportAll(t, report)
	data, _ := os.ReadFile(input)
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")[1:]
	if len(rows) != 32 {
		t.Fatalf("report has %d rows, want 31", len(rows)-1)
	}
	for i, r := range rows[1:] {
		in := strings.Split(lines[i], ",")
		if r[0] != in[0]+":"+in[1] || r[6] != strconv.Itoa(i+2) {
			t.Errorf("report row %d is %q, want key %s:%s at line %d", i+1, r[:7], in[0], in[1], i+2)
		}
		if want := "taobao.item.sku.price.update item_price=" + in[2] + " num_iid=" + in[0] + " price=" + in[2] + " properties=" + in[1]; r[7] != want {
			t.Errorf("row %d call %q, want %q", i+1, r[7], want)
		}
	}
	var inOrder []string
	for _, r := range rows[1:] {
		inOrder = append(inOrder, r[0])
	}
	if slices.Equal(finished, inOrder) {
		t.Errorf("the calls finished in input order: the test proves nothing")
	}
	if len(summary) < 2 || !strings.HasPrefix(summary[0][4], "31 rows: 1 failed, 30 ok") {
		t.Fatalf("summary %q", summary)
	}
	failed := summary[1]
	if failed[2] != "15" || failed[3] != "isv.invalid-parameter:sku-properties" || failed[6] != "32" ||
		!strings.HasPrefix(failed[4], "1 row failed with 15 isv.invalid-parameter:sku-properties, e.g. line 32 (key 600000153551:1627207:99999;20509:28315): ") || failed[5] == "" {
		t.Errorf("failed group %q", failed)
	}
	groups := f.lastJob(t).Groups
	if len(groups) != 2 || groups[0].Status != "failed" || groups[0].Rows != 1 || groups[1].Status != "ok" || groups[1].Rows != 30 {
		t.Errorf("JobSummary.Groups %+v", groups)
	}
	if logs := f.logs.String(); !strings.Contains(logs, "job prices: 1 row failed with 15 isv.invalid-parameter:sku-properties, e.g. line 32") {
		t.Errorf("the summary is not printed:\n%s", logs)
	}
}

// Interrupted mid-job, the report lists every row: those done, and the
// rest not_started, saying why, in input order; the summary counts them.
func TestJobReportNotStarted(t *testing.T) {
	f := newJobFixture(t, fixtureOptions{sandbox: sandbox.Options{Latency: 20 * time.Millisecond}})
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	f.opts.Context = func() context.Context { return ctx }
	input := f.pricesCSV(t, 100)
	L := f.newState(t)
	report := filepath.Join(f.dir, "report.csv")
	L.SetGlobal("input", lua.LString(input))
	L.SetGlobal("report", lua.LString(report))
	L.SetGlobal("interrupt", L.NewFunction(func(L *lua.LState) int { cancel(fmt.Errorf("timed out after 1s")); return 0 }))
	err := L.DoString(`
		local n = 0
		job.run {
			name = "prices", rows = csv.rows(input), report = report, concurrency = 4,
			key = function(r) return r.num_iid .. ":" .. r.properties end,
			call = function(r) return "taobao.item.sku.price.update", {num_iid = r.num_iid, properties = r.properties, price = r.price, item_price = r.price} end,
			on_result = function() n = n + 1; if n == 10 then interrupt() end end,
		}
	`)
	if err == nil || !strings.Contains(err.Error(), "interrupted") {
		t.Fatalf("want an interrupted error, got %v", err)
	}
	rows, summary := readReportAll(t, report)
	if len(rows) != 101 {
		t.Fatalf("report has %d rows, want all 100", len(rows)-1)
	}
	st := statuses(rows)
	sent := len(f.writes("taobao.item.sku.price.update"))
	if st["ok"] != sent || st["not_started"] != 100-sent || st["ok"]+st["not_started"] != 100 {
		t.Errorf("statuses %v, %d sent: want the rest not_started", st, sent)
	}
	seenNotStarted := false
	for i, r := range rows[1:] {
		if r[6] != strconv.Itoa(i+2) {
			t.Errorf("row %d at line %s, want %d", i+1, r[6], i+2)
		}
		switch r[1] {
		case "not_started":
			seenNotStarted = true
			if !strings.Contains(r[4], "not started: the run was interrupted (timed out after 1s)") || r[7] != "" {
				t.Errorf("not_started row %q", r)
			}
		case "ok":
			if seenNotStarted {
				t.Errorf("row %d ok after a row not started: rows are dispatched in input order", i+1)
			}
		}
	}
	if s := f.lastJob(t); s.Pending != 100-sent {
		t.Errorf("Pending %d, want %d", s.Pending, 100-sent)
	}
	if !strings.Contains(summary[0][4], fmt.Sprintf("%d not_started", 100-sent)) {
		t.Errorf("summary %q", summary[0])
	}
}

// A job reads an .xlsx with Chinese headers through xlsx.rows, maps its
// keys onto the sheet's columns (columns = {num_iid = "宝贝ID", ...}) and
// writes its report as a workbook: ids exact, rows in input order, a
// formula-like cell kept as text, the summary on its own sheet.
func TestJobXLSXInAndOut(t *testing.T) {
	f := newJobFixture(t, fixtureOptions{})
	input := filepath.Join(f.dir, "价格表.xlsx")
	w, err := xlsx.Create(input, []string{"宝贝ID", "销售属性", "价格", "备注"}, xlsx.WriterOptions{Sheet: "价格"})
	if err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(filepath.Join("..", "scripts", "examples", "prices.csv"))
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")[1:21]
	for i, l := range lines {
		c := strings.Split(l, ",")
		note := ""
		if i == 3 {
			note = "=HYPERLINK(\"http://x\")"
		}
		w.Write([]any{c[0], c[1], c[2], note})
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	report := filepath.Join(f.dir, "报告.xlsx")
	L := f.newState(t)
	L.SetGlobal("input", lua.LString(input))
	L.SetGlobal("report", lua.LString(report))
	run(t, L, `summary = job.run {
		name = "xlsx", rows = xlsx.rows(input), report = report,
		columns = {num_iid = "宝贝ID", properties = "销售属性", price = "价格"},
		key = function(r) return r.num_iid .. ":" .. r.properties end,
		call = function(r) return "taobao.item.sku.price.update", {num_iid = r.num_iid, properties = r.properties, price = r.price, item_price = r.price} end,
	}`)
	wantSummary(t, summaryOf(t, L), map[string]float64{"total": 20, "ok": 20})
	r, err := xlsx.Open(report, xlsx.Options{Sheet: "report"})
	if err != nil {
		t.Fatal(err)
	}
	h := r.Header().Names
	if want := []string{"key", "status", "code", "sub_code", "message", "request_id", "line", "call", "宝贝ID", "销售属性", "价格", "备注"}; !slices.Equal(h, want) {
		t.Errorf("report header %q, want %q", h, want)
	}
	for i, l := range lines {
		row, err := r.Next()
		if err != nil {
			t.Fatalf("report row %d: %v", i+1, err)
		}
		c := strings.Split(l, ",")
		v := row.Values
		if v[0] != c[0]+":"+c[1] || v[1] != "ok" || v[6] != strconv.Itoa(i+2) || v[8] != c[0] || v[10] != c[2] {
			t.Errorf("report row %d: %q, want %s", i+1, v, l)
		}
		if i == 3 && v[11] != "=HYPERLINK(\"http://x\")" {
			t.Errorf("formula-like cell read back %q", v[11])
		}
	}
	r.Close()
	s, err := xlsx.Open(report, xlsx.Options{Sheet: "summary"})
	if err != nil {
		t.Fatal(err)
	}
	row, err := s.Next()
	s.Close()
	if err != nil || row.Values[0] != "ok" || row.Values[3] != "20" {
		t.Errorf("summary sheet's first row %q (%v)", row.Values, err)
	}

	// A key mapped to a column the sheet lacks: the error names the file,
	// the key and the column, and suggests the closest one.
	wantError(t, L, `job.run {
		name = "xlsx2", rows = xlsx.rows(input), columns = {num_iid = "宝贝 ID", price = "价钱"},
		key = function(r) return r.num_iid end, call = function(r) return nil end}`,
		input, `columns.num_iid: no column "宝贝 ID" (did you mean "宝贝ID"?)`, `columns.price: no column "价钱"`, "the columns are: 宝贝ID, 销售属性, 价格, 备注")
}

// A 淘宝助理 export read through job.run: rows keyed by its English keys,
// its Chinese labels usable in columns, cells exact (a 12-digit 数字ID, a
// quoted multi-line description); under --dry-run the report shows what
// each row would send, and the export's formula-like cell is neutralised
// in the CSV report.
func TestJobTaobaoAssistantExport(t *testing.T) {
	f := newJobFixture(t, fixtureOptions{dryRun: true})
	report := filepath.Join(f.dir, "assistant.report.csv")
	L := f.newState(t)
	L.SetGlobal("input", lua.LString(filepath.Join("..", "sheet", "testdata", "taobao_assistant.csv")))
	L.SetGlobal("report", lua.LString(report))
	run(t, L, `summary = job.run {
		name = "assistant", rows = csv.rows(input), report = report,
		columns = {num_iid = "数字ID", price = "宝贝价格", "num_id", "title", "price", "subtitle"},
		key = function(r) return r.num_iid end,
		call = function(r) return "taobao.item.update", {num_iid = r.num_iid, price = r.price, title = r.title} end,
	}`)
	wantSummary(t, summaryOf(t, L), map[string]float64{"total": 3, "ok": 3, "not_sent": 3})
	rows, _ := readReportAll(t, report)
	want := []struct{ id, price, title, line string }{
		{"658812345678", "59.00", "夏季纯棉短袖T恤 男士圆领宽松", "4"},
		{"701234567890", "168.00", "有机绿茶 明前龙井 250g 罐装", "6"},
		{"712000000001", "39.90", "手工皂 + 起泡网 礼盒", "9"},
	}
	if len(rows) != 4 {
		t.Fatalf("report rows %q", rows)
	}
	for i, w := range want {
		r := rows[i+1]
		call := fmt.Sprintf("taobao.item.update num_iid=%s price=%s title=%q", w.id, w.price, w.title)
		if r[0] != w.id || r[1] != "dry_run" || r[6] != w.line || r[7] != call || r[8] != w.id || r[9] != w.title {
			t.Errorf("row %d: %q, want id %s, line %s, call %s", i+1, r, w.id, w.line, call)
		}
	}
	if got := rows[2][11]; got != `'=HYPERLINK("http://x")` {
		t.Errorf("the formula-like subtitle is %q in the CSV report, want it neutralised", got)
	}
}

// Under --dry-run the call column shows what a row would send, secrets
// redacted: the token never reaches the report.
func TestJobReportRedactsSecrets(t *testing.T) {
	f := newJobFixture(t, fixtureOptions{dryRun: true})
	report := filepath.Join(f.dir, "secret.csv")
	L := f.newState(t)
	L.SetGlobal("report", lua.LString(report))
	run(t, L, `job.run {
		name = "secret", rows = {{id = "1"}}, report = report,
		key = function(r) return r.id end,
		call = function(r) return "taobao.item.quantity.update", {num_iid = 1, quantity = 2, access_token = "tok-very-secret"} end,
	}`)
	data, _ := os.ReadFile(report)
	if strings.Contains(string(data), "tok-very-secret") || !strings.Contains(string(data), "access_token=[REDACTED]") {
		t.Errorf("report:\n%s", data)
	}
}

// With a run id each run's report is kept under its own name, and the
// report's own name holds the latest.
func TestJobReportPerRun(t *testing.T) {
	f := newJobFixture(t, fixtureOptions{dryRun: true})
	input := f.pricesCSV(t, 3)
	report := filepath.Join(f.dir, "prices.report.csv")
	for _, id := range []string{"20260102-150405-aaaa", "20260102-150505-bbbb"} {
		f.opts.RunID = id
		L := f.newState(t)
		L.SetGlobal("input", lua.LString(input))
		L.SetGlobal("report", lua.LString(report))
		run(t, L, `s = job.run {
			name = "p", rows = csv.rows(input), report = report,
			key = function(r) return r.num_iid .. ":" .. r.properties end,
			call = function(r) return "taobao.item.sku.price.update", {num_iid = r.num_iid, properties = r.properties, price = r.price .. "`+id[9:13]+`"} end,
		}
		assert(s.report == report and s.report_file:find("`+id+`", 1, true), s.report_file)`)
		if got := f.lastJob(t).ReportFile; got != filepath.Join(f.dir, "prices.report."+id+".csv") {
			t.Errorf("ReportFile %s", got)
		}
	}
	first, _ := os.ReadFile(filepath.Join(f.dir, "prices.report.20260102-150405-aaaa.csv"))
	second, _ := os.ReadFile(filepath.Join(f.dir, "prices.report.20260102-150505-bbbb.csv"))
	latest, _ := os.ReadFile(report)
	if !strings.Contains(string(first), "1504") || !strings.Contains(string(second), "1505") || string(latest) != string(second) {
		t.Errorf("per-run reports:\n%s\n%s\nlatest:\n%s", first, second, latest)
	}
	if m, _ := filepath.Glob(filepath.Join(f.dir, ".*partial")); len(m) != 0 {
		t.Errorf("temporary files left: %v", m)
	}
}

// Rows that are not flat tables stay in memory as they are (the same
// table reaches call and on_result); flat rows go through the row file
// and come back equal.
func TestJobRowsKeptOrSpooled(t *testing.T) {
	f := newJobFixture(t, fixtureOptions{dryRun: true})
	L := f.newState(t)
	run(t, L, `
		local nested = {tags = {"a"}}
		local i = 0
		local rows = {{id = "1", n = 2, ok = true}, {id = "2", sub = nested}, {id = "3", [1] = "x", [2] = 2.5}}
		seen = {}
		job.run {
			name = "mixed",
			rows = function() i = i + 1 return rows[i] end,
			key = function(r) return r.id end,
			call = function(r) seen[r.id] = r return "taobao.time.get" end,
			on_result = function(r) assert(seen[r.id] == r) end,
		}
		assert(seen["2"] == rows[2] and seen["2"].sub == nested, "a nested row is the script's own table")
		assert(seen["1"] ~= rows[1] and seen["1"].n == 2 and seen["1"].ok == true, "a flat row comes back equal")
		assert(seen["3"][1] == "x" and seen["3"][2] == 2.5)
	`)
}

func TestSpoolReadsWhatItAppended(t *testing.T) {
	s, err := newSpool("test")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var offs []int64
	var want [][]byte
	for i := range 5000 {
		rec := []byte(strings.Repeat(strconv.Itoa(i), i%300))
		at, err := s.Append(rec)
		if err != nil {
			t.Fatal(err)
		}
		offs, want = append(offs, at), append(want, rec)
		if i%7 == 0 { // read back, sometimes from the buffer
			j := (i * 31) % (i + 1)
			got, err := s.Read(offs[j])
			if err != nil || string(got) != string(want[j]) {
				t.Fatalf("record %d read back as %q (%v)", j, got, err)
			}
		}
	}
	for j := range want {
		if got, err := s.Read(offs[j]); err != nil || string(got) != string(want[j]) {
			t.Fatalf("record %d read back as %q (%v)", j, got, err)
		}
	}
}
