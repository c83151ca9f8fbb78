package handlers_test

import (
	"context"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"

	"noxportal/handlers/handlertest"
	"noxportal/static"
)

// documentedSRI returns the integrity value docs/nox-link.md gives for
// /static/nox-link.js, failing the test when it is not the file's hash.
func documentedSRI(t *testing.T) string {
	t.Helper()
	doc, err := os.ReadFile(filepath.Join(handlertest.RepoRoot(), "docs", "nox-link.md"))
	if err != nil {
		t.Fatal(err)
	}
	js, err := static.FS.ReadFile("nox-link.js")
	if err != nil {
		t.Fatal(err)
	}
	sum := sha512.Sum384(js)
	want := "sha384-" + base64.StdEncoding.EncodeToString(sum[:])
	got := regexp.MustCompile(`sha384-[A-Za-z0-9+/=]+`).FindString(string(doc))
	if got != want {
		t.Fatalf("docs/nox-link.md gives integrity %q; /static/nox-link.js hashes to %q", got, want)
	}
	return got
}

// demoSupplier serves the docs' demo supplier page (docs/nox-link-demo) on
// its own loopback origin, loading nox-link.js from the NOX server s with
// the documented SRI hash, plus /callback (its redirect URI) and, on a
// third origin, a page that posts a forged result to its parent.
type demoSupplier struct {
	URL, CallbackURL, ForgeURL string
}

func startDemoSupplier(t *testing.T, s *handlertest.Server) demoSupplier {
	t.Helper()
	sri := documentedSRI(t)
	dir := filepath.Join(handlertest.RepoRoot(), "docs", "nox-link-demo")
	page, err := os.ReadFile(filepath.Join(dir, "index.html"))
	if err != nil {
		t.Fatal(err)
	}
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/":
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprint(w, strings.NewReplacer("NOX_ORIGIN", s.URL, "NOX_LINK_SRI", sri,
				"LINK_URL", html.EscapeString(r.URL.Query().Get("link"))).Replace(string(page)))
		case "/demo.js":
			http.ServeFile(w, r, filepath.Join(dir, "demo.js"))
		case "/callback":
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			b, _ := json.Marshal(r.URL.Query())
			fmt.Fprintf(w, "<!doctype html><title>Supplier</title><h1 id=supplier-callback>Back</h1><pre id=query>%s</pre>", html.EscapeString(string(b)))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(site.Close)
	forge := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<!doctype html><title>Forged</title><p id=forged>sent</p><script>`+
			`parent.postMessage({type:"nox-link:result",connection_status:"connected",nox_user_id:"nox_forged"},"*")</script>`)
	}))
	t.Cleanup(forge.Close)
	return demoSupplier{URL: site.URL, CallbackURL: site.URL + "/callback", ForgeURL: forge.URL + "/"}
}

func (d demoSupplier) open(t *testing.T, s *handlertest.Server, ctx context.Context, supplierUserID string) string {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"redirect_uri": d.CallbackURL})
	r := s.API(t, "POST", "/users/"+supplierUserID+"/link", s.APIKey, string(body))
	if r.Status != 200 {
		t.Fatalf("create link: %d %s", r.Status, r.Raw)
	}
	linkURL := r.Data()["link_url"].(string)
	browserDo(t, ctx, "open the demo supplier page",
		chromedp.Navigate(d.URL+"/?link="+url.QueryEscape(linkURL)),
		chromedp.Poll[chromedp.Void](`typeof NoxLink === "object" && NoxLink.version === "1.0.0"`))
	return linkURL
}

// openPopup clicks the demo's button and returns a context on the popup.
func openPopup(t *testing.T, ctx context.Context) context.Context {
	t.Helper()
	// The browser is shared by tests running in parallel: take only the
	// page this tab opened, not another test's new tab.
	opener := chromedp.FromContext(ctx).Target.TargetID
	ch := chromedp.WaitNewTarget(ctx, func(i *target.Info) bool { return i.Type == "page" && i.OpenerID == opener })
	browserDo(t, ctx, "click connect", chromedp.Click(chromedp.ID("connect"), chromedp.NodeVisible))
	select {
	case id, ok := <-ch:
		if !ok {
			t.Fatal("no popup target")
		}
		pctx, cancel := chromedp.NewContext(ctx, chromedp.WithTargetID(id))
		t.Cleanup(cancel)
		browserDo(t, pctx, "popup shows the brands", chromedp.WaitVisible(chromedp.ID("brand-q")))
		return pctx
	case <-time.After(30 * time.Second):
		t.Fatal("the popup did not open")
	}
	return nil
}

// outcome waits for the demo page's callback and returns it with the result.
func outcome(t *testing.T, ctx context.Context, want string) map[string]string {
	t.Helper()
	browserDo(t, ctx, "wait for "+want, chromedp.WaitVisible(chromedp.CSS(`#status[data-outcome="`+want+`"]`)))
	raw, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("result")))
	if err != nil {
		t.Fatal(err)
	}
	var r map[string]string
	if err := json.Unmarshal([]byte(raw), &r); err != nil {
		t.Fatalf("result %q: %v", raw, err)
	}
	if strings.Contains(raw, "token") {
		t.Errorf("the result carries a token: %s", raw)
	}
	return r
}

