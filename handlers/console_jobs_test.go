package handlers_test

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"noxportal/app"
	"noxportal/handlers/handlertest"
)

// TestConsoleJobsShowFailuresInWordsAndRetryThem puts a failed bulk relink
// job on the jobs page: managers see it without a retry button and are
// refused one; an agent retries it, the runner does it, and the retry is
// audited.
func TestConsoleJobsShowFailuresInWordsAndRetryThem(t *testing.T) {
	t.Parallel()
	s := handlertest.Start(t)
	ctx := context.Background()
	b, err := s.Store.StartBulkRelink(ctx, app.BulkRelinkFilter{Brand: "sandbox-heatpump"}, app.AuditEntry{IP: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	var id int64
	if err := s.Store.DB().Get(&id, `
		INSERT INTO jobs (kind, ref, state, attempts, max_attempts, last_error, finished_at)
		VALUES ('bulk_relink', $1, 'failed', 10, 10, 'The manufacturer did not answer in time.', now()) RETURNING id`,
		strconv.FormatInt(b.ID, 10)); err != nil {
		t.Fatal(err)
	}
	path := "/console/jobs/" + strconv.FormatInt(id, 10) + "/retry"
	row := func(p handlertest.Page) *html.Node {
		return handlertest.Find(p.Doc, byAttr("data-job", strconv.FormatInt(id, 10)))
	}

	_, manager := s.MustLogin(t, "manager@jobs.test", app.RoleManager)
	page := handlertest.Get(t, manager, s.URL+"/console/jobs")
	r := row(page)
	if page.Status != 200 || r == nil {
		t.Fatalf("jobs page for a manager: %d, job row found %v", page.Status, r != nil)
	}
	text := handlertest.Text(r)
	for _, want := range []string{"Bulk relink", "Failed", "10/10", "The manufacturer did not answer in time."} {
		if !strings.Contains(text, want) {
			t.Errorf("job row %q lacks %q", text, want)
		}
	}
	if handlertest.Find(r, byAttr("data-action", "job-retry")) != nil {
		t.Errorf("a manager sees a retry button")
	}
	if p := postCSRF(t, s, manager, "/console/jobs", path, nil); p.Status != http.StatusForbidden {
		t.Errorf("manager retry: got %d, want 403", p.Status)
	}

	_, agent := s.MustLogin(t, "agent@jobs.test", app.RoleAgent)
	if handlertest.Find(row(handlertest.Get(t, agent, s.URL+"/console/jobs")), byAttr("data-action", "job-retry")) == nil {
		t.Fatalf("an agent sees no retry button on a failed job")
	}
	if p := handlertest.PostForm(t, agent, s.URL+path, nil); p.Status != http.StatusForbidden {
		t.Errorf("retry without a CSRF token: got %d, want 403", p.Status)
	}
	if p := postCSRF(t, s, agent, "/console/jobs", path, nil); p.Status != http.StatusSeeOther {
		t.Fatalf("agent retry: got %d, want 303", p.Status)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		j, err := s.Store.GetJob(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if j.State == app.JobSucceeded {
			if j.Attempts != 1 || j.LastError != "" {
				t.Errorf("retried job: %d attempts, last error %q; want 1 and none", j.Attempts, j.LastError)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("retried job still %s after 10s", j.State)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if p := postCSRF(t, s, agent, "/console/jobs", path, nil); p.Status != http.StatusConflict {
		t.Errorf("retrying a job that succeeded: got %d, want 409", p.Status)
	}
	if a, _ := s.Store.SearchAudit(ctx, app.AuditFilter{Action: "job.retry"}, 5); len(a) != 1 {
		t.Errorf("audit: got %d job.retry entries, want 1", len(a))
	}
}
