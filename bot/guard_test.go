package bot

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"workbot/bot/slackfake"
	"workbot/domain"
)

// stateOf captures everything a refused action must leave unchanged.
func (h *harness) stateOf(id domain.ItemID) string {
	h.t.Helper()
	var b strings.Builder
	it := h.item(id)
	fmt.Fprintf(&b, "%+v|events=%d", it, h.eventCount(id))
	_ = h.db.View(context.Background(), func(tx domain.ReadTx) error {
		_ = tx.PendingHandoffs(func(hd domain.Handoff) bool { fmt.Fprintf(&b, "|%+v", hd); return true })
		return tx.People(func(p domain.Person) bool { fmt.Fprintf(&b, "|%+v", p); return true })
	})
	return b.String()
}

// TestPermissionsRefuseAndChangeNothing tries every command and every button as someone who may not
// use it, and checks the refusal and that nothing changed.
func TestPermissionsRefuseAndChangeNothing(t *testing.T) {
	h := newHarness(t)
	id := h.request(uReq, "Permission target", "3")
	other := h.request(uReq, "Other item", "2")
	key, otherKey := domain.FormatKey("W", id), domain.FormatKey("W", other)
	msg := h.itemMessage(key)

	commands := []string{
		"prioritise " + key,
		"assign " + key + " <@" + uDev + ">",
		"start " + key,
		"move " + key + " todo",
		"done " + key,
		"block " + key + " vendor",
		"unblock " + key,
		"depends " + key + " on " + otherKey,
		"handoff " + key + " <@" + uQA + "> take it",
		"reject " + key + " nope",
		"duplicate " + key + " of " + otherKey,
		"capacity <@" + uDev + "> 3",
		"away <@" + uDev + "> until 2030-01-01",
		"digest post",
	}
	for _, c := range commands {
		t.Run("command/"+strings.Fields(c)[0], func(t *testing.T) {
			before := h.stateOf(id)
			got := h.reply(uOutsider, cGeneral, c)
			if !strings.Contains(got, "Only") && !strings.Contains(got, "only") && !strings.Contains(got, "not allowed") {
				t.Errorf("/work %s by an outsider: %q, want a refusal", c, got)
			}
			if after := h.stateOf(id); after != before {
				t.Errorf("/work %s changed state:\nbefore %s\nafter  %s", c, before, after)
			}
		})
	}

	buttons := []string{ActionPrioritise, ActionAssign, ActionHandoff, ActionBlock, ActionDuplicate, ActionReject}
	for _, b := range buttons {
		t.Run("button/"+b, func(t *testing.T) {
			before := h.stateOf(id)
			got := h.clickExpectingReply(uOutsider, msg.Ref(), b)
			if !strings.Contains(got, "Only") && !strings.Contains(got, "only") {
				t.Errorf("button %s by an outsider: %q, want a refusal", b, got)
			}
			if _, open := h.fake.TopModal(uOutsider); open {
				t.Errorf("button %s opened a form for an outsider", b)
			}
			if after := h.stateOf(id); after != before {
				t.Errorf("button %s changed state", b)
			}
		})
	}

	// Buttons that act at once: make the item startable first, as a lead.
	contains(t, "setup", h.reply(uLead, cGeneral, "move "+key+" todo"), "Moved")
	contains(t, "setup", h.reply(uLead, cGeneral, "assign "+key+" <@"+uDev+">"), "Assigned")
	h.waitFor("the item message to offer Start", func() bool {
		m, _ := h.fake.Message(msg.Channel, msg.TS)
		return strings.Contains(m.AllText(), "Start") && strings.Contains(m.AllText(), "<@"+uDev+">")
	})
	msg, _ = h.fake.Message(msg.Channel, msg.TS)
	for _, b := range []string{ActionStart} {
		t.Run("button/"+b, func(t *testing.T) {
			before := h.stateOf(id)
			got := h.clickExpectingReply(uOutsider, msg.Ref(), b)
			if !strings.Contains(got, "Only") {
				t.Errorf("button %s by an outsider: %q", b, got)
			}
			if after := h.stateOf(id); after != before {
				t.Errorf("button %s changed state", b)
			}
		})
	}
	t.Run("select/move", func(t *testing.T) {
		before := h.stateOf(id)
		got := h.forgeClick(uOutsider, msg, ActionMove, fmt.Sprintf("%d|in_progress", id))
		if !strings.Contains(got, "Only") {
			t.Errorf("move by an outsider: %q", got)
		}
		if after := h.stateOf(id); after != before {
			t.Errorf("move by an outsider changed state")
		}
	})
	t.Run("forged/done", func(t *testing.T) {
		before := h.stateOf(id)
		if got := h.forgeClick(uOutsider, msg, ActionDone, fmt.Sprint(id)); !strings.Contains(got, "Only") {
			t.Errorf("done by an outsider: %q", got)
		}
		if after := h.stateOf(id); after != before {
			t.Errorf("done by an outsider changed state")
		}
	})

	// Handoff buttons in the target's DM, pressed by someone else: the outsider cannot see the DM, but
	// a forged interaction can carry the same action and value.
	contains(t, "setup handoff", h.reply(uDev, cGeneral, "handoff "+key+" <@"+uQA+"> over to you"), "Handoff requested")
	dm := h.waitDM(uQA, "wants to hand you")
	hid := h.item(id).PendingHandoff
	for _, action := range []string{ActionHandoffAccept, ActionHandoffDecline, ActionHandoffApprove, ActionHandoffRefuse, ActionHandoffCancel} {
		t.Run("forged/"+action, func(t *testing.T) {
			before := h.stateOf(id)
			got := h.forgeClick(uOutsider, dm, action, fmt.Sprint(hid))
			if !strings.Contains(got, "Only") && !strings.Contains(got, "only") && !strings.Contains(got, "waiting") && !strings.Contains(got, "not") {
				t.Errorf("forged %s: %q", action, got)
			}
			if after := h.stateOf(id); after != before {
				t.Errorf("forged %s changed state", action)
			}
		})
	}
}

