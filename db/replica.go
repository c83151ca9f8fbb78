package db

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"noxportal/app"
)

// Reads sends the reads that may be a little behind (console search, a
// customer's console page, reports) to a streaming replica, and every other
// read to the primary. The replica is used only while it answers and its
// replay lag is within maxLag; otherwise, and whenever a read on it fails,
// the read runs on the primary instead. Writes never go through Reads.
type Reads struct {
	primary *Store
	replica *Store // nil: no replica configured
	maxLag  time.Duration

	up  atomic.Bool  // the last probe (or read) succeeded
	lag atomic.Int64 // the last probe's replay lag, in nanoseconds
	// onReplica and onPrimary count reads by where they ran; fellBack
	// counts those that ran on the primary although a replica is set.
	onReplica, onPrimary, fellBack atomic.Uint64
}

// ReadSource says where a read ran: on the replica (with the replay lag of
// the last probe) or on the primary.
type ReadSource struct {
	Replica bool
	Lag     time.Duration
}

// NewReads routes reads between primary and replica (nil: every read on the
// primary). The replica counts as down until the first Probe succeeds.
func NewReads(primary, replica *Store, maxLag time.Duration) *Reads {
	return &Reads{primary: primary, replica: replica, maxLag: maxLag}
}

// Primary returns the primary's store.
func (r *Reads) Primary() *Store { return r.primary }

// usable reports whether the replica may serve the next read.
func (r *Reads) usable() bool {
	return r.replica != nil && r.up.Load() && time.Duration(r.lag.Load()) <= r.maxLag
}

// Read runs fn on the replica when it is usable, else on the primary. A
// read that fails on the replica for any reason other than its context
// ending or a domain error (not found, invalid) is run again on the
// primary, and the replica counts as down until the next good Probe.
func (r *Reads) Read(ctx context.Context, fn func(*Store) error) (ReadSource, error) {
	if r.usable() {
		src := ReadSource{Replica: true, Lag: time.Duration(r.lag.Load())}
		err := fn(r.replica)
		var domain *app.Error
		if err == nil || ctx.Err() != nil || errors.As(err, &domain) {
			r.onReplica.Add(1)
			return src, err
		}
		r.up.Store(false)
	}
	if r.replica != nil {
		r.fellBack.Add(1)
	}
	r.onPrimary.Add(1)
	return ReadSource{}, fn(r.primary)
}

// Probe measures the replica's replay lag: zero while it has replayed all
// it received and is streaming, else the time since the last transaction
// it replayed. A replica that does not answer, or is no longer in recovery
// (promoted), is down.
func (r *Reads) Probe(ctx context.Context) error {
	if r.replica == nil {
		return nil
	}
	var recovering bool
	var lagSeconds float64
	err := r.replica.db.QueryRowContext(ctx, `
		SELECT pg_is_in_recovery(),
		       CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn()
		                 AND EXISTS (SELECT 1 FROM pg_stat_wal_receiver WHERE status = 'streaming') THEN 0
		            ELSE COALESCE(EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())::float8, 1e9) END`).
		Scan(&recovering, &lagSeconds)
	if err == nil && !recovering {
		err = errors.New("the replica is not in recovery")
	}
	if err != nil {
		r.up.Store(false)
		return fmt.Errorf("db: probe replica: %w", err)
	}
	r.lag.Store(int64(lagSeconds * float64(time.Second)))
	r.up.Store(true)
	return nil
}

// Stats returns where reads ran so far and the replica's last known state.
func (r *Reads) Stats() app.ReadStats {
	return app.ReadStats{Configured: r.replica != nil, Up: r.up.Load(), Lag: time.Duration(r.lag.Load()),
		OnReplica: r.onReplica.Load(), OnPrimary: r.onPrimary.Load(), Fallen: r.fellBack.Load()}
}
