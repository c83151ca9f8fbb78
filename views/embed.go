// Package views embeds the html templates and the message catalogs.
//
// Writing a page: a page is one file under pages/, named by its path without
// ".html" ("pages/console/queue"). Its first line is
// {{template "partials/head" .}} and its last line is
// {{template "partials/foot" .}}; between them goes only what sits inside
// <main>. The handler renders it with h.render (hosted-flow frame) or
// h.renderPortal (portal frame: it sets .Portal, which head and foot read),
// never with a layout argument: the engine (gofiber/template/html/v2) holds a
// global lock for a render with a layout, and refuses one here. A fragment
// for HTMX is its own file under partials/ (or a {{define}} with a name
// unique across all files, since every file is parsed into one set); it has
// no head or foot and is passed to render as the fragment name. Texts come
// from locales/ through {{t .Lang "key"}}.
package views

import (
	"embed"
	"io/fs"
)

// FS holds pages/ and partials/, addressed by path without ".html".
//
//go:embed pages partials
var FS embed.FS

//go:embed locales/*.json
var locales embed.FS

// Locales returns the message catalogs, "{area}.{lang}.json" files.
func Locales() fs.FS {
	sub, err := fs.Sub(locales, "locales")
	if err != nil {
		panic(err)
	}
	return sub
}
