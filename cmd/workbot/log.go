package main

import (
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"

	"github.com/rs/zerolog"
)

// slackToken matches bot, user, app-config and refresh tokens (xoxb-, xoxp-, xoxa-, xoxo-, xoxs-,
// xoxr-, xoxe-) and app-level tokens (xapp-). Tokens are only ever letters, digits and dashes.
var slackToken = regexp.MustCompile(`xox[abposre](?:\.[A-Za-z0-9]+)?-[A-Za-z0-9-]+|xapp-[A-Za-z0-9-]+`)

// redactingWriter removes anything that looks like a Slack token before it reaches the log. zerolog
// hands each event to Write as one complete line, so a token is never split across calls.
type redactingWriter struct{ out io.Writer }

func (w redactingWriter) Write(p []byte) (int, error) {
	clean := slackToken.ReplaceAll(p, []byte("[redacted]"))
	if _, err := w.out.Write(clean); err != nil {
		return 0, err
	}
	// Report the caller's length: zerolog treats a short count as a failed write.
	return len(p), nil
}

func parseLevel(s string) (zerolog.Level, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "info":
		return zerolog.InfoLevel, nil
	case "debug":
		return zerolog.DebugLevel, nil
	case "trace":
		return zerolog.TraceLevel, nil
	case "warn", "warning":
		return zerolog.WarnLevel, nil
	case "error":
		return zerolog.ErrorLevel, nil
	}
	return 0, fmt.Errorf("%q is not one of trace, debug, info, warn, error", s)
}

// newLogger builds the root logger. Every byte goes through the redacting writer, whichever format.
func newLogger(out io.Writer, level, format string) (zerolog.Logger, error) {
	lvl, err := parseLevel(level)
	if err != nil {
		return zerolog.Nop(), err
	}
	// The bot logs from many goroutines; a file or terminal copes, but the writer must not rely on it.
	var w io.Writer = redactingWriter{out: zerolog.SyncWriter(out)}
	switch format {
	case "", "json":
	case "console":
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: time.RFC3339, NoColor: true}
	default:
		return zerolog.Nop(), fmt.Errorf("log format %q is not json or console", format)
	}
	return zerolog.New(w).Level(lvl).With().Timestamp().Logger(), nil
}
