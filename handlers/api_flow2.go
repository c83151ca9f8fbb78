package handlers

import (
	"strings"

	"github.com/gofiber/fiber/v2"

	"noxportal/app"
)

// supplierLinkRequest is the body of POST /manufacturer/link-sessions.
type supplierLinkRequest struct {
	ManufacturerUserID string   `json:"manufacturer_user_id"`
	DeviceIDs          []string `json:"device_ids"`
	RedirectURI        string   `json:"redirect_uri"`
	Language           *string  `json:"language"`
}

// supplierLinkResponse is the data of a created flow-2 session.
type supplierLinkResponse struct {
	LinkToken          string `json:"link_token"`
	LinkURL            string `json:"link_url"`
	ExpiresAt          int64  `json:"expires_at"`
	ManufacturerID     string `json:"manufacturer_id"`
	ManufacturerUserID string `json:"manufacturer_user_id"`
}

// requireManufacturer returns the calling manufacturer's id, or an error
// when the key belongs to a supplier.
func requireManufacturer(c *fiber.Ctx) (string, error) {
	o := apiOwner(c)
	if o.ManufacturerID == "" {
		return "", app.ReasonErrorf(app.EFORBIDDEN, "manufacturer_key_required", "This endpoint needs a manufacturer API key.")
	}
	return o.ManufacturerID, nil
}

// createSupplierLink starts a flow-2 session for one of the manufacturer's
// users: a 15-minute, single-use link to the supplier selector.
func (h *Handler) createSupplierLink(c *fiber.Ctx) error {
	manufacturerID, err := requireManufacturer(c)
	if err != nil {
		return err
	}
	var req supplierLinkRequest
	if err := decodeStrict(c.Body(), &req); err != nil {
		return err
	}
	if err := app.ValidateUserID("manufacturer_user_id", req.ManufacturerUserID); err != nil {
		return err
	}
	if err := app.ValidateDeviceIDs(req.DeviceIDs); err != nil {
		return err
	}
	lang, err := parseLanguage(req.Language)
	if err != nil {
		return err
	}
	if req.RedirectURI == "" {
		return app.ReasonErrorf(app.EINVALID, "invalid_redirect_uri", "redirect_uri is required.")
	}
	allowed, err := h.store.ManufacturerRedirectURIs(c.UserContext(), manufacturerID)
	if err != nil {
		return err
	}
	if !app.MatchRedirectURI(allowed, req.RedirectURI) {
		return app.ReasonErrorf(app.EINVALID, "invalid_redirect_uri",
			"redirect_uri is not one of the manufacturer's allowed redirect URIs (they must match exactly).")
	}
	sess, token, err := h.startSupplierLink(c, app.NewLinkSession{
		ManufacturerID: manufacturerID, ManufacturerUserID: req.ManufacturerUserID, DeviceIDs: req.DeviceIDs,
		RedirectURI: req.RedirectURI, Language: lang, Initiator: app.InitiatorManufacturer,
	})
	if err != nil {
		return err
	}
	return sendData(c, supplierLinkResponse{
		LinkToken:          token,
		LinkURL:            h.supplierSelectorURL(token),
		ExpiresAt:          sess.ExpiresAt.Unix(),
		ManufacturerID:     manufacturerID,
		ManufacturerUserID: req.ManufacturerUserID,
	})
}

// startSupplierLink creates a flow-2 session (kind supplier_select, the
// configured lifetime) for n and returns it with its link token; open
// supplierSelectorURL(token) to start. The customer dashboard calls it with
// initiator customer.
func (h *Handler) startSupplierLink(c *fiber.Ctx, n app.NewLinkSession) (app.LinkSession, string, error) {
	n.Kind, n.SupplierID, n.SupplierUserID = app.KindSupplierSelect, "", ""
	n.TTL = h.cfg.Link.SessionTTL.D()
	sess, token, _, err := h.store.CreateLinkSession(c.UserContext(), n)
	return sess, token, err
}

func (h *Handler) supplierSelectorURL(token string) string {
	return strings.TrimRight(h.cfg.Server.PublicURL, "/") + "/select-supplier?token=" + token
}

func (h *Handler) supplierReturnURL() string { return h.links.SupplierReturnURL() }

// postLoginRequest is the body of POST /post-login-redirect.
type postLoginRequest struct {
	State          string `json:"state"`
	SupplierUserID string `json:"supplier_user_id"`
}

type postLoginResponse struct {
	NoxUserID      string   `json:"nox_user_id"`
	SupplierID     string   `json:"supplier_id"`
	SupplierUserID string   `json:"supplier_user_id"`
	Manufacturer   string   `json:"manufacturer"`
	DeviceIDs      []string `json:"device_ids"`
}

// reportSupplierLogin is the supplier's report that the user of state
// logged in and accepted its terms: NOX maps the session's manufacturer user
// and devices to the supplier's user. Unknown state (404), another
// supplier's state (403), an ended (409) or expired (409, code "expired")
// session change no mapping.
func (h *Handler) reportSupplierLogin(c *fiber.Ctx) error {
	supplierID, err := requireSupplier(c)
	if err != nil {
		return err
	}
	var req postLoginRequest
	if err := decodeStrict(c.Body(), &req); err != nil {
		return err
	}
	if req.State == "" || len(req.State) > 128 {
		return app.ReasonErrorf(app.EINVALID, "invalid_state", "state is required (the value NOX sent to your login page).")
	}
	if err := app.ValidateSupplierUserID(req.SupplierUserID); err != nil {
		return err
	}
	linked, err := h.store.ReportSupplierLogin(c.UserContext(), supplierID, req.State, req.SupplierUserID)
	if err != nil {
		return err
	}
	ids := linked.DeviceIDs
	if ids == nil {
		ids = []string{}
	}
	return sendData(c, postLoginResponse{NoxUserID: linked.NoxUserID, SupplierID: supplierID,
		SupplierUserID: req.SupplierUserID, Manufacturer: linked.ManufacturerID, DeviceIDs: ids})
}
