package tmc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/topscript/topscript/tmc/wire"
	"github.com/topscript/topscript/top"
)

// Handler handles one message. Returning nil confirms it; an error fails it
// with the error's text as the reason (the channel delivers it again later).
// ctx ends when the consumer gives up waiting at a stop (Config.StopTimeout).
type Handler func(ctx context.Context, m *Message) error

// DefaultURL is the platform's production endpoint of the channel; its
// own sandbox's is "ws://mc.api.tbsandbox.com/".
const DefaultURL = "ws://mc.api.taobao.com/"

// Defaults of zero Config fields.
const (
	DefaultGroup        = "default"
	DefaultSDK          = "topscript-go"
	DefaultConcurrency  = 4
	DefaultPullEvery    = 5 * time.Second
	DefaultPingEvery    = 45 * time.Second
	DefaultPingTimeout  = 10 * time.Second
	DefaultReconnectMin = 3 * time.Second
	DefaultReconnectMax = 15 * time.Second
	DefaultDedupWindow  = time.Second
	DefaultStopTimeout  = 10 * time.Second
	handshakeTimeout    = 10 * time.Second
)

// Config configures a Consumer. URL, AppKey and AppSecret are required;
// zero fields take the defaults above.
type Config struct {
	URL       string // DefaultURL, or a sandbox's "ws://127.0.0.1:PORT/tmc"
	AppKey    string
	AppSecret string // signs the handshake; never logged
	// Signer, when set, signs the handshake instead of AppSecret (which
	// may then be empty): a top.Client's Sign, so the secret stays inside
	// the client.
	Signer func(params map[string]string, m top.SignMethod) (string, error)
	Group  string // group_name (DefaultGroup)
	SDK    string // the client name sent in the handshake (DefaultSDK)
	// Concurrency is the number of handlers running at once.
	Concurrency int
	// Queue is the number of messages waiting for a handler before the
	// consumer stops reading from the connection (default 2×Concurrency).
	Queue int
	// PullEvery is the period of pull requests, the fallback to push.
	PullEvery time.Duration
	// PingEvery and PingTimeout keep the connection alive (WebSocket ping).
	PingEvery, PingTimeout time.Duration
	// ReconnectMin and ReconnectMax bound the wait before reconnecting; it
	// doubles per failed attempt, with jitter.
	ReconnectMin, ReconnectMax time.Duration
	// DedupWindow is how long a message counts as a duplicate of an earlier
	// one (negative: no duplicate check).
	DedupWindow time.Duration
	// StopTimeout bounds a clean stop: the wait for running handlers and
	// then for the confirms to be written.
	StopTimeout time.Duration
	// SummaryEvery logs Stats at info level this often (0: never).
	SummaryEvery time.Duration
	HTTPClient   *http.Client // for the WebSocket handshake (default http.DefaultClient)
	Logger       *slog.Logger // default: discard
	Now          func() time.Time
}

// RejectedError is the server's refusal of the handshake (a CONNECTACK with
// a status): a wrong app key or secret, an unknown group. Run returns it
// without retrying.
type RejectedError struct {
	URL    string
	Code   uint32
	Phrase string
}

func (e *RejectedError) Error() string {
	return fmt.Sprintf("tmc: %s refused the connection: %d %s", e.URL, e.Code, e.Phrase)
}

// Stats are a consumer's counters since New.
type Stats struct {
	Received   int64         `json:"received"`   // messages read from the channel (duplicates included)
	Handled    int64         `json:"handled"`    // handler returned nil
	Failed     int64         `json:"failed"`     // handler returned an error (or panicked)
	Duplicates int64         `json:"duplicates"` // confirmed or dropped without the handler
	Released   int64         `json:"released"`   // failed back unhandled at a stop
	Confirmed  int64         `json:"confirmed"`  // confirms written
	Connects   int64         `json:"connects"`   // handshakes that succeeded
	InHand     int           `json:"in_hand"`    // waiting for or running a handler
	Lag        time.Duration `json:"lag"`        // publish to handler start, of the latest message
	MaxLag     time.Duration `json:"max_lag"`
}

