// Package views embeds the html templates and the message catalogs.
package views

import (
	"embed"
	"io/fs"
)

// FS holds layouts/, pages/ and partials/, addressed by path without ".html".
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
