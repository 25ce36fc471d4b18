package sandbox

import (
	"context"
	"encoding/json"
	"math/rand"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/topscript/topscript/tmc/wire"
)

// TMC, the platform's message channel, as the sandbox serves it: the /tmc
// WebSocket (binary frames of package tmc/wire, the signed handshake,
// push, pull requests, confirm and fail) and the HTTP APIs
// taobao.tmc.user.permit / user.get / user.cancel / group.add /
// messages.consume / messages.confirm over the same queues. See the package
// doc for the choices where the platform's behaviour is not documented.

// Defaults of TMCOptions.
const (
	// DefaultTMCRedeliver is how long a delivered message may stay
	// unconfirmed before it is delivered again, and how long a failed one
	// waits (the platform's "about 5 minutes").
	DefaultTMCRedeliver = 5 * time.Minute
	// DefaultTMCFailDelay is how long a failed message waits before it is
	// delivered again.
	DefaultTMCFailDelay = 10 * time.Second
	// DefaultTMCWindow is the number of unconfirmed messages one connection
	// may hold; past it the sandbox pushes to other connections of the group
	// or keeps the messages queued.
	DefaultTMCWindow = 256
)

// TMCOptions configure the message channel. Zero fields take defaults.
type TMCOptions struct {
	Redeliver time.Duration // DefaultTMCRedeliver
	FailDelay time.Duration // DefaultTMCFailDelay
	Window    int           // DefaultTMCWindow
	// PullOnly turns push off: messages go out only in answer to pull
	// requests (and messages.consume).
	PullOnly bool
	// Duplicates is the probability that a message is published twice (a
	// second id, the same topic and content), as the platform sometimes does.
	Duplicates float64
}

// TMC status codes of a refused handshake (the platform's are not
// documented).
const (
	tmcBadRequest   = 400
	tmcUnauthorized = 401
	tmcNoGroup      = 404
)

const (
	sellerUserID int64 = 2_206_571_234_567
	tmcIDBase    int64 = 7_012_345_678_901_234_567 // message ids beyond 2^53
	maxGroupName       = 32
	// defaultMaxBacklog bounds a group's queue: past it the oldest message expires
	// (TMCStats.Expired), so a sandbox that churns with no consumer stays
	// within memory.
	defaultMaxBacklog = 500_000
	tmcHandshake      = 10 * time.Second
	tmcDefaultGrp     = "default"
)

// tmcTopics are the topics an app is subscribed to.
var tmcTopics = []string{
	"taobao_trade_TradeCreate", "taobao_trade_TradeBuyerPay", "taobao_trade_TradeSellerShip",
	"taobao_trade_TradeSuccess", "taobao_trade_TradeClose", "taobao_trade_TradeModifyFee",
	"taobao_trade_TradeMemoModified", "taobao_trade_TradePartlyRefund",
	"taobao_trade_TradeLogisticsAddressChanged", "taobao_trade_TradeChanged", "taobao_trade_TradeRated",
	"taobao_refund_RefundCreated", "taobao_refund_RefundSellerAgreeAgreement", "taobao_refund_RefundSuccess",
	"taobao_refund_RefundClosed",
	"taobao_item_ItemAdd", "taobao_item_ItemUpdate", "taobao_item_ItemUpshelf", "taobao_item_ItemDownshelf",
	"taobao_item_ItemDelete",
}

type tmcHub struct {
	s          *Server
	opts       TMCOptions
	maxBacklog int // defaultMaxBacklog (smaller in tests)

	mu      sync.Mutex
	rng     *rand.Rand
	seq     int64
	users   map[string]*tmcUser
	groups  map[string]*tmcGroup
	msgs    map[int64]*tmcMsg // not yet confirmed
	conns   map[*tmcConn]bool
	counts  TMCStats
	tickerC chan struct{}
	closed  bool
}

type tmcUser struct {
	nick              string
	topics            []string // nil: all the app's topics
	group             string
	created, modified int64
}

type tmcGroup struct {
	name    string
	created int64
	backlog []*tmcMsg // ready, oldest first
	conns   []*tmcConn
	rr      int
}

type tmcMsg struct {
	id         int64
	topic      string
	content    string
	nick       string
	userID     int64
	pub        time.Time
	group      string
	inflight   bool
	waiting    bool      // failed: back in the backlog at due
	conn       *tmcConn  // inflight over this connection (nil: messages.consume)
	due        time.Time // inflight: redelivered after; waiting: queued at
	deliveries int
}

