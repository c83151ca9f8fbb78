package app

import (
	"context"
	"errors"
	"log/slog"
	"sort"
	"time"
)

// Job states.
const (
	JobQueued    = "queued"
	JobRunning   = "running"
	JobSucceeded = "succeeded"
	JobFailed    = "failed"
)

// Job kinds.
const (
	// JobBulkRelink works through one bulk relink (Ref is its id).
	JobBulkRelink = "bulk_relink"
	// JobSweep expires overdue link sessions (periodic).
	JobSweep = "sweep"
	// JobPrune deletes rows past their retention (periodic).
	JobPrune = "prune"
)

// Job is one row of background work.
type Job struct {
	ID          int64      `db:"id"`
	Kind        string     `db:"kind"`
	Ref         string     `db:"ref"`
	State       string     `db:"state"`
	Attempts    int        `db:"attempts"`
	MaxAttempts int        `db:"max_attempts"`
	RunAt       time.Time  `db:"run_at"`
	Done        int        `db:"done"`
	Total       int        `db:"total"`
	LastError   string     `db:"last_error"`
	CreatedAt   time.Time  `db:"created_at"`
	UpdatedAt   time.Time  `db:"updated_at"`
	FinishedAt  *time.Time `db:"finished_at"`
}

// Retryable reports whether an agent may send a failed job round again.
func (j Job) Retryable() bool { return j.State == JobFailed }

// JobQueue is where jobs live (db.Store implements it).
type JobQueue interface {
	// ClaimJob leases the most overdue job of one of kinds: a queued job
	// whose run_at has come, or a running one whose lease ran out (its
	// instance died). ok is false when none is due.
	ClaimJob(ctx context.Context, kinds []string, lease time.Duration) (j Job, ok bool, err error)
	// ExtendJob renews the lease of a running job and records its progress.
	ExtendJob(ctx context.Context, id int64, lease time.Duration, done, total int) error
	// FinishJob ends a job: succeeded, or (next non-nil) queued again at
	// next (a periodic job), with attempts reset.
	FinishJob(ctx context.Context, id int64, next *time.Time) error
	// FailJob records a failed attempt: queued again at retryAt, or failed
	// for good when retryAt is nil.
	FailJob(ctx context.Context, id int64, msg string, retryAt *time.Time) error
	// EnsurePeriodicJob makes sure the periodic job of kind exists; a new
	// one first runs after every.
	EnsurePeriodicJob(ctx context.Context, kind string, every time.Duration) error
}

// JobFunc does a job. It calls progress(done, total) as it goes (which also
// renews the lease); work it commits must be idempotent per item, since a
// job cut short is run again from the start after its lease.
type JobFunc func(ctx context.Context, j Job, progress func(done, total int) error) error

// JobKind is how one kind of job runs.
type JobKind struct {
	Run JobFunc
	// Every, when set, makes the kind periodic: one job, run again this long
	// after each run.
	Every time.Duration
}

// JobRunnerConfig bounds the runner.
type JobRunnerConfig struct {
	// Poll is how often an idle runner looks for due jobs.
	Poll time.Duration
	// Lease is how long a claimed job stays with its runner without a
	// progress report; then another instance takes it.
	Lease time.Duration
	// RetryBase is the first retry delay; each further retry doubles it up
	// to RetryCap.
	RetryBase, RetryCap time.Duration
}

// JobRunner claims due jobs and runs them, one at a time, until its context
// ends. Several runners (instances) share the queue.
type JobRunner struct {
	queue JobQueue
	kinds map[string]JobKind
	cfg   JobRunnerConfig
	log   *slog.Logger
	obs   Observer
}

// NewJobRunner returns a runner for the given kinds.
func NewJobRunner(q JobQueue, kinds map[string]JobKind, cfg JobRunnerConfig, log *slog.Logger, obs Observer) *JobRunner {
	if obs == nil {
		obs = NopObserver{}
	}
	return &JobRunner{queue: q, kinds: kinds, cfg: cfg, log: log, obs: obs}
}

