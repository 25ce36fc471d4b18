// Package runlog keeps the history of runs: one Record for every
// `topscript run` (one per shop of a run over several shops) and every
// scheduled run, in the state backend's runs store (state.Backend.Runs:
// a file of its own beside the state file, or the fleet's Redis).
//
// A run is recorded twice: when it starts (End zero: "running", so that a
// run killed with kill -9 stays visible as never ended) and when it ends,
// with its exit code, its last word and its jobs' rows by status. The log
// is bounded: Put keeps the newest Keep records (DefaultKeep, 1000) and
// deletes the older ones. Records hold no secret: the CLI records what the
// run printed (already redacted) and the script's arguments as given.
//
// A record is keyed by its ID, which starts with its start time to the
// millisecond ("20240601-020000.123-3fa1"), so that the store's key order
// is the order of the runs: List and the trimming go by it.
package runlog

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/topscript/topscript/notify"
	"github.com/topscript/topscript/state"
	"github.com/topscript/topscript/toptime"
)

// NS is the namespace of the records in the runs store.
const NS = "runs"

// DefaultKeep is how many records a Log keeps when Keep is zero.
const DefaultKeep = 1000

// Job is one job.run of a run: its rows by status.
type Job struct {
	Name  string `json:"name"`
	Total int    `json:"total"`
	// Status counts the rows by status: ok, failed, unknown, skipped,
	// dry_run, late, not_started (those with rows).
	Status map[string]int `json:"status"`
	// Report is the report the run wrote ("" none): its own copy, named
	// with the run's ID, not the plain name a later run overwrites.
	Report string `json:"report,omitempty"`
	// Interrupted is set when the run ended the job early.
	Interrupted bool `json:"interrupted,omitempty"`
}

// Record is one run.
type Record struct {
	ID     string   `json:"id"`
	Script string   `json:"script"`
	Args   []string `json:"args,omitempty"`
	// Shop is the shop it ran for ("" the profile's session).
	Shop string `json:"shop,omitempty"`
	// Entry is the [[schedule]] entry that started it ("" a run by hand).
	Entry  string `json:"entry,omitempty"`
	DryRun bool   `json:"dry_run,omitempty"`
	// Host and PID say where it runs, Dir in which working directory (a
	// job's report path is relative to it).
	Host string `json:"host,omitempty"`
	PID  int    `json:"pid,omitempty"`
	Dir  string `json:"dir,omitempty"`
	// Start and End are when it started and ended; End is zero while it
	// runs (or when it died without a word).
	Start time.Time `json:"start"`
	End   time.Time `json:"end,omitzero"`
	// ExitCode is the run's exit status (meaningful once End is set).
	ExitCode int `json:"exit_code"`
	// Error is the run's last word when it did not end well: what it
	// printed last (already redacted), at most a few lines.
	Error string `json:"error,omitempty"`
	Jobs  []Job  `json:"jobs,omitempty"`
	// Alerts are the alerts the run raised while it ran (a ban longer than
	// max_ban_wait, a session about to expire): a scheduled run leaves
	// them to the scheduler, which sends them with its own alerts about
	// the run.
	Alerts []notify.Event `json:"alerts,omitempty"`
}

// Running reports whether the record has no end (yet).
func (r *Record) Running() bool { return r.End.IsZero() }

// Duration is how long the run took (zero while it runs).
func (r *Record) Duration() time.Duration {
	if r.Running() {
		return 0
	}
	return r.End.Sub(r.Start)
}

// Status is the record in a word or two: "running", "ok", "exit 3".
func (r *Record) Status() string {
	switch {
	case r.Running():
		return "running"
	case r.ExitCode == 0:
		return "ok"
	}
	return fmt.Sprintf("exit %d", r.ExitCode)
}

// Rows sums the jobs' rows by status.
func (r *Record) Rows() map[string]int {
	out := map[string]int{}
	for _, j := range r.Jobs {
		for s, n := range j.Status {
			out[s] += n
		}
	}
	return out
}

// StatusOrder is the order row statuses are shown in: those that need an
// operator first.
var StatusOrder = []string{"failed", "unknown", "late", "not_started", "ok", "skipped", "dry_run"}

// FormatRows writes counts by status in StatusOrder (then any other, by
// name): "37 failed, 9963 ok"; "" when there are none.
func FormatRows(by map[string]int) string {
	var parts []string
	seen := map[string]bool{}
	for _, s := range StatusOrder {
		seen[s] = true
		if by[s] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", by[s], s))
		}
	}
	var rest []string
	for s, n := range by {
		if !seen[s] && n > 0 {
			rest = append(rest, s)
		}
	}
	sort.Strings(rest)
	for _, s := range rest {
		parts = append(parts, fmt.Sprintf("%d %s", by[s], s))
	}
	return strings.Join(parts, ", ")
}

// NewID names a run started at t: its time in GMT+8 to the millisecond
// and 4 random hex digits, fit for a file name ("20240601-020000.123-3fa1").
func NewID(t time.Time) string {
	var b [2]byte
	_, _ = rand.Read(b[:])
	return t.In(toptime.Zone).Format("20060102-150405.000") + "-" + hex.EncodeToString(b[:])
}

// Log is the history in a store.
type Log struct {
	// Store is the runs store (state.Backend.Runs).
	Store state.Store
	// Keep is how many records are kept; 0 means DefaultKeep.
	Keep int
}

