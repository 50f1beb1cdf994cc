package slackfake

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/slack-go/slack"
)

// TestResponseURLRefusesInvalidBlocks: a response_url is an incoming webhook.
// Blocks that break a Block Kit rule are refused with HTTP 400 and the bare
// code "invalid_blocks" as plain text, nothing is posted, and slack-go's
// PostWebhookContext reports the status.
func TestResponseURLRefusesInvalidBlocks(t *testing.T) {
	f := startFake(t, fastOptions(t))
	f.mu.Lock()
	rurl := f.newResponseURLLocked("commands", "U1", "C1", nil, "")
	f.mu.Unlock()
	twoA := func(id2 string) *slack.Blocks {
		return &slack.Blocks{BlockSet: []slack.Block{slack.NewActionBlock("",
			slack.NewButtonBlockElement("a", "1", slack.NewTextBlockObject(slack.PlainTextType, "One", false, false)),
			slack.NewButtonBlockElement(id2, "2", slack.NewTextBlockObject(slack.PlainTextType, "Two", false, false)))}}
	}
	err := slack.PostWebhookContext(ctxT(t), rurl, &slack.WebhookMessage{Text: "t", Blocks: twoA("a")})
	var sc slack.StatusCodeError
	if !errors.As(err, &sc) || sc.Code != http.StatusBadRequest {
		t.Fatalf("invalid blocks: err = %v, want status 400", err)
	}
	if c := f.Calls("response_url"); len(c) != 1 || c[0].Error != "invalid_blocks" || c[0].Status != http.StatusBadRequest {
		t.Fatalf("calls = %+v", c)
	}
	if e := f.Ephemerals("U1"); len(e) != 0 {
		t.Fatalf("refused blocks were posted: %+v", e)
	}

	// The body is the bare code, as plain text.
	body, _ := json.Marshal(map[string]any{"text": "t", "blocks": []any{actionsOf(btn("a"), btn("a"))}})
	req, _ := http.NewRequestWithContext(ctxT(t), http.MethodPost, rurl, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || string(raw) != "invalid_blocks" ||
		!strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("answer = %d %q %q", resp.StatusCode, resp.Header.Get("Content-Type"), raw)
	}

	if err := slack.PostWebhookContext(ctxT(t), rurl, &slack.WebhookMessage{Text: "t", Blocks: twoA("b")}); err != nil {
		t.Fatalf("valid blocks: %v", err)
	}
	if e := f.Ephemerals("U1"); len(e) != 1 {
		t.Fatalf("ephemerals = %+v", e)
	}
}

// TestResponseURLTruncatesText: Slack truncates message text beyond 40,000
// characters on response URLs as everywhere, and still posts the message.
func TestResponseURLTruncatesText(t *testing.T) {
	f := startFake(t, fastOptions(t))
	f.mu.Lock()
	rurl := f.newResponseURLLocked("commands", "U1", "C1", nil, "")
	f.mu.Unlock()
	text := strings.Repeat("é", maxMessageText) + "cut"
	if err := slack.PostWebhookContext(ctxT(t), rurl, &slack.WebhookMessage{Text: text}); err != nil {
		t.Fatal(err)
	}
	e := f.Ephemerals("U1")
	if len(e) != 1 {
		t.Fatalf("ephemerals = %d, want 1", len(e))
	}
	if e[0].Text != strings.Repeat("é", maxMessageText) {
		t.Fatalf("ephemeral text has %d characters, want the first %d", len([]rune(e[0].Text)), maxMessageText)
	}
}
