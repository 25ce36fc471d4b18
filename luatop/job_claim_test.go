package luatop

import (
	"context"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/topscript/topscript/state"
)

// claimStore is a shared store as a second process sees it: a MemStore
// whose claims are kept per token with fencing tokens, like
// state.RedisStore's.
type claimStore struct {
	*state.MemStore
	mu      sync.Mutex
	holders map[string]string // ns + "\x00" + key → token
	fences  map[string]int64  // ns + "\x00" + key → newest fencing token
	claims  int
}

func newClaimStore() *claimStore {
	return &claimStore{MemStore: state.NewMemStore(), holders: map[string]string{}, fences: map[string]int64{}}
}

func (c *claimStore) Claim(ctx context.Context, ns, key, token string, lease time.Duration) (int64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.claims++
	k := ns + "\x00" + key
	if h, ok := c.holders[k]; ok {
		if h != token {
			return 0, nil
		}
		return c.fences[k], nil
	}
	c.holders[k] = token
	c.fences[k]++
	return c.fences[k], nil
}

func (c *claimStore) Unclaim(ctx context.Context, ns, key, token string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	k := ns + "\x00" + key
	if c.holders[k] == token {
		delete(c.holders, k)
	}
	return nil
}

// Commit refuses the keys whose fencing token is not the newest.
func (c *claimStore) Commit(ctx context.Context, ns string, kv map[string][]byte, fences map[string]int64) ([]string, error) {
	c.mu.Lock()
	ok := map[string][]byte{}
	var refused []string
	for k, v := range kv {
		if f, fenced := fences[k]; fenced && c.fences[ns+"\x00"+k] != f {
			refused = append(refused, k)
			continue
		}
		ok[k] = v
	}
	c.mu.Unlock()
	_, err := c.MemStore.Commit(ctx, ns, ok, nil)
	return refused, err
}

// lapse ends token's claim on key as an expired lease does, leaving its
// holder unaware.
func (c *claimStore) lapse(ns, key string) {
	c.mu.Lock()
	delete(c.holders, ns+"\x00"+key)
	c.mu.Unlock()
}

func (c *claimStore) held() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for k, tok := range c.holders {
		out = append(out, strings.ReplaceAll(k, "\x00", " ")+" by "+tok)
	}
	return out
}

// With a shared store, job.run claims each row before sending it. Rows
// another process holds wait until it lets them go: a row it finished is
// skipped ("done by another run"), one it left unknown is not re-sent, one
// it released without a checkpoint (failed there) is sent here. Every
// claim is released at the end.
func TestJobClaimsSplitRows(t *testing.T) {
	f := newJobFixture(t, fixtureOptions{})
	cs := newClaimStore()
	f.opts.Store = cs
	input := f.pricesCSV(t, 10)
	const ns = "job:prices"
	raw, err := os.ReadFile(input)
	if err != nil {
		t.Fatal(err)
	}
	data := strings.Split(strings.TrimSpace(string(raw)), "\n")[1:]
	key := func(i int) string {
		p := strings.Split(data[i], ",")
		return p[0] + ":" + p[1]
	}
	ctx := context.Background()
	other := "other-host pid 1 abc"
	for _, i := range []int{1, 2, 3} {
		cs.Claim(ctx, ns, key(i), other, 0)
	}
	go func() {
		time.Sleep(300 * time.Millisecond)
		cs.Set(ctx, ns, key(1), []byte(`{"status":"ok","request_id":"elsewhere"}`))
		cs.Unclaim(ctx, ns, key(1), other)
		cs.Unclaim(ctx, ns, key(2), other) // failed there: no checkpoint
		cs.Set(ctx, ns, key(3), []byte(`{"status":"unknown"}`))
		cs.Unclaim(ctx, ns, key(3), other)
	}()
	start := time.Now()
	L, report := f.runPriceJob(t, input)
	wantSummary(t, summaryOf(t, L), map[string]float64{"total": 10, "ok": 8, "failed": 0, "skipped": 1, "unknown": 1})
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Errorf("the job ended after %v, before the other process let its rows go", d)
	}
	writes := f.writes("taobao.item.sku.price.update")
	if len(writes) != 8 || writes[key(1)] != 0 || writes[key(3)] != 0 || writes[key(2)] != 1 {
		t.Errorf("writes %v: want 8 SKUs, %s (done elsewhere) and %s (unknown elsewhere) not sent, %s sent", writes, key(1), key(3), key(2))
	}
	for _, r := range readReport(t, report)[1:] {
		if r[0] == key(1) && (r[1] != "skipped" || !strings.Contains(r[4], "done by another run") || r[5] != "elsewhere") {
			t.Errorf("report row of the row done elsewhere: %q", r)
		}
	}
	if h := cs.held(); len(h) != 0 {
		t.Errorf("claims still held after the job: %v", h)
	}
	if cs.claims < 10 {
		t.Errorf("%d claims for 10 rows", cs.claims)
	}

	// Under --dry-run nothing is claimed.
	cs.claims = 0
	f.opts.DryRun = true
	f.runPriceJob(t, input)
	if cs.claims != 0 {
		t.Errorf("dry run made %d claims", cs.claims)
	}
}
