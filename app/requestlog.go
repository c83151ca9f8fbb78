package app

import "time"

// RequestLogRetention is how long the API request log keeps a request.
const RequestLogRetention = 14 * 24 * time.Hour

// APIRequest is one call to the API with a supplier's key, as the
// supplier's request log shows it. Bodies are never recorded.
type APIRequest struct {
	At             time.Time `db:"created_at"`
	SupplierID     string    `db:"supplier_id"`
	KeyID          int64     `db:"key_id"`
	Method         string    `db:"method"`
	Route          string    `db:"route"`
	SupplierUserID string    `db:"supplier_user_id"`
	Status         int       `db:"status"`
	ErrorCode      string    `db:"error_code"`
	LatencyUS      int       `db:"latency_us"`
	RequestID      string    `db:"request_id"`
	IdempotencyKey string    `db:"idempotency_key"`
}

// LatencyMS is the request's latency in milliseconds.
func (r APIRequest) LatencyMS() float64 { return float64(r.LatencyUS) / 1000 }

// StatusClasses are the status filters of the request log.
var StatusClasses = map[string][2]int{"2xx": {200, 299}, "3xx": {300, 399}, "4xx": {400, 499}, "5xx": {500, 599}}

// RequestLogFilter selects a supplier's logged requests, newest first.
type RequestLogFilter struct {
	SupplierID string
	// Status is a class from StatusClasses or "" for every status.
	Status string
	// Route is a route pattern ("/users/:supplier_user_id/link") or "".
	Route          string
	SupplierUserID string
	// Before pages back: only requests older than it (zero: from now).
	Before time.Time
	Limit  int
}
