package app

import "strings"

// Test mode. A supplier's test keys (TestKeyPrefix) belong to its test
// twin: a supplier row of its own, id TestTwinID(supplier), that owns
// every link session, webhook endpoint, delivery and API request made with
// them. Whatever is scoped by supplier id is therefore kept apart from the
// live supplier's data; reports, console searches and supplier lists leave
// the twins out. A test link session offers only the sandbox manufacturers
// (and, in flow 2, only the sandbox supplier is a test party); a live one
// never offers a sandbox manufacturer where the sandbox is switched off
// (production). Where sandbox.enabled is true (development, test) the whole
// environment is a sandbox and live keys see the sandbox brands as before.

// TestKeyPrefix starts every test-mode supplier key; live keys start with
// LiveKeyPrefix and never with this.
const (
	LiveKeyPrefix = "nox_sk_"
	TestKeyPrefix = "nox_sk_test_"
)

// testTwinSuffix ends a test twin's id; a live supplier id cannot contain a
// dot (see migrations/00182_test_mode.sql), so the two never collide.
const testTwinSuffix = ".test"

// TestTwinID is the id of supplierID's test twin.
func TestTwinID(supplierID string) string {
	if IsTestSupplier(supplierID) {
		return supplierID
	}
	return supplierID + testTwinSuffix
}

// LiveSupplierSQL is the SQL condition that col (a supplier id column,
// NULL allowed) is not a test twin: the one home of the rule in queries
// (migrations/00182_test_mode.sql wrote it out once, as history). col is a
// column name from the code, never user input.
func LiveSupplierSQL(col string) string {
	return "coalesce(" + col + ", '') NOT LIKE '%" + testTwinSuffix + "'"
}

// LiveSupplierID is the live supplier of a test twin (itself for a live
// supplier).
func LiveSupplierID(supplierID string) string { return strings.TrimSuffix(supplierID, testTwinSuffix) }

// IsTestSupplier reports whether supplierID is a test twin.
func IsTestSupplier(supplierID string) bool { return strings.HasSuffix(supplierID, testTwinSuffix) }

// NewSupplierKey returns a new plaintext key for a supplier: a test key for
// a test twin, a live key otherwise.
func NewSupplierKey(supplierID string) string {
	if IsTestSupplier(supplierID) {
		return TestKeyPrefix + RandomToken(40)
	}
	for {
		// A live key never reads as a test key.
		if k := LiveKeyPrefix + RandomToken(40); !strings.HasPrefix(k, TestKeyPrefix) {
			return k
		}
	}
}

// KeyPrefix is the part of a key stored and shown to tell keys apart: the
// first 12 characters of a live key, the first 16 of a test key (its fixed
// "nox_sk_test_" and 4 random ones).
func KeyPrefix(key string) string {
	n := 12
	if strings.HasPrefix(key, TestKeyPrefix) {
		n = len(TestKeyPrefix) + 4
	}
	return key[:min(len(key), n)]
}

// TestMode reports whether the link session was made with a test key.
func (s LinkSession) TestMode() bool { return IsTestSupplier(s.SupplierID) }
