package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"
)

// Rate limits are shared by every instance, so their counters live in
// Postgres: one rate_limits row per bucket and fixed window. A request must
// not wait for a round trip to that row each time (one busy API key or
// client IP would make it a hot row), and the instances together must not
// admit more than the limit. So an instance reserves requests in blocks:
// one statement adds a block to the shared counter, never past the limit,
// and the instance then admits that many requests of the bucket on its own.
// It asks again only when its block is spent.
//
// The bound, per bucket and window:
//   - Never over: the counter is what the instances have reserved (every
//     admitted request plus the unspent rest of their blocks), and it never
//     exceeds the limit.
//   - Refused early by at most one block per instance: a request is refused
//     only when its instance's block is spent and the counter is at the
//     limit, while other instances may still hold unspent reservations. An
//     instance holds at most one block of a bucket (it reserves only when
//     its block is spent), so a window admits at least the limit minus one
//     block of each other instance serving the bucket — exactly the limit
//     with one instance, or when every instance keeps receiving requests of
//     the bucket. An instance that dies loses its unspent block for the rest
//     of that window (refused early, never over).
//   - A block is at most 1/rateBlockShare of what was left of the limit when
//     it was taken (at least 1) and at most maxRateBlock, so near the limit
//     blocks shrink to one request: the last rateBlockShare requests of a
//     window are reserved one by one.
//
// A block's size follows the instance's demand: a window starts with a block
// of one request (or of as many as are waiting); a block spent within
// rateBlockFast of being taken doubles the next, a slower one halves it.
// Once the counter is at the limit, the instance refuses the rest of the
// window without a round trip: a window's counter never goes down. The next
// window is a new row with new blocks.
const (
	rateBlockShare = 16
	maxRateBlock   = 1024
	rateBlockFast  = time.Second
	// rateBlocksMax bounds the blocks held (one per bucket and window):
	// past it, blocks of ended windows are dropped, then any that is not
	// reserving (its unspent rest is refused early, never admitted twice).
	rateBlocksMax = 100000
)

type rateBlocks struct {
	mu sync.Mutex
	m  map[string]*rateBlock
}

// rateBlock is this instance's reservation in one bucket and window.
type rateBlock struct {
	end   time.Time // the window's end
	left  int       // reserved and not spent yet
	size  int       // the size the latest reservation asked for
	taken time.Time // when the latest block was granted
	full  bool      // the shared counter is at the limit
	res   *rateReservation
}

// rateReservation is a reservation in flight; the requests that find the
// block spent wait for it, then try again.
type rateReservation struct {
	waiting int
	done    chan struct{}
	err     error
}

func newRateBlocks() *rateBlocks { return &rateBlocks{m: map[string]*rateBlock{}} }

// take spends one request of key's block. Without one left it returns the
// reservation to wait for; lead says the caller must make it.
func (l *rateBlocks) take(key string, end, now time.Time) (b *rateBlock, r *rateReservation, lead, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b = l.m[key]
	if b == nil {
		if len(l.m) >= rateBlocksMax {
			l.sweep(now)
		}
		b = &rateBlock{end: end}
		l.m[key] = b
	}
	switch {
	case b.left > 0:
		b.left--
		return b, nil, false, true
	case b.full:
		return b, nil, false, false
	case b.res != nil:
		b.res.waiting++
		return b, b.res, false, false
	}
	b.res = &rateReservation{waiting: 1, done: make(chan struct{})}
	return b, b.res, true, false
}

func (l *rateBlocks) sweep(now time.Time) {
	for k, b := range l.m {
		if b.res == nil && !b.end.After(now) {
			delete(l.m, k)
		}
	}
	if len(l.m) < rateBlocksMax {
		return
	}
	for k, b := range l.m {
		if b.res == nil {
			delete(l.m, k)
		}
	}
}

// nextSize is the block the next reservation of b asks for.
func (b *rateBlock) nextSize(waiting int, now time.Time) int {
	switch {
	case b.size == 0:
		b.size = 1
	case now.Sub(b.taken) < rateBlockFast:
		b.size = min(2*b.size, maxRateBlock)
	default:
		b.size = max(b.size/2, 1)
	}
	return max(b.size, min(waiting, maxRateBlock))
}

// Allow counts one request against bucket in the fixed window of now and
// reports whether it is within limit across every instance, and how long
// until the window ends. Most requests spend a block this instance has
// already reserved and make no round trip (see the top of this file).
func (s *Store) Allow(ctx context.Context, bucket string, limit int, window time.Duration, now time.Time) (bool, time.Duration, error) {
	start := now.Truncate(window)
	end := start.Add(window)
	key := bucket + "\x00" + strconv.FormatInt(start.UnixNano(), 10)
	for {
		b, r, lead, ok := s.limits.take(key, end, now)
		if r == nil {
			return ok, end.Sub(now), nil
		}
		if lead {
			s.reserve(b, r, bucket, start, limit, now)
		}
		select {
		case <-r.done:
		case <-ctx.Done():
			return false, 0, fmt.Errorf("db: rate limit: %w", ctx.Err())
		}
		if r.err != nil {
			return false, 0, fmt.Errorf("db: rate limit: %w", r.err)
		}
	}
}

// reserve adds one block of b to the shared counter: as many requests as it
// asks for, but at most 1/rateBlockShare of what is left of the limit (at
// least one), and none at the limit. granted is set from the old count in
// the same UPDATE, so RETURNING tells how much this reservation took.
func (s *Store) reserve(b *rateBlock, r *rateReservation, bucket string, start time.Time, limit int, now time.Time) {
	s.limits.mu.Lock()
	want := b.nextSize(r.waiting, now)
	s.limits.mu.Unlock()
	// Other requests wait for this statement: no caller's context may
	// cancel it.
	ctx, cancel := context.WithTimeout(context.Background(), countMergeTimeout)
	var count, granted int
	err := s.prep.QueryRowxContext(ctx, `
		INSERT INTO rate_limits AS r (bucket, window_start, count, granted)
		VALUES ($1, $2, least($3::int, ($4::int + $5::int - 1) / $5::int), least($3::int, ($4::int + $5::int - 1) / $5::int))
		ON CONFLICT (bucket, window_start) DO UPDATE
		SET count = r.count + least($3::int, ($4::int - r.count + $5::int - 1) / $5::int),
		    granted = least($3::int, ($4::int - r.count + $5::int - 1) / $5::int)
		WHERE r.count < $4::int
		RETURNING count, granted`, bucket, start, want, limit, rateBlockShare).Scan(&count, &granted)
	cancel()
	full := errors.Is(err, sql.ErrNoRows)
	if full {
		err = nil
	}
	s.limits.mu.Lock()
	if err == nil {
		b.left += granted
		b.taken = now
		b.full = full || count >= limit
	}
	b.res, r.err = nil, err
	s.limits.mu.Unlock()
	close(r.done)
}
