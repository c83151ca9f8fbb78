package handlers_test

import (
	"context"
	"testing"

	"noxportal/app"
	"noxportal/handlers/handlertest"
)

// linkedThreeWays links one nox user to the sandbox supplier (SE-1001), the
// sandbox heat-pump maker (hp-user-1, flow 2) and the sandbox thermostat
// maker (devices through flow 1), and gives every party an API key and a
// webhook receiver.
type threeParties struct {
	s                               *handlertest.Server
	supplierKey, heatpumpKey, thKey string
	supplier, heatpump, thermostat  *handlertest.Receiver
	noxUserID                       string
}

func linkedThreeWays(t *testing.T) threeParties {
	t.Helper()
	s := handlertest.Start(t)
	ctx := context.Background()
	p := threeParties{s: s, supplierKey: s.Config.Sandbox.Supplier.APIKey, heatpumpKey: s.ManufacturerKey}
	var err error
	if p.thKey, err = s.Store.CreateAPIKey(ctx, app.APIKeyOwner{ManufacturerID: "sandbox-thermostat"}, "test"); err != nil {
		t.Fatal(err)
	}
	p.supplier, p.heatpump, p.thermostat = handlertest.NewReceiver(t, nil), handlertest.NewReceiver(t, nil), handlertest.NewReceiver(t, nil)
	s.MustRegisterWebhook(t, p.supplierKey, p.supplier)
	s.MustRegisterWebhook(t, p.heatpumpKey, p.heatpump)
	s.MustRegisterWebhook(t, p.thKey, p.thermostat)

	link := s.MustCreateSupplierLink(t, "hp-user-1", "", "HP-1")
	final := s.WalkSupplier(t, s.Client(), link["link_url"].(string), s.Config.Sandbox.Supplier.ID, "user_good", "accept")
	_, q := mustQuery(t, final)
	p.noxUserID = q.Get("nox_user_id")

	sup := s.Config.Sandbox.Supplier
	if err := s.Store.UpsertSupplier(ctx, app.Supplier{ID: sup.ID, Name: sup.Name, RedirectURIs: []string{s.RedirectURI}}); err != nil {
		t.Fatal(err)
	}
	r := s.API(t, "POST", "/users/SE-1001/link", p.supplierKey, `{"redirect_uri":"`+s.RedirectURI+`","brand":"sandbox-thermostat"}`)
	if r.Status != 200 {
		t.Fatalf("flow 1 link: %d %s", r.Status, r.Raw)
	}
	final = s.Walk(t, s.Client(), r.Data()["link_url"].(string), "sandbox-thermostat", "user_good", "pass_good", "allow")
	if _, q := mustQuery(t, final); q.Get("nox_user_id") != p.noxUserID {
		t.Fatalf("flow 1 for SE-1001 gave nox user %s, want %s", q.Get("nox_user_id"), p.noxUserID)
	}
	return p
}

