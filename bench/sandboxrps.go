package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/topscript/topscript/sandbox"
	"github.com/topscript/topscript/top"
)

// sandboxRPS measures the sandbox's own requests/s over loopback at
// cfg.rpsConc concurrent floor clients (signing, posting, reading), mixing
// reads of the time, one item and a 20-trade page.
func sandboxRPS(ctx context.Context, cfg config, _ *env) (*section, error) {
	sec := &section{title: fmt.Sprintf("Sandbox throughput (concurrency %d, loopback)", cfg.rpsConc)}
	s, err := sandbox.StartLocal(sandbox.Options{})
	if err != nil {
		return nil, err
	}
	defer s.Close()
	c, err := top.NewClient(clientConfig(s))
	if err != nil {
		return nil, err
	}
	id, err := anItem(ctx, c)
	if err != nil {
		return nil, err
	}
	mix := []struct {
		method string
		params map[string]string
	}{
		{"taobao.time.get", nil},
		{"taobao.item.seller.get", map[string]string{"num_iid": string(id), "fields": "num_iid,title,price,sku"}},
		{"taobao.trades.sold.get", map[string]string{"fields": "tid,status,payment,orders", "page_size": "20"}},
	}
	fl := newFloor(s)
	for _, m := range mix { // warm up, and check every request works
		if err := fl.call(ctx, m.method, m.params); err != nil {
			return nil, err
		}
	}
	var n, failed atomic.Int64
	var firstErr atomic.Value
	dctx, cancel := context.WithTimeout(ctx, cfg.rpsDuration)
	defer cancel()
	var wg sync.WaitGroup
	t0 := time.Now()
	for g := 0; g < cfg.rpsConc; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := g; dctx.Err() == nil; i++ {
				m := mix[i%len(mix)]
				if err := fl.call(dctx, m.method, m.params); err != nil {
					if dctx.Err() == nil {
						failed.Add(1)
						firstErr.CompareAndSwap(nil, err.Error())
					}
					continue
				}
				n.Add(1)
			}
		}(g)
	}
	wg.Wait()
	el := time.Since(t0)
	if f := failed.Load(); f > 0 {
		return nil, fmt.Errorf("%d requests failed, first: %v", f, firstErr.Load())
	}
	sec.add("requests/s (time.get, item.seller.get, trades.sold.get ×20)", perSec(float64(n.Load())/el.Seconds()))
	sec.note("The clients sign with hmac-sha256 and run in the same process, on the same CPUs, as the sandbox.")
	return sec, nil
}
