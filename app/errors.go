// Package app holds noxportal's domain: the link-session state machine, the
// mapping rules, configuration, errors and secrets. It imports neither Fiber
// nor SQL; db/ and handlers/ depend on it, never the other way round.
package app

import (
	"errors"
	"fmt"
)

// Error codes shared by every layer. handlers/ maps them to HTTP statuses.
const (
	ECONFLICT      = "conflict"      // the action cannot be performed in the current state
	EINTERNAL      = "internal"      // a bug or an outage; logged, never shown in detail
	EINVALID       = "invalid"       // the input is invalid
	ENOTFOUND      = "not_found"     // the object does not exist (or is not the caller's)
	EUNAUTHORIZED  = "unauthorized"  // missing or wrong credentials
	EFORBIDDEN     = "forbidden"     // authenticated but not allowed
	ETOOLARGE      = "too_large"     // the request body is too large
	ERATELIMIT     = "rate_limited"  // too many requests
	EUNPROCESSABLE = "unprocessable" // well-formed but conflicting with an earlier request
	ETIMEOUT       = "timeout"       // the work ran past its deadline and was cancelled
)

// Error is a domain error: Code says what kind of failure it is, Reason is a
// stable machine-readable word for API clients (e.g. "invalid_redirect_uri"),
// Message is safe to show to the caller.
type Error struct {
	Code    string
	Reason  string
	Message string
}

func (e *Error) Error() string {
	return fmt.Sprintf("app: %s: %s", e.Code, e.Message)
}

// Errorf builds an *Error with a formatted message; the reason defaults to the code.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Reason: code, Message: fmt.Sprintf(format, args...)}
}

// ReasonErrorf builds an *Error with an explicit machine-readable reason.
func ReasonErrorf(code, reason, format string, args ...any) *Error {
	return &Error{Code: code, Reason: reason, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL for
// any other non-nil error and "" for nil.
func ErrorCode(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the caller-safe message of err; internal errors get a
// generic text so no detail leaks.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "Internal error."
}

// ErrorReason returns the machine-readable reason of err.
func ErrorReason(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return "internal_error"
}

// IsNotFound reports whether err is an ENOTFOUND error.
func IsNotFound(err error) bool { return ErrorCode(err) == ENOTFOUND }