// Run works through due jobs until ctx ends. A job interrupted by the end
// of ctx is left to its lease and done again by whichever runner claims it.
func (r *JobRunner) Run(ctx context.Context) {
	names := make([]string, 0, len(r.kinds))
	for k, kind := range r.kinds {
		names = append(names, k)
		if kind.Every > 0 {
			if err := r.queue.EnsurePeriodicJob(ctx, k, kind.Every); err != nil && ctx.Err() == nil {
				r.log.Error("create periodic job", "kind", k, "err", err)
			}
		}
	}
	sort.Strings(names)
	t := time.NewTicker(r.cfg.Poll)
	defer t.Stop()
	for {
		ran, err := r.RunOnce(ctx, names)
		if err != nil && ctx.Err() == nil {
			r.log.Error("job runner", "err", err)
		}
		if ran && ctx.Err() == nil {
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// RunOnce claims and runs one due job of the given kinds; ran is false when
// none was due.
func (r *JobRunner) RunOnce(ctx context.Context, kinds []string) (ran bool, err error) {
	j, ok, err := r.queue.ClaimJob(ctx, kinds, r.cfg.Lease)
	if err != nil || !ok {
		return false, err
	}
	kind := r.kinds[j.Kind]
	jctx := WithLogAttrs(ctx, "job_id", j.ID, "job_kind", j.Kind)
	start := time.Now()
	progress := func(done, total int) error {
		return r.queue.ExtendJob(jctx, j.ID, r.cfg.Lease, done, total)
	}
	runErr := kind.Run(jctx, j, progress)
	if runErr != nil && ctx.Err() != nil {
		// Stopping: the lease hands the job to the next runner.
		return true, nil
	}
	// The outcome is recorded even while stopping, so the job is not redone.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(jctx), 5*time.Second)
	defer cancel()
	took := time.Since(start)
	if runErr == nil {
		var next *time.Time
		if kind.Every > 0 {
			at := time.Now().Add(kind.Every)
			next = &at
		}
		err := r.queue.FinishJob(rctx, j.ID, next)
		r.obs.JobRun(j.Kind, JobSucceeded, took)
		r.log.DebugContext(jctx, "job done", "took", took.Round(time.Millisecond).String())
		return true, err
	}
	msg := JobErrorText(runErr)
	var retryAt *time.Time
	outcome := JobFailed
	if j.Attempts < j.MaxAttempts || kind.Every > 0 {
		at := time.Now().Add(RetryDelay(r.cfg.RetryBase, r.cfg.RetryCap, j.Attempts))
		if kind.Every > 0 && at.After(time.Now().Add(kind.Every)) {
			at = time.Now().Add(kind.Every)
		}
		retryAt, outcome = &at, "retry"
	}
	err = r.queue.FailJob(rctx, j.ID, msg, retryAt)
	r.obs.JobRun(j.Kind, outcome, took)
	r.log.ErrorContext(jctx, "job failed", "attempt", j.Attempts, "max_attempts", j.MaxAttempts, "retry", retryAt != nil, "err", runErr)
	return true, err
}

// RetryDelay is the delay before retry n (1-based): base doubled n-1 times,
// at most max.
func RetryDelay(base, max time.Duration, n int) time.Duration {
	d := base
	for i := 1; i < n && d < max; i++ {
		d *= 2
	}
	if d > max {
		d = max
	}
	return d
}

// JobErrorText is the last error of a job as the console shows it: the
// caller-safe message of an app error, else the error's text, one line.
func JobErrorText(err error) string {
	var ae *Error
	msg := err.Error()
	if errors.As(err, &ae) {
		msg = ae.Message
	}
	if errors.Is(err, context.DeadlineExceeded) {
		msg = "It took too long and was stopped."
	}
	if len(msg) > 500 {
		msg = msg[:500] + "…"
	}
	return msg
}
