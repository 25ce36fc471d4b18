package sandbox

import (
	"sort"
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
	{"delist_time", func(it *item) any { return fmtTime(it.delistTime()) }},
	{"modified", func(it *item) any { return fmtTime(it.modified) }},
	{"pic_url", func(it *item) any { return it.picURL }},
	{"type", func(it *item) any { return "fixed" }},
	{"props", func(it *item) any { return it.props() }},
	{"valid_thru", func(it *item) any { return 7 }},
	{"has_discount", func(it *item) any { return it.flag(1, 3) }},
	{"has_invoice", func(it *item) any { return true }},
	{"has_warranty", func(it *item) any { return it.flag(2, 2) }},
	{"has_showcase", func(it *item) any { return it.flag(3, 5) }},
	{"postage_id", func(it *item) any { return 8_801_000 + int64(mix(uint64(it.numIID))%3) }},
	{"seller_cids", func(it *item) any { return "," + strconv.FormatInt(1_200_000+it.cid%7, 10) + "," }},
	{"sold_quantity", func(it *item) any { return it.soldQuantity() }},
}

// onsaleFields are the only fields taobao.items.onsale.get answers [18]:
// any other name in fields (sku, skus, desc…) is ignored; the item's full
// data is item.seller.get's.
var onsaleFields = map[string]bool{
	"approve_status": true, "num_iid": true, "title": true, "nick": true, "type": true, "cid": true,
	"pic_url": true, "num": true, "props": true, "valid_thru": true, "list_time": true, "price": true,
	"has_discount": true, "has_invoice": true, "has_warranty": true, "has_showcase": true,
	"modified": true, "delist_time": true, "postage_id": true, "seller_cids": true, "outer_id": true,
	"sold_quantity": true,
}

// delistTime is when the item's current 7-day listing period ends.
func (it *item) delistTime() int64 {
	return it.listTime + 7*86400*((it.modified-it.listTime)/(7*86400)+1)
}

// soldQuantity is the item's (derived) sales count.
func (it *item) soldQuantity() int64 { return int64(mix(uint64(it.numIID)^0x50) % 800) }

// flag is a deterministic boolean of the item: true for 1 in every n items
// (salt picks which).
func (it *item) flag(salt, n uint64) bool { return mix(uint64(it.numIID)^salt)%n == 0 }

