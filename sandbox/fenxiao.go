package sandbox

import (
	"sort"
	"strconv"
	"strings"
)

type fxField struct {
	name string
	get  func(p *fxProduct) any
}

var fxFields = []fxField{
	{"pid", func(p *fxProduct) any { return p.pid }},
	{"name", func(p *fxProduct) any { return p.name }},
	{"outer_id", func(p *fxProduct) any { return p.outerID }},
	{"standard_price", func(p *fxProduct) any { return money(p.standard) }},
	{"cost_price", func(p *fxProduct) any { return money(p.cost) }},
	{"dealer_cost_price", func(p *fxProduct) any { return money(p.dealer) }},
	{"retail_price_low", func(p *fxProduct) any { return money(p.retailLow) }},
	{"retail_price_high", func(p *fxProduct) any { return money(p.retailHigh) }},
	{"quantity", func(p *fxProduct) any { return p.qty }},
	{"status", func(p *fxProduct) any { return p.status }},
	{"trade_type", func(p *fxProduct) any { return "AGENT" }},
	{"productcat_id", func(p *fxProduct) any { return p.catID }},
	{"item_id", func(p *fxProduct) any { return p.itemID }},
	{"description", func(p *fxProduct) any { return p.desc }},
	{"created", func(p *fxProduct) any { return fmtTime(p.created) }},
	{"modified", func(p *fxProduct) any { return fmtTime(p.modified) }},
}

type fxSKUField struct {
	name string
	get  func(k *fxSKU) any
}

var fxSKUFields = []fxSKUField{
	{"id", func(k *fxSKU) any { return k.id }},
	{"outer_id", func(k *fxSKU) any { return k.outerID }},
	{"properties", func(k *fxSKU) any { return k.props }},
	{"name", func(k *fxSKU) any { return k.name }},
	{"quantity", func(k *fxSKU) any { return k.qty }},
	{"standard_price", func(k *fxSKU) any { return money(k.standard) }},
	{"cost_price", func(k *fxSKU) any { return money(k.cost) }},
	{"dealer_cost_price", func(k *fxSKU) any { return money(k.dealer) }},
}

// renderFx renders p with every product field; extra names what fields
// adds ("skus", "images"), which the caller honours only when pids is
// given.
func renderFx(p *fxProduct, extra fieldSet) obj {
	o := make(obj, 0, len(fxFields)+2)
	for _, f := range fxFields {
		o = append(o, kv{f.name, f.get(p)})
	}
	if extra.has("images") {
		o = append(o, kv{"pictures", fxPictures(p)})
	}
	if extra.hasList("skus") && len(p.skus) > 0 {
		sub := extra.sub("skus")
		elems := make([]any, 0, len(p.skus))
		for k := range p.skus {
			so := make(obj, 0, len(fxSKUFields))
			for _, f := range fxSKUFields {
				if sub.has(f.name) {
					so = append(so, kv{f.name, f.get(&p.skus[k])})
				}
			}
			elems = append(elems, so)
		}
		o = append(o, kv{"skus", list{item: "fenxiao_sku", elems: elems}})
	}
	return o
}

// fxPictures is a product's images (fields=images), comma-separated.
func fxPictures(p *fxProduct) string {
	base := "https://img.alicdn.com/imgextra/fenxiao_" + strconv.FormatInt(p.pid, 10)
	return base + "_1.jpg," + base + "_2.jpg"
}

