package bot

import (
	"context"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"workbot/domain"
)

// viewDeadline is how long a view submission may take before we must ack anyway: Slack gives 3 s.
const viewDeadline = 2500 * time.Millisecond

func (b *Bot) routeInteraction(ctx context.Context, envelopeID string, cb slack.InteractionCallback, readAt time.Time) {
	switch cb.Type {
	case slack.InteractionTypeBlockActions:
		b.ack(envelopeID, nil, readAt)
		if len(cb.ActionCallback.BlockActions) == 0 {
			return
		}
		act := *cb.ActionCallback.BlockActions[0]
		run := func(ctx context.Context) { b.handleAction(ctx, cb, act) }
		var taken bool
		if actionOpensModal[act.ActionID] || cb.View.CallbackID == ViewIntake {
			taken = b.goBounded(b.modalSlots, "action_modal", run)
		} else {
			taken = b.enqueue(actionKey(act), "action", run)
		}
		if !taken {
			b.replyBusy(b.replierFor(cb))
		}
	case slack.InteractionTypeViewSubmission:
		// The ack carries field errors, so it waits for validation and the commit. Forms get their own
		// goroutine, not a worker: a worker may be busy for longer than Slack's 3 s.
		b.handlerWG.Add(1)
		go func() {
			defer b.handlerWG.Done()
			b.submitForm(envelopeID, cb, readAt)
		}()
	case slack.InteractionTypeMessageAction, slack.InteractionTypeShortcut:
		b.ack(envelopeID, nil, readAt)
		run := func(ctx context.Context) { b.handleShortcut(ctx, cb) }
		if !b.goBounded(b.modalSlots, "shortcut", run) {
			b.replyBusy(b.replierFor(cb))
		}
	case slack.InteractionTypeViewClosed:
		b.ack(envelopeID, nil, readAt)
	default:
		b.ack(envelopeID, nil, readAt)
		b.log.Debug().Str("type", string(cb.Type)).Msg("interaction ignored")
	}
}

// actionOpensModal lists the buttons whose first job is to open a modal. Their trigger_id expires in
// 3 s, so they run on their own goroutines rather than queue behind other work on the item.
var actionOpensModal = map[string]bool{
	ActionPrioritise: true, ActionAssign: true, ActionHandoff: true, ActionBlock: true, ActionReject: true,
	ActionDuplicate: true, ActionHandoffDecline: true, ActionHandoffRefuse: true, ActionFileDM: true,
}

// handleShortcut dispatches the shortcuts the manifest declares.
func (b *Bot) handleShortcut(ctx context.Context, cb slack.InteractionCallback) {
	switch {
	case cb.Type == slack.InteractionTypeMessageAction && cb.CallbackID == ShortcutFileMessage:
		b.handleMessageShortcut(ctx, cb)
	case cb.Type == slack.InteractionTypeShortcut && cb.CallbackID == ShortcutNewRequest:
		b.handleGlobalShortcut(ctx, cb)
	default:
		b.replierFor(cb).say(ctx, "⚠️ I don't know that shortcut. It may come from an older version of workbot.")
	}
}

// actionKey picks the worker for a click: the item it is about, so that every change to one item runs
// in order. Handoff buttons carry "<handoff>|<item>" for this; the reader never reads the database.
func actionKey(act slack.BlockAction) string {
	v := act.Value
	if v == "" {
		v = act.SelectedOption.Value
	}
	head, tail, _ := strings.Cut(v, "|")
	if strings.HasPrefix(act.ActionID, "handoff_") {
		if id, err := strconv.ParseUint(tail, 10, 64); err == nil {
			return itemKey(domain.ItemID(id))
		}
		return "handoff:" + head
	}
	if id, err := strconv.ParseUint(head, 10, 64); err == nil {
		return itemKey(domain.ItemID(id))
	}
	return "action:" + act.ActionID
}

