package sandbox

import (
	"fmt"
	"math/rand"
	"strconv"
	"strings"
	"time"

	"github.com/topscript/topscript/toptime"
)

// Seed data shape. Everything is derived from Options.Seed and the server's
// start time (Options.Now at New), so equal options give equal data.
const (
	numItems    = DefaultItems // seller's items on sale by default, num_iid 12 digits
	numFenxiao  = 60           // distribution products, pid 10 digits
	sellerNick  = "topscript沙箱旗舰店"
	noSKUEvery  = 10 // every 10th item has no SKUs
	numBuyers   = 997
	tradeWindow = 89 * 24 * time.Hour // trades are created over the last ~3 months
)

// sku of an item; prices in cents.
type sku struct {
	id        int64
	props     string // "1627207:28320;20509:28315"
	propsName string // "1627207:28320:颜色分类:白色;20509:28315:尺码:M"
	price     int64
	qty       int64
	outerID   string
	modified  int64
}

// item on sale.
type item struct {
	numIID   int64
	title    string
	outerID  string
	cid      int64
	price    int64 // cents
	num      int64 // quantity of an item without SKUs
	skus     []sku
	listTime int64
	modified int64
	picURL   string
}

// cloneItems copies items and their SKUs, so that changes to one copy
// leave the other as it was.
func cloneItems(items []item) []item {
	out := make([]item, len(items))
	for i, it := range items {
		it.skus = append([]sku(nil), it.skus...)
		out[i] = it
	}
	return out
}

// quantity is the item's total stock.
func (it *item) quantity() int64 {
	if len(it.skus) == 0 {
		return it.num
	}
	var n int64
	for i := range it.skus {
		n += it.skus[i].qty
	}
	return n
}

func (it *item) findSKU(id int64) *sku {
	for i := range it.skus {
		if it.skus[i].id == id {
			return &it.skus[i]
		}
	}
	return nil
}

func (it *item) findProps(props string) *sku {
	props = normProps(props)
	for i := range it.skus {
		if it.skus[i].props == props {
			return &it.skus[i]
		}
	}
	return nil
}

func (it *item) findOuter(outer string) *sku {
	for i := range it.skus {
		if it.skus[i].outerID == outer {
			return &it.skus[i]
		}
	}
	return nil
}

// normProps trims blanks around a properties string ("pid:vid;pid:vid").
func normProps(p string) string {
	p = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(p), ";"))
	if !strings.ContainsAny(p, " \t") {
		return p
	}
	return strings.Join(strings.Fields(p), "")
}

// fxSKU is a distribution product's SKU.
type fxSKU struct {
	id       int64
	outerID  string
	props    string
	name     string
	qty      int64
	standard int64
	cost     int64
	dealer   int64
}

// fxProduct is a distribution (fenxiao) product.
type fxProduct struct {
	pid        int64
	name       string
	outerID    string
	standard   int64
	cost       int64
	dealer     int64
	retailLow  int64
	retailHigh int64
	qty        int64
	status     string // up, down
	desc       string
	catID      int64
	itemID     int64
	created    int64
	modified   int64
	skus       []fxSKU
}

// activity is an opentrade activity (taobao.opentrade.activity.sync).
type activity struct {
	id, name, start, end, itemIDs, appKey, modified string
}

// state is the mutable seller data, guarded by Server.mu.
type state struct {
	items      []item
	itemIdx    map[int64]int
	fx         []fxProduct
	fxIdx      map[int64]int
	activities map[string]*activity
}

var (
	colors = []struct {
		vid  int
		name string
	}{{28320, "白色"}, {28341, "黑色"}, {28326, "红色"}, {28338, "蓝色"}, {28332, "浅灰色"}, {28335, "绿色"}}
	sizes = []struct {
		vid  int
		name string
	}{{28314, "S"}, {28315, "M"}, {28316, "L"}, {28317, "XL"}, {28318, "XXL"}}
	goods     = []string{"纯棉T恤", "连帽卫衣", "牛仔裤", "运动鞋", "双肩包", "保温杯", "羽绒服", "针织衫", "休闲裤", "帆布鞋", "棒球帽", "围巾"}
	adjective = []string{"新款", "经典", "加厚", "宽松", "修身", "潮流", "简约", "复古"}
	surnames  = []string{"王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴"}
	buyerTags = []string{"小", "大", "阿", "老"}
	provinces = []struct{ state, city, district string }{
		{"浙江省", "杭州市", "西湖区"}, {"上海", "上海市", "浦东新区"}, {"北京", "北京市", "朝阳区"},
		{"广东省", "深圳市", "南山区"}, {"江苏省", "南京市", "鼓楼区"}, {"四川省", "成都市", "武侯区"},
	}
)

