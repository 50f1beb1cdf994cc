package bot

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"workbot/bot/slackfake"
	"workbot/domain"
)

// TestHandoffNeedsLeadApprovalThenEscalates: with approval "always", the lead approves before the
// target sees the handoff; a second handoff left unanswered past escalate_after is escalated to the
// leads by the sweep.
func TestHandoffNeedsLeadApprovalThenEscalates(t *testing.T) {
	h := newHarness(t, withConfig(func(c *Config) {
		c.Policy.HandoffApproval = domain.ApprovalAlways
		c.Schedules = Schedules{Sweep: "* * * * * *", Location: time.UTC}
	}))
	id := h.request(uReq, "Needs approval", "3")
	key := domain.FormatKey("W", id)
	h.reply(uLead, cGeneral, "move "+key+" todo")
	h.reply(uLead, cGeneral, "assign "+key+" <@"+uDev+">")
	contains(t, "request", h.reply(uDev, cGeneral, "handoff "+key+" <@"+uQA+"> please take over"), "Handoff requested")

	approval := h.waitDM(uLead, "Your approval is needed")
	for _, m := range h.fake.DMs(uQA) {
		if strings.Contains(m.AllText(), "wants to hand you") {
			t.Fatalf("the target was asked before the lead approved: %s", m.AllText())
		}
	}
	// The target cannot approve on the lead's behalf.
	hid := h.item(id).PendingHandoff
	contains(t, "forged approve", h.forgeClick(uQA, approval, ActionHandoffApprove, itoa(uint64(hid))), "lead")
	contains(t, "approve", h.clickExpectingReply(uLead, approval.Ref(), "Approve"), "Approved")
	h.waitFor("the approval DM to lose its buttons", func() bool {
		m, _ := h.fake.Message(approval.Channel, approval.TS)
		return strings.Contains(m.AllText(), "Approved") && !strings.Contains(m.AllText(), "Refuse")
	})
	dm := h.waitDM(uQA, "wants to hand you")
	contains(t, "accept", h.clickExpectingReply(uQA, dm.Ref(), "Accept"), "Accepted")
	if it := h.item(id); it.Assignee != uQA {
		t.Fatalf("after approval and accept: %+v", it)
	}

	// The lead's App Home shows the team's load and the triage queue.
	h.request(uReq, "Waiting in triage", "2")
	h.openHome(uLead)
	h.waitHome(uLead, "Triage queue: 1")
	contains(t, "lead home", h.home(uLead), "Team load", "<@"+uQA+">", "Waiting in triage")

	// A handoff nobody answers: approved, then left pending for two working days.
	h.reply(uQA, cGeneral, "handoff "+key+" <@"+uDev+"> back to you")
	approval2 := h.waitDMCount(uLead, "Your approval is needed", 1) // the first one now says it was approved
	h.click(uLead, approval2.Ref(), "Approve")
	h.waitDM(uDev, "wants to hand you")
	h.advance(2*24*time.Hour + time.Hour)
	h.waitDM(uLead, "without an answer")
	h.waitThread(h.itemMessage(key), "escalated")
}

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }

// waitDMCount waits until user has received n DMs containing text and returns the last.
func (h *harness) waitDMCount(user, contains string, n int) (last slackfake.Message) {
	h.t.Helper()
	h.waitFor("DMs to "+user+" containing "+contains, func() bool {
		k := 0
		for _, m := range h.fake.DMs(user) {
			if strings.Contains(m.AllText(), contains) {
				k++
				last = m
			}
		}
		return k >= n
	})
	return last
}

// TestDigestOnDemand: anyone previews the digest privately; a lead posts it to the leadership channel.
func TestDigestOnDemand(t *testing.T) {
	h := newHarness(t)
	id := h.request(uReq, "Preview me", "3")
	h.reply(uLead, cGeneral, "move "+domain.FormatKey("W", id)+" todo")
	preview := h.reply(uReq, cGeneral, "digest")
	contains(t, "preview", preview, "Work digest", "Top priorities", domain.FormatKey("W", id), "Throughput")
	if n := len(digests(h, cLeads)); n != 0 {
		t.Fatalf("a preview posted %d digests", n)
	}
	contains(t, "post", h.reply(uLead, cGeneral, "digest post"), "Posting the digest", "chart")
	h.waitFor("the posted digest", func() bool { return len(digests(h, cLeads)) == 1 })
	// A digest posted by hand carries its chart, as a scheduled one does.
	h.waitFor("the chart in the digest's thread", func() bool { return len(chartsUnder(h, cLeads, digests(h, cLeads)[0].TS)) == 1 })
}

// chartsUnder lists the files shared in a message's thread.
func chartsUnder(h *harness, channel, ts string) []slackfake.File {
	var files []slackfake.File
	for _, m := range h.fake.Messages(channel) {
		if m.ThreadTS == ts {
			files = append(files, m.Files...)
		}
	}
	return files
}

// TestPrefsToggleInAppHome: the App Home buttons switch nudges and the morning digest off and on.
func TestPrefsToggleInAppHome(t *testing.T) {
	h := newHarness(t)
	h.openHome(uDev)
	h.waitHome(uDev, "Stall nudges: on")
	home, _ := h.fake.Home(uDev)
	h.click(uDev, home.Ref(), "Stall nudges: on")
	h.waitHome(uDev, "Stall nudges: off")
	home, _ = h.fake.Home(uDev)
	h.click(uDev, home.Ref(), "Morning digest: on")
	h.waitHome(uDev, "Morning digest: off")
	contains(t, "prefs", h.reply(uDev, cGeneral, "prefs"), "stall nudges off", "morning digest off")
}
