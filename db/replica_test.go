package db_test

import (
	"context"
	"net"
	"testing"
	"time"

	"noxportal/app"
	"noxportal/db"
)

// closedPortURL returns a Postgres URL on a loopback port nothing listens on.
func closedPortURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "postgres://postgres@" + addr + "/postgres?sslmode=disable&connect_timeout=2"
}

// TestReadsFallBackToThePrimaryWhenTheReplicaIsUnusable covers the three
// ways a replica cannot serve: none configured, a server that is not in
// recovery (a promoted or wrong server), and one that does not answer.
// Every read still answers, from the primary, and the fallbacks are counted.
func TestReadsFallBackToThePrimaryWhenTheReplicaIsUnusable(t *testing.T) {
	ctx := context.Background()
	primary := mustStore(t)
	mustMappings(t, primary, "supplier_test", "u-1")
	search := func(s *db.Store) error {
		rows, _, err := s.SearchMappings(ctx, app.MappingFilter{Q: "u-1"}, nil, 10)
		if err == nil && len(rows) != 1 {
			t.Errorf("search: got %d rows, want 1", len(rows))
		}
		return err
	}

	none := db.NewReads(primary, nil, time.Minute)
	if src, err := none.Read(ctx, search); err != nil || src.Replica {
		t.Fatalf("no replica: got %+v, %v; want a read on the primary", src, err)
	}
	if st := none.Stats(); st.Configured || st.Fallen != 0 || st.OnPrimary != 1 {
		t.Errorf("no replica: stats %+v, want 1 read on the primary and no fallback", st)
	}

	// The primary itself posing as a replica: not in recovery, so never used.
	notStandby := db.NewReads(primary, db.New(primary.DB(), nil), time.Minute)
	if err := notStandby.Probe(ctx); err == nil {
		t.Error("probe of a server not in recovery: got nil, want an error")
	}
	if src, err := notStandby.Read(ctx, search); err != nil || src.Replica {
		t.Fatalf("not a standby: got %+v, %v; want a read on the primary", src, err)
	}

	dead, err := db.Connect(closedPortURL(t), 2, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer dead.Close()
	down := db.NewReads(primary, db.New(dead, nil), time.Minute)
	pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if err := down.Probe(pctx); err == nil {
		t.Error("probe of a closed port: got nil, want an error")
	}
	for i := 0; i < 3; i++ {
		if src, err := down.Read(ctx, search); err != nil || src.Replica {
			t.Fatalf("replica down: got %+v, %v; want a read on the primary", src, err)
		}
	}
	if st := down.Stats(); !st.Configured || st.Up || st.Fallen != 3 || st.OnReplica != 0 {
		t.Errorf("replica down: stats %+v, want 3 fallbacks and no replica read", st)
	}
}
