package app

// The mapping rules: which nox user a connection's devices go to, and which
// mapping rows it adds. The store loads the rows the rule reads (locked, in
// the connection's transaction), asks DecideMapping and writes the MappingPlan
// it returns; the primary keys of the two mapping tables still guarantee one
// nox user per supplier user and per manufacturer user when two connections
// race.

// SupplierMapping is a stored (supplier, supplier_user_id) → nox user row
// of the supplier a connection is for.
type SupplierMapping struct {
	SupplierUserID string `db:"supplier_user_id"`
	NoxUserID      string `db:"nox_user_id"`
}

// MappingRows are the stored rows a mapping is decided on.
type MappingRows struct {
	// AtSupplier are the supplier's mappings of the signed-in supplier user
	// and of the nox users the connection could go to (the session's
	// customer, the manufacturer user's nox user).
	AtSupplier []SupplierMapping
	// ManufacturerNoxUserID is the nox user the session's manufacturer user
	// is mapped to ("" none; flow 2).
	ManufacturerNoxUserID string
}

// MappingInput is a connection to map: the session as stored, the
// signed-in supplier user (flow 1: the session's own; flow 2: the one the
// supplier reports) and the stored rows.
type MappingInput struct {
	Session        LinkSession
	SupplierID     string
	SupplierUserID string
	Rows           MappingRows
}

// MappingPlan is what DecideMapping rules: the nox user the connection goes to
// and the mapping rows to add for it.
type MappingPlan struct {
	// NoxUserID is the existing nox user the connection goes to; "" with
	// NewNoxUser.
	NoxUserID string
	// NewNoxUser: create a nox user for the connection.
	NewNoxUser bool
	// MapSupplierUser: add (supplier, supplier_user_id) → the nox user.
	MapSupplierUser bool
	// MapManufacturerUser: add (manufacturer, manufacturer_user_id) → the
	// nox user.
	MapManufacturerUser bool
}

// ErrAlreadyLinked refuses to map a customer's nox user to a supplier
// account that belongs to someone else.
var ErrAlreadyLinked = ReasonErrorf(ECONFLICT, ReasonAlreadyLinked,
	"This supplier account is already linked to another NOX user, or this NOX user to another account of the supplier.")

// DecideMapping rules which nox user a connection goes to:
//
//   - A session a customer started from their own account without a
//     counterpart (flow 1 without a supplier: the customer's own devices;
//     flow 2 without a manufacturer: the customer links a supplier) goes to
//     the customer's nox user. In flow 2 the supplier user is mapped to it,
//     unless that supplier user is another nox user's, or the customer is
//     already mapped to this supplier under another id: ErrAlreadyLinked.
//     Linking the same pair again adds nothing.
//   - Otherwise a supplier user that is mapped keeps its nox user; in flow 2
//     an unmapped manufacturer user is mapped to it too.
//   - Otherwise flow 1 creates a nox user for the supplier user; flow 2 uses
//     the manufacturer user's nox user unless that nox user is already
//     mapped to this supplier under another id (then another person: a new
//     nox user). A manufacturer mapping, once made, never changes.
func DecideMapping(in MappingInput) (MappingPlan, error) {
	s := in.Session
	pair := in.Rows.noxUserOf(in.SupplierUserID)
	flow2 := s.Kind == KindSupplierSelect
	counterpart := s.SupplierID
	if flow2 {
		counterpart = s.Brand()
	}
	if s.NoxUserID != nil && counterpart == "" {
		customer := *s.NoxUserID
		if !flow2 {
			return MappingPlan{NoxUserID: customer}, nil
		}
		for _, m := range in.Rows.AtSupplier {
			if (m.SupplierUserID == in.SupplierUserID) != (m.NoxUserID == customer) {
				return MappingPlan{}, ErrAlreadyLinked
			}
		}
		return MappingPlan{NoxUserID: customer, MapSupplierUser: pair == ""}, nil
	}
	mfr := in.Rows.ManufacturerNoxUserID
	switch {
	case pair != "":
		return MappingPlan{NoxUserID: pair, MapManufacturerUser: flow2 && mfr == ""}, nil
	case !flow2:
		return MappingPlan{NewNoxUser: true, MapSupplierUser: true}, nil
	case mfr != "" && !in.Rows.mapped(mfr):
		return MappingPlan{NoxUserID: mfr, MapSupplierUser: true}, nil
	}
	return MappingPlan{NewNoxUser: true, MapSupplierUser: true, MapManufacturerUser: mfr == ""}, nil
}

// noxUserOf returns the nox user supplierUserID is mapped to, or "".
func (r MappingRows) noxUserOf(supplierUserID string) string {
	for _, m := range r.AtSupplier {
		if m.SupplierUserID == supplierUserID {
			return m.NoxUserID
		}
	}
	return ""
}

// mapped reports whether noxUserID is mapped to a user of the supplier.
func (r MappingRows) mapped(noxUserID string) bool {
	for _, m := range r.AtSupplier {
		if m.NoxUserID == noxUserID {
			return true
		}
	}
	return false
}
