package main

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"noxportal/app"
	"noxportal/db"
	"noxportal/db/dbtest"
	"noxportal/handlers/handlertest"
)

// TestTestModeKeysWorkWithEnvProduction runs the binary as production runs
// it: env production (which refuses sandbox.enabled), an https public URL
// served by a TLS proxy in front (its certificate is the only one the
// binary trusts, so its calls to its own sandbox brands go through it too).
// A supplier's test key creates a link that offers only the sandbox brands,
// walks it to connected and gets link.connected at the test endpoint; the
// live key of the same supplier can not reach a sandbox brand, and its
// endpoint gets nothing of the test link. Webhook receivers are on
// loopback, so deliveries may reach private networks here.
func TestTestModeKeysWorkWithEnvProduction(t *testing.T) {
	dbURL := dbtest.MustDatabase(t)
	addr, metrics := freeAddr(t), freeAddr(t)
	backend, _ := url.Parse("http://" + addr)
	proxy := httptest.NewUnstartedServer(httputil.NewSingleHostReverseProxy(backend))
	proxy.StartTLS()
	t.Cleanup(proxy.Close)
	caFile := filepath.Join(t.TempDir(), "proxy.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: proxy.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}

	out := &lockedBuffer{}
	cmd := exec.Command(mustBinary(t), "-config", "config.yaml", "serve")
	cmd.Env = append(os.Environ(),
		"NOX_ENV=production",
		"NOX_SANDBOX_ENABLED=false",
		"NOX_DEV_SEED=false",
		"NOX_DATABASE_URL="+dbURL,
		"NOX_SERVER_ADDR="+addr,
		"NOX_SERVER_PUBLIC_URL="+proxy.URL,
		"NOX_SERVER_METRICS_ADDR="+metrics,
		"NOX_SECURITY_ENCRYPTION_KEY="+testEncryptionKey,
		"NOX_SECURITY_SIGNING_KEY=c2lnbmluZy1rZXktZm9yLXRlc3RzLW9ubHktMzItYnl0ZXMhIQ==",
		"NOX_WEBHOOKS_ALLOW_PRIVATE_NETWORKS=true",
		"NOX_WEBHOOKS_POLL_INTERVAL=50ms",
		"SSL_CERT_FILE="+caFile,
	)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
		if t.Failed() {
			t.Logf("noxportal output:\n%s", out.String())
		}
	})
	for deadline := time.Now().Add(90 * time.Second); ; {
		if resp, err := http.Get(backend.String() + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		select {
		case err := <-done:
			t.Fatalf("noxportal exited before it was ready: %v\n%s", err, out.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("noxportal not ready after 90s:\n%s", out.String())
		}
	}

	// The supplier, its live key, its test twin and test key, as the
	// developer dashboard makes them.
	d, err := db.Open(context.Background(), dbURL, 2, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	c, _ := app.NewCipher(testEncryptionKey)
	store := db.New(d, c)
	ctx := context.Background()
	redirect := "https://supplier.example/callback"
	if err := store.UpsertSupplier(ctx, app.Supplier{ID: "prod_energy", Name: "Prod Energy", RedirectURIs: []string{redirect}}); err != nil {
		t.Fatal(err)
	}
	liveKey, err := store.CreateAPIKey(ctx, app.APIKeyOwner{SupplierID: "prod_energy"}, "live")
	if err != nil {
		t.Fatal(err)
	}
	twin, err := store.EnsureTestTwin(ctx, "prod_energy", app.AuditEntry{})
	if err != nil {
		t.Fatal(err)
	}
	_, testKey, err := store.IssueAPIKey(ctx, twin, "test", app.AuditEntry{})
	if err != nil {
		t.Fatal(err)
	}

	jar, _ := cookiejar.New(nil)
	browser := proxy.Client()
	browser.Jar, browser.Timeout = jar, 20*time.Second
	browser.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	api := func(method, path, key, body string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(method, proxy.URL+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("x-api-key", key)
		resp, err := proxy.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var v struct {
			Data  map[string]any `json:"data"`
			Error map[string]any `json:"error"`
		}
		json.NewDecoder(resp.Body).Decode(&v)
		if v.Data == nil {
			v.Data = v.Error
		}
		return resp.StatusCode, v.Data
	}
	liveHook, testHook := handlertest.NewReceiver(t, nil), handlertest.NewReceiver(t, nil)
	for key, r := range map[string]*handlertest.Receiver{liveKey: liveHook, testKey: testHook} {
		status, data := api("PUT", "/api/webhooks/endpoint", key, `{"url":"`+r.URL+`"}`)
		secret, _ := data["secret"].(string)
		if status != 200 || secret == "" {
			t.Fatalf("register webhook: %d %v", status, data)
		}
		r.SetSecret(secret)
	}

	// The live key can not reach a sandbox brand.
	if status, data := api("POST", "/users/live-1/link", liveKey, `{"redirect_uri":"`+redirect+`","brand":"sandbox-heatpump"}`); status != 400 || data["code"] != "unknown_brand" {
		t.Errorf("live key naming a sandbox brand: %d %v, want 400 unknown_brand", status, data)
	}
	status, data := api("POST", "/users/live-2/link", liveKey, `{"redirect_uri":"`+redirect+`","language":"en"}`)
	if status != 200 {
		t.Fatalf("live link: %d %v", status, data)
	}
	if got := brandsOffered(t, browser, data["link_url"].(string)); len(got) != 0 {
		t.Errorf("live link in production offers %v, want no sandbox brand (no real brand is configured)", got)
	}

	// The test key: a whole link through a sandbox brand.
	status, data = api("POST", "/users/tm-1/link", testKey, `{"redirect_uri":"`+redirect+`","language":"en"}`)
	if status != 200 {
		t.Fatalf("test link: %d %v", status, data)
	}
	linkURL := data["link_url"].(string)
	if !strings.HasPrefix(linkURL, proxy.URL+"/") {
		t.Fatalf("link_url %q is not on the public URL %s", linkURL, proxy.URL)
	}
	if got := brandsOffered(t, browser, linkURL); !slices.Equal(got, []string{"sandbox-charger", "sandbox-heatpump", "sandbox-thermostat"}) {
		t.Errorf("test link offers %v, want the three sandbox brands", got)
	}
	s := &handlertest.Server{URL: proxy.URL}
	back := s.Walk(t, browser, linkURL, "sandbox-heatpump", "user_good", app.SandboxPassword, "allow")
	if !strings.HasPrefix(back, redirect) || !strings.Contains(back, "connection_status=connected") {
		t.Fatalf("test link ended at %q, want connected at %s", back, redirect)
	}
	testHook.WaitFor(t, "link.connected at the test endpoint", func(ws []handlertest.Webhook) bool {
		return len(handlertest.OfType(ws, app.EventLinkConnected)) == 1
	})
	// Both endpoints are served by the same worker, which has delivered the
	// test event; a delivery to the live endpoint would have to be queued.
	var queued int
	if err := d.Get(&queued, `SELECT count(*) FROM webhook_deliveries w JOIN webhook_endpoints e ON e.id = w.endpoint_id
		WHERE e.supplier_id = 'prod_energy'`); err != nil {
		t.Fatal(err)
	}
	if queued != 0 || len(liveHook.Got()) != 0 {
		t.Errorf("the live endpoint has %d deliveries queued and got %d webhooks, want none", queued, len(liveHook.Got()))
	}
}

// brandsOffered opens a link and returns the brands its page offers.
func brandsOffered(t *testing.T, c *http.Client, linkURL string) []string {
	t.Helper()
	p := handlertest.Get(t, c, linkURL)
	if p.Status != 200 {
		t.Fatalf("open %s: %d\n%.400s", linkURL, p.Status, p.Body)
	}
	var out []string
	for _, n := range handlertest.FindAll(p.Doc, func(n *html.Node) bool {
		return n.Data == "button" && handlertest.Attr(n, "data-brand") != ""
	}) {
		out = append(out, handlertest.Attr(n, "data-brand"))
	}
	return out
}
