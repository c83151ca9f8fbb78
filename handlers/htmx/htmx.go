// Package htmx names the HTMX request and response headers.
package htmx

// Request headers sent by htmx.
const (
	HeaderRequest        = "HX-Request"
	HeaderBoosted        = "HX-Boosted"
	HeaderHistoryRestore = "HX-History-Restore-Request"
	HeaderTarget         = "HX-Target"
	HeaderTrigger        = "HX-Trigger"
	HeaderCurrentURL     = "HX-Current-URL"
)

// Response headers htmx acts on.
const (
	HeaderRedirect = "HX-Redirect"
	HeaderPushURL  = "HX-Push-Url"
	HeaderRefresh  = "HX-Refresh"
	HeaderRetarget = "HX-Retarget"
	HeaderReswap   = "HX-Reswap"
)
