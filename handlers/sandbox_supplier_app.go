package handlers

import (
	"sort"

	"github.com/gofiber/fiber/v2"

	"noxportal/app"
)

// DemoSupplierAppPath is where the demo supplier's app "receives" the end
// of a hosted link flow in the sandbox: a redirect URI of the demo
// supplier, so a local try-out ends on a page and not on a closed port.
const DemoSupplierAppPath = app.DemoSupplierAppPath

// receivedParam is one query parameter the demo supplier app received.
type receivedParam struct{ Name, Value string }

// showDemoSupplierCallback shows what the demo supplier received on its
// redirect URI: every query parameter, as sent.
func (h *Handler) showDemoSupplierCallback(c *fiber.Ctx) error {
	var params []receivedParam
	c.Request().URI().QueryArgs().VisitAll(func(k, v []byte) {
		params = append(params, receivedParam{Name: string(k), Value: string(v)})
	})
	sort.SliceStable(params, func(i, j int) bool { return params[i].Name < params[j].Name })
	return h.render(c, "pages/sandbox/supplier_app", fiber.Map{
		"Site": app.DevSupplierName, "Supplier": app.DevSupplierName, "Params": params,
		"Connected": c.Query("connection_status") == "connected",
	})
}
