// Package top is the Taobao Open Platform (TOP) protocol client: signing,
// parameter encoding, exact decoding, typed errors, one retry policy,
// client-side throttling, platform closure windows and paging. It knows
// nothing of Lua.
//
// A Client is safe for concurrent use; concurrent calls share its throttle,
// its code-7 ban hold-backs and its HTTP connections.
package top

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/topscript/topscript/internal/redact"
	"github.com/topscript/topscript/top/catalog"
	"github.com/topscript/topscript/toptime"
)

// PartnerID is sent as partner_id on every call.
const PartnerID = "topscript"

// maxBody bounds a response body.
const maxBody = 64 << 20

// Client calls the TOP gateway. Create it with NewClient.
type Client struct {
	cfg      Config
	http     *http.Client
	clock    Clock
	logger   *slog.Logger
	throttle *throttle
	gates    *gates
	redactor redact.Redactor
	signer   *signer // keyed digests reused across calls
	// lastStamp is the last timestamp formatted (see timestamp).
	lastStamp atomic.Pointer[stamp]
	// defaultHTTP makes the client's own HTTP client, at the first
	// request, when WithHTTPClient gave none (http is nil then).
	defaultHTTP func() *http.Client
	// batchTurn (capacity 1) lets one batch at a time take its throttle
	// tokens, so concurrent batches do not interleave theirs (see
	// CallBatch).
	batchTurn chan struct{}

	// sharedLimiter and sharedBans share the throttle and the ban
	// hold-backs with other processes (WithShared; see shared.go).
	sharedLimiter SharedLimiter
	sharedBans    *sharedBans

	// sessions gives the session of calls naming none (WithSessions).
	sessions SessionSource

	// onLongBan is told of each ban too long to wait out (WithLongBan).
	onLongBan func(LongBan)

	// hooks for tests; nil means the catalog.
	isWriteFn      func(method string) bool
	isIdempotentFn func(method string, params map[string]string) bool
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient sets the HTTP client (transport, proxies, TLS). Its own
// Timeout should be zero: the client sets a deadline per attempt from
// Config.Timeout.
func WithHTTPClient(h *http.Client) Option {
	return func(c *Client) {
		if h != nil {
			c.http = h
		}
	}
}

// WithClock sets the clock used for timestamps and every wait.
func WithClock(clk Clock) Option {
	return func(c *Client) {
		if clk != nil {
			c.clock = clk
		}
	}
}

// WithLogger sets the logger. The client logs one debug line per attempt
// (method, attempt, duration, code) and never logs the app secret, the
// session or the sign. The default discards everything.
func WithLogger(l *slog.Logger) Option {
	return func(c *Client) {
		if l != nil {
			c.logger = l
		}
	}
}

// LongBan is a code-7 ban the gateway answered that lasts longer than
// Retry.MaxBanWait: the call fails with it instead of waiting it out, and
// its scope stays shut for the ban's duration.
type LongBan struct {
	Method string        // the call that ran into it
	Scope  string        // what it holds back: "app", "api:<method>", "app-api:<method>", "session:<hash>"
	Wait   time.Duration // how long it lasts from the answer
	Err    *Error        // the gateway's answer
}

// WithLongBan has f told of each ban the gateway answers that is longer
// than Retry.MaxBanWait, once per answer, on the goroutine of the call
// (f must not block). Calls that find the ban's scope already shut fail
// without telling f again. Clients made by WithSessions share f.
func WithLongBan(f func(LongBan)) Option {
	return func(c *Client) { c.onLongBan = f }
}

// NewClient returns a client for cfg. Zero fields take their defaults
// (DefaultConfig): Gateway, SignMethod, Timeout, Retry.MaxAttempts,
// Retry.Backoff, Retry.MaxBackoff and Retry.MaxBanWait; a negative
// MaxBanWait means never wait out a ban. Simplify is taken as given.
// AppKey and AppSecret are required.
func NewClient(cfg Config, opts ...Option) (*Client, error) {
	def := DefaultConfig()
	if cfg.AppKey == "" {
		return nil, errors.New("top: app key is required")
	}
	if cfg.AppSecret == "" {
		return nil, errors.New("top: app secret is required")
	}
	if cfg.Gateway == "" {
		cfg.Gateway = def.Gateway
	}
	u, err := url.Parse(cfg.Gateway)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("top: gateway %q is not an http(s) URL", redact.URL(cfg.Gateway))
	}
	if cfg.SignMethod == "" {
		cfg.SignMethod = def.SignMethod
	}
	if !validSignMethod(cfg.SignMethod) {
		return nil, fmt.Errorf("top: unknown sign method %q (want md5, hmac or hmac-sha256)", string(cfg.SignMethod))
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = def.Timeout
	}
	r := &cfg.Retry
	if r.MaxAttempts <= 0 {
		r.MaxAttempts = def.Retry.MaxAttempts
	}
	if r.Backoff <= 0 {
		r.Backoff = def.Retry.Backoff
	}
	if r.MaxBackoff <= 0 {
		r.MaxBackoff = def.Retry.MaxBackoff
	}
	if r.MaxBackoff < r.Backoff {
		r.MaxBackoff = r.Backoff
	}
	if r.MaxBanWait == 0 {
		r.MaxBanWait = def.Retry.MaxBanWait
	}
	if r.MaxBanWait < 0 {
		r.MaxBanWait = 0
	}
	if cfg.Throttle.QPS < 0 {
		return nil, fmt.Errorf("top: throttle qps %v is negative", cfg.Throttle.QPS)
	}
	for _, g := range cfg.SkipValidation {
		if _, err := globCheck(g); err != nil {
			return nil, fmt.Errorf("top: skip_validation glob %q: %v", g, err)
		}
	}
	cfg.SkipValidation = append([]string(nil), cfg.SkipValidation...)
	for p, q := range cfg.Throttle.Methods {
		if _, err := globCheck(p); err != nil {
			return nil, fmt.Errorf("top: throttle method glob %q: %v", p, err)
		}
		if q < 0 {
			return nil, fmt.Errorf("top: throttle %q: qps %v is negative", p, q)
		}
	}
	if err := validateClosures(cfg.Closures); err != nil {
		return nil, fmt.Errorf("top: %v", err)
	}
	cfg.Closures = append([]Closure(nil), cfg.Closures...)

	c := &Client{
		cfg:       cfg,
		clock:     toptime.Wall,
		logger:    slog.New(slog.DiscardHandler),
		gates:     newGates(),
		redactor:  redact.New(cfg.AppSecret, cfg.Session),
		signer:    newSigner(cfg.AppSecret, cfg.SignMethod),
		batchTurn: make(chan struct{}, 1),
	}
	for _, o := range opts {
		if o != nil {
			o(c)
		}
	}
	if c.http == nil {
		// The default transport is made at the first request: cloning
		// http.DefaultTransport sets up HTTP/2, which a run that makes
		// no call (or a short CLI command) need not pay for.
		c.defaultHTTP = sync.OnceValue(func() *http.Client {
			tr := http.DefaultTransport.(*http.Transport).Clone()
			tr.MaxIdleConnsPerHost = 256
			return &http.Client{Transport: tr}
		})
	}
	c.throttle = newThrottle(c.clock, cfg.Throttle)
	c.throttle.shared = c.sharedLimiter
	return c, nil
}

