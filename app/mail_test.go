package app

import (
	"context"
	"io"
	"mime/quotedprintable"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestFileSinkHoldsNoLinkToken sends a relink email through the file sink
// twice (a retried send) and checks the one file it leaves has the link
// with its token redacted and a stable Message-ID.
func TestFileSinkHoldsNoLinkToken(t *testing.T) {
	dir := t.TempDir()
	m, err := NewMailer(MailConfig{From: "NOX Energy <no-reply@nox.example>", SinkDir: dir}, nil)
	if err != nil {
		t.Fatal(err)
	}
	const token = "tok_0123456789abcdefghijklmnopqrstuvwxyz"
	e := Email{ID: 42, To: "customer@example.com", Subject: "Reconnect", CreatedAt: time.Now(),
		Body: "Open https://nox.example/connect?token=" + token + "&lang=en to reconnect."}
	for range 2 {
		if err := m.Send(context.Background(), e); err != nil {
			t.Fatal(err)
		}
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.eml"))
	if len(files) != 1 {
		t.Fatalf("got %d files, want 1 for one email sent twice", len(files))
	}
	b, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	head, body, _ := strings.Cut(string(b), "\r\n\r\n")
	decoded, err := io.ReadAll(quotedprintable.NewReader(strings.NewReader(body)))
	if err != nil {
		t.Fatal(err)
	}
	got := head + "\n\n" + string(decoded)
	if strings.Contains(got, token) || strings.Contains(string(b), token) {
		t.Errorf("the file sink holds the link token:\n%s", got)
	}
	if !strings.Contains(got, "connect?token=REDACTED&lang=en") || !strings.Contains(got, "Message-ID: <email-42@nox.example>") {
		t.Errorf("want the redacted link and Message-ID <email-42@nox.example>:\n%s", got)
	}
}

func TestRedactLinksHidesTokensCodesAndStates(t *testing.T) {
	for in, want := range map[string]string{
		"https://x/connect?token=abc":               "https://x/connect?token=REDACTED",
		"cb?code=c1&state=s1&ok=1":                  "cb?code=REDACTED&state=REDACTED&ok=1",
		"<a href=\"https://x/?TOKEN=abc\">link</a>": "<a href=\"https://x/?TOKEN=REDACTED\">link</a>",
		"no link here":                              "no link here",
	} {
		if got := RedactLinks(in); got != want {
			t.Errorf("RedactLinks(%q) = %q, want %q", in, got, want)
		}
	}
}
