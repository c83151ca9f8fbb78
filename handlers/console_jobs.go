package handlers

import (
	"strconv"

	"github.com/gofiber/fiber/v2"

	"noxportal/app"
)

// showJobs lists the background jobs: state, progress, attempts and the
// last error in words, with a retry button on failed ones for staff who act.
func (h *Handler) showJobs(c *fiber.Ctx) error {
	data, err := h.consoleBase(c, "console.jobs.title", "jobs")
	if err != nil {
		return err
	}
	jobs, err := h.store.RecentJobs(c.UserContext(), 100)
	if err != nil {
		return err
	}
	data["Jobs"], data["CSRF"], data["Retried"] = jobs, h.csrfToken(c), c.Query("retried")
	return h.renderPortal(c, "pages/console/jobs", data)
}

// retryJob sends a failed job round again with a fresh set of attempts.
func (h *Handler) retryJob(c *fiber.Ctx) error {
	id, err := strconv.ParseInt(c.Params("id"), 10, 64)
	if err != nil {
		return app.Errorf(app.ENOTFOUND, "job not found")
	}
	if err := h.store.RetryJob(c.UserContext(), id, app.AuditEntry{ActorID: app.Actor(portalUser(c).ID), IP: c.IP()}); err != nil {
		return err
	}
	return c.Redirect("/console/jobs?retried="+strconv.FormatInt(id, 10), fiber.StatusSeeOther)
}
