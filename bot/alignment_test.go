package bot

import (
	"bytes"
	"context"
	"image/png"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"workbot/bot/slackfake"
	"workbot/domain"
)

// requestIn files an item for a team through the intake modal.
func (h *harness) requestIn(team, title, size string) domain.ItemID {
	h.t.Helper()
	h.command(uReq, cGeneral, "request")
	v := h.modal(uReq, ViewIntake)
	ack := h.submit(uReq, v, map[string]slackfake.Value{
		BlockTitle: slackfake.TextValue(title), // typed into the form: Slack sends it as typed
		BlockTeam:  slackfake.OptionValue(team),
		BlockSize:  slackfake.OptionValue(size),
	})
	if strings.Contains(string(ack.Payload), "errors") {
		h.t.Fatalf("intake refused: %s", ack.Payload)
	}
	var id domain.ItemID
	h.pollFor("the new item "+title, func() bool {
		_ = h.db.View(context.Background(), func(tx domain.ReadTx) error {
			return tx.ItemsByRequester(uReq, func(it domain.Item) bool {
				if it.Title == title {
					id = it.ID
					return false
				}
				return true
			})
		})
		return id != 0
	})
	return id
}

// alignmentWeek runs a week small enough to check by hand, through real commands, and leaves the
// clock on the Tuesday after it. The plan (Monday 30 November 00:00) holds A, C and E.
//
//	A  eng  5 pts  prioritised, in the plan, started and done on Monday      → planned
//	C  eng  8 pts  prioritised, in the plan, assigned the week before, then left alone → neglected
//	E  ops  2 pts  prioritised, in the plan, started on Wednesday            → planned (ops)
//	D  eng  3 pts  never triaged: assigned, started and done on Monday       → interrupt
//	B  eng  2 pts  triaged on Tuesday, then started                          → other
//
// Everyone: 12 pts moved forward, planned 7 (58%), interrupts 3 (25%), other 2 (17%).
// eng: 10 pts, planned 5 (50%), interrupts 3 (30%), other 2 (20%). ops: 2 pts, all planned.
// C waited from its assignment (Tuesday 24 November 09:00) to the week's end (Monday 7 December
// 00:00): 15 h + 3 days + 5 days = 207 h of working time, 8.6 days; in the top since Monday: 5 days.
func alignmentWeek(t *testing.T, h *harness) (a, b, c, d, e domain.ItemID) {
	a = h.requestIn("eng", "Planned feature", "5")
	c = h.requestIn("eng", "Neglected <priority>", "8")
	e = h.requestIn("ops", "Ops priority", "2")
	b = h.requestIn("eng", "Later priority", "2")
	d = h.requestIn("eng", "Urgent interrupt", "3")
	h.prioritise(a, "5", "5", "5")
	h.prioritise(c, "4", "4", "8")
	h.prioritise(e, "3", "3", "2")
	key := func(id domain.ItemID) string { return domain.FormatKey("W", id) }
	ok := func(user, cmd, want string) {
		t.Helper()
		contains(t, cmd, h.reply(user, cGeneral, cmd), want)
	}
	ok(uLead, "assign "+key(a)+" <@"+uDev+">", "Assigned")
	ok(uLead, "assign "+key(c)+" <@"+uQA+">", "Assigned")

	h.setNow(time.Date(2026, 11, 30, 0, 0, 4, 0, time.UTC)) // Monday's midnight tick
	h.bot.runSnapshot(context.Background(), h.clock(), false)
	plan := snapshotsIn(t, h.db)["2026-11-30"]
	if ids := snapshotIDs(plan); len(ids) != 3 || !slices.Contains(ids, a) || !slices.Contains(ids, c) || !slices.Contains(ids, e) {
		t.Fatalf("the plan holds %v, want A, C and E", ids)
	}

	h.setNow(time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC))
	ok(uDev, "start "+key(a), "Started")
	ok(uDev, "done "+key(a), "Done")
	h.advance(time.Hour)
	ok(uLead, "assign "+key(d)+" <@"+uDev+">", "Assigned")
	ok(uDev, "start "+key(d), "Started")
	ok(uDev, "done "+key(d), "Done")

	h.setNow(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC))
	h.prioritise(b, "2", "2", "2")
	ok(uLead, "assign "+key(b)+" <@"+uQA+">", "Assigned")
	ok(uQA, "start "+key(b), "Started")

	h.setNow(time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC))
	ok(uLead, "assign "+key(e)+" <@"+uDev+">", "Assigned")
	ok(uDev, "start "+key(e), "Started")

	h.setNow(time.Date(2026, 12, 8, 9, 0, 0, 0, time.UTC))
	return a, b, c, d, e
}

func withOpsTeam(c *Config) {
	c.Policy.Teams = append(c.Policy.Teams, domain.Team{ID: "ops", Name: "Operations", Leads: []domain.UserID{uLead}})
}

