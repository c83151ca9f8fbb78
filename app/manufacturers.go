package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"golang.org/x/oauth2"
)

// maxManufacturerResponse bounds every body read from a manufacturer.
const maxManufacturerResponse = 1 << 20

// Manufacturers talks OAuth 2.0 (authorization code + PKCE S256) to the
// configured brands. Each brand has its own callback path, so a code can
// only ever be exchanged at the token endpoint of the brand that issued it.
type Manufacturers struct {
	configs map[string]ManufacturerConfig
	oauth   map[string]*oauth2.Config
	devices map[string]string
	order   []string
	// live are the brands live link sessions may offer, in config order
	// (the sandbox brands only where sandbox.enabled is true); test are the
	// sandbox brands, the only ones test link sessions offer.
	live, test []string
	client     *http.Client
	timeout    time.Duration
	log        *slog.Logger
}

// WithLogger makes every manufacturer call write a line to log (with the
// request id of its context) and returns m.
func (m *Manufacturers) WithLogger(log *slog.Logger) *Manufacturers {
	m.log = slog.New(ContextHandler(log.Handler()))
	return m
}

// observe times one call to brand, reports it to ctx's Observer and logs it.
func (m *Manufacturers) observe(ctx context.Context, brand, step string, start time.Time, err error) {
	took := time.Since(start)
	ObserverFrom(ctx).ManufacturerCall(brand, step, took, err)
	if m.log == nil {
		return
	}
	if err != nil {
		m.log.WarnContext(ctx, "manufacturer call failed", "brand", brand, "step", step,
			"duration_ms", took.Milliseconds(), "err", err)
		return
	}
	m.log.InfoContext(ctx, "manufacturer call", "brand", brand, "step", step, "duration_ms", took.Milliseconds())
}

