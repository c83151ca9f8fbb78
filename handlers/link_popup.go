package handlers

import (
	"encoding/json"
	"net/url"
	"time"

	"github.com/gofiber/fiber/v2"

	"noxportal/app"
)

// popupCookie marks a browser whose link flow runs in a popup opened by
// nox-link.js (link_url with popup=1).
const popupCookie = "nox_link_popup"

// popupResultFields are the redirect's fields a popup hands to its opener:
// the same the redirect URI gets from NOX, never a token.
var popupResultFields = []string{"connection_status", "supplier_user_id", "nox_user_id", "manufacturer", "connected_at", "error"}

// linkPopup serves the hosted flow opened in a popup. The flow's pages keep
// their opener (Cross-Origin-Opener-Policy unsafe-none), and where the flow
// would send the browser to the supplier's redirect URI it answers instead
// with a page that posts the same fields to the opener — to the redirect
// URI's origin only, which the supplier registered — and closes the popup;
// with no opener that page continues to the redirect URI. Outside a popup
// nothing changes.
func (h *Handler) linkPopup(c *fiber.Ctx) error {
	if c.Query("popup") == "1" {
		h.setCookie(c, popupCookie, "1", h.cfg.Link.SessionTTL.D()+time.Minute)
	} else if c.Cookies(popupCookie) == "" {
		return c.Next()
	}
	err := c.Next()
	c.Set("Cross-Origin-Opener-Policy", "unsafe-none")
	if err != nil || c.Response().StatusCode() != fiber.StatusSeeOther {
		return err
	}
	loc := string(c.Response().Header.Peek(fiber.HeaderLocation))
	u, perr := url.Parse(loc)
	if perr != nil || !u.IsAbs() || u.Query().Get("connection_status") == "" {
		return nil
	}
	result := map[string]string{}
	for _, k := range popupResultFields {
		if v := u.Query().Get(k); v != "" {
			result[k] = v
		}
	}
	b, _ := json.Marshal(result)
	c.Response().Header.Del(fiber.HeaderLocation)
	c.Cookie(&fiber.Cookie{Name: popupCookie, Path: "/", MaxAge: -1, HTTPOnly: true, Secure: h.secureCookies,
		SameSite: fiber.CookieSameSiteLaxMode})
	c.Set(fiber.HeaderCacheControl, "no-store")
	lang := pageLang(c)
	return h.render(c.Status(fiber.StatusOK), "pages/connect/popup_result", fiber.Map{"Lang": lang,
		"Redirect": loc, "Origin": u.Scheme + "://" + u.Host, "Result": string(b),
		"Connected": result["connection_status"] == string(app.StatusConnected)})
}
