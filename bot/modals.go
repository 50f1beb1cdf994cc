package bot

import (
	"strconv"
	"strings"

	"github.com/slack-go/slack"

	"workbot/domain"
)

// Modal builders are pure. private_metadata carries only IDs; handlers re-read the state on submit.

func modal(callbackID, title, submit string, meta string, blocks ...slack.Block) slack.ModalViewRequest {
	v := slack.ModalViewRequest{
		Type:            slack.VTModal,
		CallbackID:      callbackID,
		Title:           plain(cut(title, maxModalTitle)),
		Close:           plain("Cancel"),
		PrivateMetadata: meta,
		Blocks:          slack.Blocks{BlockSet: fitBlocks(blocks, maxViewBlocks, "")},
	}
	if submit != "" {
		v.Submit = plain(cut(submit, maxModalTitle))
	}
	return v
}

func textInput(blockID, label, placeholder, initial string, multiline bool, maxLen int, optional bool) *slack.InputBlock {
	el := slack.NewPlainTextInputBlockElement(nil, inputAction)
	if placeholder != "" {
		el.Placeholder = plain(cut(placeholder, 150))
	}
	el.Multiline = multiline
	el.InitialValue = cut(initial, maxLen)
	if maxLen > 0 {
		el.MaxLength = maxLen
	}
	in := slack.NewInputBlock(blockID, plain(label), nil, el)
	in.Optional = optional
	return in
}

func staticSelect(blockID, label string, opts []*slack.OptionBlockObject, initial string, optional bool) *slack.InputBlock {
	if len(opts) > maxOptions {
		opts = opts[:maxOptions]
	}
	el := slack.NewOptionsSelectBlockElement(slack.OptTypeStatic, plain("Choose…"), inputAction, opts...)
	for _, o := range opts {
		if o.Value == initial {
			el.InitialOption = o
		}
	}
	in := slack.NewInputBlock(blockID, plain(label), nil, el)
	in.Optional = optional
	return in
}

func scaleOptions(lo, hi int, names map[int]string) []*slack.OptionBlockObject {
	var opts []*slack.OptionBlockObject
	for i := lo; i <= hi; i++ {
		text := strconv.Itoa(i)
		if n, ok := names[i]; ok {
			text += " — " + n
		}
		opts = append(opts, option(strconv.Itoa(i), text))
	}
	return opts
}

var (
	valueNames   = map[int]string{1: "nice to have", 3: "useful", 5: "critical to the business"}
	urgencyNames = map[int]string{1: "whenever", 3: "this month", 5: "now"}
)

func sizeOptions() []*slack.OptionBlockObject {
	var opts []*slack.OptionBlockObject
	for _, s := range domain.Sizes {
		opts = append(opts, option(strconv.Itoa(s), strconv.Itoa(s)+" pts"))
	}
	return opts
}

func datePicker(blockID, label string, initial domain.Date, optional bool) *slack.InputBlock {
	el := slack.NewDatePickerBlockElement(inputAction)
	if !initial.IsZero() {
		el.InitialDate = initial.String()
	}
	in := slack.NewInputBlock(blockID, plain(label), nil, el)
	in.Optional = optional
	return in
}

func userSelect(blockID, label string, initial domain.UserID) *slack.InputBlock {
	el := slack.NewOptionsSelectBlockElement(slack.OptTypeUser, plain("Choose a person"), inputAction)
	el.InitialUser = string(initial)
	return slack.NewInputBlock(blockID, plain(label), nil, el)
}

// Kinds offered in the intake form; the domain accepts any short kind, the form keeps them tidy.
var kinds = []string{"feature", "bug", "support", "ops", "chore"}

