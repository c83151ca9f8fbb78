package db_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"noxportal/app"
	"noxportal/db"
	"noxportal/db/dbtest"
)

const brand = "sandbox-heatpump"

var browser = app.HashToken("browser-1")

// mustStore returns a store on a fresh database with one brand and the
// supplier "supplier_test".
func mustStore(t *testing.T) *db.Store {
	t.Helper()
	s := dbtest.MustStore(t)
	ctx := context.Background()
	if err := s.SyncManufacturers(ctx, []app.ManufacturerConfig{{ID: brand, Name: "Sandbox Heat Pumps", Kind: "heat_pump"}}); err != nil {
		t.Fatal(err)
	}
	if err := s.UpsertSupplier(ctx, app.Supplier{ID: "supplier_test", Name: "Test Energy", RedirectURIs: []string{"https://s.example/cb"}}); err != nil {
		t.Fatal(err)
	}
	return s
}

func mustCreate(t *testing.T, s *db.Store, supplierUserID string, ttl time.Duration) (app.LinkSession, string) {
	t.Helper()
	sess, token, _, err := s.CreateLinkSession(context.Background(), app.NewLinkSession{
		Kind: app.KindSupplierLink, SupplierID: "supplier_test", SupplierUserID: supplierUserID,
		RedirectURI: "https://s.example/cb", Language: "en", Initiator: app.InitiatorAPI, TTL: ttl,
	})
	if err != nil {
		t.Fatal(err)
	}
	return sess, token
}

// mustAuthorizing returns a session waiting for the manufacturer's
// callback with the given OAuth state.
func mustAuthorizing(t *testing.T, s *db.Store, supplierUserID, state string) app.LinkSession {
	t.Helper()
	ctx := context.Background()
	sess, token := mustCreate(t, s, supplierUserID, time.Hour)
	if _, _, err := s.OpenLinkSession(ctx, token, browser); err != nil {
		t.Fatal(err)
	}
	sess, err := s.StartAuthorization(ctx, sess.ID, browser, brand, state, "verifier-"+state)
	if err != nil {
		t.Fatal(err)
	}
	if sess.Status != app.StatusAuthorizing {
		t.Fatalf("status: got %s, want authorizing", sess.Status)
	}
	return sess
}

func connection(sess app.LinkSession, deviceIDs ...string) app.Connection {
	c := app.Connection{SessionID: sess.ID, SupplierID: sess.SupplierID, SupplierUserID: sess.SupplierUserID,
		ManufacturerID: brand, Tokens: app.OAuthTokens{AccessToken: "at-" + sess.ID, RefreshToken: "rt-" + sess.ID}}
	for _, id := range deviceIDs {
		c.Devices = append(c.Devices, app.DeviceInfo{ID: id, Name: "heat pump", Model: "X"})
	}
	return c
}

