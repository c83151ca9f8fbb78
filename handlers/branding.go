package handlers

import (
	"io"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"noxportal/app"
	"noxportal/db"
)

// Supplier co-branding: set in the admin, served as a logo and a style
// sheet under /brand-assets, shown on the supplier's hosted pages.

// coBrand is what a hosted page shows of its supplier's co-branding.
type coBrand struct {
	ID      string
	Name    string
	Version int
	Logo    bool
	Accent  bool
}

// brandingTTL is how long an instance keeps a supplier's co-branding in
// memory: another instance's save shows within this time.
const brandingTTL = 30 * time.Second

type cachedBranding struct {
	b  app.SupplierBranding
	at time.Time
}

// supplierBranding returns a supplier's co-branding, from memory when read
// within brandingTTL.
func (h *Handler) supplierBranding(c *fiber.Ctx, supplierID string) (app.SupplierBranding, error) {
	if v, ok := h.brandings.Load(supplierID); ok {
		if cb := v.(cachedBranding); time.Since(cb.at) < brandingTTL {
			return cb.b, nil
		}
	}
	b, err := h.store.SupplierBranding(c.UserContext(), supplierID)
	if err != nil {
		return b, err
	}
	h.brandings.Store(supplierID, cachedBranding{b: b, at: time.Now()})
	return b, nil
}

// coBrandFor is the co-branding of a session's hosted pages: its
// supplier's, for links a supplier created; nil otherwise or when the
// supplier has none.
func (h *Handler) coBrandFor(c *fiber.Ctx, sess app.LinkSession, supplierName string) (*coBrand, error) {
	if sess.SupplierID == "" || sess.Initiator == app.InitiatorCustomer || sess.Kind != app.KindSupplierLink {
		return nil, nil
	}
	b, err := h.supplierBranding(c, sess.SupplierID)
	if err != nil || b.Version == 0 || (b.Accent == "" && !b.HasLogo()) {
		return nil, err
	}
	return &coBrand{ID: sess.SupplierID, Name: supplierName, Version: b.Version, Logo: b.HasLogo(), Accent: b.Accent != ""}, nil
}

// coBrandKey is the part of a page shell's key that names the co-branding.
func coBrandKey(cb *coBrand) string {
	if cb == nil {
		return "-"
	}
	return cb.ID + "@" + strconv.Itoa(cb.Version)
}

// serveSupplierLogo serves a supplier's logo with its checked content type.
func (h *Handler) serveSupplierLogo(c *fiber.Ctx) error {
	logo, ct, err := h.store.SupplierLogo(c.UserContext(), c.Params("id"))
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, ct)
	c.Set(fiber.HeaderCacheControl, "public, max-age=86400")
	c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	// Hosted pages on this origin show it; nobody else embeds it.
	c.Set("Content-Security-Policy", "default-src 'none'")
	return c.Send(logo)
}

// serveSupplierTheme serves the style sheet with a supplier's accent.
func (h *Handler) serveSupplierTheme(c *fiber.Ctx) error {
	// Straight from the store: any id can be asked for, and only the
	// suppliers of opened links belong in the memory cache.
	b, err := h.store.SupplierBranding(c.UserContext(), c.Params("id"))
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, "text/css; charset=utf-8")
	c.Set(fiber.HeaderCacheControl, "public, max-age=86400")
	return c.SendString(b.ThemeCSS())
}

// saveSupplierBranding stores the accent colour and logo an admin set for
// a supplier. A bad colour or logo is explained on the page and changes
// nothing.
func (h *Handler) saveSupplierBranding(c *fiber.Ctx) error {
	sup, err := h.store.GetSupplierSettings(c.UserContext(), c.Params("id"))
	if err != nil {
		return err
	}
	refuse := func(e error) error {
		c.Status(fiber.StatusUnprocessableEntity)
		return h.renderSupplier(c, sup, app.ErrorMessage(e))
	}
	var ch db.BrandingChange
	if ch.Accent, err = app.ParseAccent(c.FormValue("accent")); err != nil {
		return refuse(err)
	}
	ch.RemoveLogo = c.FormValue("remove_logo") == "1"
	if fh, err := c.FormFile("logo"); err == nil && fh.Size > 0 {
		if fh.Size > app.LogoMaxBytes {
			_, e := app.CheckLogo(make([]byte, fh.Size))
			return refuse(e)
		}
		f, err := fh.Open()
		if err != nil {
			return err
		}
		defer f.Close()
		if ch.Logo, err = io.ReadAll(io.LimitReader(f, app.LogoMaxBytes+1)); err != nil {
			return err
		}
		if ch.LogoType, err = app.CheckLogo(ch.Logo); err != nil {
			return refuse(err)
		}
	}
	u := portalUser(c)
	if _, err := h.store.SaveSupplierBranding(c.UserContext(), sup.ID, ch, app.AuditEntry{ActorID: app.Actor(u.ID), IP: c.IP()}); err != nil {
		return err
	}
	h.brandings.Delete(sup.ID)
	return c.Redirect("/admin/suppliers/"+sup.ID+"?saved=1#branding", fiber.StatusSeeOther)
}

// brandingView is the admin's co-branding section: what is set and how
// readable the derived colours are.
type brandingView struct {
	app.SupplierBranding
	OnAccent        string
	ButtonContrast  string
	AccentText      string
	TextContrast    string
	AccentDarkened  bool
	AccentOrDefault string
}

func (h *Handler) brandingView(c *fiber.Ctx, supplierID string) (brandingView, error) {
	b, err := h.store.SupplierBranding(c.UserContext(), supplierID)
	v := brandingView{SupplierBranding: b, AccentOrDefault: "#0b7a53"}
	if err != nil || b.Accent == "" {
		return v, err
	}
	ratio := func(f float64) string { return strconv.FormatFloat(f, 'f', 1, 64) }
	v.AccentOrDefault = b.Accent
	v.OnAccent = app.OnAccent(b.Accent)
	v.ButtonContrast = ratio(app.Contrast(b.Accent, v.OnAccent))
	v.AccentText = app.AccentText(b.Accent)
	v.TextContrast = ratio(app.Contrast(v.AccentText, "#ffffff"))
	v.AccentDarkened = v.AccentText != b.Accent
	return v, nil
}