// TestAlignmentCommand: a lead sees last week's hand-checked numbers, its neglected priority and the
// trend; the team filter narrows both; others are refused; an unknown team gets the list of teams.
func TestAlignmentCommand(t *testing.T) {
	h := newHarness(t, withConfig(withOpsTeam))
	_, _, c, _, _ := alignmentWeek(t, h)
	cKey := domain.FormatKey("W", c)
	rankC := 0
	for _, e := range snapshotsIn(t, h.db)["2026-11-30"].Items {
		if domain.ItemID(e.ID) == c {
			rankC = e.Rank
		}
	}

	all := h.reply(uLead, cGeneral, "alignment")
	contains(t, "everyone", all,
		"Plan vs execution", "Last week: Mon Nov 30 – Sun Dec 6", "plan: the top 10 of Mon Nov 30 00:00 UTC (3 items)",
		"Planned: 7 pts · 58%", "Interrupts: 3 pts · 25%", "Other: 2 pts · 17%", "12 pts moved forward in all.",
		"Neglected priorities* (1)",
		"#"+strconv.Itoa(rankC)+" *"+cKey+"* Neglected &lt;priority&gt; · idle 8.6d · in the top for ≥ 5d",
		"Nov 9  nothing moved · plan unknown", "Nov 16 nothing moved · plan unknown", "Nov 23 nothing moved · plan unknown",
		"Nov 30 ████████████▓▓▓▓▓▒▒▒  58% · 25% · 17% of 12 pts")
	if strings.Contains(all, "<priority>") {
		t.Errorf("a title went out unescaped:\n%s", all)
	}

	eng := h.reply(uLead, cGeneral, "alignment eng")
	contains(t, "eng", eng, "Plan vs execution · Engineering", "(3 items, 2 of them this team's)",
		"Planned: 5 pts · 50%", "Interrupts: 3 pts · 30%", "Other: 2 pts · 20%", "10 pts moved forward in all.",
		cKey, "Nov 30 ██████████▓▓▓▓▓▓▒▒▒▒  50% · 30% · 20% of 10 pts")

	ops := h.reply(uLead, cGeneral, "alignment operations")
	contains(t, "ops", ops, "Plan vs execution · Operations", "(3 items, 1 of them this team's)",
		"Planned: 2 pts · 100%", "Interrupts: 0 pts · 0%", "Other: 0 pts · 0%",
		"None: every priority of the plan was worked on.", "Nov 30 ████████████████████  100% · 0% · 0% of 2 pts")
	if strings.Contains(ops, cKey) {
		t.Errorf("the ops report lists an eng item:\n%s", ops)
	}

	contains(t, "not a lead", h.reply(uDev, cGeneral, "alignment"), "for leads", "/work mine")
	unknown := h.reply(uLead, cGeneral, "alignment <!channel>")
	contains(t, "unknown team", unknown, "There is no team &lt;!channel&gt;", "Teams: `eng` (Engineering), `ops` (Operations)")
	contains(t, "help", h.reply(uDev, cGeneral, "help"), "/work alignment [team]")
}

// TestAlignmentWithoutSnapshots: with no plan, the report says so instead of claiming 0% planned.
func TestAlignmentWithoutSnapshots(t *testing.T) {
	h := newHarness(t)
	id := h.request(uReq, "Done without a plan", "3")
	key := domain.FormatKey("W", id)
	h.prioritise(id, "3", "3", "3")
	h.reply(uLead, cGeneral, "assign "+key+" <@"+uDev+">")
	h.setNow(time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC))
	h.reply(uDev, cGeneral, "start "+key)
	h.setNow(time.Date(2026, 12, 8, 9, 0, 0, 0, time.UTC))
	got := h.reply(uLead, cGeneral, "alignment")
	contains(t, "no plan", got, "plan unknown: no priority snapshot", "Plan unknown, so planned and other work cannot be told apart.",
		"Prioritised, plan unknown: 3 pts · 100%", "Nov 30 ░░░░░░░░░░░░░░░░░░░░  plan unknown · 0% interrupts of 3 pts")
	if strings.Contains(got, "🎯 Planned") || strings.Contains(got, "Neglected") {
		t.Errorf("a report without a plan shows planned work or neglect:\n%s", got)
	}
	contains(t, "digest", h.reply(uLead, cGeneral, "digest"), "Plan unknown (no priority snapshot from the week's start)")
}

// TestAlignmentInTheDigest: the digest carries last week's numbers and neglected priority, and its
// chart, with the trend as a third panel, is still shared in the thread.
func TestAlignmentInTheDigest(t *testing.T) {
	h := newHarness(t, withConfig(withOpsTeam))
	_, _, c, _, _ := alignmentWeek(t, h)
	cKey := domain.FormatKey("W", c)
	want := []string{"Plan vs execution* (last week, Mon Nov 30 – Sun Dec 6)",
		"Planned 58% (7 pts) · interrupts 25% (3 pts) · other 17% (2 pts)",
		"Neglected priorities (1):", "*" + cKey + "* Neglected &lt;priority&gt; · idle 8.6d"}
	contains(t, "preview", h.reply(uLead, cGeneral, "digest"), want...)

	contains(t, "post", h.reply(uLead, cGeneral, "digest post"), "Posting the digest")
	h.waitFor("the digest and its chart", func() bool {
		ds := digests(h, cLeads)
		if len(ds) != 1 {
			return false
		}
		for _, m := range h.fake.Messages(cLeads) {
			if m.ThreadTS == ds[0].TS && len(m.Files) > 0 {
				return true
			}
		}
		return false
	})
	digest := digests(h, cLeads)[0]
	contains(t, "posted digest", digest.AllText(), want...)
	for _, m := range h.fake.Messages(cLeads) {
		if m.ThreadTS != digest.TS || len(m.Files) == 0 {
			continue
		}
		f := m.Files[0]
		img, err := png.Decode(bytes.NewReader(f.Content))
		if err != nil {
			t.Fatalf("the chart is not a PNG: %v", err)
		}
		if b := img.Bounds(); b.Dy() <= b.Dx() {
			t.Errorf("chart is %v: too short for three panels", b)
		}
		contains(t, "chart title", f.Title+" "+f.AltText, "plan vs execution", "planned, interrupt and other")
	}
}
