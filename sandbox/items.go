package sandbox

import (
	"strconv"
	"strings"
)

type itemField struct {
	name string
	get  func(it *item) any
}

var itemFields = []itemField{
	{"num_iid", func(it *item) any { return it.numIID }},
	{"title", func(it *item) any { return it.title }},
	{"nick", func(it *item) any { return sellerNick }},
	{"cid", func(it *item) any { return it.cid }},
	{"price", func(it *item) any { return money(it.price) }},
	{"num", func(it *item) any { return it.quantity() }},
	{"outer_id", func(it *item) any { return it.outerID }},
	{"approve_status", func(it *item) any { return "onsale" }},
	{"list_time", func(it *item) any { return fmtTime(it.listTime) }},
	{"delist_time", func(it *item) any { return fmtTime(it.listTime + 7*86400*((it.modified-it.listTime)/(7*86400)+1)) }},
	{"modified", func(it *item) any { return fmtTime(it.modified) }},
	{"pic_url", func(it *item) any { return it.picURL }},
}

type skuField struct {
	name string
	get  func(it *item, k *sku) any
}

var skuFields = []skuField{
	{"sku_id", func(it *item, k *sku) any { return k.id }},
	{"properties", func(it *item, k *sku) any { return k.props }},
	{"properties_name", func(it *item, k *sku) any { return k.propsName }},
	{"price", func(it *item, k *sku) any { return money(k.price) }},
	{"quantity", func(it *item, k *sku) any { return k.qty }},
	{"outer_id", func(it *item, k *sku) any { return k.outerID }},
	{"modified", func(it *item, k *sku) any { return fmtTime(k.modified) }},
}

// renderItem renders it with the selected fields; "sku" or "skus" (or
// "sku.<field>") in fields adds its SKUs. Call with s.mu held.
func renderItem(it *item, fs fieldSet) obj {
	o := make(obj, 0, len(itemFields)+1)
	for _, f := range itemFields {
		if fs.has(f.name) {
			o = append(o, kv{f.name, f.get(it)})
		}
	}
	if len(it.skus) > 0 && (fs.hasList("sku") || fs.hasList("skus")) {
		sub := fs.sub("sku")
		if fs.hasList("skus") {
			sub = fs.sub("skus")
		}
		o = append(o, kv{"skus", renderSKUs(it, it.skus, sub)})
	}
	return o
}

func renderSKUs(it *item, skus []sku, fs fieldSet) list {
	elems := make([]any, 0, len(skus))
	for k := range skus {
		so := make(obj, 0, len(skuFields))
		for _, f := range skuFields {
			if fs.has(f.name) {
				so = append(so, kv{f.name, f.get(it, &skus[k])})
			}
		}
		elems = append(elems, so)
	}
	return list{item: "sku", elems: elems}
}

// itemsOnsaleGet: taobao.items.onsale.get — page_size default 40, max 200;
// optional q (title contains) and cid filters.
func (s *Server) itemsOnsaleGet(c *call) (obj, *apiErr) {
	no, size, e := c.page(40, 200)
	if e != nil {
		return nil, e
	}
	cid, _, e := c.id("cid")
	if e != nil {
		return nil, e
	}
	q := c.str("q")
	fs := parseFields(c.str("fields"))

	s.mu.RLock()
	defer s.mu.RUnlock()
	items := s.st.items
	var sel []int
	filtered := q != "" || cid != 0
	if filtered {
		for i := range items {
			if (q == "" || strings.Contains(items[i].title, q)) && (cid == 0 || items[i].cid == cid) {
				sel = append(sel, i)
			}
		}
	}
	n := len(items)
	if filtered {
		n = len(sel)
	}
	from, to := window(n, no, size)
	out := obj{{"total_results", n}}
	if to > from {
		elems := make([]any, 0, to-from)
		for k := from; k < to; k++ {
			i := k
			if filtered {
				i = sel[k]
			}
			elems = append(elems, renderItem(&items[i], fs))
		}
		out = append(out, kv{"items", list{item: "item", elems: elems}})
	}
	return out, nil
}