func TestComfortBoundsPropagateToEveryOtherLinkedParty(t *testing.T) {
	t.Parallel()
	p := linkedThreeWays(t)
	s := p.s
	r := s.API(t, "PUT", "/users/SE-1001/comfort-bounds", p.supplierKey,
		`{"indoor_min_c":19.5,"indoor_max_c":22,"hot_water_min_c":45,"hot_water_max_c":55,"version":0}`)
	if r.Status != 200 || r.Data()["version"] != float64(1) || r.Data()["updated_by"] != "supplier" {
		t.Fatalf("supplier sets bounds: got %d %s, want 200 version 1", r.Status, r.Raw)
	}
	isUpdate := func(version float64) func([]handlertest.Webhook) bool {
		return func(ws []handlertest.Webhook) bool {
			for _, w := range handlertest.OfType(ws, app.EventComfortBoundsUpdated) {
				if w.Data["version"] == version {
					return true
				}
			}
			return false
		}
	}
	hp := p.heatpump.WaitFor(t, "comfort bounds v1 at the heat-pump maker", isUpdate(1))
	th := p.thermostat.WaitFor(t, "comfort bounds v1 at the thermostat maker", isUpdate(1))
	w := handlertest.OfType(hp, app.EventComfortBoundsUpdated)[0]
	if !w.SignatureOK || w.Data["manufacturer_user_id"] != "hp-user-1" || w.Data["indoor_min_c"] != 19.5 ||
		w.Data["hot_water_max_c"] != float64(55) || w.Data["updated_by"] != "supplier" || w.Data["nox_user_id"] != p.noxUserID {
		t.Errorf("heat-pump maker's webhook: got %s (signature ok %v)", w.Body, w.SignatureOK)
	}
	if w := handlertest.OfType(th, app.EventComfortBoundsUpdated)[0]; !w.SignatureOK || len(w.Data["device_ids"].([]any)) != 1 {
		t.Errorf("thermostat maker's webhook: got %s, want its device ids", w.Body)
	}

	r = s.API(t, "PUT", "/manufacturer/users/hp-user-1/comfort-bounds", p.heatpumpKey, `{"indoor_min_c":18,"indoor_max_c":21.5,"version":1}`)
	if r.Status != 200 || r.Data()["version"] != float64(2) || r.Data()["hot_water_min_c"] != nil {
		t.Fatalf("manufacturer sets bounds: got %d %s, want 200 version 2 without hot water", r.Status, r.Raw)
	}
	sup := p.supplier.WaitFor(t, "comfort bounds v2 at the supplier", isUpdate(2))
	p.thermostat.WaitFor(t, "comfort bounds v2 at the thermostat maker", isUpdate(2))
	if w := handlertest.OfType(sup, app.EventComfortBoundsUpdated)[0]; w.Data["supplier_user_id"] != "SE-1001" || w.Data["updated_by"] != "manufacturer" {
		t.Errorf("supplier's webhook: got %s", w.Body)
	}
	for _, c := range []struct {
		name, key string
		want      int
	}{{"supplier", p.supplierKey, 1}, {"heat-pump maker", p.heatpumpKey, 1}, {"thermostat maker", p.thKey, 2}} {
		r := s.API(t, "GET", "/api/webhooks/deliveries?type="+app.EventComfortBoundsUpdated, c.key, "")
		if got := len(r.Data()["deliveries"].([]any)); got != c.want {
			t.Errorf("%s: %d comfort_bounds.updated deliveries, want %d (none for its own change)", c.name, got, c.want)
		}
	}
	r = s.API(t, "GET", "/users/SE-1001/comfort-bounds", p.supplierKey, "")
	if r.Status != 200 || r.Data()["indoor_max_c"] != 21.5 || r.Data()["updated_by"] != "manufacturer" {
		t.Errorf("supplier reads bounds: got %d %s", r.Status, r.Raw)
	}
}

