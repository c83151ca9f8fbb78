package handlers_test

import (
	"net/url"
	"testing"

	"noxportal/handlers/handlertest"
)

func TestLinkFlowConnectsAndReturnsToSupplier(t *testing.T) {
	t.Parallel()
	s := handlertest.Start(t)
	link := s.MustCreateLink(t, "cust-1")
	final := s.Walk(t, s.Client(), link["link_url"].(string), "sandbox-heatpump", "user_good", "pass_good", "allow")
	u, err := url.Parse(final)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	if got, want := u.Scheme+"://"+u.Host+u.Path, "https://supplier.example/callback"; got != want {
		t.Errorf("redirect target: got %s, want %s", got, want)
	}
	for k, want := range map[string]string{"connection_status": "connected", "supplier_user_id": "cust-1",
		"manufacturer": "sandbox-heatpump", "src": "nox"} {
		if got := q.Get(k); got != want {
			t.Errorf("%s: got %q, want %q", k, got, want)
		}
	}
	if q.Get("nox_user_id") == "" || q.Get("connected_at") == "" {
		t.Errorf("missing nox_user_id or connected_at in %s", final)
	}
}