type tmcConn struct {
	ws       *websocket.Conn
	group    string
	token    string
	inflight int
	out      chan []byte
	done     chan struct{}
}

// TMCStats counts the channel's messages since the sandbox started or was
// reset.
type TMCStats struct {
	Published   int64 `json:"published"`
	Duplicated  int64 `json:"duplicated"`  // of them, second copies (TMCOptions.Duplicates)
	Delivered   int64 `json:"delivered"`   // deliveries, redeliveries included
	Redelivered int64 `json:"redelivered"` // deliveries after a timeout or a failure
	Confirmed   int64 `json:"confirmed"`   // messages confirmed (each once)
	Failed      int64 `json:"failed"`      // failures reported
	Expired     int64 `json:"expired"`     // dropped from a full queue (500,000 a group) unconfirmed
	Unconfirmed int   `json:"unconfirmed"` // published, not yet confirmed
	Connections int   `json:"connections"`
	// UnconfirmedIDs lists them (up to 1000).
	UnconfirmedIDs []int64 `json:"unconfirmed_ids,omitempty"`
}

func newTMCHub(s *Server, o TMCOptions) *tmcHub {
	if o.Redeliver <= 0 {
		o.Redeliver = DefaultTMCRedeliver
	}
	if o.Window <= 0 {
		o.Window = DefaultTMCWindow
	}
	if o.FailDelay <= 0 {
		o.FailDelay = DefaultTMCFailDelay
	}
	h := &tmcHub{s: s, opts: o, maxBacklog: defaultMaxBacklog, conns: map[*tmcConn]bool{}, tickerC: make(chan struct{})}
	h.resetLocked()
	go h.tick()
	return h
}

// resetLocked empties queues and permits. Call with h.mu held (or before use).
func (h *tmcHub) resetLocked() {
	h.rng = rand.New(rand.NewSource(h.s.opts.Seed))
	h.seq = 0
	h.users = map[string]*tmcUser{}
	h.groups = map[string]*tmcGroup{tmcDefaultGrp: {name: tmcDefaultGrp}}
	for c := range h.conns {
		if g := h.groups[c.group]; g != nil {
			g.conns = append(g.conns, c)
		} else {
			c.ws.CloseNow()
		}
		c.inflight = 0
	}
	h.msgs = map[int64]*tmcMsg{}
	h.counts = TMCStats{}
}

func (h *tmcHub) reset() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.resetLocked()
}

// close ends the redelivery ticker and every connection.
func (h *tmcHub) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.closed {
		h.closed = true
		close(h.tickerC)
	}
	for c := range h.conns {
		c.ws.CloseNow()
	}
}

// TMCStats returns the channel's counters.
func (s *Server) TMCStats() TMCStats {
	h := s.tmc
	h.mu.Lock()
	defer h.mu.Unlock()
	st := h.counts
	st.Unconfirmed = len(h.msgs)
	st.Connections = len(h.conns)
	for id := range h.msgs {
		if len(st.UnconfirmedIDs) == 1000 {
			break
		}
		st.UnconfirmedIDs = append(st.UnconfirmedIDs, id)
	}
	slices.Sort(st.UnconfirmedIDs)
	return st
}

// DropTMC drops every TMC connection at once, as a network failure does.
// It returns how many it dropped.
func (s *Server) DropTMC() int {
	h := s.tmc
	h.mu.Lock()
	defer h.mu.Unlock()
	for c := range h.conns {
		c.ws.CloseNow()
	}
	return len(h.conns)
}

// Permit subscribes the sandbox's seller to topics (nil: all), as
// taobao.tmc.user.permit does with the seller's session.
func (s *Server) Permit(topics []string) {
	h := s.tmc
	h.mu.Lock()
	defer h.mu.Unlock()
	h.permitLocked(topics, s.opts.Now().Unix())
}

func (h *tmcHub) permitLocked(topics []string, now int64) {
	u := h.users[sellerNick]
	if u == nil {
		u = &tmcUser{nick: sellerNick, group: tmcDefaultGrp, created: now}
		h.users[sellerNick] = u
	}
	u.topics = topics
	u.modified = now
}

