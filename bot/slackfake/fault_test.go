package slackfake

import (
	"errors"
	"testing"

	"github.com/slack-go/slack"
)

// TestDropResponse: the call takes effect, but the answer never arrives, so
// slack-go reports a network error and the app cannot know the message
// landed, except by reading history.
func TestDropResponse(t *testing.T) {
	f := startFake(t, fastOptions(t))
	api := newAPI(t, f)
	ctx := ctxT(t)

	f.FailNext("chat.postMessage", 1, Fault{DropResponse: true})
	_, _, err := api.PostMessageContext(ctx, "C1", slack.MsgOptionText("did it land?", false), ticketMeta("T-7"))
	var se slack.SlackErrorResponse
	if err == nil || errors.As(err, &se) {
		t.Fatalf("err = %v, want a network error", err)
	}
	t.Logf("slack-go says: %v", err)
	msgs := f.Messages("C1")
	if len(msgs) != 1 || msgs[0].Text != "did it land?" {
		t.Fatalf("messages = %+v", msgs)
	}
	calls := f.Calls("chat.postMessage")
	if len(calls) != 1 || !calls[0].Dropped || !calls[0].Fault || calls[0].Error != "" {
		t.Fatalf("calls = %+v", calls)
	}
	// The metadata is how the app finds out.
	h, err := api.GetConversationHistoryContext(ctx, &slack.GetConversationHistoryParameters{ChannelID: "C1", Limit: 1, IncludeAllMetadata: true})
	if err != nil || len(h.Messages) != 1 || h.Messages[0].Metadata.EventPayload["ticket"] != "T-7" {
		t.Fatalf("history = %+v, %v", h, err)
	}

	// Other methods too, form or JSON, and a refused call is dropped alike.
	ts := msgs[0].TS
	f.FailNext("chat.update", 1, Fault{DropResponse: true})
	if _, _, _, err := api.UpdateMessageContext(ctx, "C1", ts, slack.MsgOptionText("edited", false)); err == nil || errors.As(err, &se) {
		t.Fatalf("update err = %v", err)
	}
	if m, _ := f.Message("C1", ts); m.Text != "edited" {
		t.Fatalf("update did not take effect: %+v", m)
	}
	f.FailNext("views.publish", 1, Fault{DropResponse: true})
	home := slack.HomeTabViewRequest{Type: slack.VTHomeTab, Blocks: slack.Blocks{BlockSet: []slack.Block{slack.NewDividerBlock()}}}
	if _, err := api.PublishViewContext(ctx, slack.PublishViewContextRequest{UserID: "U1", View: home}); err == nil || errors.As(err, &se) {
		t.Fatalf("publish err = %v", err)
	}
	if _, ok := f.Home("U1"); !ok {
		t.Fatal("views.publish did not take effect")
	}
	f.FailNext("chat.postMessage", 1, Fault{DropResponse: true})
	if _, _, err := api.PostMessageContext(ctx, "C404", slack.MsgOptionText("x", false)); err == nil || errors.As(err, &se) {
		t.Fatalf("refused post err = %v", err)
	}
	if c := f.Calls("chat.postMessage"); !c[1].Dropped || c[1].Error != "channel_not_found" {
		t.Fatalf("calls = %+v", c)
	}

	// The next call is answered normally.
	if _, _, err := api.PostMessageContext(ctx, "C1", slack.MsgOptionText("fine", false)); err != nil {
		t.Fatal(err)
	}
}
