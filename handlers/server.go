// Package handlers is the only place with Fiber: routes, middleware and the
// handler of every page and API call.
package handlers

import (
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/helmet"
	"github.com/gofiber/fiber/v2/middleware/recover"
	"github.com/gofiber/fiber/v2/middleware/requestid"

	"noxportal/app"
	"noxportal/db"
	"noxportal/metric"
	"noxportal/static"
)

// Handler holds what the handlers use; main builds it.
type Handler struct {
	cfg           app.Config
	store         *db.Store
	reads         *db.Reads
	manufacturers *app.Manufacturers
	// links runs the steps of the hosted link flows.
	links         *app.LinkFlow
	tr            *app.Translator
	signer        *app.Signer
	tokens        *app.SessionTokens
	log           *slog.Logger
	secureCookies bool
	// client makes the sandbox supplier's server-side calls to NOX.
	client *http.Client
	// reportLoc is the report time zone (reports.timezone).
	reportLoc *time.Location
	// supplierRoutes are the route patterns of the supplier API, the
	// request log's route filter.
	supplierRoutes []string
	// zones caches the customer time zones browsers reported, by name.
	zones sync.Map
	// brandings caches suppliers' co-branding for brandingTTL, by id.
	brandings sync.Map
	// shells keeps the rendered pages of opened links (page_shells.go).
	shells pageShells
	// draining reports whether the server is shutting down (nil: never).
	draining func() bool
	// now is the clock of every date a page shows or filters on.
	now     func() time.Time
	metrics *metric.Metrics
}

// Deps are the dependencies of New.
type Deps struct {
	Config app.Config
	Store  *db.Store
	// Reads routes the reads that may lag to a replica; nil: all on Store.
	Reads         *db.Reads
	Manufacturers *app.Manufacturers
	Translator    *app.Translator
	Signer        *app.Signer
	Logger        *slog.Logger
	// Draining reports whether shutdown has begun: /readyz then answers 503.
	Draining func() bool
	// Now is the clock the pages read "today" and ages from; nil is
	// time.Now. Tests set it to run on any date.
	Now func() time.Time
	// Metrics counts requests, sessions, manufacturer calls and refusals
	// (nil: counted nowhere anyone reads).
	Metrics *metric.Metrics
}

// BodyLimit is the largest request body accepted (413 beyond).
const BodyLimit = 64 * 1024

// New builds the Fiber app with every route.
func New(d Deps) *fiber.App {
	h := &Handler{
		cfg:           d.Config,
		store:         d.Store,
		reads:         d.Reads,
		manufacturers: d.Manufacturers,
		tr:            d.Translator,
		signer:        d.Signer,
		log:           slog.New(app.ContextHandler(d.Logger.Handler())),
		draining:      d.Draining,
		metrics:       d.Metrics,
		secureCookies: strings.HasPrefix(d.Config.Server.PublicURL, "https://"),
		client:        &http.Client{Timeout: 10 * time.Second},
		tokens:        app.NewSessionTokens(d.Signer.Key(), strings.TrimRight(d.Config.Server.PublicURL, "/")),
		now:           d.Now,
	}
	if h.now == nil {
		h.now = time.Now
	}
	h.links = &app.LinkFlow{Store: d.Store, OAuth: d.Manufacturers, Config: d.Config, Log: h.log}
	if h.metrics == nil {
		h.metrics = metric.New()
	}
	if h.reads == nil {
		h.reads = db.NewReads(d.Store, nil, 0)
	}
	// Config validation has already refused an unknown time zone.
	h.reportLoc, _ = app.ReportTimezone(d.Config.Reports.Timezone)
	if h.reportLoc == nil {
		h.reportLoc = time.UTC
	}
	viewSet, err := newPageEngine(d.Config.Views.Reload, h.templateFuncs())
	if err != nil {
		panic(err)
	}
	fapp := fiber.New(fiber.Config{
		AppName:      "noxportal",
		Views:        viewSet,
		ErrorHandler: h.handleError,
		BodyLimit:    BodyLimit,
		// A hosted-flow page (5–8 KB with its headers) leaves in one write;
		// with fasthttp's default 4 KB buffer it took two or three.
		WriteBufferSize:       16 << 10,
		ReadTimeout:           15 * time.Second,
		WriteTimeout:          30 * time.Second,
		IdleTimeout:           60 * time.Second,
		DisableStartupMessage: true,
		ProxyHeader:           proxyHeader(d.Config.Server.TrustProxy),
		// Values from the context outlive some handlers (logging, goroutines).
		Immutable: true,
	})
	fapp.Use(recover.New(recover.Config{EnableStackTrace: true, StackTraceHandler: h.logPanic}))
	fapp.Use(requestid.New())
	fapp.Use(h.boundRequest)
	fapp.Use(h.logRequests)
	if d.Config.Log.APIRequests {
		fapp.Use(h.recordAPIRequests)
	}
	fapp.Use(helmet.New(helmet.Config{
		ContentSecurityPolicy: "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
			"connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
		XFrameOptions:             "DENY",
		ReferrerPolicy:            "same-origin",
		CrossOriginEmbedderPolicy: "unsafe-none",
		CrossOriginResourcePolicy: "same-origin",
		HSTSMaxAge:                hstsAge(h.secureCookies),
	}))
	h.routes(fapp)
	h.supplierRoutes = supplierAPIRoutes(fapp)
	return fapp
}