func globCheck(p string) (bool, error) { return path.Match(p, "") }

// Config returns the effective configuration, with the app secret and the
// session replaced by redact.Mark ("[REDACTED]") when set.
func (c *Client) Config() Config {
	cfg := c.cfg
	if cfg.AppSecret != "" {
		cfg.AppSecret = redact.Mark
	}
	if cfg.Session != "" {
		cfg.Session = redact.Mark
	}
	cfg.Throttle.Methods = nil
	if len(c.cfg.Throttle.Methods) > 0 {
		cfg.Throttle.Methods = make(map[string]float64, len(c.cfg.Throttle.Methods))
		for k, v := range c.cfg.Throttle.Methods {
			cfg.Throttle.Methods[k] = v
		}
	}
	cfg.Closures = append([]Closure(nil), c.cfg.Closures...)
	return cfg
}

// CallOptions adjust one call. A nil *CallOptions means all defaults.
type CallOptions struct {
	// Session overrides Config.Session for this call.
	Session string
	// Timeout overrides Config.Timeout for each HTTP attempt of this call.
	Timeout time.Duration
	// Retries is the number of retries after the first attempt: 0 means
	// none, a negative value means Config.Retry.MaxAttempts-1.
	Retries int
	// Simplify overrides Config.Simplify.
	Simplify *bool
	// SkipValidation sends the call without the catalog's checks (required
	// and unknown parameters, types, limits, allowed values), for an API
	// whose documentation is stale. Config.SkipValidation does the same
	// for every call of matching methods.
	SkipValidation bool
	// Idempotent, when set, overrides what the catalog says of a write:
	// true retries it even after a failure that may have applied it (a
	// write the catalog does not know to be safe to send twice); false
	// never sends it again once it may have reached the gateway (the
	// failure is KindUnknownOutcome), e.g. when a read-back settles it.
	Idempotent *bool
}

