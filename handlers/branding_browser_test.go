package handlers_test

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	cdp "github.com/chromedp/chromedp"

	"noxportal/app"
	"noxportal/handlers/handlertest"
)

// writeLogo writes a w×h PNG to dir and returns its path.
func writeLogo(t *testing.T, dir string, w, h int) string {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for x := 0; x < w; x++ {
		for y := 0; y < h; y++ {
			img.Set(x, y, color.RGBA{R: 200, G: uint8(x), B: 40, A: 255})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "logo.png")
	if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// An admin gives a supplier a logo and a light accent colour; a file that
// only claims to be a PNG is refused and changes nothing. The supplier's
// link then shows its logo (served as image/png) and its accent on the
// buttons with text that keeps a readable contrast — on a laptop and on a
// phone.
func TestBrowserSupplierCoBrandingOnHostedPages(t *testing.T) {
	eachWidth(t, func(t *testing.T, s *handlertest.Server, width int64) {
		dir := t.TempDir()
		logo := writeLogo(t, dir, 120, 40)
		fake := filepath.Join(dir, "fake.png")
		if err := os.WriteFile(fake, []byte("<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>"), 0o644); err != nil {
			t.Fatal(err)
		}
		b := consoleAt(t, width)
		signInAs(t, s, b, "admin@brand.test", app.RoleAdmin)
		page := s.URL + "/admin/suppliers/" + s.SupplierID
		b.Do(cdp.Navigate(page), cdp.WaitVisible(cdp.CSS(`#branding`)),
			cdp.SetUploadFiles(cdp.CSS(`#logo`), []string{fake}), cdp.Click(cdp.CSS(`button[data-action="save-branding"]`)),
			cdp.WaitVisible(cdp.CSS(`.alert-error`)))
		if got := b.Text(`.alert-error`); !strings.Contains(got, "PNG or JPEG") {
			t.Errorf("fake logo: got %q, want it refused as not PNG or JPEG", got)
		}
		var n int
		if err := s.Store.DB().GetContext(context.Background(), &n, `SELECT count(*) FROM supplier_branding`); err != nil || n != 0 {
			t.Errorf("after the refused upload: %d branding rows (%v), want none", n, err)
		}
		b.WantNoOverflow()

		// A pale yellow: white text on it would be unreadable.
		b.Do(cdp.Navigate(page), cdp.WaitVisible(cdp.CSS(`#branding`)),
			cdp.SetValue(cdp.CSS(`#accent`), "#F5D547"), cdp.SetUploadFiles(cdp.CSS(`#logo`), []string{logo}),
			cdp.Click(cdp.CSS(`button[data-action="save-branding"]`)), cdp.WaitVisible(cdp.CSS(`[data-contrast]`)))
		if got := b.Text(`[data-contrast]`); !strings.Contains(got, "Button text: #000000") || !strings.Contains(got, "darkened") {
			t.Errorf("contrast check: got %q, want black button text and a darkened link colour", got)
		}
		b.WantNoOverflow()
		b.Screenshot("admin-branding-" + strconv.FormatInt(width, 10))

		linkURL, _ := browserLink(t, s, handlertest.StartSupplierSite(t), "cobrand-"+strconv.FormatInt(width, 10), "en")
		user := consoleAt(t, width)
		user.Do(cdp.Navigate(linkURL), cdp.WaitVisible(cdp.CSS(`img[data-cobrand-logo]`)),
			cdp.Poll[cdp.Void](`document.querySelector("img[data-cobrand-logo]").naturalWidth === 120`))
		if alt := user.Eval(`document.querySelector("img[data-cobrand-logo]").alt`); alt != "Test Energy" {
			t.Errorf("logo alt %q, want the supplier's name", alt)
		}
		res, err := http.Get(user.Eval(`document.querySelector("img[data-cobrand-logo]").src`))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if ct, nosniff := res.Header.Get("Content-Type"), res.Header.Get("X-Content-Type-Options"); ct != "image/png" || nosniff != "nosniff" {
			t.Errorf("logo served as %q (nosniff %q), want image/png, nosniff", ct, nosniff)
		}
		got := user.Eval(`(() => { const s = getComputedStyle(document.querySelector(".flow-steps .is-current .step-n")); return s.backgroundColor + "|" + s.color; })()`)
		if got != "rgb(245, 213, 71)|rgb(0, 0, 0)" {
			t.Errorf("current step colours %q, want the accent with black text", got)
		}
		user.WantNoOverflow()
		user.Screenshot("flow-cobranded-" + strconv.FormatInt(width, 10))

		// The user picks a brand (the link is now this browser's); the
		// same link opened in another browser says it is in use, in
		// the supplier's colours too.
		user.Do(cdp.Click(cdp.CSS(`button[data-brand="sandbox-heatpump"]`)), cdp.WaitVisible(cdp.CSS(`#username`)))
		other := user.NewTab()
		other.Resize(width)
		other.Do(cdp.Navigate(linkURL), cdp.WaitVisible(cdp.CSS(`form[action="/connect/takeover"]`)),
			cdp.WaitVisible(cdp.CSS(`img[data-cobrand-logo]`)),
			cdp.Poll[cdp.Void](`document.querySelector("img[data-cobrand-logo]").naturalWidth === 120`))
		got = other.Eval(`(() => { const s = getComputedStyle(document.querySelector('form[action="/connect/takeover"] button')); return s.backgroundColor + "|" + s.color; })()`)
		if got != "rgb(245, 213, 71)|rgb(0, 0, 0)" {
			t.Errorf("in-use page button colours %q, want the accent with black text", got)
		}
		other.WantNoOverflow()
		other.Screenshot("flow-in-use-cobranded-" + strconv.FormatInt(width, 10))
	})
}
