package bot

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"workbot/bot/slackfake"
	"workbot/domain"
)

// modalInitial reads the initial values of a modal's inputs, by block ID.
func modalInitial(t *testing.T, v slackfake.View) map[string]string {
	t.Helper()
	var blocks []struct {
		BlockID string `json:"block_id"`
		Element struct {
			InitialValue string `json:"initial_value"`
		} `json:"element"`
	}
	if err := json.Unmarshal(v.Blocks, &blocks); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, b := range blocks {
		out[b.BlockID] = b.Element.InitialValue
	}
	return out
}

// itemFrom finds the item filed from a message.
func (h *harness) itemFrom(channel, ts string) (domain.Item, bool) {
	var it domain.Item
	found := false
	_ = h.db.View(context.Background(), func(tx domain.ReadTx) error {
		id, ok, err := tx.ItemBySource(domain.Source{Conversation: channel, Message: ts}.Key())
		if err != nil || !ok {
			return err
		}
		it, err = tx.Item(id)
		found = err == nil
		return err
	})
	return it, found
}

func (h *harness) shortcut(user, channel, ts string) {
	h.t.Helper()
	d, err := h.fake.MessageShortcut(user, channel, ts, ShortcutFileMessage)
	if err != nil {
		h.t.Fatal(err)
	}
	if _, err := d.WaitTimeout(wait); err != nil {
		h.t.Fatal(err)
	}
}

// A hostile message becomes a request through the message shortcut: its first line, readable and cut
// on a word, is the title; the whole text and a link to it are the details; its author is the
// requester, the person who ran the shortcut is in the audit event, and the message's thread hears the
// key and later changes.
func TestMessageShortcutFilesAHostileMessage(t *testing.T) {
	h := newHarness(t)
	long := strings.Repeat("the build is red again ", 220) // about 5,000 characters
	text := "<!channel> deploys fail on <http://ci.example.com/42|pipeline 42> since <@" + uDev + "> merged &amp; left " + long
	msg, err := h.fake.PostAsUser(uReq, cGeneral, text, "")
	if err != nil {
		t.Fatal(err)
	}
	h.shortcut(uQA, cGeneral, msg.TS)
	v := h.modal(uQA, ViewIntake)
	initial := modalInitial(t, v)
	title := initial[BlockTitle]
	if !strings.HasPrefix(title, "@channel deploys fail on pipeline 42 since @dev merged & left the build") || len([]rune(title)) > domain.MaxTitleLen {
		t.Errorf("title %q: want the readable first line, cut to %d", title, domain.MaxTitleLen)
	}
	if d := initial[BlockDetails]; !strings.Contains(d, "the build is red again") || !strings.Contains(d, "From: http") {
		t.Errorf("details lack the text or the link: %.200q", d)
	}
	contains(t, "modal", v.AllText(), "Filed for <@"+uReq+">")
	h.submit(uQA, v, map[string]slackfake.Value{BlockSize: slackfake.OptionValue("2")})
	var it domain.Item
	h.waitFor("the item filed from the message", func() bool { var ok bool; it, ok = h.itemFrom(cGeneral, msg.TS); return ok })
	if it.Requester != uReq {
		t.Errorf("requester %q, want the message's author", it.Requester)
	}
	var created domain.Event
	_ = h.db.View(context.Background(), func(tx domain.ReadTx) error {
		return tx.ItemEvents(it.ID, func(e domain.Event) bool { created = e; return false })
	})
	if created.Actor != uQA || created.Subject != uReq {
		t.Errorf("created event actor %q subject %q: want who filed it and for whom", created.Actor, created.Subject)
	}
	itemMsg := h.itemMessage(it.Key)
	if strings.Contains(itemMsg.AllText(), "<!channel>") {
		t.Error("the item message pings the channel")
	}
	h.waitThread(msg, "Filed as *"+it.Key+"*")
	h.waitDM(uReq, "is in the intake queue")
	h.command(uLead, cGeneral, "prioritise "+it.Key) // opens a form; the source thread hears of the triage below
	h.submit(uLead, h.modal(uLead, ViewPrioritise), map[string]slackfake.Value{BlockValue: slackfake.OptionValue("4")})
	h.waitThread(msg, it.Key+"* prioritised by")
	h.reply(uLead, cGeneral, "assign "+it.Key+" <@"+uDev+"|dev>")
	h.waitThread(msg, "now with <@"+uDev+">")

	// The same message again: no second item.
	h.shortcut(uLead, cGeneral, msg.TS)
	h.waitFor("the answer that it is filed", func() bool {
		es := h.fake.Ephemerals(uLead)
		return len(es) > 0 && strings.Contains(es[len(es)-1].AllText(), "already *"+it.Key)
	})
	noDuplicates(t, h)
}

