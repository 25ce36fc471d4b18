package sandbox

import (
	"slices"
	"strconv"
	"strings"
	"time"
)

// tmcAPIs are the HTTP APIs of the message channel.
func tmcAPIs() []*api {
	return []*api{
		{name: "taobao.tmc.user.permit", session: sessionRequired, write: true, handle: (*Server).tmcUserPermit},
		{name: "taobao.tmc.user.get", required: []string{"fields", "nick"}, handle: (*Server).tmcUserGet},
		{name: "taobao.tmc.user.cancel", write: true, required: []string{"nick"}, handle: (*Server).tmcUserCancel},
		{name: "taobao.tmc.group.add", write: true, required: []string{"group_name", "nicks"}, handle: (*Server).tmcGroupAdd},
		{name: "taobao.tmc.messages.consume", handle: (*Server).tmcMessagesConsume},
		{name: "taobao.tmc.messages.confirm", write: true, required: []string{"s_message_ids"}, handle: (*Server).tmcMessagesConfirm},
	}
}

func errTMCUser(nick string) *apiErr {
	return errBiz("isv.user-not-exist", "用户未开通消息服务:"+nick)
}

// list splits a comma-separated param (blanks dropped); nil when absent.
func (c *call) list(name string) []string {
	s := c.str(name)
	if s == "" {
		return nil
	}
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// tmcUserPermit: taobao.tmc.user.permit — subscribes the session's shop;
// topics (at most 100) overwrite, none means all the app's topics.
func (s *Server) tmcUserPermit(c *call) (obj, *apiErr) {
	topics := c.list("topics")
	if len(topics) > 100 {
		return nil, errInvalid("topics")
	}
	for _, t := range topics {
		if !slices.Contains(tmcTopics, t) {
			return nil, errBiz("isv.invalid-parameter", "topic不存在或应用未订阅:"+t)
		}
	}
	h := s.tmc
	h.mu.Lock()
	h.permitLocked(topics, c.now.Unix())
	h.mu.Unlock()
	c.wrote(sellerNick)
	return obj{{"is_success", true}}, nil
}

// tmcUserGet: taobao.tmc.user.get.
func (s *Server) tmcUserGet(c *call) (obj, *apiErr) {
	nick := c.str("nick")
	if len([]rune(nick)) > 100 {
		return nil, errInvalid("nick")
	}
	fs := parseFields(c.str("fields"))
	h := s.tmc
	h.mu.Lock()
	defer h.mu.Unlock()
	u := h.users[nick]
	if u == nil {
		return nil, errTMCUser(nick)
	}
	topics := u.topics
	if topics == nil {
		topics = tmcTopics
	}
	all := []kv{
		{"user_nick", u.nick}, {"user_id", sellerUserID}, {"is_valid", true},
		{"topics", list{item: "string", elems: anys(topics)}}, {"group_name", u.group},
		{"created", fmtTime(u.created)}, {"modified", fmtTime(u.modified)}, {"user_platform", "tbUIC"},
	}
	out := make(obj, 0, len(all))
	for _, f := range all {
		if fs.has(f.k) {
			out = append(out, f)
		}
	}
	return obj{{"tmc_user", out}}, nil
}

func anys(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// tmcUserCancel: taobao.tmc.user.cancel — is_success false (no error) when
// the user was not subscribed.
func (s *Server) tmcUserCancel(c *call) (obj, *apiErr) {
	nick := c.str("nick")
	h := s.tmc
	h.mu.Lock()
	_, ok := h.users[nick]
	delete(h.users, nick)
	h.mu.Unlock()
	if ok {
		c.wrote(nick)
	}
	return obj{{"is_success", ok}}, nil
}

// tmcGroupAdd: taobao.tmc.group.add — routes subscribed shops (nicks, at
// most 200) to a group, creating it; the name has at most 32 characters and
// does not start with "default".
func (s *Server) tmcGroupAdd(c *call) (obj, *apiErr) {
	name := c.str("group_name")
	nicks := c.list("nicks")
	switch {
	case len([]rune(name)) > maxGroupName:
		return nil, errInvalid("group_name")
	case strings.HasPrefix(name, tmcDefaultGrp):
		return nil, errBiz("isv.invalid-parameter", "分组名称不能以default开头")
	case len(nicks) > 200:
		return nil, errInvalid("nicks")
	}
	h := s.tmc
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, n := range nicks {
		if h.users[n] == nil {
			return nil, errTMCUser(n)
		}
	}
	g := h.groups[name]
	if g == nil {
		g = &tmcGroup{name: name, created: c.now.Unix()}
		h.groups[name] = g
	}
	for _, n := range nicks {
		h.users[n].group = name
	}
	c.wrote(name)
	return obj{{"created", fmtTime(g.created)}, {"group_name", name}}, nil
}

// tmcGroupParam reads group_name (absent: the default group).
func (s *Server) tmcGroupParam(c *call) (*tmcGroup, *apiErr) {
	name := c.str("group_name")
	if name == "" {
		name = tmcDefaultGrp
	}
	g := s.tmc.groups[name]
	if g == nil {
		return nil, errBiz("isv.group-not-exist", "分组不存在:"+name)
	}
	return g, nil
}

// tmcMessagesConsume: taobao.tmc.messages.consume — takes up to quantity
// (10–200, default 100) queued messages of the group; they count as
// delivered and come again unless confirmed in time.
func (s *Server) tmcMessagesConsume(c *call) (obj, *apiErr) {
	q, e := c.integer("quantity", 100, 10, 200)
	if e != nil {
		return nil, e
	}
	h := s.tmc
	h.mu.Lock()
	defer h.mu.Unlock()
	g, e := s.tmcGroupParam(c)
	if e != nil {
		return nil, e
	}
	now := time.Now()
	n := min(int(q), len(g.backlog))
	elems := make([]any, 0, n)
	for _, m := range g.backlog[:n] {
		h.deliver(m, nil, now)
		elems = append(elems, obj{
			{"user_id", m.userID}, {"user_nick", m.nick}, {"content", m.content}, {"id", m.id},
			{"pub_time", fmtTime(m.pub.Unix())}, {"pub_app_key", s.opts.AppKey}, {"topic", m.topic},
		})
	}
	g.backlog = slices.Delete(g.backlog, 0, n)
	if n == 0 {
		return obj{}, nil
	}
	return obj{{"messages", list{item: "tmc_message", elems: elems}}}, nil
}

// tmcMessagesConfirm: taobao.tmc.messages.confirm — s_message_ids (at most
// 200) are done; unknown or already confirmed ids are ignored.
func (s *Server) tmcMessagesConfirm(c *call) (obj, *apiErr) {
	ids := c.list("s_message_ids")
	if len(ids) > 200 {
		return nil, errInvalid("s_message_ids")
	}
	parsed := make([]int64, len(ids))
	for i, id := range ids {
		v, err := strconv.ParseInt(id, 10, 64)
		if err != nil {
			return nil, errInvalid("s_message_ids")
		}
		parsed[i] = v
	}
	h := s.tmc
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, e := s.tmcGroupParam(c); e != nil {
		return nil, e
	}
	for _, id := range parsed {
		h.settle(id, true)
	}
	c.wrote(c.str("group_name"))
	return obj{{"is_success", true}}, nil
}
