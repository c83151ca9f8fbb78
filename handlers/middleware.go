package handlers

import (
	"context"
	"crypto/sha256"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"noxportal/app"
)

// sensitiveParams are query parameters whose values never reach the logs.
var sensitiveParams = map[string]bool{
	"token": true, "code": true, "state": true, "access_token": true, "refresh_token": true,
	"code_verifier": true, "client_secret": true, "password": true, "key": true,
}

// RedactQuery returns a raw query string with every sensitive value replaced.
func RedactQuery(raw string) string {
	if raw == "" {
		return ""
	}
	parts := strings.Split(raw, "&")
	for i, p := range parts {
		k, _, found := strings.Cut(p, "=")
		name, err := url.QueryUnescape(k)
		if err != nil {
			name = k
		}
		if found && sensitiveParams[strings.ToLower(name)] {
			parts[i] = k + "=REDACTED"
		}
	}
	return strings.Join(parts, "&")
}

// exportPrefix is the path of the report CSV exports, which get the longer
// server.export_timeout.
const exportPrefix = "/reports/export/"

// boundRequest gives the request's context (c.UserContext) its deadline —
// server.request_timeout, or server.export_timeout for a CSV export — and
// the request id every log line it causes carries. Database and
// manufacturer calls made with that context are cancelled at the deadline.
func (h *Handler) boundRequest(c *fiber.Ctx) error {
	d := h.cfg.Server.RequestTimeout.D()
	if strings.HasPrefix(c.Path(), exportPrefix) {
		d = h.cfg.Server.ExportTimeout.D()
	}
	id, _ := c.Locals("requestid").(string)
	ctx := app.WithObserver(app.WithLogAttrs(context.Background(), "request_id", id), h.metrics)
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	c.SetUserContext(ctx)
	return c.Next()
}

// logRequests writes one structured line per request, with the request id
// and without secrets: headers are not logged and sensitive query values
// are redacted.
func (h *Handler) logRequests(c *fiber.Ctx) error {
	start := time.Now()
	err := c.Next()
	if err != nil {
		if herr := h.handleError(c, err); herr != nil {
			c.Status(fiber.StatusInternalServerError)
		}
	}
	took := time.Since(start)
	route := c.Route().Path
	if c.Route().Method == "USE" || c.Response().StatusCode() == fiber.StatusNotFound && route == "/" {
		route = "unmatched"
	}
	h.metrics.ObserveHTTP(route, c.Method(), c.Response().StatusCode(), took)
	path := c.Path()
	if q := RedactQuery(string(c.Request().URI().QueryString())); q != "" {
		path += "?" + q
	}
	h.log.InfoContext(c.UserContext(), "request",
		"method", c.Method(),
		"path", path,
		"status", c.Response().StatusCode(),
		"duration_ms", float64(took.Microseconds())/1000,
		"ip", c.IP(),
	)
	return nil
}

type ownerKey struct{}

// requireAPIKey authenticates the x-api-key header and rate-limits per key.
// Repeated failures from one IP are rate-limited too.
func (h *Handler) requireAPIKey(c *fiber.Ctx) error {
	key := c.Get("x-api-key")
	if key == "" {
		return app.ReasonErrorf(app.EUNAUTHORIZED, "missing_api_key", "The x-api-key header is required.")
	}
	owner, ok, retry, err := h.store.AuthenticateAPIKeyAndCount(c.UserContext(), key, h.cfg.Security.APIRateLimit, time.Minute, h.now())
	if err != nil {
		if app.ErrorCode(err) == app.EUNAUTHORIZED {
			if lerr := h.limit(c, "apifail:"+c.IP(), 60, time.Minute); lerr != nil {
				return lerr
			}
		}
		return err
	}
	if !ok {
		return h.tooMany(c, "api_key", retry)
	}
	c.Locals(ownerKey{}, owner)
	return c.Next()
}

func apiOwner(c *fiber.Ctx) app.APIKeyOwner {
	o, _ := c.Locals(ownerKey{}).(app.APIKeyOwner)
	return o
}

// requireSupplier returns the calling supplier's id, or an error when the
// key belongs to a manufacturer.
func requireSupplier(c *fiber.Ctx) (string, error) {
	o := apiOwner(c)
	if o.SupplierID == "" {
		return "", app.ReasonErrorf(app.EFORBIDDEN, "supplier_key_required", "This endpoint needs a supplier API key.")
	}
	return o.SupplierID, nil
}

// limit counts one request in bucket and returns a 429 error past limit.
func (h *Handler) limit(c *fiber.Ctx, bucket string, limit int, window time.Duration) error {
	ok, retry, err := h.store.Allow(c.UserContext(), bucket, limit, window, h.now())
	if err != nil {
		return err
	}
	if !ok {
		kind, _, _ := strings.Cut(bucket, ":")
		return h.tooMany(c, kind, retry)
	}
	return nil
}

