package reliability

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/topscript/topscript/engine"
	"github.com/topscript/topscript/internal/syncbuf"
	"github.com/topscript/topscript/luatop"
	"github.com/topscript/topscript/sandbox"
	"github.com/topscript/topscript/state"
	"github.com/topscript/topscript/top"
	"github.com/topscript/topscript/toptime"
)

// seed is the sandbox seed of every test here.
const seed = 7

// world is a sandbox behind a real loopback HTTP server (so dropped
// connections are real), a client with fast retries and a state store.
type world struct {
	t      *testing.T
	sb     *sandbox.Server
	srv    *httptest.Server
	client *top.Client
	store  state.Store
	logs   *syncbuf.Buffer

	hits   atomic.Int64 // requests that reached the HTTP server
	spiked atomic.Int64 // answers delayed past the client's timeout
	clock  toptime.Clock
}

// worldOptions shape a world.
type worldOptions struct {
	faults sandbox.Faults
	// spikeEvery > 0 delays the answer to every spikeEvery-th request by
	// spike, after the sandbox has applied it.
	spikeEvery int64
	spike      time.Duration
	timeout    time.Duration // client timeout per attempt (default 5 s)
	attempts   int           // client attempts (default 5)
	trades     int           // sandbox trades (default the sandbox's)
	items      int           // sandbox items (default the sandbox's)
	// clock, when set, is the clock of the sandbox, the client and the
	// scripts (time.now, job.run).
	clock toptime.Clock
	// before, when set, runs before the sandbox serves each request.
	before func(r *http.Request)
}

func newWorld(t *testing.T, o worldOptions) *world {
	t.Helper()
	so := sandbox.Options{Seed: seed, Faults: o.faults, Trades: o.trades, Items: o.items}
	if o.clock != nil {
		so.Now = o.clock.Now
	}
	sb, err := sandbox.New(so)
	if err != nil {
		t.Fatal(err)
	}
	w := &world{t: t, sb: sb, store: state.NewMemStore(), logs: &syncbuf.Buffer{}, clock: o.clock}
	w.srv = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if o.before != nil {
			o.before(r)
		}
		n := w.hits.Add(1)
		if o.spikeEvery > 0 && n%o.spikeEvery == 0 {
			rec := httptest.NewRecorder()
			sb.ServeHTTP(rec, r)
			w.spiked.Add(1)
			time.Sleep(o.spike)
			for k, v := range rec.Header() {
				rw.Header()[k] = v
			}
			rw.WriteHeader(rec.Code)
			_, _ = rw.Write(rec.Body.Bytes())
			return
		}
		sb.ServeHTTP(rw, r)
	}))
	t.Cleanup(w.srv.Close)
	cfg := top.DefaultConfig()
	cfg.Gateway = w.srv.URL + "/router/rest"
	cfg.AppKey, cfg.AppSecret, cfg.Session = sandbox.DefaultAppKey, sandbox.DefaultAppSecret, sandbox.DefaultSession
	cfg.Retry.MaxAttempts = 5
	if o.attempts > 0 {
		cfg.Retry.MaxAttempts = o.attempts
	}
	cfg.Retry.Backoff, cfg.Retry.MaxBackoff = time.Millisecond, 4*time.Millisecond
	cfg.Timeout = 5 * time.Second
	if o.timeout > 0 {
		cfg.Timeout = o.timeout
	}
	c, err := top.NewClient(cfg, top.WithLogger(slog.New(slog.NewTextHandler(w.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))),
		top.WithClock(o.clock))
	if err != nil {
		t.Fatal(err)
	}
	w.client = c
	return w
}

// runResult is what one script run produced.
type runResult struct {
	stdout string
	err    error
	jobs   []luatop.JobSummary
}

// run runs src (named name) on a fresh engine over the world's client and
// store.
func (w *world) run(name, src string, args ...string) runResult {
	w.t.Helper()
	path := filepath.Join(w.t.TempDir(), name)
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		w.t.Fatal(err)
	}
	return w.runFile(path, args...)
}

// runFile runs the script at path (which may require the files next to
// it) like run.
func (w *world) runFile(path string, args ...string) runResult {
	w.t.Helper()
	var out syncbuf.Buffer
	var res runResult
	var mu sync.Mutex
	var now func() time.Time
	if w.clock != nil {
		now = w.clock.Now
	}
	eng, err := engine.New(engine.Options{
		Now:      now,
		Client:   w.client,
		Stdout:   &out,
		Stderr:   w.logs,
		Logger:   slog.New(slog.NewTextHandler(w.logs, nil)),
		Store:    w.store,
		Progress: io.Discard,
		OnJob: func(s luatop.JobSummary) {
			mu.Lock()
			res.jobs = append(res.jobs, s)
			mu.Unlock()
		},
	})
	if err != nil {
		w.t.Fatal(err)
	}
	defer eng.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res.err = eng.RunFile(ctx, path, args)
	res.stdout = out.String()
	return res
}

// row is one SKU of the seed data.
type row struct {
	numIID, skuID, props, price string
}

var (
	rowsOnce sync.Once
	rowsData []row
	rowsErr  error
)

