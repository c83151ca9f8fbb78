package handlers

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"io"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"

	"noxportal/app"
)

// linkRequest is the body of POST /users/{supplier_user_id}/link.
type linkRequest struct {
	RedirectURI string  `json:"redirect_uri"`
	Language    *string `json:"language"`
	Brand       string  `json:"brand,omitempty"`
	// FailureScreens (default true): a failed sign-in the user can fix
	// shows the failure screen before returning to the supplier.
	FailureScreens *bool `json:"failure_screens,omitempty"`
}

// linkResponse is the data of a created link session, in the spec's order.
type linkResponse struct {
	LinkToken      string `json:"link_token"`
	LinkURL        string `json:"link_url"`
	ExpiresAt      int64  `json:"expires_at"`
	SupplierID     string `json:"supplier_id"`
	SupplierUserID string `json:"supplier_user_id"`
}

// decodeStrict decodes exactly one JSON object into v, rejecting unknown
// fields, wrong types and trailing data with an EINVALID error.
func decodeStrict(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return app.ReasonErrorf(app.EINVALID, "invalid_body", "The request body must be a JSON object.")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		var se *json.SyntaxError
		switch {
		case errors.As(err, &te):
			return app.ReasonErrorf(app.EINVALID, "invalid_body", "Field %q must be a %s.", te.Field, jsonType(te.Type.String()))
		case errors.As(err, &se):
			return app.ReasonErrorf(app.EINVALID, "invalid_body", "The request body is not valid JSON (at byte %d).", se.Offset)
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			return app.ReasonErrorf(app.EINVALID, "invalid_body", "Unknown field %s.", strings.TrimPrefix(err.Error(), "json: unknown field "))
		default:
			return app.ReasonErrorf(app.EINVALID, "invalid_body", "The request body must be a JSON object.")
		}
	}
	if _, err := dec.Token(); err != io.EOF {
		return app.ReasonErrorf(app.EINVALID, "invalid_body", "The request body must hold a single JSON object.")
	}
	return nil
}

func jsonType(goType string) string {
	switch {
	case strings.Contains(goType, "string"):
		return "string"
	case strings.Contains(goType, "int"), strings.Contains(goType, "float"):
		return "number"
	case strings.Contains(goType, "bool"):
		return "boolean"
	}
	return "object"
}

// pathParam returns a path parameter, URL-decoded.
func pathParam(c *fiber.Ctx, name string) (string, error) {
	v, err := url.PathUnescape(c.Params(name))
	if err != nil {
		return "", app.ReasonErrorf(app.EINVALID, "invalid_"+name, "%s is not correctly URL-encoded.", name)
	}
	return v, nil
}

// parseLanguage returns the requested language, English when none is given.
func parseLanguage(lang *string) (string, error) {
	if lang == nil {
		return "en", nil
	}
	if !app.ValidLanguage(*lang) {
		return "", app.ReasonErrorf(app.EINVALID, "unsupported_language",
			"language %q is not supported; use one of: %s.", *lang, strings.Join(app.Languages, ", "))
	}
	return *lang, nil
}

// supplierUserOfPath returns the calling supplier and the valid
// supplier_user_id of the request path.
func supplierUserOfPath(c *fiber.Ctx) (supplierID, supplierUserID string, err error) {
	if supplierID, err = requireSupplier(c); err != nil {
		return "", "", err
	}
	if supplierUserID, err = pathParam(c, "supplier_user_id"); err != nil {
		return "", "", err
	}
	return supplierID, supplierUserID, app.ValidateSupplierUserID(supplierUserID)
}

