// Command noxportal is the NOX Energy linking platform: the link API for
// energy suppliers, the hosted link flow, the portal and the sandbox parties.
//
//	noxportal [serve]   migrate, seed (dev) and serve
//	noxportal migrate   apply pending migrations and exit
//	noxportal seed      apply the development seed and exit
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/jmoiron/sqlx"

	"noxportal/app"
	"noxportal/db"
	"noxportal/handlers"
	"noxportal/views"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "noxportal:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("noxportal", flag.ContinueOnError)
	configPath := fs.String("config", envOr("NOX_CONFIG", "config.yaml"), "path to config.yaml (empty: defaults and env only)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cmd := "serve"
	if fs.NArg() > 0 {
		cmd = fs.Arg(0)
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
	log := newLogger(cfg.Log)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	switch cmd {
	case "serve", "migrate", "seed":
	default:
		return fmt.Errorf("unknown command %q (use serve, migrate or seed)", cmd)
	}
	if cfg.Database.URL == "" {
		return errors.New("database.url is not set (set NOX_DATABASE_URL, or use `make run` to start a local Postgres)")
	}
	sqldb, err := db.Open(ctx, cfg.Database.URL, cfg.Database.MaxOpenConns, cfg.Database.MaxIdleConns)
	if err != nil {
		return err
	}
	defer sqldb.Close()
	applied, err := db.Migrate(ctx, sqldb)
	if err != nil {
		return err
	}
	for _, m := range applied {
		log.Info("migration applied", "file", m)
	}
	if cmd == "migrate" {
		return nil
	}
	cipher, err := app.NewCipher(cfg.Security.EncryptionKey)
	if err != nil {
		return err
	}
	store := db.New(sqldb, cipher)
	if err := store.SyncManufacturers(ctx, cfg.ActiveManufacturers()); err != nil {
		return err
	}
	if cfg.Dev.Seed || cmd == "seed" {
		if cfg.IsProduction() {
			return errors.New("refusing to seed development data in production")
		}
		if err := store.SeedDev(ctx); err != nil {
			return err
		}
	}
	if cmd == "seed" {
		return nil
	}
	return serve(ctx, cfg, store, sqldb, log)
}

func serve(ctx context.Context, cfg app.Config, store *db.Store, sqldb *sqlx.DB, log *slog.Logger) error {
	tr, err := app.NewTranslator(views.Locales())
	if err != nil {
		return err
	}
	signer, err := app.NewSigner(cfg.Security.SigningKey)
	if err != nil {
		return err
	}
	srv := handlers.New(handlers.Deps{
		Config: cfg, Store: store, Manufacturers: app.NewManufacturers(cfg),
		Translator: tr, Signer: signer, Logger: log,
	})
	go runSweeper(ctx, store, cfg.Link.SweepInterval.D(), log)
	go runMailer(ctx, store, app.NewMailer(cfg.Mail, log.Info), cfg.Mail.Interval.D(), log)

	errc := make(chan error, 1)
	go func() { errc <- srv.Listen(cfg.Server.Addr) }()
	log.Info("noxportal listening", "addr", cfg.Server.Addr, "public_url", cfg.Server.PublicURL, "env", cfg.Env)
	if cfg.Dev.Seed {
		printDevBanner(cfg)
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down", "timeout", cfg.Server.ShutdownTimeout.D().String())
	if err := srv.ShutdownWithTimeout(cfg.Server.ShutdownTimeout.D()); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// runSweeper expires overdue link sessions and prunes old counters until ctx ends.
func runSweeper(ctx context.Context, store *db.Store, every time.Duration, log *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if n, err := store.SweepExpiredSessions(ctx); err != nil && ctx.Err() == nil {
			log.Error("sweep failed", "err", err)
		} else if n > 0 {
			log.Info("expired link sessions", "count", n)
		}
		if err := store.PruneRateLimits(ctx, time.Now().Add(-time.Hour)); err != nil && ctx.Err() == nil {
			log.Error("prune rate limits failed", "err", err)
		}
		if err := store.PrunePortal(ctx, time.Now().Add(-24*time.Hour)); err != nil && ctx.Err() == nil {
			log.Error("prune portal failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// runMailer sends the queued emails (relink links) until ctx ends.
func runMailer(ctx context.Context, store *db.Store, m app.Mailer, every time.Duration, log *slog.Logger) {
	if every <= 0 {
		every = 5 * time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if n, err := store.SendEmails(ctx, 50, m.Send); err != nil && ctx.Err() == nil {
			log.Error("send emails failed", "err", err)
		} else if n > 0 {
			log.Info("emails sent", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func printDevBanner(cfg app.Config) {
	base := strings.TrimRight(cfg.Server.PublicURL, "/")
	fmt.Printf(`
  noxportal is running at %[1]s

  Demo supplier:  %[2]s
  Demo API key:   %[3]s

  Create a link session (then open the link_url in a browser):

    curl -s -X POST %[1]s/users/customer_42/link \
      -H 'Content-Type: application/json' \
      -H 'x-api-key: %[3]s' \
      -d '{"redirect_uri": "http://localhost:3000/callback", "language": "en"}'

  Sandbox manufacturer login: user_good / pass_good

  Portal (%[1]s/login), password %[4]s for every account:
`, base, app.DevSupplierID, app.DevAPIKey, app.DevPassword)
	for _, a := range app.DevPortalAccounts {
		fmt.Printf("    %-10s %s\n", a.Role, a.Email)
	}
	fmt.Printf(`
  Open a customer's dashboard from a supplier (one-time URL, 5 minutes):

    curl -s -X POST %[1]s/users/customer_42/dashboard-sessions \
      -H 'Content-Type: application/json' -H 'x-api-key: %[2]s' -d '{"language": "en"}'

`, base, app.DevAPIKey)
}

func newLogger(c app.LogConfig) *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.Level)); err != nil {
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(os.Stdout, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stdout, opts))
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
