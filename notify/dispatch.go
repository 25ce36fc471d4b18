package notify

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/topscript/topscript/internal/redact"
	"github.com/topscript/topscript/toptime"
)

// Sender delivers one alert to one place.
type Sender interface {
	Send(ctx context.Context, e Event) error
}

// Target is one place alerts go, with its limits.
type Target struct {
	// Name names the target in logs and Stats.
	Name string
	// Sender delivers.
	Sender Sender
	// PerMinute is the most sends in any minute (DingTalk and WeCom robots
	// take 20 and mute a robot that sends more); 0 means 20.
	PerMinute int
	// Kinds are the kinds it wants; nil means all.
	Kinds []Kind
	// Secrets are scrubbed from its errors and logs (tokens in its URL,
	// its signing secret, its password).
	Secrets []string
}

// Options shape a Dispatcher.
type Options struct {
	// Logger gets a warning for each failed send and each dropped alert;
	// nil discards.
	Logger *slog.Logger
	// Queue is how many alerts a target holds while it sends or waits; 0
	// means 64. A full queue drops new alerts.
	Queue int
	// Timeout bounds each send; 0 means 10s.
	Timeout time.Duration
	// Secrets are scrubbed from every message, error and log line, for
	// every target: the app secret, sessions.
	Secrets []string
}

// Stats count what happened to a target's alerts.
type Stats struct {
	Sent    int // alerts delivered (an alert in a digest counts once)
	Calls   int // successful sends: messages the target received
	Failed  int // alerts whose send failed
	Dropped int // alerts dropped: the queue was full, or Flush's deadline came first
	// LastError is the last failed send's error, secrets scrubbed.
	LastError string
}

// maxDigest is the most alerts one digest message carries.
const maxDigest = 50

// Dispatcher fans alerts out to targets without ever blocking or failing
// the caller. See the package doc.
type Dispatcher struct {
	workers []*worker
	log     *slog.Logger
	timeout time.Duration
	scrub   redact.Redactor
	clock   toptime.Clock
	ctx     context.Context
	stop    context.CancelFunc
	done    sync.WaitGroup
	once    sync.Once
}

// worker sends one target's alerts.
type worker struct {
	d      *Dispatcher
	t      Target
	q      chan Event
	lim    *rate.Limiter
	scrub  redact.Redactor
	mu     sync.Mutex
	busy   int // alerts queued or being sent
	closed bool
	stats  Stats
}

// New starts a Dispatcher for targets.
func New(targets []Target, o Options) *Dispatcher {
	return newDispatcher(targets, o, toptime.Wall)
}

// newDispatcher is New on clk, which tests drive.
func newDispatcher(targets []Target, o Options, clk toptime.Clock) *Dispatcher {
	if o.Queue <= 0 {
		o.Queue = 64
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	ctx, stop := context.WithCancel(context.Background())
	d := &Dispatcher{log: log, timeout: o.Timeout, scrub: redact.New(o.Secrets...), clock: clk, ctx: ctx, stop: stop}
	for _, t := range targets {
		w := &worker{d: d, t: t, q: make(chan Event, o.Queue), lim: limiter(t.PerMinute), scrub: d.scrub.With(t.Secrets...)}
		d.workers = append(d.workers, w)
		d.done.Add(1)
		go w.run()
	}
	return d
}

// limiter allows at most perMinute sends in any minute: one token, one
// more every (a minute and a millisecond)/perMinute, so that no window of
// a minute holds more than perMinute sends while the rate stays close to
// it. Alerts that come faster wait, and go out together (a digest).
func limiter(perMinute int) *rate.Limiter {
	if perMinute <= 0 {
		perMinute = 20
	}
	return rate.NewLimiter(rate.Every((time.Minute+time.Millisecond)/time.Duration(perMinute)), 1)
}

// Notify queues e for every target that wants its kind and returns at
// once. A target whose queue is full drops it (counted, and logged for the
// first and every hundredth drop).
func (d *Dispatcher) Notify(e Event) {
	if e.Time.IsZero() {
		e.Time = d.clock.Now()
	}
	e = d.scrubEvent(e)
	for _, w := range d.workers {
		if w.t.Kinds != nil && !slices.Contains(w.t.Kinds, e.Kind) {
			continue
		}
		w.mu.Lock()
		if w.closed {
			w.mu.Unlock()
			continue
		}
		w.busy++
		select {
		case w.q <- e:
			w.mu.Unlock()
		default:
			w.busy--
			w.stats.Dropped++
			n := w.stats.Dropped
			w.mu.Unlock()
			if n == 1 || n%100 == 0 {
				d.log.Warn("notify: queue full, alert dropped", "target", w.t.Name, "kind", string(e.Kind), "dropped", n)
			}
		}
	}
}

// scrubEvent takes the dispatcher-wide secrets out of an event's text.
func (d *Dispatcher) scrubEvent(e Event) Event {
	e.Subject, e.Summary = d.scrub.Text(e.Subject), d.scrub.Text(e.Summary)
	fields := make([]Field, len(e.Fields))
	for i, f := range e.Fields {
		fields[i] = Field{Name: d.scrub.Text(f.Name), Value: d.scrub.Text(f.Value)}
	}
	e.Fields = fields
	return e
}

// Flush waits until every alert queued so far has been sent (or has
// failed), or until ctx ends; alerts still queued then are dropped,
// counted and logged, and the error says how many were dropped and how
// many were still being sent. It never blocks past ctx, and the dispatcher
// stays usable.
func (d *Dispatcher) Flush(ctx context.Context) error {
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		idle := true
		for _, w := range d.workers {
			w.mu.Lock()
			idle = idle && w.busy == 0
			w.mu.Unlock()
		}
		if idle {
			return nil
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			dropped, sending := 0, 0
			for _, w := range d.workers {
				if n := w.drain(); n > 0 {
					dropped += n
					d.log.Warn("notify: alerts not sent before the deadline, dropped", "target", w.t.Name, "dropped", n)
				}
				w.mu.Lock()
				sending += w.busy
				w.mu.Unlock()
			}
			switch {
			case dropped > 0 && sending > 0:
				return fmt.Errorf("notify: %d alerts not sent before the deadline (dropped), %d still being sent", dropped, sending)
			case dropped > 0:
				return fmt.Errorf("notify: %d alerts not sent before the deadline (dropped)", dropped)
			case sending > 0:
				return fmt.Errorf("notify: %d alerts still being sent at the deadline", sending)
			}
			return nil
		}
	}
}