func count(t *testing.T, s *db.Store, query string, args ...any) int {
	t.Helper()
	var n int
	if err := s.DB().Get(&n, query, args...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

func TestSweepExpiredSessionsExpiresOnlyOverdueUnfinishedSessions(t *testing.T) {
	s := mustStore(t)
	ctx := context.Background()
	overdueCreated, _ := mustCreate(t, s, "cust-created", -time.Minute)
	overdueOpened, _ := mustCreate(t, s, "cust-opened", -time.Minute)
	if _, err := s.DB().Exec(`UPDATE link_sessions SET status = 'opened', opened_at = now() WHERE id = $1`, overdueOpened.ID); err != nil {
		t.Fatal(err)
	}
	fresh, _ := mustCreate(t, s, "cust-fresh", time.Hour)
	cancelled, _ := mustCreate(t, s, "cust-cancelled", time.Hour)
	if _, err := s.FailLinkSession(ctx, cancelled.ID, app.ReasonCancelled, "test"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DB().Exec(`UPDATE link_sessions SET expires_at = now() - interval '1 minute' WHERE id = $1`, cancelled.ID); err != nil {
		t.Fatal(err)
	}

	n, err := s.SweepExpiredSessions(ctx)
	if err != nil || n != 2 {
		t.Fatalf("sweep: got %d (%v), want 2", n, err)
	}
	for _, tt := range []struct {
		id     string
		status app.SessionStatus
		reason string
		last   string
	}{
		{overdueCreated.ID, app.StatusExpired, app.ReasonExpired, app.EventExpired},
		{overdueOpened.ID, app.StatusExpired, app.ReasonExpired, app.EventExpired},
		{fresh.ID, app.StatusCreated, "", app.EventCreated},
		{cancelled.ID, app.StatusFailed, app.ReasonCancelled, app.EventFailed},
	} {
		got, err := s.GetLinkSession(ctx, tt.id)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != tt.status || got.Reason() != tt.reason {
			t.Errorf("%s: got %s/%s, want %s/%s", got.SupplierUserID, got.Status, got.Reason(), tt.status, tt.reason)
		}
		events, err := dbtest.SessionEvents(ctx, s, tt.id)
		if err != nil {
			t.Fatal(err)
		}
		if len(events) == 0 || events[len(events)-1].Type != tt.last {
			t.Errorf("%s: events %+v, want the last one %s", got.SupplierUserID, events, tt.last)
		}
	}
	if n, err := s.SweepExpiredSessions(ctx); err != nil || n != 0 {
		t.Errorf("second sweep: got %d (%v), want 0", n, err)
	}
}

func TestClaimCallbackSucceedsOnceUnderConcurrency(t *testing.T) {
	s := mustStore(t)
	ctx := context.Background()
	sess := mustAuthorizing(t, s, "cust-1", "state-1")
	const n = 10
	errs := make([]error, n)
	verifiers := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, verifiers[i], errs[i] = s.ClaimCallback(ctx, brand, "state-1", true, browser, time.Minute)
		}()
	}
	wg.Wait()
	won := 0
	for i, err := range errs {
		switch {
		case err == nil:
			won++
			if verifiers[i] != "verifier-state-1" {
				t.Errorf("verifier: got %q, want verifier-state-1", verifiers[i])
			}
		case app.ErrorCode(err) != app.ECONFLICT || app.ErrorReason(err) != app.ReasonAlreadyUsed:
			t.Errorf("claim %d: got %v, want ECONFLICT already_used", i, err)
		}
	}
	if won != 1 {
		t.Errorf("successful claims: got %d, want 1", won)
	}
	if got := count(t, s, `SELECT count(*) FROM link_events WHERE session_id = $1 AND type = 'callback'`, sess.ID); got != 1 {
		t.Errorf("callback events: got %d, want 1", got)
	}
}

func TestClaimCallbackRefusesAnotherBrowserAndUnknownState(t *testing.T) {
	s := mustStore(t)
	ctx := context.Background()
	sess := mustAuthorizing(t, s, "cust-1", "state-1")
	tests := []struct {
		name, brand, state string
		browser            []byte
		code               string
	}{
		{"other browser", brand, "state-1", app.HashToken("browser-2"), app.EFORBIDDEN},
		{"no browser", brand, "state-1", nil, app.EFORBIDDEN},
		{"unknown state", brand, "state-2", browser, app.ENOTFOUND},
		{"other brand", "sandbox-thermostat", "state-1", browser, app.ENOTFOUND},
	}
	for _, tt := range tests {
		if _, _, err := s.ClaimCallback(ctx, tt.brand, tt.state, true, tt.browser, time.Minute); app.ErrorCode(err) != tt.code {
			t.Errorf("%s: got %v, want %s", tt.name, err, tt.code)
		}
	}
	got, err := s.GetLinkSession(ctx, sess.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != app.StatusAuthorizing || got.CallbackAt != nil {
		t.Errorf("session after refused claims: got %s with callback_at %v, want authorizing and none", got.Status, got.CallbackAt)
	}
	if _, _, err := s.ClaimCallback(ctx, brand, "state-1", true, browser, time.Minute); err != nil {
		t.Errorf("claim from the right browser: %v", err)
	}
}

func TestCompleteConnectionKeepsOneNoxUserPerSupplierUser(t *testing.T) {
	s := mustStore(t)
	ctx := context.Background()
	const n = 6
	sessions := make([]app.LinkSession, n)
	for i := range sessions {
		state := fmt.Sprintf("state-%d", i)
		sessions[i] = mustAuthorizing(t, s, "cust-1", state)
		if _, _, err := s.ClaimCallback(ctx, brand, state, true, browser, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	done := make([]app.LinkSession, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range sessions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			done[i], errs[i] = s.CompleteConnection(ctx, connection(sessions[i], fmt.Sprintf("DEV-%d", i)))
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("complete %d: %v", i, err)
		}
		if done[i].Status != app.StatusConnected || done[i].NoxUserID == nil || *done[i].NoxUserID != *done[0].NoxUserID {
			t.Errorf("session %d: got %s with nox user %v, want connected with %s", i, done[i].Status, done[i].NoxUserID, *done[0].NoxUserID)
		}
	}
	for q, want := range map[string]int{
		`SELECT count(*) FROM supplier_mappings`:   1,
		`SELECT count(*) FROM nox_users`:           1,
		`SELECT count(*) FROM devices`:             1,
		`SELECT count(*) FROM manufacturer_grants`: 1,
	} {
		if got := count(t, s, q); got != want {
			t.Errorf("%s: got %d, want %d", q, got, want)
		}
	}
}

func TestCompleteConnectionReplacesTheDevicesAndStoresTokensEncrypted(t *testing.T) {
	s := mustStore(t)
	ctx := context.Background()
	first := mustAuthorizing(t, s, "cust-1", "state-1")
	if _, _, err := s.ClaimCallback(ctx, brand, "state-1", true, browser, time.Minute); err != nil {
		t.Fatal(err)
	}
	a, err := s.CompleteConnection(ctx, connection(first, "DEV-A"))
	if err != nil {
		t.Fatal(err)
	}
	second := mustAuthorizing(t, s, "cust-1", "state-2")
	if _, _, err := s.ClaimCallback(ctx, brand, "state-2", true, browser, time.Minute); err != nil {
		t.Fatal(err)
	}
	b, err := s.CompleteConnection(ctx, connection(second, "DEV-B", "DEV-C"))
	if err != nil {
		t.Fatal(err)
	}
	if *a.NoxUserID != *b.NoxUserID {
		t.Fatalf("nox_user_id: got %s then %s, want the same", *a.NoxUserID, *b.NoxUserID)
	}
	u, err := s.SupplierUser(ctx, "supplier_test", "cust-1")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, d := range u.Devices {
		ids = append(ids, d.ExternalID)
	}
	if got, want := fmt.Sprint(ids), "[DEV-B DEV-C]"; got != want {
		t.Errorf("devices: got %s, want %s", got, want)
	}
	tokens, err := dbtest.ManufacturerTokens(ctx, s, *b.NoxUserID, brand)
	if err != nil {
		t.Fatal(err)
	}
	if tokens.AccessToken != "at-"+second.ID || tokens.RefreshToken != "rt-"+second.ID {
		t.Errorf("tokens: got %+v, want the second connection's", tokens)
	}
	if n := count(t, s, `SELECT count(*) FROM manufacturer_grants WHERE position($1::bytea in access_token_enc) > 0`, []byte(tokens.AccessToken)); n != 0 {
		t.Errorf("grants holding the access token in plaintext: got %d, want 0", n)
	}
	if _, err := s.CompleteConnection(ctx, connection(second, "DEV-D")); app.ErrorReason(err) != app.ReasonAlreadyUsed {
		t.Errorf("completing a connected session again: got %v, want already_used", err)
	}
}

// TestConcurrentLinkCreationsAreBatchedAndABadRowFailsAlone creates many
// sessions at once (they share statements and commits) with one of them
// invalid: every valid one is stored with its own token and fields, the
// invalid one gets its own error and leaves no row.
func TestConcurrentLinkCreationsAreBatchedAndABadRowFailsAlone(t *testing.T) {
	s := mustStore(t)
	ctx := context.Background()
	const n = 60
	type result struct {
		sess  app.LinkSession
		token string
		err   error
	}
	results := make([]result, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			nw := app.NewLinkSession{
				Kind: app.KindSupplierLink, SupplierID: "supplier_test", SupplierUserID: fmt.Sprintf("batch-%d", i),
				RedirectURI: "https://s.example/cb", Language: app.Languages[i%len(app.Languages)], Initiator: app.InitiatorAPI,
				TTL: time.Duration(10+i) * time.Minute,
			}
			if i%3 == 0 {
				nw.ManufacturerID = brand
			}
			if i == 17 {
				nw.SupplierID = "no_such_supplier" // foreign key violation
			}
			<-start
			sess, token, _, err := s.CreateLinkSession(ctx, nw)
			results[i] = result{sess, token, err}
		}(i)
	}
	close(start)
	wg.Wait()
	for i, r := range results {
		if i == 17 {
			if r.err == nil {
				t.Errorf("session with an unknown supplier was created: %+v", r.sess)
			}
			continue
		}
		if r.err != nil {
			t.Fatalf("session %d: %v", i, r.err)
		}
		if r.sess.SupplierUserID != fmt.Sprintf("batch-%d", i) || r.sess.Language != app.Languages[i%len(app.Languages)] ||
			r.sess.Preselected != (i%3 == 0) {
			t.Errorf("session %d came back as %+v", i, r.sess)
		}
		if ttl := r.sess.ExpiresAt.Sub(r.sess.CreatedAt); ttl < time.Duration(10+i)*time.Minute-time.Second || ttl > time.Duration(10+i)*time.Minute+time.Second {
			t.Errorf("session %d: ttl %v, want %d minutes", i, ttl, 10+i)
		}
		// The token opens exactly this session.
		opened, _, err := s.OpenLinkSession(ctx, r.token, browser)
		if err != nil || opened.ID != r.sess.ID {
			t.Errorf("session %d: token opened %q, %v; want %s", i, opened.ID, err, r.sess.ID)
		}
	}
	var rows, events int
	if err := s.DB().Get(&rows, `SELECT count(*) FROM link_sessions WHERE supplier_user_id LIKE 'batch-%'`); err != nil {
		t.Fatal(err)
	}
	if err := s.DB().Get(&events, `SELECT count(*) FROM link_events e JOIN link_sessions s ON s.id = e.session_id
		WHERE s.supplier_user_id LIKE 'batch-%' AND e.type = 'created'`); err != nil {
		t.Fatal(err)
	}
	if rows != n-1 || events != n-1 {
		t.Errorf("stored %d sessions and %d created events, want %d each", rows, events, n-1)
	}
}

// TestBrandPageShowsCatalogueChangesAtOnce reads the brand page (cached
// for a moment) around changes to the brand and the supplier: each change
// shows on the next read.
func TestBrandPageShowsCatalogueChangesAtOnce(t *testing.T) {
	s := mustStore(t)
	ctx := context.Background()
	read := func() (string, app.Manufacturer) {
		t.Helper()
		name, ms, err := s.BrandPage(ctx, "supplier_test", []string{brand})
		if err != nil || len(ms) != 1 {
			t.Fatalf("brand page: %q %+v %v", name, ms, err)
		}
		return name, ms[0]
	}
	if _, m := read(); !m.Enabled || m.Status != "ok" {
		t.Fatalf("brand: got %+v, want enabled and ok", m)
	}
	read() // from the cache
	if err := dbtest.SetManufacturerStatus(ctx, s, brand, true, "down", "Back at noon"); err != nil {
		t.Fatal(err)
	}
	if _, m := read(); m.Status != "down" || m.StatusMessage != "Back at noon" {
		t.Errorf("after the status change: got %+v", m)
	}
	if err := s.UpsertSupplier(ctx, app.Supplier{ID: "supplier_test", Name: "Renamed Energy", RedirectURIs: []string{"https://s.example/cb"}}); err != nil {
		t.Fatal(err)
	}
	if name, _ := read(); name != "Renamed Energy" {
		t.Errorf("after the rename: supplier %q", name)
	}
}

// TestSweepSelectionAgreesWithDecide puts sessions in every status, before
// and after the deadline, unclaimed and claimed (lease run out, lease
// running, no lease), and checks that the sweepers' SQL selection takes
// exactly the sessions app.Decide ends for the expire and lease-expire
// steps.
func TestSweepSelectionAgreesWithDecide(t *testing.T) {
	s := mustStore(t)
	ctx := context.Background()
	if _, err := s.DB().Exec(`INSERT INTO nox_users (id) VALUES ('nox_sweep')`); err != nil {
		t.Fatal(err)
	}
	claims := map[string]string{
		"unclaimed":     `callback_at = NULL, callback_lease_until = NULL`,
		"lease run out": `callback_at = now() - interval '5 minutes', callback_lease_until = now() - interval '1 second'`,
		"lease running": `callback_at = now() - interval '5 minutes', callback_lease_until = now() + interval '1 minute'`,
		"no lease":      `callback_at = now() - interval '5 minutes', callback_lease_until = NULL`,
	}
	statuses := map[app.SessionStatus]string{
		app.StatusCreated:     `finished_at = NULL`,
		app.StatusOpened:      `opened_at = now(), finished_at = NULL`,
		app.StatusAuthorizing: `opened_at = now(), authorizing_at = now(), finished_at = NULL`,
		app.StatusConnected:   `nox_user_id = 'nox_sweep', finished_at = now()`,
		app.StatusFailed:      `failure_reason = 'access_denied', finished_at = now()`,
		app.StatusExpired:     `failure_reason = 'expired', finished_at = now()`,
	}
	n := 0
	for status, set := range statuses {
		for claim, claimSet := range claims {
			for _, ttl := range []time.Duration{-time.Minute, time.Hour} {
				n++
				sess, _ := mustCreate(t, s, fmt.Sprintf("sweep-%d", n), ttl)
				if _, err := s.DB().Exec(`UPDATE link_sessions SET status = $2, `+set+`, `+claimSet+` WHERE id = $1`,
					sess.ID, status); err != nil {
					t.Fatalf("%s %s %v: %v", status, claim, ttl, err)
				}
			}
		}
	}
	for _, st := range []app.Step{app.StepExpire, app.StepLeaseExpire} {
		selected, decided, err := db.SweepAgreement(ctx, s, st)
		if err != nil {
			t.Fatal(err)
		}
		if len(decided) == 0 {
			t.Errorf("%s: Decide ends none of the %d sessions", st, n)
		}
		slices.Sort(selected)
		if !slices.Equal(selected, decided) {
			t.Errorf("%s: the SQL selects %v, Decide ends %v", st, selected, decided)
		}
	}
}
