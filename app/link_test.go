package app_test

import (
	"regexp"
	"strings"
	"testing"

	"noxportal/app"
)

func TestMatchRedirectURIAcceptsOnlyExactMatchesAndLoopbackPorts(t *testing.T) {
	allowed := []string{"https://supplier.example/callback?src=nox", "http://127.0.0.1:3000/callback"}
	tests := []struct {
		name string
		got  string
		want bool
	}{
		{"exact https", "https://supplier.example/callback?src=nox", true},
		{"exact loopback", "http://127.0.0.1:3000/callback", true},
		{"loopback other port (RFC 8252)", "http://127.0.0.1:51234/callback", true},
		{"loopback without port", "http://127.0.0.1/callback", true},

		{"empty", "", false},
		{"too long", "https://supplier.example/callback?src=nox&x=" + strings.Repeat("a", 2048), false},
		{"missing query", "https://supplier.example/callback", false},
		{"extra query parameter", "https://supplier.example/callback?src=nox&x=1", false},
		{"other query value", "https://supplier.example/callback?src=evil", false},
		{"trailing slash", "https://supplier.example/callback/?src=nox", false},
		{"path suffix", "https://supplier.example/callbackx?src=nox", false},
		{"path prefix only", "https://supplier.example/call?src=nox", false},
		{"sub path", "https://supplier.example/callback/evil?src=nox", false},
		{"dot segments", "https://supplier.example/x/../callback?src=nox", false},
		{"percent-encoded path", "https://supplier.example/%63allback?src=nox", false},
		{"upper-case host", "https://SUPPLIER.example/callback?src=nox", false},
		{"upper-case scheme", "HTTPS://supplier.example/callback?src=nox", false},
		{"upper-case path", "https://supplier.example/Callback?src=nox", false},
		{"http downgrade", "http://supplier.example/callback?src=nox", false},
		{"explicit default port", "https://supplier.example:443/callback?src=nox", false},
		{"host suffix", "https://supplier.example.evil.com/callback?src=nox", false},
		{"host prefix", "https://evilsupplier.example/callback?src=nox", false},
		{"allowed uri inside another", "https://evil.example/https://supplier.example/callback?src=nox", false},
		{"fragment", "https://supplier.example/callback?src=nox#x", false},
		{"userinfo", "https://user@supplier.example/callback?src=nox", false},
		{"userinfo spoofing host", "https://supplier.example@evil.example/callback?src=nox", false},
		{"leading space", " https://supplier.example/callback?src=nox", false},
		{"trailing space", "https://supplier.example/callback?src=nox ", false},

		{"loopback other path", "http://127.0.0.1:3000/other", false},
		{"loopback trailing slash", "http://127.0.0.1:4000/callback/", false},
		{"loopback double slash", "http://127.0.0.1:4000//callback", false},
		{"loopback extra query", "http://127.0.0.1:4000/callback?x=1", false},
		{"loopback fragment", "http://127.0.0.1:4000/callback#x", false},
		{"loopback userinfo", "http://u@127.0.0.1:4000/callback", false},
		{"loopback https", "https://127.0.0.1:4000/callback", false},
		{"loopback other address", "http://127.0.0.2:3000/callback", false},
		{"loopback IPv6 not allowed", "http://[::1]:3000/callback", false},
		{"localhost name not allowed", "http://localhost:3000/callback", false},
		{"loopback port zero", "http://127.0.0.1:0/callback", false},
		{"loopback port out of range", "http://127.0.0.1:70000/callback", false},
		{"loopback port leading zero", "http://127.0.0.1:03000/callback", false},
		{"non-loopback other port", "https://supplier.example:8443/callback?src=nox", false},
		{"loopback upper-case scheme", "HTTP://127.0.0.1:4444/callback", false},
		{"loopback empty query", "http://127.0.0.1:4444/callback?", false},
		{"loopback empty port", "http://127.0.0.1:/callback", false},
		{"loopback encoded path", "http://127.0.0.1:4444/%63allback", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := app.MatchRedirectURI(allowed, tt.got); got != tt.want {
				t.Errorf("MatchRedirectURI(%q): got %v, want %v", tt.got, got, tt.want)
			}
		})
	}
}

