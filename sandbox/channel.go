package sandbox

import (
	"strconv"
	"strings"

	"github.com/topscript/topscript/toptime"
)

// channelShelf handles tmall.supplychain.channel.product.upshelf / downshelf.
// Channel products are the distribution products: product_id is a pid, and
// the shelf state is the product's status ("up"/"down") that
// taobao.fenxiao.products.get returns. An unknown product_id answers code 50
// isv.invalid-parameter (as the seed docs show); putting a product in the
// state it is already in succeeds.
func (s *Server) channelShelf(c *call, up bool) (obj, *apiErr) {
	id, _, e := c.id("product_id")
	if e != nil {
		return nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	i, ok := s.st.fxIdx[id]
	if !ok || s.st.fx[i].status == fxDeleted {
		return nil, errIllegal()
	}
	p := &s.st.fx[i]
	p.status = "down"
	if up {
		p.status = "up"
	}
	p.modified = c.now.Unix()
	c.wrote(strconv.FormatInt(id, 10))
	return obj{{"result", obj{{"success", true}, {"module", true}, {"error_message", ""}, {"error_code", ""}}}}, nil
}

func (s *Server) channelUpshelf(c *call) (obj, *apiErr)   { return s.channelShelf(c, true) }
func (s *Server) channelDownshelf(c *call) (obj, *apiErr) { return s.channelShelf(c, false) }

// maxActivityItems is item_id_list's maximum length.
const maxActivityItems = 20

// opentradeActivitySync: taobao.opentrade.activity.sync — creates or updates
// an activity; item_id_list holds at most 20 ids; end_time must follow
// start_time.
func (s *Server) opentradeActivitySync(c *call) (obj, *apiErr) {
	start, _, e := c.timeParam("start_time")
	if e != nil {
		return nil, e
	}
	end, _, e := c.timeParam("end_time")
	if e != nil {
		return nil, e
	}
	ids, e := c.ids("item_id_list", maxActivityItems)
	if e != nil {
		return nil, e
	}
	if !end.After(start) {
		return nil, errIllegal()
	}
	idStrs := make([]string, len(ids))
	for i, id := range ids {
		idStrs[i] = strconv.FormatInt(id, 10)
	}
	a := &activity{
		id:       c.str("activity_id"),
		name:     c.str("activity_name"),
		start:    toptime.Format(start),
		end:      toptime.Format(end),
		itemIDs:  strings.Join(idStrs, ","),
		appKey:   c.p["app_key"],
		modified: toptime.Format(c.now),
	}
	s.mu.Lock()
	s.st.activities[a.id] = a
	s.mu.Unlock()
	c.wrote(a.id)
	return obj{
		{"start_time", a.start}, {"item_ids", a.itemIDs}, {"activity_name", a.name},
		{"appkey", a.appKey}, {"activity_id", a.id}, {"gmt_modified", a.modified}, {"end_time", a.end},
	}, nil
}
