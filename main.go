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
	"os"
	"os/signal"
	"syscall"
	"time"
	_ "time/tzdata" // reports.timezone works without the system's zoneinfo

	"noxportal/app"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "noxportal:", err)
		os.Exit(1)
	}
}

// commands are the command lines noxportal runs, by first argument; each
// gets the arguments after its name and lives in cmd_{name}.go.
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