// Consumer reads messages from the channel and runs a Handler on each.
type Consumer struct {
	cfg     Config
	handler Handler
	log     *slog.Logger
	sched   *sched
	out     outbox

	received, handled, failed, dups, releasedN, confirmed, connects atomic.Int64
	running                                                         atomic.Int64
	lag, maxLag                                                     atomic.Int64

	started atomic.Bool
}

// New checks cfg and makes a consumer.
func New(cfg Config, h Handler) (*Consumer, error) {
	switch {
	case cfg.URL == "":
		return nil, errors.New("tmc: Config.URL is required")
	case cfg.AppKey == "":
		return nil, errors.New("tmc: Config.AppKey is required")
	case cfg.AppSecret == "" && cfg.Signer == nil:
		return nil, errors.New("tmc: Config.AppSecret (or a Signer) is required")
	case h == nil:
		return nil, errors.New("tmc: a Handler is required")
	case cfg.Concurrency < 0 || cfg.Queue < 0:
		return nil, errors.New("tmc: Concurrency and Queue must not be negative")
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	if cfg.Group == "" {
		cfg.Group = DefaultGroup
	}
	if cfg.SDK == "" {
		cfg.SDK = DefaultSDK
	}
	if cfg.Concurrency == 0 {
		cfg.Concurrency = DefaultConcurrency
	}
	if cfg.Queue == 0 {
		cfg.Queue = 2 * cfg.Concurrency
	}
	def(&cfg.PullEvery, DefaultPullEvery)
	def(&cfg.PingEvery, DefaultPingEvery)
	def(&cfg.PingTimeout, DefaultPingTimeout)
	def(&cfg.ReconnectMin, DefaultReconnectMin)
	def(&cfg.ReconnectMax, DefaultReconnectMax)
	def(&cfg.StopTimeout, DefaultStopTimeout)
	if cfg.ReconnectMax < cfg.ReconnectMin {
		cfg.ReconnectMax = cfg.ReconnectMin
	}
	if cfg.DedupWindow == 0 {
		cfg.DedupWindow = DefaultDedupWindow
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = http.DefaultClient
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &Consumer{cfg: cfg, handler: h, log: log.With("group", cfg.Group),
		sched: newSched(cfg.Queue, cfg.DedupWindow)}
	c.out.signal = make(chan struct{}, 1)
	return c, nil
}

// Stats returns the counters.
func (c *Consumer) Stats() Stats {
	return Stats{
		Received: c.received.Load(), Handled: c.handled.Load(), Failed: c.failed.Load(),
		Duplicates: c.dups.Load(), Released: c.releasedN.Load(), Confirmed: c.confirmed.Load(),
		Connects: c.connects.Load(), InHand: c.sched.waiting() + int(c.running.Load()),
		Lag: time.Duration(c.lag.Load()), MaxLag: time.Duration(c.maxLag.Load()),
	}
}

// Run consumes until ctx ends, then stops cleanly: it takes no more
// messages (those that arrive are failed back, as are those still waiting
// for a handler, so the channel delivers them again without waiting for a
// confirm timeout), lets the
// running handlers finish, writes their confirms, and closes. It returns
// nil after a clean stop, a *RejectedError when the server refuses the
// handshake. A Consumer runs once.
func (c *Consumer) Run(ctx context.Context) error {
	if !c.started.CompareAndSwap(false, true) {
		return errors.New("tmc: a Consumer runs once")
	}
	life, kill := context.WithCancel(context.WithoutCancel(ctx))
	defer kill()
	handlerCtx, cancelHandlers := context.WithCancel(life)
	defer cancelHandlers()

	var workers sync.WaitGroup
	for range c.cfg.Concurrency {
		workers.Add(1)
		go func() {
			defer workers.Done()
			c.work(handlerCtx)
		}()
	}
	drained := make(chan struct{}) // handlers done after a stop
	go func() {
		select {
		case <-ctx.Done():
		case <-life.Done(): // Run ended by itself (a refused handshake)
			return
		}
		for _, e := range c.sched.close() {
			c.release(e.m)
		}
		done := make(chan struct{})
		go func() { workers.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(c.cfg.StopTimeout):
			c.log.Warn("tmc: handlers still running at the stop timeout; cancelling them", "timeout", c.cfg.StopTimeout)
			cancelHandlers()
			<-done
		}
		close(drained)
		// Confirms get StopTimeout more to be written.
		select {
		case <-time.After(c.cfg.StopTimeout):
			if n := c.out.len(); n > 0 {
				c.log.Warn("tmc: stopping with settlements unsent; the channel will deliver those messages again", "unsent", n)
			}
			kill()
		case <-life.Done():
		}
	}()
	if c.cfg.SummaryEvery > 0 {
		go c.summaries(life)
	}

	var err error
	for attempt := 0; ; {
		var up bool
		up, err = c.session(life, ctx, drained)
		if err == nil || life.Err() != nil {
			err = nil
			break
		}
		var rej *RejectedError
		if errors.As(err, &rej) {
			break
		}
		if up {
			attempt = 0
		}
		if isClosed(drained) && c.out.len() == 0 {
			err = nil // stopped with nothing left to write
			break
		}
		d := c.backoff(attempt)
		attempt++
		c.log.Warn("tmc: connection lost; reconnecting", "error", err, "in", d.Round(time.Millisecond))
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-life.Done():
		}
		t.Stop()
		if life.Err() != nil {
			err = nil
			break
		}
	}
	// Stop everything: on a refusal too, release what is in hand.
	for _, e := range c.sched.close() {
		c.release(e.m)
	}
	kill()
	workers.Wait()
	if c.cfg.SummaryEvery > 0 {
		c.logSummary()
	}
	return err
}

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// backoff is the wait before reconnect attempt n (0-based): ReconnectMin
// doubled n times, capped at ReconnectMax, then a random point in its upper
// half (jitter spreads a fleet's reconnects).
func (c *Consumer) backoff(n int) time.Duration {
	d := c.cfg.ReconnectMin
	for i := 0; i < n && d < c.cfg.ReconnectMax; i++ {
		d *= 2
	}
	d = min(d, c.cfg.ReconnectMax)
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}

// work runs handlers until the queue closes.
func (c *Consumer) work(ctx context.Context) {
	for {
		e, ok := c.sched.next()
		if !ok {
			return
		}
		c.running.Add(1)
		m := e.m
		if !m.Time.IsZero() {
			lag := c.cfg.Now().Sub(m.Time)
			c.lag.Store(int64(lag))
			for {
				cur := c.maxLag.Load()
				if int64(lag) <= cur || c.maxLag.CompareAndSwap(cur, int64(lag)) {
					break
				}
			}
		}
		err := c.call(ctx, m)
		c.sched.done(e)
		c.running.Add(-1)
		if err != nil {
			c.failed.Add(1)
			c.log.Warn("tmc: handler failed; the message will come again", "id", m.ID, "topic", m.Topic, "error", err)
			c.out.add(settlement{id: m.ID, fail: true, reason: reason(err)})
			continue
		}
		c.handled.Add(1)
		c.out.add(settlement{id: m.ID})
	}
}

// call runs the handler, turning a panic into an error.
func (c *Consumer) call(ctx context.Context, m *Message) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("handler panicked: %v", r)
		}
	}()
	return c.handler(ctx, m)
}

