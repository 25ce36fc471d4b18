package notify_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/topscript/topscript/notify"
)

const (
	dingToken  = "d1ngt0ken0123456789abcdef"
	dingSecret = "SEC0123456789abcdefsecretsecret"
)

// robotCall is one message a fake robot received.
type robotCall struct {
	Body  map[string]any
	Raw   string
	Query map[string][]string
	At    time.Time // by the test's clock, if it has one
}

// dingTalkRobot is a local DingTalk robot: it checks the access token and
// the signature as DingTalk does (timestamp within an hour, sign the
// base64 HMAC-SHA256 of "timestamp\nsecret") and answers like it.
type dingTalkRobot struct {
	*httptest.Server
	mu      sync.Mutex
	calls   []robotCall
	now     func() time.Time
	arrived chan struct{} // a call came in
	block   chan struct{} // when set, each call waits for it
}

func newDingTalkRobot(t *testing.T, secret string) *dingTalkRobot {
	r := &dingTalkRobot{arrived: make(chan struct{}, 100)}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		select {
		case r.arrived <- struct{}{}:
		default:
		}
		if r.block != nil {
			<-r.block
		}
		raw, _ := io.ReadAll(req.Body)
		answer := func(code int, msg string) { fmt.Fprintf(w, `{"errcode":%d,"errmsg":%q}`, code, msg) }
		q := req.URL.Query()
		if req.Method != http.MethodPost || req.URL.Path != "/robot/send" || !strings.HasPrefix(req.Header.Get("Content-Type"), "application/json") {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		if q.Get("access_token") != dingToken {
			answer(300001, "token is not exist")
			return
		}
		ts, err := strconv.ParseInt(q.Get("timestamp"), 10, 64)
		if err != nil || time.Since(time.UnixMilli(ts)).Abs() > time.Hour {
			answer(310000, "sign not match, timestamp is invalid")
			return
		}
		if want := notify.DingTalkSign(ts, secret); !hmac.Equal([]byte(q.Get("sign")), []byte(want)) {
			answer(310000, "sign not match, more: [sign="+q.Get("sign")+"]")
			return
		}
		var body map[string]any
		if err := json.Unmarshal(raw, &body); err != nil {
			answer(40035, "缺少参数 json")
			return
		}
		c := robotCall{Body: body, Raw: string(raw), Query: q}
		if r.now != nil {
			c.At = r.now()
		}
		r.mu.Lock()
		r.calls = append(r.calls, c)
		r.mu.Unlock()
		answer(0, "ok")
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *dingTalkRobot) url() string { return r.URL + "/robot/send?access_token=" + dingToken }

func (r *dingTalkRobot) received() []robotCall {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]robotCall(nil), r.calls...)
}

func jobFailed(i int) notify.Event {
	return notify.Event{
		Kind:    notify.JobFailed,
		Subject: "bulk_price.lua",
		Summary: fmt.Sprintf("run %d: 37 of 10000 rows failed", i),
		Fields:  []notify.Field{{"shop", "旗舰店"}, {"exit code", "3"}, {"isv.item-not-exist", "37 rows"}},
		Time:    time.Date(2024, 6, 1, 2, 0, 0, 0, time.UTC),
	}
}

// logBuffer collects a dispatcher's log lines.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *logBuffer) logger() *slog.Logger { return slog.New(slog.NewTextHandler(l, nil)) }

