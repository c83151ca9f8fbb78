package handlers_test

import (
	"context"
	"database/sql"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"noxportal/app"
	"noxportal/handlers/handlertest"
)

// testRequestTimeout is server.request_timeout in the tests of requests
// stopped at their deadline. Every request of such a test has it, including
// the ones that set the test up, which must finish well within it on a slow
// machine under the race detector (400 ms did not, now and then).
const testRequestTimeout = 2 * time.Second

// holdTableLock locks table in its own transaction until the test ends, so
// any statement reading it waits.
func holdTableLock(t *testing.T, s *handlertest.Server, table string) *sql.Tx {
	t.Helper()
	tx, err := s.Store.DB().DB.Begin()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tx.Rollback() })
	if _, err := tx.Exec(`LOCK TABLE ` + table + ` IN ACCESS EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	return tx
}

// waitingStatements counts the statements other than tx's that are still
// running against table.
func waitingStatements(t *testing.T, tx *sql.Tx, table string) int {
	t.Helper()
	var n int
	if err := tx.QueryRow(`SELECT count(*) FROM pg_stat_activity
		WHERE datname = current_database() AND pid <> pg_backend_pid() AND state = 'active' AND query ILIKE '%' || $1 || '%'`,
		table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestRequestPastItsDeadlineIsCancelledInPostgres holds a table lock so a
// request's statement waits; the request answers 503 (envelope for the API,
// the error page for a hosted page) once server.request_timeout passes, and
// Postgres has nothing left running of it.
func TestRequestPastItsDeadlineIsCancelledInPostgres(t *testing.T) {
	s := handlertest.Start(t, func(c *app.Config) {
		c.Server.RequestTimeout = app.Duration(testRequestTimeout)
		c.Database.LockTimeout = 0 // the request's deadline, not lock_timeout, must end the wait
	})
	link := s.MustCreateLink(t, "deadline_user")
	s.MustCreateLink(t, "deadline_user2") // a mapping to read
	tests := []struct {
		name, table, path, key string
		api                    bool
	}{
		{"API", "supplier_mappings", "/users/deadline_user", s.APIKey, true},
		{"hosted page", "link_sessions", "/connect?token=" + tokenOf(t, link["link_url"].(string)), "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tx := holdTableLock(t, s, tc.table)
			start := time.Now()
			req, _ := http.NewRequest("GET", s.URL+tc.path, nil)
			if tc.key != "" {
				req.Header.Set("x-api-key", tc.key)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			took := time.Since(start)
			if resp.StatusCode != http.StatusServiceUnavailable {
				t.Fatalf("got %d %s, want 503", resp.StatusCode, body)
			}
			if took > testRequestTimeout+3*time.Second {
				t.Errorf("answered after %s, want soon after the %s deadline", took, testRequestTimeout)
			}
			if tc.api {
				if !strings.Contains(string(body), `"success":false`) || !strings.Contains(string(body), `"code":"timeout"`) {
					t.Errorf("body %s: want the error envelope with code timeout", body)
				}
			} else if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
				t.Errorf("Content-Type %q, want the HTML error page", ct)
			}
			if n := waitingStatements(t, tx, tc.table); n != 0 {
				t.Errorf("pg_stat_activity: %d statements on %s still running after the 503, want 0", n, tc.table)
			}
		})
	}
}

// TestReadinessAnswersWithinASecond takes every pooled connection so the
// database cannot answer; /readyz still answers 503 within a second.
func TestReadinessAnswersWithinASecond(t *testing.T) {
	s := handlertest.Start(t)
	pool := s.Store.DB()
	var held []*sql.Conn
	for i := 0; i < pool.Stats().MaxOpenConnections; i++ {
		c, err := pool.Conn(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
	}
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	start := time.Now()
	resp, err := http.Get(s.URL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if took := time.Since(start); took > time.Second || resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("/readyz with no free connection: got %d after %s, want 503 within 1s", resp.StatusCode, took)
	}
}
