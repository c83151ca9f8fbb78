// Package service is noxportal's background work: the job kinds (bulk
// relinks, the sweeper, pruning), the mail sender and the webhook worker,
// each a loop the supervisor in main owns. Their work lives in leased rows,
// so any instance may do it and a killed instance loses none of it.
package service

import (
	"context"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"noxportal/app"
	"noxportal/db"
)

// Deps are what the background work uses.
type Deps struct {
	Config     app.Config
	Store      *db.Store
	Translator *app.Translator
	Logger     *slog.Logger
	Observer   app.Observer
	Mailer     app.Mailer
}

// Loop is one background loop; it returns when ctx ends.
type Loop struct {
	Name string
	Run  func(ctx context.Context)
}

// Loops returns every background loop: the job runner, the mail sender and
// the webhook worker.
func Loops(d Deps) []Loop {
	if d.Observer == nil {
		d.Observer = app.NopObserver{}
	}
	log := slog.New(app.ContextHandler(d.Logger.Handler()))
	d.Logger = log
	c := d.Config
	rc := app.JobRunnerConfig{Poll: c.Jobs.PollInterval.D(), Lease: c.Jobs.Lease.D(),
		RetryBase: c.Jobs.RetryBase.D(), RetryCap: c.Jobs.RetryCap.D()}
	// Periodic jobs get their own runner, so a long bulk relink does not
	// hold up the sweeper.
	oneOff, periodic := map[string]app.JobKind{}, map[string]app.JobKind{}
	for name, k := range JobKinds(d) {
		if k.Every > 0 {
			periodic[name] = k
		} else {
			oneOff[name] = k
		}
	}
	jobs := app.NewJobRunner(d.Store, oneOff, rc, log, d.Observer)
	periodicJobs := app.NewJobRunner(d.Store, periodic, rc, log, d.Observer)
	return []Loop{
		{"jobs", func(ctx context.Context) { jobs.Run(app.WithObserver(ctx, d.Observer)) }},
		{"periodic-jobs", func(ctx context.Context) { periodicJobs.Run(app.WithObserver(ctx, d.Observer)) }},
		{"mailer", func(ctx context.Context) { sendMail(ctx, d) }},
		{"webhooks", app.NewWebhookWorker(d.Store, c.Webhooks, log).WithObserver(d.Observer).Run},
	}
}

// JobKinds returns how each kind of job runs.
func JobKinds(d Deps) map[string]app.JobKind {
	c := d.Config
	return map[string]app.JobKind{
		app.JobBulkRelink: {Run: bulkRelink(d)},
		app.JobSweep: {Every: c.Link.SweepInterval.D(), Run: func(ctx context.Context, _ app.Job, _ func(int, int) error) error {
			// Abandoned callbacks first: their sessions fail with the
			// real reason rather than expire.
			failed, err := d.Store.FailAbandonedCallbacks(ctx)
			if failed > 0 {
				d.Logger.WarnContext(ctx, "failed link sessions whose callback lease ran out", "count", failed)
			}
			if err != nil {
				return err
			}
			n, err := d.Store.SweepExpiredSessions(ctx)
			if n > 0 {
				d.Logger.InfoContext(ctx, "expired link sessions", "count", n)
			}
			if err != nil {
				return err
			}
			// Sessions finished a while ago leave the open partition for
			// their month (docs/scaling.md).
			moved, err := d.Store.MoveFinishedSessions(ctx, time.Now().Add(-db.FinishedSessionsStayOpen))
			if moved > 0 {
				d.Logger.DebugContext(ctx, "moved finished link sessions into history", "count", moved)
			}
			return err
		}},
		app.JobPrune: {Every: c.Retention.Interval.D(), Run: func(ctx context.Context, _ app.Job, _ func(int, int) error) error {
			pruned, err := d.Store.Prune(ctx, c.Retention)
			for table, n := range pruned {
				if n > 0 {
					d.Logger.InfoContext(ctx, "pruned rows past their retention", "table", table, "count", n)
				}
			}
			if err != nil {
				return err
			}
			// The monthly history: partitions made ahead, months past
			// their retention detached and dropped.
			h, err := d.Store.MaintainHistory(ctx, time.Now(), db.HistoryRetention{LinkEvents: c.Retention.LinkEvents.D(), LinkSessions: c.Retention.LinkSessions.D(),
				Webhooks: c.Webhooks.Retention.D()})
			if h.Made > 0 {
				d.Logger.InfoContext(ctx, "made history partitions", "count", h.Made)
			}
			for _, p := range h.Dropped {
				d.Logger.InfoContext(ctx, "dropped a history partition past its retention", "partition", p)
			}
			return err
		}},
	}
}

// bulkRelink works through one bulk relink in batches, each item in the
// same transaction as its mark, so a run cut short and started again does
// every item exactly once.
func bulkRelink(d Deps) app.JobFunc {
	c := d.Config
	base := strings.TrimRight(c.Server.PublicURL, "/") + "/connect?token="
	linkURL := func(token string) string { return base + token }
	mail := func(lang, link string) (string, string) {
		return d.Translator.T(lang, "console.email.subject"), d.Translator.T(lang, "console.email.body", "NOX Energy", link)
	}
	return func(ctx context.Context, j app.Job, progress func(done, total int) error) error {
		id, err := strconv.ParseInt(j.Ref, 10, 64)
		if err != nil {
			return app.Errorf(app.EINVALID, "bulk relink job without a bulk relink id (%q)", j.Ref)
		}
		for {
			b, err := d.Store.ProcessBulkRelink(ctx, id, c.Jobs.BulkBatch, c.Link.SessionTTL.D(), linkURL, mail)
			if err != nil {
				return err
			}
			if err := progress(b.Done+b.Failed, b.Total); err != nil {
				return err
			}
			if b.FinishedAt != nil {
				return nil
			}
		}
	}
}

// sendMail sends queued emails every mail.interval until ctx ends.
func sendMail(ctx context.Context, d Deps) {
	c := d.Config.Mail
	t := time.NewTicker(c.Interval.D())
	defer t.Stop()
	for {
		n, err := d.Store.SendEmails(ctx, 20, c.Lease.D(), c.MaxAttempts, d.Mailer.Send)
		if err != nil && ctx.Err() == nil {
			d.Logger.ErrorContext(ctx, "send emails failed", "err", err)
		} else if n > 0 {
			d.Logger.InfoContext(ctx, "emails sent", "count", n)
		}
		if n == 20 && ctx.Err() == nil {
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