// forgeClick sends a block_actions envelope that Slack would never produce: a button with any action
// and value, on a message the user cannot see. It returns the bot's answer to the user.
func (h *harness) forgeClick(user string, on slackfake.Message, actionID, value string) string {
	h.t.Helper()
	before := len(h.fake.Ephemerals(user)) + len(h.fake.DMs(user))
	payload := map[string]any{
		"type": "block_actions", "user": map[string]any{"id": user, "username": "x", "team_id": "T0FAKE0001"},
		"team": map[string]any{"id": "T0FAKE0001"}, "trigger_id": "1.2.forged", "api_app_id": "A0FAKE0001",
		"container": map[string]any{"type": "message", "message_ts": on.TS, "channel_id": on.Channel},
		"channel":   map[string]any{"id": on.Channel},
		"actions": []map[string]any{{"action_id": actionID, "block_id": "forged", "value": value, "type": "button",
			"text": map[string]any{"type": "plain_text", "text": "x"}, "action_ts": "1.2",
			"selected_option": map[string]any{"value": value, "text": map[string]any{"type": "plain_text", "text": "x"}}}},
	}
	raw, _ := json.Marshal(payload)
	env := fmt.Sprintf(`{"envelope_id":"forged-%d","type":"interactive","accepts_response_payload":false,"payload":%s}`, time.Now().UnixNano(), raw)
	if err := h.fake.SendRaw([]byte(env)); err != nil {
		h.t.Fatal(err)
	}
	h.waitFor("an answer to a forged click", func() bool { return len(h.fake.Ephemerals(user))+len(h.fake.DMs(user)) > before })
	if dms := h.fake.DMs(user); len(dms) > 0 {
		return dms[len(dms)-1].AllText()
	}
	return h.lastEphemeral(user).AllText()
}