// submitForm validates and commits a view submission, acks it with its field errors (or nothing, which
// closes the modal), then queues the follow-up. If the commit takes longer than Slack allows, the ack
// goes out empty and the outcome, good or bad, follows by DM.
func (b *Bot) submitForm(envelopeID string, cb slack.InteractionCallback, readAt time.Time) {
	type outcome struct {
		resp  *slack.ViewSubmissionResponse
		after func(context.Context)
		key   string
	}
	r := replier{b: b, user: domain.UserID(cb.User.ID)}
	userKey := "user:" + cb.User.ID
	done := make(chan outcome, 1)
	go func() {
		select {
		case b.formSlots <- struct{}{}:
			defer func() { <-b.formSlots }()
		case <-time.After(formSlotWait):
			// Too many forms at once: keep the modal open with a note rather than save late.
			done <- outcome{resp: busyResponse(cb)}
			return
		}
		defer func() {
			if p := recover(); p != nil {
				b.log.Error().Interface("panic", p).Str("callback_id", cb.View.CallbackID).Msg("form handler panicked")
				done <- outcome{after: func(ctx context.Context) {
					r.say(ctx, "⚠️ Your form could not be saved because of an error on our side. Nothing was changed; please try again.")
				}, key: userKey}
			}
		}()
		if len(cb.View.CallbackID) <= 40 {
			defer b.metrics.handled("form", cb.View.CallbackID, time.Now())
		}
		resp, after, key := b.handleSubmission(b.workCtx, cb)
		done <- outcome{resp, after, key}
	}()
	// Slack's 3 s run from when the envelope arrived, not from when this goroutine started.
	timer := time.NewTimer(max(viewDeadline-time.Since(readAt), 0))
	defer timer.Stop()
	var o outcome
	select {
	case o = <-done:
		if o.resp == nil {
			b.ack(envelopeID, nil, readAt)
		} else {
			b.ack(envelopeID, o.resp, readAt)
		}
	case <-timer.C:
		b.log.Warn().Str("callback_id", cb.View.CallbackID).Msg("form took too long; acked without a response")
		b.ack(envelopeID, nil, readAt)
		o = <-done
		if o.resp != nil {
			// The modal is closed, so what the ack would have shown goes by DM instead.
			msg := "⚠️ Your form took too long to check, and nothing was saved. Please open it again."
			if o.resp.ResponseAction == slack.RAErrors {
				var msgs []string
				for _, m := range o.resp.Errors {
					msgs = append(msgs, m)
				}
				sort.Strings(msgs)
				msg = "⚠️ Your form could not be saved: " + esc(strings.Join(msgs, "; ")) + " Nothing was changed; please try again."
			}
			o.after, o.key = func(ctx context.Context) { r.say(ctx, msg) }, userKey
		}
	}
	if o.after != nil {
		// Already on this form's own goroutine, after the ack: nothing waits for it.
		ctx, cancel := context.WithTimeout(b.workCtx, time.Minute)
		defer cancel()
		o.after(ctx)
	}
}

// formSlotWait is how long a form waits for a free slot before being told to try again.
const formSlotWait = 500 * time.Millisecond

// busyResponse keeps the modal open with a note on its first input.
func busyResponse(cb slack.InteractionCallback) *slack.ViewSubmissionResponse {
	for _, blk := range cb.View.Blocks.BlockSet {
		if in, ok := blk.(*slack.InputBlock); ok && in.BlockID != "" {
			return slack.NewErrorsViewSubmissionResponse(map[string]string{in.BlockID: "workbot is very busy right now; please submit again."})
		}
	}
	return nil
}

// metaID reads a positive ID under key from a modal's private_metadata.
func metaID(meta, key string) (uint64, bool) {
	return parseID(parseMeta(meta)[key])
}

// replierFor answers a click: through response_url on messages, by DM from App Home.
func (b *Bot) replierFor(cb slack.InteractionCallback) replier {
	return replier{b: b, user: domain.UserID(cb.User.ID), channel: cb.Channel.ID, responseURL: cb.ResponseURL}
}

var (
	errStaleButton     = domain.Errorf(domain.EINVALID, "That button is no longer valid. Open the item again with `/work show KEY`.")
	errOutdatedWarning = domain.Errorf(domain.ECONFLICT, "This warning is out of date. Assign the item again to see where it stands now.")
)

func parseID(s string) (uint64, bool) {
	n, err := strconv.ParseUint(s, 10, 64)
	return n, err == nil && n > 0
}

