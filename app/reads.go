package app

import "time"

// ReadStats describe where the reads that may lag ran (see db.Reads): the
// replica's last known state and counts of reads by where they ran.
type ReadStats struct {
	// Configured is whether database.replica_url is set; Up whether its
	// last probe (or read) succeeded; Lag its replay lag at that probe.
	Configured, Up bool
	Lag            time.Duration
	// OnReplica and OnPrimary count reads by where they ran; Fallen
	// counts the reads that ran on the primary although a replica is set.
	OnReplica, OnPrimary, Fallen uint64
}
