package handlers

import (
	"github.com/gofiber/fiber/v2"

	"noxportal/app"
)

// comfortBoundsRequest is the body of PUT .../comfort-bounds.
type comfortBoundsRequest struct {
	IndoorMinC   *float64 `json:"indoor_min_c"`
	IndoorMaxC   *float64 `json:"indoor_max_c"`
	HotWaterMinC *float64 `json:"hot_water_min_c"`
	HotWaterMaxC *float64 `json:"hot_water_max_c"`
	Version      *int     `json:"version"`
}

type comfortBoundsResponse struct {
	NoxUserID          string   `json:"nox_user_id"`
	SupplierUserID     string   `json:"supplier_user_id,omitempty"`
	ManufacturerUserID string   `json:"manufacturer_user_id,omitempty"`
	IndoorMinC         float64  `json:"indoor_min_c"`
	IndoorMaxC         float64  `json:"indoor_max_c"`
	HotWaterMinC       *float64 `json:"hot_water_min_c"`
	HotWaterMaxC       *float64 `json:"hot_water_max_c"`
	Version            int      `json:"version"`
	UpdatedBy          string   `json:"updated_by"`
	UpdatedAt          int64    `json:"updated_at"`
}

// comfortUser resolves the user of a comfort-bounds request: a supplier's
// supplier_user_id under /users/, a manufacturer's manufacturer_user_id
// under /manufacturer/users/. Another party's user is a 404.
func (h *Handler) comfortUser(c *fiber.Ctx) (party app.Party, userID, noxUserID string, err error) {
	if c.Params("manufacturer_user_id") != "" {
		id, err := requireManufacturer(c)
		if err != nil {
			return party, "", "", err
		}
		party = app.ManufacturerParty(id)
		userID, err = pathParam(c, "manufacturer_user_id")
		if err != nil {
			return party, "", "", err
		}
	} else {
		id, err := requireSupplier(c)
		if err != nil {
			return party, "", "", err
		}
		party = app.SupplierParty(id)
		userID, err = pathParam(c, "supplier_user_id")
		if err != nil {
			return party, "", "", err
		}
	}
	noxUserID, err = h.store.NoxUserOf(c.UserContext(), party, userID)
	return party, userID, noxUserID, err
}

func comfortResponse(party app.Party, userID string, b app.ComfortBounds) comfortBoundsResponse {
	r := comfortBoundsResponse{NoxUserID: b.NoxUserID, IndoorMinC: b.IndoorMinC, IndoorMaxC: b.IndoorMaxC,
		HotWaterMinC: b.HotWaterMinC, HotWaterMaxC: b.HotWaterMaxC, Version: b.Version,
		UpdatedBy: b.UpdatedBy.Kind, UpdatedAt: b.UpdatedAt.Unix()}
	if party.Kind == app.PartySupplier {
		r.SupplierUserID = userID
	} else {
		r.ManufacturerUserID = userID
	}
	return r
}

// showComfortBounds returns a linked user's comfort bounds and their version.
func (h *Handler) showComfortBounds(c *fiber.Ctx) error {
	party, userID, noxUserID, err := h.comfortUser(c)
	if err != nil {
		return err
	}
	b, err := h.store.ComfortBounds(c.UserContext(), noxUserID)
	if err != nil {
		return err
	}
	return sendData(c, comfortResponse(party, userID, b))
}

// updateComfortBounds replaces a linked user's comfort bounds when the
// request's version is the current one (409 otherwise) and tells every
// other linked party by webhook.
func (h *Handler) updateComfortBounds(c *fiber.Ctx) error {
	party, userID, noxUserID, err := h.comfortUser(c)
	if err != nil {
		return err
	}
	var req comfortBoundsRequest
	if err := decodeStrict(c.Body(), &req); err != nil {
		return err
	}
	switch {
	case req.IndoorMinC == nil || req.IndoorMaxC == nil:
		return app.ReasonErrorf(app.EINVALID, "invalid_comfort_bounds", "indoor_min_c and indoor_max_c are required.")
	case req.Version == nil:
		return app.ReasonErrorf(app.EINVALID, "invalid_comfort_bounds",
			"version is required: the version you read, or 0 when the user has no comfort bounds yet.")
	}
	b, err := h.store.SetComfortBounds(c.UserContext(), app.ComfortBounds{
		NoxUserID: noxUserID, IndoorMinC: *req.IndoorMinC, IndoorMaxC: *req.IndoorMaxC,
		HotWaterMinC: req.HotWaterMinC, HotWaterMaxC: req.HotWaterMaxC, ExpectVersion: *req.Version,
	}, party)
	if err != nil {
		return err
	}
	return sendData(c, comfortResponse(party, userID, b))
}