func TestAppendQueryKeepsTheSuppliersOwnParameters(t *testing.T) {
	tests := []struct {
		name, raw string
		params    [][2]string
		want      string
	}{
		{"no query", "https://s.example/cb", [][2]string{{"connection_status", "connected"}},
			"https://s.example/cb?connection_status=connected"},
		{"supplier state kept first", "https://s.example/cb?state=abc&src=nox", [][2]string{{"error", "expired"}},
			"https://s.example/cb?state=abc&src=nox&error=expired"},
		{"supplier encoding kept", "https://s.example/cb?next=%2Fhome%3Fa%3D1", [][2]string{{"a", "b"}},
			"https://s.example/cb?next=%2Fhome%3Fa%3D1&a=b"},
		{"values escaped", "https://s.example/cb", [][2]string{{"supplier_user_id", "a&b=c d"}},
			"https://s.example/cb?supplier_user_id=a%26b%3Dc+d"},
		{"same name not overwritten", "https://s.example/cb?error=mine", [][2]string{{"error", "access_denied"}},
			"https://s.example/cb?error=mine&error=access_denied"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := app.AppendQuery(tt.raw, tt.params); got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}

func TestSupplierRedirectCarriesTheOutcome(t *testing.T) {
	nox, brand, reason := "nox_1", "sandbox-heatpump", app.ReasonExpiredAfterAuth
	s := app.LinkSession{SupplierUserID: "cust-1", RedirectURI: "https://s.example/cb?src=nox",
		Status: app.StatusExpired, FailureReason: &reason, ManufacturerID: &brand, NoxUserID: &nox}
	want := "https://s.example/cb?src=nox&connection_status=failed&error=expired&supplier_user_id=cust-1&manufacturer=sandbox-heatpump"
	if got := s.SupplierRedirect(); got != want {
		t.Errorf("expired after auth: got %s, want %s", got, want)
	}
	if got, want := s.FailureRedirect(app.ReasonAlreadyUsed),
		"https://s.example/cb?src=nox&connection_status=failed&error=already_used&supplier_user_id=cust-1&manufacturer=sandbox-heatpump"; got != want {
		t.Errorf("already used: got %s, want %s", got, want)
	}
}

func TestValidateSupplierUserID(t *testing.T) {
	tests := []struct {
		id   string
		want bool
	}{
		{"cust-1", true},
		{"user@example.com", true},
		{strings.Repeat("a", 128), true},
		{"", false},
		{strings.Repeat("a", 129), false},
		{"a/b", false},
		{"a\x00b", false},
		{"a\nb", false},
		{"a\x7fb", false},
		{"\xff", false},
	}
	for _, tt := range tests {
		if got := app.ValidateSupplierUserID(tt.id) == nil; got != tt.want {
			t.Errorf("ValidateSupplierUserID(%q) ok: got %v, want %v", tt.id, got, tt.want)
		}
	}
}

// FuzzMatchRedirectURI checks that a match is the allowed URI itself or the
// allowed loopback URI with only its port changed.
func FuzzMatchRedirectURI(f *testing.F) {
	for _, s := range []string{"http://127.0.0.1:3000/callback", "http://127.0.0.1:4444/callback", "HTTP://127.0.0.1:4444/callback",
		"http://127.0.0.1:4444/callback?", "http://127.0.0.1:/callback", "http://[::1]:3000/callback",
		"https://supplier.example/callback?src=nox", "http://u@127.0.0.1:1/callback", "http://127.0.0.1:03000/callback"} {
		f.Add(s)
	}
	allowed := []string{"https://supplier.example/callback?src=nox", "http://127.0.0.1:3000/callback"}
	portless := regexp.MustCompile(`^http://127\.0\.0\.1(:[1-9][0-9]{0,4})?/callback$`)
	f.Fuzz(func(t *testing.T, got string) {
		if !app.MatchRedirectURI(allowed, got) {
			return
		}
		if got != allowed[0] && !portless.MatchString(got) {
			t.Errorf("MatchRedirectURI(%q): matched, but it is neither allowed URI nor a loopback one with another port", got)
		}
	})
}
