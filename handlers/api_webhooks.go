package handlers

import (
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"noxportal/app"
)

// webhookOwner returns the supplier or manufacturer the API key belongs to.
func webhookOwner(c *fiber.Ctx) app.Party {
	o := apiOwner(c)
	if o.SupplierID != "" {
		return app.SupplierParty(o.SupplierID)
	}
	return app.ManufacturerParty(o.ManufacturerID)
}

type webhookEndpointRequest struct {
	URL          string `json:"url"`
	RotateSecret bool   `json:"rotate_secret"`
}

type webhookEndpointResponse struct {
	URL          string `json:"url"`
	Secret       string `json:"secret,omitempty"`
	FailingSince *int64 `json:"failing_since"`
	CreatedAt    int64  `json:"created_at"`
	UpdatedAt    int64  `json:"updated_at"`
}

func endpointResponse(e app.WebhookEndpoint, secret string) webhookEndpointResponse {
	return webhookEndpointResponse{URL: e.URL, Secret: secret, FailingSince: unixPtr(e.FailingSince),
		CreatedAt: e.CreatedAt.Unix(), UpdatedAt: e.UpdatedAt.Unix()}
}

// showWebhookEndpoint returns the caller's endpoint (never its secret).
func (h *Handler) showWebhookEndpoint(c *fiber.Ctx) error {
	e, err := h.store.WebhookEndpoint(c.UserContext(), webhookOwner(c))
	if err != nil {
		return err
	}
	return sendData(c, endpointResponse(e, ""))
}

// updateWebhookEndpoint registers the caller's endpoint URL. The signing
// secret is in the response only when the endpoint is new or rotate_secret
// is true; store it then.
func (h *Handler) updateWebhookEndpoint(c *fiber.Ctx) error {
	var req webhookEndpointRequest
	if err := decodeStrict(c.Body(), &req); err != nil {
		return err
	}
	owner := webhookOwner(c)
	secret, err := h.store.SetWebhookEndpoint(c.UserContext(), owner, req.URL, req.RotateSecret)
	if err != nil {
		return err
	}
	e, err := h.store.WebhookEndpoint(c.UserContext(), owner)
	if err != nil {
		return err
	}
	return sendData(c, endpointResponse(e, secret))
}

// deleteWebhookEndpoint removes the caller's endpoint and its pending deliveries.
func (h *Handler) deleteWebhookEndpoint(c *fiber.Ctx) error {
	if err := h.store.DeleteWebhookEndpoint(c.UserContext(), webhookOwner(c)); err != nil {
		return err
	}
	return sendData(c, fiber.Map{"deleted": true})
}

type webhookAttemptResponse struct {
	Attempt    int    `json:"attempt"`
	Outcome    string `json:"outcome"`
	StatusCode *int   `json:"status_code"`
	LatencyMS  int    `json:"latency_ms"`
	Error      string `json:"error,omitempty"`
	At         int64  `json:"at"`
}

type webhookDeliveryResponse struct {
	ID            string                   `json:"id"`
	EventID       string                   `json:"event_id"`
	EventType     string                   `json:"event_type"`
	Status        string                   `json:"status"`
	Attempts      int                      `json:"attempts"`
	NextAttemptAt *int64                   `json:"next_attempt_at"`
	LastCode      *int                     `json:"last_status_code"`
	LastError     string                   `json:"last_error,omitempty"`
	ReplayOf      *string                  `json:"replay_of"`
	CreatedAt     int64                    `json:"created_at"`
	FinishedAt    *int64                   `json:"finished_at"`
	Log           []webhookAttemptResponse `json:"log"`
}

func deliveryResponse(d app.WebhookDelivery) webhookDeliveryResponse {
	r := webhookDeliveryResponse{ID: d.ID, EventID: d.EventID, EventType: d.EventType, Status: d.Status,
		Attempts: d.Attempts, LastCode: d.LastCode, LastError: app.ReadableWebhookError(d.LastError), ReplayOf: d.ReplayOf,
		CreatedAt: d.CreatedAt.Unix(), FinishedAt: unixPtr(d.FinishedAt), Log: []webhookAttemptResponse{}}
	if d.Status == app.DeliveryPending {
		r.NextAttemptAt = unixPtr(&d.NextAttemptAt)
	}
	for _, a := range d.Log {
		r.Log = append(r.Log, webhookAttemptResponse{Attempt: a.Attempt, Outcome: a.Outcome, StatusCode: a.StatusCode,
			LatencyMS: a.LatencyMS, Error: app.ReadableWebhookError(a.Error), At: a.At.Unix()})
	}
	return r
}

// listWebhookDeliveries returns the caller's recent deliveries with their
// log (?limit=1..100, default 20; ?type= filters by event type).
func (h *Handler) listWebhookDeliveries(c *fiber.Ctx) error {
	limit := 20
	if v := c.Query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			return app.ReasonErrorf(app.EINVALID, "invalid_limit", "limit must be a number from 1 to 100.")
		}
		limit = n
	}
	ds, err := h.store.WebhookDeliveries(c.UserContext(), webhookOwner(c), c.Query("type"), limit)
	if err != nil {
		return err
	}
	out := make([]webhookDeliveryResponse, 0, len(ds))
	for _, d := range ds {
		out = append(out, deliveryResponse(d))
	}
	return sendData(c, fiber.Map{"deliveries": out, "as_of": time.Now().Unix()})
}

// showWebhookDelivery returns one of the caller's deliveries with its log.
func (h *Handler) showWebhookDelivery(c *fiber.Ctx) error {
	owner := webhookOwner(c)
	d, err := h.store.WebhookDelivery(c.UserContext(), &owner, c.Params("id"))
	if err != nil {
		return err
	}
	return sendData(c, deliveryResponse(d))
}

// replayWebhookDelivery sends one of the caller's deliveries again, as a new
// delivery with its own id; it returns the new delivery.
func (h *Handler) replayWebhookDelivery(c *fiber.Ctx) error {
	owner := webhookOwner(c)
	d, err := h.store.ReplayWebhookDelivery(c.UserContext(), &owner, c.Params("id"))
	if err != nil {
		return err
	}
	return sendData(c, deliveryResponse(d))
}
