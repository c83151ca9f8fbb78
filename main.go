// Command noxportal is the NOX Energy linking platform: the link API for
// energy suppliers, the hosted link flow, the portal and the sandbox parties.
//
//	noxportal [serve]   migrate, seed (dev) and serve
//	noxportal migrate   apply pending migrations and exit
//	noxportal seed      apply the development seed and exit
//	noxportal seed --mappings N --sessions M
//	                    also load N mapped users and M link sessions of
//	                    generated history (benchmarks, demos)
//	noxportal reports rebuild
//	                    recompute the report rollups from the link sessions
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
	_ "time/tzdata" // reports.timezone works without the system's zoneinfo

	"github.com/jmoiron/sqlx"
	"golang.org/x/sync/errgroup"

	"noxportal/app"
	"noxportal/db"
	"noxportal/devdata"
	"noxportal/handlers"
	"noxportal/metric"
	"noxportal/service"
	"noxportal/views"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "noxportal:", err)
		os.Exit(1)
	}
}

// commands are the command lines noxportal runs, by first argument; each
// gets the arguments after its name.
var commands = map[string]func(ctx context.Context, env cmdEnv, args []string) error{
	"serve":   serveCmd,
	"migrate": migrateCmd,
	"seed":    seedCmd,
	"reports": reportsCmd,
}

// cmdEnv is what every command starts from: the configuration and the logger.
type cmdEnv struct {
	cfg app.Config
	log *slog.Logger
}

