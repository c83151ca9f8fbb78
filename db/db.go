// Package db is the only place with SQL. Every method takes a context first,
// wraps errors with a "db: ..." prefix and returns app.ENOTFOUND, never nil,
// when a row does not exist.
package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"noxportal/app"
	"noxportal/migrations"
)

// Store is the Postgres-backed store of every noxportal object.
type Store struct {
	db *sqlx.DB
	// prep runs the hot paths' queries as prepared statements.
	prep   *preparedDB
	cipher *app.Cipher
	// links batches concurrent link session inserts (link_batch.go).
	links *linkBatcher
	// counts merges concurrent API key lookups (counters.go).
	counts *countMerger
	// limits holds this instance's reserved rate-limit blocks (ratelimit.go).
	limits *rateBlocks
	// catalog caches what the brand page reads (catalog_cache.go).
	catalog *catalogCache
	// reqlog buffers the API request log (requestlog.go).
	reqlog *requestLog
	// views caches the hosted pages' session reads (session_view_cache.go).
	views *viewCache
}

// Connect returns a pool on url without connecting yet.
func Connect(url string, maxOpen, maxIdle int) (*sqlx.DB, error) {
	d, err := sqlx.Open("postgres", url)
	if err != nil {
		return nil, fmt.Errorf("db: open: %w", err)
	}
	d.SetMaxOpenConns(maxOpen)
	d.SetMaxIdleConns(maxIdle)
	d.SetConnMaxIdleTime(5 * time.Minute)
	return d, nil
}

// Open connects to Postgres and checks the connection.
func Open(ctx context.Context, url string, maxOpen, maxIdle int) (*sqlx.DB, error) {
	d, err := Connect(url, maxOpen, maxIdle)
	if err != nil {
		return nil, err
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := d.PingContext(pctx); err != nil {
		d.Close()
		return nil, fmt.Errorf("db: connect: %w", err)
	}
	return d, nil
}

// WithSessionTimeouts returns the connection string dsn (URL or key=value
// form) with statement_timeout, lock_timeout and
// idle_in_transaction_session_timeout set on every connection it opens
// (a zero duration leaves that setting as the server has it).
func WithSessionTimeouts(dsn string, statement, lock, idleInTx time.Duration) (string, error) {
	settings := []struct {
		name string
		d    time.Duration
	}{{"statement_timeout", statement}, {"lock_timeout", lock}, {"idle_in_transaction_session_timeout", idleInTx}}
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return "", fmt.Errorf("db: database url: %w", err)
		}
		q := u.Query()
		for _, st := range settings {
			if st.d > 0 {
				q.Set(st.name, strconv.FormatInt(st.d.Milliseconds(), 10))
			}
		}
		u.RawQuery = q.Encode()
		return u.String(), nil
	}
	for _, st := range settings {
		if st.d > 0 {
			dsn += " " + st.name + "=" + strconv.FormatInt(st.d.Milliseconds(), 10)
		}
	}
	return dsn, nil
}

// Cancelled reports whether err is Postgres stopping a statement: a
// cancel (a context that ended, statement_timeout) or lock_timeout.
func Cancelled(err error) bool {
	var pe *pq.Error
	return errors.As(err, &pe) && (pe.Code == "57014" || pe.Code == "55P03")
}

// New returns a Store over d; cipher encrypts manufacturer tokens at rest.
func New(d *sqlx.DB, cipher *app.Cipher) *Store {
	return &Store{db: d, prep: newPreparedDB(d), cipher: cipher, links: newLinkBatcher(), counts: newCountMerger(), limits: newRateBlocks(), catalog: newCatalogCache(),
		reqlog: newRequestLog(), views: newViewCache()}
}

// DB returns the underlying pool (for tests and tooling).
func (s *Store) DB() *sqlx.DB { return s.db }

// Migrate applies every pending embedded migration under a Postgres advisory
// lock, so several instances starting at once migrate exactly once.
func Migrate(ctx context.Context, d *sqlx.DB) ([]string, error) {
	sub, err := fs.Sub(migrations.FS, ".")
	if err != nil {
		return nil, fmt.Errorf("db: migrations: %w", err)
	}
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return nil, fmt.Errorf("db: migration lock: %w", err)
	}
	// Migration numbers are reserved in ranges as changes are planned, so a
	// migration merged later may carry a lower number than one a database
	// already has: apply it rather than refuse to start.
	p, err := goose.NewProvider(goose.DialectPostgres, d.DB, sub, goose.WithSessionLocker(locker),
		goose.WithAllowOutofOrder(true))
	if err != nil {
		return nil, fmt.Errorf("db: migrations: %w", err)
	}
	res, err := p.Up(ctx)
	if err != nil {
		return nil, fmt.Errorf("db: migrate: %w", err)
	}
	var applied []string
	for _, r := range res {
		applied = append(applied, r.Source.Path)
	}
	return applied, nil
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	if err := s.db.GetContext(ctx, &one, `SELECT 1`); err != nil {
		return fmt.Errorf("db: ping: %w", err)
	}
	return nil
}

// inTx runs fn in a transaction, committing when it returns nil or an
// errCommit (which it then returns), and rolling back on any other error.
//
// A transaction that met a link session the mover took from under it
// (isMovedRow) wrote nothing; it runs once more and finds the session in
// its month.
func (s *Store) inTx(ctx context.Context, fn func(tx *sqlx.Tx) error) error {
	err := s.inTxOnce(ctx, fn)
	if isMovedRow(err) {
		err = s.inTxOnce(ctx, fn)
	}
	return err
}

func (s *Store) inTxOnce(ctx context.Context, fn func(tx *sqlx.Tx) error) error {
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("db: begin: %w", err)
	}
	defer tx.Rollback()
	var written []string
	sessionWrites.Store(tx, &written)
	defer sessionWrites.Delete(tx)
	err = fn(tx)
	var ec errCommit
	if err != nil && !errors.As(err, &ec) {
		return err
	}
	cerr := tx.Commit()
	if len(written) > 0 {
		// Before the request that made the change answers.
		s.views.dropIDs(written)
	}
	if cerr != nil {
		return fmt.Errorf("db: commit: %w", cerr)
	}
	return err
}

func notFound(err error, format string, args ...any) error {
	if errors.Is(err, sql.ErrNoRows) {
		return app.Errorf(app.ENOTFOUND, format, args...)
	}
	return err
}

func isUniqueViolation(err error) bool {
	var pe *pq.Error
	return errors.As(err, &pe) && pe.Code == "23505"
}

func isForeignKeyViolation(err error) bool {
	var pe *pq.Error
	return errors.As(err, &pe) && pe.Code == "23503"
}
