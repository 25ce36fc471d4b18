package luatop

import (
	"context"
	"sync"

	"github.com/topscript/topscript/top"
)

// runner is the one concurrent runner of the package: top.call_all (a
// task per call, or per batch of calls) and job.run's workers (a task per
// row) run their calls through it. Each task runs on its own goroutine
// through the caller path, and its outcomes come back on done in the order
// the tasks finish. How many run at once is its sizer's limit, which
// follows the latency and errors the tasks' calls meet (sizer.go). It
// touches no Lua state.
type runner struct {
	c    *caller
	ctx  context.Context
	size *sizer
	done chan finished
	// wake (capacity 1) is signalled when a task finishes or the limit
	// grows: a caller waiting for room looks again.
	wake chan struct{}
	wg   sync.WaitGroup

	mu      sync.Mutex
	running int
}

// finished is a task's outcomes, one per request, in the task's order.
type finished struct {
	id   int
	outs []outcome
}

// newRunner returns a runner sending calls under ctx, as many at once as
// size allows. backlog is how many finished tasks done holds unread: the
// most that can be started before the caller reads done again, so a
// finishing task never waits for its reader.
func (c *caller) newRunner(ctx context.Context, size *sizer, backlog int) *runner {
	r := &runner{c: c, ctx: ctx, size: size, done: make(chan finished, max(backlog, 1)), wake: make(chan struct{}, 1)}
	size.grew = r.signal
	return r
}

// sizerFor returns the sizer of a runner of tasks of per calls: given is
// the script's number (0: none).
func (c *caller) sizerFor(given, per int) *sizer {
	var rate func(string) float64
	if c.client != nil && !c.dryRun {
		rate = c.client.Rate
	}
	return newSizer(nil, rate, given, per)
}

// signal wakes a caller waiting for room.
func (r *runner) signal() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// limit is how many tasks may be in flight now.
func (r *runner) limit() int { return r.size.limit() }

// inFlight is how many tasks are running now.
func (r *runner) inFlight() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.running
}

// start runs task id, the requests rs (one call, or one batch when there
// are several), as soon as the limit allows one more task.
func (r *runner) start(id int, rs ...*request) {
	for {
		r.mu.Lock()
		if r.running < r.size.limit() {
			r.running++
			r.mu.Unlock()
			break
		}
		r.mu.Unlock()
		<-r.wake
	}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		tr, settle := r.size.trace()
		ctx := top.WithCallTrace(r.ctx, tr)
		var outs []outcome
		if len(rs) == 1 {
			outs = []outcome{r.c.call(ctx, rs[0])}
		} else {
			outs = r.c.callBatch(ctx, rs)
		}
		settle()
		r.mu.Lock()
		r.running--
		r.mu.Unlock()
		r.signal()
		r.done <- finished{id: id, outs: outs}
	}()
}

// wait waits for every started task to finish.
func (r *runner) wait() { r.wg.Wait() }
