package sandbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Default credentials of a sandbox.
const (
	DefaultAppKey    = "12345678"
	DefaultAppSecret = "sandbox-secret"
	DefaultSession   = "sandbox-session"
)

// Defaults for zero Options fields.
const (
	DefaultSeed   = 1
	DefaultTrades = 3000
	DefaultItems  = 320
	// MaxItems is the largest Options.Items.
	MaxItems = 100_000
	// MaxTrades is the largest Options.Trades.
	MaxTrades = 10_000_000
)

// Options configure a sandbox. Zero fields take defaults.
type Options struct {
	AppKey    string // DefaultAppKey
	AppSecret string // DefaultAppSecret
	Session   string // DefaultSession
	// Sessions are further sessions of the same seller, as a renewed
	// authorisation gives (the shop is the same; only the session changed).
	Sessions []string
	// QPS limits calls per app key over a rolling one-second window; over it
	// a call answers code 7 and is not applied. 0 is unlimited.
	QPS float64
	// Latency is slept per HTTP request (cut short when the client goes away).
	Latency time.Duration
	// Faults are injected per call.
	Faults Faults
	// Seed seeds the data and the fault draws (default 1).
	Seed int64
	// Trades is the number of trades (default 3000, up to MaxTrades; they
	// are derived on demand, so a million cost nothing up front).
	Trades int
	// Items is the number of items on sale (default 320, 1 to MaxItems;
	// 9 in 10 have SKUs, about 4 each). The first items are the same
	// whatever the number; the distribution products differ.
	Items int
	// Now is the gateway clock (default time.Now).
	Now func() time.Time
	// Churn causes this many trade events a second (churn.go); 0 is none.
	Churn float64
	// TMC configures the message channel (tmc.go).
	TMC TMCOptions
	// Shops is the number of shops of the app, each with its own seeded
	// data and session (shops.go; default 1, at most MaxShops).
	Shops int
	// Tokens sets the lifetimes of the tokens the OAuth endpoints issue
	// (oauth.go).
	Tokens TokenOptions
}

// Server is a sandbox gateway. It is an http.Handler; Start serves it on a
// listener of its own.
type Server struct {
	opts    Options
	base    time.Time // data are dated relative to this (Options.Now at New)
	trades  *tradeStore
	mu      sync.RWMutex
	st      *state
	stats   *stats
	faults  *roller
	limit   *limiter
	latency latency // Options.Latency, changed at run time (latency.go)
	banMu   sync.Mutex
	banTill time.Time               // the app's ban (BanApp)
	apiBans map[apiBanKey]time.Time // bans of one API (BanAPI, BanAppAPI)
	reqSeq  atomic.Uint64
	reqSalt uint64
	tmc     *tmcHub
	changes changeLog
	stopBg  chan struct{} // ends the churn loop and the TMC ticker
	bgOnce  sync.Once

	lnMu sync.Mutex
	hs   *http.Server
	url  string

	// shops.go: the seller whose data this server holds (zero: shop 1),
	// and on the first shop's server every shop and their fixed sessions.
	shop     shopIdentity
	shops    []*Server
	sessions map[string]*Server
	// auth issues and checks OAuth codes and tokens (oauth.go).
	auth *authority
}

