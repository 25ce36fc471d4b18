package sandbox

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkLoopback measures requests per second over loopback HTTP at
// concurrency 16, mixing reads (trades, items) and SKU price writes, each
// request signed with hmac-sha256 as a client would.
func BenchmarkLoopback(b *testing.B) {
	s := newTestServer(b, Options{Trades: 100_000, Now: time.Now})
	if err := s.Start("127.0.0.1:0"); err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const conc = 16
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: conc, MaxConnsPerHost: conc}}
	it := s.st.items[0]
	id := strconv.FormatInt(it.numIID, 10)
	reqs := []map[string]string{
		{"method": "taobao.trades.sold.get", "fields": "tid,status,payment,orders", "page_size": "20", "simplify": "true"},
		{"method": "taobao.item.seller.get", "num_iid": id, "fields": "num_iid,title,sku"},
		{"method": "taobao.item.sku.price.update", "num_iid": id, "properties": it.skus[0].props, "price": "12.50"},
		{"method": "taobao.time.get"},
	}
	var n atomic.Int64
	var failed atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for g := 0; g < conc; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for {
				i := n.Add(1)
				if i > int64(b.N) {
					return
				}
				app := reqs[int(i)%len(reqs)]
				p := signed(s, app["method"], app)
				resp, err := client.Post(s.URL(), "application/x-www-form-urlencoded", strings.NewReader(form(p)))
				if err != nil {
					failed.Add(1)
					continue
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || strings.Contains(string(body), "error_response") {
					failed.Add(1)
				}
			}
		}(g)
	}
	wg.Wait()
	el := time.Since(start)
	b.StopTimer()
	if f := failed.Load(); f > 0 {
		b.Fatalf("%d failed requests", f)
	}
	b.ReportMetric(float64(b.N)/el.Seconds(), "req/s")
}

// BenchmarkServeHTTP measures the handler alone (no network).
func BenchmarkServeHTTP(b *testing.B) {
	s := newTestServer(b, Options{})
	p := signed(s, "taobao.trades.sold.get", map[string]string{"fields": "tid,status,payment,orders", "page_size": "20"})
	body := form(p)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			w := post(s, p)
			_ = body
			if w.Code != 200 {
				b.Fatal(w.Code)
			}
		}
	})
}
