package handlertest

import (
	"context"
	"fmt"
	"html"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"noxportal/db/dbtest"
)

// BrowserTimeout bounds everything one test does with its browser: when it
// passes, the test's tab is closed and every later action fails. A test
// takes a few seconds on an idle machine; the bound is generous for busy
// ones.
const BrowserTimeout = 2 * time.Minute

// NewBrowser opens a tab for this test in a browser context of its own
// (cookies, storage and cache are the test's alone, as in a fresh profile)
// and returns the chromedp context to run actions with. The tabs of a test
// binary share one headless Chromium, started by the first NewBrowser and
// stopped by CloseBrowser (Main). The browser reaches loopback addresses
// only: a page that requests anything else fails the test, and so does an
// uncaught exception, a console.error or a browser error such as a
// Content-Security-Policy violation. The tab closes after BrowserTimeout,
// and when the test ends.
//
// Without Chromium the test is skipped, except when CI=true, where a
// missing browser fails the test.
func NewBrowser(tb testing.TB) context.Context {
	tb.Helper()
	return newBrowser(tb, false)
}

// NewOwnBrowser is NewBrowser in a Chromium of the test's own, started for
// it and stopped when it ends, its tab in the browser's default context:
// for the tests of Back and Forward, whose history steps timed out now and
// then in a browser context of the shared browser.
func NewOwnBrowser(tb testing.TB) context.Context {
	tb.Helper()
	return newBrowser(tb, true)
}

func newBrowser(tb testing.TB, own bool) context.Context {
	tb.Helper()
	exe, names := findBrowser()
	if exe == "" {
		msg := fmt.Sprintf("no Chromium found (looked for %v in PATH); install it with apt-get install chromium", names)
		if os.Getenv("CI") == "true" {
			tb.Fatal(msg)
		}
		tb.Skip(msg)
	}
	var ctx context.Context
	if own {
		timeout, cancelTimeout := context.WithTimeout(context.Background(), BrowserTimeout)
		alloc, cancelAlloc := chromedp.NewExecAllocator(timeout, browserOptions(exe, tb.TempDir())...)
		tab, cancelTab := chromedp.NewContext(alloc, chromedp.WithErrorf(func(string, ...any) {}))
		tb.Cleanup(func() {
			cancelTab()
			cancelAlloc()
			cancelTimeout()
		})
		if err := chromedp.Do(tab); err != nil {
			tb.Fatalf("start %s: %v", exe, err)
		}
		ctx = tab
	}
	// A browser that died (a crash, or killed by a busy machine) is
	// started again once.
	for attempt := 0; ctx == nil; attempt++ {
		browser, err := sharedBrowser(exe)
		if err != nil {
			tb.Fatalf("start %s: %v", exe, err)
		}
		timeout, cancelTimeout := context.WithTimeout(browser, BrowserTimeout)
		tab, cancelTab := chromedp.NewContext(timeout, chromedp.WithNewBrowserContext())
		if err = chromedp.Do(tab); err == nil {
			tb.Cleanup(func() {
				cancelTab()
				cancelTimeout()
			})
			ctx = tab
			break
		}
		cancelTab()
		cancelTimeout()
		if attempt == 1 {
			tb.Fatalf("open a tab in %s: %v", exe, err)
		}
		closeBrowser(browser)
	}
	w := &pageWatch{}
	err := chromedp.Listen(ctx, w.see)
	if err == nil {
		_, err = chromedp.Call(ctx, network.Enable, network.EnableParams{})
	}
	if err == nil {
		_, err = chromedp.Call(ctx, cdplog.Enable, cdp.Empty{})
	}
	if err == nil {
		_, err = chromedp.Call(ctx, runtime.Enable, cdp.Empty{})
	}
	if err != nil {
		tb.Fatalf("watch the browser's requests and console: %v", err)
	}
	tb.Cleanup(func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		if len(w.outside) > 0 {
			tb.Errorf("the browser requested addresses beyond loopback: %q", w.outside)
		}
		if len(w.problems) > 0 {
			tb.Errorf("the pages reported errors:\n%s", strings.Join(w.problems, "\n"))
		}
	})
	return ctx
}

// browserProc is the Chromium the tests of this binary share.
var browserProc struct {
	mu     sync.Mutex
	ctx    context.Context // its first tab; nil until started
	cancel func()          // stops it and removes its profile
}

// sharedBrowser returns the context of the shared browser, starting it
// when none runs.
func sharedBrowser(exe string) (context.Context, error) {
	browserProc.mu.Lock()
	defer browserProc.mu.Unlock()
	if browserProc.ctx != nil && browserProc.ctx.Err() == nil {
		return browserProc.ctx, nil
	}
	dir, err := os.MkdirTemp("", "noxportal-chromium-")
	if err != nil {
		return nil, err
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), browserOptions(exe, dir)...)
	ctx, cancel := chromedp.NewContext(alloc, chromedp.WithErrorf(func(string, ...any) {}))
	stop := func() {
		cancel()
		cancelAlloc()
		os.RemoveAll(dir)
	}
	if err := chromedp.Do(ctx); err != nil {
		stop()
		return nil, err
	}
	browserProc.ctx, browserProc.cancel = ctx, stop
	return ctx, nil
}

// browserOptions are the flags of a test Chromium with its profile in dir.
func browserOptions(exe, dir string) []chromedp.ExecAllocatorOption {
	return []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe),
		chromedp.UserDataDir(dir),
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
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-features", "Translate,OptimizationHints,MediaRouter"),
		chromedp.Flag("no-proxy-server", true),
		// Any host name fails to resolve, so a page that reaches beyond
		// loopback breaks the test instead of waiting on the network.
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost"),
		chromedp.Flag("lang", "en-US"),
		chromedp.WindowSize(1280, 900),
	}
}

