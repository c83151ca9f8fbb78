package devdata

import (
	"context"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"noxportal/db"
)

// BulkOptions sizes a load of realistic history (see Store.BulkSeed).
type BulkOptions struct {
	// Mappings is the number of supplier users with a nox user (and 1–2 devices each).
	Mappings int
	// Sessions is the number of link sessions spread over the last Days days.
	Sessions int
	// Days is the length of the history (default 90).
	Days int
	// EventDays limits link_events to the sessions of the last EventDays
	// days (default 7): a full timeline for every session would triple the
	// load time without changing what the screens show.
	EventDays int
	// Seed drives every random choice; 0 picks one from the clock.
	Seed uint64
	// Progress, when set, is told about each finished step.
	Progress func(step string, rows int64, took time.Duration)
}

// BulkStats counts the rows a bulk load wrote.
type BulkStats struct {
	Mappings, Devices, Sessions, Events int64
}

// Bench suppliers: id, name, main language, share of users.
var bulkSuppliers = []struct {
	id, name, lang string
	weight         int
}{
	{"voltaplus", "VoltaPlus Energie", "nl", 22},
	{"groenstroom-nl", "GroenStroom Nederland", "nl", 16},
	{"nordwind", "Nordwind Energie GmbH", "de", 13},
	{"rheinstrom", "Rheinstrom", "de", 10},
	{"helios-energie", "Hélios Énergie", "fr", 9},
	{"polderkracht", "Polderkracht", "nl", 8},
	{"solaris-energia", "Solaris Energía", "es", 6},
	{"atlantic-power", "Atlantic Power", "en", 5},
	{"zonnedak", "Zonnedak Stroom", "nl", 4},
	{"alpenwerk", "Alpenwerk Energie", "de", 3},
	{"brightside", "Brightside Energy", "en", 2},
	{"windkracht-9", "Windkracht 9", "nl", 2},
}

// Bench brands: id, name, kind, serial prefix, share of users.
var bulkBrands = []struct {
	id, name, kind, prefix string
	weight                 int
}{
	{"daikin", "Daikin", "heat_pump", "DKN", 16},
	{"vaillant", "Vaillant", "heat_pump", "VLT", 14},
	{"nibe", "NIBE", "heat_pump", "NIB", 9},
	{"mitsubishi-electric", "Mitsubishi Electric", "heat_pump", "MEL", 8},
	{"bosch", "Bosch", "heat_pump", "BSH", 8},
	{"viessmann", "Viessmann", "heat_pump", "VSM", 7},
	{"tado", "tado°", "thermostat", "TAD", 12},
	{"google-nest", "Google Nest", "thermostat", "NST", 8},
	{"honeywell", "Honeywell Home", "thermostat", "HNY", 5},
	{"zaptec", "Zaptec", "charger", "ZAP", 5},
	{"easee", "Easee", "charger", "EAS", 5},
	{"wallbox", "Wallbox", "charger", "WBX", 3},
}

var bulkLanguages = []string{"en", "nl", "de", "fr", "es"}

const bulkTTL = 15 * time.Minute

