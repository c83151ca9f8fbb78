package app_test

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/text/feature/plural"

	"noxportal/app"
)

// argVerbRE finds the verbs of a text with their explicit index, if any.
var argVerbRE = regexp.MustCompile(`%(?:\[(\d+)\])?[-+# 0]*[0-9]*([a-zA-Z])`)

// countedArgs builds arguments for a counted text: n for every %d, a name
// for every %s, by position or explicit index.
func countedArgs(msg string, n int) []any {
	var args []any
	next := 0
	for _, m := range argVerbRE.FindAllStringSubmatch(strings.ReplaceAll(msg, "%%", ""), -1) {
		i := next
		if m[1] != "" {
			i, _ = strconv.Atoi(m[1])
			i--
		}
		next = i + 1
		for len(args) <= i {
			args = append(args, nil)
		}
		if m[2] == "d" {
			args[i] = n
		} else {
			args[i] = "Acme"
		}
	}
	return args
}

func TestCountedTextsRenderForZeroOneTwoFiveInEveryLanguage(t *testing.T) {
	tr := mustTranslator(t)
	keys := tr.CountedKeys()
	if len(keys) < 10 {
		t.Fatalf("got %d counted texts, want every text where a number meets a word (10 or more)", len(keys))
	}
	// Texts that name a lifetime in minutes are among them.
	for _, want := range []string{"link.expired.body", "portal.enter.expired.body"} {
		if !slices.Contains(keys, want) {
			t.Errorf("%s is not a counted text, want it counted", want)
		}
	}
	for _, lang := range app.Languages {
		for _, key := range keys {
			for _, n := range []int{0, 1, 2, 5} {
				form := tr.PluralForm(lang, n)
				if form != plural.Other && !tr.HasForm(lang, key, form) {
					t.Errorf("%s %s: no %v form for %d (CLDR), want one", lang, key, form, n)
				}
				args := countedArgs(tr.N("en", key, 5), n)
				got := tr.N(lang, key, n, args...)
				if strings.Contains(got, "%!") || !strings.Contains(got, strconv.Itoa(n)) {
					t.Errorf("%s %s n=%d: got %q, want the count and no format error", lang, key, n, got)
				}
				if byT := tr.T(lang, key, args...); byT != got {
					t.Errorf("%s %s n=%d: T chose %q, N chose %q; want T to count by the first number", lang, key, n, byT, got)
				}
			}
		}
	}
}

func TestCountedTextsFollowCLDR(t *testing.T) {
	tr := mustTranslator(t)
	tests := []struct {
		lang string
		n    int
		want string
	}{
		{"en", 0, "0 attempts"}, {"en", 1, "1 attempt"}, {"en", 2, "2 attempts"},
		{"nl", 1, "1 poging"}, {"nl", 5, "5 pogingen"},
		{"de", 1, "1 Versuch"}, {"de", 0, "0 Versuche"},
		// French counts 0 and 1 as "one".
		{"fr", 0, "0 tentative"}, {"fr", 1, "1 tentative"}, {"fr", 2, "2 tentatives"},
		{"es", 0, "0 intentos"}, {"es", 1, "1 intento"}, {"es", 5, "5 intentos"},
	}
	for _, tt := range tests {
		if got := tr.T(tt.lang, "console.delivery.attempts", tt.n); got != tt.want {
			t.Errorf("%s %d: got %q, want %q", tt.lang, tt.n, got, tt.want)
		}
	}
	// N counts by its own number: the total, not the first argument.
	if got, want := tr.N("en", "console.bulk.processed", 1, 0, 1), "0 of 1 device processed"; got != want {
		t.Errorf("N by total: got %q, want %q", got, want)
	}
}
