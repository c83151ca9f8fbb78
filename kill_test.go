//go:build linux

package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"noxportal/app"
	"noxportal/db"
	"noxportal/db/dbtest"
	"noxportal/handlers/handlertest"
)

// TestMain lets a test start this binary's server in a child process (see
// startServerProcess), so a test can kill it with SIGKILL.
func TestMain(m *testing.M) {
	if cfg := os.Getenv("NOX_TEST_SERVE_CONFIG"); cfg != "" {
		if err := run([]string{"-config", cfg, "serve"}); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// serverProcess is the server running in a child process.
type serverProcess struct {
	cmd  *exec.Cmd
	logs *strings.Builder
}

// startServerProcess runs `noxportal serve` with configPath and env in a
// child process and waits until /readyz answers.
func startServerProcess(t *testing.T, configPath, baseURL string, env []string) *serverProcess {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	// The server dies with the test binary, even when a timeout kills it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cmd.Env = append(append(os.Environ(), "NOX_TEST_SERVE_CONFIG="+configPath), env...)
	logs := &strings.Builder{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &serverProcess{cmd: cmd, logs: logs}
	t.Cleanup(func() { p.kill() })
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(baseURL + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	p.kill()
	t.Fatalf("server did not become ready:\n%s", logs)
	return nil
}

// kill sends SIGKILL and reaps the process.
func (p *serverProcess) kill() {
	if p.cmd.ProcessState != nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	_ = p.cmd.Wait()
}

// TestKilledDuringTokenExchangeFailsWithManufacturerError kills the server
// (SIGKILL) after it claimed a callback and while it waits for the
// manufacturer's token endpoint, restarts it, and checks that the session
// ends failed with manufacturer_error within the callback lease and one
// sweep, with exactly one link.failed webhook, and that the returning user
// is sent back to the supplier with that reason.
func TestKilledDuringTokenExchangeFailsWithManufacturerError(t *testing.T) {
	dbURL := dbtest.MustDatabase(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	base := "http://" + addr

	// The token endpoint of the heat pump brand: it reports the request
	// and never answers, so the server is between claim and outcome.
	tokenAsked, release := make(chan struct{}, 1), make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case tokenAsked <- struct{}{}:
		default:
		}
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer hang.Close()
	defer close(release)
	shipped, err := os.ReadFile("config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfgText := strings.Replace(string(shipped), "token_url: /sandbox/sandbox-heatpump/token", "token_url: "+hang.URL+"/token", 1)
	if cfgText == string(shipped) {
		t.Fatal("config.yaml has no heat pump token_url to replace")
	}
	configPath := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(configPath, []byte(cfgText), 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{"NOX_DATABASE_URL=" + dbURL, "NOX_SERVER_ADDR=" + addr, "NOX_SERVER_PUBLIC_URL=" + base,
		"NOX_ENV=test", "NOX_DEV_SEED=false", "NOX_SANDBOX_ENABLED=true", "NOX_LOG_LEVEL=warn",
		"NOX_SECURITY_ENCRYPTION_KEY=" + dbtest.TestKey,
		"NOX_LINK_OAUTH_TIMEOUT=1s", "NOX_LINK_SWEEP_INTERVAL=200ms", "NOX_WEBHOOKS_POLL_INTERVAL=1h",
		// A sweep job the killed instance held is taken over after its lease.
		"NOX_JOBS_POLL_INTERVAL=100ms", "NOX_JOBS_LEASE=2s"}
	first := startServerProcess(t, configPath, base, env)

	ctx := context.Background()
	sqldb, err := db.Open(ctx, dbURL, 4, 4)
	if err != nil {
		t.Fatal(err)
	}
	defer sqldb.Close()
	cipher, err := app.NewCipher(dbtest.TestKey)
	if err != nil {
		t.Fatal(err)
	}
	store := db.New(sqldb, cipher)
	redirect := "https://supplier.example/callback"
	if err := store.UpsertSupplier(ctx, app.Supplier{ID: "supplier_kill", Name: "Kill Energy", RedirectURIs: []string{redirect}}); err != nil {
		t.Fatal(err)
	}
	if _, err := store.SetWebhookEndpoint(ctx, app.SupplierParty("supplier_kill"), "http://127.0.0.1:9/hooks", false); err != nil {
		t.Fatal(err)
	}
	sess, token, _, err := store.CreateLinkSession(ctx, app.NewLinkSession{Kind: app.KindSupplierLink, SupplierID: "supplier_kill",
		SupplierUserID: "cust-kill", RedirectURI: redirect, Language: "en", Initiator: app.InitiatorAPI, TTL: 15 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}

	user := (&handlertest.Server{URL: base}).Client()
	brands := handlertest.Get(t, user, base+"/connect?token="+token)
	action, vals := brands.FormValues(t, "/connect/brand", "brand", "sandbox-heatpump")
	authorize := handlertest.PostForm(t, user, base+action, vals).Location
	login := handlertest.Get(t, user, authorize)
	action, vals = login.FormValues(t, "/login")
	vals.Set("username", "user_good")
	vals.Set("password", app.SandboxPassword)
	consent := handlertest.PostForm(t, user, base+action, vals)
	action, vals = consent.FormValues(t, "/consent")
	vals.Set("decision", "allow")
	callback := handlertest.PostForm(t, user, base+action, vals).Location
	if !strings.Contains(callback, "/oauth/callback/") {
		t.Fatalf("consent did not send the browser to the callback: %q", callback)
	}

	go func() {
		if resp, err := user.Get(callback); err == nil {
			resp.Body.Close()
		}
	}()
	select {
	case <-tokenAsked:
	case <-time.After(30 * time.Second):
		t.Fatalf("the server never asked for the token:\n%s", first.logs)
	}
	first.kill()
	killedAt := time.Now()

	claimed, err := store.GetLinkSession(ctx, sess.ID)
	if err != nil {
		t.Fatal(err)
	}
	if claimed.Status != app.StatusAuthorizing || claimed.CallbackAt == nil {
		t.Fatalf("after the kill: status %s, callback_at %v; want authorizing with the callback claimed", claimed.Status, claimed.CallbackAt)
	}

	startServerProcess(t, configPath, base, env)
	lease := 3 * time.Second // 3 × link.oauth_timeout
	var ended app.LinkSession
	for deadline := killedAt.Add(lease + 10*time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if ended, err = store.GetLinkSession(ctx, sess.ID); err != nil {
			t.Fatal(err)
		}
		if ended.Status.Final() {
			break
		}
	}
	if ended.Status != app.StatusFailed || ended.Reason() != app.ReasonManufacturerError {
		t.Fatalf("session after restart: got %s (%s), want failed (manufacturer_error) within the lease and a sweep", ended.Status, ended.Reason())
	}
	var hooks []string
	if err := sqldb.Select(&hooks, `SELECT event_type FROM webhook_deliveries ORDER BY created_at`); err != nil {
		t.Fatal(err)
	}
	if strings.Join(hooks, ",") != app.EventLinkFailed {
		t.Errorf("webhooks: got %v, want exactly one %s", hooks, app.EventLinkFailed)
	}

	// The user comes back: a retried callback and the link both lead back
	// to the supplier with the real reason.
	back := handlertest.Get(t, user, callback)
	if q := queryOf(t, back.Location); back.Status != http.StatusSeeOther || q.Get("error") != "manufacturer_error" ||
		q.Get("connection_status") != "failed" {
		t.Errorf("retried callback: got %d to %q, want 303 to the supplier with error=manufacturer_error", back.Status, back.Location)
	}
	page := handlertest.Get(t, user, base+"/connect?token="+token)
	if !strings.Contains(page.Body, "did not finish") {
		t.Errorf("link after the failure: want a page saying connecting did not finish:\n%s", page.Body)
	}
	ret := handlertest.Get(t, user, base+"/connect/return?token="+token)
	if q := queryOf(t, ret.Location); q.Get("error") != "manufacturer_error" {
		t.Errorf("return to supplier: got %q, want error=manufacturer_error", ret.Location)
	}
}

// queryOf returns the query of a redirect Location.
func queryOf(t *testing.T, location string) url.Values {
	t.Helper()
	u, err := url.Parse(location)
	if err != nil {
		t.Fatalf("parse %q: %v", location, err)
	}
	return u.Query()
}