func TestComfortBoundsRefuseStaleVersionsAndInvalidValues(t *testing.T) {
	t.Parallel()
	s := handlertest.Start(t)
	link := s.MustCreateSupplierLink(t, "hp-cb", "", "HP-1")
	s.WalkSupplier(t, s.Client(), link["link_url"].(string), s.Config.Sandbox.Supplier.ID, "user_good", "accept")
	key := s.Config.Sandbox.Supplier.APIKey
	path := "/users/SE-1001/comfort-bounds"
	if r := s.API(t, "GET", path, key, ""); r.Status != 404 {
		t.Errorf("bounds before any are set: got %d %s, want 404", r.Status, r.Raw)
	}
	if r := s.API(t, "PUT", path, key, `{"indoor_min_c":19,"indoor_max_c":22,"version":0}`); r.Status != 200 {
		t.Fatalf("first write: got %d %s", r.Status, r.Raw)
	}
	tests := []struct {
		name, body string
		status     int
		code       string
	}{
		{"stale version", `{"indoor_min_c":18,"indoor_max_c":22,"version":0}`, 409, "stale_version"},
		{"version from the future", `{"indoor_min_c":18,"indoor_max_c":22,"version":7}`, 409, "stale_version"},
		{"min above max", `{"indoor_min_c":23,"indoor_max_c":22,"version":1}`, 400, "invalid_comfort_bounds"},
		{"indoor too cold", `{"indoor_min_c":2,"indoor_max_c":22,"version":1}`, 400, "invalid_comfort_bounds"},
		{"indoor too hot", `{"indoor_min_c":20,"indoor_max_c":35,"version":1}`, 400, "invalid_comfort_bounds"},
		{"hot water alone", `{"indoor_min_c":19,"indoor_max_c":22,"hot_water_min_c":45,"version":1}`, 400, "invalid_comfort_bounds"},
		{"hot water too hot", `{"indoor_min_c":19,"indoor_max_c":22,"hot_water_min_c":45,"hot_water_max_c":90,"version":1}`, 400, "invalid_comfort_bounds"},
		{"two decimals", `{"indoor_min_c":19.25,"indoor_max_c":22,"version":1}`, 400, "invalid_comfort_bounds"},
		{"no version", `{"indoor_min_c":19,"indoor_max_c":22}`, 400, "invalid_comfort_bounds"},
		{"text temperature", `{"indoor_min_c":"19","indoor_max_c":22,"version":1}`, 400, "invalid_body"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := s.API(t, "PUT", path, key, tt.body)
			if r.Status != tt.status || r.ErrorCode() != tt.code {
				t.Errorf("got %d %s, want %d %s", r.Status, r.Raw, tt.status, tt.code)
			}
		})
	}
	r := s.API(t, "GET", path, key, "")
	if r.Data()["version"] != float64(1) || r.Data()["indoor_min_c"] != float64(19) {
		t.Errorf("refused writes changed the bounds: %s", r.Raw)
	}
	if r := s.API(t, "GET", "/users/nobody/comfort-bounds", key, ""); r.Status != 404 {
		t.Errorf("unknown user: got %d, want 404", r.Status)
	}
	if r := s.API(t, "GET", path, s.APIKey, ""); r.Status != 404 {
		t.Errorf("another supplier's user: got %d, want 404", r.Status)
	}
}

func TestLinkEventsReachTheSupplierSigned(t *testing.T) {
	t.Parallel()
	s := handlertest.Start(t)
	rec := handlertest.NewReceiver(t, nil)
	s.MustRegisterWebhook(t, s.APIKey, rec)
	link := s.MustCreateLink(t, "cust-hook")
	s.Walk(t, s.Client(), link["link_url"].(string), "sandbox-heatpump", "user_good", "pass_good", "allow")
	denied := s.MustCreateLink(t, "cust-denied")
	s.Walk(t, s.Client(), denied["link_url"].(string), "sandbox-heatpump", "user_good", "pass_good", "deny")
	late := s.MustCreateLink(t, "cust-late")
	s.ExpireLinkSession(t, late["link_token"].(string))
	if n, err := s.Store.SweepExpiredSessions(t.Context()); err != nil || n != 1 {
		t.Fatalf("sweep: %d, %v", n, err)
	}
	got := rec.WaitFor(t, "link.connected, link.failed and link.expired", func(ws []handlertest.Webhook) bool {
		return len(handlertest.OfType(ws, app.EventLinkConnected)) == 1 && len(handlertest.OfType(ws, app.EventLinkFailed)) == 1 &&
			len(handlertest.OfType(ws, app.EventLinkExpired)) == 1
	})
	ids := map[string]bool{}
	for _, w := range got {
		if !w.SignatureOK || w.DeliveryID == "" || ids[w.DeliveryID] {
			t.Errorf("%s: signature ok %v, delivery id %q (unique ids needed)", w.EventType, w.SignatureOK, w.DeliveryID)
		}
		ids[w.DeliveryID] = true
		if w.Event["type"] != w.EventType {
			t.Errorf("body type %v, header %s", w.Event["type"], w.EventType)
		}
	}
	c := handlertest.OfType(got, app.EventLinkConnected)[0].Data
	if c["supplier_user_id"] != "cust-hook" || c["manufacturer"] != "sandbox-heatpump" || c["nox_user_id"] == "" || len(c["device_ids"].([]any)) != 1 {
		t.Errorf("link.connected data: %v", c)
	}
	if f := handlertest.OfType(got, app.EventLinkFailed)[0].Data; f["reason"] != "access_denied" || f["supplier_user_id"] != "cust-denied" {
		t.Errorf("link.failed data: %v", f)
	}
	if e := handlertest.OfType(got, app.EventLinkExpired)[0].Data; e["supplier_user_id"] != "cust-late" {
		t.Errorf("link.expired data: %v", e)
	}
}

