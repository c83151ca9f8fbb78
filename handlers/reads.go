package handlers

import (
	"time"

	"github.com/gofiber/fiber/v2"

	"noxportal/db"
)

// HeaderReadSource says where a page's reads ran: "replica", "primary" or
// both ("replica, primary").
const HeaderReadSource = "X-Read-Source"

// staleAfter is the replica lag from which a page says how fresh it is.
const staleAfter = 5 * time.Second

// readSource collects where one request's reads ran.
type readSource struct {
	replica, primary bool
	lag              time.Duration
}

const readSourceKey = "readSource"

// read runs fn on the replica when one is configured, up and within
// database.replica_max_lag, else on the primary (see db.Reads), and notes
// on the request where it ran. Only reads that may be a few seconds behind
// go through it: the console search, a customer's console page, reports.
func (h *Handler) read(c *fiber.Ctx, fn func(*db.Store) error) error {
	src, err := h.reads.Read(c.UserContext(), fn)
	rs, _ := c.Locals(readSourceKey).(*readSource)
	if rs == nil {
		rs = &readSource{}
		c.Locals(readSourceKey, rs)
	}
	if src.Replica {
		rs.replica = true
		rs.lag = max(rs.lag, src.Lag)
	} else {
		rs.primary = true
	}
	switch {
	case rs.replica && rs.primary:
		c.Set(HeaderReadSource, "replica, primary")
	case rs.replica:
		c.Set(HeaderReadSource, "replica")
	default:
		c.Set(HeaderReadSource, "primary")
	}
	return err
}

// freshness is the note a page read from the replica shows when the
// replica is more than staleAfter behind ("" otherwise).
func (h *Handler) freshness(c *fiber.Ctx, lang string) string {
	rs, _ := c.Locals(readSourceKey).(*readSource)
	if rs == nil || !rs.replica || rs.lag < staleAfter {
		return ""
	}
	return h.tr.T(lang, "fleet.freshness", shortAge(rs.lag))
}
