package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"noxportal/app"
	"noxportal/db"
	"noxportal/db/dbtest"
)

const testEncryptionKey = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="

var buildOnce struct {
	sync.Once
	path string
	err  error
}

// mustBinary builds noxportal once per test run and returns its path.
func mustBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "noxportal-bin-")
		if err != nil {
			buildOnce.err = err
			return
		}
		buildOnce.path = filepath.Join(dir, "noxportal")
		out, err := exec.Command("go", "build", "-o", buildOnce.path, ".").CombinedOutput()
		if err != nil {
			buildOnce.err = &buildError{err, string(out)}
		}
	})
	if buildOnce.err != nil {
		t.Fatalf("build noxportal: %v", buildOnce.err)
	}
	return buildOnce.path
}

type buildError struct {
	err error
	out string
}

func (e *buildError) Error() string { return e.err.Error() + ": " + e.out }

// freeAddr returns a loopback address nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// process is a noxportal binary running as its own process.
type process struct {
	cmd         *exec.Cmd
	URL         string
	MetricsURL  string
	DatabaseURL string
	out         *lockedBuffer
	done        chan error
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// startProcess runs the binary on databaseURL with the shipped config.yaml
// (dev seed off) and env overrides, and waits until /readyz answers 200.
func startProcess(t *testing.T, databaseURL string, env ...string) *process {
	t.Helper()
	addr, metrics := freeAddr(t), freeAddr(t)
	p := &process{URL: "http://" + addr, MetricsURL: "http://" + metrics, DatabaseURL: databaseURL,
		out: &lockedBuffer{}, done: make(chan error, 1)}
	p.cmd = exec.Command(mustBinary(t), "-config", "config.yaml", "serve")
	p.cmd.Env = append(os.Environ(),
		"NOX_ENV=test",
		"NOX_DATABASE_URL="+databaseURL,
		"NOX_SERVER_ADDR="+addr,
		"NOX_SERVER_PUBLIC_URL="+p.URL,
		"NOX_SERVER_METRICS_ADDR="+metrics,
		"NOX_SECURITY_ENCRYPTION_KEY="+testEncryptionKey,
		"NOX_DEV_SEED=false",
		"NOX_SANDBOX_ENABLED=true",
	)
	p.cmd.Env = append(p.cmd.Env, env...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("noxportal output:\n%s", p.out.String())
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(p.URL + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return p
			}
		}
		select {
		case err := <-p.done:
			t.Fatalf("noxportal exited before it was ready: %v\n%s", err, p.out.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("noxportal not ready after 60s:\n%s", p.out.String())
		}
	}
}

// wait returns the process's exit error once it ends (or fails the test
// after d).
func (p *process) wait(t *testing.T, d time.Duration) error {
	t.Helper()
	select {
	case err := <-p.done:
		return err
	case <-time.After(d):
		t.Fatalf("noxportal still running %s after the signal", d)
		return nil
	}
}

// mustSupplierKey creates a supplier with an API key in the process's
// database and returns the key.
func mustSupplierKey(t *testing.T, databaseURL, supplierID string) string {
	t.Helper()
	d, err := db.Open(context.Background(), databaseURL, 2, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	c, _ := app.NewCipher(testEncryptionKey)
	store := db.New(d, c)
	ctx := context.Background()
	if err := store.UpsertSupplier(ctx, app.Supplier{ID: supplierID, Name: "Process Energy",
		RedirectURIs: []string{"https://supplier.example/callback"}}); err != nil {
		t.Fatal(err)
	}
	key, err := store.CreateAPIKey(ctx, app.APIKeyOwner{SupplierID: supplierID}, "test")
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// createLink posts one link creation and returns its status (0 when the
// request got no answer).
func createLink(url, key, user string) (int, string) {
	req, _ := http.NewRequest("POST", url+"/users/"+user+"/link",
		strings.NewReader(`{"redirect_uri":"https://supplier.example/callback","language":"en"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("x-api-key", key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestSIGTERMDoesNotWaitForUnusedConnections opens connections that never
// send a request, as browsers and load balancers do when they connect ahead
// of need, and checks that the shutdown closes them instead of waiting for
// them until server.shutdown_timeout runs out (which exits non-zero).
func TestSIGTERMDoesNotWaitForUnusedConnections(t *testing.T) {
	dbURL := dbtest.MustDatabase(t)
	p := startProcess(t, dbURL, "NOX_SERVER_DRAIN_DELAY=100ms", "NOX_SERVER_SHUTDOWN_TIMEOUT=8s")
	addr := strings.TrimPrefix(p.URL, "http://")
	for i := 0; i < 3; i++ {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	// One keep-alive connection that has served a request and sits idle.
	resp, err := http.Get(p.URL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()

	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := p.wait(t, 20*time.Second); err != nil {
		t.Errorf("exit: %v, want status 0", err)
	}
	if !strings.Contains(p.out.String(), "msg=stopped") {
		t.Errorf("no \"stopped\" line in the output")
	}
}

// TestSIGTERMDrainsFinishesInFlightRequestsAndExitsZero runs the binary,
// keeps clients sending until /readyz turns 503 (as a load balancer would),
// holds one request in flight across the shutdown, and checks that every
// request sent was answered 200 and the process exits 0.
func TestSIGTERMDrainsFinishesInFlightRequestsAndExitsZero(t *testing.T) {
	dbURL := dbtest.MustDatabase(t)
	p := startProcess(t, dbURL, "NOX_SERVER_DRAIN_DELAY=1s", "NOX_SERVER_SHUTDOWN_TIMEOUT=10s")
	key := mustSupplierKey(t, dbURL, "supplier_proc")
	if st, body := createLink(p.URL, key, "slow_user"); st != 200 {
		t.Fatalf("create link: %d %s", st, body)
	}

	// The metrics are served on their own listener, not the public one.
	resp, err := http.Get(p.MetricsURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(metrics), `noxportal_http_requests_total{method="POST",route="/users/:supplier_user_id/link",status="200"} 1`) {
		t.Errorf("metrics listener: %d, want the link creation counted:\n%.2000s", resp.StatusCode, metrics)
	}

	// The slow request reads supplier_mappings, which the test locks.
	d, err := db.Open(context.Background(), dbURL, 2, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	lock, err := d.Begin()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lock.Exec(`LOCK TABLE supplier_mappings IN ACCESS EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	slow := make(chan int, 1)
	go func() {
		req, _ := http.NewRequest("GET", p.URL+"/users/slow_user", nil)
		req.Header.Set("x-api-key", key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			slow <- 0
			return
		}
		resp.Body.Close()
		slow <- resp.StatusCode
	}()

	var mu sync.Mutex
	sent, failed := 0, []string{}
	var stopSending sync.WaitGroup
	draining := make(chan struct{})
	for w := 0; w < 4; w++ {
		stopSending.Add(1)
		go func() {
			defer stopSending.Done()
			for i := 0; ; i++ {
				select {
				case <-draining:
					return
				default:
				}
				st, body := createLink(p.URL, key, "drain_user")
				mu.Lock()
				sent++
				if st != 200 {
					failed = append(failed, body)
				}
				mu.Unlock()
			}
		}()
	}
	time.Sleep(300 * time.Millisecond)
	signalled := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// /readyz turns 503 at once, while requests are still served.
	for {
		resp, err := http.Get(p.URL + "/readyz")
		if err != nil {
			t.Fatalf("/readyz refused during the drain delay: %v", err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusServiceUnavailable {
			break
		}
		if time.Since(signalled) > 500*time.Millisecond {
			t.Fatalf("/readyz still %d 500ms after SIGTERM, want 503", resp.StatusCode)
		}
	}
	close(draining)
	stopSending.Wait()
	// Release the slow request only after the drain delay, while the
	// server is shutting down.
	time.Sleep(time.Until(signalled.Add(1500 * time.Millisecond)))
	if c, err := net.DialTimeout("tcp", strings.TrimPrefix(p.URL, "http://"), time.Second); err == nil {
		c.Close()
		t.Errorf("the listener still accepts connections after the drain delay")
	}
	lock.Rollback()

	if err := p.wait(t, 15*time.Second); err != nil {
		t.Errorf("exit: %v, want status 0", err)
	}
	if st := <-slow; st != 200 {
		t.Errorf("request in flight during shutdown: got %d, want 200", st)
	}
	if sent == 0 || len(failed) > 0 {
		t.Errorf("%d requests sent during the drain, %d not answered 200: %v", sent, len(failed), failed)
	}
	var stopped bool
	for _, line := range strings.Split(p.out.String(), "\n") {
		stopped = stopped || strings.Contains(line, "msg=stopped")
		var rec map[string]any
		_ = json.Unmarshal([]byte(line), &rec)
		stopped = stopped || rec["msg"] == "stopped"
	}
	if !stopped {
		t.Errorf("no \"stopped\" line in the output: every loop should stop before exit")
	}
}
