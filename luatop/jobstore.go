package luatop

import (
	"context"
	"sort"
	"strings"

	"github.com/topscript/topscript/state"
)

// The jobs a store holds, for the host (topscript job list, show and
// reset) and job.reset: what a job's checkpoints say, and forgetting them.

// JobState is what a store holds of one job: its checkpointed rows by
// status (ok, unknown, sending, ...) and its late answers (see job.go,
// "Several processes").
type JobState struct {
	Name string `json:"name"`
	// Rows counts the checkpointed rows by status; "sending" are intent
	// records of calls in flight when their run died: unknown outcomes.
	Rows map[string]int `json:"rows"`
	// Late is how many late answers are kept.
	Late int `json:"late,omitempty"`
	// Keys are the keys of the rows that need an operator (unknown,
	// sending), up to MaxJobKeys, when asked for.
	Keys []string `json:"attention_keys,omitempty"`
}

// MaxJobKeys bounds JobState.Keys.
const MaxJobKeys = 100

// Checkpointed is how many rows have a checkpoint.
func (s JobState) Checkpointed() int {
	n := 0
	for _, c := range s.Rows {
		n += c
	}
	return n
}

// JobNames lists the jobs that have checkpoints or late answers in st,
// sorted. A store that cannot list its namespaces lists none.
func JobNames(ctx context.Context, st state.Store) ([]string, error) {
	l, ok := st.(state.Lister)
	if !ok {
		return nil, nil
	}
	seen := map[string]bool{}
	for _, prefix := range []string{jobCheckpointNS(""), jobLateNS("")} {
		names, err := l.ListNamespaces(ctx, prefix)
		if err != nil {
			return nil, err
		}
		for _, ns := range names {
			if keys, err := st.Keys(ctx, ns); err != nil {
				return nil, err
			} else if len(keys) > 0 {
				seen[strings.TrimPrefix(ns, prefix)] = true
			}
		}
	}
	out := make([]string, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	sort.Strings(out)
	return out, nil
}

// ReadJob reads what st holds of job name; with keys, the keys of its rows
// that need an operator too.
func ReadJob(ctx context.Context, st state.Store, name string, keys bool) (JobState, error) {
	js := JobState{Name: name, Rows: map[string]int{}}
	ns := jobCheckpointNS(name)
	all, err := st.Keys(ctx, ns)
	if err != nil {
		return js, err
	}
	for _, k := range all {
		raw, ok, err := st.Get(ctx, ns, k)
		if err != nil {
			return js, err
		}
		if !ok {
			continue
		}
		cp := parseCheckpoint(raw)
		js.Rows[cp.Status]++
		if keys && (cp.Status == statusUnknown || cp.Status == cpSending) && len(js.Keys) < MaxJobKeys {
			js.Keys = append(js.Keys, k)
		}
	}
	late, err := st.Keys(ctx, jobLateNS(name))
	if err != nil {
		return js, err
	}
	js.Late = len(late)
	return js, nil
}

// ResetJob forgets the checkpoints of job name in st (key "": all of
// them; else that row's) and the late answers kept for the same rows, as
// one commit a namespace, and returns how many checkpoints it removed.
func ResetJob(ctx context.Context, st state.Store, name, key string) (int, error) {
	n := 0
	for i, ns := range []string{jobCheckpointNS(name), jobLateNS(name)} {
		keys := []string{key}
		if key == "" {
			all, err := st.Keys(ctx, ns)
			if err != nil {
				return n, err
			}
			keys = all
		}
		gone := map[string][]byte{}
		for _, k := range keys {
			if _, found, err := st.Get(ctx, ns, k); err != nil {
				return n, err
			} else if found {
				gone[k] = nil
			}
		}
		if _, err := state.Commit(ctx, st, ns, gone, nil); err != nil {
			return n, err
		}
		if i == 0 {
			n = len(gone)
		}
	}
	return n, nil
}
