package handlers

import (
	"time"

	"github.com/gofiber/fiber/v2"
)

// tzCookie holds the IANA time zone the browser reports (static/app.js).
const tzCookie = "nox_tz"

// customerZone returns the time zone customer pages show times in: the one
// the browser reported, or the configured report time zone before it has.
func (h *Handler) customerZone(c *fiber.Ctx) *time.Location {
	name := c.Cookies(tzCookie)
	if name == "" || len(name) > 64 || name == "Local" {
		return h.reportLoc
	}
	if loc, ok := h.zones.Load(name); ok {
		return loc.(*time.Location)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return h.reportLoc
	}
	// Only real zone names load, so the cache stays as small as the tz database.
	h.zones.Store(name, loc)
	return loc
}

// customerTime is a date and time as customer pages show it: in loc, with
// the zone's abbreviation.
func customerTime(t time.Time, loc *time.Location) string {
	if loc == nil {
		loc = time.UTC
	}
	return t.In(loc).Format("2006-01-02 15:04 MST")
}
