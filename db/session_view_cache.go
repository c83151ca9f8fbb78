package db

import (
	"context"
	"encoding/hex"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// A repeat view of a hosted page (the brand page, the supplier selector,
// the expired and used pages) reads its session by token and changes
// nothing. viewCache keeps such a read per instance, so the next view of
// the same session skips the database round trip while the session is
// unchanged:
//
//   - every UPDATE of a link session announces its token hash on the channel
//     link_session_changed at commit (migration 00160); each instance
//     listens (ListenSessionChanges) and drops its entry. While the listening
//     connection is down, and until it listens again, nothing is cached;
//   - a change this instance commits drops its entry at commit, before the
//     request that made it answers (inTxOnce), without waiting for the
//     announcement;
//   - the clock: an entry keeps the database's time of its read, and a hit
//     asks the state machine again at that time plus the time since, so an
//     overdue session goes to the database (and is expired there) exactly as
//     an uncached view would;
//   - a read that raced with a change is not kept (the generation counter:
//     any drop after the read began refuses the entry).
//
// A change committed by another instance shows on this one as soon as its
// announcement arrives (a fraction of a millisecond on one network); a view
// that starts in between answers as the session was. Every step of the flow
// (choosing, signing in, the callback) reads and locks the session itself,
// so a stale view can show a page but never take a step.

const (
	// viewCacheMax bounds the entries; past it the cache starts over.
	viewCacheMax = 100000
	// viewCacheTTL bounds an entry's age, for what no announcement covers
	// (a history month dropped by retention).
	viewCacheTTL = time.Minute
	// sessionChannel is the channel of migration 00160.
	sessionChannel = "link_session_changed"
)

type viewEntry struct {
	ls     lockedSession
	readAt time.Time // local, with the monotonic reading
}

type viewCache struct {
	// on: a listener is connected and listening; entries are kept and used.
	on  atomic.Bool
	gen atomic.Uint64
	mu  sync.RWMutex
	// byHash: token hash → entry; ids: session id → token hash.
	byHash map[[32]byte]viewEntry
	ids    map[string][32]byte
	// dropped counts announcements handled (tests wait on it).
	dropped atomic.Uint64
}

func newViewCache() *viewCache {
	return &viewCache{byHash: map[[32]byte]viewEntry{}, ids: map[string][32]byte{}}
}

// get returns the cached read of the token hash with its database time
// moved on by the time since the read.
func (c *viewCache) get(hash []byte) (lockedSession, bool) {
	if !c.on.Load() || len(hash) != 32 {
		return lockedSession{}, false
	}
	c.mu.RLock()
	e, ok := c.byHash[[32]byte(hash)]
	c.mu.RUnlock()
	if !ok {
		return lockedSession{}, false
	}
	age := time.Since(e.readAt)
	if age < 0 || age > viewCacheTTL {
		return lockedSession{}, false
	}
	e.ls.Now = e.ls.Now.Add(age)
	return e.ls, true
}

// begin returns the generation to hand to put after the read.
func (c *viewCache) begin() uint64 { return c.gen.Load() }

// put keeps ls, read at readAt, unless anything was dropped since gen.
func (c *viewCache) put(hash []byte, ls lockedSession, gen uint64, readAt time.Time) {
	if !c.on.Load() || len(hash) != 32 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen.Load() != gen {
		return
	}
	if len(c.byHash) >= viewCacheMax {
		c.byHash, c.ids = map[[32]byte]viewEntry{}, map[string][32]byte{}
	}
	c.byHash[[32]byte(hash)] = viewEntry{ls: ls, readAt: readAt}
	c.ids[ls.ID] = [32]byte(hash)
}

// dropHash forgets the session of a token hash.
func (c *viewCache) dropHash(hash [32]byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen.Add(1)
	if e, ok := c.byHash[hash]; ok {
		delete(c.ids, e.ls.ID)
		delete(c.byHash, hash)
	}
}

// dropIDs forgets the sessions with these ids.
func (c *viewCache) dropIDs(ids []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen.Add(1)
	for _, id := range ids {
		if h, ok := c.ids[id]; ok {
			delete(c.byHash, h)
			delete(c.ids, id)
		}
	}
}

// reset forgets everything and turns the cache on or off.
func (c *viewCache) reset(on bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen.Add(1)
	c.on.Store(on)
	c.byHash, c.ids = map[[32]byte]viewEntry{}, map[string][32]byte{}
}

// sessionWrites collects, per open transaction, the ids of the link
// sessions it updated, so inTxOnce drops them from the view cache at
// commit.
var sessionWrites sync.Map // *sqlx.Tx → *[]string

// noteSessionWrite records that tx updated the session id.
func noteSessionWrite(tx *sqlx.Tx, id string) {
	if v, ok := sessionWrites.Load(tx); ok {
		p := v.(*[]string)
		*p = append(*p, id)
	}
}

// ListenSessionChanges keeps this store's view cache in step with the
// link_session_changed announcements of every instance, until ctx ends:
// it listens on its own connection to url (reconnecting when it drops) and
// keeps the cache on only while it listens. Without it nothing is cached.
func (s *Store) ListenSessionChanges(ctx context.Context, url string, log *slog.Logger) {
	events := func(ev pq.ListenerEventType, err error) {
		switch ev {
		case pq.ListenerEventDisconnected, pq.ListenerEventConnectionAttemptFailed:
			s.views.reset(false)
			if err != nil {
				log.Warn("session change listener disconnected; hosted pages read every view", "err", err)
			}
		case pq.ListenerEventReconnected:
			// Announcements may have been missed while it was down.
			s.views.reset(true)
		}
	}
	l := pq.NewListener(url, 100*time.Millisecond, 5*time.Second, events)
	defer func() {
		s.views.reset(false)
		l.Close()
	}()
	for {
		if err := l.Listen(sessionChannel); err == nil || err == pq.ErrChannelAlreadyOpen {
			break
		} else {
			log.Warn("session change listener", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
	s.views.reset(true)
	for {
		select {
		case <-ctx.Done():
			return
		case n := <-l.Notify:
			if n == nil {
				// Reconnected: what was announced meanwhile is lost.
				s.views.reset(true)
				continue
			}
			if b, err := hex.DecodeString(n.Extra); err == nil && len(b) == 32 {
				s.views.dropHash([32]byte(b))
			} else {
				s.views.reset(s.views.on.Load())
			}
			s.views.dropped.Add(1)
		case <-time.After(30 * time.Second):
			if err := l.Ping(); err != nil {
				s.views.reset(false)
			}
		}
	}
}

// SessionViewsCaching reports whether the view cache is on (a listener is
// listening).
func (s *Store) SessionViewsCaching() bool { return s.views.on.Load() }

// SessionViewCached reports whether a view of the session of the token is
// cached.
func (s *Store) SessionViewCached(tokenHash []byte) bool {
	_, ok := s.views.get(tokenHash)
	return ok
}
