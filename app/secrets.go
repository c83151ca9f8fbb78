package app

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
)

const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

// RandomToken returns n characters drawn uniformly from [a-zA-Z0-9] by a
// cryptographic source (n=43 carries about 256 bits).
func RandomToken(n int) string {
	out := make([]byte, n)
	buf := make([]byte, n+n/2)
	for i := 0; i < n; {
		if _, err := rand.Read(buf); err != nil {
			panic("app: crypto/rand failed: " + err.Error())
		}
		for _, b := range buf {
			// 248 = 4*62: reject the tail so every character is equally likely.
			if b < 248 && i < n {
				out[i] = alphabet[int(b)%62]
				i++
			}
		}
	}
	return string(out)
}

// HashToken returns the SHA-256 of a high-entropy secret (link tokens, API
// keys, OAuth state). Only this hash is ever stored.
func HashToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// Cipher encrypts secrets at rest with AES-256-GCM. Ciphertexts carry a
// version byte so keys can be rotated later.
type Cipher struct {
	aead cipher.AEAD
}

// NewCipher builds a Cipher from a base64-encoded 32-byte key.
func NewCipher(b64key string) (*Cipher, error) {
	key, err := base64.StdEncoding.DecodeString(b64key)
	if err != nil || len(key) != 32 {
		return nil, errors.New("app: encryption key must be 32 bytes, base64-encoded")
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("app: cipher: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("app: cipher: %w", err)
	}
	return &Cipher{aead: aead}, nil
}

const cipherVersion = 1

// Seal encrypts plaintext; aad binds the ciphertext to its context (e.g. the
// row it belongs to) so it cannot be moved to another row.
func (c *Cipher) Seal(plaintext, aad []byte) []byte {
	nonce := make([]byte, c.aead.NonceSize(), 1+c.aead.NonceSize()+len(plaintext)+c.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		panic("app: crypto/rand failed: " + err.Error())
	}
	out := append([]byte{cipherVersion}, nonce...)
	return c.aead.Seal(out, nonce, plaintext, aad)
}

// Open decrypts a ciphertext made by Seal with the same aad.
func (c *Cipher) Open(ciphertext, aad []byte) ([]byte, error) {
	ns := c.aead.NonceSize()
	if len(ciphertext) < 1+ns+c.aead.Overhead() || ciphertext[0] != cipherVersion {
		return nil, errors.New("app: malformed ciphertext")
	}
	pt, err := c.aead.Open(nil, ciphertext[1:1+ns], ciphertext[1+ns:], aad)
	if err != nil {
		return nil, errors.New("app: ciphertext does not authenticate")
	}
	return pt, nil
}

// Signer makes and checks HMAC-SHA256 tags (CSRF tokens, webhook signatures).
type Signer struct{ key []byte }

// NewSigner builds a Signer from a base64-encoded key of at least 32 bytes.
func NewSigner(b64key string) (*Signer, error) {
	key, err := base64.StdEncoding.DecodeString(b64key)
	if err != nil || len(key) < 32 {
		return nil, errors.New("app: signing key must be at least 32 bytes, base64-encoded")
	}
	return &Signer{key: key}, nil
}

// Sign returns the base64url HMAC of the parts, joined unambiguously.
func (s *Signer) Sign(parts ...string) string {
	m := hmac.New(sha256.New, s.key)
	var buf []byte
	for _, p := range parts {
		// "len:part;" for each part (written without fmt: every page signs).
		buf = strconv.AppendInt(buf[:0], int64(len(p)), 10)
		buf = append(append(append(buf, ':'), p...), ';')
		m.Write(buf)
	}
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// Verify reports in constant time whether tag is Sign(parts...).
func (s *Signer) Verify(tag string, parts ...string) bool {
	return hmac.Equal([]byte(tag), []byte(s.Sign(parts...)))
}

// Key returns the raw key (for JWT signing).
func (s *Signer) Key() []byte { return s.key }