// BulkSeed loads generated history with COPY, in one transaction: suppliers
// and brands (added when missing), Mappings nox users with their supplier
// mappings and devices, Sessions link sessions over the last Days days with
// every outcome the state machine allows, and the events of the recent ones.
// Secondary indexes and foreign keys of the loaded tables are dropped for the
// load and rebuilt (and validated) before commit, so either everything is
// loaded with the schema intact or nothing is. It ends with ANALYZE.
func Bulk(ctx context.Context, s *db.Store, o BulkOptions) (BulkStats, error) {
	defer s.CatalogChanged()
	var st BulkStats
	if o.Days <= 0 {
		o.Days = 90
	}
	if o.EventDays <= 0 {
		o.EventDays = 7
	}
	if o.Seed == 0 {
		o.Seed = uint64(time.Now().UnixNano())
	}
	progress := o.Progress
	if progress == nil {
		progress = func(string, int64, time.Duration) {}
	}
	tx, err := s.DB().BeginTxx(ctx, nil)
	if err != nil {
		return st, fmt.Errorf("db: bulk seed: begin: %w", err)
	}
	defer tx.Rollback()
	for _, q := range []string{
		`SET LOCAL synchronous_commit = off`,
		// Row triggers would update the report rollups once per row; the
		// caller rebuilds them in one pass after the load.
		`SET LOCAL noxportal.skip_report_rollups = 'on'`,
		`SET LOCAL maintenance_work_mem = '2GB'`,
		`SET LOCAL max_parallel_maintenance_workers = 2`,
	} {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return st, fmt.Errorf("db: bulk seed: %s: %w", q, err)
		}
	}
	if err := bulkParties(ctx, tx); err != nil {
		return st, err
	}
	g := newBulkGen(o)
	if err := tx.GetContext(ctx, &g.userBase, `SELECT count(*) FROM supplier_mappings`); err != nil {
		return st, fmt.Errorf("db: bulk seed: count mappings: %w", err)
	}
	if err := tx.GetContext(ctx, &g.now, `SELECT now()`); err != nil {
		return st, fmt.Errorf("db: bulk seed: now: %w", err)
	}
	g.plan()

	t0 := time.Now()
	restore, err := dropLoadConstraints(ctx, tx, []string{"nox_users", "supplier_mappings", "devices", "link_sessions", "link_events"})
	if err != nil {
		return st, err
	}
	progress("drop indexes and foreign keys", int64(len(restore)), time.Since(t0))
	// Into empty tables, truncate first: rows copied into a table truncated
	// in the same transaction are written frozen, and without WAL when the
	// server runs with wal_level=minimal.
	var empty bool
	if err := tx.GetContext(ctx, &empty, `SELECT NOT EXISTS (SELECT FROM nox_users) AND NOT EXISTS (SELECT FROM supplier_mappings)
		AND NOT EXISTS (SELECT FROM devices) AND NOT EXISTS (SELECT FROM link_sessions) AND NOT EXISTS (SELECT FROM link_events)`); err != nil {
		return st, fmt.Errorf("db: bulk seed: empty: %w", err)
	}
	copyOpts := ""
	if empty {
		if _, err := tx.ExecContext(ctx, `TRUNCATE nox_users, supplier_mappings, devices, link_sessions, link_events`); err != nil {
			return st, fmt.Errorf("db: bulk seed: truncate: %w", err)
		}
		copyOpts = " WITH (FREEZE)"
	}

	steps := []struct {
		table string
		cols  []string
		items int
		gen   rowGen
		n     *int64
	}{
		{"nox_users", []string{"id", "created_at"}, o.Mappings, g.noxUser, nil},
		{"supplier_mappings", []string{"supplier_id", "supplier_user_id", "nox_user_id", "created_at"}, o.Mappings, g.mapping, &st.Mappings},
		{"devices", []string{"nox_user_id", "manufacturer_id", "external_id", "name", "model", "status", "connected_at", "last_sync_at", "updated_at"}, o.Mappings, g.devices, &st.Devices},
		{"link_sessions", []string{"id", "token_hash", "kind", "supplier_id", "supplier_user_id", "redirect_uri", "language", "initiator",
			"status", "failure_reason", "manufacturer_id", "brand_preselected", "nox_user_id", "state_hash", "pkce_verifier_enc", "browser_hash",
			"created_at", "opened_at", "brand_selected_at", "authorizing_at", "callback_at", "finished_at", "expires_at",
			"manufacturer_user_id", "history_month"}, o.Sessions, g.sessionRow, &st.Sessions},
		{"link_events", []string{"session_id", "type", "detail", "created_at"}, o.Sessions - g.eventFrom, g.events, &st.Events},
	}
	// The events' and finished sessions' months get their partitions
	// first, so no row of the load lands in a default partition.
	if _, err := tx.ExecContext(ctx, `SELECT history_ensure_month(m::date) FROM generate_series(
		date_trunc('month', ($1::timestamptz - make_interval(days => $2)) AT TIME ZONE 'UTC'),
		date_trunc('month', $1::timestamptz AT TIME ZONE 'UTC'), interval '1 month') m`, g.now, o.Days); err != nil {
		return st, fmt.Errorf("db: bulk seed: history partitions: %w", err)
	}
	for _, step := range steps {
		t := time.Now()
		opts := copyOpts
		if step.table == "link_events" || step.table == "link_sessions" {
			opts = "" // COPY FREEZE cannot load a partitioned table
		}
		n, err := copyRows(ctx, tx, step.table, step.cols, opts, step.items, step.gen)
		if err != nil {
			return st, err
		}
		if step.n != nil {
			*step.n = n
		}
		progress("copy "+step.table, n, time.Since(t))
	}
	for _, r := range restore {
		t := time.Now()
		if _, err := tx.ExecContext(ctx, r.sql); err != nil {
			return st, fmt.Errorf("db: bulk seed: restore %s: %w", r.name, err)
		}
		progress("rebuild "+r.name, 0, time.Since(t))
	}
	t := time.Now()
	if err := tx.Commit(); err != nil {
		return st, fmt.Errorf("db: bulk seed: commit: %w", err)
	}
	progress("commit", 0, time.Since(t))
	t = time.Now()
	for _, table := range []string{"suppliers", "manufacturers", "nox_users", "supplier_mappings", "devices", "link_sessions", "link_events"} {
		if _, err := s.DB().ExecContext(ctx, `ANALYZE `+table); err != nil {
			return st, fmt.Errorf("db: bulk seed: analyze %s: %w", table, err)
		}
	}
	progress("analyze", 0, time.Since(t))
	return st, nil
}

