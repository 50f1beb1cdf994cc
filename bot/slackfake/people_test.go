package slackfake

import (
	"strings"
	"testing"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"
	"github.com/slack-go/slack/socketmode"
)

func TestShortcutsThroughSocketMode(t *testing.T) {
	f := startFake(t, fastOptions(t))
	a := startApp(t, f)
	a.next(t, socketmode.EventTypeHello)
	ctx := ctxT(t)

	_, botTS, err := a.api.PostMessageContext(ctx, "C1", slack.MsgOptionText("T-1 printer", false),
		slack.MsgOptionBlocks(slack.NewSectionBlock(plain("T-1 printer"), nil, nil)))
	if err != nil {
		t.Fatal(err)
	}
	reply, err := f.PostAsUser("U2", "C1", "still broken", botTS)
	if err != nil {
		t.Fatal(err)
	}

	// A message shortcut on the app's own message: message.user is absent.
	d, err := f.MessageShortcut("U1", "C1", botTS, "make_ticket")
	if err != nil {
		t.Fatal(err)
	}
	evt := a.next(t, socketmode.EventTypeInteractive)
	cb, ok := evt.Data.(slack.InteractionCallback)
	if !ok || cb.Type != slack.InteractionTypeMessageAction {
		t.Fatalf("data = %#v", evt.Data)
	}
	if cb.CallbackID != "make_ticket" || cb.TriggerID != d.TriggerID || cb.TriggerID == "" || cb.MessageTs != botTS ||
		cb.ResponseURL != d.ResponseURL || cb.ResponseURL == "" || cb.User.ID != "U1" || cb.User.Name != "alice" ||
		cb.Channel.ID != "C1" || cb.Channel.Name != "general" || cb.Team.ID != f.TeamID() || cb.ActionTs == "" {
		t.Fatalf("message_action = %+v", cb)
	}
	if cb.Message.Timestamp != botTS || cb.Message.User != "" || cb.Message.BotID == "" || cb.Message.Text != "T-1 printer" ||
		len(cb.Message.Blocks.BlockSet) != 1 || cb.Message.Type != "message" {
		t.Fatalf("message = %+v", cb.Message.Msg)
	}
	a.ack(t, evt.Request, nil)
	await(t, d)
	// The trigger opens a modal; the response_url answers in the channel.
	if _, err := a.api.OpenViewContext(ctx, cb.TriggerID, titleModal("New ticket")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := a.api.PostMessageContext(ctx, "", slack.MsgOptionText("Ticket made", false), slack.MsgOptionResponseURL(cb.ResponseURL, slack.ResponseTypeEphemeral)); err != nil {
		t.Fatal(err)
	}
	if eph := f.Ephemerals("U1"); len(eph) != 1 || eph[0].Text != "Ticket made" || eph[0].Channel != "C1" {
		t.Fatalf("ephemerals = %+v", eph)
	}

	// On a person's reply, message.user and thread_ts are there.
	d, err = f.MessageShortcut("U1", "C1", reply.TS, "make_ticket")
	if err != nil {
		t.Fatal(err)
	}
	evt = a.next(t, socketmode.EventTypeInteractive)
	cb = evt.Data.(slack.InteractionCallback)
	if cb.Message.User != "U2" || cb.Message.ThreadTimestamp != botTS || cb.Message.BotID != "" {
		t.Fatalf("message = %+v", cb.Message.Msg)
	}
	a.ack(t, evt.Request, nil)
	await(t, d)

	// A global shortcut has no channel, message or response_url.
	d, err = f.GlobalShortcut("U2", "new_ticket")
	if err != nil {
		t.Fatal(err)
	}
	evt = a.next(t, socketmode.EventTypeInteractive)
	cb = evt.Data.(slack.InteractionCallback)
	if cb.Type != slack.InteractionTypeShortcut || cb.CallbackID != "new_ticket" || cb.TriggerID != d.TriggerID ||
		cb.User.ID != "U2" || cb.Channel.ID != "" || cb.ResponseURL != "" || cb.Message.Timestamp != "" || d.ResponseURL != "" {
		t.Fatalf("shortcut = %+v", cb)
	}
	a.ack(t, evt.Request, nil)
	await(t, d)
	if _, err := a.api.OpenViewContext(ctx, cb.TriggerID, titleModal("New ticket")); err != nil {
		t.Fatal(err)
	}

	if _, err := f.MessageShortcut("U1", "C1", "1.000001", "x"); err == nil {
		t.Fatal("shortcut on a missing message")
	}
	if _, err := f.GlobalShortcut("U404", "x"); err == nil {
		t.Fatal("shortcut by a missing user")
	}
}

func TestReactionsThroughSocketMode(t *testing.T) {
	f := startFake(t, fastOptions(t))
	a := startApp(t, f)
	a.next(t, socketmode.EventTypeHello)
	ctx := ctxT(t)
	_, ts, err := a.api.PostMessageContext(ctx, "C1", slack.MsgOptionText("T-1", false))
	if err != nil {
		t.Fatal(err)
	}

	d, err := f.AddReaction("U1", "C1", ts, ":ticket:")
	if err != nil || d == nil {
		t.Fatalf("AddReaction = %v, %v", d, err)
	}
	evt := a.next(t, socketmode.EventTypeEventsAPI)
	outer := evt.Data.(slackevents.EventsAPIEvent)
	added, ok := outer.InnerEvent.Data.(*slackevents.ReactionAddedEvent)
	if !ok {
		t.Fatalf("inner = %#v", outer.InnerEvent.Data)
	}
	if added.Type != "reaction_added" || added.User != "U1" || added.Reaction != "ticket" || added.ItemUser != f.BotUserID() ||
		added.Item.Type != "message" || added.Item.Channel != "C1" || added.Item.Timestamp != ts || added.EventTimestamp == "" {
		t.Fatalf("reaction_added = %+v", added)
	}
	cbe, ok := outer.Data.(*slackevents.EventsAPICallbackEvent)
	if !ok || cbe.EventID == "" || cbe.EventTime == 0 || len(cbe.Authorizations) != 1 || cbe.Authorizations[0].UserID != f.BotUserID() || outer.TeamID != f.TeamID() {
		t.Fatalf("outer = %+v", outer.Data)
	}
	a.ack(t, evt.Request, nil)
	await(t, d)

	// The event has no text: the app reads the message back.
	if _, err := f.AddReaction("U2", "C1", ts, "ticket"); err != nil {
		t.Fatal(err)
	}
	a.ack(t, a.next(t, socketmode.EventTypeEventsAPI).Request, nil)
	h, err := a.api.GetConversationHistoryContext(ctx, &slack.GetConversationHistoryParameters{ChannelID: "C1", Latest: added.Item.Timestamp, Inclusive: true, Limit: 1})
	if err != nil || len(h.Messages) != 1 || h.Messages[0].Text != "T-1" || len(h.Messages[0].Reactions) != 1 ||
		h.Messages[0].Reactions[0].Count != 2 || h.Messages[0].Reactions[0].Name != "ticket" {
		t.Fatalf("history = %+v, %v", h, err)
	}
	if _, err := f.AddReaction("U1", "C1", ts, "ticket"); err == nil {
		t.Fatal("reacted twice")
	}

	d, err = f.RemoveReaction("U1", "C1", ts, "ticket")
	if err != nil {
		t.Fatal(err)
	}
	evt = a.next(t, socketmode.EventTypeEventsAPI)
	removed, ok := evt.Data.(slackevents.EventsAPIEvent).InnerEvent.Data.(*slackevents.ReactionRemovedEvent)
	if !ok || removed.User != "U1" || removed.Reaction != "ticket" || removed.Item.Timestamp != ts {
		t.Fatalf("reaction_removed = %#v", evt.Data)
	}
	a.ack(t, evt.Request, nil)
	await(t, d)
	if m, _ := f.Message("C1", ts); len(m.Reactions) != 1 || strings.Join(m.Reactions[0].Users, ",") != "U2" {
		t.Fatalf("reactions = %+v", m.Reactions)
	}

	// Not in the channel: the reaction is recorded, the app hears nothing.
	f.AddChannelWithoutBot("C2", "random")
	m, _ := f.PostAsUser("U1", "C2", "hello", "")
	if d, err := f.AddReaction("U2", "C2", m.TS, "wave"); err != nil || d != nil {
		t.Fatalf("AddReaction outside = %v, %v", d, err)
	}
	if m, _ := f.Message("C2", m.TS); len(m.Reactions) != 1 {
		t.Fatalf("reactions = %+v", m.Reactions)
	}
}

func TestReactionsNeedScope(t *testing.T) {
	opts := fastOptions(t)
	opts.Scopes = []string{"chat:write"}
	f := startFake(t, opts)
	m, _ := f.PostAsUser("U1", "C1", "hello", "")
	if d, err := f.AddReaction("U2", "C1", m.TS, "wave"); err != nil || d != nil {
		t.Fatalf("AddReaction without reactions:read = %v, %v", d, err)
	}
	if _, d, err := f.SendDM("U1", "hi"); err != nil || d != nil {
		t.Fatalf("SendDM without im:history = %v, %v", d, err)
	}
	if len(f.Envelopes()) != 0 {
		t.Fatalf("envelopes = %+v", f.Envelopes())
	}
}

func TestDirectMessagesThroughSocketMode(t *testing.T) {
	f := startFake(t, fastOptions(t))
	a := startApp(t, f)
	a.next(t, socketmode.EventTypeHello)

	m, d, err := f.SendDM("U1", "new printer on fire")
	if err != nil || d == nil {
		t.Fatalf("SendDM = %v, %v", d, err)
	}
	evt := a.next(t, socketmode.EventTypeEventsAPI)
	ev, ok := evt.Data.(slackevents.EventsAPIEvent).InnerEvent.Data.(*slackevents.MessageEvent)
	if !ok {
		t.Fatalf("inner = %#v", evt.Data)
	}
	dm := f.DMChannel("U1")
	if !ev.IsIM() || ev.Channel != dm || ev.User != "U1" || ev.Text != "new printer on fire" || ev.TimeStamp != m.TS ||
		ev.EventTimeStamp != m.TS || ev.BotID != "" || ev.SubType != "" || ev.ClientMsgID == "" || ev.ThreadTimeStamp != "" {
		t.Fatalf("message.im = %+v", ev)
	}
	a.ack(t, evt.Request, nil)
	await(t, d)

	// The app answers in the thread; the person replies there.
	_, botTS, err := a.api.PostMessageContext(ctxT(t), dm, slack.MsgOptionText("Which floor?", false), slack.MsgOptionTS(m.TS))
	if err != nil {
		t.Fatal(err)
	}
	r, d, err := f.ReplyInDM("U1", botTS, "third")
	if err != nil || r.ThreadTS != m.TS {
		t.Fatalf("reply = %+v, %v", r, err)
	}
	evt = a.next(t, socketmode.EventTypeEventsAPI)
	ev = evt.Data.(slackevents.EventsAPIEvent).InnerEvent.Data.(*slackevents.MessageEvent)
	if ev.ThreadTimeStamp != m.TS || ev.Text != "third" || ev.Message == nil || ev.Message.ParentUserId != "U1" {
		t.Fatalf("reply event = %+v", ev)
	}
	a.ack(t, evt.Request, nil)
	await(t, d)
	if msgs := f.DMs("U1"); len(msgs) != 3 || msgs[2].User != "U1" || msgs[1].BotID == "" {
		t.Fatalf("DMs = %+v", msgs)
	}

	// The permalink of a reply names its thread.
	link, err := a.api.GetPermalinkContext(ctxT(t), &slack.PermalinkParameters{Channel: dm, Ts: r.TS})
	if err != nil || !strings.HasSuffix(link, "/archives/"+dm+"/p"+strings.ReplaceAll(r.TS, ".", "")+"?thread_ts="+m.TS+"&cid="+dm) {
		t.Fatalf("permalink %s, %v", link, err)
	}
	if _, _, err := f.ReplyInDM("U1", "1.000001", "x"); err == nil {
		t.Fatal("replied to a missing message")
	}
}
