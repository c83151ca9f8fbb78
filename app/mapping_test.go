package app_test

import (
	"errors"
	"testing"

	"noxportal/app"
)

// TestDecideMappingPicksTheNoxUserOfEveryConnection covers each rule of
// DecideMapping on the rows a connection can find stored: the signed-in
// supplier user mapped or not, the manufacturer user mapped or not, the
// candidate nox user already at the supplier under another id.
func TestDecideMappingPicksTheNoxUserOfEveryConnection(t *testing.T) {
	str := func(s string) *string { return &s }
	flow1 := app.LinkSession{Kind: app.KindSupplierLink, SupplierID: "sup_a", SupplierUserID: "u1", ManufacturerID: str("brand_a")}
	relink := flow1
	relink.NoxUserID = str("nox_old")
	ownDevices := app.LinkSession{Kind: app.KindSupplierLink, ManufacturerID: str("brand_a"), NoxUserID: str("nox_c")}
	flow2 := app.LinkSession{Kind: app.KindSupplierSelect, SupplierID: "sup_a", ManufacturerID: str("brand_a"), ManufacturerUserID: "hp1"}
	customer := app.LinkSession{Kind: app.KindSupplierSelect, SupplierID: "sup_a", NoxUserID: str("nox_c")}
	rows := func(mfr string, pairs ...string) app.MappingRows {
		r := app.MappingRows{ManufacturerNoxUserID: mfr}
		for i := 0; i < len(pairs); i += 2 {
			r.AtSupplier = append(r.AtSupplier, app.SupplierMapping{SupplierUserID: pairs[i], NoxUserID: pairs[i+1]})
		}
		return r
	}
	reuse := func(nox string) app.MappingPlan { return app.MappingPlan{NoxUserID: nox} }
	for _, tc := range []struct {
		name    string
		sess    app.LinkSession
		rows    app.MappingRows
		want    app.MappingPlan
		wantErr error
	}{
		{"flow 1, new supplier user", flow1, rows(""), app.MappingPlan{NewNoxUser: true, MapSupplierUser: true}, nil},
		{"flow 1, mapped supplier user", flow1, rows("", "u1", "nox_a"), reuse("nox_a"), nil},
		{"flow 1, another user of the supplier", flow1, rows("", "u9", "nox_b"), app.MappingPlan{NewNoxUser: true, MapSupplierUser: true}, nil},
		{"flow 1 relink follows the supplier user, not the session's nox user", relink, rows("", "u1", "nox_a"), reuse("nox_a"), nil},
		{"flow 1 from the customer's account", ownDevices, rows("", "u1", "nox_a"), reuse("nox_c"), nil},
		{"flow 2, both users new", flow2, rows(""), app.MappingPlan{NewNoxUser: true, MapSupplierUser: true, MapManufacturerUser: true}, nil},
		{"flow 2, manufacturer user mapped", flow2, rows("nox_m"), app.MappingPlan{NoxUserID: "nox_m", MapSupplierUser: true}, nil},
		{"flow 2, manufacturer's nox user is another user of the supplier", flow2, rows("nox_m", "u9", "nox_m"),
			app.MappingPlan{NewNoxUser: true, MapSupplierUser: true}, nil},
		{"flow 2, supplier user mapped", flow2, rows("", "u1", "nox_p"), app.MappingPlan{NoxUserID: "nox_p", MapManufacturerUser: true}, nil},
		{"flow 2, both mapped to different nox users", flow2, rows("nox_m", "u1", "nox_p"), reuse("nox_p"), nil},
		{"flow 2, both mapped to one nox user", flow2, rows("nox_m", "u1", "nox_m"), reuse("nox_m"), nil},
		{"customer links a new supplier user", customer, rows(""), app.MappingPlan{NoxUserID: "nox_c", MapSupplierUser: true}, nil},
		{"customer links the same supplier user again", customer, rows("", "u1", "nox_c"), reuse("nox_c"), nil},
		{"customer links another person's supplier user", customer, rows("", "u1", "nox_x"), app.MappingPlan{}, app.ErrAlreadyLinked},
		{"customer already has another id at the supplier", customer, rows("", "u9", "nox_c"), app.MappingPlan{}, app.ErrAlreadyLinked},
		{"customer has this id and another at the supplier", customer, rows("", "u1", "nox_c", "u9", "nox_c"), app.MappingPlan{}, app.ErrAlreadyLinked},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := app.DecideMapping(app.MappingInput{Session: tc.sess, SupplierID: "sup_a", SupplierUserID: "u1", Rows: tc.rows})
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("error: got %v, want %v", err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}
