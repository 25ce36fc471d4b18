package tmc

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/topscript/topscript/tmc/wire"
)

func TestParseMessage(t *testing.T) {
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	zw.Write([]byte(`{"tid":3612345000000000123,"status":"WAIT_SELLER_SEND_GOODS"}`))
	zw.Close()
	f := &wire.Frame{Type: wire.Send}
	f.Set("id", wire.Str("9007199254740993")) // as a string: still exact
	f.Set("topic", wire.Str("taobao_trade_TradeBuyerPay"))
	f.Set("content", wire.Bytes(z.Bytes()))
	f.Set("userid", wire.I64(9007199254740995))
	f.Set("nick", wire.Str("店"))
	f.Set("time", wire.Str("2024-06-01 12:00:00"))
	f.Set("outtime", wire.Time(time.UnixMilli(1717214400123)))
	m, err := parseMessage(f)
	if err != nil {
		t.Fatal(err)
	}
	if m.ID != 9007199254740993 || m.UserID != 9007199254740995 {
		t.Fatalf("ids not exact: %d %d", m.ID, m.UserID)
	}
	if m.Key != "trade_3612345000000000123" || !strings.Contains(m.Content, "WAIT_SELLER") {
		t.Fatalf("key %q content %q", m.Key, m.Content)
	}
	if !m.Time.Equal(time.Date(2024, 6, 1, 4, 0, 0, 0, time.UTC)) || m.OutTime.UnixMilli() != 1717214400123 {
		t.Fatalf("times %v %v", m.Time, m.OutTime)
	}

	f = &wire.Frame{Type: wire.Send}
	f.Set(wire.KindHeader, wire.I16(wire.KindData))
	if _, err := parseMessage(f); !errors.Is(err, errNotMessage) {
		t.Fatalf("a frame without id: %v", err)
	}
	f.Set("id", wire.I64(5))
	f.Set("content", wire.Bytes([]byte("not gzip")))
	if m, err := parseMessage(f); err == nil || m == nil || m.ID != 5 {
		t.Fatalf("bad gzip: %v %v (want an error with the id, to fail it by)", m, err)
	}
}

func TestObjectKeys(t *testing.T) {
	for _, c := range []struct{ topic, content, key, lane string }{
		{"taobao_trade_TradeCreate", `{"tid":12}`, "trade_12", "trade_12"},
		{"taobao_item_ItemUpdate", `{"num_iid":"600000123","nick":"x"}`, "item_600000123", "item_600000123"},
		{"taobao_refund_RefundCreated", `{"refund_id":77,"tid":12}`, "refund_77", "trade_12"},
		{"taobao_trade_TradeCreate", `{"oid":12}`, "", ""},
		{"taobao_trade_TradeCreate", `not json`, "", ""},
		{"taobao_fenxiao_FxOrderPaid", `{"tid":12}`, "", ""},
	} {
		if key, lane := objectKeys(c.topic, c.content); key != c.key || lane != c.lane {
			t.Errorf("objectKeys(%s, %s) = %q, %q; want %q, %q", c.topic, c.content, key, lane, c.key, c.lane)
		}
	}
}

func TestReasonIsAtMost128Characters(t *testing.T) {
	r := reason(errors.New(strings.Repeat("错", 300)))
	if n := utf8.RuneCountInString(r); n != maxReason {
		t.Fatalf("reason has %d characters, want %d", n, maxReason)
	}
	if r := reason(errors.New(" short ")); r != "short" {
		t.Fatalf("reason = %q", r)
	}
}

func TestBackoffGrowsWithJitterWithinBounds(t *testing.T) {
	c := &Consumer{cfg: Config{ReconnectMin: 100 * time.Millisecond, ReconnectMax: 800 * time.Millisecond}}
	seen := map[time.Duration]bool{}
	for n := 0; n < 10; n++ {
		want := min(100*time.Millisecond<<n, 800*time.Millisecond)
		for range 50 {
			d := c.backoff(n)
			if d < want/2 || d > want {
				t.Fatalf("backoff(%d) = %v, want within [%v, %v]", n, d, want/2, want)
			}
			seen[d] = true
		}
	}
	if len(seen) < 50 {
		t.Fatalf("only %d distinct waits: no jitter", len(seen))
	}
}

func msg(id int64, key, content string) *Message {
	return &Message{ID: id, Key: key, lane: key, Topic: "taobao_trade_TradeChanged", Content: content}
}

func TestSchedLanesAndDuplicates(t *testing.T) {
	ctx := context.Background()
	s := newSched(10, time.Second)
	now := time.Now()
	push := func(m *Message) verdict {
		v, err := s.push(ctx, m, now)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	if v := push(msg(1, "trade_1", "a")); v != accepted {
		t.Fatal(v)
	}
	if v := push(msg(2, "trade_1", "a")); v != duplicate {
		t.Fatalf("same object, topic and content while the first waits: %v, want duplicate", v)
	}
	if v := push(msg(1, "trade_1", "a")); v != inHand {
		t.Fatalf("the same id again: %v, want inHand", v)
	}
	if v := push(msg(3, "trade_1", "b")); v != accepted {
		t.Fatalf("other content: %v", v)
	}
	if v := push(msg(4, "trade_2", "a")); v != accepted {
		t.Fatal(v)
	}
	e1, _ := s.next()
	e2, _ := s.next()
	if e1.m.ID != 1 || e2.m.ID != 4 {
		t.Fatalf("ran %d and %d; want 1, then 4 (3 waits behind 1 in trade_1's lane)", e1.m.ID, e2.m.ID)
	}
	if v := push(msg(5, "trade_2", "a")); v != accepted {
		t.Fatalf("a copy of a started message runs (its change may be newer than the first's read): %v", v)
	}
	s.done(e1)
	e3, _ := s.next()
	if e3.m.ID != 3 {
		t.Fatalf("after 1, its lane's next is 3, got %d", e3.m.ID)
	}
	// Past the window nothing is a duplicate.
	later := now.Add(2 * time.Second)
	if v, _ := s.push(ctx, msg(6, "trade_3", "z"), later); v != accepted {
		t.Fatal(v)
	}
	if v, _ := s.push(ctx, msg(7, "trade_3", "z"), later.Add(1500*time.Millisecond)); v != accepted {
		t.Fatalf("outside the window: %v", v)
	}
	rest := s.close()
	if len(rest) != 3 { // 5 (behind 4), 6, 7 (behind 6)
		t.Fatalf("close released %d, want 3", len(rest))
	}
	if _, ok := s.next(); ok {
		t.Fatal("next after close")
	}
	if v, _ := s.push(ctx, msg(8, "", "x"), later); v != released {
		t.Fatalf("push after close: %v", v)
	}
}

func TestSchedPushWaitsForRoom(t *testing.T) {
	s := newSched(1, 0)
	now := time.Now()
	if v, err := s.push(context.Background(), msg(1, "", ""), now); v != accepted || err != nil {
		t.Fatal(v, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	if _, err := s.push(ctx, msg(2, "", ""), now); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("push into a full queue = %v, want it to wait until ctx ends", err)
	}
	if !s.full() {
		t.Fatal("full")
	}
	if _, ok := s.next(); !ok || s.full() {
		t.Fatal("a started entry frees its slot")
	}
}