// NewManufacturers builds the clients of cfg's served brands (the sandbox
// ones serve test mode in every environment); callbacks go to
// {public_url}/oauth/callback/{brand}.
func NewManufacturers(cfg Config) *Manufacturers {
	m := &Manufacturers{
		configs: map[string]ManufacturerConfig{},
		oauth:   map[string]*oauth2.Config{},
		devices: map[string]string{},
		timeout: cfg.Link.OAuthTimeout.D(),
		client: &http.Client{
			Timeout:   cfg.Link.OAuthTimeout.D(),
			Transport: limitedTransport{http.DefaultTransport},
			// A token or devices endpoint must answer, not redirect.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
	for _, mc := range cfg.ServedManufacturers() {
		m.configs[mc.ID] = mc
		m.order = append(m.order, mc.ID)
		if mc.Sandbox {
			m.test = append(m.test, mc.ID)
		}
		if !mc.Sandbox || cfg.Sandbox.Enabled {
			m.live = append(m.live, mc.ID)
		}
		m.oauth[mc.ID] = &oauth2.Config{
			ClientID:     mc.ClientID,
			ClientSecret: mc.ClientSecret,
			Scopes:       mc.Scopes,
			RedirectURL:  strings.TrimRight(cfg.Server.PublicURL, "/") + "/oauth/callback/" + mc.ID,
			Endpoint: oauth2.Endpoint{
				AuthURL:   cfg.ResolveURL(mc.AuthorizeURL),
				TokenURL:  cfg.ResolveURL(mc.TokenURL),
				AuthStyle: oauth2.AuthStyleInHeader,
			},
		}
		m.devices[mc.ID] = cfg.ResolveURL(mc.DevicesURL)
	}
	return m
}

// IDs returns the brand ids live link sessions may offer, in config order.
func (m *Manufacturers) IDs() []string { return m.live }

// Has reports whether live link sessions may offer brand.
func (m *Manufacturers) Has(brand string) bool { return slices.Contains(m.live, brand) }

// Served reports whether brand is configured and served (its OAuth client
// exists), whoever may offer it.
func (m *Manufacturers) Served(brand string) bool { _, ok := m.configs[brand]; return ok }

// IsSandbox reports whether brand is a sandbox manufacturer (served by this
// binary): its flow-2 links are test links, whose only supplier is the
// sandbox supplier.
func (m *Manufacturers) IsSandbox(brand string) bool { return slices.Contains(m.test, brand) }

// OfferedIDs returns the brands a link session of supplierID may offer:
// only the sandbox brands for a test twin (test mode), IDs otherwise.
func (m *Manufacturers) OfferedIDs(supplierID string) []string {
	if IsTestSupplier(supplierID) {
		return m.test
	}
	return m.live
}

// Offers reports whether a link session of supplierID may offer brand.
func (m *Manufacturers) Offers(supplierID, brand string) bool {
	return slices.Contains(m.OfferedIDs(supplierID), brand)
}

// AuthCodeURL returns the URL that starts the user's login at brand, carrying
// state and the S256 challenge of verifier.
// The user's language is passed as ui_locales (OpenID Connect).
func (m *Manufacturers) AuthCodeURL(brand, state, verifier, lang string) (string, error) {
	oc, ok := m.oauth[brand]
	if !ok {
		return "", Errorf(ENOTFOUND, "unknown manufacturer %q", brand)
	}
	return oc.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("ui_locales", lang)), nil
}

// Exchange trades an authorization code for tokens at brand's token
// endpoint, sending the PKCE verifier, within the configured timeout.
func (m *Manufacturers) Exchange(ctx context.Context, brand, code, verifier string) (_ OAuthTokens, err error) {
	defer func(start time.Time) { m.observe(ctx, brand, "token", start, err) }(time.Now())
	oc, ok := m.oauth[brand]
	if !ok {
		return OAuthTokens{}, Errorf(ENOTFOUND, "unknown manufacturer %q", brand)
	}
	ctx, cancel := context.WithTimeout(ctx, m.timeout)
	defer cancel()
	tok, err := oc.Exchange(context.WithValue(ctx, oauth2.HTTPClient, m.client), code, oauth2.VerifierOption(verifier))
	if err != nil {
		return OAuthTokens{}, fmt.Errorf("manufacturer %s: token exchange: %w", brand, err)
	}
	return OAuthTokens{AccessToken: tok.AccessToken, RefreshToken: tok.RefreshToken, Expiry: tok.Expiry}, nil
}

// Devices fetches the devices the user granted access to.
func (m *Manufacturers) Devices(ctx context.Context, brand string, tokens OAuthTokens) (_ []DeviceInfo, err error) {
	defer func(start time.Time) { m.observe(ctx, brand, "devices", start, err) }(time.Now())
	u, ok := m.devices[brand]
	if !ok {
		return nil, Errorf(ENOTFOUND, "unknown manufacturer %q", brand)
	}
	ctx, cancel := context.WithTimeout(ctx, m.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("manufacturer %s: devices: %w", brand, err)
	}
	req.Header.Set("Authorization", "Bearer "+tokens.AccessToken)
	req.Header.Set("Accept", "application/json")
	resp, err := m.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("manufacturer %s: devices: %w", brand, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("manufacturer %s: devices: HTTP %d", brand, resp.StatusCode)
	}
	var body struct {
		Devices []DeviceInfo `json:"devices"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, fmt.Errorf("manufacturer %s: devices: %w", brand, err)
	}
	for _, d := range body.Devices {
		if d.ID == "" || len(d.ID) > 256 {
			return nil, fmt.Errorf("manufacturer %s: devices: invalid device id", brand)
		}
	}
	return body.Devices, nil
}

// limitedTransport cuts every response body at maxManufacturerResponse bytes.
type limitedTransport struct{ next http.RoundTripper }

func (t limitedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	resp.Body = &limitedBody{r: io.LimitReader(resp.Body, maxManufacturerResponse+1), c: resp.Body}
	return resp, nil
}

type limitedBody struct {
	r io.Reader
	c io.Closer
	n int64
}

func (b *limitedBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.n += int64(n)
	if b.n > maxManufacturerResponse {
		return n, errors.New("manufacturer response too large")
	}
	return n, err
}

func (b *limitedBody) Close() error { return b.c.Close() }