// bulkParties adds the bench suppliers (with redirect URIs) and brands that
// are missing; existing rows are left as they are.
func bulkParties(ctx context.Context, tx *sqlx.Tx) error {
	for _, b := range bulkBrands {
		if _, err := tx.ExecContext(ctx, `INSERT INTO manufacturers (id, name, kind) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
			b.id, b.name, b.kind); err != nil {
			return fmt.Errorf("db: bulk seed: manufacturer: %w", err)
		}
	}
	for _, sup := range bulkSuppliers {
		if _, err := tx.ExecContext(ctx, `INSERT INTO suppliers (id, name) VALUES ($1, $2) ON CONFLICT DO NOTHING`, sup.id, sup.name); err != nil {
			return fmt.Errorf("db: bulk seed: supplier: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO supplier_redirect_uris (supplier_id, uri) VALUES ($1, $2) ON CONFLICT DO NOTHING`,
			sup.id, bulkRedirectURI(sup.id)); err != nil {
			return fmt.Errorf("db: bulk seed: redirect uri: %w", err)
		}
	}
	return nil
}

func bulkRedirectURI(supplierID string) string {
	return "https://" + supplierID + ".example/nox/callback"
}

type restoreStmt struct{ name, sql string }

// dropLoadConstraints drops the foreign keys touching tables and every index
// on them (primary keys included, so they are built by one sort instead of
// row by row) and returns the statements that put them back, indexes first.
func dropLoadConstraints(ctx context.Context, tx *sqlx.Tx, tables []string) ([]restoreStmt, error) {
	var fks []struct {
		Table string `db:"tbl"`
		Name  string `db:"name"`
		Def   string `db:"def"`
	}
	if err := tx.SelectContext(ctx, &fks, `
		SELECT conrelid::regclass::text AS tbl, conname AS name, pg_get_constraintdef(oid) AS def
		FROM pg_constraint
		WHERE contype = 'f' AND conparentid = 0 AND (conrelid::regclass::text = ANY($1) OR confrelid::regclass::text = ANY($1))
		ORDER BY 1, 2`, pq.Array(tables)); err != nil {
		return nil, fmt.Errorf("db: bulk seed: list foreign keys: %w", err)
	}
	var idx []struct {
		Table string         `db:"tbl"`
		Name  string         `db:"name"`
		Con   sql.NullString `db:"con"`
		Def   string         `db:"def"`
	}
	if err := tx.SelectContext(ctx, &idx, `
		SELECT i.indrelid::regclass::text AS tbl, c.relname AS name, con.conname AS con,
		       coalesce(pg_get_constraintdef(con.oid), pg_get_indexdef(i.indexrelid)) AS def
		FROM pg_index i
		JOIN pg_class c ON c.oid = i.indexrelid
		LEFT JOIN pg_constraint con ON con.conindid = i.indexrelid AND con.contype IN ('p', 'u')
		WHERE i.indrelid::regclass::text = ANY($1)
		ORDER BY i.indisprimary DESC, 1, 2`, pq.Array(tables)); err != nil {
		return nil, fmt.Errorf("db: bulk seed: list indexes: %w", err)
	}
	var restore []restoreStmt
	for _, fk := range fks {
		if _, err := tx.ExecContext(ctx, `ALTER TABLE `+pq.QuoteIdentifier(fk.Table)+` DROP CONSTRAINT `+pq.QuoteIdentifier(fk.Name)); err != nil {
			return nil, fmt.Errorf("db: bulk seed: drop %s: %w", fk.Name, err)
		}
	}
	for _, ix := range idx {
		if ix.Con.Valid {
			_, err := tx.ExecContext(ctx, `ALTER TABLE `+pq.QuoteIdentifier(ix.Table)+` DROP CONSTRAINT `+pq.QuoteIdentifier(ix.Con.String))
			if err != nil {
				return nil, fmt.Errorf("db: bulk seed: drop %s: %w", ix.Con.String, err)
			}
			restore = append(restore, restoreStmt{ix.Con.String,
				`ALTER TABLE ` + pq.QuoteIdentifier(ix.Table) + ` ADD CONSTRAINT ` + pq.QuoteIdentifier(ix.Con.String) + ` ` + ix.Def})
			continue
		}
		if _, err := tx.ExecContext(ctx, `DROP INDEX `+pq.QuoteIdentifier(ix.Name)); err != nil {
			return nil, fmt.Errorf("db: bulk seed: drop %s: %w", ix.Name, err)
		}
		// The index of a partitioned table is defined ON ONLY the parent;
		// rebuilt, it must cover the partitions again.
		restore = append(restore, restoreStmt{ix.Name, strings.Replace(ix.Def, " ON ONLY ", " ON ", 1)})
	}
	for _, fk := range fks {
		restore = append(restore, restoreStmt{fk.Name,
			`ALTER TABLE ` + pq.QuoteIdentifier(fk.Table) + ` ADD CONSTRAINT ` + pq.QuoteIdentifier(fk.Name) + ` ` + fk.Def})
	}
	return restore, nil
}

