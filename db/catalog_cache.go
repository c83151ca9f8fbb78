package db

import (
	"strings"
	"sync"
	"time"

	"noxportal/app"
)

// The brand page shows a supplier's name and the brands, which change only
// when an admin edits them, on every view of every link. catalogCache keeps
// what BrandPage read for catalogTTL; writes through this store clear it at
// once, and other instances' writes show within the TTL.

const (
	catalogTTL = time.Second
	// catalogMax bounds the entries (one per supplier and brand set).
	catalogMax = 10000
)

type catalogEntry struct {
	at       time.Time
	supplier string
	brands   []app.Manufacturer
}

type catalogCache struct {
	mu      sync.Mutex
	gen     uint64
	entries map[string]catalogEntry
}

func newCatalogCache() *catalogCache {
	return &catalogCache{entries: map[string]catalogEntry{}}
}

func catalogKey(supplierID string, ids []string) string {
	return supplierID + "\x00" + strings.Join(ids, "\x00")
}

// get returns a fresh entry and, either way, the generation to pass to put.
func (c *catalogCache) get(key string) (catalogEntry, bool, uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if ok && time.Since(e.at) < catalogTTL {
		return e, true, c.gen
	}
	return catalogEntry{}, false, c.gen
}

// put stores e unless the catalogue was written since gen was read (the
// read may predate the write).
func (c *catalogCache) put(key string, gen uint64, e catalogEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if len(c.entries) >= catalogMax {
		c.entries = map[string]catalogEntry{}
	}
	c.entries[key] = e
}

// invalidate forgets every entry; call it after changing suppliers or
// manufacturers.
func (c *catalogCache) invalidate() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	c.entries = map[string]catalogEntry{}
}
