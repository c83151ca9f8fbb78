package app

import (
	"bufio"
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// smtpSink is a minimal SMTP server on loopback: it speaks enough of RFC
// 5321 for one client at a time and keeps each message's DATA. With mute
// set it accepts connections and never answers.
type smtpSink struct {
	ln   net.Listener
	mu   sync.Mutex
	msgs []string
	mute bool
}

func startSMTPSink(t *testing.T, mute bool) *smtpSink {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &smtpSink{ln: ln, mute: mute}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go s.serve(c)
		}
	}()
	return s
}

func (s *smtpSink) serve(c net.Conn) {
	defer c.Close()
	if s.mute {
		time.Sleep(10 * time.Second)
		return
	}
	r, w := bufio.NewReader(c), bufio.NewWriter(c)
	say := func(line string) { w.WriteString(line + "\r\n"); w.Flush() }
	say("220 sink.test ESMTP")
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		cmd := strings.ToUpper(strings.TrimSpace(line))
		switch {
		case strings.HasPrefix(cmd, "EHLO"), strings.HasPrefix(cmd, "HELO"):
			say("250-sink.test")
			say("250 8BITMIME")
		case strings.HasPrefix(cmd, "DATA"):
			say("354 go ahead")
			var b strings.Builder
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
				b.WriteString(l)
			}
			s.mu.Lock()
			s.msgs = append(s.msgs, b.String())
			s.mu.Unlock()
			say("250 queued")
		case strings.HasPrefix(cmd, "QUIT"):
			say("221 bye")
			return
		default:
			say("250 ok")
		}
	}
}

func (s *smtpSink) messages() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.msgs...)
}

// TestSMTPMailerSendsOverSMTPAndGivesUpOnASilentServer sends an email to a
// real SMTP conversation, then to a server that never answers: the send
// fails within the configured timeout instead of hanging.
func TestSMTPMailerSendsOverSMTPAndGivesUpOnASilentServer(t *testing.T) {
	e := Email{ID: 7, To: "customer@example.com", Subject: "Reconnect", Body: "Open the link.", CreatedAt: time.Now()}
	cfg := MailConfig{From: "NOX Energy <no-reply@nox.example>", SMTPTLS: "none", Timeout: Duration(500 * time.Millisecond)}

	sink := startSMTPSink(t, false)
	cfg.SMTPAddr = sink.ln.Addr().String()
	m, err := NewMailer(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Send(context.Background(), e); err != nil {
		t.Fatalf("send: %v", err)
	}
	if got := sink.messages(); len(got) != 1 || !strings.Contains(got[0], "Message-ID: <email-7@nox.example>") ||
		!strings.Contains(got[0], "Open the link.") {
		t.Errorf("the SMTP server got %q, want one message with its Message-ID and body", got)
	}

	silent := startSMTPSink(t, true)
	cfg.SMTPAddr = silent.ln.Addr().String()
	m, _ = NewMailer(cfg, nil)
	start := time.Now()
	if err := m.Send(context.Background(), e); err == nil {
		t.Fatal("send to a server that never answers succeeded")
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("send to a silent server gave up after %s, want about the 500ms timeout", took)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := m.Send(ctx, e); err == nil {
		t.Error("send with an ended context succeeded")
	}
}
