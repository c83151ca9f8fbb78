package app_test

import (
	"bytes"
	"os"
	"testing"

	"noxportal/app"
)

const testKey = "dGVzdC1lbmNyeXB0aW9uLWtleS0zMi1ieXRlcy0hISE="

func writeFile(path, s string) error { return os.WriteFile(path, []byte(s), 0o600) }

func mustCipher(t *testing.T, key string) *app.Cipher {
	t.Helper()
	c, err := app.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCipherRoundTripsAndHidesThePlaintext(t *testing.T) {
	c := mustCipher(t, testKey)
	plain, aad := []byte("sbx_at_secret-access-token"), []byte("grant:nox_1:sandbox-heatpump")
	sealed := c.Seal(plain, aad)
	if bytes.Contains(sealed, plain) {
		t.Errorf("ciphertext contains the plaintext")
	}
	if again := c.Seal(plain, aad); bytes.Equal(again, sealed) {
		t.Errorf("two seals of the same plaintext are equal; want a fresh nonce each time")
	}
	got, err := c.Open(sealed, aad)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, plain) {
		t.Errorf("Open: got %q, want %q", got, plain)
	}
}

func TestCipherRefusesWrongContextKeyOrTampering(t *testing.T) {
	c := mustCipher(t, testKey)
	aad := []byte("grant:nox_1:sandbox-heatpump")
	sealed := c.Seal([]byte("token"), aad)
	tampered := bytes.Clone(sealed)
	tampered[len(tampered)-1] ^= 1
	other := mustCipher(t, "b3RoZXItZW5jcnlwdGlvbi1rZXktMzItYnl0ZXMtISE=")
	tests := []struct {
		name       string
		c          *app.Cipher
		ciphertext []byte
		aad        []byte
	}{
		{"aad of another row", c, sealed, []byte("grant:nox_2:sandbox-heatpump")},
		{"no aad", c, sealed, nil},
		{"tampered ciphertext", c, tampered, aad},
		{"other key", other, sealed, aad},
		{"truncated", c, sealed[:10], aad},
		{"unknown version", c, append([]byte{9}, sealed[1:]...), aad},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, err := tt.c.Open(tt.ciphertext, tt.aad); err == nil {
				t.Errorf("Open: got %q and no error, want an error", got)
			}
		})
	}
}

func TestNewCipherRefusesKeysThatAreNot32Bytes(t *testing.T) {
	for _, key := range []string{"", "not base64!", "c2hvcnQ=", "dGVzdC1lbmNyeXB0aW9uLWtleS0zMi1ieXRlcy0hISEh"} {
		if _, err := app.NewCipher(key); err == nil {
			t.Errorf("NewCipher(%q): got no error, want one", key)
		}
	}
}

func TestSignerVerifiesOnlyItsOwnTagsOverTheSameParts(t *testing.T) {
	s, err := app.NewSigner(app.DevSigningKey)
	if err != nil {
		t.Fatal(err)
	}
	tag := s.Sign("csrf", "cookie-value")
	if !s.Verify(tag, "csrf", "cookie-value") {
		t.Errorf("Verify of its own tag: got false, want true")
	}
	if s.Verify(tag, "csrf", "other-value") {
		t.Errorf("Verify over other parts: got true, want false")
	}
	if s.Verify(tag, "csrfcookie-value") || s.Verify(s.Sign("ab", "c"), "a", "bc") {
		t.Errorf("parts are not joined unambiguously")
	}
}

func TestRandomTokenHasTheRequestedLengthAndAlphabet(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 100; i++ {
		tok := app.RandomToken(43)
		if len(tok) != 43 {
			t.Fatalf("len: got %d, want 43", len(tok))
		}
		for _, r := range tok {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
				t.Fatalf("token %q has character %q outside [a-zA-Z0-9]", tok, r)
			}
		}
		if seen[tok] {
			t.Fatalf("token %q repeated", tok)
		}
		seen[tok] = true
	}
}
