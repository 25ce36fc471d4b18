package reliability

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/topscript/topscript/sandbox"
	"github.com/topscript/topscript/top"
	"github.com/topscript/topscript/toptime"
)

// offsetClock is the wall clock moved by an offset the test advances: the
// sandbox, the client and the scripts share it, so a later run can sync
// what changed during an earlier one without waiting for real minutes.
type offsetClock struct{ off atomic.Int64 }

func (c *offsetClock) Now() time.Time { return time.Now().Add(time.Duration(c.off.Load())) }
func (c *offsetClock) Sleep(ctx context.Context, d time.Duration) error {
	return toptime.Wall.Sleep(ctx, d)
}
func (c *offsetClock) advance(d time.Duration) { c.off.Add(int64(d)) }

// exampleScript is the path of a script of scripts/examples.
func exampleScript(t *testing.T, name string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("..", "..", "scripts", "examples", name))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// syncedTrade is one line of order_sync's output.
type syncedTrade struct {
	Tid      string `json:"tid"`
	Modified string `json:"modified"`
}

// churnSync is the outcome of two order_sync runs on a churning shop.
type churnSync struct {
	start, stop string            // the synced range (start, stop]
	out         []syncedTrade     // what the runs wrote, in order
	final       map[string]string // tid -> modified of every trade in the range, once churn stopped
	changes     []sandbox.Change  // the sandbox's change log
	w           *world            // the world they ran in
	seen        map[string]int    // (tid, modified) -> times written
	perTid      map[string]int    // tid -> distinct modified times written
	lastChange  map[string]string // tid -> modified of its last change
	lastByTid   map[string]sandbox.Change
}

// churnWorld is a world of a million trades whose trades change under the
// callers: before the sandbox answers each request, churn applies churnPer
// trade events. Its clock can move on.
type churnWorld struct {
	*world
	clk      *offsetClock
	churnPer atomic.Int64
}

func newChurnWorld(t *testing.T, o worldOptions, churnPer int64) *churnWorld {
	t.Helper()
	cw := &churnWorld{clk: &offsetClock{}}
	cw.churnPer.Store(churnPer)
	o.trades, o.clock = 1_000_000, cw.clk
	o.before = func(r *http.Request) {
		if n := cw.churnPer.Load(); n > 0 && r.URL.Path == "/router/rest" {
			cw.sb.Churn(int(n))
		}
	}
	cw.world = newWorld(t, o)
	return cw
}

// syncUnderChurn runs script (order_sync.lua or a variant) twice over a
// churning shop of a million trades (churnPer trade events before each
// answer), the clock moved on 10 minutes between the runs so that the
// second syncs what changed during the first. Then churn stops and the
// shop's final state is read back.
func syncUnderChurn(t *testing.T, script string, churnPer int64, faults sandbox.Faults) *churnSync {
	t.Helper()
	return newChurnWorld(t, worldOptions{faults: faults}, churnPer).syncTwice(t, script)
}

