package db_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"noxportal/app"
)

// TestConcurrentRateLimitsCountEveryRequestOnce sends many requests of one
// bucket and one API key at once (their increments are merged into shared
// updates): exactly `limit` of them are allowed and the stored counters
// hold every request, once.
func TestConcurrentRateLimitsCountEveryRequestOnce(t *testing.T) {
	s := mustStore(t)
	ctx := context.Background()
	key, err := s.CreateAPIKey(ctx, app.APIKeyOwner{SupplierID: "supplier_test"}, "test")
	if err != nil {
		t.Fatal(err)
	}
	const n, limit = 120, 70
	var allowed, keyAllowed, unknown atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < n; i++ {
		wg.Add(3)
		go func() {
			defer wg.Done()
			<-start
			ok, _, err := s.Allow(ctx, "page:192.0.2.1", limit, time.Hour)
			if err != nil {
				t.Error(err)
			} else if ok {
				allowed.Add(1)
			}
		}()
		go func() {
			defer wg.Done()
			<-start
			owner, ok, _, err := s.AuthenticateAPIKeyAndCount(ctx, key, limit, time.Hour)
			if err != nil {
				t.Error(err)
			} else if owner.SupplierID != "supplier_test" || len(owner.RedirectURIs) != 1 {
				t.Errorf("owner: got %+v", owner)
			} else if ok {
				keyAllowed.Add(1)
			}
		}()
		go func() {
			defer wg.Done()
			<-start
			if _, _, _, err := s.AuthenticateAPIKeyAndCount(ctx, "nox_sk_unknown", limit, time.Hour); app.ErrorCode(err) == app.EUNAUTHORIZED {
				unknown.Add(1)
			} else {
				t.Errorf("unknown key: got %v, want EUNAUTHORIZED", err)
			}
		}()
	}
	close(start)
	wg.Wait()
	if allowed.Load() != limit || keyAllowed.Load() != limit || unknown.Load() != n {
		t.Errorf("allowed %d by bucket, %d by key, %d unknown keys refused; want %d, %d, %d",
			allowed.Load(), keyAllowed.Load(), unknown.Load(), limit, limit, n)
	}
	var counts []int
	if err := s.DB().Select(&counts, `SELECT count FROM rate_limits ORDER BY bucket`); err != nil {
		t.Fatal(err)
	}
	if len(counts) != 2 || counts[0] != n || counts[1] != n {
		t.Errorf("stored counters %v, want two of %d", counts, n)
	}
}
