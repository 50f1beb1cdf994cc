package main

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// Token-shaped values of every kind Slack issues; each must vanish from the log, whatever the format
// and wherever it appears (a field, the message, an error, a URL).
var tokens = []string{
	"xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",
	"xapp-1-A0123456789-1234567890123-abcdef0123456789abcdef",
	"xoxp-123-456-789-abcdef",
	"xoxa-2-abc",
	"xoxr-refresh-1",
	"xoxs-session-2",
	"xoxo-other-3",
	"xoxe.xoxp-1-rotating",
}

func TestLoggerRedactsTokens(t *testing.T) {
	for _, format := range []string{"json", "console"} {
		t.Run(format, func(t *testing.T) {
			var out bytes.Buffer
			logger, err := newLogger(&out, "debug", format)
			if err != nil {
				t.Fatal(err)
			}
			for _, tok := range tokens {
				logger.Info().Str("token", tok).Msg("connecting with " + tok)
				logger.Error().Err(errors.New("auth failed for Bearer "+tok)).Str("url", "wss://x/?t="+tok).Msg("")
			}
			got := out.String()
			for _, tok := range tokens {
				// The distinctive tail is what must not leak; the prefix alone is harmless.
				tail := tok[5:]
				if strings.Contains(got, tail) {
					t.Errorf("token %q leaked:\n%s", tok, got)
				}
			}
			if n := strings.Count(got, "[redacted]"); n < 4*len(tokens) {
				t.Errorf("%d redactions, want %d:\n%s", n, 4*len(tokens), got)
			}
			if !strings.Contains(got, "connecting with") {
				t.Errorf("the rest of the message was lost:\n%s", got)
			}
		})
	}
}

func TestLoggerLevelAndFormat(t *testing.T) {
	var out bytes.Buffer
	logger, err := newLogger(&out, "warn", "json")
	if err != nil {
		t.Fatal(err)
	}
	logger.Info().Msg("quiet")
	logger.Warn().Msg("loud")
	if strings.Contains(out.String(), "quiet") || !strings.Contains(out.String(), `"message":"loud"`) {
		t.Errorf("level filter or JSON shape wrong: %s", out.String())
	}
	if _, err := newLogger(&out, "chatty", "json"); err == nil {
		t.Error("bad level accepted")
	}
	if _, err := newLogger(&out, "info", "xml"); err == nil {
		t.Error("bad format accepted")
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestRedactingWriterReportsFullLengthAndErrors(t *testing.T) {
	var out bytes.Buffer
	in := []byte("token xoxb-1-2-3 end\n")
	n, err := redactingWriter{out: &out}.Write(in)
	if err != nil || n != len(in) {
		t.Errorf("Write = %d, %v; want %d, nil", n, err, len(in))
	}
	if out.String() != "token [redacted] end\n" {
		t.Errorf("wrote %q", out.String())
	}
	if _, err := (redactingWriter{out: failingWriter{}}).Write(in); err == nil {
		t.Error("a failed write was reported as success")
	}
}
