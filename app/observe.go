package app

import (
	"context"
	"time"
)

// Observer hears what the service does, for its metrics. Every method must
// be cheap and safe for concurrent use.
type Observer interface {
	// SessionCreated counts a new link session of flow (a SessionKind) for
	// brand ("" when not chosen yet).
	SessionCreated(flow, brand string)
	// SessionFinished counts a session reaching a final status (connected,
	// failed, expired) with its reason ("" when connected).
	SessionFinished(flow, brand, outcome, reason string)
	// ManufacturerCall times one call to a manufacturer (step: token,
	// devices); err is its failure, if any.
	ManufacturerCall(brand, step string, took time.Duration, err error)
	// WebhookAttempt counts one delivery attempt's outcome (succeeded,
	// retry, gave_up).
	WebhookAttempt(outcome string)
	// RateLimited counts a refused request by its bucket kind (api, page, ...).
	RateLimited(bucket string)
	// JobRun counts one run of a job of kind ending in outcome (succeeded,
	// retry, failed).
	JobRun(kind, outcome string, took time.Duration)
	// APIRequestsLogged counts API request log rows written and dropped
	// (buffer full or a failed write).
	APIRequestsLogged(written, dropped int)
}

type observerKey struct{}

// WithObserver returns ctx carrying o; the store reports session changes
// made with that ctx to it.
func WithObserver(ctx context.Context, o Observer) context.Context {
	return context.WithValue(ctx, observerKey{}, o)
}

// ObserverFrom returns the Observer ctx carries, or one that ignores
// everything.
func ObserverFrom(ctx context.Context) Observer {
	if o, ok := ctx.Value(observerKey{}).(Observer); ok && o != nil {
		return o
	}
	return NopObserver{}
}

// NopObserver ignores everything it hears.
type NopObserver struct{}

func (NopObserver) SessionCreated(string, string)                         {}
func (NopObserver) SessionFinished(string, string, string, string)        {}
func (NopObserver) ManufacturerCall(string, string, time.Duration, error) {}
func (NopObserver) WebhookAttempt(string)                                 {}
func (NopObserver) RateLimited(string)                                    {}
func (NopObserver) JobRun(string, string, time.Duration)                  {}
func (NopObserver) APIRequestsLogged(int, int)                            {}

// QueueStats are the database-side numbers the metrics read at each scrape.
type QueueStats struct {
	WebhooksDue          int
	OldestDueWebhook     time.Duration
	EmailsQueued         int
	Jobs                 []JobCount
	OldestOverdueSession time.Duration
	ReportBacklog        int
}

// JobCount is the number of jobs of one kind in one state.
type JobCount struct {
	Kind  string `db:"kind"`
	State string `db:"state"`
	N     int    `db:"n"`
}
