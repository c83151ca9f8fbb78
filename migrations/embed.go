// Package migrations embeds the SQL schema migrations (goose format).
package migrations

import "embed"

// FS holds every *.sql migration, applied in file-name order.
//
//go:embed *.sql
var FS embed.FS
