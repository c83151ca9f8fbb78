package handlers_test

import (
	"testing"

	"noxportal/handlers"
)

func TestRedactQueryHidesSecretValues(t *testing.T) {
	tests := []struct{ raw, want string }{
		{"", ""},
		{"q=heat", "q=heat"},
		{"token=abc123", "token=REDACTED"},
		{"code=c0de&state=st4te", "code=REDACTED&state=REDACTED"},
		{"q=heat&token=abc&lang=nl", "q=heat&token=REDACTED&lang=nl"},
		{"TOKEN=abc&Code=x", "TOKEN=REDACTED&Code=REDACTED"},
		{"%74oken=abc", "%74oken=REDACTED"},
		{"access_token=a&refresh_token=r&code_verifier=v&client_secret=s&password=p&key=k",
			"access_token=REDACTED&refresh_token=REDACTED&code_verifier=REDACTED&client_secret=REDACTED&password=REDACTED&key=REDACTED"},
		{"token=a&token=b", "token=REDACTED&token=REDACTED"},
		{"q=token&tokens=x", "q=token&tokens=x"},
		{"error=access_denied&error_description=no", "error=access_denied&error_description=no"},
	}
	for _, tt := range tests {
		if got := handlers.RedactQuery(tt.raw); got != tt.want {
			t.Errorf("RedactQuery(%q): got %q, want %q", tt.raw, got, tt.want)
		}
	}
}