// call is one prepared call.
type call struct {
	method     string
	text       map[string]string
	files      map[string]File
	session    string
	timeout    time.Duration
	attempts   int
	simplify   bool
	write      bool
	idempotent bool
	redact     redact.Redactor
}

// Call calls method with params and returns the unwrapped answer. Every
// failure is an *Error (match with errors.As): a gateway error_response, a
// local validation failure (KindInvalid, nothing sent), a closure window
// (KindClosed), a transport failure, or a write whose outcome is unknown.
// The call honours ctx in every wait and request.
func (c *Client) Call(ctx context.Context, method string, params Params, o *CallOptions) (*Response, error) {
	if c == nil {
		return nil, &Error{Method: method, Kind: KindInvalid, Msg: "nil client"}
	}
	if ctx == nil {
		ctx = context.Background()
	}
	cl, err := c.prepare(method, params, o)
	if err != nil {
		return nil, err
	}
	if e := c.useSource(ctx, cl, o); e != nil {
		return nil, e
	}
	resp, err := c.do(ctx, cl)
	c.noteRefused(cl, err)
	return resp, err
}

// Validate encodes and checks a call as Call would — its parameters against
// the catalog, unless o or Config.SkipValidation turn that off — and sends
// nothing: a dry run can tell a write the catalog refuses from one that
// would be sent. The error is the *Error Call would return (KindInvalid).
func (c *Client) Validate(method string, params Params, o *CallOptions) error {
	if c == nil {
		return &Error{Method: method, Kind: KindInvalid, Msg: "nil client"}
	}
	_, err := c.prepare(method, params, o)
	return err
}

// prepare encodes and validates a call; nothing is sent.
func (c *Client) prepare(method string, params Params, o *CallOptions) (*call, error) {
	method = strings.TrimSpace(method)
	if method == "" {
		return nil, &Error{Kind: KindInvalid, Msg: "missing method name"}
	}
	if strings.ContainsAny(method, " \t\r\n&=") {
		return nil, &Error{Method: oneLine(method), Kind: KindInvalid, Msg: "malformed method name"}
	}
	if i := strings.IndexFunc(method, func(r rune) bool { return r < 0x20 || r == 0x7f }); i >= 0 {
		// Never sent: a control character would be signed and sent as is.
		return nil, &Error{Method: strconv.Quote(method), Kind: KindInvalid,
			Msg: fmt.Sprintf("malformed method name: a control character (%q) at byte %d", method[i], i+1)}
	}
	ep, err := encodeParams(params)
	if err != nil {
		return nil, &Error{Method: method, Kind: KindInvalid, Msg: c.redactor.Text(err.Error()), Err: err}
	}
	cl := &call{
		method:   method,
		text:     ep.text,
		files:    ep.files,
		session:  c.cfg.Session,
		timeout:  c.cfg.Timeout,
		attempts: c.cfg.Retry.MaxAttempts,
		simplify: c.cfg.Simplify,
	}
	if o != nil {
		if o.Session != "" {
			cl.session = o.Session
		}
		if o.Timeout > 0 {
			cl.timeout = o.Timeout
		}
		if o.Retries >= 0 {
			cl.attempts = o.Retries + 1
		}
		if o.Simplify != nil {
			cl.simplify = *o.Simplify
		}
	}
	cl.redact = c.redactor.With(cl.session)

	if err := c.validate(method, ep, o); err != nil {
		return nil, &Error{Method: method, Kind: KindInvalid, Msg: cl.redact.Text(err.Param + ": " + err.Reason), Err: err}
	}
	cl.write = c.IsWrite(method)
	cl.idempotent = c.isIdempotent(method, ep.text)
	if o != nil && o.Idempotent != nil {
		cl.idempotent = *o.Idempotent
	}
	return cl, nil
}