// genState builds the seed data: items items on sale (the same first items
// whatever their number), then the distribution products and activities.
func genState(seed int64, base time.Time, items int) *state {
	rng := rand.New(rand.NewSource(seed))
	st := &state{
		itemIdx:    make(map[int64]int, items),
		fxIdx:      make(map[int64]int, numFenxiao),
		activities: map[string]*activity{},
	}
	now := base.Unix()
	skuSeq := int64(4_100_000_000_000) + rng.Int63n(1_000_000)*1000
	for i := 0; i < items; i++ {
		it := item{
			numIID:   600_000_000_000 + int64(i)*1_000_003 + rng.Int63n(1_000_000),
			title:    adjective[rng.Intn(len(adjective))] + goods[rng.Intn(len(goods))] + " " + strconv.Itoa(2024+rng.Intn(2)) + "款" + strconv.Itoa(i+1),
			outerID:  fmt.Sprintf("SP%05d", i+1),
			cid:      50000436 + int64(rng.Intn(40)),
			listTime: now - int64(rng.Intn(200*86400)) - 86400,
			picURL:   fmt.Sprintf("https://img.alicdn.com/bao/uploaded/i%d/sandbox_%d.jpg", 1+rng.Intn(4), i+1),
		}
		it.modified = it.listTime + int64(rng.Intn(86400*30))
		if it.modified > now {
			it.modified = now - 60
		}
		basePrice := int64(990 + rng.Intn(400)*50) // 9.90 .. 209.40
		if i%noSKUEvery == noSKUEvery-1 {
			it.price = basePrice
			it.num = int64(rng.Intn(500))
		} else {
			nc := 1 + rng.Intn(3)
			ns := 1 + rng.Intn(3)
			c0 := rng.Intn(len(colors))
			s0 := rng.Intn(len(sizes) - ns + 1)
			for c := 0; c < nc; c++ {
				col := colors[(c0+c)%len(colors)]
				for z := 0; z < ns; z++ {
					sz := sizes[s0+z]
					skuSeq += 1 + rng.Int63n(997)
					k := sku{
						id:        skuSeq,
						props:     fmt.Sprintf("1627207:%d;20509:%d", col.vid, sz.vid),
						propsName: fmt.Sprintf("1627207:%d:颜色分类:%s;20509:%d:尺码:%s", col.vid, col.name, sz.vid, sz.name),
						price:     basePrice + int64(z)*500,
						qty:       int64(rng.Intn(300)),
						outerID:   fmt.Sprintf("SP%05d-%d%d", i+1, c+1, z+1),
						modified:  it.modified,
					}
					it.skus = append(it.skus, k)
				}
			}
			it.price = minSKUPrice(it.skus)
		}
		st.itemIdx[it.numIID] = len(st.items)
		st.items = append(st.items, it)
	}

	fxSkuSeq := int64(21_000_000_000) + rng.Int63n(1_000_000)*100
	for i := 0; i < numFenxiao; i++ {
		std := int64(1990 + rng.Intn(300)*100)
		p := fxProduct{
			pid:      3_100_000_000 + int64(i)*1_009 + rng.Int63n(1000),
			name:     "分销" + goods[rng.Intn(len(goods))] + " " + strconv.Itoa(i+1) + "号",
			outerID:  fmt.Sprintf("FX%04d", i+1),
			standard: std,
			cost:     std * 6 / 10,
			dealer:   std * 5 / 10,
			status:   "up",
			desc:     "沙箱分销产品",
			catID:    int64(1_000_000 + rng.Intn(50)),
			created:  now - int64(100+rng.Intn(300))*86400 - int64(rng.Intn(86400)),
		}
		if i%7 == 6 {
			p.status = "down"
		}
		p.retailLow, p.retailHigh = std*9/10, std*13/10
		p.itemID = st.items[i*3%items].numIID
		p.modified = p.created + int64(rng.Intn(90*86400))
		if p.modified > now {
			p.modified = now - 3600
		}
		ns := 1 + rng.Intn(4)
		c0 := rng.Intn(len(colors))
		for z := 0; z < ns; z++ {
			col := colors[(c0+z)%len(colors)]
			fxSkuSeq += 1 + rng.Int63n(97)
			q := int64(rng.Intn(1000))
			p.skus = append(p.skus, fxSKU{
				id:       fxSkuSeq,
				outerID:  fmt.Sprintf("FX%04d-%d", i+1, z+1),
				props:    fmt.Sprintf("1627207:%d", col.vid),
				name:     "颜色分类:" + col.name,
				qty:      q,
				standard: std,
				cost:     p.cost,
				dealer:   p.dealer,
			})
			p.qty += q
		}
		st.fxIdx[p.pid] = len(st.fx)
		st.fx = append(st.fx, p)
	}

	for i := 0; i < 3; i++ {
		start := base.Add(time.Duration(7*(i+1)) * 24 * time.Hour).Truncate(time.Hour)
		ids := make([]string, 0, 5)
		for j := 0; j < 5; j++ {
			ids = append(ids, strconv.FormatInt(st.items[rng.Intn(items)].numIID, 10))
		}
		a := &activity{
			id:       strconv.Itoa(2131 + i),
			name:     []string{"会员优先购", "新品首发", "限量抢购"}[i],
			start:    toptime.Format(start),
			end:      start.Add(72 * time.Hour).In(toptime.Zone).Format(toptime.Layout),
			itemIDs:  strings.Join(ids, ","),
			modified: base.Add(-time.Duration(i+1) * 24 * time.Hour).In(toptime.Zone).Format(toptime.Layout),
		}
		st.activities[a.id] = a
	}
	return st
}

