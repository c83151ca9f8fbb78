package db

import (
	"context"
	"sync"
	"time"
)

// countMerger merges the requests of one key that arrive while a statement
// for that key is in flight into the next statement (for a counter: count =
// count + n), and hands each request its own position in the sum, exactly
// as if they had been run one by one. A request that finds no statement in
// flight runs its own at once. The API key lookups use it so that one busy
// key is read once per round trip, not once per request.

// countMergeTimeout bounds one merged update: it runs for several callers,
// so none of their contexts may cancel it.
const countMergeTimeout = 10 * time.Second

type countMerger struct {
	mu       sync.Mutex
	counters map[string]*counterState
}

type counterState struct {
	running bool
	next    *countGroup
}

// countGroup is the requests of one merged update.
type countGroup struct {
	n     int
	done  chan struct{}
	total int // the counter after the update
	val   any // what the update returned besides the count
	err   error
}

// countFlush adds n to a counter and returns its new value and anything
// else the statement returned.
type countFlush func(ctx context.Context, n int) (total int, val any, err error)

func newCountMerger() *countMerger {
	return &countMerger{counters: map[string]*counterState{}}
}

// add counts one request against the counter key and returns its count
// (the counter's value right after this request) and the update's val.
// Every request of one key must pass an equivalent flush.
func (m *countMerger) add(ctx context.Context, key string, flush countFlush) (int, any, error) {
	st, g, pos, lead := m.join(key)
	if lead {
		m.run(key, st, g, flush)
	}
	select {
	case <-g.done:
	case <-ctx.Done():
		// The increment is applied anyway; only this caller stops waiting.
		return 0, nil, ctx.Err()
	}
	if g.err != nil {
		return 0, nil, g.err
	}
	return g.total - g.n + pos, g.val, nil
}

// join adds one request to the group of key's next update and returns its
// position in it; lead is true when the caller must run the update (none is
// in flight).
func (m *countMerger) join(key string) (st *counterState, g *countGroup, pos int, lead bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	st = m.counters[key]
	if st == nil {
		st = &counterState{}
		m.counters[key] = st
	}
	if st.next == nil {
		st.next = &countGroup{done: make(chan struct{})}
	}
	g = st.next
	g.n++
	lead = !st.running
	if lead {
		st.running = true
		st.next = nil
	}
	return st, g, g.n, lead
}

// run applies g, then hands the group that gathered meanwhile (if any) to a
// goroutine of its own, so this caller returns as soon as its update is in.
func (m *countMerger) run(key string, st *counterState, g *countGroup, flush countFlush) {
	ctx, cancel := context.WithTimeout(context.Background(), countMergeTimeout)
	g.total, g.val, g.err = flush(ctx, g.n)
	cancel()
	close(g.done)
	m.mu.Lock()
	next := st.next
	st.next = nil
	if next == nil {
		st.running = false
		delete(m.counters, key)
	}
	m.mu.Unlock()
	if next != nil {
		go m.run(key, st, next, flush)
	}
}