// TestBrowserNoxLinkPopupSucceeds: the docs' demo page opens the flow in a
// popup; the user connects there, the popup posts the redirect's fields to
// the page and closes, and onSuccess gets them — while a forged message
// from another origin is ignored.
func TestBrowserNoxLinkPopupSucceeds(t *testing.T) {
	t.Parallel()
	s := handlertest.Start(t)
	d := startDemoSupplier(t, s)
	ctx := handlertest.NewBrowser(t)
	d.open(t, s, ctx, "popup-1")
	pctx := openPopup(t, ctx)

	// A message from a wrong origin while the popup is open is ignored.
	browserDo(t, ctx, "forged message from another origin",
		chromedp.Evaluate[chromedp.Void](`(() => { const f = document.createElement("iframe"); `+
			`f.onload = () => { window.forgeLoaded = true; }; f.src = `+fmt.Sprintf("%q", d.ForgeURL)+`; document.body.appendChild(f); })()`),
		chromedp.Poll[chromedp.Void](`window.forgeLoaded === true`),
	)
	time.Sleep(300 * time.Millisecond)
	if got, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("status").getAttribute("data-outcome") || ""`)); got != "" {
		t.Fatalf("a message from another origin was taken: outcome %q", got)
	}

	browserSignIn(t, pctx, "sandbox-heatpump", "user_good", "pass_good")
	browserDo(t, pctx, "allow", chromedp.Click(chromedp.CSS(`button[name="decision"][value="allow"]`), chromedp.NodeVisible))
	r := outcome(t, ctx, "success")
	if r["connection_status"] != "connected" || r["supplier_user_id"] != "popup-1" || r["manufacturer"] != "sandbox-heatpump" ||
		!strings.HasPrefix(r["nox_user_id"], "nox_") || r["connected_at"] == "" {
		t.Errorf("success result: %v", r)
	}
	if r["nox_user_id"] == "nox_forged" {
		t.Error("the forged result reached onSuccess")
	}
	u, err := s.Store.SupplierUser(context.Background(), s.SupplierID, "popup-1")
	if err != nil || u.NoxUserID == nil || *u.NoxUserID != r["nox_user_id"] {
		t.Errorf("stored user %+v (%v), result %v", u, err, r)
	}
	if loc, _ := chromedp.Run(ctx, chromedp.Location()); !strings.HasPrefix(loc, d.URL+"/?") {
		t.Errorf("the supplier page navigated to %s", loc)
	}
}

// TestBrowserNoxLinkPopupExit: cancelling in the popup ends in onExit with
// the redirect's failure fields; closing the popup also ends in onExit.
func TestBrowserNoxLinkPopupExit(t *testing.T) {
	t.Parallel()
	s := handlertest.Start(t)
	d := startDemoSupplier(t, s)
	ctx := handlertest.NewBrowser(t)
	d.open(t, s, ctx, "popup-2")
	pctx := openPopup(t, ctx)
	browserDo(t, pctx, "cancel", chromedp.Click(chromedp.CSS(`form[action="/connect/cancel"] button`), chromedp.NodeVisible))
	r := outcome(t, ctx, "exit")
	if r["connection_status"] != "failed" || r["error"] != "cancelled" || r["supplier_user_id"] != "popup-2" {
		t.Errorf("exit result: %v", r)
	}

	d.open(t, s, ctx, "popup-3")
	pctx = openPopup(t, ctx)
	browserDo(t, pctx, "close the popup", chromedp.Evaluate[chromedp.Void](`window.close()`))
	if r := outcome(t, ctx, "exit"); r["error"] != "closed" {
		t.Errorf("closed popup result: %v", r)
	}
}

// TestBrowserNoxLinkFallsBackToRedirectWhenThePopupIsBlocked: with the
// popup refused, the page goes to the link itself and the flow ends on the
// supplier's redirect URI exactly as without the script.
func TestBrowserNoxLinkFallsBackToRedirectWhenThePopupIsBlocked(t *testing.T) {
	t.Parallel()
	s := handlertest.Start(t)
	d := startDemoSupplier(t, s)
	ctx := handlertest.NewBrowser(t)
	d.open(t, s, ctx, "popup-4")
	browserDo(t, ctx, "block popups",
		chromedp.Evaluate[chromedp.Void](`window.open = function () { return null; }`),
		chromedp.Click(chromedp.ID("connect"), chromedp.NodeVisible),
		chromedp.WaitVisible(chromedp.ID("brand-q")))
	browserSignIn(t, ctx, "sandbox-heatpump", "user_good", "pass_good")
	browserDo(t, ctx, "allow",
		chromedp.Click(chromedp.CSS(`button[name="decision"][value="allow"]`), chromedp.NodeVisible),
		chromedp.WaitVisible(chromedp.ID("supplier-callback")))
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	u, err := url.Parse(loc)
	if err != nil || !strings.HasPrefix(loc, d.CallbackURL+"?") {
		t.Fatalf("ended on %s", loc)
	}
	q := u.Query()
	if q.Get("connection_status") != "connected" || q.Get("supplier_user_id") != "popup-4" || q.Get("nox_user_id") == "" {
		t.Errorf("redirect query %s", q.Encode())
	}
}