func flush(t *testing.T, d *notify.Dispatcher) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := d.Flush(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestDingTalkSignedMarkdown(t *testing.T) {
	robot := newDingTalkRobot(t, dingSecret)
	cfg := notify.Config{Name: "ops", Type: "dingtalk", URL: robot.url(), Secret: dingSecret, AtMobiles: []string{"13800000000"}}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	d := notify.New([]notify.Target{cfg.Target(1, nil, nil)}, notify.Options{})
	defer d.Close()
	d.Notify(jobFailed(1))
	flush(t, d)
	calls := robot.received()
	if len(calls) != 1 {
		t.Fatalf("%d calls, want 1 (stats %+v)", len(calls), d.Stats())
	}
	b := calls[0].Body
	md, _ := b["markdown"].(map[string]any)
	at, _ := b["at"].(map[string]any)
	if b["msgtype"] != "markdown" || md["title"] != "topscript: job failed: bulk_price.lua" {
		t.Errorf("message %s", calls[0].Raw)
	}
	text, _ := md["text"].(string)
	for _, want := range []string{"#### topscript: job failed: bulk\\_price.lua", "run 1: 37 of 10000 rows failed", "- **shop**: 旗舰店", "**isv.item-not-exist**: 37 rows", "2024-06-01 10:00:00 (GMT+8)", "@13800000000"} {
		if !strings.Contains(text, want) {
			t.Errorf("text does not say %q:\n%s", want, text)
		}
	}
	if mobiles, _ := at["atMobiles"].([]any); len(mobiles) != 1 || mobiles[0] != "13800000000" {
		t.Errorf("at: %v", at)
	}
	if s := d.Stats()["ops"]; s.Sent != 1 || s.Calls != 1 || s.Failed != 0 {
		t.Errorf("stats %+v", s)
	}
}

// A robot that refuses the call (a wrong secret) is a failed send, logged
// and counted, with neither the token, the secret nor the sign in sight.
func TestDingTalkRefusedSecretsScrubbed(t *testing.T) {
	robot := newDingTalkRobot(t, dingSecret)
	var logs logBuffer
	wrong := "SECwrongwrongwrongwrong"
	d := notify.New([]notify.Target{(&notify.Config{Type: "dingtalk", URL: robot.url(), Secret: wrong, Format: "text"}).Target(1, nil, nil)},
		notify.Options{Logger: logs.logger()})
	defer d.Close()
	d.Notify(jobFailed(1))
	flush(t, d)
	s := d.Stats()["dingtalk 1"]
	if s.Failed != 1 || s.Sent != 0 || !strings.Contains(s.LastError, "errcode 310000: sign not match") {
		t.Fatalf("stats %+v", s)
	}
	out := logs.String() + s.LastError
	if !strings.Contains(logs.String(), "notify: send failed") {
		t.Errorf("no log line: %s", out)
	}
	for _, secret := range []string{dingToken, wrong, dingSecret} {
		if strings.Contains(out, secret) {
			t.Errorf("a secret shows: %s", out)
		}
	}
	if strings.Contains(out, "sign=") && !strings.Contains(out, "sign=[REDACTED]") {
		t.Errorf("the sign shows: %s", out)
	}

	// Unreachable: the transport error names the URL; its token is scrubbed.
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL + "/robot/send?access_token=" + dingToken
	dead.Close()
	d2 := notify.New([]notify.Target{(&notify.Config{Type: "dingtalk", URL: deadURL, Secret: dingSecret}).Target(2, nil, nil)}, notify.Options{Logger: logs.logger()})
	defer d2.Close()
	d2.Notify(jobFailed(2))
	flush(t, d2)
	s = d2.Stats()["dingtalk 2"]
	if s.Failed != 1 || !strings.Contains(s.LastError, "connect") || strings.Contains(s.LastError, dingToken) || strings.Contains(logs.String(), dingToken) {
		t.Errorf("unreachable robot: %+v\n%s", s, logs.String())
	}
}

func TestWeComAndWebhook(t *testing.T) {
	var mu sync.Mutex
	got := map[string][]string{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		switch r.URL.Path {
		case "/cgi-bin/webhook/send":
			if r.URL.Query().Get("key") != "wecomkey-123" {
				fmt.Fprint(w, `{"errcode":93000,"errmsg":"invalid webhook url"}`)
				return
			}
			got["wecom"] = append(got["wecom"], string(raw))
			fmt.Fprint(w, `{"errcode":0,"errmsg":"ok"}`)
		case "/hook":
			if r.Header.Get("Authorization") != "Bearer hooktoken-456" ||
				r.Header.Get(notify.SignatureHeader) != notify.WebhookSignature(raw, "hooksecret-789") {
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			got["webhook"] = append(got["webhook"], string(raw))
			w.WriteHeader(http.StatusNoContent)
		}
	}))
	defer srv.Close()
	cfgs := []notify.Config{
		{Type: "wecom", URL: srv.URL + "/cgi-bin/webhook/send?key=wecomkey-123", AtMobiles: []string{"13900000000"}},
		{Type: "webhook", URL: srv.URL + "/hook", Secret: "hooksecret-789", Headers: map[string]string{"Authorization": "Bearer hooktoken-456"}, On: []string{"script_error"}},
	}
	var targets []notify.Target
	for i, c := range cfgs {
		if err := c.Validate(); err != nil {
			t.Fatal(err)
		}
		targets = append(targets, c.Target(i+1, nil, nil))
	}
	d := notify.New(targets, notify.Options{})
	defer d.Close()
	d.Notify(jobFailed(1)) // the webhook does not want it
	d.Notify(notify.Event{Kind: notify.ScriptError, Subject: "order_sync.lua", Summary: "order_sync.lua:12: attempt to index a nil value"})
	flush(t, d)
	mu.Lock()
	defer mu.Unlock()
	// Both alerts reach WeCom, in one call or two (a digest when the second
	// came while the first was sent); only the script error the webhook.
	if s := d.Stats()["wecom 1"]; s.Sent != 2 || len(got["wecom"]) != s.Calls || len(got["webhook"]) != 1 {
		t.Fatalf("wecom %d, webhook %d calls; stats %+v", len(got["wecom"]), len(got["webhook"]), d.Stats())
	}
	if all := strings.Join(got["wecom"], ""); !strings.Contains(all, "job failed") || !strings.Contains(all, "script error") {
		t.Errorf("wecom messages: %s", all)
	}
	var wc struct {
		MsgType  string `json:"msgtype"`
		Markdown struct {
			Content string `json:"content"`
		} `json:"markdown"`
	}
	json.Unmarshal([]byte(got["wecom"][0]), &wc)
	if wc.MsgType != "markdown" || !strings.Contains(wc.Markdown.Content, "topscript") || !strings.Contains(wc.Markdown.Content, "<@13900000000>") {
		t.Errorf("wecom message %s", got["wecom"][0])
	}
	var p notify.Payload
	if err := json.Unmarshal([]byte(got["webhook"][0]), &p); err != nil {
		t.Fatal(err)
	}
	if p.Kind != notify.ScriptError || p.Title != "topscript: script error: order_sync.lua" || !strings.Contains(p.Text, "attempt to index a nil value") || p.Time == "" {
		t.Errorf("payload %+v", p)
	}
}