func (b *Bot) handleAction(ctx context.Context, cb slack.InteractionCallback, act slack.BlockAction) {
	if len(act.ActionID) <= 40 {
		defer b.metrics.handled("action", act.ActionID, time.Now())
	}
	r := b.replierFor(cb)
	actor := r.user
	value := act.Value
	if act.ActionID == ActionMove {
		value = act.SelectedOption.Value
	}
	head, tail, _ := strings.Cut(value, "|")
	n, ok := parseID(head)
	switch act.ActionID {
	case ActionHomeRefresh:
		b.queueHome(ctx, actor)
		return
	case ActionPrefsNudges, ActionPrefsDigest:
		b.togglePref(ctx, r, value)
		return
	case ActionNoop:
		return
	case ActionFileDM:
		b.fileDM(ctx, r, cb, value)
		return
	case inputAction:
		if cb.View.CallbackID == ViewIntake && act.BlockID == BlockTitle {
			b.titleEntered(ctx, cb, act.Value)
		}
		return
	case ActionFollowInstead:
		if !ok {
			r.fail(ctx, errStaleButton)
			return
		}
		b.followInstead(ctx, cb, domain.ItemID(n))
		return
	}
	if !ok {
		r.fail(ctx, errStaleButton)
		return
	}
	itemID, handoffID := domain.ItemID(n), domain.HandoffID(n)
	openForm := func(action domain.Action, build func(domain.Item) slack.ModalViewRequest) {
		it, err := b.svc.Item(ctx, itemID)
		if err != nil {
			r.fail(ctx, err)
			return
		}
		if err := b.policy.Authorize(actor, action, domain.AuthContext{Item: &it}); err != nil {
			r.fail(ctx, err)
			return
		}
		b.openModal(ctx, r, cb.TriggerID, build(it))
	}
	switch act.ActionID {
	case ActionPrioritise:
		openForm(domain.ActTriage, prioritiseModal)
	case ActionAssign:
		openForm(domain.ActAssign, func(it domain.Item) slack.ModalViewRequest {
			loads, err := b.svc.Loads(ctx)
			if err != nil {
				b.log.Warn().Err(err).Msg("loads for the assign form")
			}
			return assignModal(it, sortByUtilisation(loads))
		})
	case ActionHandoff:
		openForm(domain.ActHandoffRequest, func(it domain.Item) slack.ModalViewRequest { return handoffModal(it, b.policy) })
	case ActionBlock:
		openForm(domain.ActBlock, func(it domain.Item) slack.ModalViewRequest {
			return reasonModal(ViewBlock, "Block "+it.Key, "Block", itemMeta(it.ID), itemRef(it), "What is it blocked by?")
		})
	case ActionReject:
		openForm(domain.ActReject, func(it domain.Item) slack.ModalViewRequest {
			return reasonModal(ViewReject, "Reject "+it.Key, "Reject", itemMeta(it.ID), itemRef(it), "Why is it rejected? The requester sees this.")
		})
	case ActionDuplicate:
		openForm(domain.ActDuplicate, duplicateModal)
	case ActionShow:
		v, events, err := b.itemViewWithEvents(ctx, itemID)
		if err != nil {
			r.fail(ctx, err)
			return
		}
		r.say(ctx, itemText(v), showBlocks(v, events)...)
	case ActionStart:
		b.apply(ctx, r, func() (domain.Result, error) { return b.svc.Start(ctx, actor, itemID) }, "Started")
	case ActionDone:
		b.apply(ctx, r, func() (domain.Result, error) { return b.svc.Done(ctx, actor, itemID) }, "Done")
	case ActionDuplicateOf:
		of, okOf := parseID(tail)
		if !okOf {
			r.fail(ctx, errStaleButton)
			return
		}
		b.apply(ctx, r, func() (domain.Result, error) { return b.svc.MarkDuplicate(ctx, actor, itemID, domain.ItemID(of)) }, "Closed as a duplicate")
	case ActionFollow:
		b.apply(ctx, r, func() (domain.Result, error) { return b.svc.Follow(ctx, actor, itemID) }, "You now hear what its requester hears about")
	case ActionUnblock:
		b.apply(ctx, r, func() (domain.Result, error) { return b.svc.Unblock(ctx, actor, itemID) }, "Unblocked")
	case ActionSnooze:
		until := b.policy.Calendar.AddWorkingTime(b.now(), 24*time.Hour)
		b.apply(ctx, r, func() (domain.Result, error) { return b.svc.Snooze(ctx, actor, itemID, until) }, "Snoozed for a working day")
	case ActionMove:
		stage, ok := b.findStage(tail)
		if !ok {
			r.fail(ctx, errStaleButton)
			return
		}
		b.apply(ctx, r, func() (domain.Result, error) { return b.svc.Move(ctx, actor, itemID, stage) }, "Moved")
	case ActionAssignConfirm, ActionAssignSuggested:
		who, ver, _ := strings.Cut(tail, "|")
		user, ok := parseUser(who)
		version, okVersion := parseID(ver)
		if !ok {
			r.fail(ctx, errStaleButton)
			return
		}
		if !okVersion {
			// A warning from before warnings carried their version cannot be checked against the item.
			r.fail(ctx, errOutdatedWarning)
			return
		}
		b.assignWithCheck(ctx, r, actor, itemID, user, version)
	case ActionHandoffAccept:
		b.apply(ctx, r, func() (domain.Result, error) { return b.svc.AcceptHandoff(ctx, actor, handoffID) }, "Accepted")
	case ActionHandoffApprove:
		b.apply(ctx, r, func() (domain.Result, error) { return b.svc.ApproveHandoff(ctx, actor, handoffID) }, "Approved")
	case ActionHandoffCancel:
		b.apply(ctx, r, func() (domain.Result, error) { return b.svc.CancelHandoff(ctx, actor, handoffID) }, "Cancelled")
	case ActionHandoffDecline, ActionHandoffRefuse:
		b.openReasonForHandoff(ctx, r, cb, act.ActionID, handoffID)
	default:
		r.say(ctx, "⚠️ I don't know that button. It may come from an older version of workbot.")
	}
}

