package luatop

import "context"

// runAll performs reqs, with as many tasks in flight as the runner's sizer
// allows (conc, the script's number, caps it; 0: none), and returns their
// outcomes in input order. With size > 1 the calls are packed, in input
// order, into batches of size sub-requests, each a /router/batch request
// (top.Client.CallBatch); under dry-run the writes are answered locally
// and only the other calls are packed. It touches no Lua state.
func (c *caller) runAll(ctx context.Context, reqs []*request, conc, size int) []outcome {
	tasks := [][]*request{}
	index := [][]int{} // the positions in reqs of each task's requests
	if size <= 1 {
		for i, r := range reqs {
			tasks, index = append(tasks, []*request{r}), append(index, []int{i})
		}
	} else {
		var group []*request
		var at []int
		flush := func() {
			if len(group) > 0 {
				tasks, index = append(tasks, group), append(index, at)
				group, at = nil, nil
			}
		}
		for i, r := range reqs {
			if _, local := c.local(r); local {
				tasks, index = append(tasks, []*request{r}), append(index, []int{i}) // answered without a call
				continue
			}
			group, at = append(group, r), append(at, i)
			if len(group) == size {
				flush()
			}
		}
		flush()
	}
	outs := make([]outcome, len(reqs))
	run := c.newRunner(ctx, c.sizerFor(conc, max(size, 1)), len(tasks))
	for id, t := range tasks {
		run.start(id, t...)
	}
	run.wait()
	close(run.done)
	for f := range run.done {
		for k, o := range f.outs {
			outs[index[f.id][k]] = o
		}
	}
	return outs
}
