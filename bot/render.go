package bot

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"workbot/domain"
)

// Rendering is pure: every function here turns domain values into Block Kit and never calls Slack or the
// store, so golden tests pin the output. Every piece of user text goes through esc/escCut.

// itemView is what the canonical item message shows.
type itemView struct {
	Item    domain.Item
	Score   domain.Score
	Handoff *domain.Handoff // the pending handoff, if any
	Deps    []domain.Item   // items it depends on (open or not)
	// Similar are likely duplicates, looked up while the item waits for triage.
	Similar []similarItem
	Policy  *domain.Policy
	Now     time.Time
}

func stageName(p *domain.Policy, id domain.StageID) string {
	if s, ok := p.Workflow.Stage(id); ok && s.Name != "" {
		return s.Name
	}
	return string(id)
}

func itemRef(it domain.Item) string {
	return "*" + it.Key + "* " + escCut(oneLine(it.Title), domain.MaxTitleLen)
}

func scoreLabel(s domain.Score) string {
	if s.Pinned > 0 {
		return "📌 #" + strconv.Itoa(s.Pinned)
	}
	return strconv.FormatFloat(math.Round(s.Total*10)/10, 'f', -1, 64)
}

func dueLabel(d domain.Date, today domain.Date) string {
	if d.IsZero() {
		return "—"
	}
	switch {
	case d.Before(today):
		return d.String() + " (overdue)"
	case d == today:
		return d.String() + " (today)"
	}
	return d.String()
}

// itemText is the notification fallback of an item message.
func itemText(v itemView) string {
	return cut(v.Item.Key+": "+esc(oneLine(v.Item.Title))+" ("+esc(stageName(v.Policy, v.Item.Stage))+")", maxMessageText)
}

// itemMessage renders the canonical item message in the intake channel. Everyone in the channel sees
// the same message, so buttons depend on the stage only; each click is checked against the clicker's role.
func itemMessage(v itemView) []slack.Block {
	it, p := v.Item, v.Policy
	today := p.Calendar.Today(v.Now)
	var b []slack.Block
	b = append(b, section(itemRef(it)))
	b = append(b, fields(
		"Stage", esc(stageName(p, it.Stage)),
		"Assignee", mention(it.Assignee),
		"Priority", scoreLabel(v.Score),
		"Value · Urgency · Size", fmt.Sprintf("%d · %d · %d pts", it.Value, it.Urgency, it.Size),
		"Due", dueLabel(it.Due, today),
		"Requested by", mention(it.Requester),
		"Team", orDash(esc(teamName(p, it.Team))),
		"Kind", orDash(esc(it.Kind)),
	))
	if it.Details != "" {
		b = append(b, section(escCut(it.Details, maxSectionText)))
	}
	if line := blockedLine(it, v.Deps); line != "" {
		b = append(b, section(line))
	}
	if h := v.Handoff; h != nil && !h.Status.Decided() {
		b = append(b, section(handoffLine(*h)))
	}
	b = append(b, duplicateSuggestions(it, v.Similar, p)...)
	if it.Open() {
		if acts := itemActions(it, p); len(acts) > 0 {
			b = append(b, actions("item_actions", acts...))
		}
	} else {
		b = append(b, contextText(closedLine(it, p)))
	}
	b = append(b, contextText(escCut(v.Score.Explain(), 500)))
	return fitBlocks(b, maxMessageBlocks, "")
}

// teamName is a team's configured name, else its ID.
func teamName(p *domain.Policy, id domain.TeamID) string {
	if t, ok := p.Team(id); ok && t.Name != "" {
		return t.Name
	}
	return string(id)
}