// Close flushes for at most the send timeout, then stops every target.
// Alerts notified after Close are ignored.
func (d *Dispatcher) Close() error {
	var err error
	d.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), d.timeout)
		err = d.Flush(ctx)
		cancel()
		for _, w := range d.workers {
			w.mu.Lock()
			w.closed = true
			w.mu.Unlock()
		}
		d.stop()
		d.done.Wait()
		for _, w := range d.workers {
			w.drain()
		}
	})
	return err
}

// Stats returns each target's counts, by name.
func (d *Dispatcher) Stats() map[string]Stats {
	out := make(map[string]Stats, len(d.workers))
	for _, w := range d.workers {
		w.mu.Lock()
		out[w.t.Name] = w.stats
		w.mu.Unlock()
	}
	return out
}

// drain drops what is queued and returns how many.
func (w *worker) drain() int {
	n := 0
	for {
		select {
		case <-w.q:
			n++
		default:
			w.mu.Lock()
			w.busy -= n
			w.stats.Dropped += n
			w.mu.Unlock()
			return n
		}
	}
}

func (w *worker) run() {
	defer w.d.done.Done()
	for {
		var first Event
		select {
		case first = <-w.q:
		case <-w.d.ctx.Done():
			return
		}
		now := w.d.clock.Now()
		if delay := w.lim.ReserveN(now, 1).DelayFrom(now); delay > 0 {
			if err := w.d.clock.Sleep(w.d.ctx, delay); err != nil {
				w.finish(1, errors.New("stopped"), false)
				return
			}
		}
		batch := []Event{first}
	more:
		for len(batch) < maxDigest {
			select {
			case e := <-w.q:
				batch = append(batch, e)
			default:
				break more
			}
		}
		e := batch[0]
		if len(batch) > 1 {
			e = digest(batch)
		}
		ctx, cancel := context.WithTimeout(w.d.ctx, w.d.timeout)
		err := w.t.Sender.Send(ctx, e)
		cancel()
		w.finish(len(batch), err, true)
	}
}

// finish counts n alerts done, and logs a failure with secrets scrubbed.
func (w *worker) finish(n int, err error, sent bool) {
	w.mu.Lock()
	w.busy -= n
	switch {
	case err == nil:
		w.stats.Sent += n
		w.stats.Calls++
	case sent:
		w.stats.Failed += n
		w.stats.LastError = w.scrub.Text(err.Error())
	default:
		w.stats.Dropped += n
	}
	w.mu.Unlock()
	if err != nil && sent {
		w.d.log.Warn("notify: send failed", "target", w.t.Name, "alerts", n, "error", w.scrub.Text(err.Error()))
	}
}
