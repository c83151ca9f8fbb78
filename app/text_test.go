package app

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestCleanTextIsValidUTF8AndCutOnARuneBoundary(t *testing.T) {
	tests := []struct {
		name, in string
		max      int
		want     string
	}{
		{"invalid byte", "bad \xff byte", 100, "bad \uFFFD byte"},
		{"NUL and controls", "a\x00b\x07c\td\ne", 100, "ab" + "c\td\ne"},
		{"emoji at the cut", strings.Repeat("x", 198) + "😀", 200, strings.Repeat("x", 198)},
		{"accent at the cut", strings.Repeat("x", 199) + "é", 200, strings.Repeat("x", 199)},
		{"fits", "héllo", 6, "héllo"},
		{"empty", "", 10, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := CleanText(tt.in, tt.max)
			if got != tt.want {
				t.Errorf("CleanText(%q, %d): got %q, want %q", tt.in, tt.max, got, tt.want)
			}
			if !utf8.ValidString(got) || len(got) > tt.max {
				t.Errorf("CleanText(%q, %d) = %q: not valid UTF-8 within %d bytes", tt.in, tt.max, got, tt.max)
			}
		})
	}
}

func FuzzCleanText(f *testing.F) {
	for _, s := range []string{"", "plain", "\xff", "a\x00b", strings.Repeat("é", 150), "😀😀😀"} {
		f.Add(s, 200)
	}
	f.Fuzz(func(t *testing.T, s string, max int) {
		if max < 0 || max > 1<<16 {
			return
		}
		got := CleanText(s, max)
		if !utf8.ValidString(got) || len(got) > max || strings.ContainsRune(got, 0) {
			t.Errorf("CleanText(%q, %d) = %q: want valid UTF-8 of at most %d bytes without NUL", s, max, got, max)
		}
	})
}
