package handlers

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"noxportal/app"
)

func FuzzDecodeStrict(f *testing.F) {
	for _, s := range []string{
		`{"redirect_uri":"https://s.example/cb","language":"en"}`,
		`{"redirect_uri":"x","language":5}`,
		`{"redirect_uri":"x","colour":"red"}`,
		`{"a":1}{"a":2}`,
		`[]`, ``, `   `, `null`, `{"language":null}`, "{\"redirect_uri\":\"\xff\"}",
		`{"redirect_uri":"\u0000"}`, `{"brand":` + strings.Repeat("[", 50),
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var req linkRequest
		err := decodeStrict(body, &req)
		if err == nil {
			if !json.Valid(body) {
				t.Errorf("decodeStrict accepted invalid JSON %q", body)
			}
			return
		}
		if app.ErrorCode(err) != app.EINVALID || app.ErrorReason(err) != "invalid_body" {
			t.Errorf("decodeStrict(%q): got %v (%s), want an EINVALID invalid_body error", body, err, app.ErrorCode(err))
		}
	})
}

func FuzzRedactQuery(f *testing.F) {
	for _, s := range []string{
		"token=abc&q=1", "code=c&state=s", "TOKEN=x", "tok%65n=secret", "a=1&&b=2", "token", "token=a=b",
		"password=%ZZ", "%74oken=x;code=y", "q=%FF%00", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		out := RedactQuery(raw)
		in, got := strings.Split(raw, "&"), strings.Split(out, "&")
		if raw == "" {
			if out != "" {
				t.Errorf("RedactQuery(%q) = %q, want empty", raw, out)
			}
			return
		}
		if len(in) != len(got) {
			t.Fatalf("RedactQuery(%q) = %q: %d parts, want %d", raw, out, len(got), len(in))
		}
		for i, p := range got {
			k, v, found := strings.Cut(p, "=")
			name, err := url.QueryUnescape(k)
			if err != nil {
				name = k
			}
			if found && sensitiveParams[strings.ToLower(name)] && v != "REDACTED" {
				t.Errorf("RedactQuery(%q): part %q keeps a sensitive value", raw, p)
			}
			if !sensitiveParams[strings.ToLower(name)] && p != in[i] {
				t.Errorf("RedactQuery(%q): part %q changed to %q", raw, in[i], p)
			}
		}
	})
}