// rowGen emits the rows of item i (one or more); it must depend on i alone.
type rowGen func(i int, emit func(row ...any))

// copyRows streams the rows of items 0..n-1 into table with COPY, in item
// order. Workers generate chunks of rows in parallel (values pre-formatted
// as COPY text, see tsText and byteaText) while this goroutine sends them.
func copyRows(ctx context.Context, tx *sqlx.Tx, table string, cols []string, opts string, n int, gen rowGen) (int64, error) {
	stmt, err := tx.PrepareContext(ctx, pq.CopyIn(table, cols...)+opts)
	if err != nil {
		return 0, fmt.Errorf("db: bulk seed: copy %s: %w", table, err)
	}
	defer stmt.Close()
	const chunk = 4096
	chunks := (n + chunk - 1) / chunk
	workers := max(runtime.GOMAXPROCS(0), 2)
	done := make(chan struct{})
	defer close(done)
	out := make([]chan [][]any, workers)
	for w := range out {
		out[w] = make(chan [][]any, 2)
		go func() {
			for c := w; c < chunks; c += workers {
				var rows [][]any
				for i := c * chunk; i < min((c+1)*chunk, n); i++ {
					gen(i, func(row ...any) { rows = append(rows, row) })
				}
				select {
				case out[w] <- rows:
				case <-done:
					return
				}
			}
		}()
	}
	var rows int64
	for c := 0; c < chunks; c++ {
		for _, row := range <-out[c%workers] {
			if _, err := stmt.ExecContext(ctx, row...); err != nil {
				return rows, fmt.Errorf("db: bulk seed: copy %s: %w", table, err)
			}
			rows++
		}
	}
	if _, err := stmt.ExecContext(ctx); err != nil {
		return rows, fmt.Errorf("db: bulk seed: copy %s: %w", table, err)
	}
	return rows, stmt.Close()
}

