package handlers

import (
	"math"
	"net/url"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"noxportal/app"
)

// The customer dashboard's energy suppliers (flow 2 started by the customer)
// and comfort bounds editor. Both work on the signed-in customer's own nox
// user only.

// supplierOutcomes maps how a dashboard-started supplier link ended (the
// error of its redirect) to the dashboard outcome explained in the banner.
var supplierOutcomes = map[string]string{
	app.ReasonExpired:       "supplier_expired",
	app.ReasonCancelled:     "supplier_cancelled",
	app.ReasonAccessDenied:  "supplier_cancelled",
	app.ReasonAlreadyLinked: "supplier_already_linked",
}

// supplierSection is the dashboard's list of linked energy suppliers.
type supplierSection struct {
	Linked []linkedSupplierRow
	// CanLink is false for a customer signed in through a supplier's own
	// dashboard: they already came from their energy supplier.
	CanLink bool
}

type linkedSupplierRow struct {
	Name  string
	Since string
	// Origin marks the supplier whose dashboard the customer came from.
	Origin bool
}

// comfortFields are the form fields of the comfort bounds editor.
var comfortFields = []string{"indoor_min_c", "indoor_max_c", "hot_water_min_c", "hot_water_max_c"}

// comfortForm is the comfort bounds editor: the values shown in the form,
// who set the current bounds, and the outcome of a save.
type comfortForm struct {
	Values    map[string]string
	Errors    map[string]string
	Version   int
	Set       bool
	UpdatedBy string
	UpdatedAt string
	// Notice is "saved" or "stale" after a save.
	Notice string
	// Focus is the first field with an error: the focus goes there after
	// a refused save, to the notice after any other.
	Focus string
}

// withFocus sets f.Focus to the first field (in form order) with an error.
func (f *comfortForm) withFocus() *comfortForm {
	for _, name := range comfortFields {
		if f.Errors[name] != "" {
			f.Focus = name
			break
		}
	}
	return f
}

// supplierSection lists the suppliers the customer's nox user is linked to;
// a customer signed in by a supplier always sees that supplier.
func (h *Handler) supplierSection(c *fiber.Ctx) (*supplierSection, error) {
	u := portalUser(c)
	lang := pageLang(c)
	linked, err := h.store.CustomerSuppliers(c.UserContext(), u.NoxUserID)
	if err != nil {
		return nil, err
	}
	sec := &supplierSection{CanLink: u.SupplierID == "" && u.NoxUserID != "", Linked: []linkedSupplierRow{}}
	origin := false
	for _, s := range linked {
		row := linkedSupplierRow{Name: s.Name, Since: h.tr.T(lang, "portal.suppliers.since", s.Since.In(h.customerZone(c)).Format("2006-01-02")),
			Origin: s.ID == u.SupplierID}
		origin = origin || row.Origin
		sec.Linked = append(sec.Linked, row)
	}
	if u.SupplierID != "" && !origin {
		sec.Linked = append([]linkedSupplierRow{{Name: u.SupplierName, Origin: true}}, sec.Linked...)
	}
	return sec, nil
}

// comfortEditor returns the editor with the customer's current bounds; nil
// when the customer has no nox user yet (nothing to set bounds for).
func (h *Handler) comfortEditor(c *fiber.Ctx) (*comfortForm, error) {
	u := portalUser(c)
	if u.NoxUserID == "" {
		return nil, nil
	}
	b, err := h.store.ComfortBounds(c.UserContext(), u.NoxUserID)
	if app.IsNotFound(err) {
		return &comfortForm{Values: map[string]string{}}, nil
	} else if err != nil {
		return nil, err
	}
	return h.comfortFormFor(c, b), nil
}

