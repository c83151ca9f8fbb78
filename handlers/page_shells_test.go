package handlers_test

import (
	"context"
	"strings"
	"testing"

	"golang.org/x/net/html"

	"noxportal/db/dbtest"
	"noxportal/handlers/handlertest"
)

// TestOpenedLinkPagesAreTheSameFromTheirShell views the brand page of two
// links of one supplier from two browsers: the views after the first come
// from the page's shell and must be byte for byte the page of that link and
// browser.
func TestOpenedLinkPagesAreTheSameFromTheirShell(t *testing.T) {
	t.Parallel()
	s := handlertest.Start(t)
	link1, link2 := s.MustCreateLink(t, "u-shell-1"), s.MustCreateLink(t, "u-shell-2")
	c1, c2 := s.Client(), s.Client()
	first := openLink(t, c1, link1["link_url"].(string))
	again := openLink(t, c1, link1["link_url"].(string))
	if again.Body != first.Body {
		t.Fatalf("repeat view differs from the first view:\n%s\n---\n%s", first.Body, again.Body)
	}
	other := openLink(t, c2, link2["link_url"].(string))
	tok1, tok2 := tokenOf(t, link1["link_url"].(string)), tokenOf(t, link2["link_url"].(string))
	csrf1, csrf2 := first.CSRF(t), other.CSRF(t)
	if csrf1 == csrf2 || !strings.Contains(other.Body, tok2) || strings.Contains(other.Body, tok1) {
		t.Fatalf("the second browser's page does not carry its own CSRF and link tokens")
	}
	if got := strings.ReplaceAll(strings.ReplaceAll(other.Body, tok2, tok1), csrf2, csrf1); got != first.Body {
		t.Errorf("other link's page differs beyond its two tokens:\n%s\n---\n%s", first.Body, got)
	}
}

func TestBrandPageShowsABrandStatusChangeAtOnce(t *testing.T) {
	t.Parallel()
	s := handlertest.Start(t)
	link := s.MustCreateLink(t, "u-shell-status")
	c := s.Client()
	openLink(t, c, link["link_url"].(string))
	if err := dbtest.SetManufacturerStatus(context.Background(), s.Store, "sandbox-heatpump", true, "down", "Maintenance"); err != nil {
		t.Fatal(err)
	}
	p := openLink(t, c, link["link_url"].(string))
	tile := handlertest.Find(p.Doc, func(n *html.Node) bool {
		return n.Data == "button" && handlertest.Attr(n, "data-brand") == "sandbox-heatpump"
	})
	if tile == nil || handlertest.Attr(tile, "aria-disabled") != "true" || !strings.Contains(handlertest.Text(tile), "Maintenance") {
		t.Errorf("after marking the brand down: tile %q, want it disabled with the message", handlertest.Text(tile))
	}
}