// seedRows returns one SKU of each of the first n items of the seed data,
// read from a fault-free sandbox.
func seedRows(t *testing.T, n int) []row {
	t.Helper()
	rowsOnce.Do(func() { rowsData, rowsErr = loadRows() })
	if rowsErr != nil {
		t.Fatal(rowsErr)
	}
	if n > len(rowsData) {
		t.Fatalf("want %d rows, the seed has %d", n, len(rowsData))
	}
	return rowsData[:n]
}

func loadRows() ([]row, error) { return loadShopRows(0) }

// loadShopRows returns one row per SKU of the seed shop of items items (0:
// the sandbox's default), the first SKU of each item first, then the
// others; read from a fault-free sandbox.
func loadShopRows(items int) ([]row, error) {
	all, err := shopSKUs(items)
	if err != nil {
		return nil, err
	}
	var first, rest []row
	for _, skus := range all {
		first = append(first, skus[0])
		rest = append(rest, skus[1:]...)
	}
	if items == 0 {
		return first, nil // seedRows: one SKU of each item
	}
	return append(first, rest...), nil
}

// shopSKUs reads every SKU of the seed shop of items items, per item.
func shopSKUs(items int) ([][]row, error) {
	sb, err := sandbox.New(sandbox.Options{Seed: seed, Items: items})
	if err != nil {
		return nil, err
	}
	srv := httptest.NewServer(sb)
	defer srv.Close()
	cfg := top.DefaultConfig()
	cfg.Gateway = srv.URL + "/router/rest"
	cfg.AppKey, cfg.AppSecret, cfg.Session = sandbox.DefaultAppKey, sandbox.DefaultAppSecret, sandbox.DefaultSession
	c, err := top.NewClient(cfg)
	if err != nil {
		return nil, err
	}
	ctx := context.Background()
	var out [][]row
	p := c.Pages(ctx, "taobao.items.onsale.get", top.Params{"fields": "num_iid"}, top.PageOptions{PageSize: 200})
	for {
		resp, ok, err := p.Next(ctx)
		if err != nil {
			return nil, err
		}
		if !ok {
			break
		}
		for _, it := range p.Items(resp) {
			id := fmt.Sprint(it.(map[string]any)["num_iid"])
			r, err := c.Call(ctx, "taobao.item.seller.get", top.Params{"num_iid": id, "fields": "num_iid,sku"}, nil)
			if err != nil {
				return nil, err
			}
			skus, _, _ := top.FindList(r.Payload["item"].(map[string]any), "skus")
			if len(skus) == 0 {
				continue
			}
			var item []row
			for _, x := range skus {
				s := x.(map[string]any)
				item = append(item, row{numIID: id, skuID: fmt.Sprint(s["sku_id"]), props: fmt.Sprint(s["properties"]), price: fmt.Sprint(s["price"])})
			}
			out = append(out, item)
		}
	}
	return out, nil
}

// writeRowsCSV writes rows as a CSV file with a header and returns its path.
func writeRowsCSV(t *testing.T, rows []row) string {
	t.Helper()
	var b bytes.Buffer
	b.WriteString("num_iid,sku_id,properties,price\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "%s,%s,%s,%s\n", r.numIID, r.skuID, r.props, r.price)
	}
	path := filepath.Join(t.TempDir(), "rows.csv")
	if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// readReport reads a job report: key → status, and the report's rows.
func readReport(t *testing.T, path string) (map[string]string, [][]string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(b, []byte("\uFEFF")))).ReadAll()
	if err != nil {
		t.Fatalf("report %s: %v", path, err)
	}
	if len(recs) == 0 || strings.Join(recs[0][:6], ",") != "key,status,code,sub_code,message,request_id" {
		t.Fatalf("report header: %v", recs)
	}
	recs, summary, ok := luatop.SplitCSVReport(recs) // the rows, then the summary
	if !ok {
		t.Fatalf("report %s: the summary after the rows is missing or malformed: %q", path, summary)
	}
	out := map[string]string{}
	for _, r := range recs[1:] {
		if _, dup := out[r[0]]; dup {
			t.Fatalf("report names %s twice", r[0])
		}
		out[r[0]] = r[1]
	}
	return out, recs[1:]
}

// errorTotals splits the sandbox's error counters into faults that did not
// apply the call (isp, HTTP 502, bans) and faults that applied it and lost
// the answer or answered an error (drop, truncate, isp_applied,
// http502_applied).
func errorTotals(st sandbox.Stats) (notApplied, lost int64, other map[string]int64) {
	other = map[string]int64{}
	for k, n := range st.Errors {
		switch {
		case k == "drop" || k == "truncate" || k == "isp_applied" || k == "http502_applied":
			lost += n
		case k == "http502" || strings.HasPrefix(k, "15/isp.") || strings.HasPrefix(k, "7/"):
			notApplied += n
		default:
			other[k] = n
		}
	}
	return notApplied, lost, other
}

// ambiguousNotApplied counts the faults that applied nothing but whose
// answer a client cannot tell from one that did: HTTP 502 and the isp.*
// errors other than "service unavailable".
func ambiguousNotApplied(st sandbox.Stats) int64 {
	var n int64
	for k, v := range st.Errors {
		if k == "http502" || strings.HasPrefix(k, "15/isp.") && !strings.HasSuffix(k, "service-unavailable") {
			n += v
		}
	}
	return n
}
