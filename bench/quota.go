package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/topscript/topscript/engine"
	"github.com/topscript/topscript/sandbox"
	"github.com/topscript/topscript/top"
)

// The quota pace: does a bulk job keep the app's quota busy whatever the
// gateway's latency? A price job (job.run, one taobao.item.sku.price.update
// a row, the script leaving concurrency to topscript) runs through a
// client throttled at qps against a sandbox allowing 10% more, answering
// after a latency and failing a share of the calls with isp errors (the
// client retries them after its backoff, 1 s at first). The figure is
// elapsed / (calls sent / qps): 1.00 is the quota busy from the first call
// to the last answer.
//
// A perfect pipeline still reads above 1.00 by three things that do not
// depend on concurrency: the client paces 1% under its rate (paceMargin),
// the last answer comes one latency after the last call, and a row whose
// call fails in the job's last second waits its backoff with nothing else
// left to send. Those cost (latency + backoff) / duration, so the cells are
// long: quotaSeconds of calls each (full mode). They run at once, each with
// its own sandbox and client (its own quota), since they share nothing but
// the CPUs.

// quotaCell is one job of the section.
type quotaCell struct {
	latency time.Duration
	isp     float64
	qps     float64
	rows    int
}

// quotaResult is what a cell measured.
type quotaResult struct {
	cell    quotaCell
	elapsed time.Duration
	calls   int64 // price updates that reached the sandbox (retries included)
	code7   int64
	peak    int64 // the most requests the sandbox served at once
	failed  int   // rows that failed (every attempt an isp error)
}

// ratio is elapsed over the ideal (calls / qps).
func (r quotaResult) ratio() float64 {
	return r.elapsed.Seconds() / (float64(r.calls) / r.cell.qps)
}

const quotaMethod = "taobao.item.sku.price.update"

// quotaScript defines prepare(n), which builds n rows over the SKUs in the
// global skus (each set to the price it has: a write that is always
// valid), and go(), which runs the job over them.
const quotaScript = `
local job = require("job")
function prepare(n)
	rows = {}
	for i = 1, n do
		local s = skus[(i - 1) % #skus + 1]
		rows[i] = {i = tostring(i), num_iid = s.num_iid, properties = s.properties, price = s.price}
	end
end
function go()
	local s = job.run {
		name = "quota_pace",
		rows = rows,
		key = function(r) return r.i end,
		call = function(r)
			return "taobao.item.sku.price.update", {num_iid = r.num_iid, properties = r.properties, price = r.price}
		end,
	}
	failed = s.failed + s.unknown
end`

// quotaPace runs the cells of cfg, at once, and reports each.
func quotaPace(ctx context.Context, cfg config, _ *env) (*section, error) {
	sec := &section{title: fmt.Sprintf("Quota pace (price job, client --qps %g, sandbox allowing 10%% more)", cfg.quotaQPS)}
	skus, err := sandboxSKUs(ctx)
	if err != nil {
		return nil, err
	}
	var cells []quotaCell
	for _, isp := range cfg.quotaISP {
		for _, lat := range cfg.quotaLatencies {
			cells = append(cells, quotaCell{latency: lat, isp: isp, qps: cfg.quotaQPS, rows: int(cfg.quotaQPS * cfg.quotaSeconds.Seconds())})
		}
	}
	if cfg.quotaBigRows > 0 {
		cells = append(cells, quotaCell{latency: 100 * time.Millisecond, isp: 0.05, qps: cfg.quotaBigQPS, rows: cfg.quotaBigRows})
	}
	results := make([]quotaResult, len(cells))
	errs := make([]error, len(cells))
	var wg sync.WaitGroup
	for i, c := range cells {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = runQuotaCell(ctx, c, skus)
		}()
	}
	wg.Wait()
	var code7 int64
	for i, r := range results {
		if errs[i] != nil {
			return nil, fmt.Errorf("latency %s, isp %g: %w", cells[i].latency, cells[i].isp, errs[i])
		}
		code7 += r.code7
		c := r.cell
		failed := ""
		if r.failed > 0 {
			failed = fmt.Sprintf(" (%d failed after 4 isp errors)", r.failed)
		}
		m := fmt.Sprintf("%s, isp %g%%: %d rows%s, %d calls in %.1f s, peak %d in flight, elapsed/ideal",
			c.latency, c.isp*100, c.rows, failed, r.calls, r.elapsed.Seconds(), r.peak)
		if c.qps != cfg.quotaQPS {
			m = fmt.Sprintf("%g qps, ", c.qps) + m
		}
		if cfg.mode == "full" {
			sec.goal(m, ratio(r.ratio()), "≤ 1.02", r.ratio() <= 1.02)
		} else {
			sec.add(m, ratio(r.ratio()))
		}
	}
	sec.goal("code 7 answers, all cells", fmt.Sprint(code7), "0", code7 == 0)
	sec.note("elapsed/ideal = elapsed / (calls sent / qps), calls counted by the sandbox (isp failures and their retries included); each cell is %s of calls at %g qps, run at once with the others, each against its own sandbox.", cfg.quotaSeconds, cfg.quotaQPS)
	sec.note("A perfect pipeline reads 1.01 + (latency + the last failed row's backoff) / duration: the client paces 1%% under its rate, the last answer comes a latency after the last call, and a row failing in the last second waits its backoff (1–1.5 s) with nothing else to send. Short runs (--quick) read higher for that reason alone.")
	return sec, nil
}