// release fails m back to the channel unhandled.
func (c *Consumer) release(m *Message) {
	c.releasedN.Add(1)
	c.out.add(settlement{id: m.ID, fail: true, reason: "consumer stopping"})
}

// session runs one connection until it fails (the error), or, after a stop,
// until the settlements are written (nil). up reports whether the handshake
// succeeded.
func (c *Consumer) session(life, stop context.Context, drained <-chan struct{}) (up bool, err error) {
	hctx, cancel := context.WithTimeout(life, handshakeTimeout)
	conn, _, err := websocket.Dial(hctx, c.cfg.URL, &websocket.DialOptions{HTTPClient: c.cfg.HTTPClient})
	if err != nil {
		cancel()
		return false, fmt.Errorf("tmc: dial %s: %w", c.cfg.URL, err)
	}
	defer conn.CloseNow()
	conn.SetReadLimit(wire.MaxFrame)
	token, err := c.handshake(hctx, conn)
	cancel()
	if err != nil {
		return false, err
	}
	c.connects.Add(1)
	c.log.Info("tmc: connected", "url", c.cfg.URL)

	sctx, end := context.WithCancel(life)
	defer end()
	var blocked atomic.Bool // the reader waits for room in the queue
	readErr := make(chan error, 1)
	go func() { readErr <- c.read(sctx, conn, token, &blocked, stop) }()

	pull := time.NewTicker(c.cfg.PullEvery)
	defer pull.Stop()
	ping := time.NewTicker(c.cfg.PingEvery)
	defer ping.Stop()
	send := func(f *wire.Frame) error {
		f.Token = token
		return conn.Write(sctx, websocket.MessageBinary, wire.Encode(nil, f))
	}
	pullReq := func() error {
		if stop.Err() != nil || c.sched.full() {
			return nil
		}
		f := &wire.Frame{Type: wire.Send}
		f.Set(wire.KindHeader, wire.I16(wire.KindPull))
		return send(f)
	}
	if err := pullReq(); err != nil {
		return true, fmt.Errorf("tmc: pull request: %w", err)
	}
	for {
		if err := c.flush(send); err != nil {
			return true, err
		}
		select {
		case <-drained:
			if c.out.len() == 0 {
				_ = conn.Close(websocket.StatusNormalClosure, "consumer stopped")
				return true, nil
			}
		default:
		}
		select {
		case err := <-readErr:
			return true, err
		case <-c.out.signal:
		case <-drained:
		case <-pull.C:
			if err := pullReq(); err != nil {
				return true, fmt.Errorf("tmc: pull request: %w", err)
			}
		case <-ping.C:
			if blocked.Load() {
				continue // the reader is held by back-pressure: it would not see the pong
			}
			pctx, cancel := context.WithTimeout(sctx, c.cfg.PingTimeout)
			err := conn.Ping(pctx)
			cancel()
			if err != nil {
				return true, fmt.Errorf("tmc: keep-alive ping: %w", err)
			}
		case <-life.Done():
			return true, nil
		}
	}
}

