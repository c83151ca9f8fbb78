package handlers

import (
	"net/url"
	"time"

	"github.com/gofiber/fiber/v2"
)

// tzCookie holds the IANA time zone the browser reports (static/app.js).
const tzCookie = "nox_tz"

// customerZone returns the time zone customer pages show times in: the one
// the signed-in customer chose, else the one this browser reports, else the
// one their browser last reported (stored), else the configured report
// time zone.
func (h *Handler) customerZone(c *fiber.Ctx) *time.Location {
	u := portalUser(c)
	if u.TimeZoneChosen {
		if loc := h.zone(u.TimeZone); loc != nil {
			return loc
		}
	}
	if loc := h.zone(h.browserZone(c)); loc != nil {
		return loc
	}
	if loc := h.zone(u.TimeZone); loc != nil {
		return loc
	}
	return h.reportLoc
}

// browserZone is the zone this browser reports, "" when none or unknown.
// static/app.js writes the cookie URI-encoded (America%2FNew_York).
func (h *Handler) browserZone(c *fiber.Ctx) string {
	name, err := url.PathUnescape(c.Cookies(tzCookie))
	if err != nil || h.zone(name) == nil {
		return ""
	}
	return name
}

// zone loads an IANA zone name; nil for "" or anything that is not one.
func (h *Handler) zone(name string) *time.Location {
	if name == "" || len(name) > 64 || name == "Local" {
		return nil
	}
	if loc, ok := h.zones.Load(name); ok {
		return loc.(*time.Location)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil
	}
	// Only real zone names load, so the cache stays as small as the tz database.
	h.zones.Store(name, loc)
	return loc
}

// rememberBrowserZone stores the zone this browser reports for the signed-in
// customer, so their pages keep it on a browser that has not reported one
// yet; a chosen zone is left alone.
func (h *Handler) rememberBrowserZone(c *fiber.Ctx) error {
	u := portalUser(c)
	z := h.browserZone(c)
	if u.ID == 0 || u.TimeZoneChosen || z == "" || z == u.TimeZone {
		return nil
	}
	return h.store.RecordBrowserTimeZone(c.UserContext(), u.ID, z)
}

// customerTime is a date and time as customer pages show it: in loc, with
// the zone's abbreviation.
func customerTime(t time.Time, loc *time.Location) string {
	if loc == nil {
		loc = time.UTC
	}
	return t.In(loc).Format("2006-01-02 15:04 MST")
}
