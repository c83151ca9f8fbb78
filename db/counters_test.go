package db_test

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"noxportal/app"
	"noxportal/db"
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
	// Requests far from the limit are stored in the background: wait for them.
	if counts := waitForCounts(t, s, n, n); len(counts) != 2 || counts[0] != n || counts[1] != n {
		t.Errorf("stored counters %v, want two of %d", counts, n)
	}
}

// waitForCounts returns the stored rate-limit counters (by bucket) once they
// are want, or as they stand after a few seconds.
func waitForCounts(t *testing.T, s *db.Store, want ...int) []int {
	t.Helper()
	var counts []int
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		counts = counts[:0]
		if err := s.DB().Select(&counts, `SELECT count FROM rate_limits ORDER BY bucket`); err != nil {
			t.Fatal(err)
		}
		if slices.Equal(counts, want) || time.Now().After(deadline) {
			return counts
		}
	}
}

// TestRateLimitIsSharedByInstancesFarFromAndNearItsLimit counts one bucket
// from two stores on one database, as two instances would: requests far from
// the limit are allowed without waiting for their update, yet every one is
// stored once and exactly limit are allowed between the two.
func TestRateLimitIsSharedByInstancesFarFromAndNearItsLimit(t *testing.T) {
	a := mustStore(t)
	b := db.New(a.DB(), nil)
	ctx := context.Background()
	const n, limit = 60, 40
	allowed := 0
	for i := range n {
		s := a
		if i%2 == 1 {
			s = b
		}
		ok, _, err := s.Allow(ctx, "page:198.51.100.7", limit, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			allowed++
		}
	}
	if allowed != limit {
		t.Errorf("allowed %d of %d requests, want exactly the limit, %d", allowed, n, limit)
	}
	if counts := waitForCounts(t, a, n); len(counts) != 1 || counts[0] != n {
		t.Errorf("stored counter %v, want %d (every request once)", counts, n)
	}
}