// validate checks a call against the catalog (catalog.AllChecks), unless
// the call's options or Config.SkipValidation turn that off or the catalog
// does not know the method (a new API: sent as it is).
func (c *Client) validate(method string, ep *encodedParams, o *CallOptions) *catalog.ValidationError {
	if o != nil && o.SkipValidation {
		return nil
	}
	for _, g := range c.cfg.SkipValidation {
		if ok, _ := path.Match(g, method); ok {
			return nil
		}
	}
	api, ok := catalog.Lookup(method)
	if !ok {
		return nil
	}
	var files map[string]bool
	if len(ep.files) > 0 {
		files = make(map[string]bool, len(ep.files))
		for k := range ep.files {
			files[k] = true
		}
	}
	var ve *catalog.ValidationError
	if err := api.Check(ep.text, files, catalog.AllChecks); errors.As(err, &ve) {
		return ve
	}
	return nil
}

// IsWrite reports whether method changes state: the catalog's answer, else
// a guess from the name (get, search, query, list, count… read; anything
// else writes).
func (c *Client) IsWrite(method string) bool {
	if c != nil && c.isWriteFn != nil {
		return c.isWriteFn(method)
	}
	return catalog.IsWrite(method)
}

// IsIdempotent reports whether a call of method with params may be sent
// twice to the effect of once (a price set may; a stock increment may
// not): reads are; writes as the catalog says, per parameters where it
// depends on them (taobao.item.quantity.update with type=1). Params that
// cannot be encoded count as not idempotent. A nil client answers from
// the catalog.
func (c *Client) IsIdempotent(method string, params Params) bool {
	ep, err := encodeParams(params)
	if err != nil {
		return false
	}
	if c == nil {
		c = &Client{}
	}
	return c.isIdempotent(method, ep.text)
}

// isIdempotent reports whether this call may be sent twice: reads are;
// writes as the catalog says (per parameters where it depends on them).
func (c *Client) isIdempotent(method string, params map[string]string) bool {
	if c.isIdempotentFn != nil {
		return c.isIdempotentFn(method, params)
	}
	if api, ok := catalog.Lookup(method); ok {
		return api.Access == catalog.Read || api.IdempotentFor(params)
	}
	return catalog.IsIdempotent(method)
}

// SetRate sets the client-side rate of calls matching pattern, a
// path.Match-style glob ("taobao.trades.sold.*"); "" or "*" is the whole
// app. qps <= 0 removes the limit. It takes effect for the next call.
// Under a shared limiter (WithShared) it changes the rate this process asks
// the limiter for: every process of the fleet must set the same one.
func (c *Client) SetRate(pattern string, qps float64) {
	if c == nil {
		return
	}
	c.throttle.set(pattern, qps)
}

// Rate returns the rate calls of method can go at under the client's
// throttle: the lowest of the app's rate and of every matching glob's,
// rates learned from code-7 bans included (see the throttle); 0 when none
// limits them. Method "" asks for the app's rate. Under a shared limiter it
// is the rate this process asks the limiter for, the fleet's, not this
// process's share of it.
func (c *Client) Rate(method string) float64 {
	if c == nil {
		return 0
	}
	return c.throttle.rate(method)
}

// attemptResult is the outcome of one HTTP exchange.
type attemptResult struct {
	resp      *Response
	err       *Error
	status    int
	retryable bool      // a transport failure worth another attempt
	reached   bool      // the request may have been processed by the gateway
	gateway   bool      // err is a gateway error_response
	sent      time.Time // when the attempt was sent (its throttle tokens taken)
}