func (h *Handler) comfortFormFor(c *fiber.Ctx, b app.ComfortBounds) *comfortForm {
	lang := pageLang(c)
	f := &comfortForm{Set: true, Version: b.Version, Values: map[string]string{
		"indoor_min_c": fmtTemp(&b.IndoorMinC), "indoor_max_c": fmtTemp(&b.IndoorMaxC),
		"hot_water_min_c": fmtTemp(b.HotWaterMinC), "hot_water_max_c": fmtTemp(b.HotWaterMaxC),
	}}
	f.UpdatedBy = h.tr.T(lang, "portal.comfort.by_"+b.UpdatedBy.Kind)
	f.UpdatedAt = customerTime(b.UpdatedAt, h.customerZone(c))
	return f
}

func fmtTemp(v *float64) string {
	if v == nil {
		return ""
	}
	return strconv.FormatFloat(*v, 'f', -1, 64)
}

// parseComfortForm reads the editor's fields into bounds, with one
// translated message per field that is wrong (the rules of
// app.ComfortBounds.Validate, told per field).
func (h *Handler) parseComfortForm(c *fiber.Ctx, lang string) (app.ComfortBounds, map[string]string, map[string]string) {
	values, errs := map[string]string{}, map[string]string{}
	nums := map[string]*float64{}
	for _, name := range comfortFields {
		v := strings.TrimSpace(strings.ReplaceAll(c.FormValue(name), ",", "."))
		values[name] = app.CleanText(v, 20)
		if v == "" {
			continue
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			errs[name] = h.tr.T(lang, "portal.comfort.err_number")
			continue
		}
		if math.Abs(f*10-math.Round(f*10)) > 1e-9 {
			errs[name] = h.tr.T(lang, "portal.comfort.err_decimal")
			continue
		}
		nums[name] = &f
	}
	check := func(lo, hi string, minC, maxC float64, required bool) {
		for _, name := range []string{lo, hi} {
			if _, bad := errs[name]; bad {
				return
			}
		}
		a, b := nums[lo], nums[hi]
		switch {
		case a == nil && b == nil:
			if required {
				errs[lo] = h.tr.T(lang, "portal.comfort.err_required")
				errs[hi] = h.tr.T(lang, "portal.comfort.err_required")
			}
			return
		case a == nil:
			errs[lo] = h.tr.T(lang, "portal.comfort.err_pair")
			return
		case b == nil:
			errs[hi] = h.tr.T(lang, "portal.comfort.err_pair")
			return
		}
		rng := h.tr.T(lang, "portal.comfort.err_range", fmtTemp(&minC), fmtTemp(&maxC))
		if *a < minC || *a > maxC {
			errs[lo] = rng
		}
		if *b < minC || *b > maxC {
			errs[hi] = rng
		}
		if errs[lo] == "" && errs[hi] == "" && *b-*a < 0.5-1e-9 {
			errs[hi] = h.tr.T(lang, "portal.comfort.err_span")
		}
	}
	check("indoor_min_c", "indoor_max_c", app.IndoorMinC, app.IndoorMaxC, true)
	check("hot_water_min_c", "hot_water_max_c", app.HotWaterMinC, app.HotWaterMaxC, false)
	var b app.ComfortBounds
	if len(errs) == 0 {
		b.IndoorMinC, b.IndoorMaxC = *nums["indoor_min_c"], *nums["indoor_max_c"]
		b.HotWaterMinC, b.HotWaterMaxC = nums["hot_water_min_c"], nums["hot_water_max_c"]
	}
	return b, values, errs
}

