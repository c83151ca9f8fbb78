package main

import (
	"context"
	"errors"
	"strings"

	"github.com/jmoiron/sqlx"

	"noxportal/app"
	"noxportal/db"
	"noxportal/devdata"
)

// openMigrated opens the unbounded pool (migrations, seeding and rebuilds
// may take longer than a request's statement_timeout; serve opens its own
// bounded pool) and applies pending migrations.
func openMigrated(ctx context.Context, env cmdEnv) (*sqlx.DB, error) {
	if env.cfg.Database.URL == "" {
		return nil, errors.New("database.url is not set (set NOX_DATABASE_URL, or use `make run` to start a local Postgres)")
	}
	sqldb, err := db.Open(ctx, env.cfg.Database.URL, env.cfg.Database.MaxOpenConns, env.cfg.Database.MaxIdleConns)
	if err != nil {
		return nil, err
	}
	applied, err := db.Migrate(ctx, sqldb)
	if err != nil {
		sqldb.Close()
		return nil, err
	}
	for _, m := range applied {
		env.log.Info("migration applied", "file", m)
	}
	return sqldb, nil
}

// openStore is openMigrated with the store over it; closeDB closes the pool.
func openStore(ctx context.Context, env cmdEnv) (store *db.Store, closeDB func() error, err error) {
	cipher, err := app.NewCipher(env.cfg.Security.EncryptionKey)
	if err != nil {
		return nil, nil, err
	}
	sqldb, err := openMigrated(ctx, env)
	if err != nil {
		return nil, nil, err
	}
	return db.New(sqldb, cipher), sqldb.Close, nil
}

// prepareStore brings the database in line with the configuration (report
// time zone, manufacturers, sandbox supplier) and, when devSeed, applies the
// development seed (refused in production).
func prepareStore(ctx context.Context, store *db.Store, env cmdEnv, devSeed bool) error {
	cfg := env.cfg
	if rebuilt, err := store.ConfigureReports(ctx, cfg.Reports.Timezone); err != nil {
		return err
	} else if rebuilt {
		env.log.Info("report rollups rebuilt for a new time zone", "timezone", cfg.Reports.Timezone)
	}
	if err := store.SyncManufacturers(ctx, cfg.ServedManufacturers()); err != nil {
		return err
	}
	if cfg.Sandbox.SupplierActive() {
		if err := store.SyncSandboxSupplier(ctx, app.SandboxLoginSupplier(cfg), cfg.Sandbox.Supplier.APIKey); err != nil {
			return err
		}
	}
	if !devSeed {
		return nil
	}
	if cfg.IsProduction() {
		return errors.New("refusing to seed development data in production")
	}
	var demoApp []string
	if cfg.Sandbox.Enabled {
		demoApp = append(demoApp, strings.TrimRight(cfg.Server.PublicURL, "/")+app.DemoSupplierAppPath)
	}
	if err := devdata.Dev(ctx, store, demoApp...); err != nil {
		return err
	}
	if cfg.Sandbox.Enabled {
		return devdata.DevManufacturer(ctx, store, app.DevManufacturerID, app.DevManufacturerAPIKey, app.DevManufacturerRedirectURIs)
	}
	return nil
}