// runQuotaCell runs one cell's job and measures it.
func runQuotaCell(ctx context.Context, c quotaCell, skus []map[string]string) (quotaResult, error) {
	res := quotaResult{cell: c}
	s, err := sandbox.StartLocal(sandbox.Options{Latency: c.latency, QPS: c.qps * 1.1, Faults: sandbox.Faults{ISP: c.isp}})
	if err != nil {
		return res, err
	}
	defer s.Close()
	cfg := clientConfig(s)
	cfg.Throttle.QPS = c.qps
	cl, err := top.NewClient(cfg)
	if err != nil {
		return res, err
	}
	eng, err := engine.New(engine.Options{Client: cl, Stdout: io.Discard, Stderr: io.Discard, Progress: io.Discard})
	if err != nil {
		return res, err
	}
	defer eng.Close()
	L := eng.State()
	list := L.NewTable()
	for _, sku := range skus {
		t := L.NewTable()
		for k, v := range sku {
			t.RawSetString(k, lua.LString(v))
		}
		list.Append(t)
	}
	eng.Set("skus", list)
	if err := eng.RunString(ctx, "quota.lua", quotaScript); err != nil {
		return res, err
	}
	if err := eng.RunString(ctx, "prepare.lua", fmt.Sprintf("prepare(%d)", c.rows)); err != nil {
		return res, err
	}
	s.Reset() // zero the stats
	t0 := time.Now()
	if err := eng.RunString(ctx, "go.lua", "go()"); err != nil {
		return res, err
	}
	res.elapsed = time.Since(t0)
	st := s.Stats()
	res.calls = st.Calls[quotaMethod]
	res.code7 = code7(st)
	res.peak = st.PeakInFlight
	// A row whose four attempts all met an isp error failed: 1e-4 of the
	// rows at 10%; it is counted, not an error of the bench.
	res.failed = int(lua.LVAsNumber(L.GetGlobal("failed")))
	return res, nil
}

// sandboxSKUs lists SKUs of a sandbox (the data is the same in every
// sandbox of the default seed) with the price each has.
func sandboxSKUs(ctx context.Context) ([]map[string]string, error) {
	s, err := sandbox.StartLocal(sandbox.Options{})
	if err != nil {
		return nil, err
	}
	defer s.Close()
	c, err := top.NewClient(clientConfig(s))
	if err != nil {
		return nil, err
	}
	r, err := c.Call(ctx, "taobao.items.onsale.get", top.Params{"fields": "num_iid", "page_size": 200}, nil)
	if err != nil {
		return nil, err
	}
	items, _, _ := top.FindList(r.Payload, "items")
	var out []map[string]string
	for _, it := range items {
		id, _ := it.(map[string]any)["num_iid"].(json.Number)
		r, err := c.Call(ctx, "taobao.item.seller.get", top.Params{"num_iid": string(id), "fields": "num_iid,sku"}, nil)
		if err != nil {
			return nil, err
		}
		skus, _, _ := top.FindList(r.Payload, "item.skus")
		for _, sk := range skus {
			m, _ := sk.(map[string]any)
			props, _ := m["properties"].(string)
			price := fmt.Sprint(m["price"])
			if props == "" || strings.TrimSpace(price) == "" {
				continue
			}
			out = append(out, map[string]string{"num_iid": string(id), "properties": props, "price": price})
		}
		if len(out) >= 400 {
			break
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("the sandbox has no SKUs")
	}
	return out, nil
}