// fenxiaoProductsGet: taobao.fenxiao.products.get [328] — page_size
// default 20, max 50; pids (at most 30) queries those products only;
// otherwise the filters outer_id, status, productcat_id and
// start_modified/end_modified. Products come newest-published first
// (created, then pid, descending). fields names extra data — skus, images —
// and applies only when pids is given, as the doc says; names of product
// fields in it are ignored (every product field is answered; a choice: the
// doc lists only the extras). Deleted products (product.update
// status=delete) are not found.
func (s *Server) fenxiaoProductsGet(c *call) (obj, *apiErr) {
	no, size, e := c.page(20, 50)
	if e != nil {
		return nil, e
	}
	pids, e := c.ids("pids", 30)
	if e != nil {
		return nil, e
	}
	status := c.str("status")
	if status != "" && status != "up" && status != "down" {
		return nil, errInvalid("status")
	}
	cat, _, e := c.id("productcat_id")
	if e != nil {
		return nil, e
	}
	from, hasFrom, e := c.timeParam("start_modified")
	if e != nil {
		return nil, e
	}
	to, hasTo, e := c.timeParam("end_modified")
	if e != nil {
		return nil, e
	}
	outer := c.str("outer_id")
	var extra fieldSet // none: fields applies only with pids
	if pids != nil {
		extra = parseFields(c.str("fields"))
	}

	s.mu.RLock()
	defer s.mu.RUnlock()
	var sel []*fxProduct
	if pids != nil {
		for _, pid := range pids {
			if i, ok := s.st.fxIdx[pid]; ok && s.st.fx[i].status != fxDeleted {
				sel = append(sel, &s.st.fx[i])
			}
		}
	} else {
		for i := range s.st.fx {
			p := &s.st.fx[i]
			if p.status != fxDeleted && (outer == "" || p.outerID == outer) && (status == "" || p.status == status) &&
				(cat == 0 || p.catID == cat) && (!hasFrom || p.modified >= from.Unix()) && (!hasTo || p.modified <= to.Unix()) {
				sel = append(sel, p)
			}
		}
	}
	sort.Slice(sel, func(a, b int) bool {
		if sel[a].created != sel[b].created {
			return sel[a].created > sel[b].created
		}
		return sel[a].pid > sel[b].pid
	})
	lo, hi := window(len(sel), no, size)
	out := obj{{"total_results", len(sel)}}
	if hi > lo {
		elems := make([]any, 0, hi-lo)
		for _, p := range sel[lo:hi] {
			elems = append(elems, renderFx(p, extra))
		}
		out = append(out, kv{"products", list{item: "fenxiao_product", elems: elems}})
	}
	return out, nil
}

// fxDeleted is the status of a product deleted with product.update.
const fxDeleted = "delete"

func (s *Server) lookupFx(pid int64) (*fxProduct, *apiErr) {
	i, ok := s.st.fxIdx[pid]
	if !ok || s.st.fx[i].status == fxDeleted {
		return nil, errBiz("isv.product-not-exist", "产品不存在")
	}
	return &s.st.fx[i], nil
}

