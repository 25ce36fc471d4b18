package luatop

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/topscript/topscript/toptime"
)

// checkpoint is the stored state of a row.
type checkpoint struct {
	Status    string `json:"status"`
	RequestID string `json:"request_id,omitempty"`
	At        string `json:"at,omitempty"`
}

// loadCheckpoints reads the checkpoints of the job's rows.
func (j *job) loadCheckpoints(ctx context.Context) error {
	st := j.h.store
	keys, err := st.Keys(ctx, j.ns)
	if err != nil {
		return err
	}
	if len(keys) == 0 {
		return nil
	}
	byKey := make(map[string]*jobRow, len(j.rows))
	for _, r := range j.rows {
		byKey[r.key] = r
	}
	for _, k := range keys {
		r := byKey[k]
		if r == nil {
			continue
		}
		raw, ok, err := st.Get(ctx, j.ns, k)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		r.prev = parseCheckpoint(raw)
	}
	return nil
}

// parseCheckpoint decodes a stored checkpoint (a JSON object, or a bare
// status from older versions).
func parseCheckpoint(raw []byte) checkpoint {
	var cp checkpoint
	if json.Unmarshal(raw, &cp) != nil || cp.Status == "" {
		cp.Status = strings.Trim(string(raw), `"`)
	}
	return cp
}

// jobClaimPoll is how often rows claimed by another process are tried
// again.
const jobClaimPoll = 200 * time.Millisecond

// jobClaimWaitLog is how long a job waits only for rows claimed elsewhere
// before it says so in the log.
const jobClaimWaitLog = 3 * time.Second

// claim claims r for this job run in the shared store and, once claimed,
// re-reads its checkpoint (another process may have finished it since the
// job started; r.prev then says so). A row deferred once is first looked
// up without claiming: it was most likely done meanwhile. It returns false
// when another process holds the row.
func (j *job) claim(ctx context.Context, r *jobRow) (bool, error) {
	if r.deferred {
		if err := j.reload(ctx, r); err != nil || r.prev.Status == statusOK {
			return err == nil, err
		}
	}
	ok, err := j.claims.Claim(ctx, j.ns, r.key, j.token, 0)
	if err != nil {
		return false, fmt.Errorf("claiming %s (key %q): %v", r.where(), r.key, err)
	}
	if !ok {
		r.deferred = true
		return false, nil
	}
	r.claimed = true
	if err := j.reload(ctx, r); err != nil {
		j.unclaim(r)
		return false, err
	}
	return true, nil
}

// reload re-reads the checkpoint of r.
func (j *job) reload(ctx context.Context, r *jobRow) error {
	raw, found, err := j.h.store.Get(ctx, j.ns, r.key)
	if err != nil {
		return fmt.Errorf("reading the checkpoint of %s: %v", r.where(), err)
	}
	if !found {
		return nil
	}
	cp := parseCheckpoint(raw)
	if cp != r.prev {
		r.prev, r.elsewhere = cp, true
	}
	return nil
}

// unclaim releases the claim on r, if any. A failure only delays other
// processes until the claim's lease runs out, so it is logged, not fatal.
func (j *job) unclaim(r *jobRow) {
	if !r.claimed {
		return
	}
	r.claimed = false
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := j.claims.Unclaim(ctx, j.ns, r.key, j.token); err != nil {
		j.log.Warn("job: cannot release a row's claim (other processes get it after its lease)", "job", j.spec.name, "key", r.key, "error", err.Error())
	}
}

// saveCheckpoints stores how the results' rows ended, as one durable
// commit, before their claims go (another process that claims a row next
// sees how it ended). It writes even when the run was interrupted.
func (j *job) saveCheckpoints(ctx context.Context, results []jobResult) error {
	cps := map[string][]byte{}
	var forget []string
	now := toptime.Format(j.h.now())
	for _, res := range results {
		status, te := res.status()
		cp := checkpoint{Status: status, At: now}
		switch status {
		case statusOK:
			cp.RequestID = res.out.resp.RequestID
		case statusUnknown:
			cp.RequestID = te.RequestID
		case statusFailed:
			if res.row.prev.Status == statusUnknown {
				forget = append(forget, res.row.key) // re-sent and failed: an ordinary failed row now
			}
			continue
		default:
			continue
		}
		b, _ := json.Marshal(cp)
		cps[res.row.key] = b
	}
	wctx := context.WithoutCancel(ctx)
	if err := j.h.store.SetMany(wctx, j.ns, cps); err != nil {
		return fmt.Errorf("saving checkpoints: %v", err)
	}
	for _, k := range forget {
		if err := j.h.store.Delete(wctx, j.ns, k); err != nil {
			return fmt.Errorf("saving checkpoints: %v", err)
		}
	}
	for _, res := range results {
		j.unclaim(res.row)
	}
	return nil
}