// intakeModal is the request form opened by `/work request [title]`.
func intakeModal(f intakeForm, p *domain.Policy) slack.ModalViewRequest {
	var kindOpts []*slack.OptionBlockObject
	for _, k := range kinds {
		kindOpts = append(kindOpts, option(k, k))
	}
	title := textInput(BlockTitle, "Title", "What do you need?", oneLine(f.Title), false, domain.MaxTitleLen, false)
	// Entering the title (Enter) asks workbot for likely duplicates while the request is written.
	title.DispatchAction = true
	blocks := []slack.Block{title}
	blocks = append(blocks, similarBlocks(f.Similar, p)...)
	blocks = append(blocks,
		textInput(BlockDetails, "Details", "Context, links, acceptance criteria", f.Details, true, domain.MaxDetailsLen, true),
		staticSelect(BlockKind, "Kind", kindOpts, "feature", false),
	)
	if len(p.Teams) > 0 {
		var teamOpts []*slack.OptionBlockObject
		for _, t := range p.Teams {
			name := t.Name
			if name == "" {
				name = string(t.ID)
			}
			teamOpts = append(teamOpts, option(string(t.ID), name))
		}
		blocks = append(blocks, staticSelect(BlockTeam, "Team", teamOpts, "", true))
	}
	blocks = append(blocks,
		staticSelect(BlockValue, "Value", scaleOptions(1, 5, valueNames), "3", false),
		staticSelect(BlockUrgency, "Urgency", scaleOptions(1, 5, urgencyNames), "3", false),
		staticSelect(BlockSize, "Size (points)", sizeOptions(), "3", false),
		datePicker(BlockDue, "Due date", domain.Date{}, true),
	)
	if f.Requester != "" {
		blocks = append([]slack.Block{contextText("Filed for " + mention(f.Requester) + ", who wrote the message.")}, blocks...)
	}
	return modal(ViewIntake, "New request", "Submit", f.meta(), blocks...)
}

// similarBlocks offers the likely duplicates of a request being written, each with a button to follow
// it instead of filing another. Word matching finds the same words, not always the same request, so
// they are offered as possibly the same, never asserted.
func similarBlocks(similar []similarItem, p *domain.Policy) []slack.Block {
	if len(similar) == 0 {
		return nil
	}
	b := []slack.Block{contextText("🔎 Possibly requested already. Following one tells you what its requester hears.")}
	for _, s := range similar {
		it := s.Item
		line := itemRef(it) + "\n" + esc(stageName(p, it.Stage)) + " · " + mention(it.Assignee)
		sec := sectionWith(line, button(ActionFollowInstead, strconv.FormatUint(uint64(it.ID), 10), "Follow "+it.Key+" instead"))
		sec.BlockID = "similar_" + strconv.FormatUint(uint64(it.ID), 10)
		b = append(b, sec)
	}
	return b
}

// followedModal replaces the intake form once its writer follows an existing item instead.
func followedModal(text string) slack.ModalViewRequest {
	v := modal(ViewFollowed, "Following", "", "", section(text))
	v.Close = plain("Close")
	return v
}

// prioritiseModal lets a lead confirm value, urgency, size, due date and pin.
func prioritiseModal(it domain.Item) slack.ModalViewRequest {
	pin := ""
	if it.Pin > 0 {
		pin = strconv.Itoa(it.Pin)
	}
	return modal(ViewPrioritise, "Prioritise "+it.Key, "Save", itemMeta(it.ID),
		section(itemRef(it)),
		staticSelect(BlockValue, "Value", scaleOptions(1, 5, valueNames), strconv.Itoa(it.Value), false),
		staticSelect(BlockUrgency, "Urgency", scaleOptions(1, 5, urgencyNames), strconv.Itoa(it.Urgency), false),
		staticSelect(BlockSize, "Size (points)", sizeOptions(), strconv.Itoa(it.Size), false),
		datePicker(BlockDue, "Due date", it.Due, true),
		textInput(BlockPin, "Pin at rank (empty: no pin)", "e.g. 1", pin, false, 4, true),
	)
}

// assignModal shows the team's load so the lead can pick with capacity in view.
func assignModal(it domain.Item, candidates []domain.PersonLoad) slack.ModalViewRequest {
	blocks := []slack.Block{section(itemRef(it) + " · " + strconv.Itoa(it.Size) + " pts"), userSelect(BlockAssignee, "Assign to", it.Assignee)}
	if len(candidates) > 0 {
		shown, more := listLimit(candidates, 30)
		var lines []string
		for _, c := range shown {
			lines = append(lines, loadLine(c))
		}
		if more > 0 {
			lines = append(lines, andMore(more, "`/work load`"))
		}
		blocks = append(blocks, section(cut("*Current load*\n"+strings.Join(lines, "\n"), maxSectionText)))
	}
	return modal(ViewAssign, "Assign "+it.Key, "Assign", itemMeta(it.ID), blocks...)
}