// syncTwice runs script twice as syncUnderChurn says, in cw.
func (cw *churnWorld) syncTwice(t *testing.T, script string) *churnSync {
	t.Helper()
	w := cw.world
	out := filepath.Join(t.TempDir(), "orders.jsonl")
	res := w.run("cursor.lua", `
local time, state = require("time"), require("state")
local c = time.add(time.now(), "-3h")
state.open("order_sync"):set("cursor", c)
print(c)`)
	if res.err != nil {
		t.Fatal(res.err)
	}
	cs := &churnSync{w: w, start: strings.TrimSpace(res.stdout)}
	churnPer := cw.churnPer.Load()
	for run := 1; run <= 2; run++ {
		if res := w.runFile(script, out); res.err != nil {
			t.Fatalf("run %d: %v\n%s", run, res.err, w.logs.String())
		}
		cw.clk.advance(10 * time.Minute)
	}
	cw.churnPer.Store(0)
	defer cw.churnPer.Store(churnPer)
	res = w.run("cursor.lua", `print(require("state").open("order_sync"):get("cursor"))`)
	cs.stop = strings.TrimSpace(res.stdout)

	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	cs.seen, cs.perTid = map[string]int{}, map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var tr syncedTrade
		if err := json.Unmarshal([]byte(line), &tr); err != nil {
			t.Fatalf("output line %q: %v", line, err)
		}
		cs.out = append(cs.out, tr)
		if cs.seen[tr.Tid+" "+tr.Modified]++; cs.seen[tr.Tid+" "+tr.Modified] == 1 {
			cs.perTid[tr.Tid]++
		}
	}
	cs.final = readRange(t, w.client, cs.start, cs.stop)
	cs.changes = w.sb.Changes(0)
	cs.lastByTid = map[string]sandbox.Change{}
	for _, c := range cs.changes {
		cs.lastByTid[fmt.Sprint(c.Tid)] = c
	}
	return cs
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// readRange reads every trade (every type) modified in (start, stop], as
// the shop holds it now, with increment.get over 30-minute windows.
func readRange(t *testing.T, c *top.Client, start, stop string) map[string]string {
	t.Helper()
	ctx := context.Background()
	from, err := toptime.Parse(start)
	if err != nil {
		t.Fatal(err)
	}
	end, err := toptime.Parse(stop)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for a := from; a.Before(end); a = a.Add(30 * time.Minute) {
		b := a.Add(30 * time.Minute)
		if b.After(end) {
			b = end
		}
		p := c.Pages(ctx, "taobao.trades.sold.increment.get", top.Params{"fields": "tid,modified",
			"start_modified": toptime.Format(a), "end_modified": toptime.Format(b), "type": strings.Join(sandbox.TradeTypes(), ",")},
			top.PageOptions{PageSize: 100})
		for {
			resp, ok, err := p.Next(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if !ok {
				break
			}
			for _, x := range p.Items(resp) {
				m := x.(map[string]any)
				if mod := fmt.Sprint(m["modified"]); mod > start {
					out[fmt.Sprint(m["tid"])] = mod
				}
			}
		}
	}
	return out
}

// lost lists the trades of the final state the output does not hold in
// that state.
func (cs *churnSync) lost() []string {
	var out []string
	for tid, mod := range cs.final {
		if cs.seen[tid+" "+mod] == 0 {
			out = append(out, tid+" modified "+mod)
		}
	}
	return out
}

// order_sync.lua pages each window backwards while the shop changes under
// it (40 trade events before each answer): measured against the sandbox's
// own record of what changed (/_sandbox/changes) and its final state, no
// trade is lost and none written twice. The same script paging forwards
// loses trades: the test can tell.
func TestOrderSyncUnderChurn(t *testing.T) {
	if testing.Short() {
		t.Skip("a million-trade shop churning: skipped with -short")
	}
	cs := syncUnderChurn(t, exampleScript(t, "order_sync.lua"), 40, sandbox.Faults{})
	checkChurnSync(t, cs)

	// Forward paging, same shop, same churn: trades slip past.
	dir := t.TempDir()
	src := mustRead(t, exampleScript(t, "order_sync.lua"))
	if !strings.Contains(src, "reverse = true") {
		t.Fatal("order_sync.lua no longer pages with reverse = true")
	}
	for name, body := range map[string]string{
		"order_sync.lua":  strings.Replace(src, "reverse = true", "reverse = false", 1),
		"trade_types.lua": mustRead(t, exampleScript(t, "trade_types.lua")),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	fwd := syncUnderChurn(t, filepath.Join(dir, "order_sync.lua"), 40, sandbox.Faults{})
	if n := len(fwd.lost()); n == 0 {
		t.Errorf("paging forwards lost no trade under the same churn: the test cannot tell")
	} else {
		t.Logf("paging forwards instead: %d trades lost", n)
	}
}

// checkChurnSync checks a churnSync: no (tid, modified) written twice;
// every trade of the final state in the range written in that state; every
// trade whose last change (by the change log) falls in the range written
// with that change's modified time; and churn moved trades the first run
// had written.
func checkChurnSync(t *testing.T, cs *churnSync) {
	t.Helper()
	for k, n := range cs.seen {
		if n > 1 {
			t.Errorf("trade %s written %d times", k, n)
		}
	}
	if lost := cs.lost(); len(lost) > 0 {
		t.Errorf("%d of %d trades lost, e.g. %v", len(lost), len(cs.final), lost[:min(5, len(lost))])
	}
	inRange, changedTwice := 0, 0
	for tid, c := range cs.lastByTid {
		if c.Modified <= cs.start || c.Modified > cs.stop {
			continue
		}
		inRange++
		if cs.seen[tid+" "+c.Modified] != 1 {
			t.Errorf("trade %s changed (%s, modified %s): not written in that state", tid, c.Event, c.Modified)
		}
	}
	for _, n := range cs.perTid {
		if n > 1 {
			changedTwice++
		}
	}
	if len(cs.final) < 1000 || inRange < 50 || changedTwice < 10 {
		t.Errorf("the shop did not churn under the sync: %d trades in range, %d changed in it, %d written before and after a change",
			len(cs.final), inRange, changedTwice)
	}
	t.Logf("synced (%s, %s]: %d trades, %d lines; %d changes logged, %d trades whose last change is in range, %d written again after a change; 0 lost, 0 twice",
		cs.start, cs.stop, len(cs.final), len(cs.out), len(cs.changes), inRange, changedTwice)
}
