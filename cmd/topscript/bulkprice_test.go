package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/topscript/topscript/internal/sandboxtest"
	"github.com/topscript/topscript/sandbox"
	"github.com/topscript/topscript/top"
)

// shopSKU is one SKU of the shop as item.seller.get answers it.
type shopSKU struct {
	numIID, props string
	price         int64 // cents
}

// shopItem is an item with its price and SKUs.
type shopItem struct {
	numIID string
	price  int64
	skus   []shopSKU
}

// cents reads a price ("59.90") in cents.
func cents(t *testing.T, v any) int64 {
	t.Helper()
	f, err := strconv.ParseFloat(fmt.Sprint(v), 64)
	if err != nil {
		t.Fatalf("price %v: %v", v, err)
	}
	return int64(f*100 + 0.5)
}

// readShop reads every item with SKUs of sb (item.seller.get per item).
func readShop(t *testing.T, sb *sandbox.Server) []shopItem {
	t.Helper()
	cfg := top.DefaultConfig()
	cfg.Gateway, cfg.AppKey, cfg.AppSecret, cfg.Session = sb.URL(), sandbox.DefaultAppKey, sandbox.DefaultAppSecret, sandbox.DefaultSession
	c, err := top.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var out []shopItem
	p := c.Pages(ctx, "taobao.items.onsale.get", top.Params{"fields": "num_iid"}, top.PageOptions{PageSize: 200})
	for {
		resp, ok, err := p.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		for _, x := range p.Items(resp) {
			id := fmt.Sprint(x.(map[string]any)["num_iid"])
			r, err := c.Call(ctx, "taobao.item.seller.get", top.Params{"num_iid": id, "fields": "num_iid,price,sku"}, nil)
			if err != nil {
				t.Fatal(err)
			}
			item := r.Payload["item"].(map[string]any)
			skus, _, _ := top.FindList(item, "skus")
			it := shopItem{numIID: id, price: cents(t, item["price"])}
			for _, s := range skus {
				m := s.(map[string]any)
				it.skus = append(it.skus, shopSKU{id, fmt.Sprint(m["properties"]), cents(t, m["price"])})
			}
			if len(it.skus) > 0 {
				out = append(out, it)
			}
		}
	}
	return out
}