// createLink starts a 15-minute link session for one of the supplier's users.
func (h *Handler) createLink(c *fiber.Ctx) error {
	supplierID, supplierUserID, err := supplierUserOfPath(c)
	if err != nil {
		return err
	}
	var req linkRequest
	if err := decodeStrict(c.Body(), &req); err != nil {
		return err
	}
	lang, err := parseLanguage(req.Language)
	if err != nil {
		return err
	}
	if req.RedirectURI == "" {
		return app.ReasonErrorf(app.EINVALID, "invalid_redirect_uri", "redirect_uri is required.")
	}
	if offered := h.manufacturers.OfferedIDs(apiOwner(c).SupplierID); req.Brand != "" && !slices.Contains(offered, req.Brand) {
		return app.ReasonErrorf(app.EINVALID, "unknown_brand",
			"brand %q is not available; use one of: %s.", req.Brand, strings.Join(offered, ", "))
	}
	if !app.MatchRedirectURI(apiOwner(c).RedirectURIs, req.RedirectURI) {
		return app.ReasonErrorf(app.EINVALID, "invalid_redirect_uri",
			"redirect_uri is not one of the supplier's allowed redirect URIs (they must match exactly).")
	}
	idemKey := c.Get("Idempotency-Key")
	if !utf8.ValidString(idemKey) || utf8.RuneCountInString(idemKey) > 255 || strings.ContainsFunc(idemKey, unicode.IsControl) {
		return app.ReasonErrorf(app.EINVALID, "invalid_idempotency_key",
			"Idempotency-Key must be at most 255 characters of valid UTF-8 without control characters.")
	}
	canon, _ := json.Marshal(struct {
		UserID string `json:"u"`
		linkRequest
		Lang string `json:"l"`
	}{supplierUserID, req, lang})
	reqHash := sha256.Sum256(canon)
	sess, token, _, err := h.store.CreateLinkSession(c.UserContext(), app.NewLinkSession{
		Kind:             app.KindSupplierLink,
		SupplierID:       supplierID,
		SupplierUserID:   supplierUserID,
		RedirectURI:      req.RedirectURI,
		Language:         lang,
		Initiator:        app.InitiatorAPI,
		ManufacturerID:   req.Brand,
		TTL:              h.cfg.Link.SessionTTL.D(),
		NoFailureScreens: req.FailureScreens != nil && !*req.FailureScreens,
		IdempotencyKey:   idemKey,
		RequestHash:      reqHash[:],
	})
	if err != nil {
		return err
	}
	return sendData(c, linkResponse{
		LinkToken:      token,
		LinkURL:        h.linkURL(token),
		ExpiresAt:      sess.ExpiresAt.Unix(),
		SupplierID:     supplierID,
		SupplierUserID: supplierUserID,
	})
}

func (h *Handler) linkURL(token string) string {
	return strings.TrimRight(h.cfg.Server.PublicURL, "/") + "/connect?token=" + token
}

type supplierUserResponse struct {
	NoxUserID      *string           `json:"nox_user_id"`
	SupplierID     string            `json:"supplier_id"`
	SupplierUserID string            `json:"supplier_user_id"`
	Devices        []deviceResponse  `json:"devices"`
	Sessions       []sessionResponse `json:"link_sessions"`
}

type deviceResponse struct {
	DeviceID     string `json:"device_id"`
	Manufacturer string `json:"manufacturer"`
	Name         string `json:"name"`
	Model        string `json:"model"`
	Status       string `json:"status"`
	ConnectedAt  int64  `json:"connected_at"`
	LastSyncAt   *int64 `json:"last_sync_at"`
}

type sessionResponse struct {
	ID           string  `json:"id"`
	Status       string  `json:"status"`
	Reason       *string `json:"failure_reason"`
	Manufacturer *string `json:"manufacturer"`
	Initiator    string  `json:"initiator"`
	CreatedAt    int64   `json:"created_at"`
	ExpiresAt    int64   `json:"expires_at"`
	FinishedAt   *int64  `json:"finished_at"`
}

// showSupplierUser returns one of the calling supplier's users: nox user,
// devices and recent link sessions. Another supplier's user is a 404.
func (h *Handler) showSupplierUser(c *fiber.Ctx) error {
	supplierID, err := requireSupplier(c)
	if err != nil {
		return err
	}
	supplierUserID, err := pathParam(c, "supplier_user_id")
	if err != nil {
		return err
	}
	u, err := h.store.SupplierUser(c.UserContext(), supplierID, supplierUserID)
	if err != nil {
		return err
	}
	out := supplierUserResponse{NoxUserID: u.NoxUserID, SupplierID: supplierID, SupplierUserID: supplierUserID,
		Devices: []deviceResponse{}, Sessions: []sessionResponse{}}
	for _, d := range u.Devices {
		out.Devices = append(out.Devices, deviceResponse{DeviceID: d.ExternalID, Manufacturer: d.ManufacturerID, Name: d.Name,
			Model: d.Model, Status: d.Status, ConnectedAt: d.ConnectedAt.Unix(), LastSyncAt: unixPtr(d.LastSyncAt)})
	}
	for _, s := range u.Sessions {
		sr := sessionResponse{ID: s.ID, Status: string(s.Status), Reason: s.FailureReason, Manufacturer: s.ManufacturerID,
			Initiator: s.Initiator, CreatedAt: s.CreatedAt.Unix(), ExpiresAt: s.ExpiresAt.Unix(), FinishedAt: unixPtr(s.FinishedAt)}
		out.Sessions = append(out.Sessions, sr)
	}
	return sendData(c, out)
}

func unixPtr(t *time.Time) *int64 {
	if t == nil {
		return nil
	}
	v := t.Unix()
	return &v
}
