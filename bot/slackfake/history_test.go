package slackfake

import (
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/slack-go/slack"
)

func ticketMeta(id string) slack.MsgOption {
	return slack.MsgOptionMetadata(slack.SlackMetadata{
		EventType:    "ticket_posted",
		EventPayload: map[string]any{"ticket": id, "n": 7},
	})
}

func slackErr(err error) string {
	var se slack.SlackErrorResponse
	if errors.As(err, &se) {
		return se.Err
	}
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestMetadataThroughSlackGo(t *testing.T) {
	f := startFake(t, fastOptions(t))
	api := newAPI(t, f)
	ctx := ctxT(t)

	_, ts, err := api.PostMessageContext(ctx, "C1", slack.MsgOptionText("T-1 opened", false), ticketMeta("T-1"))
	if err != nil {
		t.Fatal(err)
	}
	m, _ := f.Message("C1", ts)
	if m.Metadata == nil || m.Metadata.EventType != "ticket_posted" || string(m.Metadata.EventPayload) != `{"n":7,"ticket":"T-1"}` {
		t.Fatalf("metadata = %+v", m.Metadata)
	}

	// chat.update without metadata keeps it; with new metadata replaces it.
	if _, _, _, err := api.UpdateMessageContext(ctx, "C1", ts, slack.MsgOptionText("T-1 taken", false)); err != nil {
		t.Fatal(err)
	}
	if m, _ := f.Message("C1", ts); m.Metadata == nil || m.Metadata.EventType != "ticket_posted" {
		t.Fatalf("metadata after a plain update = %+v", m.Metadata)
	}
	upd := slack.MsgOptionMetadata(slack.SlackMetadata{EventType: "ticket_taken", EventPayload: map[string]any{"by": "U1"}})
	if _, _, _, err := api.UpdateMessageContext(ctx, "C1", ts, slack.MsgOptionText("T-1 taken", false), upd); err != nil {
		t.Fatal(err)
	}
	if m, _ := f.Message("C1", ts); m.Metadata == nil || m.Metadata.EventType != "ticket_taken" {
		t.Fatalf("metadata after update = %+v", m.Metadata)
	}
	// An empty object removes it.
	_, resp := callForm(t, f, "chat.update", url.Values{"token": {f.BotToken()}, "channel": {"C1"}, "ts": {ts}, "text": {"x"}, "metadata": {"{}"}})
	if resp["ok"] != true {
		t.Fatalf("update = %v", resp)
	}
	if m, _ := f.Message("C1", ts); m.Metadata != nil {
		t.Fatalf("metadata after {} = %+v", m.Metadata)
	}

	// An event_type outside [a-z0-9_] does not fail the call: the message
	// is posted without its metadata.
	_, ts2, err := api.PostMessageContext(ctx, "C1", slack.MsgOptionText("x", false),
		slack.MsgOptionMetadata(slack.SlackMetadata{EventType: "ticket.posted", EventPayload: map[string]any{"a": 1}}))
	if err != nil {
		t.Fatal(err)
	}
	if m, _ := f.Message("C1", ts2); m.Metadata != nil {
		t.Fatalf("dotted event_type kept: %+v", m.Metadata)
	}

	cases := []struct{ metadata, want string }{
		{`not json`, "invalid_metadata_format"},
		{`["event_type"]`, "invalid_metadata_format"},
		{`{"event_payload":{"a":1}}`, "invalid_metadata_schema"},
		{`{"event_type":"","event_payload":{"a":1}}`, "invalid_metadata_schema"},
		{`{"event_type":"a_b"}`, "invalid_metadata_schema"},
		{`{"event_type":"a_b","event_payload":null}`, "invalid_metadata_schema"},
		{`{"event_type":"a_b","event_payload":[1]}`, "invalid_metadata_schema"},
		{`{"event_type":"a_b","event_payload":{"big":"` + strings.Repeat("x", maxMetadataBytes) + `"}}`, "metadata_too_large"},
	}
	before := len(f.Messages("C1"))
	for _, tc := range cases {
		_, resp := callForm(t, f, "chat.postMessage", url.Values{"token": {f.BotToken()}, "channel": {"C1"}, "text": {"x"}, "metadata": {tc.metadata}})
		if resp["ok"] != false || resp["error"] != tc.want {
			t.Errorf("metadata %.40s: got %v, want %s", tc.metadata, resp, tc.want)
		}
	}
	// A JSON body may carry the object itself.
	_, resp = callJSON(t, f, "chat.postMessage", f.BotToken(), map[string]any{
		"channel": "C1", "text": "json", "metadata": map[string]any{"event_type": "a_b", "event_payload": map[string]any{"k": "v"}},
	})
	if resp["ok"] != true {
		t.Fatalf("JSON metadata = %v", resp)
	}
	msg, _ := resp["message"].(map[string]any)
	if md, _ := msg["metadata"].(map[string]any); md["event_type"] != "a_b" {
		t.Fatalf("answer carries no metadata: %v", resp)
	}
	if got := len(f.Messages("C1")); got != before+1 {
		t.Fatalf("%d messages, want %d: refused calls must post nothing", got, before+1)
	}
}

func TestConversationsHistory(t *testing.T) {
	f := startFake(t, fastOptions(t))
	api := newAPI(t, f)
	ctx := ctxT(t)

	var tss []string
	for i, text := range []string{"one", "two", "three", "four", "five"} {
		opts := []slack.MsgOption{slack.MsgOptionText(text, false)}
		if i == 1 {
			opts = append(opts, ticketMeta("T-2"))
		}
		_, ts, err := api.PostMessageContext(ctx, "C1", opts...)
		if err != nil {
			t.Fatal(err)
		}
		tss = append(tss, ts)
	}
	// A reply is not in the channel's history; a person's message is.
	if _, _, err := api.PostMessageContext(ctx, "C1", slack.MsgOptionText("reply", false), slack.MsgOptionTS(tss[1])); err != nil {
		t.Fatal(err)
	}
	person, err := f.PostAsUser("U1", "C1", "hello bot", "")
	if err != nil {
		t.Fatal(err)
	}

	h, err := api.GetConversationHistoryContext(ctx, &slack.GetConversationHistoryParameters{ChannelID: "C1"})
	if err != nil {
		t.Fatal(err)
	}
	var texts []string
	for _, m := range h.Messages {
		texts = append(texts, m.Text)
	}
	if strings.Join(texts, ",") != "hello bot,five,four,three,two,one" || h.HasMore {
		t.Fatalf("history = %v (has_more %v)", texts, h.HasMore)
	}
	bot, two := h.Messages[1], h.Messages[4]
	if bot.User != f.BotUserID() || bot.BotID == "" || bot.BotProfile == nil || bot.BotProfile.AppID != f.AppID() {
		t.Fatalf("bot message = %+v", bot)
	}
	if h.Messages[0].User != "U1" || h.Messages[0].BotID != "" || h.Messages[0].Timestamp != person.TS {
		t.Fatalf("person's message = %+v", h.Messages[0])
	}
	if two.Metadata.EventType != "" {
		t.Fatalf("metadata without include_all_metadata: %+v", two.Metadata)
	}
	if two.ReplyCount != 1 || two.ThreadTimestamp != tss[1] || two.LatestReply == "" || len(two.ReplyUsers) != 1 {
		t.Fatalf("thread parent = %+v", two.Msg)
	}

	// The way to check whether a post landed: latest=ts, inclusive, limit 1.
	h, err = api.GetConversationHistoryContext(ctx, &slack.GetConversationHistoryParameters{
		ChannelID: "C1", Latest: tss[1], Inclusive: true, Limit: 1, IncludeAllMetadata: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Messages) != 1 || h.Messages[0].Timestamp != tss[1] || !h.HasMore ||
		h.Messages[0].Metadata.EventType != "ticket_posted" || h.Messages[0].Metadata.EventPayload["ticket"] != "T-2" {
		t.Fatalf("latest inclusive = %+v", h)
	}
	// Exclusive bounds by default.
	h, _ = api.GetConversationHistoryContext(ctx, &slack.GetConversationHistoryParameters{ChannelID: "C1", Oldest: tss[1], Latest: tss[3]})
	if len(h.Messages) != 1 || h.Messages[0].Text != "three" {
		t.Fatalf("exclusive window = %+v", h.Messages)
	}

	// Pages of two, newest first, walk the whole history.
	var walked []string
	cursor := ""
	for range 10 {
		h, err := api.GetConversationHistoryContext(ctx, &slack.GetConversationHistoryParameters{ChannelID: "C1", Limit: 2, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range h.Messages {
			walked = append(walked, m.Text)
		}
		cursor = h.ResponseMetaData.NextCursor
		if !h.HasMore {
			break
		}
	}
	if strings.Join(walked, ",") != "hello bot,five,four,three,two,one" || cursor != "" {
		t.Fatalf("paged = %v, last cursor %q", walked, cursor)
	}

	for _, tc := range []struct {
		params slack.GetConversationHistoryParameters
		want   string
	}{
		{slack.GetConversationHistoryParameters{ChannelID: "C404"}, "channel_not_found"},
		{slack.GetConversationHistoryParameters{ChannelID: "C1", Cursor: "garbage"}, "invalid_cursor"},
		{slack.GetConversationHistoryParameters{ChannelID: "C1", Latest: "yesterday"}, "invalid_ts_latest"},
		{slack.GetConversationHistoryParameters{ChannelID: "C1", Oldest: "-1"}, "invalid_ts_oldest"},
	} {
		if _, err := api.GetConversationHistoryContext(ctx, &tc.params); slackErr(err) != tc.want {
			t.Errorf("%+v: err %v, want %s", tc.params, err, tc.want)
		}
	}
}

func TestConversationsReplies(t *testing.T) {
	f := startFake(t, fastOptions(t))
	api := newAPI(t, f)
	ctx := ctxT(t)

	_, parent, err := api.PostMessageContext(ctx, "C1", slack.MsgOptionText("parent", false), ticketMeta("T-9"))
	if err != nil {
		t.Fatal(err)
	}
	var replies []string
	for _, text := range []string{"r1", "r2", "r3"} {
		_, ts, err := api.PostMessageContext(ctx, "C1", slack.MsgOptionText(text, false), slack.MsgOptionTS(parent))
		if err != nil {
			t.Fatal(err)
		}
		replies = append(replies, ts)
	}
	if _, err := f.PostAsUser("U2", "C1", "r4", parent); err != nil {
		t.Fatal(err)
	}

	msgs, more, _, err := api.GetConversationRepliesContext(ctx, &slack.GetConversationRepliesParameters{ChannelID: "C1", Timestamp: parent, IncludeAllMetadata: true})
	if err != nil {
		t.Fatal(err)
	}
	var texts []string
	for _, m := range msgs {
		texts = append(texts, m.Text)
	}
	if strings.Join(texts, ",") != "parent,r1,r2,r3,r4" || more {
		t.Fatalf("replies = %v", texts)
	}
	if msgs[0].Metadata.EventType != "ticket_posted" || msgs[0].ReplyCount != 4 || len(msgs[0].ReplyUsers) != 2 {
		t.Fatalf("parent = %+v", msgs[0].Msg)
	}
	if msgs[1].ThreadTimestamp != parent || msgs[1].ParentUserId != f.BotUserID() || msgs[4].User != "U2" {
		t.Fatalf("replies = %+v", msgs[1:])
	}

	// ts may name a reply; pages omit the parent after the first.
	msgs, more, cursor, err := api.GetConversationRepliesContext(ctx, &slack.GetConversationRepliesParameters{ChannelID: "C1", Timestamp: replies[1], Limit: 2})
	if err != nil || len(msgs) != 2 || msgs[0].Text != "parent" || msgs[1].Text != "r1" || !more || cursor == "" {
		t.Fatalf("first page = %+v, %v, %q, %v", msgs, more, cursor, err)
	}
	msgs, more, _, err = api.GetConversationRepliesContext(ctx, &slack.GetConversationRepliesParameters{ChannelID: "C1", Timestamp: parent, Limit: 2, Cursor: cursor})
	if err != nil || len(msgs) != 2 || msgs[0].Text != "r2" || msgs[1].Text != "r3" || !more {
		t.Fatalf("second page = %+v, %v, %v", msgs, more, err)
	}
	// A window keeps the parent and the replies inside it.
	msgs, _, _, _ = api.GetConversationRepliesContext(ctx, &slack.GetConversationRepliesParameters{ChannelID: "C1", Timestamp: parent, Oldest: replies[0], Latest: replies[2], Inclusive: true})
	if len(msgs) != 4 || msgs[0].Text != "parent" || msgs[3].Text != "r3" {
		t.Fatalf("window = %+v", msgs)
	}

	// A message without replies is a thread of one.
	_, lone, _ := api.PostMessageContext(ctx, "C1", slack.MsgOptionText("lone", false))
	msgs, _, _, err = api.GetConversationRepliesContext(ctx, &slack.GetConversationRepliesParameters{ChannelID: "C1", Timestamp: lone})
	if err != nil || len(msgs) != 1 || msgs[0].Text != "lone" {
		t.Fatalf("lone = %+v, %v", msgs, err)
	}
	if _, _, _, err := api.GetConversationRepliesContext(ctx, &slack.GetConversationRepliesParameters{ChannelID: "C1", Timestamp: "1.000001"}); slackErr(err) != "thread_not_found" {
		t.Fatalf("unknown ts: %v", err)
	}
	if _, _, _, err := api.GetConversationRepliesContext(ctx, &slack.GetConversationRepliesParameters{ChannelID: "C404", Timestamp: parent}); slackErr(err) != "channel_not_found" {
		t.Fatalf("unknown channel: %v", err)
	}
}
