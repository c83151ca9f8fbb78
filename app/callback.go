package app

// MaxStateLength bounds the OAuth state a callback may carry; the states
// this server issues are 43 characters.
const MaxStateLength = 128

// OAuthCallback is what a manufacturer's redirect back to
// /oauth/callback/{brand} carries, made safe to store and show.
type OAuthCallback struct {
	State   string
	Code    string
	Granted bool   // a code and no error
	Error   string // the OAuth error code, cleaned (at most 100 bytes)
	Detail  string // what the session's timeline records of a refusal (at most 200 bytes)
}

// ParseOAuthCallback reads the query of a manufacturer's callback; ok is
// false when the state is missing or longer than MaxStateLength (no
// session can match it).
func ParseOAuthCallback(state, code, errCode, errDescription string) (OAuthCallback, bool) {
	if state == "" || len(state) > MaxStateLength {
		return OAuthCallback{}, false
	}
	cb := OAuthCallback{State: state, Code: code, Granted: code != "" && errCode == "", Error: CleanText(errCode, 100)}
	if !cb.Granted {
		cb.Detail = CleanText("authorize error: "+errCode+" "+errDescription, 200)
	}
	return cb, true
}

// SupplierReturn is what a supplier's login page sends back to
// /connect/supplier/return in flow 2, made safe to store.
type SupplierReturn struct {
	State string
	Error string // at most 100 bytes
}

// ParseSupplierReturn reads the query of a flow-2 return; ok is false when
// the state is missing or longer than MaxStateLength.
func ParseSupplierReturn(state, errCode string) (SupplierReturn, bool) {
	if state == "" || len(state) > MaxStateLength {
		return SupplierReturn{}, false
	}
	return SupplierReturn{State: state, Error: CleanText(errCode, 100)}, true
}
