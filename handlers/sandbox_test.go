package handlers_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/net/html"
	"golang.org/x/oauth2"

	"noxportal/app"
	"noxportal/handlers/handlertest"
)

// sandboxClient is the OAuth client of a sandbox brand as config.yaml
// registers it.
func sandboxClient(s *handlertest.Server, brand string) *oauth2.Config {
	return &oauth2.Config{
		ClientID:     "nox-" + brand,
		ClientSecret: "sandbox-secret-" + strings.TrimPrefix(brand, "sandbox-"),
		RedirectURL:  s.URL + "/oauth/callback/" + brand,
		Scopes:       []string{"devices.read"},
		Endpoint: oauth2.Endpoint{
			AuthURL:   s.URL + "/sandbox/" + brand + "/authorize",
			TokenURL:  s.URL + "/sandbox/" + brand + "/token",
			AuthStyle: oauth2.AuthStyleInHeader,
		},
	}
}

// sandboxCode signs in at the heat pump sandbox as user_good, allows, and
// returns the authorization code issued for verifier's challenge.
func sandboxCode(t *testing.T, s *handlertest.Server, verifier string) string {
	t.Helper()
	c := s.Client()
	authorize := sandboxClient(s, "sandbox-heatpump").AuthCodeURL("state-1", oauth2.S256ChallengeOption(verifier))
	back := answerConsent(t, s, c, signIn(t, s, c, authorize, "user_good"), "allow")
	q := query(t, back)
	if q.Get("state") != "state-1" || q.Get("code") == "" {
		t.Fatalf("consent redirect %q: want the code and state=state-1", back)
	}
	return q.Get("code")
}

func wantOAuthError(t *testing.T, err error, status int, code string) {
	t.Helper()
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		t.Fatalf("got %v, want an OAuth error %s", err, code)
	}
	if re.Response.StatusCode != status || re.ErrorCode != code {
		t.Errorf("got %d %s (%s), want %d %s", re.Response.StatusCode, re.ErrorCode, re.ErrorDescription, status, code)
	}
}

func TestSandboxTokenEndpointChecksPKCERedirectURIClientAndSingleUse(t *testing.T) {
	t.Parallel()
	s := handlertest.Start(t)
	ctx := context.Background()
	good := sandboxClient(s, "sandbox-heatpump")
	wrongSecret := sandboxClient(s, "sandbox-heatpump")
	wrongSecret.ClientSecret = "guess"
	otherRedirect := sandboxClient(s, "sandbox-heatpump")
	otherRedirect.RedirectURL = s.URL + "/oauth/callback/sandbox-heatpump/"
	otherBrand := sandboxClient(s, "sandbox-thermostat")
	tests := []struct {
		name     string
		client   *oauth2.Config
		verifier func(right string) []oauth2.AuthCodeOption
		status   int
		code     string
	}{
		{"wrong code_verifier", good, func(string) []oauth2.AuthCodeOption {
			return []oauth2.AuthCodeOption{oauth2.VerifierOption(oauth2.GenerateVerifier())}
		}, 400, "invalid_grant"},
		{"no code_verifier", good, func(string) []oauth2.AuthCodeOption { return nil }, 400, "invalid_grant"},
		{"different redirect_uri", otherRedirect, func(v string) []oauth2.AuthCodeOption {
			return []oauth2.AuthCodeOption{oauth2.VerifierOption(v)}
		}, 400, "invalid_grant"},
		{"wrong client secret", wrongSecret, func(v string) []oauth2.AuthCodeOption {
			return []oauth2.AuthCodeOption{oauth2.VerifierOption(v)}
		}, 401, "invalid_client"},
		{"another brand's token endpoint", otherBrand, func(v string) []oauth2.AuthCodeOption {
			return []oauth2.AuthCodeOption{oauth2.VerifierOption(v)}
		}, 400, "invalid_grant"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			verifier := oauth2.GenerateVerifier()
			code := sandboxCode(t, s, verifier)
			tok, err := tt.client.Exchange(ctx, code, tt.verifier(verifier)...)
			if err == nil {
				t.Fatalf("got access token %q, want an error", tok.AccessToken)
			}
			wantOAuthError(t, err, tt.status, tt.code)
		})
	}

	t.Run("code is single-use", func(t *testing.T) {
		verifier := oauth2.GenerateVerifier()
		code := sandboxCode(t, s, verifier)
		tok, err := good.Exchange(ctx, code, oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatalf("first exchange: %v", err)
		}
		resp, err := good.Client(ctx, tok).Get(s.URL + "/sandbox/sandbox-heatpump/devices")
		if err != nil {
			t.Fatal(err)
		}
		var body struct{ Devices []app.DeviceInfo }
		err = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 || len(body.Devices) != 1 {
			t.Errorf("devices with the token: got %d, %+v (%v), want 200 with one device", resp.StatusCode, body, err)
		}
		_, err = good.Exchange(ctx, code, oauth2.VerifierOption(verifier))
		wantOAuthError(t, err, 400, "invalid_grant")
	})
}

