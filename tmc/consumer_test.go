package tmc_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/topscript/topscript/internal/sandboxtest"
	"github.com/topscript/topscript/sandbox"
	"github.com/topscript/topscript/tmc"
	"github.com/topscript/topscript/top"
)

// startSandbox serves a sandbox on loopback with the seller subscribed.
func startSandbox(t testing.TB, o sandbox.Options) *sandbox.Server {
	t.Helper()
	sb := sandboxtest.Start(t, o)
	sb.Permit(nil)
	return sb
}

// config is a consumer configuration for sb with test-sized timings.
func config(sb *sandbox.Server) tmc.Config {
	return tmc.Config{
		URL: sb.TMCURL(), AppKey: sandbox.DefaultAppKey, AppSecret: sandbox.DefaultAppSecret,
		PullEvery: 50 * time.Millisecond, ReconnectMin: 10 * time.Millisecond, ReconnectMax: 50 * time.Millisecond,
		StopTimeout: 5 * time.Second,
	}
}

// running is a consumer running in the background.
type running struct {
	c    *tmc.Consumer
	stop context.CancelFunc
	done chan error
}

func run(t testing.TB, cfg tmc.Config, h tmc.Handler) *running {
	t.Helper()
	c, err := tmc.New(cfg, h)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{c: c, stop: cancel, done: make(chan error, 1)}
	go func() { r.done <- c.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-r.done })
	return r
}

// wait stops r and returns Run's error.
func (r *running) wait(t testing.TB) error {
	t.Helper()
	r.stop()
	select {
	case err := <-r.done:
		r.done <- err // for the cleanup
		return err
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return after the stop")
		return nil
	}
}

// tidOf is the tid in a trade or refund message's content, exactly.
func tidOf(t testing.TB, m *tmc.Message) string {
	var c struct {
		Tid json.Number `json:"tid"`
	}
	d := json.NewDecoder(strings.NewReader(m.Content))
	d.UseNumber()
	if err := d.Decode(&c); err != nil || c.Tid == "" {
		t.Errorf("message %d content %q: no tid (%v)", m.ID, m.Content, err)
	}
	return c.Tid.String()
}

// eventually polls cond for up to 10 s.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// recorder is a handler that records what it saw.
type recorder struct {
	mu   sync.Mutex
	runs map[int64]int
	msgs map[int64]*tmc.Message
}

func newRecorder() *recorder {
	return &recorder{runs: map[int64]int{}, msgs: map[int64]*tmc.Message{}}
}

func (r *recorder) handle(ctx context.Context, m *tmc.Message) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.runs[m.ID]++
	r.msgs[m.ID] = m
	return nil
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.runs)
}

func TestHandshakeRefusesABadSign(t *testing.T) {
	sb := startSandbox(t, sandbox.Options{})
	cfg := config(sb)
	cfg.AppSecret = "not-the-secret-9f3a"
	r := run(t, cfg, newRecorder().handle)
	var err error
	select {
	case err = <-r.done:
		r.done <- err
	case <-time.After(5 * time.Second):
		t.Fatal("a refused handshake must end Run, not retry forever")
	}
	var rej *tmc.RejectedError
	if !errors.As(err, &rej) || rej.Code != 401 || rej.Phrase != "invalid sign" {
		t.Fatalf("Run = %v, want a *RejectedError 401 invalid sign", err)
	}
	if strings.Contains(err.Error(), cfg.AppSecret) {
		t.Fatalf("the error shows the secret: %v", err)
	}
	if got := r.c.Stats().Connects; got != 0 {
		t.Fatalf("Connects = %d after a refusal", got)
	}

	cfg = config(sb)
	cfg.Group = "nosuchgroup"
	err = run(t, cfg, newRecorder().handle).wait(t)
	if !errors.As(err, &rej) || rej.Code != 404 || !strings.Contains(rej.Phrase, "nosuchgroup") {
		t.Fatalf("unknown group: Run = %v, want a 404 naming the group", err)
	}
}

// A Signer signs the handshake in place of AppSecret: a top.Client's Sign
// keeps the secret in the client.
func TestSignerInPlaceOfTheSecret(t *testing.T) {
	sb := startSandbox(t, sandbox.Options{})
	tc := top.DefaultConfig()
	tc.Gateway, tc.AppKey, tc.AppSecret = sb.URL(), sandbox.DefaultAppKey, sandbox.DefaultAppSecret
	client, err := top.NewClient(tc)
	if err != nil {
		t.Fatal(err)
	}
	cfg := config(sb)
	cfg.AppSecret, cfg.Signer = "", client.Sign
	r := run(t, cfg, newRecorder().handle)
	eventually(t, "the connection", func() bool { return r.c.Stats().Connects == 1 })
	if err := r.wait(t); err != nil {
		t.Fatal(err)
	}
	cfg.Signer = nil
	if _, err := tmc.New(cfg, newRecorder().handle); err == nil || !strings.Contains(err.Error(), "AppSecret (or a Signer) is required") {
		t.Errorf("neither a secret nor a signer: %v", err)
	}
}