// tsText formats t as a timestamptz in COPY text, much cheaper than the
// driver's generic time formatting.
func tsText(t time.Time) string {
	t = t.UTC()
	b := make([]byte, 0, 29)
	y, mo, d := t.Date()
	h, mi, sec := t.Clock()
	b = appendInt(b, y, 4)
	b = append(b, '-')
	b = appendInt(b, int(mo), 2)
	b = append(b, '-')
	b = appendInt(b, d, 2)
	b = append(b, ' ')
	b = appendInt(b, h, 2)
	b = append(b, ':')
	b = appendInt(b, mi, 2)
	b = append(b, ':')
	b = appendInt(b, sec, 2)
	b = append(b, '.')
	b = appendInt(b, t.Nanosecond()/1000, 6)
	b = append(b, "+00"...)
	return string(b)
}

func appendInt(b []byte, v, width int) []byte {
	var buf [8]byte
	for i := width - 1; i >= 0; i-- {
		buf[i] = byte('0' + v%10)
		v /= 10
	}
	return append(b, buf[:width]...)
}

// byteaText is b in bytea hex input form.
func byteaText(b []byte) string {
	out := make([]byte, 2+hex.EncodedLen(len(b)))
	out[0], out[1] = '\\', 'x'
	hex.Encode(out[2:], b)
	return string(out)
}

// bulkGen derives every row from (seed, row number) alone, so a session can
// be generated again for its events without keeping it in memory.
type bulkGen struct {
	o        BulkOptions
	now      time.Time
	userBase int64
	// users is the number of supplier users sessions are drawn from: the
	// mapped ones, plus a fifth more that never connected.
	users int
	// hourCum is the cumulative session volume per hour of the history,
	// oldest first (daily and weekly rhythm, slow growth).
	hourCum   []float64
	start     time.Time
	supCum    []int
	brandCum  []int
	eventFrom int
}

func newBulkGen(o BulkOptions) *bulkGen { return &bulkGen{o: o} }

func (g *bulkGen) plan() {
	g.users = g.o.Mappings + g.o.Mappings/5
	if g.users == 0 {
		g.users = max(g.o.Sessions/8, 1)
	}
	hours := g.o.Days * 24
	g.start = g.now.Add(-time.Duration(hours) * time.Hour)
	g.hourCum = make([]float64, hours)
	loc, err := time.LoadLocation("Europe/Amsterdam")
	if err != nil {
		loc = time.UTC
	}
	// Sessions follow office and evening hours, dip at weekends and grow
	// about 30% over the history.
	hourWeight := [24]float64{1, 0.6, 0.4, 0.3, 0.3, 0.5, 1.2, 2.5, 4, 5, 5.5, 5.5, 5, 5, 5, 4.8, 4.5, 4.5, 5, 5.5, 5, 4, 2.8, 1.6}
	sum := 0.0
	for h := 0; h < hours; h++ {
		t := g.start.Add(time.Duration(h) * time.Hour).In(loc)
		w := hourWeight[t.Hour()] * (1 + 0.3*float64(h)/float64(hours))
		if wd := t.Weekday(); wd == time.Saturday || wd == time.Sunday {
			w *= 0.7
		}
		sum += w
		g.hourCum[h] = sum
	}
	for i := range g.hourCum {
		g.hourCum[i] /= sum
	}
	for _, s := range bulkSuppliers {
		g.supCum = append(g.supCum, last(g.supCum)+s.weight)
	}
	for _, b := range bulkBrands {
		g.brandCum = append(g.brandCum, last(g.brandCum)+b.weight)
	}
	cut := g.now.Add(-time.Duration(g.o.EventDays) * 24 * time.Hour)
	g.eventFrom = sort.Search(g.o.Sessions, func(i int) bool { return !g.sessionTime(i).Before(cut) })
}

func last(xs []int) int {
	if len(xs) == 0 {
		return 0
	}
	return xs[len(xs)-1]
}

func pick(cum []int, r uint64) int {
	v := int(r % uint64(last(cum)))
	return sort.SearchInts(cum, v+1)
}

// mix is a stateless 64-bit hash (splitmix64) of a user number.
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

func (g *bulkGen) rng(stream, n uint64) *rand.Rand {
	return rand.New(rand.NewPCG(g.o.Seed^stream, n))
}

const idAlphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

func randID(r *rand.Rand, prefix string, n int) string {
	b := make([]byte, len(prefix)+n)
	copy(b, prefix)
	for i := len(prefix); i < len(b); i++ {
		b[i] = idAlphabet[r.IntN(len(idAlphabet))]
	}
	return string(b)
}