func TestSandboxDevicesEndpointNeedsAValidBearerToken(t *testing.T) {
	t.Parallel()
	s := handlertest.Start(t)
	for _, auth := range []string{"", "Bearer sbx_at_" + app.RandomToken(40), "Basic " + app.RandomToken(20)} {
		req, _ := http.NewRequest("GET", s.URL+"/sandbox/sandbox-heatpump/devices", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("Authorization %q: got %d, want 401", auth, resp.StatusCode)
		}
	}
}

func TestSandboxAuthorizeNeverRedirectsToAnUnregisteredURI(t *testing.T) {
	t.Parallel()
	s := handlertest.Start(t)
	registered := s.URL + "/oauth/callback/sandbox-heatpump"
	params := func(change ...string) string {
		v := url.Values{"response_type": {"code"}, "client_id": {"nox-sandbox-heatpump"}, "redirect_uri": {registered},
			"state": {"st"}, "code_challenge": {app.S256Challenge(oauth2.GenerateVerifier())}, "code_challenge_method": {"S256"}}
		for i := 0; i+1 < len(change); i += 2 {
			if change[i+1] == "" {
				v.Del(change[i])
			} else {
				v.Set(change[i], change[i+1])
			}
		}
		return s.URL + "/sandbox/sandbox-heatpump/authorize?" + v.Encode()
	}
	for _, tt := range []struct{ name, url string }{
		{"unregistered redirect_uri", params("redirect_uri", "https://evil.example/callback")},
		{"registered redirect_uri with a suffix", params("redirect_uri", registered+"/x")},
		{"another brand's redirect_uri", params("redirect_uri", s.URL+"/oauth/callback/sandbox-thermostat")},
		{"no redirect_uri", params("redirect_uri", "")},
		{"unknown client", params("client_id", "someone-else")},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := handlertest.Get(t, s.Client(), tt.url)
			if p.Status != http.StatusBadRequest || p.Location != "" {
				t.Errorf("got %d to %q, want 400 and no redirect", p.Status, p.Location)
			}
			if handlertest.Find(p.Doc, func(n *html.Node) bool {
				return n.Data == "form" && strings.Contains(handlertest.Attr(n, "action"), "/login")
			}) != nil {
				t.Errorf("got the login form, want an error page")
			}
		})
	}
	for _, tt := range []struct{ name, url string }{
		{"no PKCE", params("code_challenge", "", "code_challenge_method", "")},
		{"plain PKCE", params("code_challenge_method", "plain")},
		{"wrong response_type", params("response_type", "token")},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := handlertest.Get(t, s.Client(), tt.url)
			if p.Status != http.StatusSeeOther || !strings.HasPrefix(p.Location, registered+"?") {
				t.Fatalf("got %d to %q, want 303 to the registered redirect_uri", p.Status, p.Location)
			}
			if q := query(t, p.Location); q.Get("error") != "invalid_request" || q.Get("state") != "st" || q.Get("code") != "" {
				t.Errorf("redirect %q: want error=invalid_request, state=st and no code", p.Location)
			}
		})
	}
}

func TestSandboxLoginWithAWrongPasswordStaysOnTheLoginPage(t *testing.T) {
	t.Parallel()
	s := handlertest.Start(t)
	c := s.Client()
	login := handlertest.Get(t, c, sandboxClient(s, "sandbox-heatpump").AuthCodeURL("st", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
	action, vals := login.FormValues(t, "/login")
	vals.Set("username", "user_good")
	vals.Set("password", "wrong")
	p := handlertest.PostForm(t, c, s.URL+action, vals)
	if p.Status != http.StatusUnauthorized {
		t.Errorf("status: got %d, want 401", p.Status)
	}
	if handlertest.Find(p.Doc, func(n *html.Node) bool { return handlertest.Attr(n, "role") == "alert" }) == nil {
		t.Errorf("no error shown:\n%s", p.Body)
	}
	p.FormValues(t, "/login")
	if got := handlertest.Find(p.Doc, func(n *html.Node) bool { return n.Data == "input" && handlertest.Attr(n, "name") == "username" }); got == nil || handlertest.Attr(got, "value") != "user_good" {
		t.Errorf("username not kept in the form")
	}
}
