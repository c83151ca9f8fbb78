// Package dbtest gives each test a fresh, migrated Postgres database on the
// project-local server that `make test` starts (NOX_TEST_DATABASE_URL).
package dbtest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	_ "github.com/lib/pq"
	"golang.org/x/crypto/bcrypt"

	"noxportal/app"
	"noxportal/db"
	"noxportal/migrations"
)

// AdminURL is the maintenance database URL of the test server.
func AdminURL() string {
	if u := os.Getenv("NOX_TEST_DATABASE_URL"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:54329/postgres?sslmode=disable"
}

// TestKey is a base64 32-byte key for tests.
const TestKey = "dGVzdC1lbmNyeXB0aW9uLWtleS0zMi1ieXRlcy0hISE="

// MustDatabase creates a fresh database from a migrated template and returns
// its URL (with synchronous_commit off, see withoutFlushWait); it is dropped
// when the test ends.
func MustDatabase(tb testing.TB) string {
	tb.Helper()
	ctx := context.Background()
	admin, err := sqlx.Open("postgres", AdminURL())
	if err != nil {
		tb.Fatalf("dbtest: %v", err)
	}
	defer admin.Close()
	if err := admin.PingContext(ctx); err != nil {
		tb.Fatalf("dbtest: no test Postgres at %s (run `make test`, or `make db-up`): %v", AdminURL(), err)
	}
	tpl := mustTemplate(tb, admin)
	name := fmt.Sprintf("t_%s_%s", strings.ToLower(app.RandomToken(10)), time.Now().Format("150405"))
	if _, err := admin.ExecContext(ctx, `CREATE DATABASE `+name+` TEMPLATE `+tpl); err != nil {
		tb.Fatalf("dbtest: create database: %v", err)
	}
	tb.Cleanup(func() { drop(name) })
	return withoutFlushWait(withDB(AdminURL(), name))
}

// withoutFlushWait returns the database URL raw with synchronous_commit off
// on every connection it opens: a commit returns before its WAL reaches the
// disk. What a commit makes visible, and when, is unchanged, and so is every
// test's outcome (no test crashes Postgres); but the tests stop waiting on
// the disk for each of their thousands of commits, which on a busy or slow
// disk was much of the suite's time.
func withoutFlushWait(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		panic(err)
	}
	q := u.Query()
	q.Set("synchronous_commit", "off")
	u.RawQuery = q.Encode()
	return u.String()
}

// drops tracks the databases of finished tests that are being dropped in
// the background (Main).
var drops struct {
	sync.Mutex
	background bool
	wg         sync.WaitGroup
}

// drop drops the database name: at once, or in the background under Main.
// DROP DATABASE waits for a Postgres checkpoint, which can take a second
// on a busy server; in the background the next test need not wait for it,
// and the drops of tests ending together share one checkpoint.
func drop(name string) {
	dropNow := func() {
		a, err := sqlx.Open("postgres", AdminURL())
		if err != nil {
			return
		}
		defer a.Close()
		a.Exec(`DROP DATABASE IF EXISTS ` + name + ` WITH (FORCE)`)
	}
	drops.Lock()
	background := drops.background
	if background {
		drops.wg.Go(dropNow)
	}
	drops.Unlock()
	if !background {
		dropNow()
	}
}

// Main runs the tests of a package with the databases of finished tests
// dropped in the background, and returns once every drop is done:
// func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }.
func Main(m *testing.M) int {
	drops.Lock()
	drops.background = true
	drops.Unlock()
	code := m.Run()
	drops.Lock()
	drops.background = false
	drops.Unlock()
	drops.wg.Wait()
	return code
}

// MustStore returns a Store over a fresh database. Password hashes made
// from then on use bcrypt's least cost (portal.password_cost in tests).
func MustStore(tb testing.TB) *db.Store {
	tb.Helper()
	s, _ := MustStoreURL(tb)
	return s
}

// MustStoreURL is MustStore with the URL of its database.
func MustStoreURL(tb testing.TB) (*db.Store, string) {
	tb.Helper()
	url := MustDatabase(tb)
	return MustStoreOn(tb, url), url
}

// MustStoreOn returns a Store with a pool of its own on the database of
// url (another instance on the same database).
func MustStoreOn(tb testing.TB, url string) *db.Store {
	tb.Helper()
	app.SetPasswordCost(bcrypt.MinCost)
	d, err := db.Open(context.Background(), url, 20, 20)
	if err != nil {
		tb.Fatalf("dbtest: %v", err)
	}
	tb.Cleanup(func() { d.Close() })
	c, err := app.NewCipher(TestKey)
	if err != nil {
		tb.Fatal(err)
	}
	return db.New(d, c)
}

func withDB(raw, name string) string {
	u, err := url.Parse(raw)
	if err != nil {
		panic(err)
	}
	u.Path = "/" + name
	return u.String()
}

// mustTemplate returns the name of a database migrated to the current
// migrations, creating it once (under an advisory lock) per migration set.
func mustTemplate(tb testing.TB, admin *sqlx.DB) string {
	tb.Helper()
	ctx := context.Background()
	h := sha256.New()
	names, _ := fs.Glob(migrations.FS, "*.sql")
	sort.Strings(names)
	for _, n := range names {
		b, _ := fs.ReadFile(migrations.FS, n)
		h.Write([]byte(n))
		h.Write(b)
	}
	tpl := "nox_tpl_" + hex.EncodeToString(h.Sum(nil))[:12]
	conn, err := admin.Connx(ctx)
	if err != nil {
		tb.Fatalf("dbtest: %v", err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock(4242)`); err != nil {
		tb.Fatalf("dbtest: lock: %v", err)
	}
	defer conn.ExecContext(ctx, `SELECT pg_advisory_unlock(4242)`)
	var exists bool
	if err := conn.GetContext(ctx, &exists, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, tpl); err != nil {
		tb.Fatalf("dbtest: %v", err)
	}
	if exists {
		return tpl
	}
	build := tpl + "_build"
	conn.ExecContext(ctx, `DROP DATABASE IF EXISTS `+build+` WITH (FORCE)`)
	if _, err := conn.ExecContext(ctx, `CREATE DATABASE `+build); err != nil {
		tb.Fatalf("dbtest: create template: %v", err)
	}
	d, err := db.Open(ctx, withDB(AdminURL(), build), 2, 2)
	if err != nil {
		tb.Fatalf("dbtest: %v", err)
	}
	if _, err := db.Migrate(ctx, d); err != nil {
		d.Close()
		tb.Fatalf("dbtest: migrate template: %v", err)
	}
	d.Close()
	if _, err := conn.ExecContext(ctx, `ALTER DATABASE `+build+` RENAME TO `+tpl); err != nil {
		tb.Fatalf("dbtest: rename template: %v", err)
	}
	return tpl
}