// closeBrowser stops the shared browser if ctx is still it.
func closeBrowser(ctx context.Context) {
	browserProc.mu.Lock()
	defer browserProc.mu.Unlock()
	if browserProc.ctx == ctx && browserProc.cancel != nil {
		browserProc.cancel()
		browserProc.ctx, browserProc.cancel = nil, nil
	}
}

// CloseBrowser stops the shared browser, if one runs, and removes its
// profile. Main calls it once the tests have run.
func CloseBrowser() {
	browserProc.mu.Lock()
	ctx := browserProc.ctx
	browserProc.mu.Unlock()
	if ctx != nil {
		closeBrowser(ctx)
	}
}

// Main runs the tests of a package that uses this package: test databases
// are dropped in the background (dbtest.Main), and the shared browser is
// stopped at the end. func TestMain(m *testing.M) { os.Exit(handlertest.Main(m)) }.
func Main(m *testing.M) int {
	defer CloseBrowser()
	return dbtest.Main(m)
}

// pageWatch collects what a test must not see: requests beyond loopback,
// uncaught exceptions, console.error calls and browser errors such as CSP
// violations. HTTP error statuses are left to the tests' own assertions.
type pageWatch struct {
	mu       sync.Mutex
	outside  []string
	problems []string
}

func (w *pageWatch) see(ev any) {
	var problem string
	switch e := ev.(type) {
	case *network.EventRequestWillBeSent:
		if e.Request != nil && !isLoopbackURL(e.Request.URL) {
			w.mu.Lock()
			w.outside = append(w.outside, e.Request.URL)
			w.mu.Unlock()
		}
		return
	case *runtime.EventExceptionThrown:
		if d := e.ExceptionDetails; d != nil {
			problem = "exception: " + d.Text
			if d.Exception != nil {
				problem += " " + d.Exception.Description
			}
			problem += fmt.Sprintf(" at %s:%d", d.URL, d.LineNumber+1)
		}
	case *runtime.EventConsoleAPICalled:
		if e.Type == runtime.ConsoleAPICalledTypeError {
			var parts []string
			for _, a := range e.Args {
				if a.Description != "" {
					parts = append(parts, a.Description)
				} else {
					parts = append(parts, string(a.Value))
				}
			}
			problem = "console.error: " + strings.Join(parts, " ")
		}
	case *cdplog.EventEntryAdded:
		if l := e.Entry; l != nil && l.Level == cdplog.EntryLevelError && l.Source != cdplog.EntrySourceNetwork {
			problem = fmt.Sprintf("%s: %s (%s)", l.Source, l.Text, l.URL)
		}
	}
	if problem != "" {
		w.mu.Lock()
		w.problems = append(w.problems, problem)
		w.mu.Unlock()
	}
}

func isLoopbackURL(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil {
		return false
	}
	switch u.Scheme {
	case "data", "blob", "about":
		return true
	case "http", "https", "ws", "wss":
		ip := net.ParseIP(u.Hostname())
		return u.Hostname() == "localhost" || (ip != nil && ip.IsLoopback())
	}
	return false
}

// findBrowser returns the path of the first of the names under which
// Debian, Ubuntu and Google ship the browser that is in PATH, or "".
func findBrowser() (path string, names []string) {
	names = []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"}
	for _, name := range names {
		if p, err := exec.LookPath(name); err == nil {
			return p, names
		}
	}
	return "", names
}

// ScreenshotDir is where Screenshot writes its files.
func ScreenshotDir() string { return filepath.Join(RepoRoot(), "test-artifacts", "screenshots") }

// Screenshot renders the current page at width×height CSS pixels and writes
// the whole page (not only the viewport) as ScreenshotDir()/name.png. It
// leaves the viewport at that size (the next click resets it) and returns
// the file's path.
func Screenshot(tb testing.TB, ctx context.Context, name string, width, height int64) string {
	tb.Helper()
	err := chromedp.Do(ctx,
		chromedp.EmulateViewport(width, height),
		chromedp.Poll[chromedp.Void](`document.readyState === "complete"`),
	)
	var png []byte
	if err == nil {
		png, err = chromedp.Run(ctx, chromedp.FullScreenshot(100))
	}
	if err != nil {
		tb.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.MkdirAll(ScreenshotDir(), 0o755); err != nil {
		tb.Fatal(err)
	}
	path := filepath.Join(ScreenshotDir(), name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		tb.Fatal(err)
	}
	return path
}

// SupplierSite is a stand-in for a supplier's web site on loopback: its
// /callback page has a heading with id "supplier-callback" and lists the
// query parameters it received.
type SupplierSite struct {
	// CallbackURL is http://127.0.0.1:<port>/callback; the test supplier
	// allows it because loopback redirect URIs may vary the port.
	CallbackURL string
}

// StartSupplierSite serves a SupplierSite until the test ends.
func StartSupplierSite(tb testing.TB) SupplierSite {
	tb.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/callback" {
			http.NotFound(w, r)
			return
		}
		q := r.URL.Query()
		keys := make([]string, 0, len(q))
		for k := range q {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, "<!doctype html><html lang=en><title>Supplier</title><h1 id=supplier-callback>Back at the supplier</h1><dl id=query>")
		for _, k := range keys {
			fmt.Fprintf(w, "<dt>%s</dt><dd>%s</dd>", html.EscapeString(k), html.EscapeString(q.Get(k)))
		}
		fmt.Fprint(w, "</dl></html>")
	}))
	tb.Cleanup(srv.Close)
	return SupplierSite{CallbackURL: srv.URL + "/callback"}
}
