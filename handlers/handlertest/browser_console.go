package handlertest

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// ConsoleBrowser is a headless Chromium tab for whole-flow browser tests.
// Tabs made with NewTab have their own cookies (a separate browser context),
// so an agent and a customer can act side by side.
type ConsoleBrowser struct {
	tb  testing.TB
	ctx context.Context
}

// NewConsoleBrowser starts Chromium with NewBrowser (so the first tab
// fails the test on CSP violations, console errors and requests beyond
// loopback) and returns that tab.
func NewConsoleBrowser(tb testing.TB) *ConsoleBrowser {
	tb.Helper()
	b := &ConsoleBrowser{tb: tb, ctx: NewBrowser(tb)}
	b.start()
	return b
}

// NewOwnConsoleBrowser is NewConsoleBrowser in a Chromium of the test's own
// (NewOwnBrowser), for tests that go Back and Forward.
func NewOwnConsoleBrowser(tb testing.TB) *ConsoleBrowser {
	tb.Helper()
	b := &ConsoleBrowser{tb: tb, ctx: NewOwnBrowser(tb)}
	b.start()
	return b
}

// NewTab opens a tab in a fresh browser context (no shared cookies).
func (b *ConsoleBrowser) NewTab() *ConsoleBrowser {
	b.tb.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithNewBrowserContext())
	b.tb.Cleanup(cancel)
	t := &ConsoleBrowser{tb: b.tb, ctx: ctx}
	t.start()
	return t
}

// start runs the first action on the tab's own context: the browser (or
// tab) lives as long as the context of its first run.
func (b *ConsoleBrowser) start() {
	b.tb.Helper()
	if err := chromedp.Do(b.ctx, chromedp.EmulateViewport(1360, 900)); err != nil {
		b.tb.Fatalf("start browser: %v", err)
	}
}

// stepTimeout bounds one Do call; generous because the test machine may be
// shared and busy.
const stepTimeout = 45 * time.Second

// Do runs steps, failing the test on the first error (each call has stepTimeout).
func (b *ConsoleBrowser) Do(steps ...chromedp.Action[chromedp.Void]) {
	b.tb.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		loc, _ := chromedp.Run(b.ctx, chromedp.Location())
		b.Screenshot("failure")
		b.tb.Fatalf("browser at %s: %v", loc, err)
	}
}

// Value returns the value of the first element matching the CSS selector.
func (b *ConsoleBrowser) Value(css string) string {
	b.tb.Helper()
	return b.run(chromedp.Value(chromedp.CSS(css)))
}

// Text returns the visible text of the first element matching the CSS selector.
func (b *ConsoleBrowser) Text(css string) string {
	b.tb.Helper()
	return b.run(chromedp.Text(chromedp.CSS(css)))
}

// Location returns the tab's URL.
func (b *ConsoleBrowser) Location() string {
	b.tb.Helper()
	return b.run(chromedp.Location())
}

func (b *ConsoleBrowser) run(a chromedp.Action[string]) string {
	b.tb.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		b.tb.Fatalf("browser: %v", err)
	}
	return v
}

// Screenshot saves a full-page PNG as test-artifacts/screenshots/{name}.png
// in the repository.
func (b *ConsoleBrowser) Screenshot(name string) {
	b.tb.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 45*time.Second)
	defer cancel()
	// A full-page capture of a scrolled page would paint the sticky header mid-page.
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool]("window.scrollTo(0, 0), true")); err != nil {
		b.tb.Logf("screenshot %s: %v", name, err)
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.tb.Logf("screenshot %s: %v", name, err)
		return
	}
	dir := filepath.Join(RepoRoot(), "test-artifacts", "screenshots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.tb.Logf("screenshot %s: %v", name, err)
		return
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		b.tb.Logf("screenshot %s: %v", name, err)
	}
}

// WaitURL waits until the tab's URL contains part (navigations included)
// and returns it.
func (b *ConsoleBrowser) WaitURL(part string) string {
	b.tb.Helper()
	var loc string
	for i := 0; i < 200; i++ {
		ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
		loc, _ = chromedp.Run(ctx, chromedp.Location())
		cancel()
		if strings.Contains(loc, part) {
			return loc
		}
		time.Sleep(100 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	body, _ := chromedp.Run(ctx, chromedp.Evaluate[string]("document.body ? document.body.innerText : ''"))
	b.tb.Fatalf("browser: URL is %q, want it to contain %q; page says: %.500s", loc, part, body)
	return loc
}

// Resize sets the tab's viewport to width×900 CSS pixels (375 for a phone).
func (b *ConsoleBrowser) Resize(width int64) {
	b.tb.Helper()
	b.Do(chromedp.EmulateViewport(width, 900))
}

// WantNoOverflow fails the test when the current page is wider than its
// viewport (something sticks out and the page scrolls sideways).
func (b *ConsoleBrowser) WantNoOverflow() {
	b.tb.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	res, err := chromedp.Run(ctx, chromedp.Evaluate[[]any](`(() => {
		const w = document.documentElement.clientWidth, sw = document.documentElement.scrollWidth;
		const wide = sw <= w ? [] : [...document.querySelectorAll("body *")]
			.filter(e => e.getBoundingClientRect().right > w + 1 && getComputedStyle(e).position !== "fixed")
			.filter(e => !e.closest(".table-wrap, .table-scroll"))
			.slice(0, 5).map(e => e.tagName.toLowerCase() + (e.className ? "." + String(e.className).split(" ").join(".") : ""));
		return [w, sw, wide.join(", ")];
	})()`))
	if err != nil {
		b.tb.Fatalf("measure page width: %v", err)
	}
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	if len(res) == 3 && res[1].(float64) > res[0].(float64) {
		b.Screenshot("overflow")
		b.tb.Errorf("%s: page is %v px wide in a %v px viewport (widest: %v)", loc, res[1], res[0], res[2])
	}
}

// SetTimeZone makes the tab's browser report zone (an IANA name) as its
// time zone, as a browser in that zone would.
func (b *ConsoleBrowser) SetTimeZone(zone string) {
	b.tb.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	if _, err := chromedp.Call(ctx, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: zone}); err != nil {
		b.tb.Fatalf("browser time zone %s: %v", zone, err)
	}
}

// Eval returns the string value of the JavaScript expression js.
func (b *ConsoleBrowser) Eval(js string) string {
	b.tb.Helper()
	return b.run(chromedp.Evaluate[string](js))
}

// Fetch returns the body of a GET of url made by the page (with its
// cookies), as a download link would fetch it.
func (b *ConsoleBrowser) Fetch(url string) string {
	b.tb.Helper()
	return b.run(chromedp.Evaluate[string](`fetch(`+strconv.Quote(url)+`).then(r => r.text())`, chromedp.EvalAwaitPromise))
}
