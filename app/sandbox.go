package app

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strings"
)

// SandboxPassword is the password of every sandbox test user.
const SandboxPassword = "pass_good"

// SandboxUser is a test account at the sandbox manufacturers.
type SandboxUser struct {
	Username string
	Devices  int
	// TokenError makes the token endpoint fail for this user.
	TokenError bool
}

// SandboxUsers are the sandbox test accounts, as in Plaid's sandbox.
var SandboxUsers = map[string]SandboxUser{
	"user_good":        {Username: "user_good", Devices: 1},
	"user_multi":       {Username: "user_multi", Devices: 2},
	"user_token_error": {Username: "user_token_error", Devices: 1, TokenError: true},
	"user_no_devices":  {Username: "user_no_devices", Devices: 0},
}

// CheckSandboxLogin returns the sandbox user with these credentials.
func CheckSandboxLogin(username, password string) (SandboxUser, bool) {
	u, ok := SandboxUsers[username]
	if subtle.ConstantTimeCompare([]byte(password), []byte(SandboxPassword)) != 1 {
		return SandboxUser{}, false
	}
	return u, ok
}

// SandboxDevices returns the devices a sandbox user has at brand; the ids
// are stable so a relink finds the same device.
func SandboxDevices(brand string, u SandboxUser, kind string) []DeviceInfo {
	prefix := strings.ToUpper(strings.TrimPrefix(brand, "sandbox-"))
	var out []DeviceInfo
	for i := 1; i <= u.Devices; i++ {
		sum := sha256.Sum256([]byte(brand + "/" + u.Username))
		out = append(out, DeviceInfo{
			ID:    fmt.Sprintf("SBX-%s-%X-%d", prefix, sum[:3], i),
			Name:  fmt.Sprintf("%s %d", strings.ReplaceAll(kind, "_", " "), i),
			Model: "Sandbox " + prefix + " v2",
			Type:  kind,
		})
	}
	return out
}

// S256Challenge returns the PKCE S256 challenge of a verifier (RFC 7636).
func S256Challenge(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// SandboxSupplierUsers are the sandbox supplier's test customers (password
// SandboxPassword) and the supplier_user_id each one reports.
var SandboxSupplierUsers = map[string]string{
	"user_good":  "SE-1001",
	"user_other": "SE-1002",
}

// CheckSandboxSupplierLogin returns the supplier_user_id of a sandbox
// supplier customer with these credentials.
func CheckSandboxSupplierLogin(username, password string) (string, bool) {
	id, ok := SandboxSupplierUsers[username]
	if subtle.ConstantTimeCompare([]byte(password), []byte(SandboxPassword)) != 1 {
		return "", false
	}
	return id, ok
}
