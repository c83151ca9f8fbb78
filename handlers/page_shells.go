package handlers

import (
	"bytes"
	"strconv"
	"strings"
	"sync"

	"github.com/gofiber/fiber/v2"

	"noxportal/handlers/htmx"
)

// The pages of an opened link (brand page, supplier selector, expired and
// used pages) are the same for every view of one supplier, language and
// catalogue, except for two values: the browser's CSRF token and the link
// token. pageShells renders such a page once per key with marks in place of
// the two, keeps the bytes between the marks, and answers later views by
// writing the pieces with the two values in between: no template runs on
// the hot path. A shell is kept only if filling it gives exactly the bytes
// the template gives for the same request.

const (
	csrfMark  = "noxshellcsrf7f3a9c1e"
	tokenMark = "noxshelltoken2b8d4e06"
	// shellMax bounds the kept shells (one per supplier, language,
	// catalogue and page kind); past it they are dropped and rebuilt.
	shellMax = 4096
)

// pageShell is a rendered page split at its marks: parts[i] is followed by
// the value holes[i] names ('c' CSRF token, 't' link token), the last part
// by nothing.
type pageShell struct {
	parts [][]byte
	holes []byte
}

type pageShells struct {
	mu     sync.RWMutex
	shells map[string]*pageShell
}

func (p *pageShells) get(key string) *pageShell {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.shells[key]
}

func (p *pageShells) put(key string, s *pageShell) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.shells == nil || len(p.shells) >= shellMax {
		p.shells = map[string]*pageShell{}
	}
	p.shells[key] = s
}

// splitShell cuts a page rendered with the marks into a shell.
func splitShell(b []byte) *pageShell {
	s := &pageShell{}
	for {
		c, t := bytes.Index(b, []byte(csrfMark)), bytes.Index(b, []byte(tokenMark))
		switch {
		case c < 0 && t < 0:
			s.parts = append(s.parts, bytes.Clone(b))
			return s
		case t < 0 || (c >= 0 && c < t):
			s.parts, s.holes = append(s.parts, bytes.Clone(b[:c])), append(s.holes, 'c')
			b = b[c+len(csrfMark):]
		default:
			s.parts, s.holes = append(s.parts, bytes.Clone(b[:t])), append(s.holes, 't')
			b = b[t+len(tokenMark):]
		}
	}
}

// bodyWriter takes the pieces of a filled shell (a fasthttp response body,
// or a byteBody to compare).
type bodyWriter interface {
	AppendBody([]byte)
	AppendBodyString(string)
}

// fill writes the shell filled with csrf and token to dst.
func (s *pageShell) fill(dst bodyWriter, csrf, token string) {
	for i, part := range s.parts {
		dst.AppendBody(part)
		if i < len(s.holes) {
			if s.holes[i] == 'c' {
				dst.AppendBodyString(csrf)
			} else {
				dst.AppendBodyString(token)
			}
		}
	}
}

// byteBody collects a filled shell in memory.
type byteBody struct{ b []byte }

func (b *byteBody) AppendBody(p []byte)       { b.b = append(b.b, p...) }
func (b *byteBody) AppendBodyString(s string) { b.b = append(b.b, s...) }

// shellKey joins the parts of a shell key, each prefixed by its length so
// no two lists of parts give one key.
func shellKey(parts ...string) string {
	var b strings.Builder
	for _, p := range parts {
		b.WriteString(strconv.Itoa(len(p)))
		b.WriteByte(':')
		b.WriteString(p)
	}
	return b.String()
}

// shellSafe reports whether v prints unchanged in every template context
// the marks stand in (attribute values and URL queries): only the
// characters of base64url.
func shellSafe(v string) bool {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// serveShell answers the request from the shell of key, if there is one,
// and reports whether it did.
func (h *Handler) serveShell(c *fiber.Ctx, key, token string) bool {
	if !shellSafe(token) {
		return false
	}
	s := h.shells.get(key)
	if s == nil {
		return false
	}
	csrf := h.csrfToken(c)
	if !shellSafe(csrf) {
		return false
	}
	c.Vary(htmx.HeaderRequest)
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	// Straight into the response's pooled body buffer: no page-sized
	// allocation per view.
	c.Response().ResetBody()
	s.fill(c.Response(), csrf, token)
	return true
}

// renderShell renders page like render does for a whole page and keeps its
// shell under key. key must name everything data holds besides the CSRF token
// and data["Token"] (the caller's supplier, language, catalogue version...).
func (h *Handler) renderShell(c *fiber.Ctx, key, page string, data fiber.Map) error {
	h.fillPageData(c, data)
	csrf, _ := data["CSRF"].(string)
	token, _ := data["Token"].(string)
	if !shellSafe(csrf) || !shellSafe(token) {
		return h.render(c, page, data)
	}
	if h.serveShell(c, key, token) {
		return nil
	}
	c.Vary(htmx.HeaderRequest)
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	views := c.App().Config().Views
	var real, marked bytes.Buffer
	if err := views.Render(&real, page, data); err != nil {
		return err
	}
	data["CSRF"], data["Token"] = csrfMark, tokenMark
	err := views.Render(&marked, page, data)
	data["CSRF"], data["Token"] = csrf, token
	if err == nil {
		var filled byteBody
		s := splitShell(marked.Bytes())
		if s.fill(&filled, csrf, token); bytes.Equal(filled.b, real.Bytes()) {
			h.shells.put(key, s)
		}
	}
	c.Response().SetBodyRaw(real.Bytes())
	return nil
}