func randBytes(r *rand.Rand, n int) []byte {
	b := make([]byte, (n+7)/8*8)
	for i := 0; i < len(b); i += 8 {
		binary.LittleEndian.PutUint64(b[i:], r.Uint64())
	}
	return b[:n]
}

// user describes supplier user u (0 ≤ u < g.users); u < Mappings are mapped.
func (g *bulkGen) supplierOf(u int) int { return pick(g.supCum, mix(uint64(u)+g.o.Seed)) }
func (g *bulkGen) brandOf(u int) int    { return pick(g.brandCum, mix(uint64(u)^0x5bd1e995+g.o.Seed)) }

func (g *bulkGen) supplierUserID(u int) string {
	n := g.userBase + int64(u)
	switch g.supplierOf(u) % 4 {
	case 0:
		return "cust-" + leftPad(strconv.FormatInt(n, 10), 8)
	case 1:
		return strconv.FormatInt(100000000+n*7, 10)
	case 2:
		return "u_" + strconv.FormatInt(n*7919+13, 36)
	default:
		return "klant" + strconv.FormatInt(n, 10) + "@" + bulkSuppliers[g.supplierOf(u)].id + ".example"
	}
}

func leftPad(s string, n int) string {
	for len(s) < n {
		s = "0" + s
	}
	return s
}

func (g *bulkGen) noxUserID(u int) string {
	return randID(g.rng(0x6e6f78, uint64(g.userBase)+uint64(u)), "nox_", 24)
}

// mappedAt is when user u first connected: up to two years back.
func (g *bulkGen) mappedAt(u int) time.Time {
	back := time.Duration(mix(uint64(u)^0xa5a5+g.o.Seed) % uint64(730*24*time.Hour))
	return g.now.Add(-back - time.Hour).Truncate(time.Microsecond)
}

func (g *bulkGen) noxUser(u int, emit func(...any)) {
	emit(g.noxUserID(u), tsText(g.mappedAt(u)))
}

func (g *bulkGen) mapping(u int, emit func(...any)) {
	emit(bulkSuppliers[g.supplierOf(u)].id, g.supplierUserID(u), g.noxUserID(u), tsText(g.mappedAt(u)))
}

var deviceModels = map[string][]string{
	"heat_pump":  {"Altherma 3", "aroTHERM plus", "F2120", "Ecodan", "Compress 7000i", "Vitocal 250-A"},
	"thermostat": {"Smart Thermostat X", "Learning Thermostat", "evohome", "T6 Smart"},
	"charger":    {"Go", "Charge Lite", "Pulsar Plus", "Pro"},
}

// devices gives each mapped user one device of its brand (one in seven a
// second one); one user in a thousand shares the previous user's device,
// as the spec allows and support must see.
func (g *bulkGen) devices(u int, emit func(...any)) {
	h := mix(uint64(u) ^ 0xdead + g.o.Seed)
	b, owner := g.brandOf(u), u
	if u%1000 == 1 {
		owner, b = u-1, g.brandOf(u-1)
	}
	brand := bulkBrands[b]
	models := deviceModels[brand.kind]
	status := "connected"
	switch h % 100 {
	case 0, 1, 2, 3, 4, 5, 6, 7:
		status = "relink_required"
	case 8, 9, 10, 11, 12, 13:
		status = "disconnected"
	}
	at := g.mappedAt(u)
	sync := g.now.Add(-time.Duration(h>>8%uint64(6*time.Hour)) - time.Minute).Truncate(time.Microsecond)
	n := 1
	if h>>40%7 == 0 {
		n = 2
	}
	for k := 0; k < n; k++ {
		ext := brand.prefix + "-" + strings8(mix(uint64(owner)*31+uint64(k)+g.o.Seed))
		model := models[(h>>20+uint64(k))%uint64(len(models))]
		emit(g.noxUserID(u), brand.id, ext, brand.name+" "+model, model, status, tsText(at), tsText(sync), tsText(sync))
	}
}

func strings8(x uint64) string {
	s := strconv.FormatUint(x, 36)
	return s[len(s)-min(10, len(s)):]
}