// duplicateSuggestions show a lead, on an item waiting for triage, the open items it may repeat, each
// with a one-click "Duplicate of". Anyone sees them; only a lead's click is allowed.
func duplicateSuggestions(it domain.Item, similar []similarItem, p *domain.Policy) []slack.Block {
	if len(similar) == 0 || !it.Open() || it.Stage != p.Workflow.Initial {
		return nil
	}
	id := strconv.FormatUint(uint64(it.ID), 10)
	b := []slack.Block{contextText("🔎 Possibly the same as:")}
	for _, s := range similar {
		of := strconv.FormatUint(uint64(s.Item.ID), 10)
		line := itemRef(s.Item) + " · " + esc(stageName(p, s.Item.Stage)) + " · " + mention(s.Item.Assignee)
		sec := sectionWith(line, button(ActionDuplicateOf, id+"|"+of, "Duplicate of "+s.Item.Key))
		sec.BlockID = "dup_" + of
		b = append(b, sec)
	}
	return b
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

func blockedLine(it domain.Item, deps []domain.Item) string {
	var parts []string
	if it.Blocked() {
		parts = append(parts, "🚫 *Blocked:* "+escCut(oneLine(it.BlockedReason), 500))
	}
	var open []string
	for _, d := range deps {
		if d.Open() {
			open = append(open, d.Key)
		}
	}
	if len(open) > 0 {
		shown, more := listLimit(open, 10)
		s := "⛓ *Waiting on:* " + strings.Join(shown, ", ")
		if more > 0 {
			s += " and " + strconv.Itoa(more) + " more"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "\n")
}

func handoffLine(h domain.Handoff) string {
	to := mention(h.To)
	if h.To == "" {
		to = "team " + esc(string(h.ToTeam))
	}
	status := "waiting for " + to + " to accept"
	if h.Status == domain.HandoffAwaitingApproval {
		status = "waiting for a lead to approve the handoff to " + to
	}
	return "🔁 *Handoff* from " + mention(h.From) + ": " + status + " (since " + h.RequestedAt.UTC().Format("Jan 2 15:04 UTC") + ")"
}

func closedLine(it domain.Item, p *domain.Policy) string {
	switch it.Resolution {
	case domain.ResolutionDone:
		return "✅ Done " + it.DoneAt.UTC().Format("Jan 2 2006")
	case domain.ResolutionDuplicate:
		return "Closed as a duplicate of " + domain.FormatKey(p.KeyPrefix, it.DuplicateOf)
	default:
		return "Closed: " + esc(string(it.Resolution))
	}
}

// itemActions are the buttons an open item offers in its stage.
func itemActions(it domain.Item, p *domain.Policy) []slack.BlockElement {
	id := strconv.FormatUint(uint64(it.ID), 10)
	wf := p.Workflow
	var els []slack.BlockElement
	if it.Stage == wf.Initial {
		els = append(els, primary(button(ActionPrioritise, id, "Prioritise")))
	}
	els = append(els, button(ActionAssign, id, "Assign"))
	if wf.CanMove(it.Stage, wf.Start) {
		els = append(els, button(ActionStart, id, "Start"))
	}
	if moves := moveOptions(it, p); len(moves) > 0 {
		sel := slack.NewOptionsSelectBlockElement(slack.OptTypeStatic, plain("Move to…"), ActionMove, moves...)
		els = append(els, sel)
	}
	if it.PendingHandoff == 0 {
		els = append(els, button(ActionHandoff, id, "Hand off"))
	}
	if it.Blocked() || len(it.DependsOn) > 0 {
		els = append(els, button(ActionUnblock, id, "Unblock"))
	} else {
		els = append(els, button(ActionBlock, id, "Block"))
	}
	if wf.CanMove(it.Stage, wf.Done) {
		els = append(els, primary(button(ActionDone, id, "Done")))
	}
	if it.Stage == wf.Initial {
		els = append(els, button(ActionDuplicate, id, "Duplicate"))
		els = append(els, danger(button(ActionReject, id, "Reject")))
	}
	// Anyone may hear what the requester hears.
	return append(els, button(ActionFollow, id, "Follow"))
}

func moveOptions(it domain.Item, p *domain.Policy) []*slack.OptionBlockObject {
	wf := p.Workflow
	var opts []*slack.OptionBlockObject
	for _, to := range wf.Transitions[it.Stage] {
		if to == wf.Rejected || to == wf.Done || to == wf.Start {
			continue // these have their own buttons, with their own forms
		}
		opts = append(opts, option(strconv.FormatUint(uint64(it.ID), 10)+"|"+string(to), stageName(p, to)))
	}
	if len(opts) > maxOptions {
		opts = opts[:maxOptions]
	}
	return opts
}

// eventPhrases are the thread lines that need nothing from the event but its actor.
var eventPhrases = map[domain.EventType]string{
	domain.EventUnblocked:        "unblocked it",
	domain.EventRejected:         "rejected it",
	domain.EventDuplicate:        "closed it as a duplicate",
	domain.EventHandoffRequested: "asked for a handoff",
	domain.EventHandoffApproved:  "approved the handoff",
	domain.EventHandoffRefused:   "refused the handoff",
	domain.EventHandoffAccepted:  "accepted the handoff",
	domain.EventHandoffDeclined:  "declined the handoff",
	domain.EventHandoffCancelled: "cancelled the handoff",
	domain.EventSnoozed:          "snoozed the stall reminder",
}

// eventLine is one line of an item's activity thread.
func eventLine(e domain.Event, p *domain.Policy) string {
	who := mention(e.Actor)
	change := func(field string) (string, string) {
		before, after, _ := eventChange(e, field)
		return before, after
	}
	var s string
	switch e.Type {
	case domain.EventCreated:
		s = who + " requested this"
	case domain.EventTriaged:
		s = who + " prioritised it" + changesSuffix(e, "value", "urgency", "size", "due", "pin")
	case domain.EventPinned:
		_, after := change("pin")
		s = who + " pinned it at #" + esc(after)
	case domain.EventAssigned:
		before, after := change("assignee")
		s = who + " assigned it to " + mention(domain.UserID(after))
		if before != "" {
			s += " (was " + mention(domain.UserID(before)) + ")"
		}
	case domain.EventMoved:
		before, after := change("stage")
		s = who + " moved it from " + esc(stageName(p, domain.StageID(before))) + " → " + esc(stageName(p, domain.StageID(after)))
	case domain.EventBlocked:
		s = who + " blocked it" // the reason follows as the event's note
	case domain.EventDependencyAdded:
		_, after := change("depends_on")
		s = who + " made it depend on " + esc(after)
	case domain.EventHandoffEscalated:
		s = "The handoff is still pending; escalated to the leads"
	default:
		if phrase, ok := eventPhrases[e.Type]; ok {
			s = who + " " + phrase
		} else {
			s = who + " " + esc(strings.ReplaceAll(string(e.Type), "_", " "))
		}
	}
	if e.Note != "" {
		s += ": " + escCut(oneLine(e.Note), 500)
	}
	return cut(s, maxMessageText)
}

func changesSuffix(e domain.Event, names ...string) string {
	var parts []string
	for _, c := range e.Changes {
		for _, n := range names {
			if c.Field == n && c.Before != c.After {
				parts = append(parts, esc(n)+" "+orDash(esc(c.Before))+" → "+orDash(esc(c.After)))
			}
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

// rankedLine is one item in a list: key, title, stage, assignee and score.
func rankedLine(r domain.Ranked, p *domain.Policy) string {
	it := r.Item
	s := "*" + it.Key + "* " + escCut(oneLine(it.Title), 80) + " · " + esc(stageName(p, it.Stage)) + " · " + mention(it.Assignee) + " · " + scoreLabel(r.Score)
	if it.Blocked() || len(it.DependsOn) > 0 {
		s += " · 🚫"
	}
	if !it.Due.IsZero() {
		s += " · due " + it.Due.String()
	}
	return s
}

// listBlocks renders a ranked list with a title, cut to fit one message.
func listBlocks(title string, ranked []domain.Ranked, p *domain.Policy, withButtons bool) []slack.Block {
	return topListBlocks(title, ranked, len(ranked), p, withButtons)
}

// listShown is how many items a list with buttons shows; the rest are counted.
const listShown = 20

// topListBlocks is listBlocks for the first items of a longer list: total counts them all, so a caller
// that ranked only the first listShown (Policy.TopOpen) renders what listBlocks renders for all.
func topListBlocks(title string, ranked []domain.Ranked, total int, p *domain.Policy, withButtons bool) []slack.Block {
	b := []slack.Block{section("*" + title + "*")}
	if len(ranked) == 0 {
		return append(b, contextText("Nothing here."))
	}
	shown, more := listLimit(ranked, 40)
	if withButtons {
		shown, more = listLimit(ranked, listShown)
	}
	more += total - len(ranked)
	for _, r := range shown {
		if withButtons {
			b = append(b, sectionWith(rankedLine(r, p), button(ActionShow, strconv.FormatUint(uint64(r.Item.ID), 10), "Details")))
		} else {
			b = append(b, section(rankedLine(r, p)))
		}
	}
	if more > 0 {
		b = append(b, contextText(andMore(more, "`/work list` with a filter")))
	}
	return fitBlocks(b, maxMessageBlocks, "")
}

// loadLine shows a person's load against capacity with a small bar.
func loadLine(l domain.PersonLoad) string {
	bar := loadBar(l.Utilisation)
	s := mention(l.Person.ID) + " " + bar + " " + strconv.Itoa(l.Load) + "/" + strconv.Itoa(l.Capacity) + " pts"
	if l.Capacity == 0 {
		s += " (away or no capacity)"
	}
	if l.Overloaded {
		s += " ⚠️ overloaded"
	}
	return s
}

func loadBar(u float64) string {
	const width = 10
	n := width
	if !math.IsInf(u, 1) {
		n = int(math.Round(u * width))
	}
	n = max(0, min(n, width))
	return "`" + strings.Repeat("█", n) + strings.Repeat("░", width-n) + "`"
}

// showBlocks is the ephemeral `/work show` answer: fields, score breakdown and recent history.
func showBlocks(v itemView, events []domain.Event) []slack.Block {
	b := itemMessage(v)
	// Drop the message's own buttons: /work show is read-only and ephemeral.
	var out []slack.Block
	for _, blk := range b {
		if blk.BlockType() == slack.MBTAction {
			continue
		}
		out = append(out, blk)
	}
	var parts []string
	for _, p := range v.Score.Parts {
		parts = append(parts, "• "+esc(p.Name)+": "+strconv.FormatFloat(p.Points, 'f', 1, 64)+" ("+esc(p.Detail)+")")
	}
	if len(parts) > 0 {
		out = append(out, section("*Why it ranks here*\n"+strings.Join(parts, "\n")))
	}
	if len(events) > 0 {
		shown := events
		more := 0
		if len(shown) > 15 {
			more = len(shown) - 15
			shown = shown[len(shown)-15:]
		}
		var lines []string
		for _, e := range shown {
			lines = append(lines, e.At.UTC().Format("Jan 2 15:04")+" "+eventLine(e, v.Policy))
		}
		h := "*History*"
		if more > 0 {
			h += " (latest 15 of " + strconv.Itoa(len(events)) + ")"
		}
		out = append(out, section(cut(h+"\n"+strings.Join(lines, "\n"), maxSectionText)))
	}
	return fitBlocks(out, maxMessageBlocks, "")
}

// handoffDM is what the target (or, with forApproval, an approving lead) sees. While the handoff waits
// for them it carries their buttons; afterwards the same message shows the outcome instead.
func handoffDM(h domain.Handoff, it domain.Item, p *domain.Policy, forApproval bool) []slack.Block {
	hid := handoffValue(h)
	var intro string
	if forApproval {
		intro = mention(h.RequestedBy) + " wants to hand " + itemRef(it) + " to " + handoffTarget(h) + "."
		if h.Status == domain.HandoffAwaitingApproval {
			intro += " Your approval is needed."
		}
	} else {
		intro = mention(h.RequestedBy) + " wants to hand you " + itemRef(it) + "."
	}
	b := []slack.Block{section(intro), fields(
		"Stage", esc(stageName(p, it.Stage)),
		"Size", strconv.Itoa(it.Size)+" pts",
		"Next stage", orDash(esc(stageName(p, h.NextStage))),
		"Due", orDash(it.Due.String()),
	)}
	if note := handoffNote(h.Note); note != "" {
		b = append(b, section(note))
	}
	switch {
	case forApproval && h.Status == domain.HandoffAwaitingApproval:
		b = append(b, actions("handoff_decide", primary(button(ActionHandoffApprove, hid, "Approve")), danger(button(ActionHandoffRefuse, hid, "Refuse"))))
	case !forApproval && h.Status == domain.HandoffPending:
		b = append(b, actions("handoff_decide", primary(button(ActionHandoffAccept, hid, "Accept")), button(ActionHandoffDecline, hid, "Decline")))
	case h.Status == domain.HandoffPending:
		b = append(b, contextText("✅ Approved by "+mention(h.ApprovedBy)+"; now waiting for "+handoffTarget(h)+"."))
	default:
		b = append(b, contextText(handoffOutcome(h)))
	}
	return b
}

func handoffTarget(h domain.Handoff) string {
	if h.To != "" {
		return mention(h.To)
	}
	return "team " + esc(string(h.ToTeam))
}

func handoffNote(n domain.HandoffNote) string {
	var lines []string
	if n.Done != "" {
		lines = append(lines, "*Done:* "+escCut(n.Done, 900))
	}
	if n.Next != "" {
		lines = append(lines, "*Next:* "+escCut(n.Next, 900))
	}
	if n.Links != "" {
		lines = append(lines, "*Links:* "+escCut(n.Links, 900))
	}
	return strings.Join(lines, "\n")
}

func handoffOutcome(h domain.Handoff) string {
	by := mention(h.DecidedBy)
	switch h.Status {
	case domain.HandoffAccepted:
		return "✅ Accepted by " + by
	case domain.HandoffDeclined:
		return "❌ Declined by " + by + ": " + escCut(oneLine(h.Reason), 500)
	case domain.HandoffCancelled:
		return "Cancelled by " + by
	case domain.HandoffRejected:
		return "Approval refused by " + by + ": " + escCut(oneLine(h.Reason), 500)
	}
	return esc(string(h.Status))
}

// usage is the `/work help` text.
func usage() string {
	return strings.Join([]string{
		"*workbot* — `/work` commands:",
		"• `/work request [title]` — open the request form",
		"• `/work show KEY` — an item with its score and history",
		"• `/work mine` — my items, handoffs and load",
		"• `/work list [stage|@user|team]` — open items by priority",
		"• `/work triage` — the intake queue (leads)",
		"• `/work prioritise KEY` — set value, urgency, size, due date (leads)",
		"• `/work assign KEY @user` — assign, with a capacity check (leads)",
		"• `/work start KEY`, `/work move KEY STAGE`, `/work done KEY`",
		"• `/work block KEY reason`, `/work unblock KEY`, `/work depends KEY on KEY2`",
		"• `/work handoff KEY @user [note]` — hand off; they accept or decline",
		"• `/work reject KEY reason`, `/work duplicate KEY of KEY2` (leads)",
		"• `/work capacity @user POINTS` (leads), `/work away @user until YYYY-MM-DD` (or `away @user off`)",
		"• `/work load` — everyone's load against capacity",
		"• `/work prefs nudges on|off`, `/work prefs digest on|off`",
		"• `/work digest` (preview) / `/work digest post` (leads)",
		"• `/work alignment [team]` — plan versus execution: last week and the trend (leads)",
	}, "\n")
}

// handoffValue is a handoff button's value: the handoff, and its item so the click can be routed to
// the item's worker without a database read.
func handoffValue(h domain.Handoff) string {
	return strconv.FormatUint(uint64(h.ID), 10) + "|" + strconv.FormatUint(uint64(h.ItemID), 10)
}