// A reaction files its message straight into triage; a second reaction by someone else, and the same
// event redelivered after a restart, find the item instead of making another.
func TestReactionFilesOnce(t *testing.T) {
	h := newHarness(t, withConfig(func(c *Config) { c.IntakeReaction = "ticket" }))
	msg, err := h.fake.PostAsUser(uReq, cGeneral, "The wiki search returns nothing", "")
	if err != nil {
		t.Fatal(err)
	}
	d, err := h.fake.AddReaction(uQA, cGeneral, msg.TS, "ticket")
	if err != nil || d == nil {
		t.Fatalf("reaction: %v %v", d, err)
	}
	var it domain.Item
	h.waitFor("the item", func() bool { var ok bool; it, ok = h.itemFrom(cGeneral, msg.TS); return ok })
	if it.Stage != domain.StageIntake || it.Requester != uReq || it.Title != "The wiki search returns nothing" {
		t.Errorf("filed %+v", it)
	}
	h.waitThread(msg, "Filed as *"+it.Key+"*")
	if _, err := h.fake.AddReaction(uDev, cGeneral, msg.TS, "ticket"); err != nil {
		t.Fatal(err)
	}
	h.waitFor("the second reactor to hear the key", func() bool {
		es := h.fake.Ephemerals(uDev)
		return len(es) > 0 && strings.Contains(es[len(es)-1].AllText(), it.Key)
	})
	// Another emoji does nothing.
	if _, err := h.fake.AddReaction(uDev, cGeneral, msg.TS, "eyes"); err != nil {
		t.Fatal(err)
	}
	h.restart()
	// The same event again after a restart, as Slack redelivers: the dedupe window is gone with the
	// process, the source index is not.
	if _, err := h.fake.SendEvent(map[string]any{"type": "reaction_added", "user": uLead, "reaction": "ticket", "item_user": uReq,
		"item": map[string]any{"type": "message", "channel": cGeneral, "ts": msg.TS}, "event_ts": "1.0"}); err != nil {
		t.Fatal(err)
	}
	h.waitFor("the redelivered reaction to be answered", func() bool { return len(h.fake.Ephemerals(uLead)) > 0 })
	n := 0
	_ = h.db.View(context.Background(), func(tx domain.ReadTx) error {
		return tx.OpenItems(func(domain.Item) bool { n++; return true })
	})
	if n != 1 {
		t.Errorf("%d items for one message", n)
	}
	h.drained()
	noDuplicates(t, h)
}

// A DM to workbot gets an offer to file it; the button opens the form prefilled from the DM.
func TestDMBecomesARequest(t *testing.T) {
	h := newHarness(t)
	dm, d, err := h.fake.SendDM(uReq, "Please give me access to the billing dashboard")
	if err != nil || d == nil {
		t.Fatalf("DM: %v %v", d, err)
	}
	var offer slackfake.Message
	h.waitFor("the offer to file it", func() bool {
		for _, m := range h.fake.DMs(uReq) {
			if strings.Contains(m.AllText(), "File this as a request") {
				offer = m
				return true
			}
		}
		return false
	})
	h.click(uReq, offer.Ref(), ActionFileDM)
	v := h.modal(uReq, ViewIntake)
	if got := modalInitial(t, v)[BlockTitle]; got != "Please give me access to the billing dashboard" {
		t.Errorf("title %q", got)
	}
	h.submit(uReq, v, nil)
	h.waitFor("the item", func() bool { _, ok := h.itemFrom(dm.Channel, dm.TS); return ok })
	// The same DM redelivered is not offered twice.
	if _, err := h.fake.SendEvent(map[string]any{"type": "message", "channel_type": "im", "channel": dm.Channel, "user": uReq, "text": dm.Text, "ts": dm.TS}); err != nil {
		t.Fatal(err)
	}
	h.drained()
	offers := 0
	for _, m := range h.fake.DMs(uReq) {
		if strings.Contains(m.AllText(), "File this as a request") {
			offers++
		}
	}
	if offers != 1 {
		t.Errorf("%d offers for one DM", offers)
	}
}

// A message in a channel workbot is not in can be filed (the shortcut carries the message), but
// workbot cannot reply in its thread: the person who filed it is told privately, once.
func TestSourceThreadNotInChannel(t *testing.T) {
	h := newHarness(t)
	h.fake.AddChannelWithoutBot("C0SECRET", "secret")
	msg, err := h.fake.PostAsUser(uReq, "C0SECRET", "Rotate the staging database password", "")
	if err != nil {
		t.Fatal(err)
	}
	h.shortcut(uQA, "C0SECRET", msg.TS)
	h.submit(uQA, h.modal(uQA, ViewIntake), nil)
	var it domain.Item
	h.waitFor("the item", func() bool { var ok bool; it, ok = h.itemFrom("C0SECRET", msg.TS); return ok })
	h.waitDM(uQA, "could not reply in the thread")
	h.reply(uLead, cGeneral, "reject "+it.Key+" not ours")
	h.drained()
	n := 0
	for _, m := range h.fake.DMs(uQA) {
		if strings.Contains(m.Text, "could not reply in the thread") {
			n++
		}
	}
	if n != 1 {
		t.Errorf("the filer was told %d times", n)
	}
	if got := len(h.fake.Messages("C0SECRET")); got != 1 {
		t.Errorf("%d messages in the channel workbot is not in", got)
	}
}