// saveComfortBounds saves the customer's comfort bounds with the version
// the form was rendered with. The outcome is shown inside the editor: the
// fragment for HTMX, the dashboard page (or a redirect after success) for a
// plain form post. A stale version shows the current bounds with a message;
// invalid values keep what was typed with a message per field. Every save
// sends comfort_bounds.updated to the user's linked suppliers and
// manufacturers (written with the change by the store).
func (h *Handler) saveComfortBounds(c *fiber.Ctx) error {
	u := portalUser(c)
	if u.NoxUserID == "" {
		return app.Errorf(app.ENOTFOUND, "nothing to set comfort bounds for yet")
	}
	lang := pageLang(c)
	version, err := strconv.Atoi(c.FormValue("version"))
	if err != nil || version < 0 {
		return app.Errorf(app.EINVALID, "version must be a number")
	}
	b, values, errs := h.parseComfortForm(c, lang)
	var form *comfortForm
	status := fiber.StatusOK
	if len(errs) > 0 {
		form, status = &comfortForm{Values: values, Errors: errs, Version: version}, fiber.StatusUnprocessableEntity
	} else {
		b.NoxUserID, b.ExpectVersion = u.NoxUserID, version
		saved, err := h.store.SetComfortBounds(c.UserContext(), b,
			app.Party{Kind: app.PartyCustomer, ID: strconv.FormatInt(u.ID, 10)})
		switch {
		case err == nil:
			if err := h.store.WriteAudit(c.UserContext(), app.AuditEntry{ActorID: app.Actor(u.ID), Action: "comfort_bounds.update",
				ObjectType: "nox_user", ObjectID: u.NoxUserID, Before: fiber.Map{"version": version}, After: fiber.Map{
					"version": saved.Version, "indoor_min_c": saved.IndoorMinC, "indoor_max_c": saved.IndoorMaxC,
					"hot_water_min_c": saved.HotWaterMinC, "hot_water_max_c": saved.HotWaterMaxC},
				IP: c.IP()}); err != nil {
				return err
			}
			if !isFragmentRequest(c) {
				return c.Redirect("/account?comfort=saved#comfort", fiber.StatusSeeOther)
			}
			form = h.comfortFormFor(c, saved)
			form.Notice = "saved"
		case app.ErrorReason(err) == "stale_version":
			if form, err = h.comfortEditor(c); err != nil {
				return err
			}
			form.Notice, status = "stale", fiber.StatusConflict
		case app.ErrorCode(err) == app.EINVALID:
			form = &comfortForm{Values: values, Version: version,
				Errors: map[string]string{"indoor_max_c": h.tr.T(lang, "portal.comfort.err_span")}}
			status = fiber.StatusUnprocessableEntity
		default:
			return err
		}
	}
	form.withFocus()
	if isFragmentRequest(c) {
		// HTMX swaps only 2xx answers; the outcome is inside the fragment.
		return c.Render("partials/account_comfort", fiber.Map{"Lang": lang, "CSRF": h.csrfToken(c), "Comfort": form})
	}
	data, err := h.dashboardData(c, "", "")
	if err != nil {
		return err
	}
	data["Comfort"] = form
	c.Status(status)
	c.Set(fiber.HeaderCacheControl, "no-store")
	return h.renderPortal(c, "pages/account/dashboard", data)
}

// linkSupplier starts flow 2 for the signed-in customer's own nox user and
// sends the browser to the supplier selector; it comes back to
// /account/supplier-return.
func (h *Handler) linkSupplier(c *fiber.Ctx) error {
	u := portalUser(c)
	if u.SupplierID != "" || u.NoxUserID == "" {
		return app.Errorf(app.EFORBIDDEN, "linking a supplier needs a NOX account")
	}
	_, token, err := h.startSupplierLink(c, app.NewLinkSession{
		RedirectURI:  strings.TrimRight(h.cfg.Server.PublicURL, "/") + "/account/supplier-return",
		Language:     pageLang(c),
		Initiator:    app.InitiatorCustomer,
		NoxUserID:    u.NoxUserID,
		PortalUserID: u.ID,
	})
	if err != nil {
		return err
	}
	return c.Redirect(h.supplierSelectorURL(token), fiber.StatusSeeOther)
}

// returnFromSupplierLink receives the end of a dashboard-started supplier
// link and shows its outcome on the dashboard.
func (h *Handler) returnFromSupplierLink(c *fiber.Ctx) error {
	done := "supplier_failed"
	if c.Query("connection_status") == "connected" {
		done = "supplier_connected"
	} else if o := supplierOutcomes[c.Query("error")]; o != "" {
		done = o
	}
	next := "/account?done=" + done
	if id := c.Query("supplier_id"); id != "" && len(id) <= 64 {
		next += "&supplier=" + url.QueryEscape(id)
	}
	return c.Redirect(next, fiber.StatusSeeOther)
}