// sessionTime is when session i (in creation order) was created.
func (g *bulkGen) sessionTime(i int) time.Time {
	q := (float64(i) + 0.5) / float64(max(g.o.Sessions, 1))
	h := sort.SearchFloat64s(g.hourCum, q)
	if h >= len(g.hourCum) {
		h = len(g.hourCum) - 1
	}
	lo := 0.0
	if h > 0 {
		lo = g.hourCum[h-1]
	}
	frac := (q - lo) / math.Max(g.hourCum[h]-lo, 1e-12)
	return g.start.Add(time.Duration(h)*time.Hour + time.Duration(frac*float64(time.Hour))).Truncate(time.Microsecond)
}

// bulkSession is a generated link session and its timeline.
type bulkSession struct {
	id, kind, supplier, supplierUser, lang, initiator, status string
	manufacturerUser                                          string // flow 2: the manufacturer's user
	reason, brand, noxUser                                    *string
	preselected                                               bool
	tokenHash, stateHash, verifierEnc, browserHash            []byte
	created, expires                                          time.Time
	opened, brandAt, authAt, callbackAt, finished             *time.Time
	callbackDetail                                            string
}

func ptr[T any](v T) *T { return &v }

// session generates session i: an outcome the state machine can reach,
// with timestamps in order and consistent with the 15-minute deadline.
func (g *bulkGen) session(i int) bulkSession {
	r := g.rng(0x6c73, uint64(i)^g.o.Seed<<20)
	u := r.IntN(g.users)
	sup := bulkSuppliers[g.supplierOf(u)]
	s := bulkSession{
		id:           randID(r, "ls_", 24),
		kind:         "supplier_link",
		supplier:     sup.id,
		supplierUser: g.supplierUserID(u),
		lang:         sup.lang,
		initiator:    "api",
		status:       "created",
		tokenHash:    randBytes(r, 32),
		created:      g.sessionTime(i),
	}
	s.expires = s.created.Add(bulkTTL)
	switch x := r.IntN(100); {
	case x < 15:
		s.lang = "en"
	case x < 22:
		s.lang = bulkLanguages[r.IntN(len(bulkLanguages))]
	}
	brand := bulkBrands[g.brandOf(u)].id
	if r.IntN(5) == 0 {
		brand = bulkBrands[pick(g.brandCum, r.Uint64())].id
	}
	switch x := r.IntN(100); {
	case x < 6:
		// Flow 2 starts at the manufacturer, which names its user.
		s.kind, s.initiator = "supplier_select", "manufacturer"
		s.brand, s.manufacturerUser = &brand, "mfr_"+s.supplierUser
	case x < 12:
		s.initiator = "agent"
		s.preselected, s.brand = true, &brand
	case x < 16:
		s.initiator = "customer"
	}
	step := func(t time.Time, lo, hi time.Duration) time.Time {
		return t.Add(lo + time.Duration(r.Int64N(int64(hi-lo)))).Truncate(time.Microsecond)
	}
	open := func() {
		s.opened = ptr(step(s.created, 3*time.Second, 4*time.Minute))
		s.browserHash = randBytes(r, 32)
	}
	authorize := func() {
		s.brand = &brand
		s.brandAt = ptr(step(*s.opened, 4*time.Second, 90*time.Second))
		s.authAt = s.brandAt
		s.stateHash, s.verifierEnc = randBytes(r, 32), randBytes(r, 71)
	}
	callback := func(detail string) {
		s.callbackAt = ptr(step(*s.authAt, 15*time.Second, 3*time.Minute))
		s.callbackDetail = detail
	}
	end := func(status, reason string, at time.Time) {
		s.status, s.finished = status, ptr(at)
		if reason != "" {
			s.reason = &reason
		}
	}
	if age := g.now.Sub(s.created); age < bulkTTL {
		// Recent: still under way (or just finished).
		switch r.IntN(4) {
		case 1:
			open()
			s.status = "opened"
		case 2, 3:
			open()
			authorize()
			s.status = "authorizing"
		}
		for _, t := range []*time.Time{s.opened, s.brandAt} {
			if t != nil && t.After(g.now) {
				*t = g.now.Add(-time.Second).Truncate(time.Microsecond)
			}
		}
		return s
	}
	mapped := u < g.o.Mappings
	x := r.IntN(1000)
	if !mapped && x < 580 {
		x = 580 + r.IntN(420) // never connected users fail in every other way
	}
	switch {
	case x < 580:
		open()
		authorize()
		callback("granted")
		s.noxUser = ptr(g.noxUserID(u))
		end("connected", "", step(*s.callbackAt, 800*time.Millisecond, 4*time.Second))
	case x < 680: // never opened
		end("expired", "expired", step(s.expires, 0, 15*time.Second))
	case x < 770: // left on the brand page
		open()
		end("expired", "expired", step(s.expires, 0, 15*time.Second))
	case x < 810: // left at the manufacturer's login
		open()
		authorize()
		end("expired", "expired", step(s.expires, 0, 15*time.Second))
	case x < 830: // signed in too late
		open()
		authorize()
		s.callbackAt, s.callbackDetail = ptr(step(s.expires, time.Second, 2*time.Minute)), "granted"
		end("expired", "expired_after_auth", step(*s.callbackAt, 200*time.Millisecond, time.Second))
	case x < 880:
		open()
		authorize()
		callback("not granted")
		end("failed", "access_denied", step(*s.callbackAt, 50*time.Millisecond, 300*time.Millisecond))
	case x < 920:
		open()
		authorize()
		callback("granted")
		end("failed", "manufacturer_error", step(*s.callbackAt, time.Second, 10*time.Second))
	case x < 940:
		open()
		authorize()
		callback("granted")
		end("failed", "no_devices", step(*s.callbackAt, 500*time.Millisecond, 3*time.Second))
	case x < 990:
		open()
		end("failed", "cancelled", step(*s.opened, 5*time.Second, 2*time.Minute))
	default:
		open()
		s.brand = &brand
		s.brandAt = ptr(step(*s.opened, 4*time.Second, 60*time.Second))
		end("failed", "manufacturer_unavailable", step(*s.brandAt, 100*time.Millisecond, time.Second))
	}
	return s
}

