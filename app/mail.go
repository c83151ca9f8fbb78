package app

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	mail "github.com/wneessen/go-mail"
)

// MailConfig says how queued emails leave: over SMTP when smtp_addr is set,
// otherwise into files in sink_dir (development), otherwise only the log.
// The file and log sinks never hold a link token.
type MailConfig struct {
	From         string `yaml:"from"`
	SMTPAddr     string `yaml:"smtp_addr"` // host:port
	SMTPUser     string `yaml:"smtp_user"`
	SMTPPassword string `yaml:"smtp_password"`
	// SMTPTLS is opportunistic (STARTTLS when offered), mandatory or none.
	SMTPTLS string `yaml:"smtp_tls"`
	// Timeout bounds dialling the SMTP server and sending one email.
	Timeout  Duration `yaml:"timeout"`
	SinkDir  string   `yaml:"sink_dir"`
	Interval Duration `yaml:"interval"`
	// Lease is how long a claimed email stays with its sender; a sender
	// that dies mid-send loses it to another after the lease.
	Lease Duration `yaml:"lease"`
	// MaxAttempts failed sends give an email up.
	MaxAttempts int `yaml:"max_attempts"`
}

// Mailer delivers one email. It is called outside any database
// transaction and must stop when ctx ends.
type Mailer interface {
	Send(ctx context.Context, e Email) error
}

// NewMailer returns the Mailer cfg asks for; log receives one line per
// email for the log sink.
func NewMailer(cfg MailConfig, log *slog.Logger) (Mailer, error) {
	switch {
	case cfg.SMTPAddr != "":
		return newSMTPMailer(cfg)
	case cfg.SinkDir != "":
		return fileMailer{dir: cfg.SinkDir, from: cfg.From}, nil
	}
	return logMailer{log: log}, nil
}

// linkSecrets finds the secret values of links in a text (link tokens,
// OAuth codes and states).
var linkSecrets = regexp.MustCompile(`(?i)([?&](?:token|code|state)=)[^&\s"'<>]+`)

// RedactLinks returns s with the secret values of every link in it
// replaced, for sinks that must not hold them.
func RedactLinks(s string) string { return linkSecrets.ReplaceAllString(s, "${1}REDACTED") }

// message builds e as a MIME message. Its Message-ID is the same on every
// attempt, so a receiver can drop the copy of a send that was retried
// after its sender died.
func (e Email) message(from string) (*mail.Msg, error) {
	m := mail.NewMsg()
	if err := m.From(from); err != nil {
		return nil, Errorf(EINVALID, "invalid sender %q", from)
	}
	if strings.ContainsAny(e.To, "\r\n") {
		return nil, Errorf(EINVALID, "invalid recipient")
	}
	if err := m.To(e.To); err != nil {
		return nil, Errorf(EINVALID, "invalid recipient %q", e.To)
	}
	domain := "noxportal.local"
	if at := strings.LastIndexByte(from, '@'); at >= 0 {
		domain = strings.Trim(from[at+1:], "> ")
	}
	m.SetMessageIDWithValue("email-" + strconv.FormatInt(e.ID, 10) + "@" + domain)
	m.SetDateWithValue(e.CreatedAt)
	m.Subject(e.Subject)
	m.SetBodyString(mail.TypeTextPlain, e.Body)
	return m, nil
}

type smtpMailer struct {
	cfg  MailConfig
	opts []mail.Option
	host string
}

func newSMTPMailer(cfg MailConfig) (Mailer, error) {
	host, port, err := net.SplitHostPort(cfg.SMTPAddr)
	if err != nil {
		return nil, Errorf(EINVALID, "mail.smtp_addr must be host:port, not %q", cfg.SMTPAddr)
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		return nil, Errorf(EINVALID, "mail.smtp_addr must be host:port, not %q", cfg.SMTPAddr)
	}
	timeout := cfg.Timeout.D()
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	policy := mail.TLSOpportunistic
	switch cfg.SMTPTLS {
	case "mandatory":
		policy = mail.TLSMandatory
	case "none":
		policy = mail.NoTLS
	}
	opts := []mail.Option{mail.WithPort(p), mail.WithTimeout(timeout), mail.WithTLSPolicy(policy),
		mail.WithDialContextFunc(boundedDial(timeout))}
	if cfg.SMTPUser != "" {
		opts = append(opts, mail.WithSMTPAuth(mail.SMTPAuthPlain), mail.WithUsername(cfg.SMTPUser), mail.WithPassword(cfg.SMTPPassword))
	}
	return smtpMailer{cfg: cfg, opts: opts, host: host}, nil
}

// boundedDial dials within timeout and bounds the whole SMTP conversation
// on the connection to twice timeout, so a server that accepts and then
// says nothing cannot hold a sender (go-mail's own timeout covers the dial
// and each command it sets a deadline for, not the greeting).
func boundedDial(timeout time.Duration) mail.DialContextFunc {
	return func(ctx context.Context, network, address string) (net.Conn, error) {
		d := net.Dialer{Timeout: timeout}
		c, err := d.DialContext(ctx, network, address)
		if err != nil {
			return nil, err
		}
		if err := c.SetDeadline(time.Now().Add(2 * timeout)); err != nil {
			c.Close()
			return nil, err
		}
		return c, nil
	}
}

func (m smtpMailer) Send(ctx context.Context, e Email) error {
	msg, err := e.message(m.cfg.From)
	if err != nil {
		return err
	}
	c, err := mail.NewClient(m.host, m.opts...)
	if err != nil {
		return fmt.Errorf("mail: %w", err)
	}
	if err := c.DialAndSendWithContext(ctx, msg); err != nil {
		return fmt.Errorf("mail: send: %w", err)
	}
	return nil
}

type fileMailer struct{ dir, from string }

// Send writes the email, its links' secrets redacted, as email-<id>.eml
// (a second send of the same email overwrites the first).
func (m fileMailer) Send(_ context.Context, e Email) error {
	e.Body = RedactLinks(e.Body)
	msg, err := e.message(m.from)
	if err != nil {
		return err
	}
	var b bytes.Buffer
	if _, err := msg.WriteTo(&b); err != nil {
		return fmt.Errorf("mail: %w", err)
	}
	if err := os.MkdirAll(m.dir, 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(m.dir, "email-"+strconv.FormatInt(e.ID, 10)+".eml"), b.Bytes(), 0o600)
}

type logMailer struct{ log *slog.Logger }

func (m logMailer) Send(ctx context.Context, e Email) error {
	m.log.InfoContext(ctx, "email (log sink)", "email_id", e.ID, "to", e.To, "subject", e.Subject, "body", RedactLinks(e.Body))
	return nil
}