func minSKUPrice(skus []sku) int64 {
	m := skus[0].price
	for _, k := range skus[1:] {
		if k.price < m {
			m = k.price
		}
	}
	return m
}

// money renders cents as "12.50".
func money(cents int64) string {
	neg := cents < 0
	if neg {
		cents = -cents
	}
	b := make([]byte, 0, 12)
	if neg {
		b = append(b, '-')
	}
	b = strconv.AppendInt(b, cents/100, 10)
	b = append(b, '.')
	c := cents % 100
	b = append(b, byte('0'+c/10), byte('0'+c%10))
	return string(b)
}

// parseMoney parses "12", "12.5" or "12.50" into cents; at most two decimals,
// at most 100,000,000.00.
func parseMoney(s string) (int64, bool) {
	s = strings.TrimSpace(s)
	whole, frac, hasDot := strings.Cut(s, ".")
	if !allDigits(whole) || len(whole) > 9 || (hasDot && (len(frac) == 0 || len(frac) > 2 || !allDigits(frac))) {
		return 0, false
	}
	w, _ := strconv.ParseInt(whole, 10, 64)
	var f int64
	if hasDot {
		f, _ = strconv.ParseInt(frac, 10, 64)
		if len(frac) == 1 {
			f *= 10
		}
	}
	c := w*100 + f
	return c, c <= 100_000_000_00
}

// fmtTime renders a unix time as the gateway does: "yyyy-MM-dd HH:mm:ss"
// in GMT+8 (hand-rolled: it runs for every time field of every answer).
func fmtTime(unix int64) string {
	t := time.Unix(unix+8*3600, 0).UTC()
	y, mo, d := t.Date()
	h, mi, sec := t.Clock()
	if y < 0 || y > 9999 {
		return toptime.Format(t)
	}
	var b [19]byte
	put := func(i, v, n int) {
		for k := i + n - 1; k >= i; k-- {
			b[k] = byte('0' + v%10)
			v /= 10
		}
	}
	put(0, y, 4)
	b[4] = '-'
	put(5, int(mo), 2)
	b[7] = '-'
	put(8, d, 2)
	b[10] = ' '
	put(11, h, 2)
	b[13] = ':'
	put(14, mi, 2)
	b[16] = ':'
	put(17, sec, 2)
	return string(b[:])
}

// mix is splitmix64: a cheap, well-mixed hash for lazily derived data.
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}