func nullTime(t *time.Time) any {
	if t == nil {
		return nil
	}
	return tsText(*t)
}

func nullString(s *string) any {
	if s == nil {
		return nil
	}
	return *s
}

func nullBytes(b []byte) any {
	if b == nil {
		return nil
	}
	return byteaText(b)
}

func (g *bulkGen) sessionRow(i int, emit func(...any)) {
	s := g.session(i)
	emit(s.id, byteaText(s.tokenHash), s.kind, s.supplier, s.supplierUser, bulkRedirectURI(s.supplier), s.lang, s.initiator,
		s.status, nullString(s.reason), nullString(s.brand), s.preselected, nullString(s.noxUser),
		nullBytes(s.stateHash), nullBytes(s.verifierEnc), nullBytes(s.browserHash),
		tsText(s.created), nullTime(s.opened), nullTime(s.brandAt), nullTime(s.authAt), nullTime(s.callbackAt), nullTime(s.finished),
		tsText(s.expires), s.manufacturerUser, g.historyMonth(s))
}

// historyMonth is where the server would keep the session: in its creation
// month once it finished longer than db.FinishedSessionsStayOpen ago, else
// in the open partition.
func (g *bulkGen) historyMonth(s bulkSession) string {
	if s.finished == nil || s.finished.After(g.now.Add(-db.FinishedSessionsStayOpen)) {
		return "infinity"
	}
	return s.created.UTC().Format("2006-01") + "-01"
}

// events writes the timeline of the sessions of the last EventDays days,
// the way the store records it.
func (g *bulkGen) events(j int, emit func(...any)) {
	s := g.session(g.eventFrom + j)
	ev := func(typ, detail string, at *time.Time) {
		if at != nil {
			emit(s.id, typ, detail, tsText(*at))
		}
	}
	brand := ""
	if s.brand != nil {
		brand = *s.brand
	}
	ev("created", s.initiator, &s.created)
	ev("opened", "", s.opened)
	ev("brand_selected", brand, s.brandAt)
	if s.stateHash != nil {
		ev("oauth_started", brand, s.authAt)
	}
	ev("callback", s.callbackDetail, s.callbackAt)
	switch s.status {
	case "connected":
		ev("connected", "1 device(s)", s.finished)
	case "failed", "expired":
		ev(s.status, *s.reason, s.finished)
	}
}
