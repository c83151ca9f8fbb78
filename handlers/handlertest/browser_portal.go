package handlertest

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// portalBrowserPath is where the test machines have Chromium.
const portalBrowserPath = "/usr/bin/chromium"

// StartPortalBrowser starts a headless Chromium with a fresh profile for
// this test and returns the chromedp context to run actions with; it is
// closed when the test ends and everything fails after timeout. Without
// Chromium the test is skipped (failed when CI=true).
func StartPortalBrowser(tb testing.TB, timeout time.Duration) context.Context {
	tb.Helper()
	if _, err := os.Stat(portalBrowserPath); err != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("no Chromium at %s", portalBrowserPath)
		}
		tb.Skipf("no Chromium at %s", portalBrowserPath)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(portalBrowserPath),
		chromedp.UserDataDir(tb.TempDir()),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("lang", "en-US"),
		chromedp.WindowSize(1280, 900),
	}
	tctx, cancelTimeout := context.WithTimeout(context.Background(), timeout)
	alloc, cancelAlloc := chromedp.NewExecAllocator(tctx, opts...)
	ctx, cancel := chromedp.NewContext(alloc)
	tb.Cleanup(func() { cancel(); cancelAlloc(); cancelTimeout() })
	if err := chromedp.Do(ctx); err != nil {
		tb.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// PortalScreenshot writes a full-page PNG of the current page, rendered at
// width CSS pixels, to test-artifacts/screenshots/{name}.png (git-ignored)
// and returns its path. The viewport is left at that width.
func PortalScreenshot(tb testing.TB, ctx context.Context, name string, width int64) string {
	tb.Helper()
	dir := filepath.Join(RepoRoot(), "test-artifacts", "screenshots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(width, 800)); err != nil {
		tb.Fatalf("viewport %d: %v", width, err)
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		tb.Fatalf("screenshot %s: %v", name, err)
	}
	path := filepath.Join(dir, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		tb.Fatal(err)
	}
	return path
}
