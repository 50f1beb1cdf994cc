package slackfake

import (
	"errors"
	"testing"

	"github.com/slack-go/slack"
)

func TestMembershipAndArchive(t *testing.T) {
	f := startFake(t, fastOptions(t))
	f.AddChannelWithoutBot("C2", "random")
	f.AddChannelWithoutBot("G2", "secret")
	f.AddChannel("G3", "team")
	api := newAPI(t, f)
	ctx := ctxT(t)
	post := func(channel string) error {
		_, _, err := api.PostMessageContext(ctx, channel, slack.MsgOptionText("hi", false))
		return err
	}
	history := func(channel string) error {
		_, err := api.GetConversationHistoryContext(ctx, &slack.GetConversationHistoryParameters{ChannelID: channel})
		return err
	}

	for _, tc := range []struct {
		channel, post, history string
	}{
		{"C1", "", ""},
		{"G3", "", ""},
		{"C2", "not_in_channel", "not_in_channel"},
		{"#random", "not_in_channel", "channel_not_found"}, // history takes ids only
		{"G2", "channel_not_found", "channel_not_found"},   // a private channel the app is not in is hidden
		{"C404", "channel_not_found", "channel_not_found"},
	} {
		if got := slackErr(post(tc.channel)); got != tc.post {
			t.Errorf("post in %s: %q, want %q", tc.channel, got, tc.post)
		}
		if got := slackErr(history(tc.channel)); got != tc.history {
			t.Errorf("history of %s: %q, want %q", tc.channel, got, tc.history)
		}
	}
	if info, err := api.GetConversationInfoContext(ctx, &slack.GetConversationInfoInput{ChannelID: "C2"}); err != nil || info.IsMember || info.Name != "random" {
		t.Fatalf("info = %+v, %v", info, err)
	}
	if _, err := api.GetConversationInfoContext(ctx, &slack.GetConversationInfoInput{ChannelID: "G2"}); slackErr(err) != "channel_not_found" {
		t.Fatalf("info of a hidden channel: %v", err)
	}
	if len(f.Messages("C2")) != 0 {
		t.Fatal("a refused post landed")
	}

	// Invited, the app can post and read.
	if err := f.SetBotMember("C2", true); err != nil {
		t.Fatal(err)
	}
	if err := post("C2"); err != nil {
		t.Fatal(err)
	}
	if err := history("C2"); err != nil {
		t.Fatal(err)
	}

	// Archived: no posting, ephemeral or not; history still reads.
	if err := f.ArchiveChannel("C1", true); err != nil {
		t.Fatal(err)
	}
	if got := slackErr(post("C1")); got != "is_archived" {
		t.Fatalf("post in archived: %q", got)
	}
	if _, err := api.PostEphemeralContext(ctx, "C1", "U1", slack.MsgOptionText("psst", false)); slackErr(err) != "is_archived" {
		t.Fatalf("ephemeral in archived: %v", err)
	}
	if err := history("C1"); err != nil {
		t.Fatal(err)
	}
	if info, _ := api.GetConversationInfoContext(ctx, &slack.GetConversationInfoInput{ChannelID: "C1"}); !info.IsArchived {
		t.Fatalf("info = %+v", info)
	}
	chans := f.Channels()
	if !chans[0].IsArchived || !chans[0].IsMember || chans[1].ID != "C2" || !chans[1].IsMember || chans[2].ID != "G2" || chans[2].IsMember || !chans[2].IsPrivate {
		t.Fatalf("channels = %+v", chans)
	}
	if err := f.ArchiveChannel("C1", false); err != nil {
		t.Fatal(err)
	}
	if err := post("C1"); err != nil {
		t.Fatal(err)
	}
	if f.ArchiveChannel(f.DMChannel("U1"), true) == nil || f.SetBotMember("C404", true) == nil {
		t.Fatal("archived a DM or joined a missing channel")
	}
}

func TestScopes(t *testing.T) {
	opts := fastOptions(t)
	opts.Scopes = []string{"chat:write", "chat:write.public", "channels:history", "im:write"}
	f := startFake(t, opts)
	f.AddChannelWithoutBot("C2", "random")
	api := newAPI(t, f)
	ctx := ctxT(t)

	// chat:write.public posts where the bot is not a member; reading there
	// still needs membership.
	if _, _, err := api.PostMessageContext(ctx, "C2", slack.MsgOptionText("hi", false)); err != nil {
		t.Fatal(err)
	}
	if _, err := api.GetConversationHistoryContext(ctx, &slack.GetConversationHistoryParameters{ChannelID: "C2"}); slackErr(err) != "not_in_channel" {
		t.Fatalf("history in C2: %v", err)
	}
	if _, err := api.GetConversationHistoryContext(ctx, &slack.GetConversationHistoryParameters{ChannelID: "C1"}); err != nil {
		t.Fatal(err)
	}

	ch, _, _, err := api.OpenConversationContext(ctx, &slack.OpenConversationParameters{Users: []string{"U1"}})
	if err != nil {
		t.Fatal(err)
	}
	_, _, _, err = api.GetConversationRepliesContext(ctx, &slack.GetConversationRepliesParameters{ChannelID: ch.ID, Timestamp: "1.000001"})
	var se slack.SlackErrorResponse
	if !errors.As(err, &se) || se.Err != "missing_scope" || se.Needed != "im:history" || se.Provided != "chat:write,chat:write.public,channels:history,im:write" {
		t.Fatalf("replies in a DM: %#v", err)
	}
	if _, err := api.GetUserInfoContext(ctx, "U1"); !errors.As(err, &se) || se.Needed != "users:read" {
		t.Fatalf("users.info: %#v", err)
	}
	if _, err := api.GetConversationInfoContext(ctx, &slack.GetConversationInfoInput{ChannelID: "C1"}); !errors.As(err, &se) || se.Needed != "channels:read" {
		t.Fatalf("conversations.info: %#v", err)
	}
	if c := f.Calls("users.info"); len(c) != 1 || c[0].Error != "missing_scope" {
		t.Fatalf("calls = %+v", c)
	}
}
