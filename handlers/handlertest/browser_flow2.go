package handlertest

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Flow2Browser starts a headless Chromium (/usr/bin/chromium) with a fresh
// profile for the flow-2 browser tests and returns the chromedp context;
// everything it does is bounded by 60 seconds and it is closed when the test
// ends. Without Chromium the test is skipped, except under CI=true.
func Flow2Browser(tb testing.TB) context.Context {
	tb.Helper()
	exe := "/usr/bin/chromium"
	if _, err := os.Stat(exe); err != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("no Chromium at %s", exe)
		}
		tb.Skipf("no Chromium at %s", exe)
	}
	timeout, cancelTimeout := context.WithTimeout(context.Background(), 60*time.Second)
	alloc, cancelAlloc := chromedp.NewExecAllocator(timeout,
		chromedp.ExecPath(exe),
		chromedp.UserDataDir(tb.TempDir()),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1280, 900),
	)
	ctx, cancel := chromedp.NewContext(alloc, chromedp.WithErrorf(func(string, ...any) {}))
	tb.Cleanup(func() { cancel(); cancelAlloc(); cancelTimeout() })
	if err := chromedp.Do(ctx); err != nil {
		tb.Fatalf("start %s: %v", exe, err)
	}
	return ctx
}

// Flow2Screenshot writes the whole current page, rendered width CSS pixels
// wide, as <repo>/test-artifacts/screenshots/name.png.
func Flow2Screenshot(tb testing.TB, ctx context.Context, name string, width int64) {
	tb.Helper()
	err := chromedp.Do(ctx,
		chromedp.EmulateViewport(width, 900),
		chromedp.Poll[chromedp.Void](`document.readyState === "complete"`),
	)
	var png []byte
	if err == nil {
		png, err = chromedp.Run(ctx, chromedp.FullScreenshot(100))
	}
	if err != nil {
		tb.Fatalf("screenshot %s: %v", name, err)
	}
	dir := filepath.Join(RepoRoot(), "test-artifacts", "screenshots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		tb.Fatal(err)
	}
}

// ManufacturerApp is a stand-in for a manufacturer's web app on loopback:
// its /manufacturer/callback page has a heading with id "manufacturer-back".
type ManufacturerApp struct {
	// CallbackURL is http://127.0.0.1:<port>/manufacturer/callback; the
	// sandbox manufacturer allows it because loopback redirect URIs may
	// vary the port.
	CallbackURL string
}

// StartManufacturerApp serves a ManufacturerApp until the test ends.
func StartManufacturerApp(tb testing.TB) ManufacturerApp {
	tb.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/manufacturer/callback" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<!doctype html><html lang="en"><title>Manufacturer</title><h1 id="manufacturer-back">Back at the manufacturer</h1></html>`)
	}))
	tb.Cleanup(srv.Close)
	return ManufacturerApp{CallbackURL: srv.URL + "/manufacturer/callback"}
}
