// Package static embeds the self-hosted assets (CSS, HTMX, scripts, icons).
package static

import "embed"

// FS holds every asset served under /static/.
//
//go:embed *.css *.js *.svg
var FS embed.FS
