package db

import (
	"context"
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
	logins   []app.LoginSupplier
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

// The other hosted pages of a link (supplier selector, in use, ended, the
// device choice) name the session's supplier or manufacturer, and the
// selector lists the suppliers with a login page: the same catalogue, kept
// the same way. Their keys start with \x01, which no id holds.

// SupplierName returns the name of a supplier, or ENOTFOUND.
func (s *Store) SupplierName(ctx context.Context, id string) (string, error) {
	e, err := s.cachedCatalog("\x01supplier\x00"+id, func() (catalogEntry, error) {
		sup, err := s.GetSupplier(ctx, id)
		return catalogEntry{supplier: sup.Name}, err
	})
	return e.supplier, err
}

// ManufacturerName returns the name of a manufacturer, or ENOTFOUND.
func (s *Store) ManufacturerName(ctx context.Context, id string) (string, error) {
	e, err := s.cachedCatalog("\x01manufacturer\x00"+id, func() (catalogEntry, error) {
		m, err := s.GetManufacturer(ctx, id)
		return catalogEntry{supplier: m.Name}, err
	})
	return e.supplier, err
}

// LoginSuppliers returns the suppliers with an OAuth login page (flow 2)
// but those of exclude, by name.
func (s *Store) LoginSuppliers(ctx context.Context, exclude []string) ([]app.LoginSupplier, error) {
	e, err := s.cachedCatalog("\x01logins\x00"+strings.Join(exclude, "\x00"), func() (catalogEntry, error) {
		ls, err := s.loginSuppliers(ctx, exclude)
		return catalogEntry{logins: ls}, err
	})
	return append([]app.LoginSupplier(nil), e.logins...), err
}

// cachedCatalog returns the fresh entry of key, or reads and keeps it.
func (s *Store) cachedCatalog(key string, read func() (catalogEntry, error)) (catalogEntry, error) {
	e, ok, gen := s.catalog.get(key)
	if ok {
		return e, nil
	}
	e, err := read()
	if err != nil {
		return catalogEntry{}, err
	}
	e.at = time.Now()
	s.catalog.put(key, gen, e)
	return e, nil
}