// publish queues a message for nick's group if nick is subscribed to topic.
func (h *tmcHub) publish(topic, content, nick string, now time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	u := h.users[nick]
	if u == nil || (u.topics != nil && !slices.Contains(u.topics, topic)) {
		return
	}
	g := h.groups[u.group]
	if g == nil {
		g = h.groups[tmcDefaultGrp]
	}
	n := 1
	if h.opts.Duplicates > 0 && h.rng.Float64() < h.opts.Duplicates {
		n = 2
	}
	for k := range n {
		if k > 0 {
			h.counts.Duplicated++
		}
		h.seq++
		m := &tmcMsg{id: tmcIDBase + h.seq, topic: topic, content: content, nick: nick, userID: sellerUserID,
			pub: now, group: g.name}
		h.msgs[m.id] = m
		if len(g.backlog) >= h.maxBacklog {
			delete(h.msgs, g.backlog[0].id)
			g.backlog[0] = nil
			g.backlog = g.backlog[1:]
			h.counts.Expired++
		}
		g.backlog = append(g.backlog, m)
		h.counts.Published++
	}
	if !h.opts.PullOnly {
		h.dispatch(g, nil, 0)
	}
}

// dispatch sends g's backlog to its connections with room: to only (when
// not nil, for at most max messages: a pull request), else round robin.
// Call with h.mu held.
func (h *tmcHub) dispatch(g *tmcGroup, only *tmcConn, max int) {
	now := time.Now()
	sent := 0
	for len(g.backlog) > 0 && len(g.conns) > 0 {
		var c *tmcConn
		if only != nil {
			if !h.room(only) || (max > 0 && sent >= max) {
				return
			}
			c = only
		} else {
			for k := range g.conns {
				cand := g.conns[(g.rr+k)%len(g.conns)]
				if h.room(cand) {
					c = cand
					g.rr = (g.rr + k + 1) % len(g.conns)
					break
				}
			}
			if c == nil {
				return
			}
		}
		m := g.backlog[0]
		g.backlog[0] = nil
		g.backlog = g.backlog[1:]
		h.deliver(m, c, now)
		c.out <- h.frame(m) // room checked it will not block
		sent++
	}
}

// room reports whether c may take another message: fewer than Window
// unconfirmed, and room in its write queue (frames a slow reader has not
// taken yet stay there after their messages time out). Call with h.mu held.
func (h *tmcHub) room(c *tmcConn) bool {
	return c.inflight < h.opts.Window && len(c.out) < cap(c.out)
}

// deliver marks m in flight (over c, or nil for messages.consume).
func (h *tmcHub) deliver(m *tmcMsg, c *tmcConn, now time.Time) {
	m.inflight, m.waiting, m.conn = true, false, c
	m.due = now.Add(h.opts.Redeliver)
	if m.deliveries > 0 {
		h.counts.Redelivered++
	}
	m.deliveries++
	h.counts.Delivered++
	if c != nil {
		c.inflight++
	}
}

func (h *tmcHub) frame(m *tmcMsg) []byte {
	f := &wire.Frame{Type: wire.Send}
	f.Set(wire.KindHeader, wire.I16(wire.KindData))
	f.Set("id", wire.I64(m.id))
	f.Set("topic", wire.Str(m.topic))
	f.Set("content", wire.Str(m.content))
	f.Set("time", wire.Time(m.pub))
	f.Set("publisher", wire.Str(h.s.opts.AppKey))
	f.Set("nick", wire.Str(m.nick))
	f.Set("userid", wire.I64(m.userID))
	return wire.Encode(nil, f)
}

// settle confirms (ok) or fails id. Call with h.mu held.
func (h *tmcHub) settle(id int64, ok bool) {
	m := h.msgs[id]
	if m == nil {
		return // already confirmed, or never published
	}
	var g *tmcGroup
	if m.inflight {
		if m.conn != nil {
			m.conn.inflight--
		}
		m.inflight, m.conn = false, nil
		g = h.groups[m.group]
	} else if !ok {
		return // a failure of a message not in flight: nothing to do
	} else if !m.waiting {
		// Confirmed while queued again (after a timeout): take it out.
		if g := h.groups[m.group]; g != nil {
			g.backlog = slices.DeleteFunc(g.backlog, func(x *tmcMsg) bool { return x == m })
		}
	}
	if ok {
		delete(h.msgs, id)
		h.counts.Confirmed++
	} else {
		h.counts.Failed++
		m.waiting = true
		m.due = time.Now().Add(h.opts.FailDelay)
	}
	if g != nil && !h.opts.PullOnly {
		h.dispatch(g, nil, 0)
	}
}

