// Package static embeds the self-hosted assets (CSS, HTMX, scripts).
package static

import "embed"

// FS holds every asset served under /static/.
//
//go:embed *.css *.js
var FS embed.FS