// Push: trade events become messages with exact ids, decoded fields, and are
// confirmed.
func TestPushAndConfirm(t *testing.T) {
	sb := startSandbox(t, sandbox.Options{})
	rec := newRecorder()
	r := run(t, config(sb), rec.handle)
	eventually(t, "the connection", func() bool { return r.c.Stats().Connects == 1 })
	changes := sb.Churn(40)
	want := 0
	tids := map[int64]bool{}
	for _, ch := range changes {
		want += len(ch.Topics)
		tids[ch.Tid] = true
	}
	eventually(t, "every message handled", func() bool { return rec.count() == want })
	eventually(t, "every confirm", func() bool { return sb.TMCStats().Unconfirmed == 0 })
	if err := r.wait(t); err != nil {
		t.Fatal(err)
	}
	st := sb.TMCStats()
	if st.Published != int64(want) || st.Confirmed != int64(want) || st.Redelivered != 0 {
		t.Fatalf("sandbox: %+v, want %d published and confirmed, none redelivered", st, want)
	}
	cs := r.c.Stats()
	if cs.Received != int64(want) || cs.Handled != int64(want) || cs.Confirmed != int64(want) || cs.Failed != 0 {
		t.Fatalf("consumer stats %+v, want %d received, handled and confirmed", cs, want)
	}
	for id, m := range rec.msgs {
		if id <= 1<<53 {
			t.Fatalf("message id %d: the sandbox's ids are beyond 2^53", id)
		}
		if m.UserID != 2206571234567 || m.Nick == "" || m.Time.IsZero() || m.Publisher != sandbox.DefaultAppKey {
			t.Fatalf("message fields: %+v", m)
		}
		var c struct {
			Tid    json.Number `json:"tid"`
			Status string      `json:"status"`
		}
		d := json.NewDecoder(strings.NewReader(m.Content))
		d.UseNumber()
		if err := d.Decode(&c); err != nil {
			t.Fatalf("content %q: %v", m.Content, err)
		}
		tid, _ := c.Tid.Int64()
		if !tids[tid] || m.Key != "trade_"+c.Tid.String() && !strings.HasPrefix(m.Key, "refund_") {
			t.Fatalf("message %d about tid %s (key %q): not a churned trade", id, c.Tid, m.Key)
		}
	}
}

// With push off, pull requests are what brings messages.
func TestPullFallback(t *testing.T) {
	sb := startSandbox(t, sandbox.Options{TMC: sandbox.TMCOptions{PullOnly: true}})
	rarely := config(sb)
	rarely.PullEvery = time.Hour
	quiet := newRecorder()
	r1 := run(t, rarely, quiet.handle)
	eventually(t, "the connection", func() bool { return r1.c.Stats().Connects == 1 })
	time.Sleep(50 * time.Millisecond) // its one pull request, at connect, has been answered
	sb.Churn(10)
	time.Sleep(300 * time.Millisecond)
	if n := quiet.count(); n != 0 {
		t.Fatalf("with push off and no pull request, %d messages arrived", n)
	}
	if err := r1.wait(t); err != nil {
		t.Fatal(err)
	}

	rec := newRecorder()
	r2 := run(t, config(sb), rec.handle) // pulls every 50 ms
	want := int(sb.TMCStats().Published)
	eventually(t, "the pulled messages", func() bool { return rec.count() == want })
	sb.Churn(5)
	want = int(sb.TMCStats().Published)
	eventually(t, "messages published after connecting", func() bool { return rec.count() == want })
	if err := r2.wait(t); err != nil {
		t.Fatal(err)
	}
	if st := sb.TMCStats(); st.Unconfirmed != 0 {
		t.Fatalf("sandbox: %+v", st)
	}
}