// fenxiaoProductUpdate: taobao.fenxiao.product.update [326] — pid plus any
// of name, outer_id, desc (answered as description), status (up, down or
// delete; any other value is ignored, as the doc says), quantity (1 to
// 999999; a product with SKUs holds their sum), standard_price,
// cost_price, dealer_cost_price, retail_price_low, retail_price_high, and
// per-SKU lists sku_ids with sku_standard_prices, sku_cost_prices,
// sku_dealer_cost_prices, sku_quantitys, sku_outer_ids (comma-separated,
// aligned). A deleted product is gone: reads and writes answer
// isv.product-not-exist, the channel shelf 50.
func (s *Server) fenxiaoProductUpdate(c *call) (obj, *apiErr) {
	pid, _, e := c.id("pid")
	if e != nil {
		return nil, e
	}
	status := c.str("status")
	if status != "up" && status != "down" && status != fxDeleted {
		status = ""
	}
	prices := map[string]int64{}
	for _, name := range []string{"standard_price", "cost_price", "dealer_cost_price", "retail_price_low", "retail_price_high"} {
		if v := c.str(name); v != "" {
			m, ok := parseMoney(v)
			if !ok || m <= 0 {
				return nil, errInvalid(name)
			}
			prices[name] = m
		}
	}
	qty, e := c.integer("quantity", -1, 1, 999_999)
	if e != nil {
		return nil, e
	}
	skuIDs, e := c.ids("sku_ids", 500)
	if e != nil {
		return nil, e
	}
	lists := map[string][]string{}
	for _, name := range []string{"sku_standard_prices", "sku_cost_prices", "sku_dealer_cost_prices", "sku_quantitys", "sku_outer_ids"} {
		if v := c.str(name); v != "" {
			parts := strings.Split(v, ",")
			if len(parts) != len(skuIDs) {
				return nil, errInvalid(name)
			}
			lists[name] = parts
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	p, e := s.lookupFx(pid)
	if e != nil {
		return nil, e
	}
	// Validate SKU lists before touching anything.
	skus := make([]*fxSKU, len(skuIDs))
	for i, id := range skuIDs {
		for k := range p.skus {
			if p.skus[k].id == id {
				skus[i] = &p.skus[k]
			}
		}
		if skus[i] == nil {
			return nil, errBiz("isv.sku-not-exist", "SKU不存在")
		}
	}
	type set struct {
		list string
		i    int
		v    int64
	}
	var sets []set
	for name, parts := range lists {
		for i, v := range parts {
			v = strings.TrimSpace(v)
			var n int64
			var ok bool
			switch name {
			case "sku_outer_ids":
				continue
			case "sku_quantitys":
				var err error
				n, err = strconv.ParseInt(v, 10, 64)
				ok = err == nil && n >= 0 && n <= 999_999_999
			default:
				n, ok = parseMoney(v)
				ok = ok && n > 0
			}
			if !ok {
				return nil, errInvalid(name)
			}
			sets = append(sets, set{name, i, n})
		}
	}
	if v := c.str("name"); v != "" {
		p.name = v
	}
	if v := c.str("outer_id"); v != "" {
		p.outerID = v
	}
	if v := c.str("desc"); v != "" {
		p.desc = v
	}
	if status != "" {
		p.status = status
	}
	for name, m := range prices {
		switch name {
		case "standard_price":
			p.standard = m
		case "cost_price":
			p.cost = m
		case "dealer_cost_price":
			p.dealer = m
		case "retail_price_low":
			p.retailLow = m
		case "retail_price_high":
			p.retailHigh = m
		}
	}
	for _, st := range sets {
		k := skus[st.i]
		switch st.list {
		case "sku_standard_prices":
			k.standard = st.v
		case "sku_cost_prices":
			k.cost = st.v
		case "sku_dealer_cost_prices":
			k.dealer = st.v
		case "sku_quantitys":
			k.qty = st.v
		}
	}
	for i, v := range lists["sku_outer_ids"] {
		skus[i].outerID = strings.TrimSpace(v)
	}
	if qty >= 0 && len(p.skus) == 0 {
		p.qty = qty
	} else if len(p.skus) > 0 {
		p.qty = fxSKUQty(p)
	}
	p.modified = c.now.Unix()
	c.wrote(strconv.FormatInt(pid, 10))
	return obj{{"pid", p.pid}, {"modified", fmtTime(p.modified)}}, nil
}

func fxSKUQty(p *fxProduct) int64 {
	var n int64
	for _, k := range p.skus {
		n += k.qty
	}
	return n
}

// fenxiaoProductSkuUpdate: taobao.fenxiao.product.sku.update — product_id and
// properties name the SKU; standard_price, agent_cost_price,
// dealer_cost_price, quantity, sku_number (outer id) update it.
func (s *Server) fenxiaoProductSkuUpdate(c *call) (obj, *apiErr) {
	pid, _, e := c.id("product_id")
	if e != nil {
		return nil, e
	}
	props := normProps(c.str("properties"))
	prices := map[string]int64{}
	for _, name := range []string{"standard_price", "agent_cost_price", "dealer_cost_price"} {
		if v := c.str(name); v != "" {
			m, ok := parseMoney(v)
			if !ok || m <= 0 || m > 1_000_000_000_00 {
				return nil, errInvalid(name)
			}
			prices[name] = m
		}
	}
	qty, e := c.integer("quantity", -1, 0, 1_000_000)
	if e != nil {
		return nil, e
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	p, e := s.lookupFx(pid)
	if e != nil {
		return nil, e
	}
	var k *fxSKU
	for i := range p.skus {
		if p.skus[i].props == props {
			k = &p.skus[i]
		}
	}
	if k == nil {
		return nil, errBiz("isv.sku-not-exist", "SKU不存在")
	}
	if m, ok := prices["standard_price"]; ok {
		k.standard = m
	}
	if m, ok := prices["agent_cost_price"]; ok {
		k.cost = m
	}
	if m, ok := prices["dealer_cost_price"]; ok {
		k.dealer = m
	}
	if qty >= 0 {
		k.qty = qty
		p.qty = fxSKUQty(p)
	}
	if v := c.str("sku_number"); v != "" {
		k.outerID = v
	}
	p.modified = c.now.Unix()
	c.wrote(strconv.FormatInt(pid, 10) + ":" + props)
	return obj{{"result", true}, {"created", fmtTime(p.modified)}}, nil
}
