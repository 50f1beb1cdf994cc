package bot

import (
	"strconv"
	"strings"

	"github.com/slack-go/slack"

	"workbot/domain"
)

// homeData is everything one user's App Home shows.
type homeData struct {
	User        domain.UserID
	Mine        []domain.Ranked // my open items by priority
	Incoming    []handoffWithItem
	Outgoing    []handoffWithItem // handoffs I asked for, still pending
	Requests    []domain.Item     // my requests, newest first
	Load        domain.PersonLoad
	Person      domain.Person
	IsLead      bool
	TeamLoad    []domain.PersonLoad
	TriageSize  int
	TriageQueue []domain.Ranked
	Policy      *domain.Policy
}

type handoffWithItem struct {
	Handoff domain.Handoff
	Item    domain.Item
}

// homeView renders the App Home tab within Slack's 100-block limit, whatever the amounts.
func homeView(d homeData) slack.HomeTabViewRequest {
	p := d.Policy
	var b []slack.Block
	b = append(b, header("Your work"))
	b = append(b, sectionWith("*My load:* "+loadLine(d.Load), button(ActionHomeRefresh, "refresh", "Refresh")))

	b = append(b, header("Incoming handoffs"))
	if len(d.Incoming) == 0 {
		b = append(b, contextText("None waiting for you."))
	}
	shownIn, moreIn := listLimit(d.Incoming, 8)
	for _, h := range shownIn {
		hid := handoffValue(h.Handoff)
		b = append(b, section(mention(h.Handoff.RequestedBy)+" → you: "+itemRef(h.Item)+"\n"+handoffNoteShort(h.Handoff.Note)))
		b = append(b, actions("", primary(button(ActionHandoffAccept, hid, "Accept")), button(ActionHandoffDecline, hid, "Decline")))
	}
	if moreIn > 0 {
		b = append(b, contextText(andMore(moreIn, "`/work mine`")))
	}

	b = append(b, header("My items by priority"))
	if len(d.Mine) == 0 {
		b = append(b, contextText("Nothing assigned to you."))
	}
	shownMine, moreMine := listLimit(d.Mine, 15)
	for _, r := range shownMine {
		b = append(b, section(rankedLine(r, p)))
		if acts := homeItemActions(r.Item, p); len(acts) > 0 {
			b = append(b, actions("", acts...))
		}
	}
	if moreMine > 0 {
		b = append(b, contextText(andMore(moreMine, "`/work mine`")))
	}

	if len(d.Outgoing) > 0 {
		b = append(b, header("Handoffs I asked for"))
		shownOut, moreOut := listLimit(d.Outgoing, 5)
		for _, h := range shownOut {
			hid := handoffValue(h.Handoff)
			b = append(b, sectionWith(itemRef(h.Item)+" → "+handoffTarget(h.Handoff)+" ("+esc(string(h.Handoff.Status))+")", button(ActionHandoffCancel, hid, "Cancel")))
		}
		if moreOut > 0 {
			b = append(b, contextText(andMore(moreOut, "")))
		}
	}

	b = append(b, header("My requests"))
	if len(d.Requests) == 0 {
		b = append(b, contextText("You have not requested anything yet. Try `/work request`."))
	}
	shownReq, moreReq := listLimit(d.Requests, 8)
	var reqLines []string
	for _, it := range shownReq {
		reqLines = append(reqLines, "*"+it.Key+"* "+escCut(oneLine(it.Title), 80)+" · "+esc(stageName(p, it.Stage))+" · "+mention(it.Assignee))
	}
	if len(reqLines) > 0 {
		if moreReq > 0 {
			reqLines = append(reqLines, andMore(moreReq, ""))
		}
		b = append(b, section(cut(strings.Join(reqLines, "\n"), maxSectionText)))
	}

	if d.IsLead {
		b = append(b, header("Team load"))
		shownLoad, moreLoad := listLimit(d.TeamLoad, 20)
		var lines []string
		for _, l := range shownLoad {
			lines = append(lines, loadLine(l))
		}
		if moreLoad > 0 {
			lines = append(lines, andMore(moreLoad, "`/work load`"))
		}
		if len(lines) == 0 {
			lines = append(lines, "No one has work assigned yet.")
		}
		b = append(b, section(cut(strings.Join(lines, "\n"), maxSectionText)))

		b = append(b, header("Triage queue: "+strconv.Itoa(d.TriageSize)))
		shownTri, _ := listLimit(d.TriageQueue, 8)
		for _, r := range shownTri {
			b = append(b, sectionWith(rankedLine(r, p), primary(button(ActionPrioritise, strconv.FormatUint(uint64(r.Item.ID), 10), "Prioritise"))))
		}
		if d.TriageSize > len(shownTri) {
			b = append(b, contextText(andMore(d.TriageSize-len(shownTri), "`/work triage`")))
		}
	}

	nudges, digest := "on", "on"
	if d.Person.NudgesOff {
		nudges = "off"
	}
	if d.Person.PersonalDigestOff {
		digest = "off"
	}
	b = append(b, slack.NewDividerBlock(), actions("prefs",
		// The value says what the click asks for, so a click on an old Home cannot flip the wrong way.
		button(ActionPrefsNudges, "nudges:"+flip(nudges), "Stall nudges: "+nudges),
		button(ActionPrefsDigest, "digest:"+flip(digest), "Morning digest: "+digest),
	))
	return slack.HomeTabViewRequest{Type: slack.VTHomeTab, Blocks: slack.Blocks{BlockSet: fitBlocks(b, maxViewBlocks, "")}}
}

func flip(onOff string) string {
	if onOff == "on" {
		return "off"
	}
	return "on"
}

func handoffNoteShort(n domain.HandoffNote) string {
	if n.Next != "" {
		return "_Next:_ " + escCut(oneLine(n.Next), 200)
	}
	if n.Done != "" {
		return "_Done:_ " + escCut(oneLine(n.Done), 200)
	}
	return ""
}

// homeItemActions are the quick actions next to my own items.
func homeItemActions(it domain.Item, p *domain.Policy) []slack.BlockElement {
	id := strconv.FormatUint(uint64(it.ID), 10)
	wf := p.Workflow
	var els []slack.BlockElement
	if wf.CanMove(it.Stage, wf.Start) {
		els = append(els, button(ActionStart, id, "Start"))
	}
	if moves := moveOptions(it, p); len(moves) > 0 {
		els = append(els, slack.NewOptionsSelectBlockElement(slack.OptTypeStatic, plain("Move to…"), ActionMove, moves...))
	}
	if it.PendingHandoff == 0 {
		els = append(els, button(ActionHandoff, id, "Hand off"))
	}
	if wf.CanMove(it.Stage, wf.Done) {
		els = append(els, primary(button(ActionDone, id, "Done")))
	}
	return els
}
