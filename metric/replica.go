package metric

import (
	"github.com/prometheus/client_golang/prometheus"

	"noxportal/app"
)

var (
	descReplicaUp   = prometheus.NewDesc(ns+"_replica_up", "1 when the read replica answered its last probe (or read) and is in recovery.", nil, nil)
	descReplicaLag  = prometheus.NewDesc(ns+"_replica_lag_seconds", "The read replica's replay lag at its last probe.", nil, nil)
	descReplicaRead = prometheus.NewDesc(ns+"_replica_reads_total",
		"Reads that may lag (console search, customer pages, reports), by where they ran (replica, primary).", []string{"source"}, nil)
	descReplicaFallback = prometheus.NewDesc(ns+"_replica_fallbacks_total",
		"Reads that ran on the primary although a replica is configured (down, past database.replica_max_lag, or a failed read).", nil, nil)
)

// WatchReplica exports the replica's state and where reads ran, read from
// stats at each scrape. Nothing is exported when no replica is configured.
func (m *Metrics) WatchReplica(stats func() app.ReadStats) {
	m.reg.MustRegister(replicaCollector(stats))
}

type replicaCollector func() app.ReadStats

func (c replicaCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descReplicaUp, descReplicaLag, descReplicaRead, descReplicaFallback} {
		ch <- d
	}
}

func (c replicaCollector) Collect(ch chan<- prometheus.Metric) {
	st := c()
	if !st.Configured {
		return
	}
	up := 0.0
	if st.Up {
		up = 1
	}
	ch <- prometheus.MustNewConstMetric(descReplicaUp, prometheus.GaugeValue, up)
	ch <- prometheus.MustNewConstMetric(descReplicaLag, prometheus.GaugeValue, st.Lag.Seconds())
	ch <- prometheus.MustNewConstMetric(descReplicaRead, prometheus.CounterValue, float64(st.OnReplica), "replica")
	ch <- prometheus.MustNewConstMetric(descReplicaRead, prometheus.CounterValue, float64(st.OnPrimary), "primary")
	ch <- prometheus.MustNewConstMetric(descReplicaFallback, prometheus.CounterValue, float64(st.Fallen))
}