// TestForgedAndStaleButtonValues: garbage values get a refusal and change nothing.
func TestForgedAndStaleButtonValues(t *testing.T) {
	h := newHarness(t)
	id := h.request(uReq, "Forgery target", "3")
	msg := h.itemMessage(domain.FormatKey("W", id))
	before := h.stateOf(id)
	for _, tc := range []struct{ action, value string }{
		{ActionStart, "not-a-number"},
		{ActionStart, "999999"},
		{ActionDone, "-1"},
		{ActionMove, "1|no_such_stage"},
		{ActionHandoffAccept, "424242"},
		{"made_up_action", "1"},
		{ActionAssignConfirm, fmt.Sprintf("%d|not-a-user", id)},
	} {
		got := h.forgeClick(uLead, msg, tc.action, tc.value)
		if got == "" {
			t.Errorf("%s=%q: no answer", tc.action, tc.value)
		}
	}
	if after := h.stateOf(id); after != before {
		t.Errorf("forged values changed state:\n%s\n%s", before, after)
	}
}

// TestInjectionIsEscaped files a request whose title tries to ping everyone.
func TestInjectionIsEscaped(t *testing.T) {
	h := newHarness(t)
	title := "Ping <!channel> <!here> <@" + uLead + "> & friends"
	// Typed into the form's title field, text reaches workbot as typed: the way to inject.
	h.command(uReq, cGeneral, "request")
	h.submit(uReq, h.modal(uReq, ViewIntake), map[string]slackfake.Value{BlockTitle: slackfake.TextValue(title)})
	var id domain.ItemID
	h.waitFor("the new item", func() bool {
		_ = h.db.View(context.Background(), func(tx domain.ReadTx) error {
			return tx.ItemsByRequester(uReq, func(it domain.Item) bool { id = it.ID; return it.Title != title })
		})
		return id != 0 && h.item(id).Title == title
	})
	key := domain.FormatKey("W", id)
	msg := h.itemMessage(key)
	h.reply(uLead, cGeneral, "assign "+key+" <@"+uDev+">")
	h.waitDM(uDev, "assigned you")
	h.openHome(uDev)
	h.waitHome(uDev, key)
	var texts []string
	for _, ch := range []string{cIntake} {
		for _, m := range h.fake.Messages(ch) {
			texts = append(texts, m.AllText())
		}
	}
	for _, u := range []string{uReq, uDev} {
		for _, m := range h.fake.DMs(u) {
			texts = append(texts, m.AllText())
		}
		for _, e := range h.fake.Ephemerals(u) {
			texts = append(texts, e.AllText())
		}
	}
	texts = append(texts, h.home(uDev))
	found := false
	for _, s := range texts {
		for _, bad := range []string{"<!channel>", "<!here>", "<@" + uLead + "> &"} {
			if strings.Contains(s, bad) {
				t.Errorf("posted unescaped %q in: %s", bad, s)
			}
		}
		if strings.Contains(s, "&lt;!channel&gt; &lt;!here&gt; &lt;@"+uLead+"&gt; &amp; friends") {
			found = true
		}
	}
	if !found {
		t.Errorf("the escaped title never appeared; item message: %s", msg.AllText())
	}
}