// tick requeues messages whose confirm timed out or whose failure delay is
// over.
func (h *tmcHub) tick() {
	every := min(max(min(h.opts.Redeliver, h.opts.FailDelay)/5, 5*time.Millisecond), time.Second)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-h.tickerC:
			return
		case <-t.C:
		}
		h.mu.Lock()
		now := time.Now()
		var due []*tmcMsg
		for _, m := range h.msgs {
			if (m.inflight || m.waiting) && !now.Before(m.due) {
				due = append(due, m)
			}
		}
		sort.Slice(due, func(i, j int) bool { return due[i].id < due[j].id })
		touched := map[*tmcGroup]bool{}
		for _, m := range due {
			if m.inflight && m.conn != nil {
				m.conn.inflight--
			}
			m.inflight, m.waiting, m.conn = false, false, nil
			if g := h.groups[m.group]; g != nil {
				g.backlog = append(g.backlog, m)
				touched[g] = true
			}
		}
		if !h.opts.PullOnly {
			for g := range touched {
				h.dispatch(g, nil, 0)
			}
		}
		h.mu.Unlock()
	}
}

// serveTMC serves one /tmc WebSocket connection.
func (s *Server) serveTMC(w http.ResponseWriter, r *http.Request) {
	ws, err := websocket.Accept(w, r, nil)
	if err != nil {
		return // Accept has answered the HTTP request
	}
	defer ws.CloseNow()
	ws.SetReadLimit(wire.MaxFrame)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	hctx, hcancel := context.WithTimeout(ctx, tmcHandshake)
	group, code, phrase := s.tmcHandshake(hctx, ws)
	if code != 0 {
		ack := &wire.Frame{Type: wire.ConnectAck, StatusCode: uint32(code), StatusPhrase: phrase}
		_ = ws.Write(hctx, websocket.MessageBinary, wire.Encode(nil, ack))
		hcancel()
		_ = ws.Close(websocket.StatusPolicyViolation, phrase)
		return
	}
	c := &tmcConn{ws: ws, group: group, token: s.requestID() + s.requestID(),
		out: make(chan []byte, s.tmc.opts.Window), done: make(chan struct{})}
	err = ws.Write(hctx, websocket.MessageBinary, wire.Encode(nil, &wire.Frame{Type: wire.ConnectAck, Token: c.token}))
	hcancel()
	if err != nil {
		return
	}
	h := s.tmc
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return
	}
	h.conns[c] = true
	g := h.groups[group]
	g.conns = append(g.conns, c)
	if !h.opts.PullOnly {
		h.dispatch(g, nil, 0)
	}
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		delete(h.conns, c)
		if g := h.groups[c.group]; g != nil {
			g.conns = slices.DeleteFunc(g.conns, func(x *tmcConn) bool { return x == c })
		}
		// Its unconfirmed messages stay in flight until they time out.
		h.mu.Unlock()
	}()

	go func() { // writer
		defer cancel()
		for {
			select {
			case b := <-c.out:
				if ws.Write(ctx, websocket.MessageBinary, b) != nil {
					return
				}
			case <-ctx.Done():
				return
			}
		}
	}()
	for {
		typ, b, err := ws.Read(ctx)
		if err != nil {
			return
		}
		if typ != websocket.MessageBinary {
			continue
		}
		f, err := wire.Decode(b)
		if err != nil {
			_ = ws.Close(websocket.StatusUnsupportedData, "bad frame")
			return
		}
		if f.Token != c.token {
			_ = ws.Close(websocket.StatusPolicyViolation, "invalid token")
			return
		}
		if f.Type != wire.Send {
			continue
		}
		kind, _ := f.Get(wire.KindHeader)
		k, _ := kind.Integer()
		h.mu.Lock()
		switch k {
		case wire.KindPull:
			if g := h.groups[c.group]; g != nil {
				h.dispatch(g, c, 0)
			}
		case wire.KindConfirm, wire.KindFailed:
			if v, ok := f.Get("id"); ok {
				if id, ok := v.Integer(); ok {
					h.settle(id, k == wire.KindConfirm)
				}
			}
		}
		h.mu.Unlock()
	}
}

