package bot

import (
	"strings"
	"testing"

	"workbot/bot/slackfake"
	"workbot/domain"
)

func contains(t *testing.T, what, got string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(got, w) {
			t.Errorf("%s: missing %q in:\n%s", what, w, got)
		}
	}
}

// TestFullStory walks one request from intake to done through Slack, asserting every message, DM,
// update and App Home view on the way.
func TestFullStory(t *testing.T) {
	h := newHarness(t)

	// 1. A request through the modal.
	id := h.request(uReq, "Fix the login page", "5")
	key := domain.FormatKey("W", id)
	msg := h.itemMessage(key)
	contains(t, "item message", msg.AllText(), key, "Fix the login page", "Intake", "Prioritise", "Reject")
	h.waitDM(uReq, "is in the intake queue")

	// 2. Triage by the lead, through the Prioritise button and modal.
	h.click(uLead, msg.Ref(), ActionPrioritise)
	v := h.modal(uLead, ViewPrioritise)
	h.submit(uLead, v, map[string]slackfake.Value{
		BlockValue:   slackfake.OptionValue("5"),
		BlockUrgency: slackfake.OptionValue("4"),
		BlockSize:    slackfake.OptionValue("8"),
	})
	h.waitFor("triage to show on the message", func() bool {
		m, _ := h.fake.Message(msg.Channel, msg.TS)
		return strings.Contains(m.AllText(), "To do") && m.Edits > 0
	})
	h.waitThread(msg, "prioritised it")
	h.waitDM(uReq, "prioritised your request")
	if it := h.item(id); !it.Triaged || it.Value != 5 || it.Urgency != 4 || it.Size != 8 || it.Stage != domain.StageTodo {
		t.Fatalf("after triage: %+v", it)
	}

	// 3. Assignment: the dev has room for 4 points only, so 8 overloads them; the warning comes first.
	contains(t, "capacity", h.reply(uLead, cGeneral, "capacity <@"+uDev+"|dev> 4"), "4 pts a week")
	warn := h.reply(uLead, cGeneral, "assign "+key+" <@"+uDev+"|dev>")
	contains(t, "overload warning", warn, "Assign anyway", "<@"+uQA+">", "has room")
	if it := h.item(id); it.Assignee != "" {
		t.Fatalf("the warning assigned already: %+v", it)
	}
	contains(t, "assign anyway", h.clickExpectingReply(uLead, h.lastEphemeral(uLead).Ref(), "Assign anyway"), "Assigned")
	if it := h.item(id); it.Assignee != uDev {
		t.Fatalf("assignee = %q", it.Assignee)
	}
	h.waitDM(uDev, "assigned you")
	h.waitThread(msg, "assigned it to <@"+uDev+">")
	h.waitDM(uReq, "is now with <@"+uDev+">")

	// A second, small item goes through the Assign button and its modal without a warning.
	small := h.request(uReq, "Update the footer", "1")
	smallMsg := h.itemMessage(domain.FormatKey("W", small))
	h.click(uLead, smallMsg.Ref(), ActionAssign)
	av := h.modal(uLead, ViewAssign)
	contains(t, "assign modal shows load", av.AllText(), "Current load", "<@"+uDev+">", "8/4 pts")
	h.submit(uLead, av, map[string]slackfake.Value{BlockAssignee: slackfake.UserValue(uQA)})
	h.waitFor("the small item to be assigned", func() bool { return h.item(small).Assignee == uQA })

	// 4. Start, by the assignee from the item message.
	contains(t, "start", h.clickExpectingReply(uDev, msg.Ref(), ActionStart), "Started")
	if it := h.item(id); it.Stage != domain.StageInProgress {
		t.Fatalf("stage after start = %s", it.Stage)
	}
	h.waitThread(msg, "To do → In progress")

	// App Home shows the dev's work and their load.
	h.openHome(uDev)
	h.waitHome(uDev, key)
	contains(t, "dev home", h.home(uDev), "My items by priority", "Fix the login page", "8/4 pts", "overloaded")

	// 5. A handoff declined with a reason.
	contains(t, "handoff", h.reply(uDev, cGeneral, "handoff "+key+" <@"+uQA+"|qa> please test the fix"), "Handoff requested")
	dm := h.waitDM(uQA, "wants to hand you")
	contains(t, "handoff DM", dm.AllText(), "please test the fix", "Accept", "Decline")
	h.waitHome(uQA, "Incoming handoffs")
	h.click(uQA, dm.Ref(), "Decline")
	dv := h.modal(uQA, ViewDecline)
	h.submit(uQA, dv, map[string]slackfake.Value{BlockReason: slackfake.TextValue("On call this week")})
	h.waitDM(uDev, "Declined by <@"+uQA+">: On call this week")
	h.waitThread(msg, "declined the handoff")
	h.waitFor("the DM buttons to be replaced", func() bool {
		m, _ := h.fake.Message(dm.Channel, dm.TS)
		return strings.Contains(m.AllText(), "Declined") && !strings.Contains(m.AllText(), "Accept")
	})
	if it := h.item(id); it.Assignee != uDev || it.PendingHandoff != 0 {
		t.Fatalf("after decline: %+v", it)
	}

	// 6. A handoff accepted, started from the button with a note and a next stage.
	h.click(uDev, msg.Ref(), ActionHandoff)
	hv := h.modal(uDev, ViewHandoff)
	h.submit(uDev, hv, map[string]slackfake.Value{
		BlockTarget:    slackfake.UserValue(uQA),
		BlockNoteDone:  slackfake.TextValue("Fix merged"),
		BlockNoteNext:  slackfake.TextValue("Review & test <login>"),
		BlockNextStage: slackfake.OptionValue(string(domain.StageReview)),
	})
	dm2 := h.waitDM(uQA, "Review &amp; test &lt;login&gt;")
	// A double click: both clicks reach the bot before it updates the DM. One accepts; the other gets
	// a friendly note and changes nothing.
	before := len(h.fake.Ephemerals(uQA))
	eventsBefore := h.eventCount(id)
	d1, err := h.fake.ClickButton(uQA, dm2.Ref(), "Accept")
	if err != nil {
		t.Fatal(err)
	}
	d2, err := h.fake.ClickButton(uQA, dm2.Ref(), "Accept")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []*slackfake.Delivery{d1, d2} {
		if _, err := d.WaitTimeout(wait); err != nil {
			t.Fatal(err)
		}
	}
	h.waitFor("both clicks to be answered", func() bool { return len(h.fake.Ephemerals(uQA)) >= before+2 })
	answers := h.fake.Ephemerals(uQA)[before].AllText() + "\n" + h.fake.Ephemerals(uQA)[before+1].AllText()
	contains(t, "double click", answers, "Accepted", "already accepted")
	if got := h.eventCount(id) - eventsBefore; got != 2 { // handoff accepted + moved to review
		t.Errorf("the double click appended %d events, want 2", got)
	}

	// 7. Review: the accepted handoff moved the item to review.
	if it := h.item(id); it.Stage != domain.StageReview {
		t.Fatalf("stage after accepted handoff = %s", it.Stage)
	}
	h.waitDM(uDev, "Accepted by <@"+uQA+">")
	h.waitThread(msg, "accepted the handoff")
	h.waitFor("the message to show review", func() bool {
		m, _ := h.fake.Message(msg.Channel, msg.TS)
		return strings.Contains(m.AllText(), "Review") && strings.Contains(m.AllText(), "<@"+uQA+">")
	})

	// 8. Done.
	contains(t, "done", h.reply(uQA, cGeneral, "done "+key), "Done")
	h.waitDM(uReq, "is done")
	h.waitFor("the message to show done", func() bool {
		m, _ := h.fake.Message(msg.Channel, msg.TS)
		return strings.Contains(m.AllText(), "Done") && !strings.Contains(m.AllText(), "Hand off")
	})
	it := h.item(id)
	if it.Resolution != domain.ResolutionDone || it.DoneAt.IsZero() {
		t.Fatalf("after done: %+v", it)
	}
	// The requester's App Home lists the request as done.
	h.openHome(uReq)
	h.waitHome(uReq, "*"+key+"* Fix the login page · Done")

	// /work show has the history of the whole story.
	show := h.reply(uReq, cGeneral, "show "+key)
	contains(t, "show", show, "History", "requested this", "prioritised it", "assigned it", "declined the handoff", "accepted the handoff", "Why it ranks here")

	// Nothing Slack refused along the way, and every envelope was acked in time.
	for _, c := range h.fake.Calls("") {
		if c.Error != "" {
			t.Errorf("Slack refused %s: %s", c.Method, c.Error)
		}
	}
	if u := h.fake.Unacked(); len(u) > 0 {
		t.Errorf("unacked envelopes: %+v", u)
	}
	for _, a := range h.fake.Acks() {
		if a.Late || a.Problem != "" {
			t.Errorf("ack problem: %+v", a)
		}
	}
}

func (h *harness) openHome(user string) {
	h.t.Helper()
	d, err := h.fake.OpenAppHome(user)
	if err != nil {
		h.t.Fatal(err)
	}
	if _, err := d.WaitTimeout(wait); err != nil {
		h.t.Fatal(err)
	}
}
