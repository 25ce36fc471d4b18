package top

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// listGW serves total items in pages; mode selects the answer's shape.
func listGW(t *testing.T, total int, mode string) *gw {
	return newGW(t, func(_ int64, p map[string]string, w http.ResponseWriter, _ *http.Request) {
		no, _ := strconv.Atoi(p["page_no"])
		size, _ := strconv.Atoi(p["page_size"])
		if size == 0 {
			size = 40
		}
		var items []string
		for i := (no-1)*size + 1; i <= no*size && i <= total; i++ {
			items = append(items, fmt.Sprintf(`{"tid":%d}`, 342161316540874000+i))
		}
		list := "[" + strings.Join(items, ",") + "]"
		switch mode {
		case "has_next":
			okBody(w, fmt.Sprintf(`{"trades":%s,"has_next":%v}`, list, no*size < total))
		case "plain":
			if len(items) == 0 {
				okBody(w, fmt.Sprintf(`{"trades_sold_get_response":{"total_results":%d}}`, total))
				return
			}
			okBody(w, fmt.Sprintf(`{"trades_sold_get_response":{"total_results":%d,"trades":{"trade":%s}}}`, total, list))
		case "bare":
			okBody(w, fmt.Sprintf(`{"trades":%s}`, list))
		default:
			okBody(w, fmt.Sprintf(`{"total_results":%d,"trades":%s}`, total, list))
		}
	})
}

func collect(t *testing.T, p *Pager) (pages []int, ids []string) {
	t.Helper()
	for {
		r, ok, err := p.Next(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			return
		}
		pages = append(pages, len(p.Items(r)))
		for _, it := range p.Items(r) {
			ids = append(ids, fmt.Sprint(it.(map[string]any)["tid"]))
		}
		if len(pages) > 100 {
			t.Fatal("runaway pager")
		}
	}
}

func TestPagesForward(t *testing.T) {
	for _, mode := range []string{"total", "has_next", "plain", "bare"} {
		g := listGW(t, 95, mode)
		c := newTestClient(t, testConfig(g.srv.URL))
		p := c.Pages(context.Background(), "test.trades.list", Params{"fields": "tid"}, PageOptions{PageSize: 40, Items: "trades", UseHasNext: mode == "has_next"})
		pages, ids := collect(t, p)
		if fmt.Sprint(pages) != "[40 40 15]" || len(ids) != 95 || ids[0] != "342161316540874001" {
			t.Errorf("%s: pages %v ids %d first %v", mode, pages, len(ids), ids[0])
		}
		if want := int64(3); mode != "bare" && g.requests.Load() != want {
			t.Errorf("%s: %d requests", mode, g.requests.Load())
		}
		if mode == "has_next" && g.lastParams()["use_has_next"] != "true" {
			t.Errorf("use_has_next not sent")
		}
	}
	// Exact multiple: stops without fetching an empty page.
	g := listGW(t, 80, "total")
	c := newTestClient(t, testConfig(g.srv.URL))
	pages, _ := collect(t, c.Pages(context.Background(), "test.trades.list", nil, PageOptions{PageSize: 40}))
	if fmt.Sprint(pages) != "[40 40]" || g.requests.Load() != 2 {
		t.Errorf("pages %v requests %d", pages, g.requests.Load())
	}
	// Empty result: one empty page.
	g = listGW(t, 0, "plain")
	c = newTestClient(t, testConfig(g.srv.URL))
	pages, _ = collect(t, c.Pages(context.Background(), "test.trades.list", nil, PageOptions{Items: "trades"}))
	if fmt.Sprint(pages) != "[0]" || g.requests.Load() != 1 {
		t.Errorf("empty: pages %v requests %d", pages, g.requests.Load())
	}
}

func TestPagesReverse(t *testing.T) {
	g := listGW(t, 95, "total")
	c := newTestClient(t, testConfig(g.srv.URL))
	p := c.Pages(context.Background(), "test.trades.increment", Params{"page_no": 7}, PageOptions{PageSize: 40, Reverse: true})
	pages, ids := collect(t, p)
	if fmt.Sprint(pages) != "[15 40 40]" || len(ids) != 95 || ids[0] != "342161316540874081" {
		t.Errorf("pages %v first %v", pages, ids[0])
	}
	// page 1 (count), then 3, 2, 1.
	if g.requests.Load() != 4 {
		t.Errorf("requests %d", g.requests.Load())
	}
	// Without a page size: learned from the full first page.
	g = listGW(t, 95, "total")
	c = newTestClient(t, testConfig(g.srv.URL))
	pages, _ = collect(t, c.Pages(context.Background(), "test.trades.increment", nil, PageOptions{Reverse: true}))
	if fmt.Sprint(pages) != "[15 40 40]" {
		t.Errorf("learned size: pages %v", pages)
	}
	// One page only.
	g = listGW(t, 5, "total")
	c = newTestClient(t, testConfig(g.srv.URL))
	pages, _ = collect(t, c.Pages(context.Background(), "test.trades.increment", nil, PageOptions{Reverse: true, PageSize: 40}))
	if fmt.Sprint(pages) != "[5]" || g.requests.Load() != 1 {
		t.Errorf("single: %v %d", pages, g.requests.Load())
	}
	// No total_results: an error.
	g = listGW(t, 95, "has_next")
	c = newTestClient(t, testConfig(g.srv.URL))
	_, _, err := c.Pages(context.Background(), "test.trades.increment", nil, PageOptions{Reverse: true}).Next(context.Background())
	if KindOf(err) != KindInvalid {
		t.Errorf("no total: %v", err)
	}
}

// The catalog's paging facts are used: trades.sold.get defaults to 40 a page.
func TestPagesCatalogDefaults(t *testing.T) {
	g := listGW(t, 50, "total")
	c := newTestClient(t, testConfig(g.srv.URL))
	p := c.Pages(context.Background(), "taobao.trades.sold.get", Params{"fields": "tid"}, PageOptions{})
	pages, _ := collect(t, p)
	if fmt.Sprint(pages) != "[40 10]" || g.lastParams()["page_size"] != "40" {
		t.Errorf("pages %v size %q", pages, g.lastParams()["page_size"])
	}
	// An error ends the walk.
	var nilPager *Pager
	if _, ok, err := nilPager.Next(context.Background()); ok || err != nil {
		t.Error("nil pager")
	}
}

// A catalogued method that takes no page parameter is called once, without
// page_no or page_size (which the catalog would refuse).
func TestPagesSingleCallWhenNoPaging(t *testing.T) {
	var calls int
	g := newGW(t, func(_ int64, p map[string]string, w http.ResponseWriter, _ *http.Request) {
		calls++
		if _, ok := p["page_no"]; ok {
			t.Errorf("page_no sent: %v", p)
		}
		okBody(w, `{"skus":[{"id":1},{"id":2}],"total_results":2}`)
	})
	c := newTestClient(t, testConfig(g.srv.URL))
	pages, _ := collect(t, c.Pages(context.Background(), "taobao.fenxiao.product.skus.get", Params{"product_id": 1}, PageOptions{}))
	if calls != 1 || len(pages) != 1 || pages[0] != 2 {
		t.Errorf("%d calls, pages %v", calls, pages)
	}
}
