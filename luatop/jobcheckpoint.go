package luatop

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/topscript/topscript/internal/redact"
	"github.com/topscript/topscript/state"
	"github.com/topscript/topscript/top"
	"github.com/topscript/topscript/toptime"
)

// Checkpoint statuses, as the store holds them. A row has no checkpoint
// until it is about to be sent (a write that is not idempotent) or has
// ended: a failed row's checkpoint is removed.
const (
	// cpSending is the intent record of a write that is not idempotent,
	// stored durably before the call is sent and replaced once it ends: a
	// row found sending was in flight when its run died (or was paused
	// past its claim's lease), so its outcome is unknown.
	cpSending = "sending"
)

// checkpoint is the stored state of a row.
type checkpoint struct {
	Status    string `json:"status"`
	RequestID string `json:"request_id,omitempty"`
	At        string `json:"at,omitempty"`
	// Call is the fingerprint of the call as sent (callFingerprint): a row
	// is done only for that call. Empty in checkpoints of older versions.
	Call string `json:"call,omitempty"`
	// Method and Params are the call as sent, for the report's "changed
	// since" line: each value cut to paramShown bytes, secrets redacted.
	Method string            `json:"method,omitempty"`
	Params map[string]string `json:"params,omitempty"`
	// Fence is the fencing token of the claim the record was written
	// under (a shared store), Holder the run that wrote a sending record.
	Fence  int64  `json:"fence,omitempty"`
	Holder string `json:"holder,omitempty"`
}

// paramShown is how much of each parameter value a checkpoint keeps for
// the report (the fingerprint covers all of it).
const paramShown = 64

// loadCheckpoints notes which rows have a checkpoint (the keys of the
// job's namespace); each is read when its row comes up (loadCheckpoint).
func (j *job) loadCheckpoints(ctx context.Context) error {
	keys, err := j.h.store.Keys(ctx, j.ns)
	if err != nil {
		return err
	}
	return j.rows.markCheckpoints(keys)
}

// loadCheckpoint reads r's checkpoint the first time r comes up, if the
// job's start found one for its key. A row that could not be read back
// from the row file stops the job here.
func (j *job) loadCheckpoint(ctx context.Context, r *jobRow) error {
	if r.loadErr != nil {
		return r.loadErr
	}
	if r.cpLoaded {
		return nil
	}
	if r.hasCP {
		raw, ok, err := j.h.store.Get(ctx, j.ns, r.key)
		if err != nil {
			return &storeFault{fmt.Errorf("reading the checkpoint of %s: %w", r.where(), err)}
		}
		if ok {
			r.prev, r.prevRaw = parseCheckpoint(raw), raw
		}
	}
	r.cpLoaded = true
	return nil
}

// parseCheckpoint decodes a stored checkpoint (a JSON object, or a bare
// status from older versions).
func parseCheckpoint(raw []byte) checkpoint {
	var cp checkpoint
	if json.Unmarshal(raw, &cp) != nil || cp.Status == "" {
		cp = checkpoint{Status: strings.Trim(string(raw), `"`)}
	}
	return cp
}

// callFingerprint identifies a call as it is sent: the method and every
// parameter as encoded for the gateway (top.EncodeValue), sorted, hashed.
// It also returns the parameters as the checkpoint keeps them.
func callFingerprint(req *request) (string, map[string]string) {
	names := make([]string, 0, len(req.params))
	for k := range req.params {
		names = append(names, k)
	}
	sort.Strings(names)
	h := sha256.New()
	h.Write([]byte(req.method))
	shown := make(map[string]string, len(names))
	for _, k := range names {
		v, err := top.EncodeValue(req.params[k])
		if err != nil { // a file: its name stands for it
			v = fmt.Sprintf("<%T %v>", req.params[k], req.params[k])
		}
		if top.Blank(v) {
			continue // not sent
		}
		fmt.Fprintf(h, "\x00%s=%d:%s", k, len(v), v)
		switch {
		case slices.Contains(redact.SecretParams, strings.ToLower(k)):
			v = redact.Mark
		case len(v) > paramShown:
			cut := paramShown
			for cut > 0 && !utf8.RuneStart(v[cut]) {
				cut--
			}
			v = v[:cut] + "…"
		}
		shown[k] = v
	}
	return hex.EncodeToString(h.Sum(nil)[:16]), shown
}