// A handler error fails the message; the channel delivers it again.
func TestFailIsRedelivered(t *testing.T) {
	sb := startSandbox(t, sandbox.Options{TMC: sandbox.TMCOptions{FailDelay: 100 * time.Millisecond}})
	var mu sync.Mutex
	runs := map[int64]int{}
	h := func(ctx context.Context, m *tmc.Message) error {
		mu.Lock()
		defer mu.Unlock()
		runs[m.ID]++
		if runs[m.ID] == 1 {
			return fmt.Errorf("first try fails: %s", strings.Repeat("x", 300))
		}
		return nil
	}
	r := run(t, config(sb), h)
	sb.Churn(20)
	want := sb.TMCStats().Published
	eventually(t, "all confirmed", func() bool { return sb.TMCStats().Confirmed == want })
	if err := r.wait(t); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	for id, n := range runs {
		if n != 2 {
			t.Errorf("message %d ran %d times, want 2 (fail, then ok)", id, n)
		}
	}
	st := sb.TMCStats()
	if st.Failed != want || st.Redelivered < want || len(runs) != int(want) {
		t.Fatalf("sandbox %+v; %d messages ran; want %d failed and redelivered", st, len(runs), want)
	}
	if cs := r.c.Stats(); cs.Failed != want || cs.Handled != want {
		t.Fatalf("consumer %+v", cs)
	}
}

// A message published twice (same object, topic and content) while the
// first still waits for a handler is confirmed without running the handler;
// messages about one trade (trade or refund) never run at once.
func TestDuplicatesDropped(t *testing.T) {
	sb := startSandbox(t, sandbox.Options{TMC: sandbox.TMCOptions{Duplicates: 1}})
	release := make(chan struct{})
	var mu sync.Mutex
	active := map[string]int{}
	var runs, overlap atomic.Int64
	h := func(ctx context.Context, m *tmc.Message) error {
		tid := tidOf(t, m)
		mu.Lock()
		active[tid]++
		if active[tid] > 1 {
			overlap.Add(1)
		}
		mu.Unlock()
		<-release
		runs.Add(1)
		mu.Lock()
		active[tid]--
		mu.Unlock()
		return nil
	}
	cfg := config(sb)
	cfg.Concurrency = 4
	cfg.Queue = 100
	cfg.DedupWindow = time.Minute
	r := run(t, cfg, h)
	eventually(t, "the connection", func() bool { return r.c.Stats().Connects == 1 })
	sb.Churn(30)
	pub := sb.TMCStats().Published
	eventually(t, "all received", func() bool { return r.c.Stats().Received == pub })
	close(release)
	eventually(t, "all confirmed", func() bool { return sb.TMCStats().Confirmed == pub })
	if err := r.wait(t); err != nil {
		t.Fatal(err)
	}
	cs := r.c.Stats()
	if cs.Duplicates == 0 || cs.Duplicates+cs.Handled != pub || runs.Load() != cs.Handled {
		t.Fatalf("stats %+v, %d runs, %d published: want duplicates > 0 and duplicates+handled = published", cs, runs.Load(), pub)
	}
	if overlap.Load() != 0 {
		t.Fatalf("%d handler runs overlapped another of the same object", overlap.Load())
	}
}

// The sandbox drops every connection twice mid-stream: the consumer
// reconnects and nothing is lost.
func TestReconnectAfterDrop(t *testing.T) {
	sb := startSandbox(t, sandbox.Options{TMC: sandbox.TMCOptions{Redeliver: 300 * time.Millisecond}})
	rec := newRecorder()
	r := run(t, config(sb), rec.handle)
	for round := 1; round <= 3; round++ {
		eventually(t, "a connection", func() bool { return r.c.Stats().Connects == int64(round) && sb.TMCStats().Connections == 1 })
		sb.Churn(20)
		if round < 3 {
			if n := sb.DropTMC(); n != 1 {
				t.Fatalf("dropped %d connections, want 1", n)
			}
		}
	}
	pub := sb.TMCStats().Published
	eventually(t, "all confirmed", func() bool { return sb.TMCStats().Confirmed == pub })
	if err := r.wait(t); err != nil {
		t.Fatal(err)
	}
	if rec.count() != int(pub) {
		t.Fatalf("handled %d distinct messages, want %d", rec.count(), pub)
	}
}