// The limiter itself: however the attempts come, at most 20 are allowed
// in any minute.
func TestLimiterAtMostPerMinute(t *testing.T) {
	for _, per := range []int{1, 2, 6, 20, 60} {
		lim := notify.Limiter(per)
		start := time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)
		var allowed []time.Time
		for i := range 30000 {
			at := start.Add(time.Duration(i) * 10 * time.Millisecond)
			if lim.AllowN(at, 1) {
				allowed = append(allowed, at)
			}
		}
		for i := range allowed {
			n := 0
			for j := i; j < len(allowed) && allowed[j].Sub(allowed[i]) <= time.Minute; j++ {
				n++
			}
			if n > per {
				t.Fatalf("per_minute %d: %d allowed in the minute from %s", per, n, allowed[i].Format("15:04:05.000"))
			}
		}
		// And it does not starve: over the 5 minutes, close to the rate.
		if min := per * 5 * 97 / 100; len(allowed) < min {
			t.Errorf("per_minute %d: only %d allowed in 5 minutes", per, len(allowed))
		}
	}
}

// 50 failures in a minute reach the robot in at most 20 calls; the ones
// held back go out together (a digest), none lost.
func TestFiftyFailuresAMinute(t *testing.T) {
	clk := notify.NewFakeClock(time.Now())
	robot := newDingTalkRobot(t, dingSecret)
	robot.now = clk.Now
	target := (&notify.Config{Name: "ops", Type: "dingtalk", URL: robot.url(), Secret: dingSecret}).Target(1, nil, nil)
	d := notify.NewWithClock([]notify.Target{target}, notify.Options{}, clk)
	defer d.Close()
	start := clk.Now()
	notified := 0
	// settle lets the sender do what it would between two failures: send,
	// or wait for the limit on the clock.
	settle := func() {
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
			if s := d.Stats()["ops"]; clk.Sleepers() > 0 || s.Sent+s.Failed+s.Dropped == notified {
				return
			}
		}
	}
	for i := range 50 {
		d.Notify(jobFailed(i))
		notified++
		settle()
		clk.Advance(1200 * time.Millisecond)
	}
	// The minute is over. What is still held back goes out as tokens come.
	for range 20 {
		settle()
		clk.Advance(6 * time.Second)
	}
	flush(t, d)
	calls := robot.received()
	inMinute := 0
	seen := map[string]int{}
	for _, c := range calls {
		if c.At.Sub(start) <= time.Minute {
			inMinute++
		}
		md, _ := c.Body["markdown"].(map[string]any)
		text, _ := md["text"].(string)
		for i := range 50 {
			if strings.Contains(text, fmt.Sprintf("run %d: ", i)) {
				seen[fmt.Sprint(i)]++
			}
		}
	}
	t.Logf("%d calls in all, %d within the minute; stats %+v", len(calls), inMinute, d.Stats()["ops"])
	if inMinute > 20 {
		t.Errorf("%d webhook calls within a minute, want at most 20", inMinute)
	}
	if inMinute < 15 {
		t.Errorf("only %d calls within the minute: the limit allows one every 3s", inMinute)
	}
	for i := range 50 {
		if seen[fmt.Sprint(i)] != 1 {
			t.Errorf("failure %d reached the robot %d times, want once", i, seen[fmt.Sprint(i)])
		}
	}
	if s := d.Stats()["ops"]; s.Sent != 50 || s.Dropped != 0 || s.Failed != 0 {
		t.Errorf("stats %+v", s)
	}
}

