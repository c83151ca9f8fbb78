package app

// Development seed data (dev.seed: true; refused in production).
const (
	DevSupplierID   = "supplier_demo"
	DevSupplierName = "Demo Energy"
	// DevAPIKey is the demo supplier's API key, printed at start-up and in the README.
	DevAPIKey = "nox_sk_demo_0000000000000000000000000000000000"
	// DevTestAPIKey is the demo supplier's test-mode key (its test twin
	// DevSupplierID+".test"), printed at start-up and in the README next to
	// DevAPIKey: its links offer only the sandbox brands.
	DevTestAPIKey = TestKeyPrefix + "demo_00000000000000000000000000000000000"
)

// DevRedirectURIs are the demo supplier's allowed redirect URIs.
var DevRedirectURIs = []string{
	"http://localhost:3000/callback",
	"http://127.0.0.1:3000/callback",
}

// Development seed data for flow 2: the sandbox heat-pump manufacturer's API
// key and redirect URIs (seeded when dev.seed and sandbox.enabled are on).
const (
	DevManufacturerID = "sandbox-heatpump"
	// DevManufacturerAPIKey is printed at start-up and in the README.
	DevManufacturerAPIKey = "nox_sk_demo_mfr_000000000000000000000000000000"
)

// DevManufacturerRedirectURIs are the sandbox manufacturer's allowed redirect URIs.
var DevManufacturerRedirectURIs = []string{
	"http://localhost:3000/manufacturer/callback",
	"http://127.0.0.1:3000/manufacturer/callback",
}

// DevPassword is the password of every development portal account.
const DevPassword = "demo-password-1"

// DevPortalAccount is a development portal account (printed at start-up
// and in the README).
type DevPortalAccount struct {
	Email string
	Name  string
	Role  string
	// Supplier is the team's supplier of a supplier_admin or supplier_viewer.
	Supplier string
}

// DevPortalAccounts are the development portal accounts, one per role.
var DevPortalAccounts = []DevPortalAccount{
	{Email: "customer@demo.nox", Name: "Demo Customer", Role: RoleCustomer},
	{Email: "agent@demo.nox", Name: "Demo Agent", Role: RoleAgent},
	{Email: "manager@demo.nox", Name: "Demo Manager", Role: RoleManager},
	{Email: "admin@demo.nox", Name: "Demo Admin", Role: RoleAdmin},
	{Email: "developer@demo.nox", Name: "Demo Developer", Role: RoleSupplierAdmin, Supplier: DevSupplierID},
	{Email: "viewer@demo.nox", Name: "Demo Viewer", Role: RoleSupplierViewer, Supplier: DevSupplierID},
}

// DemoSupplierAppPath is the sandbox page that plays the demo supplier's app
// receiving the end of a link flow (one of the demo supplier's redirect URIs
// when the sandbox is on).
const DemoSupplierAppPath = "/sandbox/supplier-app/callback"
