package main

import (
	"fmt"
	"strings"

	"noxportal/app"
)

func printDevBanner(cfg app.Config) {
	base := strings.TrimRight(cfg.Server.PublicURL, "/")
	// The flow ends on the sandbox's demo supplier app when there is one.
	redirect := app.DevRedirectURIs[0]
	if cfg.Sandbox.Enabled {
		redirect = base + app.DemoSupplierAppPath
	}
	fmt.Fprintf(stdout, `
  noxportal is running at %[1]s

  Demo supplier:  %[2]s
  Demo API key:   %[3]s
  Demo test key:  %[6]s  (test mode: sandbox brands only)

  Create a link session (then open the link_url in a browser):

    curl -s -X POST %[1]s/users/customer_42/link \
      -H 'Content-Type: application/json' \
      -H 'x-api-key: %[3]s' \
      -d '{"redirect_uri": "%[5]s", "language": "en"}'

  Sandbox manufacturer login: user_good / pass_good

  Reports: 90 days of demo history. On a first start they are seeded in the
  background; a line "report history seeded" says when /reports is complete.

  Portal (%[1]s/login), password %[4]s for every account:
`, base, app.DevSupplierID, app.DevAPIKey, app.DevPassword, redirect, app.DevTestAPIKey)
	for _, a := range app.DevPortalAccounts {
		fmt.Fprintf(stdout, "    %-16s %s\n", a.Role, a.Email)
	}
	fmt.Fprintf(stdout, `
  Open a customer's dashboard from a supplier (one-time URL, 5 minutes):

    curl -s -X POST %[1]s/users/customer_42/dashboard-sessions \
      -H 'Content-Type: application/json' -H 'x-api-key: %[2]s' -d '{"language": "en"}'

`, base, app.DevAPIKey)
	if !cfg.Sandbox.Enabled {
		return
	}
	fmt.Fprintf(stdout, `  Flow 2 — the user starts at the manufacturer and picks a supplier:

  Sandbox manufacturer:  %[2]s
  Manufacturer API key:  %[3]s

    curl -s -X POST %[1]s/manufacturer/link-sessions \
      -H 'Content-Type: application/json' \
      -H 'x-api-key: %[3]s' \
      -d '{"manufacturer_user_id": "hp_user_7", "device_ids": ["HP-0007"], "redirect_uri": "http://localhost:3000/manufacturer/callback", "language": "en"}'

`, base, app.DevManufacturerID, app.DevManufacturerAPIKey)
	if s := cfg.Sandbox.Supplier; cfg.Sandbox.SupplierActive() {
		fmt.Fprintf(stdout, "  Sandbox supplier:  %s (%s), login user_good / pass_good\n  Its API key:       %s\n\n", s.Name, s.ID, s.APIKey)
	}
}
