package top

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// traceLog records a CallTrace's hooks as lines.
type traceLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *traceLog) add(format string, args ...any) {
	l.mu.Lock()
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
	l.mu.Unlock()
}

func (l *traceLog) trace() *CallTrace {
	return &CallTrace{
		Sent: func(m string) { l.add("sent %s", m) },
		Answered: func(m string, d time.Duration, err *Error) {
			if d < 0 {
				l.add("negative duration %v", d)
			}
			kind := "ok"
			if err != nil {
				kind = string(err.Kind)
			}
			l.add("answered %s %s", m, kind)
		},
		Backoff: func(m string, d time.Duration) { l.add("backoff %s %v", m, d >= time.Second) },
	}
}

func (l *traceLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "; ")
}

// The hooks of the context's CallTrace run around every attempt: sent,
// answered with the attempt's error, backoff before a retry; a call
// without one runs none, and nothing breaks.
func TestCallTrace(t *testing.T) {
	g := newGW(t, func(n int64, _ map[string]string, w http.ResponseWriter, _ *http.Request) {
		if n == 1 {
			errBody(w, 15, "Remote service error", "isp.top-remote-connection-timeout", "")
			return
		}
		okBody(w, `{"time_get_response":{"time":"2024-01-01 00:00:00"}}`)
	})
	c, _ := fakeClient(t, g.srv.URL, nil)
	var l traceLog
	if _, err := c.Call(WithCallTrace(context.Background(), l.trace()), "taobao.time.get", nil, nil); err != nil {
		t.Fatal(err)
	}
	want := "sent taobao.time.get; answered taobao.time.get isp; backoff taobao.time.get true; sent taobao.time.get; answered taobao.time.get ok"
	if l.String() != want {
		t.Errorf("trace:\n got %s\nwant %s", l.String(), want)
	}
	if _, err := c.Call(WithCallTrace(context.Background(), &CallTrace{}), "taobao.time.get", nil, nil); err != nil {
		t.Errorf("empty trace: %v", err)
	}
}

// A batch is traced as one request; a sub-request sent again alone is
// traced as a call of its own, its backoff first.
func TestCallTraceBatch(t *testing.T) {
	g := newBatchGW(t)
	g.sub = func(n int64, i int, p url.Values) string {
		if p.Get("method") == "test.item.get" {
			return `{"error_response":{"code":15,"msg":"Remote service error","sub_code":"isp.top-remote-connection-timeout","request_id":"r1"}}`
		}
		return `{"price_set_response":{"ok":true,"request_id":"r3"}}`
	}
	c, _ := batchClient(t, g)
	var l traceLog
	calls := []BatchCall{testCalls[0], testCalls[2]}
	if _, err := c.CallBatch(WithCallTrace(context.Background(), l.trace()), calls); err != nil {
		t.Fatal(err)
	}
	want := "sent batch of 2 calls; answered batch of 2 calls isp; backoff test.item.get true; sent test.item.get; answered test.item.get ok"
	if l.String() != want {
		t.Errorf("trace:\n got %s\nwant %s", l.String(), want)
	}
}
