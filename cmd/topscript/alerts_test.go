//go:build !windows

package main

import (
	"bufio"
	"crypto/hmac"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/topscript/topscript/internal/sandboxtest"
	"github.com/topscript/topscript/internal/syncbuf"
	"github.com/topscript/topscript/notify"
	"github.com/topscript/topscript/sandbox"
)

const (
	robotToken  = "r0b0t-t0ken-5678"
	robotSecret = "SECr0b0tsecret1234567890"
)

// robot is a local DingTalk group robot: it answers as DingTalk does,
// refusing a call whose token or signature (timestamp within an hour,
// sign the base64 HMAC-SHA256 of "timestamp\nsecret") is wrong.
type robot struct {
	*httptest.Server
	mu      sync.Mutex
	calls   []map[string]any
	refused []string
}

func startRobot(t *testing.T) *robot {
	r := &robot{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		raw, _ := io.ReadAll(req.Body)
		q := req.URL.Query()
		r.mu.Lock()
		defer r.mu.Unlock()
		ts, err := strconv.ParseInt(q.Get("timestamp"), 10, 64)
		switch {
		case req.URL.Path != "/robot/send" || q.Get("access_token") != robotToken:
			r.refused = append(r.refused, "token")
			fmt.Fprint(w, `{"errcode":300001,"errmsg":"token is not exist"}`)
			return
		case err != nil || time.Since(time.UnixMilli(ts)).Abs() > time.Hour ||
			!hmac.Equal([]byte(q.Get("sign")), []byte(notify.DingTalkSign(ts, robotSecret))):
			r.refused = append(r.refused, "sign")
			fmt.Fprint(w, `{"errcode":310000,"errmsg":"sign not match"}`)
			return
		}
		var body map[string]any
		if json.Unmarshal(raw, &body) != nil {
			fmt.Fprint(w, `{"errcode":40035,"errmsg":"缺少参数 json"}`)
			return
		}
		r.calls = append(r.calls, body)
		fmt.Fprint(w, `{"errcode":0,"errmsg":"ok"}`)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *robot) received() ([]map[string]any, []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]map[string]any(nil), r.calls...), append([]string(nil), r.refused...)
}

// startSMTP starts a real SMTP server (aiosmtpd, notify's test server)
// on a loopback port, keeping what it receives in maildir; it skips the
// test when aiosmtpd is not installed (.ci/run installs it).
func startSMTP(t *testing.T) (port int, maildir string) {
	py := ""
	for _, p := range []string{"python3", "/usr/bin/python3"} {
		if exec.Command(p, "-c", "import aiosmtpd").Run() == nil {
			py = p
			break
		}
	}
	if py == "" {
		t.Skip("aiosmtpd is not installed (apt-get install -y python3-aiosmtpd)")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port = l.Addr().(*net.TCPAddr).Port
	l.Close()
	maildir = filepath.Join(t.TempDir(), "mail")
	script, _ := filepath.Abs(filepath.Join("..", "..", "notify", "testdata", "smtpd.py"))
	cmd := exec.Command(py, script, strconv.Itoa(port), maildir)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdin.Close(); cmd.Wait() })
	line, _ := bufio.NewReader(stdout).ReadString('\n')
	if strings.TrimSpace(line) != "ready" {
		t.Fatalf("the SMTP server did not start: %q", line)
	}
	return port, maildir
}

