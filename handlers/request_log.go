package handlers

import (
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"noxportal/app"
)

// errorReasonKey holds the machine-readable error code handleError sent.
type errorReasonKey struct{}

// recordAPIRequests puts every request made with a supplier's API key in
// that supplier's request log: time, method, route pattern, the supplier
// user id of the path, status, error code, latency, request id and
// Idempotency-Key. Never a body or a header value beyond those. The write
// is queued (db.Store.RecordAPIRequest), so it does not delay the answer.
func (h *Handler) recordAPIRequests(c *fiber.Ctx) error {
	start := time.Now()
	err := c.Next()
	owner := apiOwner(c)
	if owner.SupplierID == "" {
		return err
	}
	if err != nil {
		if herr := h.handleError(c, err); herr != nil {
			c.Status(fiber.StatusInternalServerError)
		}
	}
	code, _ := c.Locals(errorReasonKey{}).(string)
	rid, _ := c.Locals("requestid").(string)
	idem := c.Get("Idempotency-Key")
	if len(idem) > 255 {
		idem = idem[:255]
	}
	h.store.RecordAPIRequest(app.APIRequest{At: start, SupplierID: owner.SupplierID, KeyID: owner.KeyID,
		Method: c.Method(), Route: c.Route().Path, SupplierUserID: c.Params("supplier_user_id"),
		Status: c.Response().StatusCode(), ErrorCode: code, LatencyUS: int(time.Since(start).Microseconds()),
		RequestID: rid, IdempotencyKey: idem})
	return nil
}

// supplierAPIRoutes lists the route patterns a supplier's key can call.
func supplierAPIRoutes(f *fiber.App) []string {
	seen := map[string]bool{}
	var out []string
	for _, r := range f.GetRoutes(true) {
		p := r.Path
		api := strings.HasPrefix(p, "/users/") || strings.HasPrefix(p, "/api/webhooks/") || p == "/post-login-redirect"
		if api && !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}

// showRequestLog lists the supplier's API requests of the last 14 days,
// filtered by status class, route and supplier user id, 50 a page.
func (h *Handler) showRequestLog(c *fiber.Ctx) error {
	data, err := h.developerPage(c, "requests")
	if err != nil {
		return err
	}
	f := app.RequestLogFilter{SupplierID: devSupplier(c), SupplierUserID: strings.TrimSpace(c.Query("user")), Limit: 50}
	if _, ok := app.StatusClasses[c.Query("status")]; ok {
		f.Status = c.Query("status")
	}
	if slices.Contains(h.supplierRoutes, c.Query("route")) {
		f.Route = c.Query("route")
	}
	if len(f.SupplierUserID) > 128 {
		f.SupplierUserID = f.SupplierUserID[:128]
	}
	if us, err := strconv.ParseInt(c.Query("before"), 10, 64); err == nil {
		f.Before = time.UnixMicro(us)
	}
	rows, err := h.store.APIRequests(c.UserContext(), f)
	if err != nil {
		return err
	}
	data["Rows"], data["Filter"], data["Routes"] = rows, f, h.supplierRoutes
	data["Statuses"] = []string{"2xx", "3xx", "4xx", "5xx"}
	if len(rows) == f.Limit {
		q := url.Values{"status": {f.Status}, "route": {f.Route}, "user": {f.SupplierUserID},
			"before": {strconv.FormatInt(rows[len(rows)-1].At.UnixMicro(), 10)}}
		data["NextURL"] = "/developers/requests?" + q.Encode()
	}
	return h.renderPortal(c, "pages/developers/requests", data)
}
