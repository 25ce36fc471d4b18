package runlog_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/topscript/topscript/runlog"
	"github.com/topscript/topscript/state"
)

// The log keeps the newest Keep records, lists them oldest first, and
// reads one back by ID as it was put, its later state replacing its first.
func TestLogKeepsTheNewest(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.runs.db")
	st, err := state.OpenFile(path, state.FileOptions{Brief: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	l := &runlog.Log{Store: st, Keep: 5}
	t0 := time.Date(2024, 6, 1, 2, 0, 0, 0, time.UTC)
	var ids []string
	for i := range 8 {
		rec := runlog.Record{ID: runlog.NewID(t0.Add(time.Duration(i) * time.Second)), Script: "p.lua", Start: t0.Add(time.Duration(i) * time.Second)}
		if err := l.Put(ctx, rec); err != nil {
			t.Fatal(err)
		}
		rec.End, rec.ExitCode = rec.Start.Add(time.Second), 3
		rec.Jobs = []runlog.Job{{Name: "p", Total: 10, Status: map[string]int{"ok": 7, "failed": 3}, Report: "p.report.csv"}}
		if err := l.Put(ctx, rec); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, rec.ID)
	}
	all, err := l.List(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range all {
		got = append(got, r.ID)
	}
	if want := ids[3:]; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("kept %v, want the newest five %v", got, want)
	}
	last2, _ := l.List(ctx, 2)
	if len(last2) != 2 || last2[1].ID != ids[7] {
		t.Fatalf("List(2) = %v", last2)
	}
	r, err := l.Get(ctx, ids[7])
	if err != nil {
		t.Fatal(err)
	}
	if r.Running() || r.Status() != "exit 3" || runlog.FormatRows(r.Rows()) != "3 failed, 7 ok" || r.Jobs[0].Report != "p.report.csv" {
		t.Fatalf("record read back: %+v (%s, %s)", r, r.Status(), runlog.FormatRows(r.Rows()))
	}
	if !regexp.MustCompile(`^20240601-100007\.000-[0-9a-f]{4}$`).MatchString(r.ID) {
		t.Fatalf("ID %q: want the start time in GMT+8 and 4 hex digits", r.ID)
	}
	_, err = l.Get(ctx, ids[0])
	var nf *runlog.NotFoundError
	if !errors.Is(err, runlog.ErrNotFound) || !errors.As(err, &nf) || !strings.Contains(err.Error(), ids[7]) {
		t.Fatalf("a trimmed run: %v, want not found naming the newest", err)
	}
}

// Once is true once a day per event, whoever asks first.
func TestOnceADay(t *testing.T) {
	ctx := context.Background()
	l := &runlog.Log{Store: state.NewMemStore()}
	day1 := time.Date(2024, 6, 1, 1, 0, 0, 0, time.UTC) // 09:00 GMT+8
	for i, c := range []struct {
		what string
		at   time.Time
		want bool
	}{
		{"session_expiring:a", day1, true},
		{"session_expiring:a", day1.Add(10 * time.Hour), false}, // 19:00 the same day
		{"session_expiring:b", day1, true},
		{"session_expiring:a", day1.Add(15 * time.Hour), true}, // 00:00 the next day in GMT+8
		{"session_expiring:a", day1.Add(16 * time.Hour), false},
	} {
		got, err := l.Once(ctx, c.what, c.at)
		if err != nil || got != c.want {
			t.Fatalf("%d: Once(%s, %s) = %v, %v; want %v", i, c.what, c.at, got, err, c.want)
		}
	}
	keys, _ := l.Store.Keys(ctx, runlog.OnceNS)
	if len(keys) != 2 {
		t.Errorf("marks kept: %v, want one a shop", keys)
	}
}

// A record dropped beyond Keep takes its own reports with it (relative to
// its Dir, or absolute; a shop's record too), and leaves the plain report
// and the reports of the records kept.
func TestDroppedRecordsTakeTheirReports(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	l := &runlog.Log{Store: state.NewMemStore(), Keep: 2}
	touch := func(name string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("row\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	plain := touch("p.report.csv")
	t0 := time.Date(2024, 6, 1, 2, 0, 0, 0, time.UTC)
	var own []string
	for i := range 4 {
		id := runlog.NewID(t0.Add(time.Duration(i) * time.Second))
		rec := runlog.Record{ID: id, Script: "p.lua", Dir: dir, Start: t0}
		switch i {
		case 0: // relative to its Dir
			own = append(own, touch("p.report."+id+".csv"))
			rec.Jobs = []runlog.Job{{Name: "p", Report: "p.report." + id + ".csv"}}
		case 1: // a shop's record, its report absolute
			rec.ID, rec.Shop = id+".s1", "s1"
			own = append(own, touch("p.report.s1."+id+".csv"))
			rec.Jobs = []runlog.Job{{Name: "p", Report: own[1]}}
		default: // the plain name: never removed
			rec.Jobs = []runlog.Job{{Name: "p", Report: "p.report.csv"}}
		}
		if err := l.Put(ctx, rec); err != nil {
			t.Fatal(err)
		}
		if i == 2 {
			if _, err := os.Stat(own[0]); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the first record was dropped, its report %s kept (%v)", own[0], err)
			}
			if _, err := os.Stat(own[1]); err != nil {
				t.Errorf("a kept record's report is gone: %v", err)
			}
		}
	}
	if _, err := os.Stat(own[1]); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the shop's record was dropped, its report %s kept (%v)", own[1], err)
	}
	if _, err := os.Stat(plain); err != nil {
		t.Errorf("the plain report was removed: %v", err)
	}
	// Without Dir a relative report is not guessed at.
	r := runlog.Record{ID: "20240601-020000.000-0000", Jobs: []runlog.Job{{Report: "p.report.20240601-020000.000-0000.csv"}}}
	if got := r.OwnReports(); len(got) != 0 {
		t.Errorf("OwnReports without Dir: %v", got)
	}
}