func mails(t *testing.T, maildir string) []*mail.Message {
	files, _ := filepath.Glob(filepath.Join(maildir, "new", "*"))
	var out []*mail.Message
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		m, err := mail.ReadMessage(strings.NewReader(string(data)))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

// Issue #18 item 5: a failing scheduled run produces one DingTalk-shaped
// robot call with a valid signature and one email — sent by the scheduler
// from the run's record once the run has exited — and a run that goes
// well afterwards produces none. The secrets of the targets never reach
// the scheduler's log.
func TestScheduledFailureAlerts(t *testing.T) {
	bin := binary(t)
	sb := sandboxtest.Start(t, sandbox.Options{})
	rb := startRobot(t)
	port, maildir := startSMTP(t)
	dir := t.TempDir()
	script := filepath.Join(dir, "prices.lua")
	os.WriteFile(script, []byte(`
local job = require("job")
-- The first run fails (an item that does not exist), the later ones have nothing to do.
local done = io.open("failed-once")
if done then done:close() return end
local f = assert(io.open("failed-once", "w")); f:close()
job.run {
  name = "prices", report = "prices.report.csv",
  rows = {{num_iid = "1", price = "9.90"}},
  key = function(r) return r.num_iid end,
  call = function(r) return "taobao.item.price.update", {num_iid = r.num_iid, price = r.price} end,
}
`), 0o644)
	writeConfig(t, dir, sb, fmt.Sprintf(`
[[schedule]]
name = "nightly-prices"
cron = "@every 1s"
script = %q

[[notify]]
name = "ops-group"
type = "dingtalk"
url = "%s/robot/send?access_token=${ROBOT_TOKEN}"
secret = "${ROBOT_SECRET}"

[[notify]]
type = "email"
host = "127.0.0.1"
port = %d
tls = "none"
from = "topscript <alerts@example.com>"
to = ["ops@example.com"]
`, script, rb.URL, port))

	cmd := exec.Command(bin, "schedule", "--config", filepath.Join(dir, "topscript.toml"), "--grace", "5s")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "ROBOT_TOKEN="+robotToken, "ROBOT_SECRET="+robotSecret)
	var stderr syncbuf.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	deadline := time.Now().Add(30 * time.Second)
	for {
		calls, _ := rb.received()
		if len(calls) >= 1 && len(mails(t, maildir)) >= 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no alert in 30s:\n%s", stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(2500 * time.Millisecond) // two more runs, which go well
	cmd.Process.Signal(syscall.SIGINT)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("schedule: %v\n%s", err, stderr.String())
	}
	log := stderr.String()
	if strings.Count(log, `msg="run finished"`) < 2 {
		t.Fatalf("want at least two runs:\n%s", log)
	}

	calls, refused := rb.received()
	if len(calls) != 1 || len(refused) != 0 {
		t.Fatalf("robot: %d calls, refused %v; want one signed call:\n%v\n%s", len(calls), refused, calls, log)
	}
	md, _ := calls[0]["markdown"].(map[string]any)
	title, _ := md["title"].(string)
	text, _ := md["text"].(string)
	if calls[0]["msgtype"] != "markdown" || title != "topscript: job failed: prices.lua" ||
		!strings.Contains(text, "job prices: 1 of 1 rows need attention") || !strings.Contains(text, "**schedule**: nightly-prices") ||
		!strings.Contains(text, "1 failed") || messageRun(text) == "" || reportRun(text) != messageRun(text) {
		t.Errorf("the robot's message: %v", calls[0])
	}
	ms := mails(t, maildir)
	if len(ms) != 1 {
		t.Fatalf("%d mails, want 1", len(ms))
	}
	subject, _ := new(mime.WordDecoder).DecodeHeader(ms[0].Header.Get("Subject"))
	if subject != "topscript: job failed: prices.lua" {
		t.Errorf("mail subject %q", subject)
	}
	for _, secret := range []string{robotToken, robotSecret} {
		if strings.Contains(log, secret) {
			t.Errorf("the scheduler's log shows %q", secret)
		}
	}

	// The runs are in the history, the first one failed.
	runs := exec.Command(bin, "runs", "--json")
	runs.Dir, runs.Env = dir, cmd.Env
	outb, err := runs.CombinedOutput()
	code, out, errs := runs.ProcessState.ExitCode(), string(outb), fmt.Sprint(err)
	var recs []struct {
		Entry    string
		ExitCode int `json:"exit_code"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &recs) != nil || len(recs) < 2 || recs[0].Entry != "nightly-prices" || recs[0].ExitCode != 3 || recs[1].ExitCode != 0 {
		t.Fatalf("runs: exit %d %s\n%s", code, out, errs)
	}
}

// messageRun is the run ID an alert's text names; reportRun the run ID in
// the name of the report it names (the run's own copy).
func messageRun(text string) string {
	m := regexp.MustCompile(`\*\*run\*\*: (\S+)`).FindStringSubmatch(text)
	if m == nil {
		return ""
	}
	return m[1]
}

func reportRun(text string) string {
	m := regexp.MustCompile(`\*\*report\*\*: prices\.report\.(\S+)\.csv`).FindStringSubmatch(text)
	if m == nil {
		return "(none)"
	}
	return m[1]
}