// bulk_price moves item_price when the new SKU prices leave the item's
// range. The price file lists every SKU of 30 items whose cheaper half sits
// at the item's price, and raises that half above the item price: the
// platform refuses the last of those raises unless item_price moves the
// item price along. With the example's item_price logic every row is ok
// and each item's price ends at its new cheapest SKU; with
// --no-item-price exactly one row of each item fails, with
// isv.invalid-parameter.
func TestBulkPriceMovesItemPrice(t *testing.T) {
	script := filepath.Join(examplesDir(t), "bulk_price.lua")
	sb := sandboxtest.Start(t, sandbox.Options{})
	var chosen []shopItem
	for _, it := range readShop(t, sb) {
		at := 0
		for _, k := range it.skus {
			if k.price == it.price {
				at++
			}
		}
		if at*2 == len(it.skus) && len(chosen) < 30 {
			chosen = append(chosen, it)
		}
	}
	if len(chosen) < 30 {
		t.Fatalf("only %d items with half their SKUs at the item price", len(chosen))
	}
	var b strings.Builder
	b.WriteString("num_iid,properties,price\n")
	want := map[string]int64{}     // key -> new SKU price
	raised := map[string]bool{}    // keys raised above the item price
	itemWant := map[string]int64{} // num_iid -> the new cheapest SKU price
	rows := 0
	for _, it := range chosen {
		var top, low int64 = 0, 1 << 62
		for _, k := range it.skus {
			top = max(top, k.price)
		}
		for _, k := range it.skus {
			p := k.price
			if p == it.price {
				p = top + 1000 // above the item price (and every SKU)
				raised[it.numIID+":"+k.props] = true
			}
			want[it.numIID+":"+k.props] = p
			low = min(low, p)
			fmt.Fprintf(&b, "%s,%s,%d.%02d\n", it.numIID, k.props, p/100, p%100)
			rows++
		}
		itemWant[it.numIID] = low
	}
	dir := t.TempDir()
	input := filepath.Join(dir, "raise.csv")
	if err := os.WriteFile(input, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}

	// With the item_price logic: every row ok, prices and item prices as planned.
	cfg := writeConfig(t, dir, sb, "")
	reads := sb.Stats().Calls["taobao.item.seller.get"]
	code, stdout, stderr := topscript(t, dir, "run", "--config", cfg, script, input, filepath.Join(dir, "on.csv"))
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	st, _ := report(t, filepath.Join(dir, "on.csv"))
	if st["ok"] != rows || len(st) != 1 {
		t.Fatalf("report statuses %v, want %d ok", st, rows)
	}
	if n := sb.Stats().Calls["taobao.item.seller.get"] - reads; n != int64(len(chosen)) {
		t.Errorf("the job read items %d times for %d items: want once per item", n, len(chosen))
	}
	// A rerun of the same file sends nothing and reads no item: the plan of
	// each item's price is kept with the job.
	calls := sb.Stats().Calls
	code, stdout, stderr = topscript(t, dir, "run", "--config", cfg, script, input, filepath.Join(dir, "again.csv"))
	if st, _ := report(t, filepath.Join(dir, "again.csv")); code != 0 || st["skipped"] != rows {
		t.Errorf("rerun: exit %d, statuses %v, want all %d skipped\n%s%s", code, st, rows, stdout, stderr)
	}
	for _, m := range []string{"taobao.item.sku.price.update", "taobao.item.seller.get"} {
		if n := sb.Stats().Calls[m] - calls[m]; n != 0 {
			t.Errorf("rerun: %d calls of %s, want none", n, m)
		}
	}
	after := readShop(t, sb)
	for _, it := range after {
		if w, ok := itemWant[it.numIID]; ok && it.price != w {
			t.Errorf("item %s: price %d, want the new cheapest SKU price %d", it.numIID, it.price, w)
		}
		for _, k := range it.skus {
			if w, ok := want[it.numIID+":"+k.props]; ok && k.price != w {
				t.Errorf("SKU %s:%s: price %d, want %d", it.numIID, k.props, k.price, w)
			}
		}
	}

	// Without it, on the shop as it was: one raise of each item is refused.
	sb.Reset()
	dir2 := t.TempDir()
	cfg = writeConfig(t, dir2, sb, "")
	code, stdout, stderr = topscript(t, dir2, "run", "--config", cfg, script, input, filepath.Join(dir2, "off.csv"), "--", "--no-item-price")
	if code != 3 {
		t.Fatalf("--no-item-price: exit %d, want 3\n%s%s", code, stdout, stderr)
	}
	st, recs := report(t, filepath.Join(dir2, "off.csv"))
	if st["failed"] != len(chosen) || st["ok"] != rows-len(chosen) {
		t.Errorf("--no-item-price: statuses %v, want %d failed (one per item) and %d ok", st, len(chosen), rows-len(chosen))
	}
	failedPer := map[string]int{}
	for _, r := range recs[1:] {
		if r[1] != "failed" {
			continue
		}
		if !raised[r[0]] || r[2] != "15" || !strings.HasPrefix(r[3], "isv.invalid-parameter") {
			t.Errorf("failed row %v: want a raised SKU refused with 15 isv.invalid-parameter", r)
		}
		failedPer[strings.SplitN(r[0], ":", 2)[0]]++
	}
	for _, it := range chosen {
		if failedPer[it.numIID] != 1 {
			t.Errorf("item %s: %d rows failed, want 1", it.numIID, failedPer[it.numIID])
		}
	}
	if sb.Stats().Calls["taobao.item.seller.get"] != 0 {
		t.Errorf("--no-item-price read items: %v", sb.Stats().Calls)
	}
}
