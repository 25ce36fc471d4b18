package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/topscript/topscript/config"
	"github.com/topscript/topscript/notify"
	"github.com/topscript/topscript/runlog"
	"github.com/topscript/topscript/schedule"
	"github.com/topscript/topscript/state"
	"github.com/topscript/topscript/top"
)

// 50 scheduled runs failing within a minute produce at most 20 robot
// calls (a DingTalk robot takes 20 a minute): the scheduler's one
// dispatcher sends the first at once and gathers the rest into digests,
// none lost.
func TestSchedulerAlertsRateLimited(t *testing.T) {
	var mu sync.Mutex
	var calls []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var body struct {
			Markdown struct{ Title, Text string }
		}
		raw, _ := io.ReadAll(req.Body)
		json.Unmarshal(raw, &body)
		mu.Lock()
		calls = append(calls, body.Markdown.Title)
		mu.Unlock()
		fmt.Fprint(w, `{"errcode":0,"errmsg":"ok"}`)
	}))
	defer srv.Close()
	f, err := config.Parse("t.toml", fmt.Sprintf("[[notify]]\ntype = \"dingtalk\"\nurl = \"%s/robot/send?access_token=tok\"\n", srv.URL), config.Options{})
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.DiscardHandler)
	d := newDispatcher(f, logger, nil)
	r := &processRunner{runs: &runlog.Log{Store: state.NewMemStore()}, alerts: d, logger: logger}
	e := schedule.Entry{Name: "nightly", Script: "prices.lua"}
	ctx := context.Background()
	for i := range 50 {
		id := runlog.NewID(time.Now())
		rec := runlog.Record{ID: id, Script: "prices.lua", Entry: "nightly", Start: time.Now(), End: time.Now(), ExitCode: ExitJobFailed,
			Jobs: []runlog.Job{{Name: "prices", Total: 10, Status: map[string]int{"failed": 1, "ok": 9}}}}
		if err := r.runs.Put(ctx, rec); err != nil {
			t.Fatal(err)
		}
		r.alertRun(e, id, ExitJobFailed, "")
		if i%10 == 0 {
			time.Sleep(20 * time.Millisecond)
		}
	}
	fctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := d.Flush(fctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	st := d.Stats()["dingtalk 1"]
	if len(calls) < 2 || len(calls) > 20 || st.Sent != 50 || st.Dropped != 0 {
		t.Fatalf("%d robot calls (want 2 to 20), stats %+v: %q", len(calls), st, calls)
	}
	if calls[0] != "topscript: job failed: prices.lua" || !strings.Contains(strings.Join(calls[1:], " "), "alerts") {
		t.Errorf("calls: %q", calls)
	}
}

// endAlerts: exit 3 is job_failed per job that needs attention; a script
// error (or a failure before the run could record itself) is
// script_error; an interrupt, a held lock and success raise none.
func TestEndAlerts(t *testing.T) {
	rec := runlog.Record{ID: "x", Script: "/s/p.lua", Shop: "A", ExitCode: ExitJobFailed, Jobs: []runlog.Job{
		{Name: "ok-job", Total: 2, Status: map[string]int{"ok": 2}},
		{Name: "bad", Total: 3, Status: map[string]int{"ok": 1, "unknown": 2}, Report: "r.csv"},
	}}
	es := endAlerts(rec)
	if len(es) != 1 || es[0].Kind != notify.JobFailed || es[0].Summary != "job bad: 2 of 3 rows need attention" || es[0].Subject != "p.lua" {
		t.Fatalf("exit 3: %+v", es)
	}
	rec.ExitCode, rec.Error, rec.Jobs = ExitScript, "p.lua:4: boom\nstack", nil
	if es := endAlerts(rec); len(es) != 1 || es[0].Kind != notify.ScriptError || es[0].Summary != "p.lua:4: boom" {
		t.Fatalf("exit 1: %+v", es)
	}
	for _, code := range []int{ExitOK, ExitInterrupted, ExitLockHeld} {
		rec.ExitCode = code
		if es := endAlerts(rec); len(es) != 0 {
			t.Errorf("exit %d: %+v", code, es)
		}
	}
}

// A scheduled run holds its alerts for its record: a ban alert once per
// scope, a session alert once per shop per day across runs.
func TestAlerterHoldsForTheScheduler(t *testing.T) {
	f, _ := config.Parse("t.toml", "", config.Options{})
	b := state.Memory()
	a := newAlerter(f, b, slog.New(slog.DiscardHandler), nil, "/x/p.lua", "nightly")
	ban := func(scope string) {
		a.ban(top.LongBan{Method: "taobao.item.get", Scope: scope, Wait: 600 * time.Second, Err: &top.Error{Code: 7, SubCode: "accesscontrol.limited-by-app-access-count"}})
	}
	ban("app")
	ban("app")
	ban("api:taobao.item.get")
	ctx := context.Background()
	a.expiring(ctx, "A", "shop A loses its session for good at ...")
	newAlerter(f, b, slog.New(slog.DiscardHandler), nil, "/x/p.lua", "nightly").expiring(ctx, "A", "again")
	held := a.take()
	if len(held) != 3 || held[0].Kind != notify.LongBan || held[0].Summary != "code-7 ban for 10m0s: calls of app held back" ||
		held[1].Fields[1].Value != "api:taobao.item.get" || held[2].Kind != notify.SessionExpiring || held[2].Subject != "shop A" {
		t.Fatalf("held: %+v", held)
	}
	if len(a.take()) != 0 {
		t.Error("take did not forget")
	}
}