// tooMany is the 429 error of a request over the limit of a bucket of
// kind, with Retry-After.
func (h *Handler) tooMany(c *fiber.Ctx, kind string, retry time.Duration) error {
	h.metrics.RateLimited(kind)
	c.Set(fiber.HeaderRetryAfter, strconv.Itoa(int(retry.Seconds())+1))
	return app.ReasonErrorf(app.ERATELIMIT, "rate_limited", "Too many requests; retry after %d seconds.", int(retry.Seconds())+1)
}

// limitPages rate-limits hosted pages per client IP.
func (h *Handler) limitPages(c *fiber.Ctx) error {
	if err := h.limit(c, "page:"+c.IP(), h.cfg.Security.PageRateLimit, time.Minute); err != nil {
		return err
	}
	return c.Next()
}

const csrfCookie = "nox_csrf"

// csrfToken returns the CSRF token for this browser: an HMAC of its CSRF
// cookie (set here when missing) and, once a portal user is signed in, of
// the portal session id, so it is stateless across instances and a token
// from before sign-in (or from another session) is refused.
func (h *Handler) csrfToken(c *fiber.Ctx) string {
	if t, ok := c.Locals("csrf").(string); ok {
		return t
	}
	v := c.Cookies(csrfCookie)
	if len(v) != 32 {
		v = app.RandomToken(32)
		h.setCookie(c, csrfCookie, v, 0)
	}
	t := h.signer.Sign("csrf", v, portalSessionID(c))
	c.Locals("csrf", t)
	return t
}

// requireCSRF rejects a state-changing request whose token (form field
// _csrf or header X-CSRF-Token) does not match the browser's CSRF cookie,
// or whose Origin is another site.
func (h *Handler) requireCSRF(c *fiber.Ctx) error {
	if o := c.Get(fiber.HeaderOrigin); o != "" && o != "null" && !sameOrigin(o, h.cfg.Server.PublicURL) {
		return app.ReasonErrorf(app.EFORBIDDEN, "csrf", "Cross-site request refused.")
	}
	v := c.Cookies(csrfCookie)
	tok := c.Get("X-CSRF-Token")
	if tok == "" {
		tok = c.FormValue("_csrf")
	}
	if len(v) != 32 || tok == "" || !h.signer.Verify(tok, "csrf", v, portalSessionID(c)) {
		return app.ReasonErrorf(app.EFORBIDDEN, "csrf", "Your session form expired. Go back, reload the page and try again.")
	}
	return c.Next()
}

func sameOrigin(origin, publicURL string) bool {
	u, err := url.Parse(publicURL)
	if err != nil {
		return false
	}
	return strings.EqualFold(origin, u.Scheme+"://"+u.Host)
}

// setCookie sets an HttpOnly, SameSite=Lax cookie on path /; Secure when
// served over https. maxAge 0 makes a session cookie.
func (h *Handler) setCookie(c *fiber.Ctx, name, value string, maxAge time.Duration) {
	ck := &fiber.Cookie{
		Name:     name,
		Value:    value,
		Path:     "/",
		HTTPOnly: true,
		Secure:   h.secureCookies,
		SameSite: fiber.CookieSameSiteLaxMode,
	}
	if maxAge > 0 {
		ck.MaxAge = int(maxAge.Seconds())
	}
	c.Cookie(ck)
}

const browserCookie = "nox_bid"

// browserHash returns the hash of this browser's id cookie, creating the
// cookie when create is set; a cookie created earlier in the same request
// counts. A link session is bound to the browser that opened it, so a
// sign-in response from another browser is refused.
func (h *Handler) browserHash(c *fiber.Ctx, create bool) []byte {
	v := c.Cookies(browserCookie)
	if fresh, ok := c.Locals(browserCookie).(string); ok {
		v = fresh
	}
	if len(v) != 32 {
		if !create {
			return nil
		}
		v = app.RandomToken(32)
		h.setCookie(c, browserCookie, v, 24*time.Hour)
		c.Locals(browserCookie, v)
	}
	sum := sha256.Sum256([]byte("browser:" + v))
	return sum[:]
}

func (h *Handler) showHealth(c *fiber.Ctx) error {
	return c.JSON(fiber.Map{"status": "ok"})
}

// readinessTimeout bounds the database check of /readyz, so it answers
// within a second whatever the database does.
const readinessTimeout = 800 * time.Millisecond

// showReadiness answers 503 once the server is draining (SIGTERM) or when
// the database does not answer within readinessTimeout.
func (h *Handler) showReadiness(c *fiber.Ctx) error {
	if h.draining != nil && h.draining() {
		return c.Status(fiber.StatusServiceUnavailable).JSON(fiber.Map{"status": "draining"})
	}
	ctx, cancel := context.WithTimeout(c.UserContext(), readinessTimeout)
	defer cancel()
	if err := h.store.Ping(ctx); err != nil {
		h.log.WarnContext(ctx, "not ready", "err", err)
		return c.Status(fiber.StatusServiceUnavailable).JSON(fiber.Map{"status": "unavailable", "database": "unreachable"})
	}
	return c.JSON(fiber.Map{"status": "ok", "database": "ok"})
}
