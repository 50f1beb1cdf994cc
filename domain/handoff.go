package domain

import (
	"context"
	"strconv"
	"unicode/utf8"
)

// needsApproval applies Policy.HandoffApproval. The work leaves the team of its current owner (or, when
// unassigned, the item's team, or the sender's), and goes to the target's team.
func (s *Service) needsApproval(tx ReadTx, it Item, actor UserID, req HandoffRequest) (bool, error) {
	switch s.Policy.HandoffApproval {
	case ApprovalAlways:
		return true, nil
	case ApprovalCrossTeam:
	default:
		return false, nil
	}
	teamOf := func(u UserID) (TeamID, error) {
		p, err := s.personOrNew(tx, u)
		return s.Policy.TeamOf(p), err
	}
	var from TeamID
	var err error
	switch {
	case it.Assignee != "":
		from, err = teamOf(it.Assignee)
	case it.Team != "":
		from = it.Team
	default:
		from, err = teamOf(actor)
	}
	if err != nil {
		return false, err
	}
	to := req.ToTeam
	if req.To != "" {
		if to, err = teamOf(req.To); err != nil {
			return false, err
		}
	}
	return from != to, nil
}

func (s *Service) validHandoffRequest(op *itemOp, req HandoffRequest) error {
	var errs FieldErrors
	switch {
	case (req.To == "") == (req.ToTeam == ""):
		errs = append(errs, FieldError("to", "Hand off to one person or one team."))
	case req.To == SystemActor || len(req.To) > 40:
		errs = append(errs, FieldError("to", "Choose a person to hand off to."))
	case req.To != "" && req.To == op.it.Assignee:
		errs = append(errs, FieldError("to", "%s is already assigned to them.", op.key()))
	case req.ToTeam != "":
		if _, ok := s.Policy.Team(req.ToTeam); !ok {
			errs = append(errs, FieldError("to", "There is no team %q.", truncateForMessage(string(req.ToTeam))))
		}
	}
	for _, f := range []struct{ field, text string }{{"done", req.Note.Done}, {"next", req.Note.Next}, {"links", req.Note.Links}} {
		if n := utf8.RuneCountInString(f.text); n > MaxNoteLen {
			errs = append(errs, FieldError(f.field, "The note is %d characters; keep it to %d.", n, MaxNoteLen))
		}
	}
	if req.NextStage != "" {
		if _, ok := s.Policy.Workflow.Stage(req.NextStage); !ok {
			errs = append(errs, FieldError("next_stage", "There is no stage %q.", truncateForMessage(string(req.NextStage))))
		}
	}
	return errs.Err()
}

// RequestHandoff asks to move the item to another person or team queue. It waits for a lead's approval
// first when Policy.HandoffApproval asks for it. Returns ENOTFOUND, EFORBIDDEN (not the assignee or a
// lead), ECONFLICT (closed item, or a handoff already waiting) and FieldErrors ("to", "done", "next",
// "links", "next_stage").
func (s *Service) RequestHandoff(ctx context.Context, actor UserID, id ItemID, req HandoffRequest) (Result, error) {
	return s.onItem(ctx, actor, id, ActHandoffRequest, func(op *itemOp) error {
		if op.it.PendingHandoff != 0 {
			if h, err := op.tx.Handoff(op.it.PendingHandoff); err == nil && !h.Status.Decided() {
				return Errorf(ECONFLICT, "%s already has a handoff waiting for a decision.", op.key())
			} else if err != nil && ErrorCode(err) != ENOTFOUND {
				return err
			}
		}
		if err := s.validHandoffRequest(op, req); err != nil {
			return err
		}
		approval, err := s.needsApproval(op.tx, op.it, actor, req)
		if err != nil {
			return err
		}
		hid, err := op.tx.NextHandoffID()
		if err != nil {
			return err
		}
		h := Handoff{
			ID: hid, ItemID: op.it.ID, From: op.it.Assignee, To: req.To, ToTeam: req.ToTeam,
			Note: req.Note, NextStage: req.NextStage, Status: HandoffPending,
			RequestedBy: actor, RequestedAt: op.now,
		}
		if approval {
			h.Status = HandoffAwaitingApproval
		}
		if err := op.tx.PutHandoff(h); err != nil {
			return err
		}
		op.it.PendingHandoff = hid
		op.handoff = &h
		op.record(Event{Type: EventHandoffRequested, Handoff: hid, Subject: h.To, Changes: []Change{
			{Field: "handoff_status", After: string(h.Status)},
			{Field: "pending_handoff", After: strconv.FormatUint(uint64(hid), 10)},
		}})
		return nil
	})
}