// templateFuncs are the functions the templates call.
func (h *Handler) templateFuncs() template.FuncMap {
	return template.FuncMap{
		"t":  h.tr.T,
		"tn": h.tr.N,
		"initial": func(s string) string {
			for _, r := range s {
				return strings.ToUpper(string(r))
			}
			return ""
		},
		"dict": func(kv ...any) map[string]any {
			m := make(map[string]any, len(kv)/2)
			for i := 0; i+1 < len(kv); i += 2 {
				k, _ := kv[i].(string)
				m[k] = kv[i+1]
			}
			return m
		},
		"pathEscape":  url.PathEscape,
		"consoleUser": consoleUserPath,
		"ago":         func(t time.Time) string { return shortAge(h.now().Sub(t)) },
		"until":       func(t time.Time) string { return shortAge(t.Sub(h.now())) },
		"derefF": func(f *float64) float64 {
			if f == nil {
				return 0
			}
			return *f
		},
		"deref": func(t *time.Time) time.Time {
			if t == nil {
				return time.Time{}
			}
			return *t
		},
		"unix":    func(t time.Time) int64 { return t.Unix() },
		"clock":   func(t time.Time) string { return t.UTC().Format("15:04:05") },
		"fmtTime": func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") },
		"stamp":   func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05") },
		// localTime shows a time on a customer page in the customer's zone (.TZ).
		"localTime": customerTime,
		"idBreaks":  idBreaks,
		"prose":     prose,
		"lower":     strings.ToLower,
	}
}

func proxyHeader(trust bool) string {
	if trust {
		return fiber.HeaderXForwardedFor
	}
	return ""
}

func hstsAge(secure bool) int {
	if secure {
		return 31536000
	}
	return 0
}

