package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"time"

	"noxportal/db"
	"noxportal/devdata"
)

// seedCmd applies the development seed and, with --mappings or --sessions,
// loads generated history; without them it seeds the 90-day report history.
func seedCmd(ctx context.Context, env cmdEnv, args []string) error {
	var bulk devdata.BulkOptions
	sfs := flag.NewFlagSet("noxportal seed", flag.ContinueOnError)
	sfs.IntVar(&bulk.Mappings, "mappings", 0, "supplier users with a nox user and devices to generate")
	sfs.IntVar(&bulk.Sessions, "sessions", 0, "link sessions to generate")
	sfs.IntVar(&bulk.Days, "days", 90, "days of history the sessions are spread over")
	sfs.IntVar(&bulk.EventDays, "event-days", 7, "days of history that get link events")
	sfs.Uint64Var(&bulk.Seed, "seed", 0, "random seed (0: from the clock)")
	if err := sfs.Parse(args); err != nil {
		return err
	}
	store, closeDB, err := openStore(ctx, env)
	if err != nil {
		return err
	}
	defer closeDB()
	if err := prepareStore(ctx, store, env, true); err != nil {
		return err
	}
	if bulk.Mappings > 0 || bulk.Sessions > 0 {
		return bulkSeed(ctx, store, bulk)
	}
	_, err = devdata.ReportHistory(ctx, store, time.Now())
	return err
}

// bulkSeed loads generated history and prints how long each step took.
func bulkSeed(ctx context.Context, store *db.Store, o devdata.BulkOptions) error {
	start := time.Now()
	o.Progress = func(step string, rows int64, took time.Duration) {
		if rows > 0 {
			fmt.Fprintf(stdout, "  %-44s %11d rows %8.1fs\n", step, rows, took.Seconds())
		} else {
			fmt.Fprintf(stdout, "  %-44s %16s %8.1fs\n", step, "", took.Seconds())
		}
	}
	fmt.Fprintf(stdout, "seed: %d mappings, %d sessions over %d days\n", o.Mappings, o.Sessions, o.Days)
	st, err := devdata.Bulk(ctx, store, o)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "seed: %d mappings, %d devices, %d sessions, %d events in %.1fs\n",
		st.Mappings, st.Devices, st.Sessions, st.Events, time.Since(start).Seconds())
	// The load skips the rollup triggers; recompute the rollups in one pass.
	rb := time.Now()
	if _, err := store.RebuildReports(ctx); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "seed: report rollups rebuilt in %.1fs\n", time.Since(rb).Seconds())
	return nil
}

// seedReportHistory seeds the dev report history once, logging the outcome.
func seedReportHistory(ctx context.Context, store *db.Store, log *slog.Logger) {
	start := time.Now()
	seeded, err := devdata.ReportHistory(ctx, store, time.Now())
	switch {
	case err != nil && ctx.Err() == nil:
		log.Error("seeding report history failed", "err", err)
	case seeded:
		took := time.Since(start).Round(time.Millisecond)
		log.Info("report history seeded (90 days)", "took", took.String())
		fmt.Fprintf(stdout, "\n  report history seeded: 90 days in %s; /reports is complete\n\n", took)
	}
}