func TestSupplierLinkedReachesSupplierAndManufacturer(t *testing.T) {
	t.Parallel()
	s := handlertest.Start(t)
	sup, mfr := handlertest.NewReceiver(t, nil), handlertest.NewReceiver(t, nil)
	s.MustRegisterWebhook(t, s.Config.Sandbox.Supplier.APIKey, sup)
	s.MustRegisterWebhook(t, s.ManufacturerKey, mfr)
	link := s.MustCreateSupplierLink(t, "hp-wh", "", "HP-7")
	s.WalkSupplier(t, s.Client(), link["link_url"].(string), s.Config.Sandbox.Supplier.ID, "user_good", "accept")
	for name, r := range map[string]*handlertest.Receiver{"supplier": sup, "manufacturer": mfr} {
		got := r.WaitFor(t, "supplier.linked at the "+name, func(ws []handlertest.Webhook) bool {
			return len(handlertest.OfType(ws, app.EventSupplierLinked)) == 1
		})
		d := handlertest.OfType(got, app.EventSupplierLinked)[0].Data
		if d["supplier_user_id"] != "SE-1001" || d["manufacturer_user_id"] != "hp-wh" || d["nox_user_id"] == "" ||
			len(d["device_ids"].([]any)) != 1 || d["status"] != "connected" {
			t.Errorf("%s: supplier.linked data %v", name, d)
		}
	}
}