// TestRestartMidStory stops the bot between a handoff request and its acceptance; the DM button still
// works on the restarted bot with the same DB.
func TestRestartMidStory(t *testing.T) {
	h := newHarness(t)
	id := h.request(uReq, "Survive a restart", "3")
	key := domain.FormatKey("W", id)
	contains(t, "triage", h.reply(uLead, cGeneral, "move "+key+" todo"), "Moved")
	contains(t, "assign", h.reply(uLead, cGeneral, "assign "+key+" <@"+uDev+">"), "Assigned")
	contains(t, "start", h.reply(uDev, cGeneral, "start "+key), "Started")
	contains(t, "handoff", h.reply(uDev, cGeneral, "handoff "+key+" <@"+uQA+"> finish it"), "Handoff requested")
	dm := h.waitDM(uQA, "wants to hand you")

	h.restart()

	contains(t, "accept after restart", h.clickExpectingReply(uQA, dm.Ref(), "Accept"), "Accepted")
	if it := h.item(id); it.Assignee != uQA || it.PendingHandoff != 0 {
		t.Fatalf("after accept: %+v", it)
	}
	h.waitDM(uDev, "Accepted by")
	msg := h.itemMessage(key)
	h.waitThread(msg, "accepted the handoff")
	// The story goes on: done, and the item message is the same one, edited in place.
	h.reply(uQA, cGeneral, "done "+key)
	h.waitDM(uReq, "is done")
	n := 0
	for _, m := range h.fake.Messages(cIntake) {
		if m.ThreadTS == "" && strings.HasPrefix(m.Text, key+":") {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d item messages for %s, want 1", n, key)
	}
}

// TestReconnectsAfterDisconnectAndDrop: Slack's disconnect message and a dropped socket both lead to a
// new connection that serves commands.
func TestReconnectsAfterDisconnectAndDrop(t *testing.T) {
	h := newHarness(t)
	for _, how := range []string{"refresh_requested", "drop"} {
		opened := h.fake.ConnectionsOpened()
		if how == "drop" {
			h.fake.DropSockets()
		} else {
			h.fake.Disconnect(how)
		}
		h.waitFor("a new connection after "+how, func() bool {
			return h.fake.ConnectionsOpened() > opened && h.fake.Connections() > 0
		})
		contains(t, "help after "+how, h.reply(uReq, cGeneral, "help"), "/work request")
	}
}

// TestRateLimitedPostIsRetriedOnceInOrder: a 429 on chat.postMessage is retried after Retry-After;
// each message arrives once, and thread lines keep their order.
func TestRateLimitedPostIsRetriedOnceInOrder(t *testing.T) {
	h := newHarness(t)
	id := h.request(uReq, "Rate limited", "3")
	key := domain.FormatKey("W", id)
	msg := h.itemMessage(key)
	contains(t, "triage", h.reply(uLead, cGeneral, "move "+key+" todo"), "Moved")
	h.waitThread(msg, "Intake → To do")
	h.fake.FailNext("chat.postMessage", 1, slackfake.Fault{Status: 429, RetryAfter: time.Second})
	contains(t, "assign", h.reply(uLead, cGeneral, "assign "+key+" <@"+uDev+">"), "Assigned")
	contains(t, "start", h.reply(uDev, cGeneral, "start "+key), "Started")
	contains(t, "review", h.reply(uDev, cGeneral, "move "+key+" review"), "Moved")
	h.waitThread(msg, "In progress → Review")
	lines := h.thread(msg)
	want := []string{"Intake → To do", "assigned it to", "To do → In progress", "In progress → Review"}
	if len(lines) < 3 {
		t.Fatalf("thread: %q", lines)
	}
	pos := 0
	for _, l := range lines {
		if pos < len(want) && strings.Contains(l, want[pos]) {
			pos++
		}
	}
	if pos != len(want) {
		t.Errorf("thread out of order or incomplete: %q", lines)
	}
	seen := map[string]bool{}
	for _, l := range lines {
		if seen[l] {
			t.Errorf("posted twice: %q", l)
		}
		seen[l] = true
	}
	faults := 0
	for _, c := range h.fake.Calls("chat.postMessage") {
		if c.Fault {
			faults++
		}
	}
	if faults != 1 {
		t.Errorf("%d injected faults answered, want 1", faults)
	}
}

// TestBadInput: an over-long command, unknown forms and garbage envelopes get clear answers or are
// acked, and the bot keeps working.
func TestBadInput(t *testing.T) {
	h := newHarness(t)
	long := strings.Repeat("x", 20000)
	contains(t, "long command", h.reply(uReq, cGeneral, "request "+long), "too long")
	contains(t, "unknown subcommand", h.reply(uReq, cGeneral, "frobnicate W-1"), "don't know", "/work request")
	contains(t, "bad key", h.reply(uLead, cGeneral, "assign banana <@"+uDev+">"), "not an item key")
	contains(t, "bad mention", h.reply(uLead, cGeneral, "assign W-1 bob"), "not a person")
	contains(t, "missing item", h.reply(uLead, cGeneral, "show W-4242"), "no item")
	contains(t, "bad stage", h.reply(uLead, cGeneral, "list nowhere"), "not a stage")
	contains(t, "bad date", h.reply(uLead, cGeneral, "away <@"+uDev+"> until someday"), "not a date")

	// Garbage envelopes: not JSON, an unknown type, a payload of the wrong shape.
	for _, raw := range []string{
		`{"garbage":`,
		`{"envelope_id":"e-unknown","type":"no_such_type","payload":{}}`,
		`{"envelope_id":"e-shape","type":"slash_commands","payload":"a string"}`,
		`{"envelope_id":"e-inter","type":"interactive","payload":{"type":"block_actions","actions":"nope"}}`,
	} {
		if err := h.fake.SendRaw([]byte(raw)); err != nil {
			t.Fatal(err)
		}
	}
	h.waitFor("the garbage envelopes to be acked", func() bool {
		acked := map[string]bool{}
		for _, a := range h.fake.StrayAcks() {
			var env struct {
				EnvelopeID string `json:"envelope_id"`
			}
			_ = json.Unmarshal(a, &env)
			acked[env.EnvelopeID] = true
		}
		return acked["e-unknown"] && acked["e-shape"] && acked["e-inter"]
	})

	// A submission of a form the bot does not know (unknown callback_id) is answered, not crashed on.
	d, err := h.fake.SendEvent(map[string]any{"type": "app_home_opened", "user": uReq, "tab": "home"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.WaitTimeout(wait); err != nil {
		t.Fatal(err)
	}
	payload := `{"type":"view_submission","user":{"id":"` + uReq + `"},"view":{"id":"V123","callback_id":"from_an_old_version","private_metadata":"item=abc","state":{"values":{}}}}`
	if err := h.fake.SendRaw([]byte(`{"envelope_id":"e-view","type":"interactive","payload":` + payload + `}`)); err != nil {
		t.Fatal(err)
	}
	h.waitDM(uReq, "no longer valid")
	// Still alive.
	contains(t, "help afterwards", h.reply(uReq, cGeneral, "help"), "/work request")
}

// TestDuplicateEventsAreIgnored: a redelivered events_api envelope (retry_attempt > 0) is processed once.
func TestDuplicateEventsAreIgnored(t *testing.T) {
	h := newHarness(t)
	before := len(h.fake.Calls("views.publish"))
	event := `{"type":"app_home_opened","user":"` + uDev + `","tab":"home","channel":"D1","event_ts":"1.1"}`
	for attempt := range 3 {
		env := fmt.Sprintf(`{"envelope_id":"dup-%d","type":"events_api","retry_attempt":%d,"retry_reason":"timeout","accepts_response_payload":false,"payload":{"type":"event_callback","team_id":"T0FAKE0001","api_app_id":"A0FAKE0001","event_id":"Ev0DUPLICATE","event_time":1,"event":%s}}`, attempt, attempt, event)
		if err := h.fake.SendRaw([]byte(env)); err != nil {
			t.Fatal(err)
		}
	}
	h.waitFor("the first delivery to publish a home", func() bool { return len(h.fake.Calls("views.publish")) > before })
	// A later, different event proves the duplicates had their chance to be handled.
	h.openHome(uQA)
	h.waitFor("the second home", func() bool { _, ok := h.fake.Home(uQA); return ok })
	devPublishes := 0
	for _, c := range h.fake.Calls("views.publish")[before:] {
		if c.Params["user_id"] == uDev {
			devPublishes++
		}
	}
	if devPublishes != 1 {
		t.Errorf("the duplicated event published %d homes, want 1", devPublishes)
	}
}
