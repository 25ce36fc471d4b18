package sandbox

import (
	"encoding/json"
	"math/rand"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Trade churn: trades created, paid, shipped, modified, refunded, closed and
// finished while callers read. The seed trades stay derived on demand; a
// trade that changes, and every new one, lives in an overlay that the reads
// (trades.sold.get, increment.get, trade.fullinfo.get) consult first. Each
// change sets the trade's modified to the gateway clock (Options.Now),
// publishes its TMC messages and is recorded in the change log
// (GET /_sandbox/changes).

// overlay holds the trades that differ from the seed.
type overlay struct {
	mu     sync.RWMutex
	any    bool                // some trade is in the overlay
	trades map[int]*tradeState // by index
	extra  int                 // new trades, indexes n .. n+extra-1
	live   []int               // trades churn may change (not final, recent)
	seeded bool                // live holds the eligible seed trades
}

// tradeState is an overlaid trade.
type tradeState struct {
	tcore
	payTime, consign, endTime int64
	refund                    string // orders' refund_status; "" is NO_REFUND
}

// count is the number of trades, new ones included.
func (t *tradeStore) count() int {
	t.ov.mu.RLock()
	defer t.ov.mu.RUnlock()
	return t.n + t.ov.extra
}

// overlaid returns trade i's overlay state.
func (t *tradeStore) overlaid(i int) (*tradeState, bool) {
	t.ov.mu.RLock()
	defer t.ov.mu.RUnlock()
	if !t.ov.any {
		return nil, false
	}
	st, ok := t.ov.trades[i]
	return st, ok
}

// overlayView applies an overlaid trade's times and refund to v.
func (t *tradeStore) overlayView(v *tradeView) {
	if st, ok := t.overlaid(v.i); ok {
		v.payTime, v.consign, v.endTime, v.refund = st.payTime, st.consign, st.endTime, st.refund
	}
}

// refundStatus is the orders' refund_status.
func (v *tradeView) refundStatus() string {
	if v.refund == "" {
		return "NO_REFUND"
	}
	return v.refund
}

// Change is one entry of the sandbox's change log.
type Change struct {
	Seq      int64    `json:"seq"`
	Tid      int64    `json:"tid"`
	Event    string   `json:"event"` // created, paid, shipped, modified, refund_created, refunded, closed, finished
	Status   string   `json:"status"`
	Modified string   `json:"modified"` // the trade's modified after the change
	Topics   []string `json:"topics"`   // TMC topics published
}

// maxChangeLog bounds the change log kept in memory: past it the oldest
// half is forgotten (sequence numbers go on).
const maxChangeLog = 1_000_000

// changeLog records the changes since start or Reset.
type changeLog struct {
	mu      sync.Mutex
	entries []Change
	next    int64 // seq of the latest change
	limit   int   // maxChangeLog (smaller in tests)
	rng     *rand.Rand
}

// Changes returns the change log entries after seq (those still kept: the
// last 500,000 to 1,000,000).
func (s *Server) Changes(since int64) []Change {
	cl := &s.changes
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if len(cl.entries) == 0 {
		return nil
	}
	k := max(since-cl.entries[0].Seq+1, 0)
	if k >= int64(len(cl.entries)) {
		return nil
	}
	return append([]Change(nil), cl.entries[k:]...)
}

// record appends c, giving it the next seq. Call with cl.mu held.
func (cl *changeLog) record(c Change) Change {
	cl.next++
	c.Seq = cl.next
	if cl.limit == 0 {
		cl.limit = maxChangeLog
	}
	if len(cl.entries) >= cl.limit {
		cl.entries = append(cl.entries[:0], cl.entries[len(cl.entries)/2:]...)
	}
	cl.entries = append(cl.entries, c)
	return c
}

// Churn causes n trade events now and returns them.
func (s *Server) Churn(n int) []Change {
	out := make([]Change, 0, n)
	for range n {
		out = append(out, s.churnOne())
	}
	return out
}

// churnOne applies one random trade event.
func (s *Server) churnOne() Change {
	t := s.trades
	now := s.opts.Now().Unix()
	cl := &s.changes
	cl.mu.Lock()
	defer cl.mu.Unlock()
	rng := cl.rng

	// Only churn writes the overlay, and cl.mu serialises it: it reads
	// without the lock and publishes new states copy-on-write, so readers
	// never see a state change under them.
	if !t.ov.seeded {
		// Recent trades not yet final (their modified stays within
		// maxModifiedDelay of created for a day of churn).
		lo, hi := t.createdRange(now-maxModifiedDelay+86400, now)
		var live []int
		for i := lo; i < hi; i++ {
			if c := t.core(i); !final(c.status) {
				live = append(live, i)
			}
		}
		t.ov.mu.Lock()
		t.ov.live, t.ov.seeded = live, true
		t.ov.mu.Unlock()
	}
	var st tradeState
	var event string
	var topics []string
	k := -1
	if len(t.ov.live) == 0 || rng.Intn(100) < 25 {
		i := t.count()
		created := now
		if i > 0 {
			created = max(now, t.created(i-1))
		}
		st = tradeState{tcore: tcore{i: i, created: created, modified: created, status: stWaitPay, typ: t.typeOf(i)}}
		event, topics = "created", []string{"taobao_trade_TradeCreate"}
	} else {
		k = rng.Intn(len(t.ov.live))
		i := t.ov.live[k]
		if old, ok := t.overlaid(i); ok {
			st = *old
		} else {
			v := t.view(i)
			st = tradeState{tcore: v.tcore, payTime: v.payTime, consign: v.consign, endTime: v.endTime}
		}
		event, topics = step(&st, now, rng)
	}
	t.ov.mu.Lock()
	t.ov.trades[st.i] = &st
	t.ov.any = true
	switch {
	case k < 0:
		t.ov.extra++
		t.ov.live = append(t.ov.live, st.i)
	case final(st.status):
		t.ov.live[k] = t.ov.live[len(t.ov.live)-1]
		t.ov.live = t.ov.live[:len(t.ov.live)-1]
	}
	t.ov.mu.Unlock()
	t.cache.clear()

	v := t.view(st.i)
	ch := cl.record(Change{Tid: v.tid, Event: event, Status: v.status, Modified: fmtTime(v.modified), Topics: topics})
	for _, topic := range topics {
		s.tmc.publish(topic, tradeContent(v, topic), sellerNick, s.opts.Now())
	}
	return ch
}

// step moves st one event along its life, at now; it returns the event and
// the topics it publishes.
func step(st *tradeState, now int64, rng *rand.Rand) (string, []string) {
	st.modified = max(now, st.modified)
	r := rng.Intn(100)
	switch st.status {
	case stWaitPay:
		if r < 85 {
			st.status, st.payTime = stWaitSend, st.modified
			return "paid", []string{"taobao_trade_TradeBuyerPay"}
		}
		st.status, st.endTime = stClosedByTB, st.modified
		return "closed", []string{"taobao_trade_TradeClose"}
	case stWaitSend:
		switch {
		case st.refund == refundWaiting:
			st.status, st.refund, st.endTime = stClosed, refundDone, st.modified
			return "refunded", []string{"taobao_refund_RefundSuccess", "taobao_trade_TradeClose"}
		case r < 55:
			st.status, st.consign = stWaitConfirm, st.modified
			return "shipped", []string{"taobao_trade_TradeSellerShip"}
		case r < 80:
			return "modified", []string{"taobao_trade_TradeMemoModified"}
		default:
			st.refund = refundWaiting
			return "refund_created", []string{"taobao_refund_RefundCreated"}
		}
	default: // stWaitConfirm
		if r < 60 {
			st.status, st.endTime = stFinished, st.modified
			return "finished", []string{"taobao_trade_TradeSuccess"}
		}
		return "modified", []string{"taobao_trade_TradeChanged"}
	}
}

// Refund states of a churned trade's orders.
const (
	refundWaiting = "WAIT_SELLER_AGREE"
	refundDone    = "SUCCESS"
)

// final reports whether a trade no longer changes.
func final(status string) bool {
	return status == stFinished || status == stClosed || status == stClosedByTB
}

// refundID is the refund of trade tid (one per trade).
func refundID(tid int64) int64 { return tid/10*10 + 7 }

// tradeContent is the content of a trade or refund message about v.
func tradeContent(v *tradeView, topic string) string {
	o := v.orders[0]
	if len(topic) > 14 && topic[:14] == "taobao_refund_" {
		return string(appendJSON(nil, obj{
			{"refund_id", refundID(v.tid)}, {"tid", v.tid}, {"oid", o.oid}, {"buyer_nick", v.buyer},
			{"seller_nick", sellerNick}, {"refund_fee", money(v.payment)}, {"refund_phase", "onsale"},
		}, true))
	}
	return string(appendJSON(nil, obj{
		{"buyer_nick", v.buyer}, {"payment", money(v.payment)}, {"oid", o.oid}, {"tid", v.tid},
		{"type", v.typ}, {"seller_nick", sellerNick}, {"status", v.status},
	}, true))
}

// clear empties the cache (the trades changed).
func (c *queryCache) clear() {
	c.mu.Lock()
	c.entries = c.entries[:0]
	c.mu.Unlock()
}

// reset empties the overlay and the change log.
func (s *Server) resetChurn() {
	t := s.trades
	t.ov.mu.Lock()
	t.ov.any, t.ov.trades, t.ov.extra, t.ov.live, t.ov.seeded = false, map[int]*tradeState{}, 0, nil, false
	t.ov.mu.Unlock()
	t.cache.clear()
	s.changes.mu.Lock()
	s.changes.entries, s.changes.next = nil, 0
	s.changes.rng = rand.New(rand.NewSource(s.opts.Seed))
	s.changes.mu.Unlock()
}

// churnLoop causes rate trade events a second until stop closes.
func (s *Server) churnLoop(rate float64, stop <-chan struct{}) {
	every := max(time.Duration(float64(time.Second)/rate), 5*time.Millisecond)
	t := time.NewTicker(every)
	defer t.Stop()
	start := time.Now()
	var done int64
	for {
		select {
		case <-stop:
			return
		case now := <-t.C:
			due := int64(rate * now.Sub(start).Seconds())
			for ; done < due; done++ {
				s.churnOne()
			}
		}
	}
}

// serveChurnAdmin serves GET /_sandbox/changes?since=SEQ (the change log
// after SEQ) and POST /_sandbox/churn?n=N (N trade events now).
func (s *Server) serveChurnAdmin(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	var changes []Change
	switch r.URL.Path {
	case "/_sandbox/changes":
		since := int64(0)
		if v := r.URL.Query().Get("since"); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 {
				http.Error(w, "since: want a change sequence number (0 or more)", http.StatusBadRequest)
				return
			}
			since = n
		}
		changes = s.Changes(since)
	default: // /_sandbox/churn
		if r.Method != http.MethodPost {
			http.Error(w, "POST only", http.StatusMethodNotAllowed)
			return
		}
		n, err := strconv.Atoi(r.URL.Query().Get("n"))
		if err != nil || n < 1 || n > 100_000 {
			http.Error(w, "n: want a number of trade events between 1 and 100000", http.StatusBadRequest)
			return
		}
		changes = s.Churn(n)
	}
	if changes == nil {
		changes = []Change{}
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"changes": changes})
}
