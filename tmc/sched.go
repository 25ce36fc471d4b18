package tmc

import (
	"context"
	"sync"
	"time"
)

// sched holds the messages taken from the channel until a handler has run:
// a bounded queue (a full queue stops the reader: back-pressure), one lane
// per object (messages about one trade run one after another, in arrival
// order, never at once), and the duplicate check.
type sched struct {
	mu     sync.Mutex
	cond   *sync.Cond
	slots  chan struct{} // a token per waiting (not yet started) entry
	ready  []*entry
	lanes  map[string][]*entry // lane present: an entry of that key is ready or running; value: waiting behind it
	inHand map[int64]bool      // ids waiting or running
	recent map[string]*entry   // key+topic+content -> latest arrival
	order  []*entry            // arrivals within the window, oldest first
	window time.Duration
	closed bool
}

// entry is one message in hand.
type entry struct {
	m       *Message
	fp      string // dedup fingerprint: key, topic, content
	arrived time.Time
	started bool
}

// verdict of sched.push.
type verdict int

const (
	accepted  verdict = iota // queued for a handler
	duplicate                // same object, topic and content within the window, earlier one not started: confirm without the handler
	inHand                   // the same message id is already in hand: drop this copy (the one in hand settles it)
	released                 // the consumer is stopping: fail it back to the channel
)

func newSched(queue int, window time.Duration) *sched {
	s := &sched{
		slots:  make(chan struct{}, queue),
		lanes:  map[string][]*entry{},
		inHand: map[int64]bool{},
		recent: map[string]*entry{},
		window: window,
	}
	s.cond = sync.NewCond(&s.mu)
	return s
}

// push takes m, blocking while the queue is full (ctx ends the wait with
// its error: the message is dropped unconfirmed, and the channel delivers it
// again).
func (s *sched) push(ctx context.Context, m *Message, now time.Time) (verdict, error) {
	fp := ""
	if m.Key != "" && s.window > 0 {
		fp = m.Key + "\x00" + m.Topic + "\x00" + m.Content
	}
	s.mu.Lock()
	switch {
	case s.closed:
		s.mu.Unlock()
		return released, nil
	case s.inHand[m.ID]:
		s.mu.Unlock()
		return inHand, nil
	}
	s.prune(now)
	if fp != "" {
		if e := s.recent[fp]; e != nil && !e.started && now.Sub(e.arrived) <= s.window {
			s.mu.Unlock()
			return duplicate, nil
		}
	}
	s.mu.Unlock()

	select {
	case s.slots <- struct{}{}:
	case <-ctx.Done():
		return 0, ctx.Err()
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		<-s.slots
		return released, nil
	}
	if s.inHand[m.ID] {
		<-s.slots
		return inHand, nil
	}
	e := &entry{m: m, fp: fp, arrived: now}
	s.inHand[m.ID] = true
	if fp != "" {
		s.recent[fp] = e
		s.order = append(s.order, e)
	}
	if m.lane != "" {
		if waiting, active := s.lanes[m.lane]; active {
			s.lanes[m.lane] = append(waiting, e)
			return accepted, nil
		}
		s.lanes[m.lane] = nil
	}
	s.ready = append(s.ready, e)
	s.cond.Signal()
	return accepted, nil
}

// prune forgets arrivals older than the window. Call with s.mu held.
func (s *sched) prune(now time.Time) {
	n := 0
	for n < len(s.order) && now.Sub(s.order[n].arrived) > s.window {
		if e := s.order[n]; s.recent[e.fp] == e {
			delete(s.recent, e.fp)
		}
		s.order[n] = nil
		n++
	}
	s.order = s.order[n:]
}

// next blocks until an entry is ready, and starts it; false once closed.
func (s *sched) next() (*entry, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.ready) == 0 && !s.closed {
		s.cond.Wait()
	}
	if len(s.ready) == 0 {
		return nil, false
	}
	e := s.ready[0]
	s.ready[0] = nil
	s.ready = s.ready[1:]
	e.started = true
	<-s.slots
	return e, true
}

// done ends a started entry and readies the next of its lane.
func (s *sched) done(e *entry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.inHand, e.m.ID)
	k := e.m.lane
	if k == "" {
		return
	}
	waiting, active := s.lanes[k]
	if !active {
		return // released by close
	}
	if len(waiting) == 0 {
		delete(s.lanes, k)
		return
	}
	s.ready = append(s.ready, waiting[0])
	s.lanes[k] = waiting[1:]
	s.cond.Signal()
}

// close takes no more and returns the entries not yet started.
func (s *sched) close() []*entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	out := s.ready
	s.ready = nil
	for k, waiting := range s.lanes {
		out = append(out, waiting...)
		delete(s.lanes, k)
	}
	for _, e := range out {
		delete(s.inHand, e.m.ID)
		<-s.slots
	}
	s.cond.Broadcast()
	return out
}

// waiting is the number of entries queued for a handler.
func (s *sched) waiting() int { return len(s.slots) }

// full reports whether the queue has no room.
func (s *sched) full() bool { return len(s.slots) == cap(s.slots) }