// onHandoff runs change on handoff hid and its item in one write transaction after authorizing act.
func (s *Service) onHandoff(ctx context.Context, actor UserID, hid HandoffID, act Action, change func(op *itemOp, h *Handoff) error) (Result, error) {
	now, err := s.ready()
	if err != nil {
		return Result{}, err
	}
	var res Result
	err = s.Store.Update(ctx, func(tx Tx) error {
		h, err := tx.Handoff(hid)
		if ErrorCode(err) == ENOTFOUND {
			return Errorf(ENOTFOUND, "There is no such handoff.")
		}
		if err != nil {
			return err
		}
		it, err := s.loadItem(tx, h.ItemID)
		if err != nil {
			return err
		}
		var actorTeam TeamID
		if a, ok, err := tx.Person(actor); err != nil {
			return err
		} else if ok {
			actorTeam = a.Team
		}
		if err := s.Policy.Authorize(actor, act, AuthContext{Item: &it, Handoff: &h, ActorTeam: actorTeam}); err != nil {
			return err
		}
		op := &itemOp{s: s, tx: tx, actor: actor, now: now, before: it, it: it}
		before := h.Status
		if err := change(op, &h); err != nil {
			return err
		}
		if h.Status.Decided() && op.it.PendingHandoff == h.ID {
			op.it.PendingHandoff = 0
		}
		if err := tx.PutHandoff(h); err != nil {
			return err
		}
		op.handoff = &h
		// The handoff's own event goes first, so history reads "accepted" before "moved".
		ev := Event{At: now, Actor: actor, Type: handoffEventType(h.Status, before), ItemID: it.ID, Handoff: h.ID, Subject: h.To, Note: h.Reason,
			Changes: []Change{{Field: "handoff_status", Before: string(before), After: string(h.Status)}}}
		if op.it.Assignee != op.before.Assignee {
			ev.Changes = append(ev.Changes, Change{Field: "assignee", Before: string(op.before.Assignee), After: string(op.it.Assignee)})
			ev.Subject = op.it.Assignee
		}
		if op.it.Team != op.before.Team {
			ev.Changes = append(ev.Changes, Change{Field: "team", Before: string(op.before.Team), After: string(op.it.Team)})
		}
		if op.it.PendingHandoff != op.before.PendingHandoff {
			ev.Changes = append(ev.Changes, Change{Field: "pending_handoff", Before: strconv.FormatUint(uint64(op.before.PendingHandoff), 10), After: ""})
		}
		op.events = append([]Event{ev}, op.events...)
		if err := op.commit(); err != nil {
			return err
		}
		res = op.result()
		return s.effects(tx, res)
	})
	if err != nil {
		return Result{}, err
	}
	return res, nil
}

func handoffEventType(after, before HandoffStatus) EventType {
	switch after {
	case HandoffPending:
		if before == HandoffAwaitingApproval {
			return EventHandoffApproved
		}
	case HandoffAccepted:
		return EventHandoffAccepted
	case HandoffDeclined:
		return EventHandoffDeclined
	case HandoffCancelled:
		return EventHandoffCancelled
	case HandoffRejected:
		return EventHandoffRefused
	}
	return EventHandoffRequested
}

// ApproveHandoff lets a waiting handoff through to its target. Returns ENOTFOUND, EFORBIDDEN (not a lead
// of the source or target team) and ECONFLICT (not awaiting approval: already decided or approved).
func (s *Service) ApproveHandoff(ctx context.Context, actor UserID, hid HandoffID) (Result, error) {
	return s.onHandoff(ctx, actor, hid, ActHandoffApprove, func(op *itemOp, h *Handoff) error {
		h.Status, h.ApprovedBy, h.ApprovedAt = HandoffPending, op.actor, op.now
		return nil
	})
}

// RefuseHandoff is a lead's refusal to approve; the item stays with its owner. Returns ENOTFOUND,
// EFORBIDDEN, ECONFLICT (not awaiting approval) and EINVALID (Field "reason": too long).
func (s *Service) RefuseHandoff(ctx context.Context, actor UserID, hid HandoffID, reason string) (Result, error) {
	return s.onHandoff(ctx, actor, hid, ActHandoffRefuse, func(op *itemOp, h *Handoff) error {
		reason, err := validReason("reason", reason, false)
		if err != nil {
			return err
		}
		h.Status, h.DecidedBy, h.DecidedAt, h.Reason = HandoffRejected, op.actor, op.now, reason
		return nil
	})
}