// lookupItem finds num_iid; call with s.mu held.
func (s *Server) lookupItem(numIID int64) (*item, *apiErr) {
	i, ok := s.st.itemIdx[numIID]
	if !ok {
		return nil, errBiz("isv.item-not-exist", "商品不存在")
	}
	return &s.st.items[i], nil
}

func errNoSKU() *apiErr { return errBiz("isv.sku-not-exist", "SKU不存在") }

// itemSellerGet: taobao.item.seller.get.
func (s *Server) itemSellerGet(c *call) (obj, *apiErr) {
	id, _, e := c.id("num_iid")
	if e != nil {
		return nil, e
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	it, e := s.lookupItem(id)
	if e != nil {
		return nil, e
	}
	return obj{{"item", renderItem(it, parseFields(c.str("fields")))}}, nil
}

// itemSkuPriceUpdate: taobao.item.sku.price.update — sets a SKU's price (and
// optionally quantity, item_price); naming the SKU by properties or sku_id.
func (s *Server) itemSkuPriceUpdate(c *call) (obj, *apiErr) {
	id, _, e := c.id("num_iid")
	if e != nil {
		return nil, e
	}
	skuID, hasSKU, e := c.id("sku_id")
	if e != nil {
		return nil, e
	}
	props := normProps(c.str("properties"))
	if props == "" && !hasSKU {
		return nil, errMissing("properties")
	}
	price, ok := parseMoney(c.str("price"))
	if !ok || price <= 0 {
		return nil, errInvalid("price")
	}
	var itemPrice int64
	if ip := c.str("item_price"); ip != "" {
		if itemPrice, ok = parseMoney(ip); !ok || itemPrice <= 0 {
			return nil, errInvalid("item_price")
		}
	}
	qty, e := c.integer("quantity", -1, 0, 999_999_999)
	if e != nil {
		return nil, e
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	it, e := s.lookupItem(id)
	if e != nil {
		return nil, e
	}
	var k *sku
	if hasSKU {
		k = it.findSKU(skuID)
	} else {
		k = it.findProps(props)
	}
	if k == nil || (props != "" && k.props != props) {
		return nil, errNoSKU()
	}
	now := c.now.Unix()
	k.price = price
	if qty >= 0 {
		k.qty = qty
	}
	k.modified = now
	if itemPrice > 0 {
		it.price = itemPrice
	} else {
		it.price = minSKUPrice(it.skus)
	}
	it.modified = now
	key := strconv.FormatInt(id, 10) + ":"
	if props != "" {
		key += props
	} else {
		key += strconv.FormatInt(skuID, 10)
	}
	c.wrote(key)
	return obj{{"sku", obj{
		{"sku_id", k.id}, {"num_iid", it.numIID}, {"properties", k.props},
		{"price", money(k.price)}, {"quantity", k.qty}, {"modified", fmtTime(now)},
	}}}, nil
}

// applyQty applies a full (type 1) or incremental (type 2) quantity.
func applyQty(cur, q, typ int64) (int64, *apiErr) {
	if typ == 2 {
		q += cur
	}
	if q < 0 {
		return 0, errBiz("isv.invalid-parameter", "库存数量不能小于0")
	}
	return q, nil
}

// itemQuantityUpdate: taobao.item.quantity.update — type 1 (default) sets,
// type 2 adds; an item with SKUs needs sku_id or outer_id.
func (s *Server) itemQuantityUpdate(c *call) (obj, *apiErr) {
	id, _, e := c.id("num_iid")
	if e != nil {
		return nil, e
	}
	skuID, hasSKU, e := c.id("sku_id")
	if e != nil {
		return nil, e
	}
	typ, e := c.integer("type", 1, 1, 2)
	if e != nil {
		return nil, e
	}
	lo := int64(0)
	if typ == 2 {
		lo = -999_999_999
	}
	q, e := c.integer("quantity", 0, lo, 999_999_999)
	if e != nil {
		return nil, e
	}
	outer := c.str("outer_id")

	s.mu.Lock()
	defer s.mu.Unlock()
	it, e := s.lookupItem(id)
	if e != nil {
		return nil, e
	}
	now := c.now.Unix()
	out := obj{{"num_iid", it.numIID}}
	if hasSKU || outer != "" {
		var k *sku
		if hasSKU {
			k = it.findSKU(skuID)
		} else {
			k = it.findOuter(outer)
		}
		if k == nil {
			return nil, errNoSKU()
		}
		nq, e := applyQty(k.qty, q, typ)
		if e != nil {
			return nil, e
		}
		k.qty, k.modified = nq, now
		out = append(out, kv{"num", it.quantity()}, kv{"modified", fmtTime(now)},
			kv{"skus", list{item: "sku", elems: []any{obj{{"sku_id", k.id}, {"quantity", k.qty}, {"modified", fmtTime(now)}}}}})
	} else {
		if len(it.skus) > 0 {
			return nil, errBiz("isv.invalid-parameter", "该商品有SKU，请指定sku_id或outer_id")
		}
		nq, e := applyQty(it.num, q, typ)
		if e != nil {
			return nil, e
		}
		it.num = nq
		out = append(out, kv{"num", it.num}, kv{"modified", fmtTime(now)})
	}
	it.modified = now
	c.wrote(strconv.FormatInt(id, 10))
	return obj{{"item", out}}, nil
}

// skusQuantityUpdate: taobao.skus.quantity.update — skuid_quantities
// "sku_id:qty;sku_id:qty" (or outerid_quantities), type 1 full / 2 delta;
// all or nothing.
func (s *Server) skusQuantityUpdate(c *call) (obj, *apiErr) {
	id, _, e := c.id("num_iid")
	if e != nil {
		return nil, e
	}
	typ, e := c.integer("type", 1, 1, 2)
	if e != nil {
		return nil, e
	}
	param := "skuid_quantities"
	spec := c.str(param)
	if spec == "" {
		param = "outerid_quantities"
		spec = c.str(param)
	}
	if spec == "" {
		return nil, errMissing("skuid_quantities")
	}
	type entry struct {
		key string
		q   int64
	}
	var entries []entry
	for _, pair := range strings.Split(strings.TrimSuffix(spec, ";"), ";") {
		k, v, ok := strings.Cut(pair, ":")
		k = strings.TrimSpace(k)
		q, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if !ok || k == "" || err != nil || q > 999_999_999 || q < -999_999_999 || (typ == 1 && q < 0) {
			return nil, errInvalid(param)
		}
		if param == "skuid_quantities" && !allDigits(k) {
			return nil, errInvalid(param)
		}
		entries = append(entries, entry{k, q})
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	it, e := s.lookupItem(id)
	if e != nil {
		return nil, e
	}
	skus := make([]*sku, len(entries))
	newQ := make([]int64, len(entries))
	for i, en := range entries {
		if param == "skuid_quantities" {
			sid, _ := strconv.ParseInt(en.key, 10, 64)
			skus[i] = it.findSKU(sid)
		} else {
			skus[i] = it.findOuter(en.key)
		}
		if skus[i] == nil {
			return nil, errNoSKU()
		}
		if newQ[i], e = applyQty(skus[i].qty, en.q, typ); e != nil {
			return nil, e
		}
	}
	now := c.now.Unix()
	elems := make([]any, 0, len(skus))
	for i, k := range skus {
		k.qty, k.modified = newQ[i], now
		elems = append(elems, obj{{"sku_id", k.id}, {"quantity", k.qty}, {"modified", fmtTime(now)}})
	}
	it.modified = now
	c.wrote(strconv.FormatInt(id, 10))
	return obj{{"item", obj{{"num_iid", it.numIID}, {"num", it.quantity()}, {"modified", fmtTime(now)},
		{"skus", list{item: "sku", elems: elems}}}}}, nil
}