// attempt signs and sends one request and decodes the answer. The throttle
// ticket is committed right before the request goes.
func (c *Client) attempt(ctx context.Context, cl *call, tk *ticket) attemptResult {
	defer tk.release()
	pairs, sign := c.signed(cl)
	rd := cl.redact.With(sign)
	var body []byte
	ctype := formContentType
	if len(cl.files) == 0 {
		body = appendForm(make([]byte, 0, formLen(pairs)), pairs)
	} else {
		var err error
		body, ctype, err = encodeBody(pairsMap(pairs), cl.files)
		if err != nil {
			return attemptResult{err: &Error{Method: cl.method, Kind: KindInvalid, Msg: rd.Text("encoding the request: " + err.Error())}}
		}
	}
	raw, status, fail := c.exchange(ctx, exchange{
		method: cl.method, url: c.cfg.Gateway, body: body, ctype: ctype,
		timeout: cl.timeout, rd: rd, tk: tk,
	})
	if fail != nil {
		return *fail
	}
	return judgeAnswer(cl.method, status, raw, rd)
}

// exchange is one HTTP request of an attempt.
type exchange struct {
	method  string // the call's method (the batch's label for a batch), for errors
	url     string
	body    []byte
	ctype   string
	timeout time.Duration
	rd      redact.Redactor
	tk      *ticket // committed right before the request goes; may be nil
}

// exchange posts x and reads the whole answer. It returns the body and the
// HTTP status, or the failed attemptResult of a transport failure (no
// answer, an answer cut short or too big), saying whether the request may
// have reached the gateway.
func (c *Client) exchange(ctx context.Context, x exchange) ([]byte, int, *attemptResult) {
	rd := x.rd
	actx, cancel := context.WithTimeout(ctx, x.timeout)
	defer cancel()
	var written atomic.Bool
	trace := &httptrace.ClientTrace{
		WroteRequest: func(info httptrace.WroteRequestInfo) {
			if info.Err == nil {
				written.Store(true)
			}
		},
	}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(actx, trace), http.MethodPost, x.url, bytes.NewReader(x.body))
	if err != nil {
		return nil, 0, &attemptResult{err: &Error{Method: x.method, Kind: KindInvalid, Msg: rd.Text(err.Error())}}
	}
	// Canonical names set directly: Header.Set would check them each time.
	req.Header["Content-Type"] = []string{x.ctype}
	req.Header["Accept"] = []string{"application/json"}
	req.Header["User-Agent"] = []string{"topscript"}

	x.tk.commit()
	hc := c.http
	if hc == nil {
		hc = c.defaultHTTP()
	}
	hresp, err := hc.Do(req)
	if err != nil {
		reached := written.Load()
		msg := rd.Text(err.Error())
		switch {
		case errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil:
			msg = fmt.Sprintf("no answer within %s", x.timeout)
			if !reached {
				msg += " (request not sent)"
			}
		case !reached:
			msg = "connection failed (request not sent): " + msg
		default:
			msg = "connection lost after the request was sent: " + msg
		}
		return nil, 0, &attemptResult{
			err:       &Error{Method: x.method, Kind: KindTransport, Msg: msg, Err: &scrubbedError{msg: rd.Text(err.Error()), err: err}},
			retryable: true,
			reached:   reached,
		}
	}
	defer hresp.Body.Close()
	raw, rerr := io.ReadAll(io.LimitReader(hresp.Body, maxBody+1))
	if rerr == nil && len(raw) > maxBody {
		return nil, 0, &attemptResult{status: hresp.StatusCode, reached: true,
			err: &Error{Method: x.method, Kind: KindTransport, Msg: fmt.Sprintf("response body over %d bytes", maxBody)}}
	}
	if rerr != nil {
		msg := "answer cut short: " + rd.Text(rerr.Error())
		return nil, 0, &attemptResult{status: hresp.StatusCode, retryable: true, reached: true,
			err: &Error{Method: x.method, Kind: KindTransport, Msg: msg, Err: &scrubbedError{msg: msg, err: rerr}}}
	}
	return raw, hresp.StatusCode, nil
}

