package luatop

import (
	"context"
	"sync"
)

// runner is the one concurrent runner of the package: top.call_all (a
// task per call, or per batch of calls) and job.run's workers (a task per
// row) run their calls through it. At most size tasks run at once, each on
// its own goroutine through the caller path; their outcomes come back on
// done in the order the tasks finish. It touches no Lua state.
type runner struct {
	c     *caller
	ctx   context.Context
	slots chan struct{}
	done  chan finished
	wg    sync.WaitGroup
}

// finished is a task's outcomes, one per request, in the task's order.
type finished struct {
	id   int
	outs []outcome
}

// newRunner returns a runner of at most size tasks at a time, sending
// calls under ctx. backlog is how many finished tasks done holds unread:
// the most that can be started before the caller reads done again, so a
// finishing task never waits for its reader.
func (c *caller) newRunner(ctx context.Context, size, backlog int) *runner {
	return &runner{c: c, ctx: ctx, slots: make(chan struct{}, max(size, 1)), done: make(chan finished, max(backlog, 1))}
}

// start runs task id, the requests rs (one call, or one batch when there
// are several), as soon as a slot is free.
func (r *runner) start(id int, rs ...*request) {
	r.slots <- struct{}{}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		var outs []outcome
		if len(rs) == 1 {
			outs = []outcome{r.c.call(r.ctx, rs[0])}
		} else {
			outs = r.c.callBatch(r.ctx, rs)
		}
		<-r.slots
		r.done <- finished{id: id, outs: outs}
	}()
}

// wait waits for every started task to finish.
func (r *runner) wait() { r.wg.Wait() }
