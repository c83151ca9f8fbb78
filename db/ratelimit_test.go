package db_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"noxportal/app"
	"noxportal/db"
	"noxportal/db/dbtest"
)

// instances returns n stores on one fresh database, each with its own pool,
// as n server processes would have.
func instances(t *testing.T, n int) []*db.Store {
	t.Helper()
	url := dbtest.MustDatabase(t)
	stores := make([]*db.Store, n)
	for i := range stores {
		d, err := db.Open(context.Background(), url, 4, 4)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.Close() })
		stores[i] = db.New(d, nil)
	}
	return stores
}

// storedCount is the shared counter of bucket in the window of at.
func storedCount(t *testing.T, s *db.Store, bucket string, at time.Time, window time.Duration) int {
	t.Helper()
	var n int
	if err := s.DB().Get(&n, `SELECT coalesce(sum(count), 0) FROM rate_limits WHERE bucket = $1 AND window_start = $2`,
		bucket, at.Truncate(window)); err != nil {
		t.Fatal(err)
	}
	return n
}

// countReservations makes the database count every statement that adds to
// a rate-limit counter (a sequence bumped by a trigger), and returns how to
// read the count.
func countReservations(t *testing.T, s *db.Store) func() int64 {
	t.Helper()
	if _, err := s.DB().Exec(`
		CREATE SEQUENCE reservations_seen;
		CREATE FUNCTION see_reservation() RETURNS trigger LANGUAGE plpgsql AS
			$$ BEGIN PERFORM nextval('reservations_seen'); RETURN NEW; END $$;
		CREATE TRIGGER see_reservation AFTER INSERT OR UPDATE ON rate_limits
			FOR EACH ROW EXECUTE FUNCTION see_reservation();`); err != nil {
		t.Fatal(err)
	}
	return func() int64 {
		var n int64
		if err := s.DB().Get(&n, `SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM reservations_seen`); err != nil {
			t.Fatal(err)
		}
		return n
	}
}

// TestRateLimitBlocksAdmitExactlyTheLimitAcrossInstances has four instances,
// each with its own pool and eight clients, send requests of one page bucket
// and of one API key at once, each client until it is refused: together
// they admit exactly the limit of each, never more, the shared counters end
// at the limit, and most requests were admitted without a statement.
func TestRateLimitBlocksAdmitExactlyTheLimitAcrossInstances(t *testing.T) {
	stores := instances(t, 4)
	ctx := context.Background()
	if err := stores[0].UpsertSupplier(ctx, app.Supplier{ID: "supplier_test", Name: "Test Energy", RedirectURIs: []string{"https://s.example/cb"}}); err != nil {
		t.Fatal(err)
	}
	key, err := stores[0].CreateAPIKey(ctx, app.APIKeyOwner{SupplierID: "supplier_test"}, "test")
	if err != nil {
		t.Fatal(err)
	}
	reservations := countReservations(t, stores[0])
	const limit, clients = 1000, 8
	now := time.Now()
	var pages, keys, requests atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	for _, s := range stores {
		for range clients {
			wg.Go(func() {
				<-start
				for {
					requests.Add(1)
					ok, _, err := s.Allow(ctx, "page:192.0.2.1", limit, time.Hour, now)
					if err != nil {
						t.Error(err)
						return
					}
					if !ok {
						return
					}
					pages.Add(1)
				}
			})
			wg.Go(func() {
				<-start
				for {
					requests.Add(1)
					owner, ok, _, err := s.AuthenticateAPIKeyAndCount(ctx, key, limit, time.Hour, now)
					if err != nil {
						t.Error(err)
						return
					}
					if owner.SupplierID != "supplier_test" {
						t.Errorf("owner: got %+v", owner)
						return
					}
					if !ok {
						return
					}
					keys.Add(1)
				}
			})
		}
	}
	close(start)
	wg.Wait()
	if pages.Load() != limit || keys.Load() != limit {
		t.Errorf("admitted %d page requests and %d of the API key; want exactly the limit, %d, of each", pages.Load(), keys.Load(), limit)
	}
	// Once refused, every instance keeps refusing in this window.
	for i, s := range stores {
		if ok, _, err := s.Allow(ctx, "page:192.0.2.1", limit, time.Hour, now); err != nil || ok {
			t.Errorf("instance %d after the limit: allowed %v, %v", i, ok, err)
		}
	}
	var stored []int
	if err := stores[0].DB().Select(&stored, `SELECT count FROM rate_limits ORDER BY bucket`); err != nil {
		t.Fatal(err)
	}
	if len(stored) != 2 || stored[0] != limit || stored[1] != limit {
		t.Errorf("stored counters %v, want two at the limit, %d", stored, limit)
	}
	// Far from the limit blocks are large; the last 16 of a window are
	// reserved one by one. The bound is loose: a block is taken per 1/16 of
	// what is left (about 110 per bucket), plus the ramp up of each instance.
	if n := reservations(); n > 2*limit/4 {
		t.Errorf("%d statements added to the counters for %d requests, want at most %d", n, requests.Load(), 2*limit/4)
	} else {
		t.Logf("%d requests, %d admitted, %d reservations", requests.Load(), 2*limit, n)
	}
}

