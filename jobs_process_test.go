package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"noxportal/app"
	"noxportal/db"
	"noxportal/db/dbtest"
)

// TestKill9MidJobThenRestartFinishesEveryJobExactlyOnce starts a bulk
// relink (one item per transaction, each with a relink email), overdue
// sessions for the sweeper and old rows for pruning; kills the process
// with SIGKILL while the bulk relink is half done; starts it again; and
// checks that every job finished and every piece of work was done exactly
// once: one session and one email (one .eml) per item, one expiry per
// session, the old rows gone.
func TestKill9MidJobThenRestartFinishesEveryJobExactlyOnce(t *testing.T) {
	const items, overdue = 150, 2500
	dbURL := dbtest.MustDatabase(t)
	sink := t.TempDir()
	env := []string{"NOX_JOBS_LEASE=2s", "NOX_JOBS_BULK_BATCH=1", "NOX_JOBS_POLL_INTERVAL=50ms",
		"NOX_LINK_SWEEP_INTERVAL=1s", "NOX_RETENTION_INTERVAL=1s",
		"NOX_MAIL_SINK_DIR=" + sink, "NOX_MAIL_INTERVAL=50ms", "NOX_MAIL_TIMEOUT=1s", "NOX_MAIL_LEASE=3s",
		"NOX_LOG_LEVEL=warn"}
	first := startProcess(t, dbURL, env...)

	d, err := db.Open(context.Background(), dbURL, 4, 4)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	c, _ := app.NewCipher(testEncryptionKey)
	store := db.New(d, c)
	ctx := context.Background()
	mustSupplierKey(t, dbURL, "supplier_jobs")
	mustExec(t, d, `
		INSERT INTO nox_users (id) SELECT 'nu_' || g FROM generate_series(1, %[1]d) g;
		INSERT INTO supplier_mappings (supplier_id, supplier_user_id, nox_user_id)
		SELECT 'supplier_jobs', 'user_' || g, 'nu_' || g FROM generate_series(1, %[1]d) g;
		INSERT INTO devices (nox_user_id, manufacturer_id, external_id, status, connected_at)
		SELECT 'nu_' || g, 'sandbox-heatpump', 'HP-' || g, 'relink_required', now() FROM generate_series(1, %[1]d) g;
		INSERT INTO portal_users (email, role, password_hash, nox_user_id)
		SELECT 'customer' || g || '@example.com', 'customer', 'x', 'nu_' || g FROM generate_series(1, %[1]d) g;`, items)
	mustExec(t, d, `
		INSERT INTO link_sessions (id, token_hash, kind, supplier_id, supplier_user_id, redirect_uri, language, initiator, expires_at)
		SELECT 'ls_overdue_' || g, sha256(('overdue' || g)::bytea), 'supplier_link', 'supplier_jobs', 'late_' || g,
		       'https://supplier.example/callback', 'en', 'api', now() - interval '1 minute'
		FROM generate_series(1, %[1]d) g;
		INSERT INTO rate_limits (bucket, window_start, count) VALUES ('page:old', now() - interval '3 hours', 1);`, overdue)
	b, err := store.StartBulkRelink(ctx, app.BulkRelinkFilter{Brand: "sandbox-heatpump"}, app.AuditEntry{IP: "127.0.0.1"})
	if err != nil || b.Total != items {
		t.Fatalf("start bulk relink: %+v, %v", b, err)
	}
	ref := strconv.FormatInt(b.ID, 10)

	// Kill the first instance once the bulk relink is under way.
	deadline := time.Now().Add(30 * time.Second)
	var done int
	for done == 0 {
		if err := d.Get(&done, `SELECT done FROM jobs WHERE kind = 'bulk_relink' AND ref = $1`, ref); err != nil {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatal("the bulk relink job never started")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := first.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	first.wait(t, 10*time.Second)
	var processed int
	if err := d.Get(&processed, `SELECT count(*) FROM bulk_relink_items WHERE bulk_id = $1 AND processed_at IS NOT NULL`, b.ID); err != nil {
		t.Fatal(err)
	}
	if processed == 0 || processed >= items {
		t.Fatalf("killed with %d of %d items done: not mid-job", processed, items)
	}
	t.Logf("killed with %d of %d bulk items done", processed, items)

	startProcess(t, dbURL, env...)
	deadline = time.Now().Add(90 * time.Second)
	for {
		var pending int
		if err := d.Get(&pending, `
			SELECT (SELECT count(*) FROM jobs WHERE kind = 'bulk_relink' AND state <> 'succeeded')
			     + (SELECT count(*) FROM email_outbox WHERE sent_at IS NULL)
			     + (SELECT count(*) FROM link_sessions WHERE status = 'created' AND expires_at < now())
			     + (SELECT count(*) FROM rate_limits WHERE bucket = 'page:old')`); err != nil {
			t.Fatal(err)
		}
		if pending == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d pieces of work still unfinished 90s after the restart", pending)
		}
		time.Sleep(100 * time.Millisecond)
	}

	var job app.Job
	if err := d.Get(&job, `SELECT id, kind, ref, state, attempts, max_attempts, run_at, done, total, last_error,
		created_at, updated_at, finished_at FROM jobs WHERE kind = 'bulk_relink' AND ref = $1`, ref); err != nil {
		t.Fatal(err)
	}
	if job.State != app.JobSucceeded || job.Attempts != 2 || job.Done != items || job.Total != items {
		t.Errorf("bulk relink job: %+v, want succeeded on its second attempt with %d/%d done", job, items, items)
	}
	for _, c := range []struct {
		what  string
		query string
		want  int
	}{
		{"bulk items processed", `SELECT count(*) FROM bulk_relink_items WHERE bulk_id = $1 AND processed_at IS NOT NULL AND session_id IS NOT NULL`, items},
		{"agent sessions (one per item)", `SELECT count(*) FROM link_sessions WHERE initiator = 'agent' AND $1 > 0`, items},
		{"users with two agent sessions", `SELECT count(*) FROM (SELECT supplier_user_id FROM link_sessions WHERE initiator = 'agent' AND $1 > 0
			GROUP BY 1 HAVING count(*) > 1) x`, 0},
		{"relink emails (one per item)", `SELECT count(*) FROM email_outbox WHERE kind = 'relink' AND $1 > 0`, items},
		{"bulk progress done", `SELECT done FROM bulk_relinks WHERE id = $1`, items},
		{"overdue sessions expired", `SELECT count(*) FROM link_sessions WHERE id LIKE 'ls_overdue_%' AND status = 'expired' AND $1 > 0`, overdue},
		{"expired events (one per session)", `SELECT count(*) FROM link_events WHERE type = 'expired' AND session_id LIKE 'ls_overdue_%' AND $1 > 0`, overdue},
	} {
		var got int
		if err := d.Get(&got, c.query, b.ID); err != nil {
			t.Fatalf("%s: %v", c.what, err)
		}
		if got != c.want {
			t.Errorf("%s: got %d, want %d", c.what, got, c.want)
		}
	}
	files, _ := filepath.Glob(filepath.Join(sink, "*.eml"))
	if len(files) != items {
		t.Errorf("mail sink: %d files, want one per email (%d)", len(files), items)
	}
	for _, f := range files[:1] {
		b, _ := os.ReadFile(f)
		if len(b) == 0 {
			t.Errorf("%s is empty", f)
		}
	}
}

// mustExec runs statements, with %[1]d standing for n.
func mustExec(t *testing.T, d *sqlx.DB, statements string, n int) {
	t.Helper()
	query := fmt.Sprintf(statements, n)
	if _, err := d.Exec(query); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}
