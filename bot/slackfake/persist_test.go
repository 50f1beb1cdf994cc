package slackfake

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slack-go/slack"
)

func TestSaveAndLoad(t *testing.T) {
	f := startFake(t, fastOptions(t))
	f.AddChannelWithoutBot("C2", "random")
	f.AddChannel("G1", "secret")
	if err := f.ArchiveChannel("G1", true); err != nil {
		t.Fatal(err)
	}
	f.AddUsergroup("S1", "oncall", "U1", "U2")
	api := newAPI(t, f)
	ctx := ctxT(t)

	_, ts, err := api.PostMessageContext(ctx, "C1", slack.MsgOptionText("T-1 printer", false), ticketMeta("T-1"))
	if err != nil {
		t.Fatal(err)
	}
	_, replyTS, err := api.PostMessageContext(ctx, "C1", slack.MsgOptionText("taken", false), slack.MsgOptionTS(ts))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.AddReaction("U2", "C1", ts, "eyes"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.SendDM("U1", "hello"); err != nil {
		t.Fatal(err)
	}
	dm := f.DMChannel("U1")
	if _, err := api.UploadFileContext(ctx, slack.UploadFileParameters{Filename: "c.png", FileSize: 3, Reader: strings.NewReader("png"), Channel: "C1"}); err != nil {
		t.Fatal(err)
	}
	home := slack.HomeTabViewRequest{Type: slack.VTHomeTab, Blocks: slack.Blocks{BlockSet: []slack.Block{slack.NewSectionBlock(plain("Your items"), nil, nil)}}}
	published, err := api.PublishViewContext(ctx, slack.PublishViewContextRequest{UserID: "U1", View: home})
	if err != nil {
		t.Fatal(err)
	}

	var saved bytes.Buffer
	if err := f.Save(&saved); err != nil {
		t.Fatal(err)
	}

	// A new fake, as after a restart of the sandbox.
	g := New(fastOptions(t))
	if err := g.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = g.Close() })
	if err := g.Load(bytes.NewReader(saved.Bytes())); err != nil {
		t.Fatal(err)
	}
	var again bytes.Buffer
	if err := g.Save(&again); err != nil {
		t.Fatal(err)
	}
	if again.String() != saved.String() {
		t.Fatalf("state changed through Save and Load:\n%s\n---\n%s", saved.String(), again.String())
	}

	api = newAPI(t, g)
	// The app can still edit its old message, and reads its metadata back.
	if _, _, _, err := api.UpdateMessageContext(ctx, "C1", ts, slack.MsgOptionText("T-1 done", false)); err != nil {
		t.Fatal(err)
	}
	h, err := api.GetConversationHistoryContext(ctx, &slack.GetConversationHistoryParameters{ChannelID: "C1", IncludeAllMetadata: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Messages) != 2 || h.Messages[1].Timestamp != ts || h.Messages[1].Text != "T-1 done" ||
		h.Messages[1].Metadata.EventPayload["ticket"] != "T-1" || h.Messages[1].ReplyCount != 1 ||
		len(h.Messages[1].Reactions) != 1 || len(h.Messages[0].Files) != 1 {
		t.Fatalf("history after load = %+v", h.Messages)
	}
	msgs, _, _, err := api.GetConversationRepliesContext(ctx, &slack.GetConversationRepliesParameters{ChannelID: "C1", Timestamp: replyTS})
	if err != nil || len(msgs) != 2 || msgs[1].Timestamp != replyTS {
		t.Fatalf("replies after load = %+v, %v", msgs, err)
	}
	if m, _ := g.Message("C1", h.Messages[0].Timestamp); string(m.Files[0].Content) != "png" {
		t.Fatalf("file = %+v", m.Files)
	}

	// Membership, archiving, DMs and groups are as they were.
	if _, _, err := api.PostMessageContext(ctx, "C2", slack.MsgOptionText("x", false)); slackErr(err) != "not_in_channel" {
		t.Fatalf("post in C2: %v", err)
	}
	if _, _, err := api.PostMessageContext(ctx, "G1", slack.MsgOptionText("x", false)); slackErr(err) != "is_archived" {
		t.Fatalf("post in G1: %v", err)
	}
	ch, _, already, err := api.OpenConversationContext(ctx, &slack.OpenConversationParameters{Users: []string{"U1"}})
	if err != nil || ch.ID != dm || !already {
		t.Fatalf("DM = %+v, already %v, %v", ch, already, err)
	}
	if msgs := g.DMs("U1"); len(msgs) != 1 || msgs[0].Text != "hello" {
		t.Fatalf("DMs = %+v", msgs)
	}
	if users, err := api.GetUserGroupMembersContext(ctx, "S1"); err != nil || len(users) != 2 {
		t.Fatalf("group = %v, %v", users, err)
	}
	if u, err := api.GetUserInfoContext(ctx, "U2"); err != nil || u.TZ != "America/New_York" {
		t.Fatalf("user = %+v, %v", u, err)
	}

	// The Home tab keeps its id and hash, so publishing with the hash works.
	if v, ok := g.Home("U1"); !ok || v.ID != published.ID {
		t.Fatalf("home = %+v", v)
	}
	if v, err := api.PublishViewContext(ctx, slack.PublishViewContextRequest{UserID: "U1", View: home, Hash: &published.Hash}); err != nil || v.ID != published.ID {
		t.Fatalf("publish after load = %+v, %v", v, err)
	}

	// Counters go on: new timestamps and ids come after the old ones.
	_, ts2, err := api.PostMessageContext(ctx, "C1", slack.MsgOptionText("next", false))
	if err != nil {
		t.Fatal(err)
	}
	if micros(t, ts2) <= micros(t, replyTS) {
		t.Fatalf("ts %s not after %s", ts2, replyTS)
	}
	if dm2 := g.DMChannel("U2"); dm2 == dm {
		t.Fatalf("DM id %s handed out twice", dm2)
	}
}

// micros returns the microseconds of ts, failing on a bad one.
func micros(t *testing.T, ts string) int64 {
	t.Helper()
	us, ok := tsMicros(ts)
	if !ok {
		t.Fatalf("bad ts %q", ts)
	}
	return us
}

func TestSaveFileAndRefusals(t *testing.T) {
	f := startFake(t, fastOptions(t))
	if _, err := f.PostAsUser("U1", "C1", "hello", ""); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "slack.json")
	if err := f.SaveFile(path); err != nil {
		t.Fatal(err)
	}
	g := New(fastOptions(t))
	if err := g.LoadFile(path); err != nil {
		t.Fatal(err)
	}
	if msgs := g.Messages("C1"); len(msgs) != 1 || msgs[0].Text != "hello" {
		t.Fatalf("messages = %+v", msgs)
	}

	other := New(Options{AppID: "A0OTHER001"})
	if err := other.LoadFile(path); err == nil || !strings.Contains(err.Error(), "does not fit") {
		t.Fatalf("loading another app's state: %v", err)
	}
	for _, bad := range []string{`{"version":2}`, `not json`, `{"version":1,"team_id":"T0FAKE0001","app_id":"A0FAKE0001","bot_user_id":"U0FAKEBOT1"}`} {
		if err := g.Load(strings.NewReader(bad)); err == nil {
			t.Errorf("loaded %s", bad)
		}
	}
	// A refused Load leaves the state alone.
	if len(g.Messages("C1")) != 1 {
		t.Fatal("a refused Load changed the state")
	}
}
