package app

import (
	"strings"
	"unicode/utf8"
)

// CleanText makes text that came from outside (a query parameter, a form
// field, a manufacturer's error description) safe to store and show: bytes
// that are not UTF-8 become U+FFFD, NUL and the other C0 control characters
// except tab and newline are dropped (Postgres refuses NUL in text), and the
// result is cut to at most maxBytes bytes on a rune boundary.
func CleanText(s string, maxBytes int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if r < 0x20 && r != '\t' && r != '\n' || r == 0x7f {
			return -1
		}
		return r
	}, s)
	return CutRunes(s, maxBytes)
}

// CutRunes returns the longest prefix of the valid UTF-8 string s that is
// at most maxBytes bytes long and ends on a rune boundary.
func CutRunes(s string, maxBytes int) string {
	if len(s) <= maxBytes {
		return s
	}
	cut := maxBytes
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}
