package sandbox

import (
	"fmt"
	"strconv"
)

// Several shops (Options.Shops): one app serving N sellers, as an ISV's
// app does. Shop 1 is the seller of the package doc, with Options.Session
// and Options.Sessions. Shop k (2..N) is a seller of its own:
//   - user_id 2206571234567 + k - 1, nick "topscript沙箱店<k>" (what
//     taobao.user.seller.get and the token results answer);
//   - its session Options.Session + "-<k>" ("sandbox-session-2"), plus
//     the tokens the OAuth endpoints issue for it (oauth.go);
//   - its own seeded data, from a seed of its own: items, SKUs,
//     distribution products and trades, whose ids are distinct from every
//     other shop's (trade ids are shifted by (k-1)·10^13; a shop whose
//     drawn item, SKU or product ids meet an earlier shop's is drawn again
//     from the next seed).
//
// Calls are routed by their session to the shop's data; the gateway's
// checks, the app's QPS window, bans, injected faults and the counters
// (Stats) are the app's, shared by every shop. Limitations (choices of
// this emulator): trade churn, the change log and the message channel
// (/tmc) are shop 1's; the other shops' writes publish no message a
// consumer can receive; the nick inside item and trade fields is shop
// 1's for every shop (taobao.user.seller.get and the token results tell
// each shop's own).

// MaxShops is the largest Options.Shops.
const MaxShops = 100

// shopTidShift separates the trade ids of consecutive shops: more than
// MaxTrades trades fit between them.
const shopTidShift int64 = 10_000_000_000_000

// ShopInfo is one shop of a sandbox, as Server.Shops lists it (and
// GET /_sandbox/shops).
type ShopInfo struct {
	Index   int    `json:"index"` // 1..Options.Shops
	UserID  int64  `json:"user_id"`
	Nick    string `json:"nick"`
	Session string `json:"session"` // its fixed session, which never expires
}

// shopIdentity is the seller a Server's data belongs to.
type shopIdentity struct {
	index  int
	userID int64
	nick   string
}

// firstShop is shop 1's identity.
var firstShop = shopIdentity{index: 1, userID: sellerUserID, nick: sellerNick}

// seller returns the identity of the shop whose data s holds.
func (s *Server) seller() shopIdentity {
	if s.shop.index == 0 {
		return firstShop
	}
	return s.shop
}

// shopSession is the fixed session of shop k of o.
func shopSession(o Options, k int) string {
	if k == 1 {
		return o.Session
	}
	return o.Session + "-" + strconv.Itoa(k)
}

// addShops builds shops 2..Options.Shops of root and the table of fixed
// sessions.
func (s *Server) addShops() error {
	o := s.opts
	s.shops = []*Server{s}
	s.sessions = map[string]*Server{o.Session: s}
	for _, sess := range o.Sessions {
		s.sessions[sess] = s
	}
	seen := map[int64]bool{}
	s.shopIDs(func(id int64) { seen[id] = true })
	for k := 2; k <= o.Shops; k++ {
		sh, err := s.newShop(k, seen)
		if err != nil {
			s.closeShops()
			return err
		}
		s.shops = append(s.shops, sh)
		sess := shopSession(o, k)
		if _, dup := s.sessions[sess]; dup {
			s.closeShops()
			return fmt.Errorf("sandbox: shop %d's session %q is also another shop's", k, sess)
		}
		s.sessions[sess] = sh
	}
	return nil
}

// newShop makes shop k, drawing its data until none of its ids is in seen
// (then adding them there).
func (s *Server) newShop(k int, seen map[int64]bool) (*Server, error) {
	o := s.opts
	o.Shops, o.Churn, o.Sessions = 1, 0, nil
	o.Session = shopSession(s.opts, k)
	for try := int64(0); ; try++ {
		o.Seed = s.opts.Seed + int64(k)*7919 + try
		sh, err := New(o)
		if err != nil {
			return nil, err
		}
		clash := false
		sh.shopIDs(func(id int64) { clash = clash || seen[id] })
		if clash && try < 1000 {
			sh.Close()
			continue
		}
		sh.shopIDs(func(id int64) { seen[id] = true })
		sh.shop = shopIdentity{index: k, userID: sellerUserID + int64(k) - 1, nick: "topscript沙箱店" + strconv.Itoa(k)}
		sh.trades.idShift = int64(k-1) * shopTidShift
		// The app's counters, QPS window and faults are shared; every call
		// is checked by the first shop's server (invoke), which hands the
		// shop's data to the API.
		sh.stats, sh.limit, sh.faults = s.stats, s.limit, s.faults
		return sh, nil
	}
}

// shopIDs calls fn with every item, SKU and distribution product id of
// s's seed data.
func (s *Server) shopIDs(fn func(int64)) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for i := range s.st.items {
		fn(s.st.items[i].numIID)
		for _, k := range s.st.items[i].skus {
			fn(k.id)
		}
	}
	for i := range s.st.fx {
		fn(s.st.fx[i].pid)
		for _, k := range s.st.fx[i].skus {
			fn(k.id)
		}
	}
}

// closeShops closes shops 2..N.
func (s *Server) closeShops() {
	for _, sh := range s.shops {
		if sh != s {
			sh.Close()
		}
	}
}

// Shops lists the sandbox's shops.
func (s *Server) Shops() []ShopInfo {
	out := make([]ShopInfo, len(s.shops))
	for i, sh := range s.shops {
		id := sh.seller()
		out[i] = ShopInfo{Index: i + 1, UserID: id.userID, Nick: id.nick, Session: shopSession(s.opts, i+1)}
	}
	return out
}

// shopOf returns the shop (1-based) index k's server, or nil.
func (s *Server) shopOf(k int) *Server {
	if k < 1 || k > len(s.shops) {
		return nil
	}
	return s.shops[k-1]
}

// authorize checks the session of a call of a (26, 27, 53) and returns
// the server holding the data of the session's shop: every shop's fixed
// sessions and the tokens the OAuth endpoints issued (expired ones answer
// 27; a token whose window for the call's security level has closed
// answers 53). An API that needs no session runs on shop 1's data.
func (s *Server) authorize(a *api, p map[string]string) (*Server, *apiErr) {
	if a.session == sessionNone {
		return s, nil
	}
	sess := p["session"]
	switch {
	case sess == "" && a.session == sessionIfGiven:
		return s, nil
	case sess == "":
		return nil, sysErr(26, "Missing session")
	}
	if sh := s.sessions[sess]; sh != nil {
		return sh, nil
	}
	k, e := s.auth.check(sess, levelOf(a))
	if e != nil {
		return nil, e
	}
	return s.shopOf(k), nil
}

// errInvalidSession is code 27.
func errInvalidSession() *apiErr {
	return &apiErr{code: 27, msg: "Invalid session", subCode: "invalid-sessionkey",
		subMsg: "非法或过期的SessionKey参数，请使用有效的SessionKey参数"}
}