// props is the item's key properties: the SKUs' property values, joined.
func (it *item) props() string {
	seen := map[string]bool{}
	var out []string
	for _, k := range it.skus {
		for _, pv := range strings.Split(k.props, ";") {
			if !seen[pv] {
				seen[pv] = true
				out = append(out, pv)
			}
		}
	}
	return strings.Join(out, ";")
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
// "sku.<field>") in fields adds its SKUs unless onsale, where only the
// onsaleFields answer. Call with s.mu held.
func renderItem(it *item, fs fieldSet, onsale bool) obj {
	o := make(obj, 0, len(itemFields)+1)
	for _, f := range itemFields {
		if fs.has(f.name) && (!onsale || onsaleFields[f.name]) {
			o = append(o, kv{f.name, f.get(it)})
		}
	}
	if !onsale && len(it.skus) > 0 && (fs.hasList("sku") || fs.hasList("skus")) {
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
// optional q (title contains) and cid filters; only the onsaleFields, no
// SKUs; ordered by order_by ("list_time:desc", the default, or
// delist_time, num, modified, sold_quantity, each :asc or :desc; ties by
// num_iid the same way).
func (s *Server) itemsOnsaleGet(c *call) (obj, *apiErr) {
	no, size, e := c.page(40, 200)
	if e != nil {
		return nil, e
	}
	cid, _, e := c.id("cid")
	if e != nil {
		return nil, e
	}
	key, e := onsaleOrder(c.str("order_by"))
	if e != nil {
		return nil, e
	}
	q := c.str("q")
	fs := parseFields(c.str("fields"))

	s.mu.RLock()
	defer s.mu.RUnlock()
	items := s.st.items
	sel := make([]*item, 0, len(items))
	for i := range items {
		if (q == "" || strings.Contains(items[i].title, q)) && (cid == 0 || items[i].cid == cid) {
			sel = append(sel, &items[i])
		}
	}
	sort.SliceStable(sel, func(a, b int) bool { return key(sel[a], sel[b]) })
	from, to := window(len(sel), no, size)
	out := obj{{"total_results", len(sel)}}
	if to > from {
		elems := make([]any, 0, to-from)
		for _, it := range sel[from:to] {
			elems = append(elems, renderItem(it, fs, true))
		}
		out = append(out, kv{"items", list{item: "item", elems: elems}})
	}
	return out, nil
}

// onsaleOrder reads items.onsale.get's order_by into a less function.
func onsaleOrder(spec string) (func(a, b *item) bool, *apiErr) {
	if spec == "" {
		spec = "list_time:desc"
	}
	col, dir, _ := strings.Cut(spec, ":")
	var v func(it *item) int64
	switch col {
	case "list_time":
		v = func(it *item) int64 { return it.listTime }
	case "delist_time":
		v = func(it *item) int64 { return it.delistTime() }
	case "num":
		v = (*item).quantity
	case "modified":
		v = func(it *item) int64 { return it.modified }
	case "sold_quantity":
		v = (*item).soldQuantity
	default:
		return nil, errInvalid("order_by")
	}
	desc := dir == "" || dir == "desc"
	if dir != "" && dir != "desc" && dir != "asc" {
		return nil, errInvalid("order_by")
	}
	return func(a, b *item) bool {
		x, y := v(a), v(b)
		if x == y {
			x, y = a.numIID, b.numIID
		}
		if desc {
			return x > y
		}
		return x < y
	}, nil
}

// lookupItem finds num_iid; call with s.mu held.
func (s *Server) lookupItem(numIID int64) (*item, *apiErr) {
	i, ok := s.st.itemIdx[numIID]
	if !ok {
		return nil, errBiz("isv.item-not-exist:invalid-numIid-or-iid", "商品不存在")
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
	return obj{{"item", renderItem(it, parseFields(c.str("fields")), false)}}, nil
}

// itemSkuPriceUpdate: taobao.item.sku.price.update [10928] — num_iid and
// properties name the SKU (there is no sku_id parameter: one given is
// ignored); price, quantity, outer_id and item_price are each optional (a
// quantity-only update is one). The item's price must stay inside the
// range of its SKUs' prices: a SKU price that would leave it outside fails
// unless item_price moves the item price along (and item_price itself must
// fall inside the new range). The doc does not give that error's code: the
// sandbox answers 15 isv.invalid-parameter:price-range (a choice). The
// answer is the doc's: sku with sku_id, iid, num_iid and modified.
func (s *Server) itemSkuPriceUpdate(c *call) (obj, *apiErr) {
	id, _, e := c.id("num_iid")
	if e != nil {
		return nil, e
	}
	props := normProps(c.str("properties"))
	price, hasPrice, e := c.money("price")
	if e != nil {
		return nil, e
	}
	itemPrice, hasItemPrice, e := c.money("item_price")
	if e != nil {
		return nil, e
	}
	qty, e := c.integer("quantity", -1, 0, 999_999_999)
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
	k := it.findProps(props)
	if k == nil {
		return nil, errBiz("isv.invalid-parameter:sku-properties", "SKU属性不存在:"+props)
	}
	newPrice := k.price
	if hasPrice {
		newPrice = price
	}
	newItemPrice := it.price
	if hasItemPrice {
		newItemPrice = itemPrice
	}
	lo, hi := newPrice, newPrice
	for i := range it.skus {
		p := it.skus[i].price
		if &it.skus[i] == k {
			continue
		}
		lo, hi = min(lo, p), max(hi, p)
	}
	if newItemPrice < lo || newItemPrice > hi {
		return nil, errBiz("isv.invalid-parameter:price-range",
			"商品价格"+money(newItemPrice)+"必须在SKU价格区间"+money(lo)+"-"+money(hi)+"内，请同时传入item_price")
	}
	now := c.now.Unix()
	k.price = newPrice
	if qty >= 0 {
		k.qty = qty
	}
	if outer != "" {
		k.outerID = outer
	}
	k.modified = now
	it.price = newItemPrice
	it.modified = now
	c.wrote(strconv.FormatInt(id, 10) + ":" + props)
	return obj{{"sku", obj{
		{"iid", strconv.FormatInt(it.numIID, 10)}, {"num_iid", it.numIID},
		{"modified", fmtTime(now)}, {"sku_id", k.id},
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

// maxSKUQuantities is the most SKUs skus.quantity.update takes a call.
const maxSKUQuantities = 20

// skusQuantityUpdate: taobao.skus.quantity.update [21169] — skuid_quantities
// "sku_id:qty;sku_id:qty" (or, when it is absent, outerid_quantities), at
// most 20 entries (more: 41, a choice of code); type 1 (default) sets, type
// 2 adds, and an addition that would go below zero sets the stock to 0. An
// outer_id shared by several SKUs updates every one of them. All or
// nothing: an entry naming no SKU fails the call.
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
	if len(entries) > maxSKUQuantities {
		return nil, errInvalid(param)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	it, e := s.lookupItem(id)
	if e != nil {
		return nil, e
	}
	// The new stock of each SKU, entries applied in order.
	newQ := map[*sku]int64{}
	var order []*sku
	for _, en := range entries {
		var matched []*sku
		if param == "skuid_quantities" {
			sid, _ := strconv.ParseInt(en.key, 10, 64)
			if k := it.findSKU(sid); k != nil {
				matched = []*sku{k}
			}
		} else {
			for i := range it.skus {
				if it.skus[i].outerID == en.key {
					matched = append(matched, &it.skus[i])
				}
			}
		}
		if len(matched) == 0 {
			return nil, errNoSKU()
		}
		for _, k := range matched {
			cur, seen := newQ[k]
			if !seen {
				cur = k.qty
				order = append(order, k)
			}
			if typ == 2 {
				newQ[k] = max(cur+en.q, 0)
			} else {
				newQ[k] = en.q
			}
		}
	}
	now := c.now.Unix()
	elems := make([]any, 0, len(order))
	for _, k := range order {
		k.qty, k.modified = newQ[k], now
		elems = append(elems, obj{{"sku_id", k.id}, {"quantity", k.qty}, {"modified", fmtTime(now)}})
	}
	it.modified = now
	c.wrote(strconv.FormatInt(id, 10))
	return obj{{"item", obj{{"num_iid", it.numIID}, {"num", it.quantity()}, {"modified", fmtTime(now)},
		{"skus", list{item: "sku", elems: elems}}}}}, nil
}
