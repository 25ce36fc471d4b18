package luatop

import (
	"context"
	"fmt"
	"runtime/debug"
	"sync"

	"github.com/topscript/topscript/stdlib"
	"github.com/topscript/topscript/top"
)

// runBatched is call_all with opts.batch = size: the calls are packed, in
// input order, into groups of size sub-requests, each group sent through
// the batch endpoint (top.Client.CallBatch), at most conc groups at a time.
// Under dry-run, writes are not sent (they get the dry-run answer) and the
// other calls are packed. It touches no Lua state.
func (m *module) runBatched(c context.Context, reqs []request, conc, size int) []outcome {
	outs := make([]outcome, len(reqs))
	var idx []int // calls to send
	for i := range reqs {
		if m.dryRun && m.isWriteMethod(reqs[i].method) {
			outs[i] = outcome{resp: dryRunResponse(reqs[i].method)}
			continue
		}
		idx = append(idx, i)
	}
	if m.c == nil {
		for _, i := range idx {
			outs[i] = outcome{err: &top.Error{Method: reqs[i].method, Kind: top.KindInvalid, Msg: stdlib.NoClientMsg}}
		}
		return outs
	}
	var groups [][]int
	for len(idx) > 0 {
		n := min(size, len(idx))
		groups = append(groups, idx[:n])
		idx = idx[n:]
	}
	conc = min(conc, len(groups))
	work := make(chan []int)
	var wg sync.WaitGroup
	for w := 0; w < conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for g := range work {
				m.safeBatch(c, reqs, g, outs)
			}
		}()
	}
	for _, g := range groups {
		work <- g
	}
	close(work)
	wg.Wait()
	return outs
}

// safeBatch sends the calls g of reqs as one CallBatch and stores their
// outcomes, turning a panic into errors.
func (m *module) safeBatch(c context.Context, reqs []request, g []int, outs []outcome) {
	defer func() {
		if p := recover(); p != nil {
			for _, i := range g {
				outs[i] = outcome{err: &top.Error{Method: reqs[i].method, Kind: top.KindTransport,
					Msg: fmt.Sprintf("internal error: %v", p), Err: fmt.Errorf("%v\n%s", p, debug.Stack())}}
			}
		}
	}()
	calls := make([]top.BatchCall, len(g))
	for k, i := range g {
		calls[k] = top.BatchCall{Method: reqs[i].method, Params: reqs[i].params, Options: reqs[i].opts}
	}
	res, _ := m.c.CallBatch(c, calls) // per-call errors are in res; a canceled run is raised by the caller
	for k, i := range g {
		if k < len(res) {
			outs[i] = outcome{resp: res[k].Response, err: res[k].Err}
		}
	}
}