// AcceptHandoff makes the target (or, for a team queue, the accepting member, and the item joins that
// team) the assignee, then makes the requested stage move if the workflow allows it; otherwise the move
// is skipped with a WarnStageSkipped warning. Warns WarnOverload when the new assignee goes over
// capacity. Returns ENOTFOUND, EFORBIDDEN (not the target) and ECONFLICT (not pending: awaiting
// approval or already decided).
func (s *Service) AcceptHandoff(ctx context.Context, actor UserID, hid HandoffID) (Result, error) {
	return s.onHandoff(ctx, actor, hid, ActHandoffAccept, func(op *itemOp, h *Handoff) error {
		h.Status, h.DecidedBy, h.DecidedAt = HandoffAccepted, op.actor, op.now
		assignee := h.To
		if assignee == "" {
			assignee = op.actor
			op.it.Team = h.ToTeam
		}
		pv, err := s.previewAssign(op.tx, op.it, assignee, s.today(op.now))
		if err != nil {
			return err
		}
		for _, w := range pv.Warnings {
			if w.Code == WarnOverload {
				op.warnings = append(op.warnings, w)
			}
		}
		op.it.Assignee = assignee
		op.it.PendingHandoff = 0
		if h.NextStage == "" || h.NextStage == op.it.Stage {
			return nil
		}
		st, err := op.checkMove(h.NextStage)
		if err != nil {
			op.warn(WarnStageSkipped, "%s stays in %s: %s", op.key(), s.stageLabel(op.it.Stage), ErrorMessage(err))
			return nil
		}
		return op.moveTo(st, EventMoved, "")
	})
}

// DeclineHandoff is the target's refusal; the item stays with its owner. Returns ENOTFOUND, EFORBIDDEN
// (not the target), ECONFLICT (not pending) and EINVALID (Field "reason": missing or too long).
func (s *Service) DeclineHandoff(ctx context.Context, actor UserID, hid HandoffID, reason string) (Result, error) {
	return s.onHandoff(ctx, actor, hid, ActHandoffDecline, func(op *itemOp, h *Handoff) error {
		reason, err := validReason("reason", reason, true)
		if err != nil {
			return err
		}
		h.Status, h.DecidedBy, h.DecidedAt, h.Reason = HandoffDeclined, op.actor, op.now, reason
		return nil
	})
}

// CancelHandoff withdraws a handoff that is still undecided. Returns ENOTFOUND, EFORBIDDEN (not the
// sender or a lead) and ECONFLICT (already decided).
func (s *Service) CancelHandoff(ctx context.Context, actor UserID, hid HandoffID) (Result, error) {
	return s.onHandoff(ctx, actor, hid, ActHandoffCancel, func(op *itemOp, h *Handoff) error {
		h.Status, h.DecidedBy, h.DecidedAt = HandoffCancelled, op.actor, op.now
		return nil
	})
}

// EscalateHandoffs marks, as SystemActor, every undecided handoff that has waited longer than
// Policy.HandoffEscalateAfter in working time, once each, and returns those it marked now. A zero
// HandoffEscalateAfter disables escalation. Returns only storage errors.
func (s *Service) EscalateHandoffs(ctx context.Context) ([]Handoff, error) {
	now, err := s.ready()
	if err != nil {
		return nil, err
	}
	if s.Policy.HandoffEscalateAfter <= 0 {
		return nil, nil
	}
	if err := s.Policy.Authorize(SystemActor, ActEscalate, AuthContext{}); err != nil {
		return nil, err
	}
	wanted := func(h Handoff) bool {
		return h.EscalatedAt.IsZero() && !h.Status.Decided() &&
			s.Policy.Calendar.WorkingTime(h.RequestedAt, now) > s.Policy.HandoffEscalateAfter
	}
	// Candidates come from a read-only scan; the write transaction re-reads each by ID and decides
	// again, so it never scans while holding the writer.
	var candidates []HandoffID
	if err := s.Store.View(ctx, func(tx ReadTx) error {
		candidates = candidates[:0]
		return tx.PendingHandoffs(func(h Handoff) bool {
			if wanted(h) {
				candidates = append(candidates, h.ID)
			}
			return true
		})
	}); err != nil {
		return nil, err
	}
	if len(candidates) == 0 {
		return nil, nil
	}
	var escalated []Handoff
	err = s.Store.Update(ctx, func(tx Tx) error {
		var due []Handoff
		for _, id := range candidates {
			h, err := tx.Handoff(id)
			if ErrorCode(err) == ENOTFOUND {
				continue
			}
			if err != nil {
				return err
			}
			if wanted(h) {
				due = append(due, h)
			}
		}
		for i := range due {
			due[i].EscalatedAt = now
			if err := tx.PutHandoff(due[i]); err != nil {
				return err
			}
			ev := Event{At: now, Actor: SystemActor, Type: EventHandoffEscalated,
				ItemID: due[i].ItemID, Handoff: due[i].ID, Subject: due[i].To,
				Changes: []Change{{Field: "escalated_at", After: formatTime(now)}}}
			if err := tx.AppendEvent(ev); err != nil {
				return err
			}
			if s.Effects != nil {
				it, err := tx.Item(due[i].ItemID)
				if err != nil {
					return err
				}
				h := due[i]
				if err := s.effects(tx, Result{Item: it, Handoff: &h, Events: []Event{ev}}); err != nil {
					return err
				}
			}
		}
		escalated = due
		return nil
	})
	if err != nil {
		return nil, err
	}
	return escalated, nil
}
