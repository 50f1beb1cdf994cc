package bot

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"workbot/bot/slackfake"
	"workbot/domain"
)

// A warning's buttons act on the state they were shown for. After "Assign suggested", the same
// warning's "Assign anyway" must not move the item again.
func TestStaleOverloadWarningIsRefused(t *testing.T) {
	h := newHarness(t)
	id := h.request(uReq, "Rebuild the build farm", "8")
	key := domain.FormatKey("W", id)
	h.reply(uLead, cGeneral, "capacity <@"+uDev+"|dev> 4")
	contains(t, "warning", h.reply(uLead, cGeneral, "assign "+key+" <@"+uDev+"|dev>"), "Assign anyway", "Assign suggested")
	warning := h.lastEphemeral(uLead).Ref()
	contains(t, "suggested", h.clickExpectingReply(uLead, warning, "Assign suggested"), "Assigned")
	if it := h.item(id); it.Assignee != uQA {
		t.Fatalf("after Assign suggested the assignee is %q", it.Assignee)
	}
	contains(t, "stale", h.clickExpectingReply(uLead, warning, "Assign anyway"), "This warning is out of date")
	if it := h.item(id); it.Assignee != uQA {
		t.Fatalf("a stale warning moved the item to %q", it.Assignee)
	}
}

// A lead who assigns an untriaged item takes it out of intake, so its owner can start it, and the
// item's thread says so.
func TestAssignFromIntakeMovesTheItem(t *testing.T) {
	h := newHarness(t)
	id := h.request(uReq, "Rotate the API keys", "2")
	key := domain.FormatKey("W", id)
	contains(t, "assign", h.reply(uLead, cGeneral, "assign "+key+" <@"+uDev+"|dev>"), "Assigned")
	msg := h.itemMessage(key)
	h.waitThread(msg, "Intake → To do")
	contains(t, "start", h.reply(uDev, cGeneral, "start "+key), "Started")
}

// /work request with more text than a title holds opens the form with the first line, cut on a word,
// as the title, and the whole text in the details.
func TestLongRequestTextKeepsEverything(t *testing.T) {
	h := newHarness(t)
	words := strings.Repeat("printer on the third floor jams ", 8) // 256 characters
	text := strings.TrimSpace(words) + "\nsecond line with the model number"
	h.command(uReq, cGeneral, "request "+text)
	v := h.modal(uReq, ViewIntake)
	var blocks []struct {
		BlockID string `json:"block_id"`
		Element struct {
			InitialValue string `json:"initial_value"`
		} `json:"element"`
	}
	if err := json.Unmarshal(v.Blocks, &blocks); err != nil {
		t.Fatal(err)
	}
	initial := map[string]string{}
	for _, b := range blocks {
		initial[b.BlockID] = b.Element.InitialValue
	}
	title := initial[BlockTitle]
	kept := strings.TrimSuffix(title, "…")
	if n := len([]rune(title)); n > domain.MaxTitleLen || kept == title {
		t.Errorf("title %q (%d runes): want at most %d, marked as cut", title, n, domain.MaxTitleLen)
	}
	if rest, ok := strings.CutPrefix(text, kept); !ok || !strings.HasPrefix(rest, " ") {
		t.Errorf("title %q is not the text's start cut at a space", title)
	}
	if initial[BlockDetails] != text {
		t.Errorf("details = %q, want the whole text", initial[BlockDetails])
	}
}

// A click that opens a form must not wait behind slow work on the same item: its trigger_id lives
// 3 seconds. Here the item's worker is busy answering a command through a failing response_url.
func TestFormOpensWhileItsItemIsBusy(t *testing.T) {
	h := newHarness(t)
	id := h.request(uReq, "Renew the TLS certificate", "2")
	key := domain.FormatKey("W", id)
	msg := h.itemMessage(key)
	h.fake.FailNext("response_url", 5, slackfake.Fault{Status: 503}) // about 3 s of retries on the item's worker
	h.command(uReq, cGeneral, "show "+key)
	h.click(uLead, msg.Ref(), ActionPrioritise)
	h.modal(uLead, ViewPrioritise)
}

func TestUnknownOutcomesAreNotRefusals(t *testing.T) {
	for _, c := range []struct {
		name string
		err  error
		want bool
	}{
		{"429", &slack.RateLimitedError{RetryAfter: time.Second}, true},
		{"channel_not_found", slack.SlackErrorResponse{Err: "channel_not_found"}, true},
		{"internal_error", slack.SlackErrorResponse{Err: "internal_error"}, false},
		{"fatal_error", slack.SlackErrorResponse{Err: "fatal_error"}, false},
		{"503", slack.StatusCodeError{Code: 503}, false},
		{"dropped connection", io.ErrUnexpectedEOF, false},
		{"timeout", &net.OpError{Op: "read", Err: errors.New("i/o timeout")}, false},
		{"wrapped", fmt.Errorf("post: %w", slack.SlackErrorResponse{Err: "internal_error"}), false},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := definitelyNotDone(c.err); got != c.want {
				t.Errorf("definitelyNotDone(%v) = %v, want %v", c.err, got, c.want)
			}
		})
	}
}

// The event dedupe forgets IDs older than two windows, without sweeping the whole map on each event.
func TestDedupeStaysBounded(t *testing.T) {
	d := newDedupe(time.Minute)
	start := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	for i := range 100000 {
		now := start.Add(time.Duration(i) * time.Millisecond * 10) // 100 events a second for 1000 s
		if d.seenBefore(fmt.Sprint(i), now) {
			t.Fatalf("event %d seen before", i)
		}
		if !d.seenBefore(fmt.Sprint(i), now) {
			t.Fatalf("event %d not remembered", i)
		}
	}
	if n := d.size(); n > 2*60*100+100 {
		t.Errorf("remembers %d IDs; want at most two minutes of events", n)
	}
	if !d.seenBefore("99999", start.Add(1000*time.Second+30*time.Second)) {
		t.Error("an ID from within the window was forgotten")
	}
	if d.seenBefore("0", start.Add(1000*time.Second)) {
		t.Error("an ID from long ago is still remembered")
	}
}

// Slack escapes a should_escape command's text (&amp; &lt; &gt;, mentions as <@U…|name>): free text is
// stored as the person typed it, and shown escaped once, never twice.
func TestCommandTextIsUnescapedOnce(t *testing.T) {
	h := newHarness(t)
	id := h.request(uReq, "Laptop for the new hire", "2")
	key := domain.FormatKey("W", id)
	h.reply(uLead, cGeneral, "block "+key+" waiting for A&amp;B &lt;legal&gt; <!here> and <@"+uDev+"|dev>")
	it := h.item(id)
	if it.BlockedReason != "waiting for A&B <legal> @here and @dev" {
		t.Errorf("reason stored as %q", it.BlockedReason)
	}
	msg := h.itemMessage(key)
	h.waitFor("the reason on the item message", func() bool {
		m, _ := h.fake.Message(msg.Channel, msg.TS)
		return strings.Contains(m.AllText(), "A&amp;B &lt;legal&gt; @here")
	})
	h.command(uReq, cGeneral, "request Screen &amp; dock &lt;urgent&gt;")
	if got := modalInitial(t, h.modal(uReq, ViewIntake))[BlockTitle]; got != "Screen & dock <urgent>" {
		t.Errorf("prefilled title %q", got)
	}
}