// handshake sends CONNECT and reads CONNECTACK, returning the token.
func (c *Consumer) handshake(ctx context.Context, conn *websocket.Conn) (string, error) {
	ts := strconv.FormatInt(c.cfg.Now().UnixMilli(), 10)
	var sign string
	var err error
	if c.cfg.Signer != nil {
		sign, err = c.cfg.Signer(signParams(c.cfg.AppKey, c.cfg.Group, ts), top.SignMD5)
	} else {
		sign, err = Sign(c.cfg.AppKey, c.cfg.AppSecret, c.cfg.Group, ts)
	}
	if err != nil {
		return "", err
	}
	f := &wire.Frame{Type: wire.Connect}
	f.Set("app_key", wire.Str(c.cfg.AppKey))
	f.Set("group_name", wire.Str(c.cfg.Group))
	f.Set("timestamp", wire.Str(ts))
	f.Set("sign", wire.Str(sign))
	f.Set("sdk", wire.Str(c.cfg.SDK))
	if err := conn.Write(ctx, websocket.MessageBinary, wire.Encode(nil, f)); err != nil {
		return "", fmt.Errorf("tmc: handshake: %w", err)
	}
	typ, b, err := conn.Read(ctx)
	if err != nil {
		return "", fmt.Errorf("tmc: handshake: %w", err)
	}
	if typ != websocket.MessageBinary {
		return "", errors.New("tmc: handshake: the server answered with a text message")
	}
	ack, err := wire.Decode(b)
	if err != nil {
		return "", fmt.Errorf("tmc: handshake: %w", err)
	}
	if ack.Type != wire.ConnectAck {
		return "", fmt.Errorf("tmc: handshake: the server answered %s, want CONNECTACK", ack.Type)
	}
	if ack.StatusCode != 0 || ack.Token == "" {
		return "", &RejectedError{URL: c.cfg.URL, Code: ack.StatusCode, Phrase: ack.StatusPhrase}
	}
	return ack.Token, nil
}

// Sign is the handshake signature: TOP's md5 signature over app_key,
// group_name and timestamp.
func Sign(appKey, secret, group, timestamp string) (string, error) {
	return top.Sign(signParams(appKey, group, timestamp), secret, top.SignMD5)
}