func TestDeviceStatusChangesReachEveryLinkedParty(t *testing.T) {
	t.Parallel()
	p := linkedThreeWays(t)
	// Support marks the device for relinking (console), then the customer
	// disconnects it (dashboard): the two store writes behind those pages.
	var deviceID int64
	if err := p.s.Store.DB().GetContext(t.Context(), &deviceID, `SELECT id FROM devices
		WHERE nox_user_id = $1 AND manufacturer_id = 'sandbox-heatpump' AND external_id = 'HP-1'`, p.noxUserID); err != nil {
		t.Fatal(err)
	}
	if err := p.s.Store.MarkRelinkRequired(t.Context(), p.s.Config.Sandbox.Supplier.ID, "SE-1001", deviceID, app.AuditEntry{}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.s.Store.DisconnectDevice(t.Context(), p.noxUserID, deviceID, app.AuditEntry{}); err != nil {
		t.Fatal(err)
	}
	for name, r := range map[string]*handlertest.Receiver{"supplier": p.supplier, "heat-pump maker": p.heatpump, "thermostat maker": p.thermostat} {
		got := r.WaitFor(t, "device events at the "+name, func(ws []handlertest.Webhook) bool {
			return len(handlertest.OfType(ws, app.EventDeviceRelinkRequired)) == 1 && len(handlertest.OfType(ws, app.EventDeviceDisconnected)) == 1
		})
		if d := handlertest.OfType(got, app.EventDeviceDisconnected)[0].Data; d["device_id"] != "HP-1" || d["manufacturer"] != "sandbox-heatpump" {
			t.Errorf("%s: device.disconnected data %v", name, d)
		}
	}
}

func TestWebhookReplaySendsTheEventAgainUnderANewDeliveryID(t *testing.T) {
	t.Parallel()
	s := handlertest.Start(t)
	rec := handlertest.NewReceiver(t, nil)
	s.MustRegisterWebhook(t, s.APIKey, rec)
	link := s.MustCreateLink(t, "cust-replay")
	s.Walk(t, s.Client(), link["link_url"].(string), "sandbox-heatpump", "user_good", "pass_good", "allow")
	first := rec.WaitFor(t, "link.connected", func(ws []handlertest.Webhook) bool { return len(ws) == 1 })[0]
	r := s.API(t, "POST", "/api/webhooks/deliveries/"+first.DeliveryID+"/replay", s.APIKey, "")
	if r.Status != 200 || r.Data()["replay_of"] != first.DeliveryID || r.Data()["id"] == first.DeliveryID {
		t.Fatalf("replay: got %d %s", r.Status, r.Raw)
	}
	again := rec.WaitFor(t, "the replay", func(ws []handlertest.Webhook) bool { return len(ws) == 2 })[1]
	if again.DeliveryID != r.Data()["id"] || string(again.Body) != string(first.Body) || !again.SignatureOK {
		t.Errorf("replay: delivery %s body %s, want delivery %v and the same body", again.DeliveryID, again.Body, r.Data()["id"])
	}
	if r := s.API(t, "POST", "/api/webhooks/deliveries/"+first.DeliveryID+"/replay", s.ManufacturerKey, ""); r.Status != 404 {
		t.Errorf("another party replays it: got %d, want 404", r.Status)
	}
	d := s.API(t, "GET", "/api/webhooks/deliveries/"+first.DeliveryID, s.APIKey, "").Data()
	log, _ := d["log"].([]any)
	if d["status"] != "succeeded" || len(log) != 1 || log[0].(map[string]any)["status_code"] != float64(204) {
		t.Errorf("delivery log: %v", d)
	}
}

func TestWebhookEndpointMustBeHTTPSOrLoopback(t *testing.T) {
	t.Parallel()
	s := handlertest.Start(t)
	tests := []struct {
		url    string
		status int
	}{
		{"https://hooks.example/nox", 200},
		{"http://127.0.0.1:9999/hooks", 200},
		{"http://hooks.example/nox", 400},
		{"ftp://hooks.example/nox", 400},
		{"https://user:pw@hooks.example/nox", 400},
		{"/relative", 400},
	}
	for _, tt := range tests {
		r := s.API(t, "PUT", "/api/webhooks/endpoint", s.APIKey, `{"url":"`+tt.url+`"}`)
		if r.Status != tt.status {
			t.Errorf("%s: got %d %s, want %d", tt.url, r.Status, r.Raw, tt.status)
		}
	}
	r := s.API(t, "PUT", "/api/webhooks/endpoint", s.APIKey, `{"url":"https://hooks.example/v2"}`)
	if r.Data()["secret"] != nil {
		t.Errorf("changing the URL showed the secret again: %s", r.Raw)
	}
	r = s.API(t, "PUT", "/api/webhooks/endpoint", s.APIKey, `{"url":"https://hooks.example/v2","rotate_secret":true}`)
	if sec, _ := r.Data()["secret"].(string); len(sec) < 40 {
		t.Errorf("rotation: got %s, want a new secret", r.Raw)
	}
}

func TestCustomerDisconnectTellsEveryLinkedParty(t *testing.T) {
	t.Parallel()
	p := linkedThreeWays(t)
	devices, err := p.s.Store.CustomerDevices(t.Context(), p.noxUserID)
	if err != nil {
		t.Fatal(err)
	}
	var thermostat app.DashboardDevice
	for _, d := range devices {
		if d.ManufacturerID == "sandbox-thermostat" {
			thermostat = d
		}
	}
	if _, err := p.s.Store.DisconnectDevice(t.Context(), p.noxUserID, thermostat.ID, app.AuditEntry{IP: "127.0.0.1"}); err != nil {
		t.Fatal(err)
	}
	for name, r := range map[string]*handlertest.Receiver{"supplier": p.supplier, "heat-pump maker": p.heatpump, "thermostat maker": p.thermostat} {
		got := r.WaitFor(t, "device.disconnected at the "+name, func(ws []handlertest.Webhook) bool {
			return len(handlertest.OfType(ws, app.EventDeviceDisconnected)) == 1
		})
		if d := handlertest.OfType(got, app.EventDeviceDisconnected)[0].Data; d["device_id"] != thermostat.ExternalID || d["manufacturer"] != "sandbox-thermostat" {
			t.Errorf("%s: device.disconnected data %v", name, d)
		}
	}
}
