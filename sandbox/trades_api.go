package sandbox

import (
	"time"
)

// tradeFilters reads the optional status, type (the default query's five
// when absent; tradetypes.go) and buyer_nick filters.
func tradeFilters(c *call, q *tradeQuery) *apiErr {
	if st := c.str("status"); st != "" {
		ss, ok := tradeStatuses()[st]
		if !ok {
			return errInvalid("status")
		}
		q.statuses = append([]string{}, ss...)
	}
	types, ok := parseTradeTypes(c.str("type"))
	if !ok {
		return errInvalid("type")
	}
	q.types = types
	q.buyer = c.str("buyer_nick")
	return nil
}

// tradePage renders one page of rs.
func (s *Server) tradePage(c *call, rs resultSet, no, size int64, useHasNext bool) obj {
	fs := parseFields(c.str("fields"))
	from, to := window(rs.len(), no, size)
	out := make(obj, 0, 2)
	if useHasNext {
		out = append(out, kv{"has_next", to < rs.len()})
	} else {
		out = append(out, kv{"total_results", rs.len()})
	}
	if to > from {
		elems := make([]any, 0, to-from)
		for k := from; k < to; k++ {
			elems = append(elems, s.trades.render(rs.at(k), fs, false))
		}
		out = append(out, kv{"trades", list{item: "trade", elems: elems}})
	}
	return out
}

// tradesSoldGet: taobao.trades.sold.get — trades created in the last three
// months, newest first; page_size default 40, max 100.
func (s *Server) tradesSoldGet(c *call) (obj, *apiErr) {
	no, size, e := c.page(40, 100)
	if e != nil {
		return nil, e
	}
	useHasNext, e := c.boolean("use_has_next")
	if e != nil {
		return nil, e
	}
	q := tradeQuery{from: c.now.AddDate(0, -3, 0).Unix(), to: c.now.Unix()}
	if t, ok, e := c.timeParam("start_created"); e != nil {
		return nil, e
	} else if ok && t.Unix() > q.from {
		q.from = t.Unix()
	}
	if t, ok, e := c.timeParam("end_created"); e != nil {
		return nil, e
	} else if ok && t.Unix() < q.to {
		q.to = t.Unix()
	}
	if e := tradeFilters(c, &q); e != nil {
		return nil, e
	}
	return s.tradePage(c, s.trades.find(&q), no, size, useHasNext), nil
}

// tradesSoldIncrementGet: taobao.trades.sold.increment.get — trades modified
// in [start_modified, end_modified] (end strictly after start, a span of at
// most one day), newest modification first; page_size default 40, max 100.
func (s *Server) tradesSoldIncrementGet(c *call) (obj, *apiErr) {
	start, _, e := c.timeParam("start_modified")
	if e != nil {
		return nil, e
	}
	end, _, e := c.timeParam("end_modified")
	if e != nil {
		return nil, e
	}
	if !end.After(start) {
		return nil, errBiz("isv.invalid-parameter:end_modified", "end_modified必须大于start_modified")
	}
	if end.Sub(start) > 24*time.Hour {
		return nil, errBiz("isv.invalid-parameter:modified-span", "start_modified与end_modified的时间跨度不能超过一天")
	}
	no, size, e := c.page(40, 100)
	if e != nil {
		return nil, e
	}
	useHasNext, e := c.boolean("use_has_next")
	if e != nil {
		return nil, e
	}
	q := tradeQuery{byModified: true, from: start.Unix(), to: end.Unix()}
	if e := tradeFilters(c, &q); e != nil {
		return nil, e
	}
	return s.tradePage(c, s.trades.find(&q), no, size, useHasNext), nil
}

// tradeFullinfoGet: taobao.trade.fullinfo.get.
func (s *Server) tradeFullinfoGet(c *call) (obj, *apiErr) {
	tid, _, e := c.id("tid")
	if e != nil {
		return nil, e
	}
	i, ok := s.trades.index(tid)
	if !ok {
		return nil, errBiz("isv.trade-not-exist", "交易不存在")
	}
	return obj{{"trade", s.trades.render(i, parseFields(c.str("fields")), true)}}, nil
}