// routes lists every route of the server.
func (h *Handler) routes(f *fiber.App) {
	f.Get("/healthz", h.showHealth)
	f.Get("/readyz", h.showReadiness)
	f.Use("/static", h.serveStatic)
	f.Get("/openapi.json", h.showOpenAPI)
	f.Get("/docs/api", h.limitPages, h.showAPIReference)

	// Link API for suppliers (JSON, x-api-key).
	api := f.Group("/users", h.requireAPIKey)
	api.Post("/:supplier_user_id/link", h.createLink)
	api.Get("/:supplier_user_id/comfort-bounds", h.showComfortBounds)
	api.Put("/:supplier_user_id/comfort-bounds", h.updateComfortBounds)
	api.Get("/:supplier_user_id", h.showSupplierUser)
	api.Post("/:supplier_user_id/dashboard-sessions", h.createDashboardSession)

	// Flow 2 for manufacturers (JSON, x-api-key of the manufacturer), and
	// the supplier's report of a login.
	mfr := f.Group("/manufacturer", h.requireAPIKey)
	mfr.Post("/link-sessions", h.createSupplierLink)
	mfr.Get("/users/:manufacturer_user_id/comfort-bounds", h.showComfortBounds)
	mfr.Put("/users/:manufacturer_user_id/comfort-bounds", h.updateComfortBounds)
	f.Post("/post-login-redirect", h.requireAPIKey, h.reportSupplierLogin)

	// Webhook endpoint and delivery log of the calling supplier or manufacturer.
	hooks := f.Group("/api/webhooks", h.requireAPIKey)
	hooks.Get("/endpoint", h.showWebhookEndpoint)
	hooks.Put("/endpoint", h.updateWebhookEndpoint)
	hooks.Delete("/endpoint", h.deleteWebhookEndpoint)
	hooks.Get("/deliveries", h.listWebhookDeliveries)
	hooks.Get("/deliveries/:id", h.showWebhookDelivery)
	hooks.Post("/deliveries/:id/replay", h.replayWebhookDelivery)

	// Hosted link flow; opened by nox-link.js it runs in a popup.
	f.Use("/connect", h.linkPopup)
	f.Use("/oauth/callback", h.linkPopup)
	f.Get("/", h.showHome)
	f.Get("/connect", h.limitPages, h.showBrandPage)
	f.Get("/connect/brands", h.limitPages, h.filterBrands)
	f.Post("/connect/brand", h.limitPages, h.requireCSRF, h.selectBrand)
	f.Post("/connect/cancel", h.limitPages, h.requireCSRF, h.cancelLink)
	f.Post("/connect/brand-request", h.limitPages, h.requireCSRF, h.requestBrand)
	f.Post("/connect/takeover", h.limitPages, h.requireCSRF, h.takeOverLink)
	f.Get("/connect/return", h.limitPages, h.returnToSupplier)
	f.Get("/connect/devices", h.limitPages, h.showDeviceChoice)
	f.Post("/connect/devices", h.limitPages, h.requireCSRF, h.chooseDevices)
	f.Get("/connect/failure", h.limitPages, h.showFailure)
	f.Post("/connect/failure", h.limitPages, h.requireCSRF, h.answerFailure)
	f.Get("/oauth/callback/:brand", h.limitPages, h.handleOAuthCallback)

	// Hosted supplier selector (flow 2).
	f.Get("/select-supplier", h.limitPages, h.showSupplierSelector)
	f.Get("/select-supplier/list", h.limitPages, h.filterSuppliers)
	f.Post("/select-supplier", h.limitPages, h.requireCSRF, h.selectSupplier)
	f.Get("/connect/supplier/return", h.limitPages, h.returnFromSupplier)
	// Portal accounts.
	f.Get("/login", h.limitPages, h.showLogin)
	f.Post("/login", h.limitPages, h.requireCSRF, h.submitLogin)
	f.Post("/logout", h.requirePortalUser(), h.requireCSRF, h.logout)
	f.Post("/logout/everywhere", h.requirePortalUser(), h.requireCSRF, h.logoutEverywhere)
	f.Get("/lang/:lang", h.switchLanguage)

	// Customer dashboard.
	customer := h.requirePortalUser(app.RoleCustomer)
	f.Get("/account/enter", h.limitPages, h.enterDashboard)
	f.Get("/account", h.limitPages, customer, h.showDashboard)
	f.Get("/account/devices", h.limitPages, customer, h.listDevices)
	f.Get("/account/return", h.limitPages, customer, h.returnToDashboard)
	f.Post("/account/connect", h.limitPages, customer, h.requireCSRF, h.connectDevice)
	f.Post("/account/links/:id/cancel", h.limitPages, customer, h.requireCSRF, h.cancelCustomerLink)
	f.Get("/account/devices/:id/disconnect", h.limitPages, customer, h.confirmDisconnect)
	f.Post("/account/devices/:id/disconnect", h.limitPages, customer, h.requireCSRF, h.disconnectDevice)
	f.Post("/account/devices/:id/reconnect", h.limitPages, customer, h.requireCSRF, h.reconnectDevice)
	f.Post("/account/suppliers/link", h.limitPages, customer, h.requireCSRF, h.linkSupplier)
	f.Get("/account/supplier-return", h.limitPages, customer, h.returnFromSupplierLink)
	f.Post("/account/comfort", h.limitPages, customer, h.requireCSRF, h.saveComfortBounds)
	f.Post("/account/links/:id/continue", h.limitPages, customer, h.requireCSRF, h.continueCustomerLink)
	f.Get("/account/settings", h.limitPages, customer, h.showSettings)
	f.Post("/account/settings", h.limitPages, customer, h.requireCSRF, h.saveSettings)
	f.Get("/account/help", h.limitPages, customer, h.showHelp)

	// Support console: agents and admins act, managers read.
	staffRead := h.requirePortalUser(app.RoleAgent, app.RoleManager, app.RoleAdmin)
	staffAct := h.requirePortalUser(app.RoleAgent, app.RoleAdmin)
	f.Get("/console", h.limitPages, staffRead, h.showConsole)
	f.Get("/console/users/:supplier/:suid", h.limitPages, staffRead, h.showMapping)
	f.Post("/console/users/:supplier/:suid/relink", h.limitPages, staffAct, h.requireCSRF, h.relink)
	f.Post("/console/users/:supplier/:suid/devices/:id/relink-required", h.limitPages, staffAct, h.requireCSRF, h.markRelinkRequired)
	f.Get("/console/queue", h.limitPages, staffRead, h.showQueue)
	f.Get("/console/sessions/:id", h.limitPages, staffRead, h.showSession)
	f.Get("/console/bulk", h.limitPages, staffRead, h.showBulkRelink)
	f.Post("/console/bulk", h.limitPages, staffAct, h.requireCSRF, h.startBulkRelink)
	f.Get("/console/bulk/:id", h.limitPages, staffRead, h.showBulkProgress)
	f.Get("/console/jobs", h.limitPages, staffRead, h.showJobs)
	f.Post("/console/jobs/:id/retry", h.limitPages, staffAct, h.requireCSRF, h.retryJob)

	// Administration.
	admin := h.requirePortalUser(app.RoleAdmin)
	f.Get("/admin", h.limitPages, admin, func(c *fiber.Ctx) error { return c.Redirect("/admin/suppliers", fiber.StatusSeeOther) })
	f.Get("/admin/suppliers", h.limitPages, admin, h.showSuppliers)
	f.Get("/admin/suppliers/new", h.limitPages, admin, h.showSupplierForm)
	f.Post("/admin/suppliers", h.limitPages, admin, h.requireCSRF, h.saveSupplier)
	f.Get("/admin/suppliers/:id", h.limitPages, admin, h.showSupplierForm)
	f.Post("/admin/suppliers/:id", h.limitPages, admin, h.requireCSRF, h.saveSupplier)
	f.Post("/admin/suppliers/:id/keys", h.limitPages, admin, h.requireCSRF, h.createKey)
	f.Post("/admin/suppliers/:id/keys/:key/revoke", h.limitPages, admin, h.requireCSRF, h.revokeKey)
	f.Post("/admin/suppliers/:id/keys/:key/rotate", h.limitPages, admin, h.requireCSRF, h.rotateKey)
	f.Post("/admin/suppliers/:id/invitations", h.limitPages, admin, h.requireCSRF, h.inviteSupplierMember)
	f.Post("/admin/suppliers/:id/branding", h.limitPages, admin, h.requireCSRF, h.saveSupplierBranding)
	f.Get("/brand-assets/suppliers/:id/logo", h.serveSupplierLogo)
	f.Get("/brand-assets/suppliers/:id/theme.css", h.serveSupplierTheme)
	f.Get("/admin/manufacturers", h.limitPages, admin, h.showManufacturers)
	f.Post("/admin/manufacturers/:id", h.limitPages, admin, h.requireCSRF, h.updateManufacturer)
	f.Get("/admin/audit", h.limitPages, admin, h.showAudit)
	f.Get("/admin/webhooks", h.limitPages, admin, h.showWebhooks)
	f.Post("/admin/webhooks/deliveries/:id/replay", h.limitPages, admin, h.requireCSRF, h.replayWebhook)

	// Supplier developer dashboard.
	h.developerRoutes(f)

	// Connection reports; a supplier's team sees its own supplier only.
	reports := h.requirePortalUser(app.RoleManager, app.RoleAdmin, app.RoleSupplierAdmin, app.RoleSupplierViewer)
	f.Get("/reports", h.limitPages, reports, h.showReports)
	f.Get("/reports/export/:table.csv", h.limitPages, reports, h.exportReport)

	if h.cfg.Sandbox.Enabled {
		// Before the sandbox brands' routes, whose /sandbox/:brand prefix
		// would take it.
		f.Get(DemoSupplierAppPath, h.limitPages, h.showDemoSupplierCallback)
	}
	// The sandbox brands serve test mode in every environment; live link
	// sessions offer them only where sandbox.enabled is true.
	// The sandbox brands' sign-in keeps a popup's opener too.
	f.Use("/sandbox", h.linkPopup)
	h.sandboxRoutes(f)
	if h.cfg.Sandbox.SupplierActive() {
		h.sandboxSupplierRoutes(f)
	}
}

func (h *Handler) serveStatic(c *fiber.Ctx) error {
	name := strings.TrimPrefix(c.Path(), "/static/")
	b, err := static.FS.ReadFile(name)
	if err != nil || strings.Contains(name, "..") || strings.HasSuffix(name, ".go") {
		return fiber.ErrNotFound
	}
	c.Set(fiber.HeaderCacheControl, "public, max-age=3600")
	if name == "nox-link.js" {
		// Supplier pages load it from their own origin, with an SRI hash.
		c.Set(fiber.HeaderAccessControlAllowOrigin, "*")
		c.Set("Cross-Origin-Resource-Policy", "cross-origin")
	}
	c.Type(name[strings.LastIndexByte(name, '.')+1:])
	return c.Send(b)
}

func (h *Handler) logPanic(c *fiber.Ctx, e any) {
	h.log.ErrorContext(c.UserContext(), "panic", "panic", e)
}
