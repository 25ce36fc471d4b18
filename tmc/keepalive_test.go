package tmc_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/topscript/topscript/sandbox"
	"github.com/topscript/topscript/tmc"
	"github.com/topscript/topscript/tmc/wire"
)

// A server that accepts the handshake and then never reads (so it never
// answers a ping): the keep-alive notices and the consumer reconnects.
func TestKeepAliveDetectsADeadPeer(t *testing.T) {
	var accepted atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer ws.CloseNow()
		_, b, err := ws.Read(r.Context())
		if err != nil {
			return
		}
		if f, err := wire.Decode(b); err != nil || f.Type != wire.Connect || f.Text("sign") == "" {
			t.Errorf("handshake frame: %v %v", f, err)
			return
		}
		ack := wire.Encode(nil, &wire.Frame{Type: wire.ConnectAck, Token: "tok"})
		if ws.Write(r.Context(), websocket.MessageBinary, ack) != nil {
			return
		}
		accepted.Add(1)
		<-r.Context().Done() // hold the connection, read nothing
	}))
	defer srv.Close()
	cfg := tmc.Config{URL: "ws" + strings.TrimPrefix(srv.URL, "http"), AppKey: "k", AppSecret: "s",
		PingEvery: 20 * time.Millisecond, PingTimeout: 50 * time.Millisecond, PullEvery: time.Hour,
		ReconnectMin: 10 * time.Millisecond, ReconnectMax: 20 * time.Millisecond, StopTimeout: time.Second}
	r := run(t, cfg, newRecorder().handle)
	eventually(t, "a reconnect after an unanswered ping", func() bool { return r.c.Stats().Connects >= 2 && accepted.Load() >= 2 })
	if err := r.wait(t); err != nil {
		t.Fatal(err)
	}
}

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// The logs carry a periodic summary, failures and reconnects, and never the
// app secret.
func TestLogsSummaryAndNoSecret(t *testing.T) {
	const secret = "s3cr3t-value-4417"
	sb := startSandbox(t, sandbox.Options{AppSecret: secret, TMC: sandbox.TMCOptions{FailDelay: 20 * time.Millisecond, Redeliver: 200 * time.Millisecond}})
	var logs syncBuffer
	cfg := config(sb)
	cfg.AppSecret = secret
	cfg.SummaryEvery = 20 * time.Millisecond
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var n atomic.Int64
	r := run(t, cfg, func(ctx context.Context, m *tmc.Message) error {
		if n.Add(1)%3 == 0 {
			return context.DeadlineExceeded
		}
		return nil
	})
	eventually(t, "the connection", func() bool { return r.c.Stats().Connects == 1 })
	sb.Churn(20)
	sb.DropTMC()
	sb.Churn(20)
	pub := sb.TMCStats().Published
	eventually(t, "all confirmed", func() bool { return sb.TMCStats().Confirmed == pub })
	if err := r.wait(t); err != nil {
		t.Fatal(err)
	}
	out := logs.String()
	for _, want := range []string{"tmc: summary", "received=", "handled=", "failed=", "duplicates=", "lag=",
		"tmc: handler failed", "tmc: connection lost; reconnecting", "tmc: connected"} {
		if !strings.Contains(out, want) {
			t.Errorf("logs lack %q", want)
		}
	}
	if strings.Contains(out, secret) {
		t.Fatal("the logs show the app secret")
	}
	bad := cfg
	bad.AppSecret = secret + "x"
	err := run(t, bad, newRecorder().handle).wait(t)
	if err == nil || strings.Contains(err.Error(), secret) {
		t.Fatalf("refusal error %v: want one, without the secret", err)
	}
}

func TestConfigErrors(t *testing.T) {
	h := newRecorder().handle
	for _, c := range []struct {
		cfg  tmc.Config
		h    tmc.Handler
		want string
	}{
		{tmc.Config{AppKey: "k", AppSecret: "s"}, h, "URL"},
		{tmc.Config{URL: "ws://x", AppSecret: "s"}, h, "AppKey"},
		{tmc.Config{URL: "ws://x", AppKey: "k"}, h, "AppSecret"},
		{tmc.Config{URL: "ws://x", AppKey: "k", AppSecret: "s"}, nil, "Handler"},
		{tmc.Config{URL: "ws://x", AppKey: "k", AppSecret: "s", Concurrency: -1}, h, "Concurrency"},
	} {
		if _, err := tmc.New(c.cfg, c.h); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("New(%+v) = %v, want an error naming %s", c.cfg, err, c.want)
		}
	}
	c, err := tmc.New(tmc.Config{URL: "ws://127.0.0.1:1/tmc", AppKey: "k", AppSecret: "s"}, h)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := c.Run(ctx); err != nil {
		t.Fatalf("Run with an ended ctx and nothing in hand: %v", err)
	}
	if err := c.Run(context.Background()); err == nil {
		t.Fatal("a second Run is accepted")
	}
}
