package app_test

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"noxportal/app"
	"noxportal/views"
)

// untranslated lists the only catalog values a language may share with
// English: product names and words that are spelled the same.
var untranslated = map[string]map[string]bool{
	// The language switcher names each language in that language.
	"*": {"home.title": true, "portal.lang.en": true, "portal.lang.nl": true, "portal.lang.de": true,
		"portal.lang.fr": true, "portal.lang.es": true},
	"nl": {"portal.devices.model": true, "portal.nav.via": true, "portal.role.manager": true,
		"developers.delivery.payload": true, "developers.tab.team": true, "apiref.params": true, "developers.tab.webhooks": true, "developers.webhooks.endpoint": true, "developers.requests.route": true,
		"console.branding.title": true, "console.branding.logo": true},
	"de": {"kind.thermostat": true, "console.branding.logo": true, "portal.role.admin": true, "portal.role.manager": true,
		"developers.tab.team": true, "developers.tab.webhooks": true, "developers.requests.route": true},
	"fr": {"kind.thermostat": true, "console.branding.logo": true, "portal.nav.admin": true, "portal.nav.via": true, "developers.tab.webhooks": true,
		"developers.requests.route": true},
	"es": {"developers.delivery.error": true, "developers.tab.webhooks": true, "developers.webhooks.endpoint": true},
}

var (
	verbRE = regexp.MustCompile(`%[-+# 0]*[0-9]*(?:\.[0-9]*)?[a-zA-Z]`)
	// keepRE matches names that must appear unchanged in every language.
	keepRE        = regexp.MustCompile(`NOX Energy|\b(?:user|pass)_[a-z_]+\b`)
	testAccountRE = regexp.MustCompile(`^(?:(?:user|pass)_[a-z_]+|[\s,.:/])+$`)
)

func mustTranslator(t *testing.T) *app.Translator {
	t.Helper()
	tr, err := app.NewTranslator(views.Locales())
	if err != nil {
		t.Fatalf("NewTranslator: %v", err)
	}
	return tr
}

func verbs(s string) []string {
	return verbRE.FindAllString(strings.ReplaceAll(s, "%%", ""), -1)
}

func TestEveryLanguageDefinesEveryEnglishKey(t *testing.T) {
	tr := mustTranslator(t)
	keys := tr.Keys()
	if len(keys) == 0 {
		t.Fatal("English catalog is empty")
	}
	for _, lang := range app.Languages {
		for _, k := range keys {
			if got := tr.T(lang, k); got == k || got == "" {
				t.Errorf("%s %s: got %q, want a message", lang, k, got)
			}
		}
	}
}

func TestTranslationsKeepFormatVerbsAndNames(t *testing.T) {
	tr := mustTranslator(t)
	for _, lang := range app.Languages[1:] {
		for _, k := range tr.Keys() {
			en, got := tr.T("en", k), tr.T(lang, k)
			if want, have := verbs(en), verbs(got); !slices.Equal(have, want) {
				t.Errorf("%s %s: verbs %q, want %q (%q)", lang, k, have, want, got)
			}
			for _, name := range keepRE.FindAllString(en, -1) {
				if !strings.Contains(got, name) {
					t.Errorf("%s %s: %q lacks %q", lang, k, got, name)
				}
			}
		}
	}
}

func TestNonEnglishCatalogsAreTranslated(t *testing.T) {
	tr := mustTranslator(t)
	for _, lang := range app.Languages[1:] {
		for _, k := range tr.Keys() {
			en, got := tr.T("en", k), tr.T(lang, k)
			if got != en || untranslated["*"][k] || untranslated[lang][k] || testAccountRE.MatchString(en) {
				continue
			}
			t.Errorf("%s %s: still English: %q", lang, k, got)
		}
	}
}

func TestTFormatsInLanguageAndFallsBackToEnglish(t *testing.T) {
	tr := mustTranslator(t)
	tests := []struct {
		lang, key string
		args      []any
		want      string
	}{
		{"en", "link.return", []any{"Acme"}, "Return to Acme"},
		{"nl", "link.return", []any{"Acme"}, "Terug naar Acme"},
		{"de", "sandbox.allow", nil, "Erlauben"},
		{"xx", "link.return", []any{"Acme"}, "Return to Acme"},
		{"", "sandbox.deny", nil, "Deny"},
		{"EN-us", "error.not_found.title", nil, "Page not found"},
		{"fr", "no.such.key", nil, "no.such.key"},
		// More arguments than the text uses: no "%!(EXTRA ...)".
		{"en", "portal.banner.cancelled", []any{"Acme"}, "You cancelled, so nothing was connected."},
		{"en", "link.expired.body", []any{"Acme", 20}, "For your security a link is valid for 20 minutes. Go back to Acme to get a new one."},
		{"en", "portal.banner.expired", []any{"Acme", 30}, "The connection took longer than 30 minutes and has expired, so nothing was connected. Please start again."},
	}
	for _, tt := range tests {
		if got := tr.T(tt.lang, tt.key, tt.args...); got != tt.want {
			t.Errorf("T(%q, %q, %v) = %q, want %q", tt.lang, tt.key, tt.args, got, tt.want)
		}
	}
}