// tmcHandshake reads CONNECT and checks it; code 0 means accepted.
func (s *Server) tmcHandshake(ctx context.Context, ws *websocket.Conn) (group string, code int, phrase string) {
	typ, b, err := ws.Read(ctx)
	if err != nil || typ != websocket.MessageBinary {
		return "", tmcBadRequest, "want a binary CONNECT frame"
	}
	f, err := wire.Decode(b)
	if err != nil || f.Type != wire.Connect {
		return "", tmcBadRequest, "want a CONNECT frame"
	}
	ak, ts, sign := f.Text("app_key"), f.Text("timestamp"), f.Text("sign")
	group = f.Text("group_name")
	if group == "" {
		group = tmcDefaultGrp
	}
	switch {
	case ak == "":
		return "", tmcBadRequest, "missing app_key"
	case ak != s.opts.AppKey:
		return "", tmcUnauthorized, "invalid app_key"
	case sign == "":
		return "", tmcBadRequest, "missing sign"
	}
	t, ok := parseTimestamp(ts)
	if now := s.opts.Now(); !ok || t.Sub(now) > maxSkew || now.Sub(t) > maxSkew {
		return "", tmcUnauthorized, "invalid timestamp"
	}
	want, _ := computeSign(map[string]string{"app_key": ak, "group_name": f.Text("group_name"), "timestamp": ts}, nil, nil, s.opts.AppSecret, signMD5)
	if !strings.EqualFold(want, sign) {
		return "", tmcUnauthorized, "invalid sign"
	}
	s.tmc.mu.Lock()
	_, known := s.tmc.groups[group]
	s.tmc.mu.Unlock()
	if !known {
		return "", tmcNoGroup, "group not exist: " + group
	}
	return group, 0, ""
}

// serveTMCAdmin serves GET /_sandbox/tmc (TMCStats) and POST
// /_sandbox/tmc/drop (DropTMC).
func (s *Server) serveTMCAdmin(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	if r.URL.Path == "/_sandbox/tmc/drop" {
		if r.Method != http.MethodPost {
			http.Error(w, "POST only", http.StatusMethodNotAllowed)
			return
		}
		_, _ = w.Write([]byte(`{"dropped":` + strconv.Itoa(s.DropTMC()) + "}\n"))
		return
	}
	_ = json.NewEncoder(w).Encode(s.TMCStats())
}

// publishWrites publishes the item messages of a write the gateway applied:
// price and stock changes are taobao_item_ItemUpdate (changed_fields "price"
// or "num"); a channel product put on or off the shelf is
// taobao_item_ItemUpshelf / ItemDownshelf about the product's item.
func (s *Server) publishWrites(method string, keys []string, now time.Time) {
	var topic, changed string
	switch method {
	case "taobao.item.sku.price.update":
		topic, changed = "taobao_item_ItemUpdate", "price"
	case "taobao.item.quantity.update", "taobao.skus.quantity.update":
		topic, changed = "taobao_item_ItemUpdate", "num"
	case "tmall.supplychain.channel.product.upshelf":
		topic = "taobao_item_ItemUpshelf"
	case "tmall.supplychain.channel.product.downshelf":
		topic = "taobao_item_ItemDownshelf"
	default:
		return
	}
	for _, k := range keys {
		idStr, _, _ := strings.Cut(k, ":")
		id, err := strconv.ParseInt(idStr, 10, 64)
		if err != nil {
			continue
		}
		if changed == "" { // a channel product: its item
			s.mu.RLock()
			i, ok := s.st.fxIdx[id]
			if ok {
				id = s.st.fx[i].itemID
			}
			s.mu.RUnlock()
			if !ok || id == 0 {
				continue
			}
		}
		o := obj{{"nick", sellerNick}, {"num_iid", id}}
		if changed != "" {
			o = append(o, kv{"changed_fields", changed})
		}
		s.tmc.publish(topic, string(appendJSON(nil, o, true)), sellerNick, now)
	}
}

// TMCURL is the message channel's endpoint, "ws://127.0.0.1:PORT/tmc" once
// started.
func (s *Server) TMCURL() string {
	u := s.URL()
	if u == "" {
		return ""
	}
	return "ws://" + strings.TrimSuffix(strings.TrimPrefix(u, "http://"), "/router/rest") + "/tmc"
}