// signParams are the handshake's signed parameters.
func signParams(appKey, group, timestamp string) map[string]string {
	return map[string]string{"app_key": appKey, "group_name": group, "timestamp": timestamp}
}

// read reads frames until the connection fails, queueing messages.
func (c *Consumer) read(ctx context.Context, conn *websocket.Conn, token string, blocked *atomic.Bool, stop context.Context) error {
	for {
		typ, b, err := conn.Read(ctx)
		if err != nil {
			return fmt.Errorf("tmc: read: %w", err)
		}
		if typ != websocket.MessageBinary {
			continue
		}
		f, err := wire.Decode(b)
		if err != nil {
			return fmt.Errorf("tmc: read: %w", err)
		}
		if f.Type != wire.Send {
			continue // SENDACK and others carry nothing for a consumer
		}
		m, err := parseMessage(f)
		if errors.Is(err, errNotMessage) {
			continue
		}
		if m == nil { // no id to settle it by
			c.log.Error("tmc: message without a usable id; skipped", "error", err)
			continue
		}
		c.received.Add(1)
		if err != nil {
			// Failed back, not dropped: the channel keeps it for a fixed consumer.
			c.failed.Add(1)
			c.log.Error("tmc: unreadable message; failing it", "id", m.ID, "error", err)
			c.out.add(settlement{id: m.ID, fail: true, reason: reason(err)})
			continue
		}
		if stop.Err() != nil {
			c.release(m)
			continue
		}
		blocked.Store(true)
		v, err := c.sched.push(ctx, m, c.cfg.Now())
		blocked.Store(false)
		if err != nil {
			return fmt.Errorf("tmc: read: %w", err)
		}
		switch v {
		case duplicate:
			c.dups.Add(1)
			c.log.Debug("tmc: duplicate confirmed without the handler", "id", m.ID, "key", m.Key)
			c.out.add(settlement{id: m.ID})
		case inHand:
			c.dups.Add(1)
		case released:
			c.release(m)
		}
	}
}

// settlement is a confirm or a failure to write.
type settlement struct {
	id     int64
	fail   bool
	reason string
}

// outbox holds settlements until a connection writes them; it outlives
// connections, so a confirm whose connection dropped goes on the next.
type outbox struct {
	mu     sync.Mutex
	items  []settlement
	signal chan struct{}
}

func (o *outbox) add(s settlement) {
	o.mu.Lock()
	o.items = append(o.items, s)
	o.mu.Unlock()
	select {
	case o.signal <- struct{}{}:
	default:
	}
}

func (o *outbox) len() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.items)
}

// flush writes the outbox; on a failure the unwritten rest stays.
func (c *Consumer) flush(send func(*wire.Frame) error) error {
	for {
		c.out.mu.Lock()
		if len(c.out.items) == 0 {
			c.out.mu.Unlock()
			return nil
		}
		s := c.out.items[0]
		c.out.mu.Unlock()
		f := &wire.Frame{Type: wire.Send}
		if s.fail {
			f.Set(wire.KindHeader, wire.I16(wire.KindFailed))
			f.Set("id", wire.I64(s.id))
			f.Set("msg", wire.Str(s.reason))
		} else {
			f.Set(wire.KindHeader, wire.I16(wire.KindConfirm))
			f.Set("id", wire.I64(s.id))
		}
		if err := send(f); err != nil {
			return fmt.Errorf("tmc: confirm: %w", err)
		}
		if !s.fail {
			c.confirmed.Add(1)
		}
		c.out.mu.Lock()
		c.out.items = c.out.items[1:]
		c.out.mu.Unlock()
	}
}

// summaries logs Stats every SummaryEvery.
func (c *Consumer) summaries(ctx context.Context) {
	t := time.NewTicker(c.cfg.SummaryEvery)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			c.logSummary()
		case <-ctx.Done():
			return
		}
	}
}

func (c *Consumer) logSummary() {
	s := c.Stats()
	c.log.Info("tmc: summary", "received", s.Received, "handled", s.Handled, "failed", s.Failed,
		"duplicates", s.Duplicates, "in_hand", s.InHand, "lag", s.Lag.Round(time.Millisecond),
		"max_lag", s.MaxLag.Round(time.Millisecond), "connects", s.Connects)
}
