package sandbox

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/topscript/topscript/tmc/wire"
)

// dialTMC connects to s's /tmc and sends a CONNECT with headers.
func dialTMC(t *testing.T, s *Server, headers map[string]string) (*websocket.Conn, *wire.Frame) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, s.TMCURL(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.CloseNow() })
	f := &wire.Frame{Type: wire.Connect}
	for _, k := range []string{"app_key", "group_name", "timestamp", "sign", "sdk"} {
		if v, ok := headers[k]; ok {
			f.Set(k, wire.Str(v))
		}
	}
	if err := ws.Write(ctx, websocket.MessageBinary, wire.Encode(nil, f)); err != nil {
		t.Fatal(err)
	}
	_, b, err := ws.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ack, err := wire.Decode(b)
	if err != nil || ack.Type != wire.ConnectAck {
		t.Fatalf("answer %v %v, want CONNECTACK", ack, err)
	}
	return ws, ack
}

// connectHeaders are a correctly signed CONNECT's headers.
func connectHeaders(s *Server, group string) map[string]string {
	h := map[string]string{"app_key": s.opts.AppKey, "group_name": group,
		"timestamp": strconv.FormatInt(s.opts.Now().UnixMilli(), 10), "sdk": "test"}
	h["sign"], _ = computeSign(map[string]string{"app_key": h["app_key"], "group_name": group, "timestamp": h["timestamp"]}, nil, nil, s.opts.AppSecret, signMD5)
	return h
}

func TestTMCHandshakeChecks(t *testing.T) {
	s := newTestServer(t, Options{})
	if err := s.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	good := connectHeaders(s, "default")
	if _, ack := dialTMC(t, s, good); ack.StatusCode != 0 || ack.Token == "" {
		t.Fatalf("a good handshake: %+v", ack)
	}
	with := func(k, v string) map[string]string {
		h := map[string]string{}
		for a, b := range good {
			h[a] = b
		}
		if v == "" {
			delete(h, k)
		} else {
			h[k] = v
		}
		return h
	}
	for _, c := range []struct {
		h      map[string]string
		code   uint32
		phrase string
	}{
		{with("app_key", ""), 400, "missing app_key"},
		{with("app_key", "999"), 401, "invalid app_key"},
		{with("sign", ""), 400, "missing sign"},
		{with("sign", strings.Repeat("A", 32)), 401, "invalid sign"},
		{with("timestamp", strconv.FormatInt(testNow.Add(-time.Hour).UnixMilli(), 10)), 401, "invalid timestamp"},
		{connectHeaders(s, "orders"), 404, "group not exist: orders"},
	} {
		_, ack := dialTMC(t, s, c.h)
		if ack.StatusCode != c.code || ack.StatusPhrase != c.phrase || ack.Token != "" {
			t.Errorf("%v: %d %q, want %d %q", c.h, ack.StatusCode, ack.StatusPhrase, c.code, c.phrase)
		}
	}
	// The server registers a connection just after its CONNECTACK.
	deadline := time.Now().Add(5 * time.Second)
	for s.TMCStats().Connections != 1 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if st := s.TMCStats(); st.Connections != 1 {
		t.Fatalf("%d connections, want only the good one", st.Connections)
	}
	// A plain HTTP request is not a WebSocket.
	resp, err := http.Get(strings.Replace(s.TMCURL(), "ws://", "http://", 1))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusSwitchingProtocols {
		t.Fatalf("plain GET /tmc: %d", resp.StatusCode)
	}
}

// A frame without the connection's token ends the connection; with it, a
// pull request brings the queued messages.
func TestTMCTokenAndPull(t *testing.T) {
	s := newTestServer(t, Options{TMC: TMCOptions{PullOnly: true}})
	if err := s.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	s.Permit(nil)
	s.Churn(3)
	pub := s.TMCStats().Published
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	ws, ack := dialTMC(t, s, connectHeaders(s, ""))
	pull := &wire.Frame{Type: wire.Send, Token: ack.Token}
	pull.Set(wire.KindHeader, wire.I16(wire.KindPull))
	if err := ws.Write(ctx, websocket.MessageBinary, wire.Encode(nil, pull)); err != nil {
		t.Fatal(err)
	}
	for range pub {
		_, b, err := ws.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		f, err := wire.Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		id, _ := f.Get("id")
		uid, _ := f.Get("userid")
		if id.Format != wire.Int64 || id.Int <= 1<<53 || uid.Int != sellerUserID || f.Text("topic") == "" || f.Text("content") == "" {
			t.Fatalf("message frame %+v", f)
		}
	}
	bad := &wire.Frame{Type: wire.Send, Token: "not-" + ack.Token}
	bad.Set(wire.KindHeader, wire.I16(wire.KindPull))
	if err := ws.Write(ctx, websocket.MessageBinary, wire.Encode(nil, bad)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ws.Read(ctx); websocket.CloseStatus(err) != websocket.StatusPolicyViolation {
		t.Fatalf("after a wrong token: %v, want a policy-violation close", err)
	}
}