// changes describes how the call of r differs from the one its checkpoint
// records: "price 59.90 → 61.00, quantity 3 → 4".
func changes(prev checkpoint, method string, now map[string]string) string {
	var parts []string
	if prev.Method != "" && prev.Method != method {
		parts = append(parts, "method "+prev.Method+" → "+method)
	}
	names := map[string]bool{}
	for k := range prev.Params {
		names[k] = true
	}
	for k := range now {
		names[k] = true
	}
	sorted := make([]string, 0, len(names))
	for k := range names {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	for _, k := range sorted {
		a, had := prev.Params[k]
		b, has := now[k]
		switch {
		case a == b:
		case !had:
			parts = append(parts, k+" (none) → "+b)
		case !has:
			parts = append(parts, k+" "+a+" → (none)")
		default:
			parts = append(parts, k+" "+a+" → "+b)
		}
	}
	if len(parts) == 0 {
		return "the call changed" // in what the checkpoint cut off
	}
	return strings.Join(parts, ", ")
}

// since names a checkpoint's run in messages: "the run of 2026-01-02 15:04:05".
func since(cp checkpoint) string {
	if cp.At == "" {
		return "an earlier run"
	}
	return "the run of " + cp.At
}

// checkpointFor returns the stored form of a checkpoint for r's call.
func (j *job) checkpointFor(r *jobRow, status, requestID string) []byte {
	cp := checkpoint{Status: status, RequestID: requestID, At: toptime.Format(j.h.now()), Call: r.fp,
		Method: r.req.method, Params: r.shown, Fence: r.fence}
	if status == cpSending {
		cp.Holder = j.token
	}
	b, _ := json.Marshal(cp)
	return b
}

// jobClaimPoll is how often rows claimed by another process are tried
// again.
const jobClaimPoll = 200 * time.Millisecond

// jobClaimWaitLog is how long a job waits only for rows claimed elsewhere
// before it says so in the log.
const jobClaimWaitLog = 3 * time.Second

// claim claims r for this job run in the shared store and, once claimed,
// re-reads its checkpoint (another process may have finished it since the
// job started; r.prev then says so). It returns false when another
// process holds the row.
func (j *job) claim(ctx context.Context, r *jobRow) (bool, error) {
	fence, err := j.claims.Claim(ctx, j.ns, r.key, j.token, 0)
	if err != nil {
		return false, &storeFault{fmt.Errorf("claiming %s (key %q): %w", r.where(), r.key, err)}
	}
	if fence == 0 {
		r.deferred = true
		return false, nil
	}
	r.claimed, r.fence, r.claimedAt = true, fence, time.Now()
	if err := j.reload(ctx, r); err != nil {
		j.unclaim(r)
		return false, err
	}
	return true, nil
}

// jobClaimRecheck is the age from which a row's claim is checked at the
// store again before its call is sent: rows are claimed right before they
// are sent, so an older claim means the run was held up (a slow verify) or
// paused (SIGSTOP, a frozen VM), maybe past the claim's lease (at least
// state.MinLease).
const jobClaimRecheck = state.MinLease / 2

// stillHeld renews r's claim when it is old enough that the run may have
// been paused past its lease, and reports whether this run still holds the
// row. A claim taken moments ago is held: its lease is far from over.
func (j *job) stillHeld(ctx context.Context, r *jobRow) (bool, error) {
	if j.claims == nil || time.Since(r.claimedAt) < jobClaimRecheck {
		return true, nil
	}
	fence, err := j.claims.Claim(ctx, j.ns, r.key, j.token, 0)
	if err != nil {
		return false, &storeFault{fmt.Errorf("claiming %s (key %q): %w", r.where(), r.key, err)}
	}
	if fence != r.fence {
		r.claimed = false // lapsed (and maybe taken over): not ours to send
		if fence != 0 {
			j.claims.Unclaim(ctx, j.ns, r.key, j.token)
		}
		return false, nil
	}
	r.claimedAt = time.Now()
	return true, nil
}

// reload re-reads the checkpoint of r.
func (j *job) reload(ctx context.Context, r *jobRow) error {
	raw, found, err := j.h.store.Get(ctx, j.ns, r.key)
	if err != nil {
		return &storeFault{fmt.Errorf("reading the checkpoint of %s: %w", r.where(), err)}
	}
	if !found {
		if r.prevRaw != nil {
			r.prev, r.prevRaw, r.elsewhere = checkpoint{}, nil, true
		}
		return nil
	}
	if !bytes.Equal(raw, r.prevRaw) {
		r.prev, r.prevRaw, r.elsewhere = parseCheckpoint(raw), raw, true
	}
	return nil
}

// storeFault is a failure of the state store met while dispatching (a
// claim, a checkpoint read): like a checkpoint that cannot be saved, it
// stops the job's sends (dispatcher.storeFailed), and the job exits 3.
type storeFault struct{ err error }

func (e *storeFault) Error() string { return e.err.Error() }
func (e *storeFault) Unwrap() error { return e.err }

// unclaim releases the claim on r, if any. A failure only delays other
// processes until the claim's lease runs out, so it is logged, not fatal;
// once the store has failed, claims are left to their lease.
func (j *job) unclaim(r *jobRow) {
	if !r.claimed {
		return
	}
	r.claimed = false
	if j.storeDown {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := j.claims.Unclaim(ctx, j.ns, r.key, j.token); err != nil {
		j.log.Warn("job: cannot release a row's claim (other processes get it after its lease)", "job", j.spec.name, "key", r.key, "error", err.Error())
	}
}

// commit stores kv (row key → record, nil to forget) as one durable,
// fenced commit: a row whose claim passed to another run meanwhile is
// refused and returned. It writes even when the run was interrupted.
func (j *job) commit(ctx context.Context, kv map[string][]byte, rows []*jobRow) (map[string]bool, error) {
	if len(kv) == 0 {
		return nil, nil
	}
	var fences map[string]int64
	if j.claims != nil {
		fences = make(map[string]int64, len(rows))
		for _, r := range rows {
			if _, ok := kv[r.key]; ok && r.fence > 0 {
				fences[r.key] = r.fence
			}
		}
	}
	refused, err := state.Commit(context.WithoutCancel(ctx), j.h.store, j.ns, kv, fences)
	if err != nil {
		return nil, err
	}
	out := make(map[string]bool, len(refused))
	for _, k := range refused {
		out[k] = true
	}
	return out, nil
}

// jobLateNS is the namespace where a run records the answers it got for
// rows whose claim had passed to another run: the other run's checkpoint
// stands; this record says what the late call did.
func jobLateNS(name string) string { return "job-late:" + name }

// recordLate keeps the late answer to r (status ok, failed or unknown),
// for the operator and for later runs: a row left unknown by the run that
// took it over is settled by a late answer to the same call.
func (j *job) recordLate(r *jobRow, status, requestID string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := j.h.store.Set(ctx, jobLateNS(j.spec.name), r.key, j.checkpointFor(r, status, requestID)); err != nil {
		j.log.Warn("job: cannot record a late answer", "job", j.spec.name, "key", r.key, "error", err.Error())
	}
}

// lateAnswer returns the late answer recorded for r's unknown checkpoint:
// one to the same call, under the same claim (fencing token) as the
// sending record, from a run that lost the row before it answered.
func (j *job) lateAnswer(ctx context.Context, r *jobRow) (checkpoint, bool) {
	raw, ok, err := j.h.store.Get(ctx, jobLateNS(j.spec.name), r.key)
	if err != nil || !ok {
		return checkpoint{}, false
	}
	late := parseCheckpoint(raw)
	if late.Call == "" || late.Call != r.prev.Call || late.Fence != r.prev.Fence || r.prev.Fence == 0 {
		return checkpoint{}, false
	}
	return late, true
}
