package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"noxportal/app"
	"noxportal/db"
)

// reportsCmd runs `reports rebuild`: recompute the report rollups.
func reportsCmd(ctx context.Context, env cmdEnv, args []string) error {
	if len(args) != 1 || args[0] != "rebuild" {
		return fmt.Errorf("unknown command %q (use reports rebuild)", strings.Join(append([]string{"reports"}, args...), " "))
	}
	store, closeDB, err := openStore(ctx, env)
	if err != nil {
		return err
	}
	defer closeDB()
	return rebuildReports(ctx, store, env.cfg, env.log)
}

// rebuildReports recomputes the report rollups in the configured time zone.
func rebuildReports(ctx context.Context, store *db.Store, cfg app.Config, log *slog.Logger) error {
	start := time.Now()
	if rebuilt, err := store.ConfigureReports(ctx, cfg.Reports.Timezone); err != nil || rebuilt {
		if err == nil {
			log.Info("report rollups rebuilt", "timezone", cfg.Reports.Timezone, "took", time.Since(start).Round(time.Millisecond).String())
		}
		return err
	}
	res, err := store.RebuildReports(ctx)
	if err != nil {
		return err
	}
	log.Info("report rollups rebuilt", "timezone", cfg.Reports.Timezone, "sessions", res.Sessions, "rows", res.Rows,
		"device_correction", res.DeviceCorrection, "took", time.Since(start).Round(time.Millisecond).String())
	return nil
}
