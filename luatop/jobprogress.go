package luatop

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"
)

// Progress display of job.run: a one-line bar redrawn at most 10 times a
// second when Options.Progress is a terminal, else a log line every
// progressLogEvery (the first one only once a job has run that long, so
// short jobs stay quiet) that also tells the calls in flight (in_flight:
// how many the runner's sizer keeps going).

const (
	progressRedraw   = 100 * time.Millisecond
	progressBarWidth = 24
)

// progressLogEvery is the interval of progress log lines (a variable for tests).
var progressLogEvery = 5 * time.Second

// progress counts finished rows and shows them.
type progress struct {
	name  string
	total int
	start time.Time
	now   func() time.Time // the job's clock
	log   *slog.Logger
	tty   io.Writer // nil: log lines instead of a bar

	mu                             sync.Mutex
	done, failed, skipped, unknown int
	drawn                          bool
	inFlight                       func() int // the calls in flight, once the job sends (follow)

	quit    chan struct{}
	stopped chan struct{}
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func newProgress(h *host, name string, total int) *progress {
	p := &progress{name: name, total: total, now: h.now, log: h.c.log,
		quit: make(chan struct{}), stopped: make(chan struct{})}
	p.start = p.now()
	if h.progress != nil && isTerminal(h.progress) {
		p.tty = h.progress
	}
	go p.run()
	return p
}

// add counts one finished row of the given status.
func (p *progress) add(status string) {
	p.mu.Lock()
	p.done++
	switch status {
	case statusFailed:
		p.failed++
	case statusSkipped:
		p.skipped++
	case statusUnknown:
		p.unknown++
	}
	p.mu.Unlock()
}

func (p *progress) run() {
	defer close(p.stopped)
	every := progressLogEvery
	if p.tty != nil {
		every = progressRedraw
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-p.quit:
			return
		case <-t.C:
			p.show()
		}
	}
}

// follow has the progress lines tell the calls in flight, as inFlight
// counts them.
func (p *progress) follow(inFlight func() int) {
	p.mu.Lock()
	p.inFlight = inFlight
	p.mu.Unlock()
}

// stop ends the display and erases the bar.
func (p *progress) stop() {
	close(p.quit)
	<-p.stopped
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty != nil && p.drawn {
		fmt.Fprint(p.tty, "\r\x1b[K")
	}
}

// snapshot is the progress at one moment.
type snapshot struct {
	done, total, failed, skipped, unknown int
	elapsed                               time.Duration
}

// rate is rows per second, skipped rows excluded (they cost no call).
func (s snapshot) rate() float64 {
	if s.elapsed <= 0 {
		return 0
	}
	return float64(s.done-s.skipped) / s.elapsed.Seconds()
}

// eta is the expected time left, 0 when unknown.
func (s snapshot) eta() time.Duration {
	r := s.rate()
	if r <= 0 || s.total <= 0 || s.done >= s.total {
		return 0
	}
	return time.Duration(float64(s.total-s.done) / r * float64(time.Second)).Round(time.Second)
}

func (p *progress) show() {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := snapshot{done: p.done, total: p.total, failed: p.failed, skipped: p.skipped,
		unknown: p.unknown, elapsed: p.now().Sub(p.start)}
	if p.tty != nil {
		fmt.Fprint(p.tty, "\r"+renderBar(p.name, s)+"\x1b[K")
		p.drawn = true
		return
	}
	attrs := []any{"job", p.name, "done", s.done, "total", s.total, "failed", s.failed,
		"rate", fmt.Sprintf("%.1f/s", s.rate())}
	if s.unknown > 0 {
		attrs = append(attrs, "unknown", s.unknown)
	}
	if p.inFlight != nil {
		attrs = append(attrs, "in_flight", p.inFlight())
	}
	if eta := s.eta(); eta > 0 {
		attrs = append(attrs, "eta", eta.String())
	}
	p.log.Info("job progress", attrs...)
}

// renderBar draws one line: name, bar, done/total, percent, rate, ETA and
// failures.
func renderBar(name string, s snapshot) string {
	var b strings.Builder
	b.WriteString(name)
	b.WriteByte(' ')
	frac := 0.0
	if s.total > 0 {
		frac = float64(s.done) / float64(s.total)
	}
	n := int(frac * progressBarWidth)
	b.WriteByte('[')
	b.WriteString(strings.Repeat("=", n))
	if n < progressBarWidth {
		b.WriteByte('>')
		b.WriteString(strings.Repeat(" ", progressBarWidth-n-1))
	}
	b.WriteByte(']')
	fmt.Fprintf(&b, " %d/%d %3.0f%% %.1f/s", s.done, s.total, frac*100, s.rate())
	if eta := s.eta(); eta > 0 {
		fmt.Fprintf(&b, " ETA %s", eta)
	}
	if s.failed > 0 {
		fmt.Fprintf(&b, " failed %d", s.failed)
	}
	if s.unknown > 0 {
		fmt.Fprintf(&b, " unknown %d", s.unknown)
	}
	return b.String()
}