func (b *Bot) openReasonForHandoff(ctx context.Context, r replier, cb slack.InteractionCallback, actionID string, id domain.HandoffID) {
	h, it, err := b.handoffAndItem(ctx, id)
	if err != nil {
		r.fail(ctx, err)
		return
	}
	action, view := domain.ActHandoffDecline, reasonModal(ViewDecline, "Decline handoff", "Decline", handoffMeta(id), itemRef(it), "Why are you declining? The sender sees this.")
	if actionID == ActionHandoffRefuse {
		action, view = domain.ActHandoffRefuse, reasonModal(ViewRefuse, "Refuse handoff", "Refuse", handoffMeta(id), itemRef(it), "Why is this handoff refused?")
	}
	actor, _, _ := b.person(ctx, r.user)
	if err := b.policy.Authorize(r.user, action, domain.AuthContext{Item: &it, Handoff: &h, ActorTeam: actor.Team}); err != nil {
		r.fail(ctx, err)
		return
	}
	b.openModal(ctx, r, cb.TriggerID, view)
}

func (b *Bot) togglePref(ctx context.Context, r replier, value string) {
	which, state, _ := strings.Cut(value, ":")
	if state != "on" && state != "off" {
		r.fail(ctx, errStaleButton)
		return
	}
	p, _, err := b.person(ctx, r.user)
	if err != nil {
		r.fail(ctx, err)
		return
	}
	nudgesOff, digestOff := p.NudgesOff, p.PersonalDigestOff
	switch which {
	case "nudges":
		nudgesOff = state == "off"
	case "digest":
		digestOff = state == "off"
	default:
		r.fail(ctx, errStaleButton)
		return
	}
	if _, err := b.svc.SetPrefs(ctx, r.user, r.user, nudgesOff, digestOff); err != nil {
		r.fail(ctx, err)
	}
}

// formValue reads one input of a submitted view, whatever its element type.
func formValue(cb slack.InteractionCallback, blockID string) string {
	a, ok := cb.View.State.Values[blockID][inputAction]
	if !ok {
		return ""
	}
	switch {
	case a.SelectedOption.Value != "":
		return a.SelectedOption.Value
	case a.SelectedUser != "":
		return a.SelectedUser
	case a.SelectedDate != "":
		return a.SelectedDate
	}
	return a.Value
}

func formInt(cb slack.InteractionCallback, blockID string) int {
	n, _ := strconv.Atoi(strings.TrimSpace(formValue(cb, blockID)))
	return n
}

// fieldBlocks maps domain field names to the form blocks that show them.
var fieldBlocks = map[string]string{
	"title": BlockTitle, "details": BlockDetails, "kind": BlockKind, "team": BlockTeam, "value": BlockValue,
	"urgency": BlockUrgency, "size": BlockSize, "due": BlockDue, "pin": BlockPin, "assignee": BlockAssignee,
	"to": BlockTarget, "target": BlockTarget, "note": BlockNoteNext, "next_stage": BlockNextStage,
	"reason": BlockReason, "duplicate_of": BlockOf, "of": BlockOf, "source": BlockTitle, "requester": BlockTitle,
}