// notify_source_thread: false keeps later changes out of the source thread; the key is still posted.
func TestSourceThreadUpdatesCanBeOff(t *testing.T) {
	h := newHarness(t, withConfig(func(c *Config) { c.NotifySourceThread = false }))
	msg, _ := h.fake.PostAsUser(uReq, cGeneral, "Order a new monitor", "")
	h.shortcut(uReq, cGeneral, msg.TS)
	h.submit(uReq, h.modal(uReq, ViewIntake), nil)
	var it domain.Item
	h.waitFor("the item", func() bool { var ok bool; it, ok = h.itemFrom(cGeneral, msg.TS); return ok })
	h.waitThread(msg, "Filed as")
	h.reply(uLead, cGeneral, "assign "+it.Key+" <@"+uDev+"|dev>")
	h.drained()
	if lines := h.thread(msg); len(lines) != 1 {
		t.Errorf("thread %q, want only the key", lines)
	}
}

// A follower hears what the requester hears.
func TestFollowersHearWhatTheRequesterHears(t *testing.T) {
	h := newHarness(t)
	id := h.request(uReq, "Fix the coffee machine API", "1")
	key := domain.FormatKey("W", id)
	contains(t, "follow", h.reply(uOutsider, cGeneral, "follow "+key), "You now hear")
	h.reply(uLead, cGeneral, "assign "+key+" <@"+uDev+"|dev>")
	h.waitDM(uOutsider, "(you follow it): now with <@"+uDev+">")
	contains(t, "follow twice", h.reply(uOutsider, cGeneral, "follow "+key), "already hear")
	contains(t, "unfollow", h.reply(uOutsider, cGeneral, "unfollow "+key), "no longer follow")
	h.reply(uDev, cGeneral, "done "+key)
	h.waitDM(uReq, "is done")
	h.drained()
	for _, m := range h.fake.DMs(uOutsider) {
		if strings.Contains(m.Text, "done") {
			t.Errorf("an unfollower still hears: %q", m.Text)
		}
	}
}

// While a request is written, the form offers likely duplicates; following one instead files nothing,
// and its writer hears what its requester hears. A lead sees the same suggestion on a new item's
// message and closes it as a duplicate in one click.
func TestDuplicateSuggestionFollowed(t *testing.T) {
	h := newHarness(t)
	first := h.request(uReq, "VPN disconnects every hour when working from home", "2")
	firstKey := domain.FormatKey("W", first)
	h.command(uOutsider, cGeneral, "request")
	v := h.modal(uOutsider, ViewIntake)
	if strings.Contains(v.AllText(), "Possibly requested already") {
		t.Fatal("an empty form offered duplicates")
	}
	d, err := h.fake.Choose(uOutsider, v.Ref(), inputAction, slackfake.TextValue("VPN keeps disconnecting from home"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.WaitTimeout(wait); err != nil {
		t.Fatal(err)
	}
	h.waitFor("the likely duplicate in the form", func() bool {
		m, ok := h.fake.TopModal(uOutsider)
		return ok && strings.Contains(m.AllText(), "Follow "+firstKey+" instead")
	})
	m, _ := h.fake.TopModal(uOutsider)
	if got := modalInitial(t, m)[BlockTitle]; got != "VPN keeps disconnecting from home" {
		t.Errorf("the typed title was lost: %q", got)
	}
	h.click(uOutsider, m.Ref(), ActionFollowInstead)
	h.waitFor("the form to confirm the follow", func() bool {
		m, ok := h.fake.TopModal(uOutsider)
		return ok && strings.Contains(m.AllText(), "You now follow")
	})
	if it := h.item(first); len(it.Followers) != 1 || it.Followers[0] != uOutsider {
		t.Fatalf("followers %v", it.Followers)
	}
	h.reply(uLead, cGeneral, "assign "+firstKey+" <@"+uDev+"|dev>")
	h.waitDM(uOutsider, "(you follow it): now with")

	// The lead's view of a new, similar item.
	second := h.request(uQA, "VPN drops the connection at home every hour", "1")
	msg := h.itemMessage(domain.FormatKey("W", second))
	h.waitFor("the suggestion on the item message", func() bool {
		m, _ := h.fake.Message(msg.Channel, msg.TS)
		return strings.Contains(m.AllText(), "Duplicate of "+firstKey)
	})
	contains(t, "not a lead", h.clickExpectingReply(uDev, msg.Ref(), "Duplicate of "+firstKey), "Only")
	contains(t, "duplicate", h.clickExpectingReply(uLead, msg.Ref(), "Duplicate of "+firstKey), "Closed as a duplicate")
	if it := h.item(second); it.Resolution != domain.ResolutionDuplicate || it.DuplicateOf != first {
		t.Errorf("after the click: %+v", it)
	}
}
