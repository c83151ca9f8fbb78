package handlertest

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
)

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
