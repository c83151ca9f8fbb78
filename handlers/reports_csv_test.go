package handlers

import "testing"

// TestCSVSafeNeutralisesFormulaCells covers every character a spreadsheet
// starts a formula with, and leaves other cells alone.
func TestCSVSafeNeutralisesFormulaCells(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"=SUM(A1:A9)", "'=SUM(A1:A9)"},
		{"+31 20 123", "'+31 20 123"},
		{"-2+3", "'-2+3"},
		{"@cmd", "'@cmd"},
		{"\tindent", "'\tindent"},
		{"\rreturn", "'\rreturn"},
		{"Acme Energy", "Acme Energy"},
		{"1234", "1234"},
		{"0.6250", "0.6250"},
		{"", ""},
		{"a=b", "a=b"},
	} {
		if got := csvSafe(tc.in); got != tc.want {
			t.Errorf("csvSafe(%q): got %q, want %q", tc.in, got, tc.want)
		}
	}
}