// TestRateLimitRefusesEarlyByAtMostOneBlockPerInstance: an instance that
// stops receiving requests keeps its unspent block. Another instance is
// refused once the shared counter is at the limit, early by no more than
// that block (at most 1/16 of what was left when it was taken); the first
// instance can still spend it, and then the window has admitted exactly the
// limit.
func TestRateLimitRefusesEarlyByAtMostOneBlockPerInstance(t *testing.T) {
	stores := instances(t, 2)
	a, b := stores[0], stores[1]
	ctx := context.Background()
	const limit, bucket = 400, "page:203.0.113.9"
	now := time.Now()
	allow := func(s *db.Store) bool {
		t.Helper()
		ok, _, err := s.Allow(ctx, bucket, limit, time.Hour, now)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	// a's blocks grow 1, 2, 4, 8, 16: after 16 requests it holds all 16 of
	// its fifth block.
	for i := range 16 {
		if !allow(a) {
			t.Fatalf("request %d of a refused", i)
		}
	}
	reserved := storedCount(t, a, bucket, now, time.Hour)
	heldByA := reserved - 16
	if heldByA < 1 || heldByA > (limit-(reserved-heldByA)+15)/16 {
		t.Fatalf("a holds %d unspent of %d reserved: want one block, at most 1/16 of what was left", heldByA, reserved)
	}
	byB := 0
	for allow(b) {
		byB++
	}
	if byB != limit-16-heldByA {
		t.Errorf("b admitted %d, want the limit less what a spent and holds: %d", byB, limit-16-heldByA)
	}
	byA := 0
	for allow(a) {
		byA++
	}
	if byA != heldByA {
		t.Errorf("a admitted %d more, want its unspent block, %d", byA, heldByA)
	}
	if total := 16 + byA + byB; total != limit {
		t.Errorf("the window admitted %d, want exactly %d", total, limit)
	}
	if n := storedCount(t, a, bucket, now, time.Hour); n != limit {
		t.Errorf("stored counter %d, want %d", n, limit)
	}
}

// TestRateLimitBlocksResetWhenTheWindowRollsOver: a bucket at its limit is
// refused until its window ends (Retry-After counts down to it), and the
// next window starts from nothing on every instance.
func TestRateLimitBlocksResetWhenTheWindowRollsOver(t *testing.T) {
	stores := instances(t, 2)
	ctx := context.Background()
	const limit, bucket = 5, "api:77"
	t0 := time.Date(2026, 3, 1, 10, 0, 30, 0, time.UTC)
	admitted := func(at time.Time) (n int) {
		t.Helper()
		for i := range 2 * limit {
			ok, retry, err := stores[i%2].Allow(ctx, bucket, limit, time.Minute, at)
			if err != nil {
				t.Fatal(err)
			}
			if want := at.Truncate(time.Minute).Add(time.Minute).Sub(at); retry != want {
				t.Errorf("retry after %v, want the window's end, %v", retry, want)
			}
			if ok {
				n++
			}
		}
		return n
	}
	if n := admitted(t0); n != limit {
		t.Errorf("first window admitted %d, want %d", n, limit)
	}
	if n := admitted(t0.Add(29 * time.Second)); n != 0 {
		t.Errorf("later in the same window admitted %d, want 0", n)
	}
	if n := admitted(t0.Add(30 * time.Second)); n != limit {
		t.Errorf("next window admitted %d, want %d", n, limit)
	}
	for _, at := range []time.Time{t0, t0.Add(30 * time.Second)} {
		if n := storedCount(t, stores[0], bucket, at, time.Minute); n != limit {
			t.Errorf("window of %s: stored %d, want %d", at.Format(time.TimeOnly), n, limit)
		}
	}
}

// TestConcurrentRateLimitsAdmitExactlyTheLimit sends many requests of one
// bucket and one API key at once to one instance (the API key lookups
// merged, the requests spending reserved blocks): exactly `limit` of them
// are allowed, and the stored counters reserved exactly the limit.
func TestConcurrentRateLimitsAdmitExactlyTheLimit(t *testing.T) {
	s := mustStore(t)
	ctx := context.Background()
	key, err := s.CreateAPIKey(ctx, app.APIKeyOwner{SupplierID: "supplier_test"}, "test")
	if err != nil {
		t.Fatal(err)
	}
	const n, limit = 120, 70
	now := time.Now()
	var allowed, keyAllowed, unknown atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < n; i++ {
		wg.Add(3)
		go func() {
			defer wg.Done()
			<-start
			ok, _, err := s.Allow(ctx, "page:192.0.2.1", limit, time.Hour, now)
			if err != nil {
				t.Error(err)
			} else if ok {
				allowed.Add(1)
			}
		}()
		go func() {
			defer wg.Done()
			<-start
			owner, ok, _, err := s.AuthenticateAPIKeyAndCount(ctx, key, limit, time.Hour, now)
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
			if _, _, _, err := s.AuthenticateAPIKeyAndCount(ctx, "nox_sk_unknown", limit, time.Hour, now); app.ErrorCode(err) == app.EUNAUTHORIZED {
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
	if len(counts) != 2 || counts[0] != limit || counts[1] != limit {
		t.Errorf("stored counters %v, want two at the limit, %d", counts, limit)
	}
}

// TestRateLimitIsSharedByInstancesFarFromAndNearItsLimit counts one bucket
// from two stores on one database, as two instances would, taking turns:
// far from the limit each spends blocks it reserved, near it blocks of one,
// and exactly limit are allowed between the two.
func TestRateLimitIsSharedByInstancesFarFromAndNearItsLimit(t *testing.T) {
	a := mustStore(t)
	b := db.New(a.DB(), nil)
	ctx := context.Background()
	const n, limit = 60, 40
	now := time.Now()
	allowed := 0
	for i := range n {
		s := a
		if i%2 == 1 {
			s = b
		}
		ok, _, err := s.Allow(ctx, "page:198.51.100.7", limit, time.Hour, now)
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
	if got := storedCount(t, a, "page:198.51.100.7", now, time.Hour); got != limit {
		t.Errorf("stored counter %d, want the limit, %d", got, limit)
	}
}
