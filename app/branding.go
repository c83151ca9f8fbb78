package app

import (
	"bytes"
	"fmt"
	"image"
	_ "image/jpeg" // DecodeConfig reads JPEG logos
	_ "image/png"  // and PNG logos
	"math"
	"net/http"
	"strconv"
	"strings"
)

// Supplier co-branding: the logo and accent colour a supplier's hosted pages
// show beside NOX Energy's name.

const (
	// LogoMaxBytes bounds an uploaded logo (the request body limit is 64 KB).
	LogoMaxBytes = 48 * 1024
	// LogoMaxSide bounds a logo's width and height in pixels.
	LogoMaxSide = 1024
	// MinContrast is WCAG's AA ratio for body text, which every colour
	// pair the theme derives keeps.
	MinContrast = 4.5
)

// SupplierBranding is a supplier's co-branding without the logo's bytes.
type SupplierBranding struct {
	SupplierID string `db:"supplier_id"`
	// Accent is "#rrggbb" or "" (NOX Energy's colours).
	Accent   string `db:"accent"`
	LogoType string `db:"logo_type"`
	// Version changes with every save, so the asset URLs can be cached.
	Version int `db:"version"`
}

// HasLogo reports whether a logo was uploaded.
func (b SupplierBranding) HasLogo() bool { return b.LogoType != "" }

// ParseAccent checks an accent colour: "" (none) or "#rrggbb" in any case,
// returned in lower case.
func ParseAccent(s string) (string, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" {
		return "", nil
	}
	if len(s) != 7 || s[0] != '#' {
		return "", ReasonErrorf(EINVALID, "invalid_accent", "The accent colour must be written as #rrggbb, for example #0b7a53.")
	}
	if _, err := strconv.ParseUint(s[1:], 16, 32); err != nil {
		return "", ReasonErrorf(EINVALID, "invalid_accent", "The accent colour must be written as #rrggbb, for example #0b7a53.")
	}
	return s, nil
}

// CheckLogo checks an uploaded logo by its bytes (not the name or the type
// the browser claims): PNG or JPEG, at most LogoMaxBytes and LogoMaxSide
// pixels a side. It returns the content type to serve it with.
func CheckLogo(b []byte) (string, error) {
	if len(b) == 0 {
		return "", ReasonErrorf(EINVALID, "invalid_logo", "The logo file is empty.")
	}
	if len(b) > LogoMaxBytes {
		return "", ReasonErrorf(EINVALID, "invalid_logo", "The logo is %d KB; at most %d KB is accepted.", (len(b)+1023)/1024, LogoMaxBytes/1024)
	}
	ct := http.DetectContentType(b)
	if ct != "image/png" && ct != "image/jpeg" {
		return "", ReasonErrorf(EINVALID, "invalid_logo", "The logo must be a PNG or JPEG image.")
	}
	cfg, _, err := image.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		return "", ReasonErrorf(EINVALID, "invalid_logo", "The logo could not be read as an image.")
	}
	if cfg.Width < 16 || cfg.Height < 16 || cfg.Width > LogoMaxSide || cfg.Height > LogoMaxSide {
		return "", ReasonErrorf(EINVALID, "invalid_logo", "The logo is %d×%d pixels; each side must be from 16 to %d.", cfg.Width, cfg.Height, LogoMaxSide)
	}
	return ct, nil
}

// rgb returns the channels of "#rrggbb" from 0 to 1.
func rgb(hex string) (r, g, b float64) {
	v, _ := strconv.ParseUint(strings.TrimPrefix(hex, "#"), 16, 32)
	return float64(v>>16&0xff) / 255, float64(v>>8&0xff) / 255, float64(v&0xff) / 255
}

func hexOf(r, g, b float64) string {
	c := func(x float64) uint64 { return uint64(math.Round(math.Max(0, math.Min(1, x)) * 255)) }
	return fmt.Sprintf("#%02x%02x%02x", c(r), c(g), c(b))
}

// luminance is WCAG's relative luminance of "#rrggbb".
func luminance(hex string) float64 {
	lin := func(c float64) float64 {
		if c <= 0.03928 {
			return c / 12.92
		}
		return math.Pow((c+0.055)/1.055, 2.4)
	}
	r, g, b := rgb(hex)
	return 0.2126*lin(r) + 0.7152*lin(g) + 0.0722*lin(b)
}

// Contrast is WCAG's contrast ratio of two "#rrggbb" colours (1 to 21).
func Contrast(a, b string) float64 {
	la, lb := luminance(a), luminance(b)
	if la < lb {
		la, lb = lb, la
	}
	return (la + 0.05) / (lb + 0.05)
}

// OnAccent is the text colour on an accent background: white or black,
// whichever contrasts more (at least 4.58 for any colour).
func OnAccent(accent string) string {
	if Contrast(accent, "#ffffff") >= Contrast(accent, "#000000") {
		return "#ffffff"
	}
	return "#000000"
}

// AccentText is the accent as a text colour on white: the accent itself
// when it contrasts enough, else the accent darkened step by step until
// it does.
func AccentText(accent string) string {
	r, g, b := rgb(accent)
	c := accent
	for i := 0; i < 40 && Contrast(c, "#ffffff") < MinContrast; i++ {
		r, g, b = r*0.92, g*0.92, b*0.92
		c = hexOf(r, g, b)
	}
	return c
}

// ThemeCSS is the style sheet of a supplier's hosted pages: the accent on
// buttons (with readable text on it) and, darkened where needed, on links
// and highlights.
func (b SupplierBranding) ThemeCSS() string {
	if b.Accent == "" {
		return "/* NOX Energy colours */\n"
	}
	text := AccentText(b.Accent)
	return fmt.Sprintf(`:root { --brand: %[2]s; --brand-dark: %[2]s; }
.button:not(.secondary):not(.danger), .button:not(.secondary):not(.danger):hover { background: %[1]s; color: %[3]s; }
.flow-steps .is-current .step-n { background: %[1]s; border-color: %[1]s; color: %[3]s; }
`, b.Accent, text, OnAccent(b.Accent))
}
