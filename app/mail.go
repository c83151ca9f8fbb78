package app

import (
	"fmt"
	"net"
	"net/smtp"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// MailConfig says how queued emails leave: over SMTP when smtp_addr is set,
// otherwise into files in sink_dir (development), otherwise only the log.
type MailConfig struct {
	From         string   `yaml:"from"`
	SMTPAddr     string   `yaml:"smtp_addr"` // host:port
	SMTPUser     string   `yaml:"smtp_user"`
	SMTPPassword string   `yaml:"smtp_password"`
	SinkDir      string   `yaml:"sink_dir"`
	Interval     Duration `yaml:"interval"`
}

// Mailer delivers one email.
type Mailer interface {
	Send(Email) error
}

// NewMailer returns the Mailer cfg asks for; logf receives one line per
// email for the log sink.
func NewMailer(cfg MailConfig, logf func(msg string, args ...any)) Mailer {
	switch {
	case cfg.SMTPAddr != "":
		return smtpMailer{cfg: cfg}
	case cfg.SinkDir != "":
		return fileMailer{dir: cfg.SinkDir, from: cfg.From}
	}
	return logMailer{logf: logf}
}

// Message returns the email as an RFC 5322 message (UTF-8 plain text).
func (e Email) Message(from string) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "From: %s\r\nTo: %s\r\nSubject: %s\r\nDate: %s\r\n", from, e.To, mimeWord(e.Subject), time.Now().UTC().Format(time.RFC1123Z))
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n")
	b.WriteString(strings.ReplaceAll(e.Body, "\n", "\r\n"))
	return []byte(b.String())
}

func mimeWord(s string) string {
	for _, r := range s {
		if r > 127 {
			return "=?utf-8?q?" + strings.NewReplacer("=", "=3D", "?", "=3F", "_", "=5F", " ", "_").Replace(qEncode(s)) + "?="
		}
	}
	return s
}

func qEncode(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		if c > 127 {
			fmt.Fprintf(&b, "=%02X", c)
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

type smtpMailer struct{ cfg MailConfig }

func (m smtpMailer) Send(e Email) error {
	if strings.ContainsAny(e.To, "\r\n") {
		return Errorf(EINVALID, "invalid recipient")
	}
	var auth smtp.Auth
	if m.cfg.SMTPUser != "" {
		host, _, _ := net.SplitHostPort(m.cfg.SMTPAddr)
		auth = smtp.PlainAuth("", m.cfg.SMTPUser, m.cfg.SMTPPassword, host)
	}
	return smtp.SendMail(m.cfg.SMTPAddr, auth, m.cfg.From, []string{e.To}, e.Message(m.cfg.From))
}

type fileMailer struct{ dir, from string }

func (m fileMailer) Send(e Email) error {
	if err := os.MkdirAll(m.dir, 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(m.dir, "email-"+strconv.FormatInt(e.ID, 10)+".eml"), e.Message(m.from), 0o644)
}

type logMailer struct{ logf func(string, ...any) }

func (m logMailer) Send(e Email) error {
	m.logf("email (log sink)", "to", e.To, "subject", e.Subject, "body", e.Body)
	return nil
}