// errorsResponse turns domain errors into the per-field errors of a view_submission ack. An error that
// names no field shown in the form is put on fallback so the person still sees it.
func errorsResponse(err error, cb slack.InteractionCallback, fallback string) *slack.ViewSubmissionResponse {
	errs := map[string]string{}
	add := func(e *domain.Error) {
		block := fieldBlocks[e.Field]
		if _, shown := cb.View.State.Values[block]; !shown || block == "" {
			block = fallback
		}
		if _, dup := errs[block]; !dup {
			errs[block] = cut(e.Message, 150)
		}
	}
	switch e := err.(type) {
	case domain.FieldErrors:
		for _, fe := range e {
			add(fe)
		}
	case *domain.Error:
		add(e)
	default:
		add(&domain.Error{Message: domain.ErrorMessage(err)})
	}
	return slack.NewErrorsViewSubmissionResponse(errs)
}

// handleSubmission validates and commits a form. It returns the ack response (nil closes the modal) and
// the announcements to make after the ack.
func (b *Bot) handleSubmission(ctx context.Context, cb slack.InteractionCallback) (*slack.ViewSubmissionResponse, func(context.Context), string) {
	actor := domain.UserID(cb.User.ID)
	r := replier{b: b, user: actor}
	meta := cb.View.PrivateMetadata
	rawItem, hasItem := metaID(meta, "item")
	rawHandoff, hasHandoff := metaID(meta, "handoff")
	itemID, handoffID := domain.ItemID(rawItem), domain.HandoffID(rawHandoff)
	userKey := "user:" + cb.User.ID
	commit := func(fallback string, op func() (domain.Result, error), verb string) (*slack.ViewSubmissionResponse, func(context.Context), string) {
		res, err := op()
		if err != nil {
			if domain.ErrorCode(err) == domain.EINTERNAL {
				b.log.Error().Err(err).Str("callback_id", cb.View.CallbackID).Msg("internal error")
			}
			return errorsResponse(err, cb, fallback), nil, ""
		}
		return nil, func(ctx context.Context) {
			if verb != "" {
				msg := "✅ " + verb + ": " + itemRef(res.Item)
				for _, w := range res.Warnings {
					msg += "\n⚠️ " + esc(w.Message)
				}
				r.say(ctx, msg)
			}
		}, itemKey(res.Item.ID)
	}
	needItem := func() bool { return hasItem }
	switch cb.View.CallbackID {
	case ViewIntake:
		src, requester := formFromMeta(meta)
		in := domain.NewItem{
			Source:    src,
			Requester: requester,
			Title:     formValue(cb, BlockTitle),
			Details:   formValue(cb, BlockDetails),
			Kind:      formValue(cb, BlockKind),
			Team:      domain.TeamID(formValue(cb, BlockTeam)),
			Value:     formInt(cb, BlockValue),
			Urgency:   formInt(cb, BlockUrgency),
			Size:      formInt(cb, BlockSize),
		}
		if s := formValue(cb, BlockDue); s != "" {
			d, err := domain.ParseDate(s)
			if err != nil {
				return slack.NewErrorsViewSubmissionResponse(map[string]string{BlockDue: "Pick a date."}), nil, ""
			}
			in.Due = d
		}
		return commit(BlockTitle, func() (domain.Result, error) { return b.svc.Create(ctx, actor, in) }, "")
	case ViewPrioritise:
		if !needItem() {
			break
		}
		t := domain.Triage{Value: formInt(cb, BlockValue), Urgency: formInt(cb, BlockUrgency), Size: formInt(cb, BlockSize)}
		if s := formValue(cb, BlockDue); s != "" {
			d, err := domain.ParseDate(s)
			if err != nil {
				return slack.NewErrorsViewSubmissionResponse(map[string]string{BlockDue: "Pick a date."}), nil, ""
			}
			t.Due = d
		} else {
			t.ClearDue = true
		}
		pin := strings.TrimSpace(formValue(cb, BlockPin))
		if pin == "" {
			t.Pin = -1
		} else if n, err := strconv.Atoi(pin); err != nil || n < 1 || n > 999 {
			return slack.NewErrorsViewSubmissionResponse(map[string]string{BlockPin: "A rank from 1 to 999, or empty."}), nil, ""
		} else {
			t.Pin = n
		}
		return commit(BlockValue, func() (domain.Result, error) { return b.svc.TriageItem(ctx, actor, itemID, t) }, "Prioritised")
	case ViewAssign:
		if !needItem() {
			break
		}
		user, ok := parseUser(formValue(cb, BlockAssignee))
		if !ok {
			return slack.NewErrorsViewSubmissionResponse(map[string]string{BlockAssignee: "Choose a person."}), nil, ""
		}
		pv, err := b.svc.PreviewAssign(ctx, actor, itemID, user)
		if err != nil {
			return errorsResponse(err, cb, BlockAssignee), nil, ""
		}
		if hasWarning(pv.Warnings, domain.WarnOverload) || hasWarning(pv.Warnings, domain.WarnAway) {
			confirm := assignConfirmModal(pv)
			return slack.NewUpdateViewSubmissionResponse(&confirm), nil, ""
		}
		return commit(BlockAssignee, func() (domain.Result, error) { return b.svc.Assign(ctx, actor, itemID, user) }, "Assigned")
	case ViewAssignConfirm:
		user, ok := parseUser(formValue(cb, BlockAssignee))
		if !ok {
			user, ok = parseUser(parseMeta(meta)["user"])
		}
		version, okVersion := metaID(meta, "version")
		if !needItem() || !ok {
			break
		}
		var res domain.Result
		var err error = errOutdatedWarning
		if okVersion {
			res, err = b.svc.ConfirmAssign(ctx, actor, itemID, user, version)
		}
		if err != nil {
			// The confirmation view has no inputs to hang an error on, so say it by message.
			return nil, func(ctx context.Context) { r.fail(ctx, err) }, userKey
		}
		return nil, func(ctx context.Context) {
			r.say(ctx, "✅ Assigned "+itemRef(res.Item)+" to "+mention(user)+".")
		}, itemKey(res.Item.ID)
	case ViewHandoff:
		if !needItem() {
			break
		}
		to, _ := parseUser(formValue(cb, BlockTarget))
		req := domain.HandoffRequest{
			To: to,
			Note: domain.HandoffNote{
				Done:  formValue(cb, BlockNoteDone),
				Next:  formValue(cb, BlockNoteNext),
				Links: formValue(cb, BlockNoteLinks),
			},
			NextStage: domain.StageID(formValue(cb, BlockNextStage)),
		}
		if req.To == "" {
			return slack.NewErrorsViewSubmissionResponse(map[string]string{BlockTarget: "Choose a person."}), nil, ""
		}
		return commit(BlockTarget, func() (domain.Result, error) { return b.svc.RequestHandoff(ctx, actor, itemID, req) }, "Handoff requested")
	case ViewDecline, ViewRefuse:
		if !hasHandoff {
			break
		}
		reason := formValue(cb, BlockReason)
		if cb.View.CallbackID == ViewDecline {
			return commit(BlockReason, func() (domain.Result, error) { return b.svc.DeclineHandoff(ctx, actor, handoffID, reason) }, "Declined")
		}
		return commit(BlockReason, func() (domain.Result, error) { return b.svc.RefuseHandoff(ctx, actor, handoffID, reason) }, "Refused")
	case ViewReject:
		if !needItem() {
			break
		}
		reason := formValue(cb, BlockReason)
		return commit(BlockReason, func() (domain.Result, error) { return b.svc.Reject(ctx, actor, itemID, reason) }, "Rejected")
	case ViewBlock:
		if !needItem() {
			break
		}
		reason := formValue(cb, BlockReason)
		return commit(BlockReason, func() (domain.Result, error) { return b.svc.Block(ctx, actor, itemID, reason) }, "Blocked")
	case ViewDuplicate:
		if !needItem() {
			break
		}
		of, err := domain.ParseKey(formValue(cb, BlockOf))
		if err != nil {
			return slack.NewErrorsViewSubmissionResponse(map[string]string{BlockOf: cut(domain.ErrorMessage(err), 150)}), nil, ""
		}
		return commit(BlockOf, func() (domain.Result, error) { return b.svc.MarkDuplicate(ctx, actor, itemID, of) }, "Closed as a duplicate")
	}
	b.log.Warn().Str("callback_id", cut(cb.View.CallbackID, 80)).Msg("submission of an unknown or malformed form")
	return nil, func(ctx context.Context) {
		r.say(ctx, "⚠️ That form is no longer valid (it may come from an older version of workbot). Nothing was changed.")
	}, userKey
}
