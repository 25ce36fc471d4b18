package sandbox

import (
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Trades are never stored: trade i (0 <= i < n) is derived on demand from
// (seed, i), and trades are laid out by creation time so that i grows with
// created. A million trades cost no memory and no start-up time; queries that
// filter or sort by modified time materialise a list of indexes (4 bytes a
// trade), cached per query.

const (
	tidBase   int64 = 3_612_345_000_000_000_000 // 19-digit tids
	tidStride int64 = 100_000
	// maxModifiedDelay bounds modified-created, so a modified-time window only
	// scans trades created up to this much earlier.
	maxModifiedDelay int64 = 3 * 86400
)

// Trade statuses.
const (
	stWaitPay     = "WAIT_BUYER_PAY"
	stWaitSend    = "WAIT_SELLER_SEND_GOODS"
	stWaitConfirm = "WAIT_BUYER_CONFIRM_GOODS"
	stFinished    = "TRADE_FINISHED"
	stClosed      = "TRADE_CLOSED"
	stClosedByTB  = "TRADE_CLOSED_BY_TAOBAO"
)

// tradeStatuses maps a status filter of trades.sold.get to the statuses
// it selects (nil: none of the generated trades). Built on first use.
var tradeStatuses = sync.OnceValue(func() map[string][]string {
	return map[string][]string{
		"TRADE_NO_CREATE_PAY":               nil,
		stWaitPay:                           {stWaitPay},
		stWaitSend:                          {stWaitSend},
		"SELLER_CONSIGNED_PART":             nil,
		stWaitConfirm:                       {stWaitConfirm},
		"TRADE_BUYER_SIGNED":                nil,
		stFinished:                          {stFinished},
		stClosed:                            {stClosed},
		stClosedByTB:                        {stClosedByTB},
		"PAY_PENDING":                       nil,
		"WAIT_PRE_AUTH_CONFIRM":             nil,
		"PAID_FORBID_CONSIGN":               nil,
		"ALL_WAIT_PAY":                      {stWaitPay},
		"ALL_CLOSED":                        {stClosed, stClosedByTB},
		"WAIT_BUYER_CONFIRM_GOODS_ACOUNTED": nil,
	}
})

type tradeStore struct {
	n     int
	seed  uint64
	start int64   // created of trade 0 is >= start
	step  float64 // seconds between consecutive trades
	now   int64   // no trade is created or modified after now
	items []item  // seed items (immutable) for orders
	cache queryCache
	ov    overlay // trades changed or created by churn (churn.go)
	// idShift is added to every tid (and so oid): the trades of another
	// shop of the app (shops.go).
	idShift int64
}

func newTradeStore(n int, seed int64, base time.Time, items []item) *tradeStore {
	now := base.Unix()
	span := int64(tradeWindow / time.Second)
	t := &tradeStore{n: n, seed: mix(uint64(seed)), start: now - span, now: now, items: items,
		ov: overlay{trades: map[int]*tradeState{}}}
	if n > 0 {
		t.step = float64(span-600) / float64(n) // the newest trade is >= 10 min old
	}
	return t
}

func (t *tradeStore) h(i int, salt uint64) uint64 {
	return mix(t.seed ^ (uint64(i)*0x100000001b3 + salt*0x9e3779b97f4a7c15))
}

func (t *tradeStore) created(i int) int64 {
	if i >= t.n {
		st, _ := t.overlaid(i)
		return st.created
	}
	u := float64(t.h(i, 1)>>11) / (1 << 53)
	return t.start + int64((float64(i)+u)*t.step)
}

func (t *tradeStore) tid(i int) int64 {
	return tidBase + t.idShift + int64(i)*tidStride + int64(t.h(i, 0)%uint64(tidStride-10))
}

// index finds the trade of tid.
func (t *tradeStore) index(tid int64) (int, bool) {
	if tid < tidBase+t.idShift {
		return 0, false
	}
	i := (tid - tidBase - t.idShift) / tidStride
	if i >= int64(t.count()) || t.tid(int(i)) != tid {
		return 0, false
	}
	return int(i), true
}

// tcore is what filters need: cheap to derive.
type tcore struct {
	i        int
	created  int64
	modified int64
	status   string
	typ      string
}

func (t *tradeStore) core(i int) tcore {
	if st, ok := t.overlaid(i); ok {
		return st.tcore
	}
	c := tcore{i: i, created: t.created(i)}
	age := t.now - c.created
	r := t.h(i, 2) % 100
	switch {
	case age < 86400:
		switch {
		case r < 10:
			c.status = stWaitPay
		case r < 60:
			c.status = stWaitSend
		case r < 85:
			c.status = stWaitConfirm
		case r < 95:
			c.status = stClosedByTB
		default:
			c.status = stClosed
		}
	case age < 15*86400:
		switch {
		case r < 30:
			c.status = stWaitConfirm
		case r < 85:
			c.status = stFinished
		case r < 95:
			c.status = stClosed
		default:
			c.status = stClosedByTB
		}
	default:
		switch {
		case r < 85:
			c.status = stFinished
		case r < 95:
			c.status = stClosed
		default:
			c.status = stClosedByTB
		}
	}
	span := maxModifiedDelay
	if c.status == stWaitPay || c.status == stClosedByTB {
		span = 1800
	}
	if left := t.now - c.created - 60; left < span {
		span = left
	}
	c.modified = c.created
	if span > 0 {
		c.modified += 60 + int64(t.h(i, 3)%uint64(span))
	}
	c.typ = t.typeOf(i)
	return c
}

// tradeQuery selects trades.
type tradeQuery struct {
	byModified bool  // window on modified (increment) or created
	from, to   int64 // inclusive unix seconds
	statuses   []string
	types      map[string]bool
	buyer      string
}

func (q *tradeQuery) key() string {
	b := make([]byte, 0, 64)
	if q.byModified {
		b = append(b, 'm')
	}
	b = strconv.AppendInt(b, q.from, 10)
	b = append(b, '-')
	b = strconv.AppendInt(b, q.to, 10)
	b = append(b, '|')
	for _, s := range q.statuses {
		b = append(b, s...)
		b = append(b, ',')
	}
	tys := make([]string, 0, len(q.types))
	for ty := range q.types {
		tys = append(tys, ty)
	}
	sort.Strings(tys)
	for _, ty := range tys {
		b = append(b, '#')
		b = append(b, ty...)
	}
	b = append(b, '@')
	b = append(b, q.buyer...)
	return string(b)
}

// filtered reports whether q needs a scan: a status or buyer filter, or
// types that select the generated trades irregularly (see selection).
func (q *tradeQuery) filtered() bool {
	return q.statuses != nil || q.buyer != "" || selection(q.types) == typesSome
}

func (q *tradeQuery) match(t *tradeStore, c tcore) bool {
	if q.byModified && (c.modified < q.from || c.modified > q.to) {
		return false
	}
	if !q.byModified && (c.created < q.from || c.created > q.to) {
		return false
	}
	if q.statuses != nil {
		ok := false
		for _, s := range q.statuses {
			if s == c.status {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	if q.types != nil && !q.types[c.typ] {
		return false
	}
	if q.buyer != "" && t.buyerNick(c.i) != q.buyer {
		return false
	}
	return true
}

// createdRange is the index range [lo, hi) of trades created in [from, to].
func (t *tradeStore) createdRange(from, to int64) (int, int) {
	n := t.count()
	lo := sort.Search(n, func(i int) bool { return t.created(i) >= from })
	hi := sort.Search(n, func(i int) bool { return t.created(i) > to })
	if hi < lo {
		hi = lo
	}
	return lo, hi
}

// resultSet is the ordered answer of a query.
type resultSet struct {
	lo, hi int     // a plain created range, newest first (idx == nil)
	skip   bool    // ... less the trades of types the default query leaves out
	idx    []int32 // else these trades in this order
}

func (r resultSet) len() int {
	switch {
	case r.idx != nil:
		return len(r.idx)
	case r.skip:
		return defaultRank(r.hi) - defaultRank(r.lo)
	}
	return r.hi - r.lo
}

func (r resultSet) at(k int) int {
	switch {
	case r.idx != nil:
		return int(r.idx[k])
	case r.skip:
		return defaultIndex(defaultRank(r.hi) - 1 - k)
	}
	return r.hi - 1 - k
}

// find runs q: created windows newest first; modified windows newest
// modification first (then the higher index first), as the doc of
// increment.get says — so trades that change while a caller pages move to
// the front, and paging backwards from the last page misses none.
func (t *tradeStore) find(q *tradeQuery) resultSet {
	if !q.byModified && !q.filtered() {
		lo, hi := t.createdRange(q.from, q.to)
		return resultSet{lo: lo, hi: hi, skip: selection(q.types) == typesDefault}
	}
	from := q.from
	if q.byModified {
		from -= maxModifiedDelay + 60
	}
	lo, hi := t.createdRange(from, q.to)
	// Created windows are keyed by the trades they span, so a window that
	// slides with the clock still hits the cache.
	key := q.key()
	if !q.byModified {
		key = "c" + strconv.Itoa(lo) + "-" + strconv.Itoa(hi) + key[strings.IndexByte(key, '|'):]
	}
	if idx, ok := t.cache.get(key); ok {
		return resultSet{idx: idx}
	}
	idx := make([]int32, 0, 64)
	var mods []int64
	for i := lo; i < hi; i++ {
		c := t.core(i)
		if q.match(t, c) {
			idx = append(idx, int32(i))
			if q.byModified {
				mods = append(mods, c.modified)
			}
		}
	}
	if q.byModified {
		sort.Sort(sort.Reverse(byModified{idx, mods}))
	} else {
		for a, b := 0, len(idx)-1; a < b; a, b = a+1, b-1 {
			idx[a], idx[b] = idx[b], idx[a]
		}
	}
	t.cache.put(key, idx)
	return resultSet{idx: idx}
}

type byModified struct {
	idx  []int32
	mods []int64
}

func (b byModified) Len() int { return len(b.idx) }
func (b byModified) Less(i, j int) bool {
	if b.mods[i] != b.mods[j] {
		return b.mods[i] < b.mods[j]
	}
	return b.idx[i] < b.idx[j]
}
func (b byModified) Swap(i, j int) {
	b.idx[i], b.idx[j] = b.idx[j], b.idx[i]
	b.mods[i], b.mods[j] = b.mods[j], b.mods[i]
}

// queryCache keeps the index lists of the latest queries.
type queryCache struct {
	mu      sync.Mutex
	entries []cacheEntry
}

type cacheEntry struct {
	key string
	idx []int32
}

const cacheSize = 16

func (c *queryCache) get(key string) ([]int32, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, e := range c.entries {
		if e.key == key {
			// move to front
			copy(c.entries[1:i+1], c.entries[:i])
			c.entries[0] = e
			return e.idx, true
		}
	}
	return nil, false
}

func (c *queryCache) put(key string, idx []int32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) < cacheSize {
		c.entries = append(c.entries, cacheEntry{})
	}
	copy(c.entries[1:], c.entries[:len(c.entries)-1])
	c.entries[0] = cacheEntry{key, idx}
}

func (t *tradeStore) buyerNick(i int) string {
	b := int(t.h(i, 5) % numBuyers)
	return surnames[b%len(surnames)] + buyerTags[(b/10)%len(buyerTags)] + "买家" + strconv.Itoa(100+b)
}

// receiverName is the receiver of trade i (the buyer's surname).
func (t *tradeStore) receiverName(i int) string {
	return surnames[int(t.h(i, 5)%numBuyers)%len(surnames)] + "先生"
}

// tradeView is a fully derived trade.
type tradeView struct {
	tcore
	tid      int64
	buyer    string
	orders   []orderView
	postFee  int64
	discount int64
	total    int64
	payment  int64
	num      int64
	payTime  int64
	consign  int64
	endTime  int64
	addr     int
	mobile   string
	receiver string
	refund   string // orders' refund_status when churn set one
}

type orderView struct {
	oid      int64
	item     *item
	sku      *sku
	price    int64
	num      int64
	total    int64
	discount int64
	payment  int64
}

func (t *tradeStore) view(i int) *tradeView {
	v := &tradeView{tcore: t.core(i), tid: t.tid(i), buyer: t.buyerNick(i), receiver: t.receiverName(i)}
	h := t.h(i, 6)
	no := 1
	switch r := h % 10; {
	case r >= 9:
		no = 3
	case r >= 7:
		no = 2
	}
	for j := 0; j < no; j++ {
		hj := t.h(i, uint64(10+j))
		it := &t.items[hj%uint64(len(t.items))]
		o := orderView{oid: v.tid + 1 + int64(j), item: it, price: it.price, num: 1 + int64((hj>>20)%3)}
		if len(it.skus) > 0 {
			o.sku = &it.skus[(hj>>8)%uint64(len(it.skus))]
			o.price = o.sku.price
		}
		if no == 1 {
			o.oid = v.tid
		}
		o.total = o.price * o.num
		if (hj>>32)%4 == 0 {
			o.discount = o.total / 10
		}
		o.payment = o.total - o.discount
		v.total += o.total
		v.discount += o.discount
		v.payment += o.payment
		v.num += o.num
		v.orders = append(v.orders, o)
	}
	if (h>>16)%3 == 0 {
		v.postFee = 1000
	}
	v.payment += v.postFee
	if v.status != stWaitPay && v.status != stClosedByTB {
		v.payTime = v.created + 30 + int64((h>>24)%600)
		if v.payTime > v.modified {
			v.payTime = v.modified
		}
	}
	if v.status == stWaitConfirm || v.status == stFinished {
		v.consign = v.payTime + (v.modified-v.payTime)/3
	}
	if v.status == stFinished || v.status == stClosed || v.status == stClosedByTB {
		v.endTime = v.modified
	}
	v.addr = int((h >> 40) % uint64(len(provinces)))
	v.mobile = "1" + strconv.FormatInt(3_000_000_000+int64((h>>8)%6_999_999_999), 10)
	t.overlayView(v)
	return v
}

type tradeField struct {
	name string
	get  func(v *tradeView) any // nil result: field absent
}

func optTime(u int64) any {
	if u == 0 {
		return nil
	}
	return fmtTime(u)
}

var tradeFields = []tradeField{
	{"tid", func(v *tradeView) any { return v.tid }},
	{"tid_str", func(v *tradeView) any { return strconv.FormatInt(v.tid, 10) }},
	{"status", func(v *tradeView) any { return v.status }},
	{"type", func(v *tradeView) any { return v.typ }},
	{"seller_nick", func(v *tradeView) any { return sellerNick }},
	{"buyer_nick", func(v *tradeView) any { return v.buyer }},
	{"title", func(v *tradeView) any { return v.orders[0].item.title }},
	{"num_iid", func(v *tradeView) any { return v.orders[0].item.numIID }},
	{"num", func(v *tradeView) any { return v.num }},
	{"price", func(v *tradeView) any { return money(v.orders[0].price) }},
	{"total_fee", func(v *tradeView) any { return money(v.total) }},
	{"discount_fee", func(v *tradeView) any { return money(v.discount) }},
	{"post_fee", func(v *tradeView) any { return money(v.postFee) }},
	{"payment", func(v *tradeView) any { return money(v.payment) }},
	{"created", func(v *tradeView) any { return fmtTime(v.created) }},
	{"modified", func(v *tradeView) any { return fmtTime(v.modified) }},
	{"pay_time", func(v *tradeView) any { return optTime(v.payTime) }},
	{"consign_time", func(v *tradeView) any { return optTime(v.consign) }},
	{"end_time", func(v *tradeView) any { return optTime(v.endTime) }},
	{"receiver_name", func(v *tradeView) any { return v.receiver }},
	{"receiver_state", func(v *tradeView) any { return provinces[v.addr].state }},
	{"receiver_city", func(v *tradeView) any { return provinces[v.addr].city }},
	{"receiver_district", func(v *tradeView) any { return provinces[v.addr].district }},
	{"receiver_address", func(v *tradeView) any {
		return provinces[v.addr].district + "沙箱路" + strconv.Itoa(1+v.i%200) + "号"
	}},
	{"receiver_zip", func(v *tradeView) any { return "310000" }},
	{"receiver_mobile", func(v *tradeView) any { return v.mobile }},
}

type orderField struct {
	name string
	get  func(v *tradeView, o *orderView) any
}

var orderFields = []orderField{
	{"oid", func(v *tradeView, o *orderView) any { return o.oid }},
	{"oid_str", func(v *tradeView, o *orderView) any { return strconv.FormatInt(o.oid, 10) }},
	{"status", func(v *tradeView, o *orderView) any { return v.status }},
	{"title", func(v *tradeView, o *orderView) any { return o.item.title }},
	{"num_iid", func(v *tradeView, o *orderView) any { return o.item.numIID }},
	{"sku_id", func(v *tradeView, o *orderView) any {
		if o.sku == nil {
			return nil
		}
		return strconv.FormatInt(o.sku.id, 10) // a String in the doc's Order
	}},
	{"sku_properties_name", func(v *tradeView, o *orderView) any {
		if o.sku == nil {
			return nil
		}
		return o.sku.propsName
	}},
	{"outer_iid", func(v *tradeView, o *orderView) any { return o.item.outerID }},
	{"outer_sku_id", func(v *tradeView, o *orderView) any {
		if o.sku == nil {
			return nil
		}
		return o.sku.outerID
	}},
	{"price", func(v *tradeView, o *orderView) any { return money(o.price) }},
	{"num", func(v *tradeView, o *orderView) any { return o.num }},
	{"total_fee", func(v *tradeView, o *orderView) any { return money(o.total) }},
	{"discount_fee", func(v *tradeView, o *orderView) any { return money(o.discount) }},
	{"payment", func(v *tradeView, o *orderView) any { return money(o.payment) }},
	{"refund_status", func(v *tradeView, o *orderView) any { return v.refundStatus() }},
	{"pic_path", func(v *tradeView, o *orderView) any { return o.item.picURL }},
}

// strIDFields are documented for taobao.trade.fullinfo.get only: the
// lists of sold.get and increment.get leave them out even when asked.
var strIDFields = map[string]bool{"tid_str": true, "oid_str": true}

// render renders trade i with the selected fields; strIDs adds tid_str and
// oid_str when selected (fullinfo.get).
func (t *tradeStore) render(i int, fs fieldSet, strIDs bool) obj {
	v := t.view(i)
	o := make(obj, 0, 16)
	for _, f := range tradeFields {
		if fs.has(f.name) && (strIDs || !strIDFields[f.name]) {
			if x := f.get(v); x != nil {
				o = append(o, kv{f.name, x})
			}
		}
	}
	if fs.hasList("orders") {
		sub := fs.sub("orders")
		elems := make([]any, 0, len(v.orders))
		for k := range v.orders {
			ord := &v.orders[k]
			oo := make(obj, 0, len(orderFields))
			for _, f := range orderFields {
				if sub.has(f.name) && (strIDs || !strIDFields[f.name]) {
					if x := f.get(v, ord); x != nil {
						oo = append(oo, kv{f.name, x})
					}
				}
			}
			elems = append(elems, oo)
		}
		o = append(o, kv{"orders", list{item: "order", elems: elems}})
	}
	return o
}
