package db

import (
	"context"
	"sync"
	"time"
)

// Rate-limit counters are shared by every instance, so they live in
// Postgres; but one busy key or client IP makes its counter a hot row that
// every request would update in turn. countMerger merges the increments of
// one counter that arrive while an update of it is in flight into the next
// update (count = count + n), and hands each request its own position in
// the sum, exactly as if they had been counted one by one. A request that
// finds no update in flight runs its own at once.

// countMergeTimeout bounds one merged update: it runs for several callers,
// so none of their contexts may cancel it.
const countMergeTimeout = 10 * time.Second

type countMerger struct {
	mu       sync.Mutex
	counters map[string]*counterState
	// last is each counter's value after its latest update, for estimate.
	last map[string]int
}

// lastMax bounds last (one entry per counter key and window).
const lastMax = 100000

type counterState struct {
	running  bool
	inFlight int // requests of the update running now
	next     *countGroup
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
	return &countMerger{counters: map[string]*counterState{}, last: map[string]int{}}
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

// estimate returns the counter of key as this instance last saw it plus
// the requests waiting for their update; ok is false before any update.
func (m *countMerger) estimate(key string) (n int, ok bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, ok = m.last[key]
	if st := m.counters[key]; st != nil {
		n += st.inFlight
		if st.next != nil {
			n += st.next.n
		}
	}
	return n, ok
}

// addAsync counts one request against key like add, without waiting for the
// update: it joins the next merged update, or starts one in the background.
func (m *countMerger) addAsync(key string, flush countFlush) {
	if st, g, _, lead := m.join(key); lead {
		go m.run(key, st, g, flush)
	}
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
		st.inFlight = g.n
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
	if g.err == nil {
		if len(m.last) >= lastMax {
			clear(m.last)
		}
		m.last[key] = g.total
	}
	st.inFlight = 0
	next := st.next
	if next != nil {
		st.inFlight = next.n
	}
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