// judgeAnswer decodes the complete answer raw (HTTP status) of a call of
// method: a Response, a gateway error_response (whatever the status), an
// HTTP error status, or a malformed body.
func judgeAnswer(method string, status int, raw []byte, rd redact.Redactor) attemptResult {
	resp, derr := decodeResponse(method, raw)
	if derr == nil && status/100 == 2 {
		return attemptResult{resp: resp, status: status}
	}
	var te *Error
	if errors.As(derr, &te) {
		// A gateway error_response, whatever the HTTP status. Its texts
		// are scrubbed in case the gateway echoes a secret.
		te.Msg, te.SubCode, te.SubMsg = rd.Text(te.Msg), rd.Text(te.SubCode), rd.Text(te.SubMsg)
		suggestMethod(te)
		return attemptResult{err: te, status: status, gateway: true, reached: true}
	}
	st := status
	if st/100 != 2 {
		// 429 says the request was not taken; any other status leaves the
		// outcome open: a 5xx (502 and 503 included) comes after the
		// request was sent, and the platform's proxies answer 502 when the
		// backend did not answer in time — it may have applied the call.
		notProcessed := st == http.StatusTooManyRequests
		return attemptResult{
			status:    st,
			retryable: st >= 500 || st == http.StatusTooManyRequests,
			reached:   !notProcessed,
			err:       &Error{Method: method, Kind: KindTransport, Msg: fmt.Sprintf("HTTP %d %s", st, http.StatusText(st))},
		}
	}
	msg := rd.Text(derr.Error())
	if len(raw) == 0 {
		msg = "empty response body"
	}
	return attemptResult{status: st, retryable: true, reached: true,
		err: &Error{Method: method, Kind: KindTransport, Msg: msg, Err: derr}}
}

// suggestMethod adds "did you mean ..." to the gateway's code 22 (Invalid
// method) about a method the catalog does not know: it was sent anyway, as
// new APIs appear every week, and the answer names the nearest known ones.
func suggestMethod(e *Error) {
	if e.Code != 22 || e.Method == "" || strings.ContainsAny(e.Method, " \t") {
		return
	}
	if _, ok := catalog.Lookup(e.Method); ok {
		return
	}
	if near := catalog.Nearest(e.Method, 3); len(near) > 0 {
		e.Msg += " (did you mean " + strings.Join(near, ", ") + "?)"
	}
}

// signedParams returns every param of one attempt, system params and sign
// included, timestamped now (GMT+8).
func (c *Client) signedParams(cl *call) (map[string]string, error) {
	pairs, _ := c.signed(cl)
	return pairsMap(pairs), nil
}

// signed returns every param of one attempt, system params and sign
// included, timestamped now (GMT+8), sorted by name; and the sign.
func (c *Client) signed(cl *call) ([]param, string) {
	ps := make([]param, 0, len(cl.text)+10)
	for k, v := range cl.text {
		ps = append(ps, param{k, v})
	}
	ps = append(ps, param{"method", cl.method})
	ps = c.sysParams(ps, cl.session, cl.simplify)
	// App params cannot take these names (encodeParams refuses them), so
	// the names are unique.
	sortParams(ps)
	sign := c.signer.sign(ps, nil)
	i, _ := slices.BinarySearchFunc(ps, "sign", func(p param, name string) int { return strings.Compare(p.name, name) })
	return slices.Insert(ps, i, param{"sign", sign}), sign
}

// sysParams appends the system parameters of one request to ps: app_key,
// timestamp (now, GMT+8), format, v, sign_method, partner_id, and session
// and simplify when set. The caller adds method (a batch has none) and the
// sign, which covers these. Params may not use any of these names
// (systemParams).
func (c *Client) sysParams(ps []param, session string, simplify bool) []param {
	ps = append(ps,
		param{"app_key", c.cfg.AppKey},
		param{"timestamp", c.timestamp()},
		param{"format", "json"},
		param{"v", "2.0"},
		param{"sign_method", string(c.cfg.SignMethod)},
		param{"partner_id", PartnerID})
	if session != "" {
		ps = append(ps, param{"session", session})
	}
	if simplify {
		ps = append(ps, param{"simplify", "true"})
	}
	return ps
}

// timestamp is toptime.Format(now), formatted once a second.
func (c *Client) timestamp() string {
	now := c.clock.Now()
	sec := now.Unix()
	if t := c.lastStamp.Load(); t != nil && t.sec == sec {
		return t.text
	}
	text := toptime.Format(now)
	c.lastStamp.Store(&stamp{sec: sec, text: text})
	return text
}

// stamp is a formatted timestamp and its Unix second.
type stamp struct {
	sec  int64
	text string
}