// A target that hangs never blocks Notify: its queue fills and drops, the
// send times out, Flush gives up at its deadline and says what it dropped.
func TestNeverBlocks(t *testing.T) {
	robot := newDingTalkRobot(t, dingSecret)
	robot.block = make(chan struct{})
	var logs logBuffer
	target := (&notify.Config{Name: "slow", Type: "dingtalk", URL: robot.url(), Secret: dingSecret}).Target(1, nil, nil)
	d := notify.New([]notify.Target{target}, notify.Options{Queue: 4, Timeout: 300 * time.Millisecond, Logger: logs.logger()})
	d.Notify(jobFailed(0))
	<-robot.arrived // the first send is in flight; pile on
	for i := 1; i < 20; i++ {
		d.Notify(jobFailed(i))
	}
	if s := d.Stats()["slow"]; s.Dropped != 15 {
		t.Errorf("dropped %d with a queue of 4 and one in flight, want 15", s.Dropped)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	err := d.Flush(ctx)
	cancel()
	if err == nil || !strings.Contains(err.Error(), "4 alerts not sent before the deadline (dropped), 1 still being sent") {
		t.Errorf("Flush: %v", err)
	}
	for deadline := time.Now().Add(5 * time.Second); d.Stats()["slow"].Failed == 0 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond) // the send's own timeout
	}
	close(robot.block)
	d.Close()
	s := d.Stats()["slow"]
	if s.Dropped != 19 || s.Failed != 1 || !strings.Contains(s.LastError, "deadline exceeded") {
		t.Errorf("stats %+v", s)
	}
	if !strings.Contains(logs.String(), "queue full, alert dropped") || strings.Contains(logs.String(), dingToken) {
		t.Errorf("logs:\n%s", logs.String())
	}
}

// Secrets given to the dispatcher never reach a message.
func TestMessagesScrubbed(t *testing.T) {
	robot := newDingTalkRobot(t, dingSecret)
	d := notify.New([]notify.Target{(&notify.Config{Type: "dingtalk", URL: robot.url(), Secret: dingSecret}).Target(1, nil, nil)},
		notify.Options{Secrets: []string{"appsecret-abcdef", "6100e23657fb0b2d0c78568e55a3031134be9a3a5d4b3a365753805"}})
	defer d.Close()
	d.Notify(notify.Event{Kind: notify.ScriptError, Subject: "x.lua", Summary: "bad call with session 6100e23657fb0b2d0c78568e55a3031134be9a3a5d4b3a365753805",
		Fields: []notify.Field{{"config", "app_secret=appsecret-abcdef"}}})
	flush(t, d)
	calls := robot.received()
	if len(calls) != 1 {
		t.Fatalf("%d calls", len(calls))
	}
	if strings.Contains(calls[0].Raw, "appsecret-abcdef") || strings.Contains(calls[0].Raw, "6100e23657fb") || !strings.Contains(calls[0].Raw, "REDACTED") {
		t.Errorf("message: %s", calls[0].Raw)
	}
}
