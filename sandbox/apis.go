package sandbox

import (
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/topscript/topscript/top/catalog"
	"github.com/topscript/topscript/toptime"
)

// api is one emulated API.
type api struct {
	name     string
	root     string      // "<name>_response"
	session  sessionNeed // 26/27
	write    bool
	required []string // checked in order (40)
	handle   func(s *Server, c *call) (obj, *apiErr)
	model    *catalog.API // the catalog's entry, for the APIs served from it (model.go)
}

// apis returns the APIs modelled with state, by name; every other method of
// the catalog is served from its schema (apiFor, model.go). The table is
// built on first use, not at start-up.
var apis = sync.OnceValue(func() map[string]*api {
	m := map[string]*api{}
	for _, a := range append([]*api{
		{name: "taobao.time.get", handle: (*Server).timeGet},
		{name: "taobao.user.seller.get", session: sessionRequired, required: []string{"fields"}, handle: (*Server).userSellerGet},
		{name: "taobao.trades.sold.get", session: sessionRequired, required: []string{"fields"}, handle: (*Server).tradesSoldGet},
		{name: "taobao.trades.sold.increment.get", session: sessionRequired, required: []string{"fields", "start_modified", "end_modified"}, handle: (*Server).tradesSoldIncrementGet},
		{name: "taobao.trade.fullinfo.get", session: sessionRequired, required: []string{"fields", "tid"}, handle: (*Server).tradeFullinfoGet},
		{name: "taobao.items.onsale.get", session: sessionRequired, required: []string{"fields"}, handle: (*Server).itemsOnsaleGet},
		{name: "taobao.item.seller.get", session: sessionRequired, required: []string{"fields", "num_iid"}, handle: (*Server).itemSellerGet},
		{name: "taobao.item.sku.price.update", session: sessionRequired, write: true, required: []string{"num_iid", "properties"}, handle: (*Server).itemSkuPriceUpdate},
		{name: "taobao.item.quantity.update", session: sessionRequired, write: true, required: []string{"num_iid", "quantity"}, handle: (*Server).itemQuantityUpdate},
		{name: "taobao.skus.quantity.update", session: sessionRequired, write: true, required: []string{"num_iid"}, handle: (*Server).skusQuantityUpdate},
		{name: "taobao.fenxiao.products.get", session: sessionRequired, handle: (*Server).fenxiaoProductsGet},
		{name: "taobao.fenxiao.product.update", session: sessionRequired, write: true, required: []string{"pid"}, handle: (*Server).fenxiaoProductUpdate},
		{name: "taobao.fenxiao.product.sku.update", session: sessionRequired, write: true, required: []string{"product_id", "properties"}, handle: (*Server).fenxiaoProductSkuUpdate},
		{name: "taobao.opentrade.activity.sync", session: sessionRequired, write: true, required: []string{"activity_id", "start_time", "end_time", "activity_name", "item_id_list"}, handle: (*Server).opentradeActivitySync},
		{name: "tmall.supplychain.channel.product.downshelf", session: sessionRequired, write: true, required: []string{"product_id"}, handle: (*Server).channelDownshelf},
		{name: "tmall.supplychain.channel.product.upshelf", session: sessionRequired, write: true, required: []string{"product_id"}, handle: (*Server).channelUpshelf},
	}, append(tmcAPIs(), authAPIs()...)...) {
		a.root = responseRoot(a.name)
		m[a.name] = a
	}
	return m
})

// call is one API call being handled.
type call struct {
	api    *api
	p      map[string]string
	files  map[string]bool // names of the file parts
	now    time.Time
	writes []string // object keys changed
}

func (c *call) str(name string) string { return strings.TrimSpace(c.p[name]) }

// wrote records a successful write to object key.
func (c *call) wrote(key string) { c.writes = append(c.writes, key) }

// id parses a positive integer id param; present is false when absent.
func (c *call) id(name string) (v int64, present bool, e *apiErr) {
	s := c.str(name)
	if s == "" {
		return 0, false, nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v <= 0 {
		return 0, true, errInvalid(name)
	}
	return v, true, nil
}

// integer parses an optional integer param within [lo, hi].
func (c *call) integer(name string, def, lo, hi int64) (int64, *apiErr) {
	s := c.str(name)
	if s == "" {
		return def, nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v < lo || v > hi {
		return 0, errInvalid(name)
	}
	return v, nil
}

// money parses an optional price param ("12", "12.5", "12.50"; more than 0).
func (c *call) money(name string) (cents int64, present bool, e *apiErr) {
	s := c.str(name)
	if s == "" {
		return 0, false, nil
	}
	v, ok := parseMoney(s)
	if !ok || v <= 0 {
		return 0, true, errInvalid(name)
	}
	return v, true, nil
}

// boolean parses an optional boolean param.
func (c *call) boolean(name string) (bool, *apiErr) {
	switch strings.ToLower(c.str(name)) {
	case "":
		return false, nil
	case "true", "1":
		return true, nil
	case "false", "0":
		return false, nil
	}
	return false, errInvalid(name)
}

// timeParam parses an optional "yyyy-MM-dd HH:mm:ss" (GMT+8) param.
func (c *call) timeParam(name string) (t time.Time, present bool, e *apiErr) {
	s := c.str(name)
	if s == "" {
		return time.Time{}, false, nil
	}
	t, err := toptime.Parse(s)
	if err != nil {
		return time.Time{}, true, errInvalid(name)
	}
	return t, true, nil
}

// page parses page_no and page_size: page_size within [1, max] (41 beyond).
func (c *call) page(def, max int64) (no, size int64, e *apiErr) {
	no, e = c.integer("page_no", 1, 1, 1<<31-1)
	if e != nil {
		return 0, 0, e
	}
	size, e = c.integer("page_size", def, 1, max)
	return no, size, e
}

// window returns the [from, to) slice of n results for a page.
func window(n int, no, size int64) (int, int) {
	from := (no - 1) * size
	if from > int64(n) {
		from = int64(n)
	}
	to := from + size
	if to > int64(n) {
		to = int64(n)
	}
	return int(from), int(to)
}

// ids parses a comma-separated list of positive integers, at most max.
func (c *call) ids(name string, max int) ([]int64, *apiErr) {
	s := c.str(name)
	if s == "" {
		return nil, nil
	}
	parts := strings.Split(s, ",")
	if len(parts) > max {
		return nil, errInvalid(name)
	}
	out := make([]int64, 0, len(parts))
	for _, p := range parts {
		v, err := strconv.ParseInt(strings.TrimSpace(p), 10, 64)
		if err != nil || v <= 0 {
			return nil, errInvalid(name)
		}
		out = append(out, v)
	}
	return out, nil
}

func (s *Server) timeGet(c *call) (obj, *apiErr) {
	return obj{{"time", toptime.Format(c.now)}}, nil
}

// userSellerGet: taobao.user.seller.get — the seller the session belongs
// to (the shop's identity: shop 1's user_id 2206571234567 and nick, see
// shops.go for the others), with the fields asked for among user_id,
// nick, type (B: a Tmall shop) and status.
func (s *Server) userSellerGet(c *call) (obj, *apiErr) {
	id := s.seller()
	all := map[string]any{"user_id": id.userID, "nick": id.nick, "type": "B", "status": "normal"}
	var user obj
	for _, f := range strings.Split(c.str("fields"), ",") {
		f = strings.TrimSpace(f)
		if v, ok := all[f]; ok {
			user = append(user, kv{f, v})
			delete(all, f)
		}
	}
	return obj{{"user", user}}, nil
}
