package tmc_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/topscript/topscript/sandbox"
	"github.com/topscript/topscript/tmc"
	"github.com/topscript/topscript/top"
)

// syncLine is what the demonstration's consumer writes per handled message:
// the trade as trade.fullinfo.get returned it.
type syncLine struct {
	Msg      int64  `json:"msg"`
	Tid      string `json:"tid"`
	Status   string `json:"status"`
	Modified string `json:"modified"`
}

// TestDemoConsumerProcess is the consumer process of TestOrderSyncSurvives
// (it runs only as that test's child).
func TestDemoConsumerProcess(t *testing.T) {
	if os.Getenv("TMC_DEMO_STORE") == "" {
		t.Skip("the child process of TestOrderSyncSurvives")
	}
	if err := demoConsumer(); err != nil {
		fmt.Fprintln(os.Stderr, "demo consumer:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// demoConsumer syncs trades from TMC messages into an append-only file
// until SIGTERM, failing 5% of handler runs; then prints its Stats.
func demoConsumer() error {
	cfg := top.DefaultConfig()
	cfg.Gateway = os.Getenv("TMC_DEMO_REST")
	cfg.AppKey, cfg.AppSecret, cfg.Session = sandbox.DefaultAppKey, sandbox.DefaultAppSecret, sandbox.DefaultSession
	client, err := top.NewClient(cfg)
	if err != nil {
		return err
	}
	store, err := os.OpenFile(os.Getenv("TMC_DEMO_STORE"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	defer store.Close()
	var mu sync.Mutex
	h := func(ctx context.Context, m *tmc.Message) error {
		if rand.Float64() < 0.05 {
			return errors.New("injected handler failure")
		}
		var c struct {
			Tid json.Number `json:"tid"`
		}
		d := json.NewDecoder(strings.NewReader(m.Content))
		d.UseNumber()
		if err := d.Decode(&c); err != nil || c.Tid == "" {
			return fmt.Errorf("content without a tid: %q", m.Content)
		}
		resp, err := client.Call(ctx, "taobao.trade.fullinfo.get", top.Params{"tid": c.Tid.String(), "fields": "tid,status,modified"}, nil)
		if err != nil {
			return err
		}
		tr, _ := resp.Payload["trade"].(map[string]any)
		line, _ := json.Marshal(syncLine{Msg: m.ID, Tid: c.Tid.String(), Status: fmt.Sprint(tr["status"]), Modified: fmt.Sprint(tr["modified"])})
		mu.Lock()
		defer mu.Unlock()
		_, err = store.Write(append(line, '\n')) // one write: lines never interleave
		return err
	}
	c, err := tmc.New(tmc.Config{
		URL: os.Getenv("TMC_DEMO_URL"), AppKey: sandbox.DefaultAppKey, AppSecret: sandbox.DefaultAppSecret,
		Concurrency: 2, PullEvery: 100 * time.Millisecond, ReconnectMin: 20 * time.Millisecond, ReconnectMax: 100 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}, h)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	if err := c.Run(ctx); err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(c.Stats())
}

// The demonstration for the Go consumer: 2,000 trade events with
// churn; the consumer process is SIGKILLed midway and restarted; the sandbox
// drops the connection twice; 5% of handler runs fail. Every trade ends
// synced exactly as the sandbox has it, no message is lost, and duplicates
// are confirmed without running the handler.
func TestOrderSyncSurvives(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	sb := startSandbox(t, sandbox.Options{TMC: sandbox.TMCOptions{
		Redeliver: time.Second, FailDelay: 100 * time.Millisecond, Duplicates: 0.05}})
	dir := t.TempDir()
	storePath := filepath.Join(dir, "orders.jsonl")
	start := func(name string) (*exec.Cmd, *strings.Builder) {
		cmd := exec.Command(os.Args[0], "-test.run=^TestDemoConsumerProcess$")
		cmd.Env = append(os.Environ(), "TMC_DEMO_STORE="+storePath, "TMC_DEMO_URL="+sb.TMCURL(), "TMC_DEMO_REST="+sb.URL())
		var out strings.Builder
		cmd.Stdout = &out
		errLog, err := os.Create(filepath.Join(dir, name+".log"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { errLog.Close() })
		cmd.Stderr = errLog
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		return cmd, &out
	}
	connected := func() {
		eventually(t, "the consumer connected", func() bool { return sb.TMCStats().Connections == 1 })
	}

	first, _ := start("first")
	connected()
	const events = 2000
	for done := 0; done < events; done += 10 {
		sb.Churn(10)
		time.Sleep(5 * time.Millisecond)
		switch done {
		case 500, 1500:
			if n := sb.DropTMC(); n != 1 {
				t.Fatalf("dropped %d connections at event %d", n, done)
			}
		case 1000:
			if err := first.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			_ = first.Wait()
			second, out := start("second")
			defer func() { finish(t, sb, second, out, dir, events) }()
			connected()
		}
	}
}

// finish waits for every message to be confirmed, stops the consumer and
// checks the synced copy against the sandbox.
func finish(t *testing.T, sb *sandbox.Server, cmd *exec.Cmd, out *strings.Builder, dir string, events int) {
	deadline := time.Now().Add(60 * time.Second)
	for sb.TMCStats().Unconfirmed > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("still unconfirmed after 60 s: %+v", sb.TMCStats())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("the consumer's clean stop: %v", err)
	}
	var cs tmc.Stats
	if err := json.Unmarshal([]byte(out.String()), &cs); err != nil {
		t.Fatalf("consumer stats %q: %v", out.String(), err)
	}

	f, err := os.Open(filepath.Join(dir, "orders.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	synced := map[string]syncLine{}
	ran := map[int64]int{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var l syncLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("store line %q: %v", sc.Text(), err)
		}
		synced[l.Tid] = l
		ran[l.Msg]++
	}

	changes := sb.Changes(0)
	if len(changes) != events {
		t.Fatalf("%d changes, want %d", len(changes), events)
	}
	cfg := top.DefaultConfig()
	cfg.Gateway = sb.URL()
	cfg.AppKey, cfg.AppSecret, cfg.Session = sandbox.DefaultAppKey, sandbox.DefaultAppSecret, sandbox.DefaultSession
	client, err := top.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	missing, wrong := 0, 0
	tids := map[int64]bool{}
	for _, c := range changes {
		tids[c.Tid] = true
	}
	for tid := range tids {
		resp, err := client.Call(context.Background(), "taobao.trade.fullinfo.get", top.Params{"tid": tid, "fields": "tid,status,modified"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		tr := resp.Payload["trade"].(map[string]any)
		l, ok := synced[fmt.Sprint(tid)]
		switch {
		case !ok:
			missing++
		case l.Status != tr["status"] || l.Modified != tr["modified"]:
			wrong++
			t.Errorf("tid %d: synced %s %s, sandbox %v %v", tid, l.Status, l.Modified, tr["status"], tr["modified"])
		}
	}
	// Messages confirmed without a run, as both consumers logged them.
	dropped := map[int64]bool{}
	idRe := regexp.MustCompile(`duplicate confirmed without the handler"[^\n]* id=(\d+)`)
	for _, name := range []string{"first", "second"} {
		b, err := os.ReadFile(filepath.Join(dir, name+".log"))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range idRe.FindAllStringSubmatch(string(b), -1) {
			id, _ := strconv.ParseInt(m[1], 10, 64)
			dropped[id] = true
		}
	}
	st := sb.TMCStats()
	covered := map[int64]bool{}
	runs := 0
	for id, n := range ran {
		runs += n
		covered[id] = true
	}
	for id := range dropped {
		covered[id] = true
	}
	notRun := int(st.Published) - len(ran)
	t.Logf("%d events on %d trades; %d messages published (%d published twice), %d confirmed, %d redelivered; "+
		"lost %d; trades missing %d, wrong %d; %d successful handler runs on %d messages; %d never ran: duplicates (%d logged dropped, %d counted by the restarted consumer)",
		len(changes), len(tids), st.Published, st.Duplicated, st.Confirmed, st.Redelivered,
		st.Unconfirmed, missing, wrong, runs, len(ran), notRun, len(dropped), cs.Duplicates)
	if st.Unconfirmed != 0 || st.Confirmed != st.Published {
		t.Errorf("messages lost: %+v", st)
	}
	if missing != 0 || wrong != 0 {
		t.Errorf("trades missing %d, wrong %d", missing, wrong)
	}
	// Every message ran at least once or was dropped as a duplicate.
	if len(covered) != int(st.Published) || len(dropped) == 0 {
		t.Errorf("%d messages ran or were dropped as duplicates (%d dropped), of %d published", len(covered), len(dropped), st.Published)
	}
	if st.Redelivered == 0 || st.Failed == 0 {
		t.Errorf("the failures and the kill left no redelivery: %+v", st)
	}
}
