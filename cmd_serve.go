package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/jmoiron/sqlx"
	"golang.org/x/sync/errgroup"

	"noxportal/app"
	"noxportal/db"
	"noxportal/handlers"
	"noxportal/metric"
	"noxportal/service"
	"noxportal/views"
)

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