func run(args []string) error {
	fs := flag.NewFlagSet("noxportal", flag.ContinueOnError)
	configPath := fs.String("config", envOr("NOX_CONFIG", "config.yaml"), "path to config.yaml (empty: defaults and env only)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	name, rest := "serve", fs.Args()
	if len(rest) > 0 {
		name, rest = rest[0], rest[1:]
	}
	cmd, ok := commands[name]
	if !ok {
		return fmt.Errorf("unknown command %q (use serve, migrate, seed or reports rebuild)", name)
	}
	if *configPath != "" {
		if _, err := os.Stat(*configPath); errors.Is(err, os.ErrNotExist) && os.Getenv("NOX_CONFIG") == "" && *configPath == "config.yaml" {
			*configPath = ""
		}
	}
	cfg, err := app.LoadConfig(*configPath, os.Environ())
	if err != nil {
		return err
	}
	app.SetPasswordCost(cfg.Portal.PasswordCost)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// A second signal during shutdown stops the process at once.
	context.AfterFunc(ctx, stop)
	// Log lines go out together, a few milliseconds apart (app.LogWriter):
	// one write for many request lines. What the process prints to stdout
	// goes the same way, so lines keep their order.
	logOut := app.NewLogWriter(os.Stdout, logFlushDelay)
	defer logOut.Flush()
	stdout = logOut
	return cmd(ctx, cmdEnv{cfg: cfg, log: newLogger(logOut, cfg.Log.Level, cfg.LogFormat())}, rest)
}

// noArgs refuses arguments after a command that takes none.
func noArgs(name string, args []string) error {
	if len(args) > 0 {
		return fmt.Errorf("unexpected arguments after %q: %v", name, args)
	}
	return nil
}

// migrateCmd applies pending migrations and exits.
func migrateCmd(ctx context.Context, env cmdEnv, args []string) error {
	if err := noArgs("migrate", args); err != nil {
		return err
	}
	sqldb, err := openMigrated(ctx, env)
	if err != nil {
		return err
	}
	return sqldb.Close()
}

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

// serveCmd migrates, seeds (dev.seed) and serves until a signal.
func serveCmd(ctx context.Context, env cmdEnv, args []string) error {
	if err := noArgs("serve", args); err != nil {
		return err
	}
	cfg := env.cfg
	store, closeDB, err := openStore(ctx, env)
	if err != nil {
		return err
	}
	defer closeDB()
	if err := prepareStore(ctx, store, env, cfg.Dev.Seed); err != nil {
		return err
	}
	dsn, err := db.WithSessionTimeouts(cfg.Database.URL, cfg.Database.StatementTimeout.D(), cfg.Database.LockTimeout.D(),
		cfg.Database.IdleInTransactionTimeout.D())
	if err != nil {
		return err
	}
	served, err := db.Open(ctx, dsn, cfg.Database.MaxOpenConns, cfg.Database.MaxIdleConns)
	if err != nil {
		return err
	}
	defer served.Close()
	primary := db.New(served, store.Cipher())
	reads := db.NewReads(primary, nil, 0)
	if cfg.Database.ReplicaURL != "" {
		replica, err := openReplica(cfg)
		if err != nil {
			return err
		}
		defer replica.Close()
		reads = db.NewReads(primary, db.New(replica, store.Cipher()), cfg.Database.ReplicaMaxLag.D())
	}
	return serve(ctx, cfg, reads, store, env.log)
}

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
		if err := store.SeedSandboxSupplier(ctx, app.SandboxLoginSupplier(cfg), cfg.Sandbox.Supplier.APIKey); err != nil {
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

// openReplica returns a pool on database.replica_url with the same session
// timeouts as the primary's. It does not wait for the replica: one that is
// down at start-up is probed until it answers, and reads use the primary.
func openReplica(cfg app.Config) (*sqlx.DB, error) {
	dsn, err := db.WithSessionTimeouts(cfg.Database.ReplicaURL, cfg.Database.StatementTimeout.D(), cfg.Database.LockTimeout.D(),
		cfg.Database.IdleInTransactionTimeout.D())
	if err != nil {
		return nil, err
	}
	return db.Connect(dsn, cfg.Database.MaxOpenConns, cfg.Database.MaxIdleConns)
}

// serve runs the HTTP server and every background loop under one
// supervisor until ctx ends (SIGTERM, SIGINT) or one of them fails. On the
// signal /readyz turns 503 at once, requests are still served for
// server.drain_delay, then the listener stops accepting and in-flight
// requests get server.shutdown_timeout to finish; only then do the loops
// stop. Work they leave is in leased rows and is picked up again.
func serve(ctx context.Context, cfg app.Config, reads *db.Reads, adminStore *db.Store, log *slog.Logger) error {
	store := reads.Primary()
	tr, err := app.NewTranslator(views.Locales())
	if err != nil {
		return err
	}
	signer, err := app.NewSigner(cfg.Security.SigningKey)
	if err != nil {
		return err
	}
	tuneGC()
	mailer, err := app.NewMailer(cfg.Mail, log)
	if err != nil {
		return err
	}
	metrics := metric.New()
	metrics.WatchDatabase(store.DB().DB, func(ctx context.Context) (app.QueueStats, error) {
		return store.QueueStats(ctx, cfg.Mail.MaxAttempts)
	}, log)
	metrics.WatchReplica(reads.Stats)
	var draining atomic.Bool
	srv := handlers.New(handlers.Deps{
		Config: cfg, Store: store, Reads: reads, Manufacturers: app.NewManufacturers(cfg).WithLogger(log),
		Translator: tr, Signer: signer, Logger: log, Draining: draining.Load, Metrics: metrics,
	})
	ln, err := net.Listen("tcp", cfg.Server.Addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}

	loopCtx, stopLoops := context.WithCancel(context.Background())
	defer stopLoops()
	g, loopCtx := errgroup.WithContext(loopCtx)
	loop := func(name string, fn func(context.Context)) {
		g.Go(func() error {
			fn(loopCtx)
			log.Debug("loop stopped", "loop", name)
			return nil
		})
	}
	for _, l := range service.Loops(service.Deps{Config: cfg, Store: store, Translator: tr, Logger: log,
		Observer: metrics, Mailer: mailer}) {
		loop(l.Name, l.Run)
	}
	loop("report-folder", func(ctx context.Context) { runReportFolder(ctx, store, cfg.Reports.FoldInterval.D(), log) })
	if cfg.Database.ReplicaURL != "" {
		loop("replica-probe", func(ctx context.Context) { runReplicaProbe(ctx, reads, time.Second, log) })
	}
	loop("request-log", func(ctx context.Context) { store.RunRequestLog(app.WithObserver(ctx, metrics), log) })
	if cfg.Link.ViewCache {
		loop("session-changes", func(ctx context.Context) { store.ListenSessionChanges(ctx, cfg.Database.URL, log) })
	}
	if cfg.Dev.Seed && cfg.Dev.SeedHistory {
		// 90 days of report history, once; the server does not wait for it.
		loop("seed-report-history", func(ctx context.Context) { seedReportHistory(ctx, adminStore, log) })
	}
	if cfg.Server.PprofAddr != "" {
		g.Go(func() error { return servePprof(loopCtx, cfg.Server.PprofAddr, log) })
	}
	if cfg.Server.MetricsAddr != "" {
		g.Go(func() error {
			return serveHTTP(loopCtx, &http.Server{Addr: cfg.Server.MetricsAddr, Handler: metrics.Handler(),
				ReadHeaderTimeout: 10 * time.Second}, "metrics", log)
		})
	}
	g.Go(func() error {
		if err := srv.Listener(ln); err != nil {
			return fmt.Errorf("serve: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		select {
		case <-ctx.Done():
		case <-loopCtx.Done(): // a loop or the listener failed
		}
		draining.Store(true)
		if loopCtx.Err() == nil {
			log.Info("draining", "drain_delay", cfg.Server.DrainDelay.D().String())
			select {
			case <-time.After(cfg.Server.DrainDelay.D()):
			case <-loopCtx.Done():
			}
		}
		log.Info("shutting down", "timeout", cfg.Server.ShutdownTimeout.D().String())
		err := srv.ShutdownWithTimeout(cfg.Server.ShutdownTimeout.D())
		stopLoops()
		if err != nil {
			return fmt.Errorf("shutdown: in-flight requests did not finish: %w", err)
		}
		return nil
	})
	log.Info("noxportal listening", "addr", ln.Addr().String(), "public_url", cfg.Server.PublicURL, "env", cfg.Env)
	if cfg.Dev.Seed {
		printDevBanner(cfg)
	}
	err = g.Wait()
	if err == nil {
		log.Info("stopped")
	}
	return err
}

// servePprof serves the runtime profiles on addr (loopback, checked by the
// config) until ctx ends.
func servePprof(ctx context.Context, addr string, log *slog.Logger) error {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return serveHTTP(ctx, &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}, "pprof", log)
}

// serveHTTP runs srv until ctx ends, then closes it.
func serveHTTP(ctx context.Context, srv *http.Server, name string, log *slog.Logger) error {
	ln, err := net.Listen("tcp", srv.Addr)
	if err != nil {
		return fmt.Errorf("%s listener: %w", name, err)
	}
	stop := context.AfterFunc(ctx, func() { srv.Close() })
	defer stop()
	log.Info(name+" listening", "addr", ln.Addr().String())
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("%s listener: %w", name, err)
	}
	return nil
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

// every runs fn now and then every d until ctx ends.
func every(ctx context.Context, d time.Duration, fn func()) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		fn()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// runReportFolder folds pending session and device changes into the report
// rollups until ctx ends.
func runReportFolder(ctx context.Context, store *db.Store, d time.Duration, log *slog.Logger) {
	every(ctx, d, func() {
		if _, err := store.FoldReports(ctx); err != nil && ctx.Err() == nil {
			log.Error("fold report rollups failed", "err", err)
		}
	})
}

// runReplicaProbe measures the replica's lag every d until ctx ends,
// logging when it goes down or comes back.
func runReplicaProbe(ctx context.Context, reads *db.Reads, d time.Duration, log *slog.Logger) {
	up := false
	every(ctx, d, func() {
		pctx, cancel := context.WithTimeout(ctx, d)
		err := reads.Probe(pctx)
		cancel()
		switch {
		case ctx.Err() != nil:
		case err != nil && up:
			log.Warn("replica down: its reads go to the primary", "err", err)
		case err == nil && !up:
			log.Info("replica up", "lag", reads.Stats().Lag.String())
		}
		up = err == nil
	})
}

func printDevBanner(cfg app.Config) {
	base := strings.TrimRight(cfg.Server.PublicURL, "/")
	// The flow ends on the sandbox's demo supplier app when there is one.
	redirect := app.DevRedirectURIs[0]
	if cfg.Sandbox.Enabled {
		redirect = base + app.DemoSupplierAppPath
	}
	fmt.Fprintf(stdout, `
  noxportal is running at %[1]s

  Demo supplier:  %[2]s
  Demo API key:   %[3]s
  Demo test key:  %[6]s  (test mode: sandbox brands only)

  Create a link session (then open the link_url in a browser):

    curl -s -X POST %[1]s/users/customer_42/link \
      -H 'Content-Type: application/json' \
      -H 'x-api-key: %[3]s' \
      -d '{"redirect_uri": "%[5]s", "language": "en"}'

  Sandbox manufacturer login: user_good / pass_good

  Reports: 90 days of demo history. On a first start they are seeded in the
  background; a line "report history seeded" says when /reports is complete.

  Portal (%[1]s/login), password %[4]s for every account:
`, base, app.DevSupplierID, app.DevAPIKey, app.DevPassword, redirect, app.DevTestAPIKey)
	for _, a := range app.DevPortalAccounts {
		fmt.Fprintf(stdout, "    %-16s %s\n", a.Role, a.Email)
	}
	fmt.Fprintf(stdout, `
  Open a customer's dashboard from a supplier (one-time URL, 5 minutes):

    curl -s -X POST %[1]s/users/customer_42/dashboard-sessions \
      -H 'Content-Type: application/json' -H 'x-api-key: %[2]s' -d '{"language": "en"}'

`, base, app.DevAPIKey)
	if !cfg.Sandbox.Enabled {
		return
	}
	fmt.Fprintf(stdout, `  Flow 2 — the user starts at the manufacturer and picks a supplier:

  Sandbox manufacturer:  %[2]s
  Manufacturer API key:  %[3]s

    curl -s -X POST %[1]s/manufacturer/link-sessions \
      -H 'Content-Type: application/json' \
      -H 'x-api-key: %[3]s' \
      -d '{"manufacturer_user_id": "hp_user_7", "device_ids": ["HP-0007"], "redirect_uri": "http://localhost:3000/manufacturer/callback", "language": "en"}'

`, base, app.DevManufacturerID, app.DevManufacturerAPIKey)
	if s := cfg.Sandbox.Supplier; cfg.Sandbox.SupplierActive() {
		fmt.Fprintf(stdout, "  Sandbox supplier:  %s (%s), login user_good / pass_good\n  Its API key:       %s\n\n", s.Name, s.ID, s.APIKey)
	}
}

// tuneGC lets the heap grow to five times what is live before a collection
// (GOGC 400; a request allocates a few KB and keeps none of it, so the
// default collected several times a second under load), bounded by a soft
// limit of 150 MB so the process stays under its 200 MB budget. GOGC and
// GOMEMLIMIT in the environment take precedence.
func tuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(150 << 20)
	}
}

// stdout is where the process prints: the log writer once run has made it.
var stdout io.Writer = os.Stdout

// logFlushDelay is the longest a log line waits before it is written.
const logFlushDelay = 10 * time.Millisecond

// newLogger writes JSON lines (log.format json, for production) or text to
// out; lines logged with a request's or job's context carry its id.
func newLogger(out io.Writer, levelName, format string) *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(levelName)); err != nil {
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	if format == "json" {
		return slog.New(app.ContextHandler(slog.NewJSONHandler(out, opts)))
	}
	return slog.New(app.ContextHandler(slog.NewTextHandler(out, opts)))
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
