package handlers

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/utils"

	"noxportal/app"
	"noxportal/db"
)

// statusOf maps an app error code to its HTTP status.
var statusOf = map[string]int{
	app.ECONFLICT:      fiber.StatusConflict,
	app.EINTERNAL:      fiber.StatusInternalServerError,
	app.EINVALID:       fiber.StatusBadRequest,
	app.ENOTFOUND:      fiber.StatusNotFound,
	app.EUNAUTHORIZED:  fiber.StatusUnauthorized,
	app.EFORBIDDEN:     fiber.StatusForbidden,
	app.ETOOLARGE:      fiber.StatusRequestEntityTooLarge,
	app.ERATELIMIT:     fiber.StatusTooManyRequests,
	app.EUNPROCESSABLE: fiber.StatusUnprocessableEntity,
	app.ETIMEOUT:       fiber.StatusServiceUnavailable,
}

// apiError is the error envelope of the JSON API.
type apiError struct {
	Success   bool         `json:"success"`
	Timestamp int64        `json:"timestamp"`
	Error     apiErrorBody `json:"error"`
}

type apiErrorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// apiSuccess is the success envelope of the JSON API.
type apiSuccess struct {
	Success   bool  `json:"success"`
	Timestamp int64 `json:"timestamp"`
	Data      any   `json:"data"`
}

func sendData(c *fiber.Ctx, data any) error {
	return c.Status(fiber.StatusOK).JSON(apiSuccess{Success: true, Timestamp: time.Now().Unix(), Data: data})
}

// isAPIRequest reports whether the request belongs to the JSON API.
func isAPIRequest(c *fiber.Ctx) bool {
	p := c.Path()
	return strings.HasPrefix(p, "/users/") || strings.HasPrefix(p, "/manufacturer/") ||
		p == "/post-login-redirect" || strings.HasPrefix(p, "/api/")
}

// handleError is the one place every handler error ends: it maps app and
// Fiber errors to a status, logs only internal errors, and answers with the
// API envelope or an HTML page.
func (h *Handler) handleError(c *fiber.Ctx, err error) error {
	status, reason, msg := fiber.StatusInternalServerError, "internal_error", "Internal error."
	var fe *fiber.Error
	var ae *app.Error
	if pastDeadline(c, err) {
		err = fmt.Errorf("%w: %w", app.ReasonErrorf(app.ETIMEOUT, "timeout", "The request took too long and was stopped; try again."), err)
	}
	switch {
	case errors.As(err, &ae):
		status, reason, msg = statusOf[ae.Code], ae.Reason, ae.Message
	case errors.As(err, &fe):
		status, msg = fe.Code, fe.Message
		switch fe.Code {
		case fiber.StatusRequestEntityTooLarge:
			reason, msg = "payload_too_large", "The request body is larger than 64 KiB."
		case fiber.StatusNotFound:
			reason, msg = "not_found", "Not found."
		case fiber.StatusMethodNotAllowed:
			reason = "method_not_allowed"
		case fiber.StatusTooManyRequests:
			reason = "rate_limited"
		default:
			reason = strings.ToLower(strings.ReplaceAll(utils.StatusMessage(fe.Code), " ", "_"))
		}
	}
	if status == 0 {
		status = fiber.StatusInternalServerError
	}
	c.Locals(errorReasonKey{}, reason)
	if status >= 500 {
		h.log.ErrorContext(c.UserContext(), "request failed", "method", c.Method(), "path", c.Path(), "err", err)
	}
	if isAPIRequest(c) {
		return c.Status(status).JSON(apiError{Timestamp: time.Now().Unix(), Error: apiErrorBody{Code: reason, Message: msg}})
	}
	lang := pageLang(c)
	title := h.tr.T(lang, "error.title")
	switch status {
	case fiber.StatusNotFound:
		title, msg = h.tr.T(lang, "error.not_found.title"), h.tr.T(lang, "error.not_found.body")
	case fiber.StatusForbidden, fiber.StatusTooManyRequests, fiber.StatusBadRequest, fiber.StatusConflict, fiber.StatusRequestEntityTooLarge:
		if ae == nil {
			msg = h.tr.T(lang, "error.generic")
		}
	default:
		msg = h.tr.T(lang, "error.generic")
	}
	c.Status(status)
	data := fiber.Map{"Lang": lang, "Title": title, "Message": msg, "Status": status}
	if portalUser(c).ID != 0 {
		// A signed-in user keeps the portal's navigation.
		return h.renderPortal(c, "pages/error", data)
	}
	return h.render(c, "pages/error", data)
}

// pastDeadline reports whether err comes from work stopped by the request's
// deadline: the context ended, or Postgres cancelled the statement
// (statement_timeout, lock_timeout, or the cancel a context sends).
func pastDeadline(c *fiber.Ctx, err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || c.UserContext().Err() != nil {
		return true
	}
	return db.Cancelled(err)
}

// pageLang picks the page language from ?lang=, the lang cookie or
// Accept-Language, defaulting to English.
func pageLang(c *fiber.Ctx) string {
	if l, ok := c.Locals("lang").(string); ok && app.ValidLanguage(l) {
		return l
	}
	if l := c.Query("lang"); app.ValidLanguage(l) {
		return l
	}
	if l := c.Cookies("nox_lang"); app.ValidLanguage(l) {
		return l
	}
	return c.AcceptsLanguages(app.Languages...)
}
