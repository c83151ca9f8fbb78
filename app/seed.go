package app

// Development seed data (dev.seed: true; refused in production).
const (
	DevSupplierID   = "supplier_demo"
	DevSupplierName = "Demo Energy"
	// DevAPIKey is the demo supplier's API key, printed at start-up and in the README.
	DevAPIKey = "nox_sk_demo_0000000000000000000000000000000000"
)

// DevRedirectURIs are the demo supplier's allowed redirect URIs.
var DevRedirectURIs = []string{
	"http://localhost:3000/callback",
	"http://127.0.0.1:3000/callback",
}