// assignConfirmModal warns before an overloading assignment and offers the suggestion as a choice in
// the same form, so one submit settles it.
func assignConfirmModal(pv domain.AssignPreview) slack.ModalViewRequest {
	it := pv.Item
	var lines []string
	for _, w := range pv.Warnings {
		lines = append(lines, "⚠️ "+esc(w.Message))
	}
	lines = append(lines, mention(pv.Assignee.Person.ID)+" would go from "+strconv.Itoa(pv.Assignee.Load)+" to "+strconv.Itoa(pv.After.Load)+" of "+strconv.Itoa(pv.After.Capacity)+" pts.")
	chosen := string(pv.Assignee.Person.ID)
	opts := []*slack.OptionBlockObject{option(chosen, string(chosen)+" anyway ("+strconv.Itoa(pv.After.Load)+"/"+strconv.Itoa(pv.After.Capacity)+" pts)")}
	if s := pv.Suggestion; s != nil {
		lines = append(lines, "💡 "+mention(s.Person.ID)+" has room: "+strconv.Itoa(s.Load)+"/"+strconv.Itoa(s.Capacity)+" pts.")
		opts = append(opts, option(string(s.Person.ID), string(s.Person.ID)+" instead ("+strconv.Itoa(s.Load)+"/"+strconv.Itoa(s.Capacity)+" pts)"))
	}
	blocks := []slack.Block{section(itemRef(it)), section(strings.Join(lines, "\n")), staticSelect(BlockAssignee, "Assign to", opts, chosen, false)}
	meta := itemMeta(it.ID) + ";user=" + chosen + ";version=" + strconv.FormatUint(it.Version, 10)
	return modal(ViewAssignConfirm, "Overload warning", "Assign", meta, blocks...)
}

// handoffModal asks for the target, the note and an optional next stage.
func handoffModal(it domain.Item, p *domain.Policy) slack.ModalViewRequest {
	var stageOpts []*slack.OptionBlockObject
	for _, to := range p.Workflow.Transitions[it.Stage] {
		if s, ok := p.Workflow.Stage(to); ok && !s.Terminal {
			stageOpts = append(stageOpts, option(string(to), stageName(p, to)))
		}
	}
	blocks := []slack.Block{
		section(itemRef(it)),
		userSelect(BlockTarget, "Hand off to", ""),
		textInput(BlockNoteDone, "What is done", "", "", true, 1000, true),
		textInput(BlockNoteNext, "What is next", "", "", true, 1000, false),
		textInput(BlockNoteLinks, "Links", "PRs, docs, dashboards", "", true, 1000, true),
	}
	if len(stageOpts) > 0 {
		blocks = append(blocks, staticSelect(BlockNextStage, "Move to stage on acceptance", stageOpts, "", true))
	}
	return modal(ViewHandoff, "Hand off "+it.Key, "Send", itemMeta(it.ID), blocks...)
}

// reasonModal asks for a reason (decline, refuse, reject, block).
func reasonModal(callbackID, title, submit, meta, intro, label string) slack.ModalViewRequest {
	return modal(callbackID, title, submit, meta, section(intro), textInput(BlockReason, label, "", "", true, domain.MaxReasonLen, false))
}

func duplicateModal(it domain.Item) slack.ModalViewRequest {
	return modal(ViewDuplicate, "Mark duplicate", "Close as duplicate", itemMeta(it.ID),
		section(itemRef(it)),
		textInput(BlockOf, "Duplicate of (key)", "e.g. W-12", "", false, 40, false))
}

func itemMeta(id domain.ItemID) string { return "item=" + strconv.FormatUint(uint64(id), 10) }

func handoffMeta(id domain.HandoffID) string {
	return "handoff=" + strconv.FormatUint(uint64(id), 10)
}

// parseMeta reads "k=v;k=v" private_metadata. Unknown or malformed parts are ignored: the values are
// re-validated by the domain anyway.
func parseMeta(s string) map[string]string {
	m := map[string]string{}
	for _, part := range strings.Split(s, ";") {
		k, v, ok := strings.Cut(part, "=")
		if ok {
			m[k] = v
		}
	}
	return m
}