// ErrNotFound is matched (errors.Is) by Get's error for an unknown ID.
var ErrNotFound = errors.New("no such run")

// NotFoundError is Get's error for an unknown ID: it names the newest
// records, so the user sees what IDs look like.
type NotFoundError struct {
	ID     string
	Recent []string // the newest IDs, newest first
}

func (e *NotFoundError) Error() string {
	msg := fmt.Sprintf("no run %q in the history", e.ID)
	if len(e.Recent) == 0 {
		return msg + " (it is empty)"
	}
	return msg + " (the newest: " + strings.Join(e.Recent, ", ") + ")"
}

// Is reports whether target is ErrNotFound.
func (e *NotFoundError) Is(target error) bool { return target == ErrNotFound }

// OwnReports are the files of rec's jobs' reports that are its own copies
// — their names carry the run's ID — as paths to remove with the record:
// absolute, or joined to rec.Dir (a relative one of a record without Dir
// is left out, as is a report under a plain name, which a later run's
// copy may be).
func (r *Record) OwnReports() []string {
	runID := r.ID
	if r.Shop != "" {
		runID = strings.TrimSuffix(runID, "."+r.Shop) // a shop's record is RUNID.SHOP
	}
	var out []string
	for _, j := range r.Jobs {
		p := j.Report
		if p == "" || runID == "" || !strings.Contains(filepath.Base(p), runID) {
			continue
		}
		if !filepath.IsAbs(p) {
			if r.Dir == "" {
				continue
			}
			p = filepath.Join(r.Dir, p)
		}
		out = append(out, p)
	}
	return out
}

// Put stores rec (a new record or a later state of one, by ID) and drops
// the oldest records beyond Keep, with their own reports (OwnReports): a
// run's report lives as long as its record, so a job scheduled every few
// minutes does not fill the disk. A report that cannot be removed stays.
func (l *Log) Put(ctx context.Context, rec Record) error {
	if rec.ID == "" {
		return errors.New("runlog: a record needs an ID")
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	if err := l.Store.Set(ctx, NS, rec.ID, b); err != nil {
		return err
	}
	keys, err := l.Store.Keys(ctx, NS)
	if err != nil {
		return err
	}
	keep := l.Keep
	if keep <= 0 {
		keep = DefaultKeep
	}
	for _, k := range keys[:max(0, len(keys)-keep)] {
		if raw, ok, err := l.Store.Get(ctx, NS, k); err == nil && ok {
			if old, err := decode(k, raw); err == nil {
				for _, p := range old.OwnReports() {
					_ = os.Remove(p) // best effort: a report left behind harms nothing
				}
			}
		}
		if err := l.Store.Delete(ctx, NS, k); err != nil {
			return err
		}
	}
	return nil
}

// Get returns the record id; an unknown id is a *NotFoundError.
func (l *Log) Get(ctx context.Context, id string) (Record, error) {
	if id != "" {
		raw, ok, err := l.Store.Get(ctx, NS, id)
		if err != nil {
			return Record{}, err
		}
		if ok {
			return decode(id, raw)
		}
	}
	keys, err := l.Store.Keys(ctx, NS)
	if err != nil {
		return Record{}, err
	}
	nf := &NotFoundError{ID: id}
	for i := len(keys) - 1; i >= 0 && len(nf.Recent) < 3; i-- {
		nf.Recent = append(nf.Recent, keys[i])
	}
	return Record{}, nf
}

// List returns the newest last records (0: all), oldest first (in the
// order of their IDs).
func (l *Log) List(ctx context.Context, last int) ([]Record, error) {
	keys, err := l.Store.Keys(ctx, NS)
	if err != nil {
		return nil, err
	}
	if last > 0 && len(keys) > last {
		keys = keys[len(keys)-last:] // the key order is the runs'

	}
	out := make([]Record, 0, len(keys))
	for _, k := range keys {
		raw, ok, err := l.Store.Get(ctx, NS, k)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue // trimmed by another run meanwhile
		}
		rec, err := decode(k, raw)
		if err != nil {
			return nil, err
		}
		out = append(out, rec)
	}
	return out, nil
}

func decode(id string, raw []byte) (Record, error) {
	var rec Record
	if err := json.Unmarshal(raw, &rec); err != nil {
		return Record{}, fmt.Errorf("runlog: record %s is damaged: %v", id, err)
	}
	return rec, nil
}

// OnceNS is the namespace of Once's marks.
const OnceNS = "runs-once"

// Once reports whether this is the first time today (GMT+8, the day of t)
// that what happens among every process sharing the store: it marks what
// for the day in one compare and swap, so two runs starting together
// cannot both be first. Marks of other days are dropped. Alerts sent once
// a day (a session about to expire) ask it.
func (l *Log) Once(ctx context.Context, what string, t time.Time) (bool, error) {
	day := t.In(toptime.Zone).Format("2006-01-02")
	key := what + "@" + day
	first, err := state.Swap(ctx, l.Store, OnceNS, key, nil, []byte(toptime.Format(t)))
	if err != nil || !first {
		return false, err
	}
	keys, err := l.Store.Keys(ctx, OnceNS)
	if err != nil {
		return true, nil
	}
	for _, k := range keys {
		if strings.HasPrefix(k, what+"@") && k != key {
			_ = l.Store.Delete(ctx, OnceNS, k)
		}
	}
	return true, nil
}