// A stop lets the running handler finish and confirms it; what waited for a
// handler goes back to the channel at once, and another consumer gets it.
func TestCleanStop(t *testing.T) {
	// Messages still in transit when the connection closes come back after
	// the confirm timeout (Redeliver); those released come back after FailDelay.
	sb := startSandbox(t, sandbox.Options{TMC: sandbox.TMCOptions{FailDelay: 50 * time.Millisecond, Redeliver: 500 * time.Millisecond}})
	started := make(chan int64, 100)
	release := make(chan struct{})
	var finished atomic.Int64
	h := func(ctx context.Context, m *tmc.Message) error {
		started <- m.ID
		<-release
		finished.Add(1)
		return nil
	}
	cfg := config(sb)
	cfg.Concurrency = 1
	cfg.Queue = 4
	r := run(t, cfg, h)
	eventually(t, "the connection", func() bool { return r.c.Stats().Connects == 1 })
	sb.Churn(10)
	first := <-started
	eventually(t, "a full queue", func() bool { return r.c.Stats().InHand == 5 })
	r.stop()
	time.Sleep(100 * time.Millisecond)
	select {
	case err := <-r.done:
		t.Fatalf("Run returned (%v) with a handler still running", err)
	default:
	}
	close(release)
	if err := r.wait(t); err != nil {
		t.Fatal(err)
	}
	cs := r.c.Stats()
	if finished.Load() != 1 || cs.Handled != 1 || cs.Confirmed != 1 || cs.Released != cs.Received-1 {
		t.Fatalf("after the stop: %d finished, stats %+v; want the running one handled and confirmed, the rest released", finished.Load(), cs)
	}
	st := sb.TMCStats()
	if st.Confirmed != 1 || st.Failed != cs.Released {
		t.Fatalf("sandbox %+v, want 1 confirmed and %d failed back", st, cs.Released)
	}
	for _, id := range st.UnconfirmedIDs {
		if id == first {
			t.Fatal("the message handled before the stop is unconfirmed")
		}
	}
	rec := newRecorder()
	r2 := run(t, config(sb), rec.handle)
	eventually(t, "the rest handled by the next consumer", func() bool { return sb.TMCStats().Unconfirmed == 0 })
	if err := r2.wait(t); err != nil {
		t.Fatal(err)
	}
	if rec.runs[first] != 0 {
		t.Fatal("the next consumer got the message already confirmed")
	}
}

// Handlers that fall behind stop the reading: in hand stays bounded by the
// queue, the rest waits in the channel.
func TestBackPressure(t *testing.T) {
	sb := startSandbox(t, sandbox.Options{TMC: sandbox.TMCOptions{Window: 8}})
	release := make(chan struct{})
	var handled atomic.Int64
	h := func(ctx context.Context, m *tmc.Message) error {
		<-release
		handled.Add(1)
		return nil
	}
	cfg := config(sb)
	cfg.Concurrency = 2
	cfg.Queue = 3
	r := run(t, cfg, h)
	eventually(t, "the connection", func() bool { return r.c.Stats().Connects == 1 })
	sb.Churn(60)
	pub := sb.TMCStats().Published
	eventually(t, "a full queue", func() bool { return r.c.Stats().InHand == 5 })
	time.Sleep(200 * time.Millisecond)
	if cs := r.c.Stats(); cs.InHand > 5 || cs.Received > 6 {
		t.Fatalf("stats %+v: in hand is bounded by concurrency 2 + queue 3 (one more may wait in the reader)", cs)
	}
	close(release)
	eventually(t, "all confirmed", func() bool { return sb.TMCStats().Confirmed == pub })
	if err := r.wait(t); err != nil {
		t.Fatal(err)
	}
	if handled.Load() != pub {
		t.Fatalf("handled %d of %d", handled.Load(), pub)
	}
}

// Consumers on one group split its messages.
func TestGroupShared(t *testing.T) {
	sb := startSandbox(t, sandbox.Options{TMC: sandbox.TMCOptions{Window: 4}})
	a, b := newRecorder(), newRecorder()
	slow := func(rec *recorder) tmc.Handler {
		return func(ctx context.Context, m *tmc.Message) error {
			time.Sleep(2 * time.Millisecond)
			return rec.handle(ctx, m)
		}
	}
	ra := run(t, config(sb), slow(a))
	rb := run(t, config(sb), slow(b))
	eventually(t, "two connections", func() bool { return sb.TMCStats().Connections == 2 })
	sb.Churn(100)
	pub := sb.TMCStats().Published
	eventually(t, "all confirmed", func() bool { return sb.TMCStats().Confirmed == pub })
	ra.wait(t)
	rb.wait(t)
	if a.count() == 0 || b.count() == 0 || a.count()+b.count() != int(pub) {
		t.Fatalf("split %d + %d of %d: want both to get some, and each message once", a.count(), b.count(), pub)
	}
	for id := range a.runs {
		if b.runs[id] > 0 {
			t.Fatalf("message %d went to both", id)
		}
	}
}