// New creates a sandbox.
func New(o Options) (*Server, error) {
	if o.AppKey == "" {
		o.AppKey = DefaultAppKey
	}
	if o.AppSecret == "" {
		o.AppSecret = DefaultAppSecret
	}
	if o.Session == "" {
		o.Session = DefaultSession
	}
	if o.Seed == 0 {
		o.Seed = DefaultSeed
	}
	if o.Trades == 0 {
		o.Trades = DefaultTrades
	}
	if o.Items == 0 {
		o.Items = DefaultItems
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Shops == 0 {
		o.Shops = 1
	}
	if err := o.Tokens.fill(); err != nil {
		return nil, err
	}
	switch {
	case o.Shops < 1 || o.Shops > MaxShops:
		return nil, fmt.Errorf("sandbox: shops must be between 1 and %d, got %d", MaxShops, o.Shops)
	case o.Trades < 0 || o.Trades > MaxTrades:
		return nil, fmt.Errorf("sandbox: trades must be between 0 and %d, got %d", MaxTrades, o.Trades)
	case o.Items < 1 || o.Items > MaxItems:
		return nil, fmt.Errorf("sandbox: items must be between 1 and %d, got %d", MaxItems, o.Items)
	case o.QPS < 0 || math.IsNaN(o.QPS):
		return nil, fmt.Errorf("sandbox: qps must not be negative, got %v", o.QPS)
	case o.Latency < 0 || o.Latency > MaxLatency:
		return nil, fmt.Errorf("sandbox: latency must be between 0 and %s, got %v", MaxLatency, o.Latency)
	case o.Churn < 0 || o.Churn > 100_000 || math.IsNaN(o.Churn):
		return nil, fmt.Errorf("sandbox: churn must be between 0 and 100000 trade events a second, got %v", o.Churn)
	case o.TMC.Duplicates < 0 || o.TMC.Duplicates > 1 || math.IsNaN(o.TMC.Duplicates):
		return nil, fmt.Errorf("sandbox: tmc duplicates must be a probability between 0 and 1, got %v", o.TMC.Duplicates)
	}
	if err := o.Faults.validate(); err != nil {
		return nil, err
	}
	s := &Server{
		opts:    o,
		base:    o.Now().Truncate(time.Second),
		stats:   newStats(),
		faults:  newRoller(o.Faults, o.Seed),
		limit:   newLimiter(o.QPS),
		reqSalt: mix(uint64(time.Now().UnixNano())),
	}
	s.latency.set(o.Latency)
	s.st = genState(o.Seed, s.base, o.Items)
	// Trades show the seed items as they were: writes change s.st, not them.
	s.trades = newTradeStore(o.Trades, o.Seed, s.base, cloneItems(s.st.items))
	s.resetChurn()
	s.stopBg = make(chan struct{})
	s.tmc = newTMCHub(s, o.TMC)
	s.auth = newAuthority(o.Tokens)
	if err := s.addShops(); err != nil {
		s.Close()
		return nil, err
	}
	if o.Churn > 0 {
		go s.churnLoop(o.Churn, s.stopBg)
	}
	return s, nil
}

// StartLocal creates a sandbox with o and serves it on a free loopback
// port (127.0.0.1:0); URL tells where. It is what --sandbox, the bench and
// the tests start.
func StartLocal(o Options) (*Server, error) {
	s, err := New(o)
	if err != nil {
		return nil, err
	}
	if err := s.Start("127.0.0.1:0"); err != nil {
		return nil, err
	}
	return s, nil
}

// Options returns the effective options (defaults filled in), with the
// latency in force now.
func (s *Server) Options() Options {
	o := s.opts
	o.Latency = s.Latency()
	return o
}

// Start listens on addr (e.g. "127.0.0.1:0") and serves in the background.
func (s *Server) Start(addr string) error {
	s.lnMu.Lock()
	defer s.lnMu.Unlock()
	if s.hs != nil {
		return errors.New("sandbox: already started")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("sandbox: %w", err)
	}
	hs := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	s.hs = hs
	s.url = "http://" + ln.Addr().String() + "/router/rest"
	go func() { _ = hs.Serve(ln) }() // not s.hs: Close may have cleared it already
	return nil
}

// URL is the REST endpoint, "http://127.0.0.1:PORT/router/rest" once started.
func (s *Server) URL() string {
	s.lnMu.Lock()
	defer s.lnMu.Unlock()
	return s.url
}

// Close stops serving, the churn and the TMC channel, and closes open
// connections.
func (s *Server) Close() error {
	s.bgOnce.Do(func() { close(s.stopBg); s.tmc.close(); s.closeShops() })
	s.lnMu.Lock()
	defer s.lnMu.Unlock()
	if s.hs == nil {
		return nil
	}
	err := s.hs.Close()
	s.hs = nil
	return err
}

// Stats returns a copy of the counters.
func (s *Server) Stats() Stats { return s.stats.snapshot() }

// Reset restores the seed data (every shop's), zeroes the stats, lifts any
// ban and restarts the fault draws. Issued OAuth tokens stay valid.
func (s *Server) Reset() {
	for _, sh := range s.shops {
		if sh != s {
			sh.Reset()
		}
	}
	st := genState(s.opts.Seed, s.base, s.opts.Items)
	s.mu.Lock()
	s.st = st
	s.mu.Unlock()
	s.stats.reset()
	s.resetChurn()
	s.tmc.reset()
	s.faults.reset(s.opts.Seed)
	s.limit.reset()
	s.banMu.Lock()
	s.banTill, s.apiBans = time.Time{}, nil
	s.banMu.Unlock()
}

// BanScope is what a code-7 ban limits; each answers its own sub_code.
type BanScope uint8

// The three scopes of code 7.
const (
	// BanApp limits the whole app: accesscontrol.limited-by-app-access-count.
	BanApp BanScope = iota
	// BanAPI limits one API for every app:
	// accesscontrol.limited-by-api-access-count.
	BanAPI
	// BanAppAPI limits one API for this app:
	// accesscontrol.limited-by-app-api-access-count.
	BanAppAPI
)

// ParseBanScope reads "app", "api" or "app_api" ("app-api").
func ParseBanScope(s string) (BanScope, error) {
	switch s {
	case "", "app":
		return BanApp, nil
	case "api":
		return BanAPI, nil
	case "app_api", "app-api":
		return BanAppAPI, nil
	}
	return 0, fmt.Errorf("ban scope %q: want app, api or app_api", s)
}

// subCode is the scope's code-7 sub_code.
func (b BanScope) subCode() string {
	switch b {
	case BanAPI:
		return "accesscontrol.limited-by-api-access-count"
	case BanAppAPI:
		return "accesscontrol.limited-by-app-api-access-count"
	}
	return banSubCode
}

type apiBanKey struct {
	scope  BanScope
	method string
}

// Ban bans the app key for d: every call answers code 7 with "This ban will
// last for N more seconds". d <= 0 lifts a ban.
func (s *Server) Ban(d time.Duration) { s.BanScoped(BanApp, "", d) }

// BanScoped bans the app (BanApp; method is ignored) or one API (BanAPI,
// BanAppAPI: calls of method answer code 7 with the scope's sub_code, the
// others go through) for d; d <= 0 lifts that ban.
func (s *Server) BanScoped(scope BanScope, method string, d time.Duration) {
	var until time.Time
	if d > 0 {
		until = time.Now().Add(d)
	}
	s.banMu.Lock()
	defer s.banMu.Unlock()
	if scope == BanApp {
		s.banTill = until
		return
	}
	k := apiBanKey{scope, method}
	if until.IsZero() {
		delete(s.apiBans, k)
		return
	}
	if s.apiBans == nil {
		s.apiBans = map[apiBanKey]time.Time{}
	}
	s.apiBans[k] = until
}

// banned returns the time left of the ban that holds a call of method (the
// app's first, then the API's), and its scope.
func (s *Server) banned(now time.Time, method string) (time.Duration, BanScope) {
	s.banMu.Lock()
	defer s.banMu.Unlock()
	if !s.banTill.IsZero() && s.banTill.After(now) {
		return s.banTill.Sub(now), BanApp
	}
	for _, sc := range []BanScope{BanAPI, BanAppAPI} {
		k := apiBanKey{sc, method}
		if until, ok := s.apiBans[k]; ok {
			if until.After(now) {
				return until.Sub(now), sc
			}
			delete(s.apiBans, k)
		}
	}
	return 0, BanApp
}

// requestID makes a ~12-char lowercase alphanumeric id.
func (s *Server) requestID() string {
	x := mix(s.reqSeq.Add(1) ^ s.reqSalt)
	const digits = "0123456789abcdefghijklmnopqrstuvwxyz"
	var b [12]byte
	for i := range b {
		b[i] = digits[x%36]
		x /= 36
	}
	return string(b[:])
}

// ServeHTTP serves the gateway and the admin endpoints.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/router/rest", "/router/rest/":
		s.stats.requests.Add(1)
		defer s.stats.serving()()
		s.serveRest(w, r)
	case "/router/batch", "/router/batch/":
		s.stats.requests.Add(1)
		defer s.stats.serving()()
		s.serveBatch(w, r)
	case "/_sandbox/stats":
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(s.Stats())
	case "/_sandbox/reset":
		if r.Method != http.MethodPost {
			http.Error(w, "POST only", http.StatusMethodNotAllowed)
			return
		}
		s.Reset()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"ok":true}` + "\n"))
	case "/_sandbox/ban":
		if r.Method != http.MethodPost {
			http.Error(w, "POST only", http.StatusMethodNotAllowed)
			return
		}
		q := r.URL.Query()
		sec, err := strconv.ParseFloat(q.Get("seconds"), 64)
		if err != nil || sec < 0 || sec > 1e7 || math.IsNaN(sec) {
			http.Error(w, "seconds: want a number of seconds between 0 and 1e7", http.StatusBadRequest)
			return
		}
		scope, err := ParseBanScope(q.Get("scope"))
		if err != nil {
			http.Error(w, "scope: "+err.Error(), http.StatusBadRequest)
			return
		}
		if scope != BanApp && q.Get("method") == "" {
			http.Error(w, "method: an API-scoped ban needs the method it limits", http.StatusBadRequest)
			return
		}
		s.BanScoped(scope, q.Get("method"), time.Duration(sec*float64(time.Second)))
		w.Header().Set("Content-Type", "application/json")
		_, _ = fmt.Fprintf(w, "{\"ok\":true,\"seconds\":%s}\n", strconv.FormatFloat(sec, 'f', -1, 64))
	case "/_sandbox/latency":
		s.serveLatencyAdmin(w, r)
	case "/tmc", "/tmc/":
		s.serveTMC(w, r)
	case "/_sandbox/tmc", "/_sandbox/tmc/drop":
		s.serveTMCAdmin(w, r)
	case "/_sandbox/changes", "/_sandbox/churn":
		s.serveChurnAdmin(w, r)
	case "/authorize", "/token", "/_sandbox/shops", "/_sandbox/oauth":
		s.serveOAuth(w, r)
	default:
		http.NotFound(w, r)
	}
}

// sleep waits d or until ctx is done; false if ctx ended first.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// serveRest handles one /router/rest request.
func (s *Server) serveRest(w http.ResponseWriter, r *http.Request) {
	arrived := time.Now() // bans and QPS count the call here, before the latency (see invoke)
	if !sleep(r.Context(), s.Latency()) {
		return
	}
	reqID := s.requestID()
	p, files, perr := parseRequest(r)
	rd := renderFor(p)
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		s.reply(w, rd, nil, sysErr(9, "Http Action Not Allowed"), reqID, "", faultNone)
		return
	}
	method := p["method"]
	if method != "" {
		s.stats.call(method)
	}
	if perr != nil {
		s.reply(w, rd, nil, &apiErr{code: 43, msg: "Parameter error", subCode: "isv.invalid-parameter", subMsg: "请求无法解析或过大"}, reqID, "", faultNone)
		return
	}
	var a *api
	switch {
	case method == "":
		s.reply(w, rd, nil, sysErr(21, "Missing method"), reqID, "", faultNone)
		return
	default:
		if a = apiFor(method); a == nil {
			s.reply(w, rd, nil, sysErr(22, "Invalid method"), reqID, "", faultNone)
			return
		}
	}
	now := s.opts.Now()
	if e := s.checkCommon(p, files, nil, now); e != nil {
		s.reply(w, rd, nil, e, reqID, "", faultNone)
		return
	}
	payload, e, f := s.invoke(a, p, files, now, arrived, true)
	s.reply(w, rd, payload, e, reqID, a.root, f)
}

// invoke runs an authenticated call: session, ban, QPS, faults, required
// params, handler. It returns the payload or the error and the transport
// fault to apply to the answer (only when transport is true). Bans and
// the QPS window count the call when its request arrived, before the
// latency was slept, as a gateway's flow control does at its door: counted
// after the sleep, the calls of a loaded host (whose timers fire late and
// together) reached the window bunched, and a client paced under the
// limit met code 7.
func (s *Server) invoke(a *api, p map[string]string, files map[string]bool, now, arrived time.Time, transport bool) (obj, *apiErr, fault) {
	sv, e := s.authorize(a, p)
	if e != nil {
		return nil, e, faultNone
	}
	wall := arrived
	if d, scope := s.banned(wall, a.name); d > 0 {
		return nil, banError(scope, d), faultNone
	}
	if !s.limit.allow(wall) {
		return nil, banError(BanApp, time.Second), faultNone
	}
	if e := checkRequired(a, p, files); e != nil {
		return nil, e, faultNone
	}
	f, variant := s.faults.roll()
	switch f {
	case faultBan:
		d := time.Second + time.Duration(variant%1000)*time.Millisecond
		s.Ban(d)
		return nil, banError(BanApp, d), faultNone
	case faultISP:
		return nil, ispError(variant), faultNone
	case fault502, fault502Applied, faultDrop, faultTruncate:
		if !transport {
			f = faultNone
		}
	}
	if f == fault502 {
		return nil, nil, f
	}
	c := &call{api: a, p: p, files: files, now: now}
	payload, e := a.handle(sv, c)
	if e == nil && len(c.writes) > 0 {
		s.stats.write(a.name, c.writes)
		sv.publishWrites(a.name, c.writes, now)
	}
	switch {
	case e != nil && (f == faultISPApplied || f == fault502Applied):
		return nil, e, faultNone // nothing was applied: the call's own answer
	case f == faultISPApplied:
		return nil, ispAppliedError(variant), faultNone
	case f == fault502Applied:
		return nil, nil, f
	}
	return payload, e, f
}

const badGatewayBody = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>Tengine</center>\r\n</body>\r\n</html>\r\n"

// reply writes a call's answer, applying a transport fault.
func (s *Server) reply(w http.ResponseWriter, rd render, payload obj, e *apiErr, reqID, root string, f fault) {
	if f == fault502 || f == fault502Applied {
		s.stats.errKey(f.statsKey())
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusBadGateway)
		_, _ = w.Write([]byte(badGatewayBody))
		return
	}
	buf := getBuf()
	body := s.answer(*buf, rd, payload, e, reqID, root)
	s.writeBody(w, rd.contentType(), body, f)
	putBuf(buf, body)
}

// answer appends to b a payload or an error (counting it).
func (s *Server) answer(b []byte, rd render, payload obj, e *apiErr, reqID, root string) []byte {
	if e != nil {
		s.stats.err(e)
		return rd.errorBody(b, e, reqID)
	}
	return rd.envelope(b, root, payload, reqID)
}

// writeBody writes body, or drops the connection, or sends half of it.
func (s *Server) writeBody(w http.ResponseWriter, contentType string, body []byte, f fault) {
	switch f {
	case faultDrop:
		s.stats.errKey(f.statsKey())
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				_ = conn.Close()
				return
			}
		}
		// Not hijackable (HTTP/2, recorders): answer nothing at all.
		return
	case faultTruncate:
		s.stats.errKey(f.statsKey())
		body = body[:len(body)/2]
	}
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	_, _ = w.Write(body)
}
