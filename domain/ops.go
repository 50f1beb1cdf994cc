package domain

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Event types and warning codes this file adds to those in types.go and service.go.
const (
	// EventNudged records that the assignee was nudged about a nearing stall.
	EventNudged EventType = "nudged"
	// WarnStageSkipped says an accepted handoff could not make its requested stage move.
	WarnStageSkipped = "stage_skipped"
)

// Limits on operation inputs.
const (
	MaxPin          = 999
	MaxDependencies = 50
	MaxSnooze       = 90 * 24 * time.Hour
)

// errNoClock is returned instead of panicking when the Service was built without its parts.
var errNoClock = errors.New("domain: Service needs Store, Policy and Now")

func (s *Service) ready() (time.Time, error) {
	if s == nil || s.Store == nil || s.Policy == nil || s.Now == nil {
		return time.Time{}, errNoClock
	}
	return s.Now(), nil
}

func (s *Service) today(now time.Time) Date { return s.Policy.Calendar.Today(now) }

// itemOp is one operation's change to one item inside a write transaction. It is rebuilt on every run of
// the Update function, so nothing it gathers leaks from a discarded run.
type itemOp struct {
	s        *Service
	tx       Tx
	actor    UserID
	now      time.Time
	before   Item
	it       Item
	handoff  *Handoff
	events   []Event
	warnings []Warning
	// quiet marks bookkeeping (nudges) that must not count as activity, or it would reset the stall
	// clock it reports on.
	quiet bool
}

func (op *itemOp) key() string { return op.s.Policy.keyOf(&op.it) }

func (op *itemOp) record(e Event) {
	e.At, e.Actor, e.ItemID = op.now, op.actor, op.it.ID
	op.events = append(op.events, e)
}

func (op *itemOp) warn(code, format string, args ...any) {
	op.warnings = append(op.warnings, Warning{Code: code, Message: fmt.Sprintf(format, args...)})
}

func (op *itemOp) commit() error {
	op.it.Version++
	op.it.UpdatedAt = op.now
	if !op.quiet {
		op.it.LastActivityAt = op.now
	}
	if err := op.tx.PutItem(op.it); err != nil {
		return err
	}
	for _, e := range op.events {
		if err := op.tx.AppendEvent(e); err != nil {
			return err
		}
	}
	return nil
}

func (op *itemOp) result() Result {
	return Result{Item: op.it, Handoff: op.handoff, Events: op.events, Warnings: op.warnings}
}

// loadItem reads an item, naming it by key when it does not exist.
func (s *Service) loadItem(tx ReadTx, id ItemID) (Item, error) {
	it, err := tx.Item(id)
	if ErrorCode(err) == ENOTFOUND {
		return Item{}, Errorf(ENOTFOUND, "There is no %s.", FormatKey(s.Policy.KeyPrefix, id))
	}
	return it, err
}

// onItem runs change on item id in one write transaction after authorizing act, then stores the item
// and the events change recorded.
func (s *Service) onItem(ctx context.Context, actor UserID, id ItemID, act Action, change func(op *itemOp) error) (Result, error) {
	now, err := s.ready()
	if err != nil {
		return Result{}, err
	}
	var res Result
	err = s.Store.Update(ctx, func(tx Tx) error {
		it, err := s.loadItem(tx, id)
		if err != nil {
			return err
		}
		if err := s.Policy.Authorize(actor, act, AuthContext{Item: &it}); err != nil {
			return err
		}
		op := &itemOp{s: s, tx: tx, actor: actor, now: now, before: it, it: it}
		if err := change(op); err != nil {
			return err
		}
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

// effects hands a staged result to the Effects hook, inside its transaction.
func (s *Service) effects(tx Tx, res Result) error {
	if s.Effects == nil {
		return nil
	}
	return s.Effects(tx, res)
}

func stageName(st Stage) string {
	if st.Name != "" {
		return st.Name
	}
	return string(st.ID)
}

func (s *Service) stageLabel(id StageID) string {
	if st, ok := s.Policy.Workflow.Stage(id); ok {
		return stageName(st)
	}
	return string(id)
}

// checkMove refuses a move the workflow does not list, saying where the item can go instead.
func (op *itemOp) checkMove(to StageID) (Stage, error) {
	w := &op.s.Policy.Workflow
	target, ok := w.Stage(to)
	if !ok {
		return Stage{}, FieldError("stage", "There is no stage %q.", truncateForMessage(string(to)))
	}
	if op.it.Stage == to {
		return Stage{}, Errorf(ECONFLICT, "%s is already in %s.", op.key(), stageName(target))
	}
	if !w.CanMove(op.it.Stage, to) {
		next := make([]string, 0, len(w.Transitions[op.it.Stage]))
		for _, id := range w.Transitions[op.it.Stage] {
			next = append(next, op.s.stageLabel(id))
		}
		from := op.s.stageLabel(op.it.Stage)
		if len(next) == 0 {
			return Stage{}, Errorf(ECONFLICT, "%s cannot move from %s to %s.", op.key(), from, stageName(target))
		}
		return Stage{}, Errorf(ECONFLICT, "%s cannot move from %s to %s. From %s it can go to: %s.",
			op.key(), from, stageName(target), from, strings.Join(next, ", "))
	}
	if to == w.Start && op.it.Assignee == "" {
		return Stage{}, Errorf(ECONFLICT, "Assign %s first: work in %s needs an owner.", op.key(), stageName(target))
	}
	return target, nil
}

// moveTo puts the item in stage to and records the event. Reaching a terminal stage closes the item
// and cancels any handoff still waiting, since there is nothing left to hand off.
func (op *itemOp) moveTo(to Stage, typ EventType, note string, extra ...Change) error {
	changes := []Change{{Field: "stage", Before: string(op.it.Stage), After: string(to.ID)}}
	if to.Terminal {
		if err := op.dropPendingHandoff(op.key() + " was closed"); err != nil {
			return err
		}
		res := op.s.Policy.Workflow.resolutionFor(to)
		if typ == EventDuplicate {
			res = ResolutionDuplicate
		}
		changes = append(changes, Change{Field: "resolution", Before: string(op.it.Resolution), After: string(res)})
		op.it.Resolution = res
		op.it.DoneAt = op.now
	} else if err := op.wipWarning(to); err != nil {
		return err
	}
	op.it.Stage = to.ID
	op.it.StageEnteredAt = op.now
	op.it.NudgedAt = time.Time{}
	op.record(Event{Type: typ, Note: note, Changes: append(changes, extra...)})
	return nil
}

// wipWarning warns when moving the item into stage would take it over its WIP limit. The count comes
// from the store's aggregates: a write transaction must not scan the stage.
func (op *itemOp) wipWarning(st Stage) error {
	if st.WIPLimit <= 0 {
		return nil
	}
	counts, err := op.tx.OpenCounts()
	if err != nil {
		return err
	}
	count := counts.ByStage[st.ID]
	if op.before.Open() && op.before.Stage == st.ID {
		count-- // the stored copy of this item, which is about to move
	}
	if count+1 > st.WIPLimit {
		op.warn(WarnWIPLimit, "%s will hold %d items; its WIP limit is %d.", stageName(st), count+1, st.WIPLimit)
	}
	return nil
}

// dropPendingHandoff cancels the item's undecided handoff, if any, because the item changed under it.
func (op *itemOp) dropPendingHandoff(reason string) error {
	if op.it.PendingHandoff == 0 {
		return nil
	}
	hid := op.it.PendingHandoff
	op.it.PendingHandoff = 0
	h, err := op.tx.Handoff(hid)
	if ErrorCode(err) == ENOTFOUND {
		return nil
	}
	if err != nil {
		return err
	}
	if h.Status.Decided() {
		return nil
	}
	before := h.Status
	h.Status, h.DecidedBy, h.DecidedAt, h.Reason = HandoffCancelled, op.actor, op.now, reason
	if err := op.tx.PutHandoff(h); err != nil {
		return err
	}
	op.record(Event{Type: EventHandoffCancelled, Handoff: h.ID, Subject: h.To, Note: reason, Changes: []Change{
		{Field: "handoff_status", Before: string(before), After: string(HandoffCancelled)},
		{Field: "pending_handoff", Before: strconv.FormatUint(uint64(hid), 10), After: ""},
	}})
	return nil
}

// Create records a new request in the workflow's initial stage, filed by actor for in.Requester (the
// actor when empty). Returns FieldErrors (EINVALID, every bad field at once: "title", "details", "kind",
// "team", "value", "urgency", "size", "due", "requester", "source") and EFORBIDDEN for an unidentified
// actor. A source message already filed returns ECONFLICT (Field "source") together with a Result
// holding the existing item, so the caller can point to it: one message never becomes two items.
func (s *Service) Create(ctx context.Context, actor UserID, in NewItem) (Result, error) {
	now, err := s.ready()
	if err != nil {
		return Result{}, err
	}
	if err := s.Policy.Authorize(actor, ActCreate, AuthContext{}); err != nil {
		return Result{}, err
	}
	in, err = s.Policy.validateNewItem(in, s.today(now))
	if err != nil {
		return Result{}, err
	}
	requester := in.Requester
	if requester == "" {
		requester = actor
	}
	var res Result
	var existing *Item
	err = s.Store.Update(ctx, func(tx Tx) error {
		existing = nil
		if !in.Source.IsZero() {
			id, ok, err := tx.ItemBySource(in.Source.Key())
			if err != nil {
				return err
			}
			if ok {
				it, err := tx.Item(id)
				if err != nil {
					return err
				}
				existing = &it
				return nil
			}
		}
		id, err := tx.NextItemID()
		if err != nil {
			return err
		}
		it := Item{
			ID: id, Key: FormatKey(s.Policy.KeyPrefix, id),
			Title: in.Title, Details: in.Details, Kind: in.Kind, Requester: requester, Team: in.Team,
			Value: in.Value, Urgency: in.Urgency, Size: in.Size, Due: in.Due,
			Stage:     s.Policy.Workflow.Initial,
			CreatedAt: now, StageEnteredAt: now, LastActivityAt: now, UpdatedAt: now, Version: 1,
			Source: in.Source,
		}
		ev := Event{At: now, Actor: actor, Type: EventCreated, ItemID: id, Subject: requester, Changes: []Change{
			{Field: "title", After: it.Title},
			{Field: "stage", After: string(it.Stage)},
		}}
		if requester != actor {
			ev.Changes = append(ev.Changes, Change{Field: "requester", After: string(requester)})
		}
		if !in.Source.IsZero() {
			ev.Changes = append(ev.Changes, Change{Field: "source", After: in.Source.Key()})
		}
		if err := tx.PutItem(it); err != nil {
			return err
		}
		if err := tx.AppendEvent(ev); err != nil {
			return err
		}
		res = Result{Item: it, Events: []Event{ev}}
		return s.effects(tx, res)
	})
	if err != nil {
		return Result{}, err
	}
	if existing != nil {
		return Result{Item: *existing}, &Error{Code: ECONFLICT, Field: "source",
			Message: fmt.Sprintf("That message was already filed as %s.", s.Policy.keyOf(existing))}
	}
	return res, nil
}

// Follow makes actor a follower of the item: they hear what its requester hears. Following is not
// work on the item, so it does not reset its stall clock. Returns ENOTFOUND, ECONFLICT (closed, or
// already following or requesting it; or MaxFollowers reached).
func (s *Service) Follow(ctx context.Context, actor UserID, id ItemID) (Result, error) {
	return s.onItem(ctx, actor, id, ActFollow, func(op *itemOp) error {
		if slices.Contains(op.it.Followers, actor) || op.it.Requester == actor {
			return Errorf(ECONFLICT, "You already hear about %s.", op.key())
		}
		if len(op.it.Followers) >= MaxFollowers {
			return Errorf(ECONFLICT, "%s has %d followers, the most it can have.", op.key(), MaxFollowers)
		}
		op.quiet = true
		op.it.Followers = append(slices.Clone(op.it.Followers), actor)
		op.record(Event{Type: EventFollowed, Subject: actor})
		return nil
	})
}

// Unfollow stops actor following the item. Returns ENOTFOUND and ECONFLICT (not following it).
func (s *Service) Unfollow(ctx context.Context, actor UserID, id ItemID) (Result, error) {
	return s.onItem(ctx, actor, id, ActView, func(op *itemOp) error {
		i := slices.Index(op.it.Followers, actor)
		if i < 0 {
			return Errorf(ECONFLICT, "You do not follow %s.", op.key())
		}
		op.quiet = true
		op.it.Followers = slices.Delete(slices.Clone(op.it.Followers), i, i+1)
		op.record(Event{Type: EventUnfollowed, Subject: actor})
		return nil
	})
}

// Item returns the item. Returns ENOTFOUND if there is none with that ID.
func (s *Service) Item(ctx context.Context, id ItemID) (Item, error) {
	if _, err := s.ready(); err != nil {
		return Item{}, err
	}
	var it Item
	err := s.Store.View(ctx, func(tx ReadTx) error {
		var err error
		it, err = s.loadItem(tx, id)
		return err
	})
	return it, err
}

// TriageItem applies a lead's prioritisation, marks the item triaged and moves it out of the initial
// stage. Returns ENOTFOUND, EFORBIDDEN (not a lead of the item's team), ECONFLICT (closed item) and
// FieldErrors ("value", "urgency", "size", "due", "team", "pin").
func (s *Service) TriageItem(ctx context.Context, actor UserID, id ItemID, t Triage) (Result, error) {
	return s.onItem(ctx, actor, id, ActTriage, func(op *itemOp) error {
		var errs FieldErrors
		var changes []Change
		setInt := func(field, label string, v int, cur *int, check func(string, string, int) (int, *Error)) {
			if v == 0 {
				return
			}
			if _, err := check(field, label, v); err != nil {
				errs = append(errs, err)
				return
			}
			if v != *cur {
				changes = append(changes, Change{Field: field, Before: strconv.Itoa(*cur), After: strconv.Itoa(v)})
				*cur = v
			}
		}
		setInt("value", "Value", t.Value, &op.it.Value, rating)
		setInt("urgency", "Urgency", t.Urgency, &op.it.Urgency, rating)
		setInt("size", "Size", t.Size, &op.it.Size, func(f, _ string, v int) (int, *Error) { return size(f, v) })
		switch {
		case t.ClearDue && !op.it.Due.IsZero():
			changes = append(changes, Change{Field: "due", Before: op.it.Due.String()})
			op.it.Due = Date{}
		case !t.ClearDue && !t.Due.IsZero() && t.Due != op.it.Due:
			if err := dueDate("due", t.Due, s.today(op.now)); err != nil {
				errs = append(errs, err)
			} else {
				changes = append(changes, Change{Field: "due", Before: op.it.Due.String(), After: t.Due.String()})
				op.it.Due = t.Due
			}
		}
		if t.Team != "" && t.Team != op.it.Team {
			if _, ok := s.Policy.Team(t.Team); !ok && len(s.Policy.Teams) > 0 {
				errs = append(errs, FieldError("team", "There is no team %q.", truncateForMessage(string(t.Team))))
			} else {
				changes = append(changes, Change{Field: "team", Before: string(op.it.Team), After: string(t.Team)})
				op.it.Team = t.Team
			}
		}
		switch {
		case t.Pin == -1 && op.it.Pin != 0:
			changes = append(changes, Change{Field: "pin", Before: strconv.Itoa(op.it.Pin), After: "0"})
			op.it.Pin = 0
		case t.Pin < -1 || t.Pin > MaxPin:
			errs = append(errs, FieldError("pin", "The pin rank must be from 1 to %d.", MaxPin))
		case t.Pin > 0 && t.Pin != op.it.Pin:
			changes = append(changes, Change{Field: "pin", Before: strconv.Itoa(op.it.Pin), After: strconv.Itoa(t.Pin)})
			op.it.Pin = t.Pin
		}
		if len(errs) > 0 {
			return errs
		}
		if !op.it.Triaged {
			changes = append(changes, Change{Field: "triaged", Before: "false", After: "true"})
			op.it.Triaged = true
		}
		w := &s.Policy.Workflow
		if op.it.Stage == w.Initial && w.Triaged != w.Initial {
			// The workflow names the triaged stage explicitly, so triage may move there even when the
			// configured transitions forgot to list it.
			if st, ok := w.Stage(w.Triaged); ok {
				if err := op.moveTo(st, EventMoved, ""); err != nil {
					return err
				}
			}
		}
		op.record(Event{Type: EventTriaged, Changes: changes})
		return nil
	})
}

// Reject closes the item in the workflow's rejected stage. The reason is optional. Returns ENOTFOUND,
// EFORBIDDEN (not a lead), ECONFLICT (already closed) and EINVALID (Field "reason": too long).
func (s *Service) Reject(ctx context.Context, actor UserID, id ItemID, reason string) (Result, error) {
	return s.onItem(ctx, actor, id, ActReject, func(op *itemOp) error {
		reason, err := validReason("reason", reason, false)
		if err != nil {
			return err
		}
		st, ok := s.Policy.Workflow.Stage(s.Policy.Workflow.Rejected)
		if !ok {
			return Errorf(EINTERNAL, "the workflow has no rejected stage")
		}
		return op.moveTo(st, EventRejected, reason)
	})
}

// MarkDuplicate closes the item as a duplicate of another. Returns ENOTFOUND (either item), EFORBIDDEN
// (not a lead), ECONFLICT (already closed) and EINVALID (Field "of": the item itself).
func (s *Service) MarkDuplicate(ctx context.Context, actor UserID, id, of ItemID) (Result, error) {
	return s.onItem(ctx, actor, id, ActDuplicate, func(op *itemOp) error {
		if of == id {
			return FieldError("of", "%s cannot be a duplicate of itself.", op.key())
		}
		original, err := s.loadItem(op.tx, of)
		if err != nil {
			return err
		}
		st, ok := s.Policy.Workflow.Stage(s.Policy.Workflow.Rejected)
		if !ok {
			return Errorf(EINTERNAL, "the workflow has no rejected stage")
		}
		op.it.DuplicateOf = of
		return op.moveTo(st, EventDuplicate, "duplicate of "+s.Policy.keyOf(&original),
			Change{Field: "duplicate_of", After: s.Policy.keyOf(&original)})
	})
}

// PreviewAssign says what assigning the item to assignee would do to their load, without changing
// anything. Returns ENOTFOUND, EFORBIDDEN (not a lead), ECONFLICT (closed item) and EINVALID (Field
// "assignee").
func (s *Service) PreviewAssign(ctx context.Context, actor UserID, id ItemID, assignee UserID) (AssignPreview, error) {
	now, err := s.ready()
	if err != nil {
		return AssignPreview{}, err
	}
	var pv AssignPreview
	err = s.Store.View(ctx, func(tx ReadTx) error {
		it, err := s.loadItem(tx, id)
		if err != nil {
			return err
		}
		if err := s.Policy.Authorize(actor, ActAssign, AuthContext{Item: &it}); err != nil {
			return err
		}
		if err := validAssignee(assignee); err != nil {
			return err
		}
		pv, err = s.previewAssign(tx, it, assignee, s.today(now))
		return err
	})
	if err != nil {
		return AssignPreview{}, err
	}
	return pv, nil
}

func validAssignee(u UserID) error {
	if u == "" || u == SystemActor || len(u) > 40 {
		return FieldError("assignee", "Choose a person to assign.")
	}
	return nil
}

func (s *Service) personOrNew(tx ReadTx, id UserID) (Person, error) {
	p, ok, err := tx.Person(id)
	if err != nil {
		return Person{}, err
	}
	if !ok {
		return Person{ID: id}, nil
	}
	return p, nil
}

// loadOf is a person's load from the store's workload aggregate.
func (s *Service) loadOf(tx ReadTx, person Person, today Date) (PersonLoad, error) {
	w, err := tx.Workload(person.ID)
	if err != nil {
		return PersonLoad{}, err
	}
	return s.Policy.LoadWith(person, w, today), nil
}

// assignWarnings fills the assignee's load before and after, and the overload and away warnings. It
// reads two keys, so Assign can run it inside its write transaction.
func (s *Service) assignWarnings(tx ReadTx, it Item, assignee UserID, today Date) (AssignPreview, Person, error) {
	pol := s.Policy
	person, err := s.personOrNew(tx, assignee)
	if err != nil {
		return AssignPreview{}, Person{}, err
	}
	load, err := s.loadOf(tx, person, today)
	if err != nil {
		return AssignPreview{}, Person{}, err
	}
	pv := AssignPreview{Item: it, Assignee: load}
	pv.After = pv.Assignee
	if it.Assignee != assignee {
		pv.After = pol.WithExtra(pv.Assignee, it.Size)
	}
	if pv.After.Overloaded {
		pv.Warnings = append(pv.Warnings, Warning{Code: WarnOverload, Message: overloadMessage(pv.After)})
	}
	if !person.AwayUntil.IsZero() && !person.AwayUntil.Before(today) {
		pv.Warnings = append(pv.Warnings, Warning{Code: WarnAway, Message: fmt.Sprintf("They are away until %s.", person.AwayUntil)})
	}
	return pv, person, nil
}

// previewAssign is assignWarnings plus the teammates' loads and the suggestion, which read every
// stored person: it runs in read-only transactions.
func (s *Service) previewAssign(tx ReadTx, it Item, assignee UserID, today Date) (AssignPreview, error) {
	pol := s.Policy
	pv, person, err := s.assignWarnings(tx, it, assignee, today)
	if err != nil {
		return AssignPreview{}, err
	}
	team := pol.TeamOf(person)
	if team == "" {
		team = it.Team
	}
	if team == "" {
		return pv, nil
	}
	mates := map[UserID]bool{}
	if t, ok := pol.Team(team); ok {
		for _, m := range t.Members {
			mates[m] = true
		}
	}
	stored := map[UserID]Person{}
	if err := tx.People(func(p Person) bool {
		stored[p.ID] = p
		if pol.TeamOf(p) == team {
			mates[p.ID] = true
		}
		return true
	}); err != nil {
		return AssignPreview{}, err
	}
	delete(mates, assignee)
	delete(mates, SystemActor)
	for _, id := range sortedUsers(mates) {
		mate, ok := stored[id]
		if !ok {
			mate = Person{ID: id}
		} else if pol.TeamOf(mate) != team {
			continue // a stored team overrides the configured membership
		}
		load, err := s.loadOf(tx, mate, today)
		if err != nil {
			return AssignPreview{}, err
		}
		pv.Candidates = append(pv.Candidates, load)
	}
	sort.SliceStable(pv.Candidates, func(i, j int) bool {
		return pv.Candidates[i].Utilisation < pv.Candidates[j].Utilisation
	})
	for i := range pv.Candidates {
		c := pv.Candidates[i]
		if after := pol.WithExtra(c, it.Size); c.Capacity > 0 && !after.Overloaded {
			pv.Suggestion = &c
			break
		}
	}
	return pv, nil
}

func overloadMessage(after PersonLoad) string {
	if after.Capacity == 0 {
		return fmt.Sprintf("They have no capacity right now and would carry %d points.", after.Load)
	}
	return fmt.Sprintf("This takes them to %d of %d points (%.0f%%), over capacity.", after.Load, after.Capacity, after.Utilisation*100)
}

// Assign makes assignee the owner of the item, cancelling any handoff that was waiting, and returns the
// same warnings as PreviewAssign. Returns ENOTFOUND, EFORBIDDEN (not a lead), ECONFLICT (closed item or
// already theirs) and EINVALID (Field "assignee").
//
// An item still waiting in the initial stage leaves it: a lead who picks an owner has decided the
// work is going ahead, and its owner must be able to start it. It moves to the triaged stage, still
// marked untriaged, since nobody set its value or urgency.
func (s *Service) Assign(ctx context.Context, actor UserID, id ItemID, assignee UserID) (Result, error) {
	return s.assign(ctx, actor, id, assignee, 0)
}

// ConfirmAssign is Assign confirmed from an overload warning that was shown for version shown of the
// item. Returns ECONFLICT when the item changed since: the warning no longer describes it.
func (s *Service) ConfirmAssign(ctx context.Context, actor UserID, id ItemID, assignee UserID, shown uint64) (Result, error) {
	return s.assign(ctx, actor, id, assignee, shown)
}

// shown is the version a confirmation was shown for; 0 when there was none (versions start at 1).
func (s *Service) assign(ctx context.Context, actor UserID, id ItemID, assignee UserID, shown uint64) (Result, error) {
	return s.onItem(ctx, actor, id, ActAssign, func(op *itemOp) error {
		if shown != 0 && op.it.Version != shown {
			return Errorf(ECONFLICT, "This warning is out of date: %s changed after it was shown. Assign it again to see where it stands now.", op.key())
		}
		if err := validAssignee(assignee); err != nil {
			return err
		}
		if op.it.Assignee == assignee {
			return Errorf(ECONFLICT, "%s is already assigned to them.", op.key())
		}
		// Only the warnings: the suggestion would read every person inside the writer.
		pv, _, err := s.assignWarnings(op.tx, op.it, assignee, s.today(op.now))
		if err != nil {
			return err
		}
		op.warnings = pv.Warnings
		if err := op.dropPendingHandoff(op.key() + " was assigned by a lead"); err != nil {
			return err
		}
		op.record(Event{Type: EventAssigned, Subject: assignee, Changes: []Change{
			{Field: "assignee", Before: string(op.it.Assignee), After: string(assignee)},
		}})
		op.it.Assignee = assignee
		w := &s.Policy.Workflow
		if op.it.Stage == w.Initial && w.Triaged != w.Initial {
			if st, ok := w.Stage(w.Triaged); ok {
				return op.moveTo(st, EventMoved, "assigned straight from "+stageName(mustStage(w, w.Initial)))
			}
		}
		return nil
	})
}

// mustStage is the stage with id, or a stage named by its ID when the workflow has none.
func mustStage(w *Workflow, id StageID) Stage {
	if st, ok := w.Stage(id); ok {
		return st
	}
	return Stage{ID: id}
}

// Start moves the item to the workflow's start stage. Returns ENOTFOUND, EFORBIDDEN (not the assignee
// or a lead), ECONFLICT (closed, unassigned, already there, or no such transition).
func (s *Service) Start(ctx context.Context, actor UserID, id ItemID) (Result, error) {
	return s.onItem(ctx, actor, id, ActStart, func(op *itemOp) error {
		if op.it.Assignee == "" {
			return Errorf(ECONFLICT, "Assign %s first: nobody can start unowned work.", op.key())
		}
		st, err := op.checkMove(s.Policy.Workflow.Start)
		if err != nil {
			return err
		}
		return op.moveTo(st, EventMoved, "")
	})
}

// Move moves the item to stage to along an allowed transition, warning when the stage goes over its WIP
// limit. Moving into a stage that rejects the item also needs a lead. Returns ENOTFOUND, EFORBIDDEN,
// ECONFLICT (closed, already there, no such transition, unassigned into the start stage) and EINVALID
// (Field "stage": unknown stage).
func (s *Service) Move(ctx context.Context, actor UserID, id ItemID, to StageID) (Result, error) {
	return s.onItem(ctx, actor, id, ActMove, func(op *itemOp) error {
		st, err := op.checkMove(to)
		if err != nil {
			return err
		}
		if s.Policy.Workflow.resolutionFor(st) == ResolutionRejected {
			if err := s.Policy.Authorize(actor, ActReject, AuthContext{Item: &op.it}); err != nil {
				return err
			}
		}
		return op.moveTo(st, EventMoved, "")
	})
}

// Done moves the item to the workflow's done stage, which closes it. Returns ENOTFOUND, EFORBIDDEN and
// ECONFLICT (closed already, or the workflow does not allow done from the current stage).
func (s *Service) Done(ctx context.Context, actor UserID, id ItemID) (Result, error) {
	return s.onItem(ctx, actor, id, ActDone, func(op *itemOp) error {
		st, err := op.checkMove(s.Policy.Workflow.Done)
		if err != nil {
			return err
		}
		return op.moveTo(st, EventMoved, "")
	})
}

// Block marks the item blocked for a reason; blocking again replaces the reason but keeps the time it
// became blocked. Returns ENOTFOUND, EFORBIDDEN, ECONFLICT (closed, or the same reason) and EINVALID
// (Field "reason": missing or too long).
func (s *Service) Block(ctx context.Context, actor UserID, id ItemID, reason string) (Result, error) {
	return s.onItem(ctx, actor, id, ActBlock, func(op *itemOp) error {
		reason, err := validReason("reason", reason, true)
		if err != nil {
			return err
		}
		if reason == op.it.BlockedReason {
			return Errorf(ECONFLICT, "%s is already blocked for that reason.", op.key())
		}
		if op.it.BlockedAt.IsZero() {
			op.it.BlockedAt = op.now
		}
		op.record(Event{Type: EventBlocked, Note: reason, Changes: []Change{
			{Field: "blocked_reason", Before: op.it.BlockedReason, After: reason},
		}})
		op.it.BlockedReason = reason
		return nil
	})
}

// Unblock clears the blocking reason and every dependency. Returns ENOTFOUND, EFORBIDDEN and ECONFLICT
// (closed, or not blocked).
func (s *Service) Unblock(ctx context.Context, actor UserID, id ItemID) (Result, error) {
	return s.onItem(ctx, actor, id, ActUnblock, func(op *itemOp) error {
		if op.it.BlockedReason == "" && len(op.it.DependsOn) == 0 {
			return Errorf(ECONFLICT, "%s is not blocked.", op.key())
		}
		var changes []Change
		if op.it.BlockedReason != "" {
			changes = append(changes, Change{Field: "blocked_reason", Before: op.it.BlockedReason})
		}
		if len(op.it.DependsOn) > 0 {
			changes = append(changes, Change{Field: "depends_on", Before: s.keyList(op.it.DependsOn)})
		}
		op.it.BlockedReason, op.it.BlockedAt = "", time.Time{}
		op.it.DependsOn, op.it.DependsSince = nil, time.Time{}
		op.record(Event{Type: EventUnblocked, Changes: changes})
		return nil
	})
}

func (s *Service) keyList(ids []ItemID) string {
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = FormatKey(s.Policy.KeyPrefix, id)
	}
	return strings.Join(keys, ",")
}

// AddDependency records that the item waits for item on. Returns ENOTFOUND (either item), EFORBIDDEN,
// ECONFLICT (closed item, on already closed, already a dependency, a cycle, too many) and EINVALID
// (Field "on": the item itself).
func (s *Service) AddDependency(ctx context.Context, actor UserID, id, on ItemID) (Result, error) {
	return s.onItem(ctx, actor, id, ActDepend, func(op *itemOp) error {
		if on == id {
			return FieldError("on", "%s cannot depend on itself.", op.key())
		}
		dep, err := s.loadItem(op.tx, on)
		if err != nil {
			return err
		}
		depKey := s.Policy.keyOf(&dep)
		switch {
		case slices.Contains(op.it.DependsOn, on):
			return Errorf(ECONFLICT, "%s already depends on %s.", op.key(), depKey)
		case !dep.Open():
			return Errorf(ECONFLICT, "%s is already %s, so it cannot hold up %s.", depKey, closedPhrase(dep.Resolution), op.key())
		case len(op.it.DependsOn) >= MaxDependencies:
			return Errorf(ECONFLICT, "%s already has %d dependencies.", op.key(), MaxDependencies)
		}
		cycle, err := s.dependsOn(op.tx, on, id)
		if err != nil {
			return err
		}
		if cycle {
			return Errorf(ECONFLICT, "%s already waits for %s, so %s cannot wait for it.", depKey, op.key(), op.key())
		}
		anyOpen := false
		for _, d := range op.it.DependsOn {
			other, err := op.tx.Item(d)
			if err == nil && other.Open() {
				anyOpen = true
			} else if err != nil && ErrorCode(err) != ENOTFOUND {
				return err
			}
		}
		if !anyOpen {
			// The blocked clock starts with the first dependency that is still open, not with ones that
			// were long since finished.
			op.it.DependsSince = op.now
		}
		before := s.keyList(op.it.DependsOn)
		op.it.DependsOn = append(slices.Clone(op.it.DependsOn), on)
		op.record(Event{Type: EventDependencyAdded, Changes: []Change{
			{Field: "depends_on", Before: before, After: s.keyList(op.it.DependsOn)},
		}})
		return nil
	})
}

// dependsOn reports whether from waits, directly or through other items, for target.
func (s *Service) dependsOn(tx ReadTx, from, target ItemID) (bool, error) {
	seen := map[ItemID]bool{from: true}
	stack := []ItemID{from}
	for len(stack) > 0 {
		cur := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		it, err := tx.Item(cur)
		if ErrorCode(err) == ENOTFOUND {
			continue
		}
		if err != nil {
			return false, err
		}
		for _, d := range it.DependsOn {
			if d == target {
				return true, nil
			}
			if !seen[d] {
				seen[d] = true
				stack = append(stack, d)
			}
		}
	}
	return false, nil
}

// Pin sets a lead's manual rank (1 ranks first); rank 0 clears it. Returns ENOTFOUND, EFORBIDDEN,
// ECONFLICT (closed, or the rank is unchanged) and EINVALID (Field "rank").
func (s *Service) Pin(ctx context.Context, actor UserID, id ItemID, rank int) (Result, error) {
	return s.onItem(ctx, actor, id, ActPin, func(op *itemOp) error {
		if rank < 0 || rank > MaxPin {
			return FieldError("rank", "The pin rank must be from 1 to %d, or 0 to unpin.", MaxPin)
		}
		if rank == op.it.Pin {
			if rank == 0 {
				return Errorf(ECONFLICT, "%s is not pinned.", op.key())
			}
			return Errorf(ECONFLICT, "%s is already pinned at %d.", op.key(), rank)
		}
		op.record(Event{Type: EventPinned, Changes: []Change{
			{Field: "pin", Before: strconv.Itoa(op.it.Pin), After: strconv.Itoa(rank)},
		}})
		op.it.Pin = rank
		return nil
	})
}

// Snooze holds nudges and stall reports for the item back until until. Snoozing is not progress, so it
// does not count as activity. Returns ENOTFOUND, EFORBIDDEN, ECONFLICT (closed) and EINVALID (Field
// "until": not in the future, or more than MaxSnooze ahead).
func (s *Service) Snooze(ctx context.Context, actor UserID, id ItemID, until time.Time) (Result, error) {
	return s.onItem(ctx, actor, id, ActSnooze, func(op *itemOp) error {
		if !until.After(op.now) {
			return FieldError("until", "Snooze until a time in the future.")
		}
		if until.Sub(op.now) > MaxSnooze {
			return FieldError("until", "Snooze for at most %d days.", int(MaxSnooze/(24*time.Hour)))
		}
		op.quiet = true
		op.record(Event{Type: EventSnoozed, Changes: []Change{
			{Field: "snoozed_until", Before: formatTime(op.it.SnoozedUntil), After: formatTime(until)},
		}})
		op.it.SnoozedUntil = until
		return nil
	})
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// MarkNudged records, as SystemActor, that the assignee is nudged in the current stage. It does not
// count as activity. Whether a nudge is wanted is decided again inside the transaction: the sweep
// that found the item read it earlier, and the item may have moved on since, in which case stamping
// it would swallow the nudge its new stage will need. Returns ENOTFOUND and ECONFLICT (closed, or no
// nudge wanted any more).
func (s *Service) MarkNudged(ctx context.Context, id ItemID) (Result, error) {
	now, err := s.ready()
	if err != nil {
		return Result{}, err
	}
	var res Result
	err = s.Store.Update(ctx, func(tx Tx) error {
		it, err := s.loadItem(tx, id)
		if err != nil {
			return err
		}
		if !it.Open() {
			return Errorf(ECONFLICT, "%s is already %s.", s.Policy.keyOf(&it), closedPhrase(it.Resolution))
		}
		if !s.Policy.NudgeWanted(it, now) {
			return Errorf(ECONFLICT, "%s needs no nudge now.", s.Policy.keyOf(&it))
		}
		op := &itemOp{s: s, tx: tx, actor: SystemActor, now: now, before: it, it: it, quiet: true}
		op.record(Event{Type: EventNudged, Subject: it.Assignee, Changes: []Change{
			{Field: "nudged_at", Before: formatTime(it.NudgedAt), After: formatTime(now)},
		}})
		op.it.NudgedAt = now
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

// onPerson runs change on one person (stored or not yet) after authorizing act about them.
func (s *Service) onPerson(ctx context.Context, actor, user UserID, act Action, typ EventType, change func(p *Person, today Date) ([]Change, error)) (Person, error) {
	now, err := s.ready()
	if err != nil {
		return Person{}, err
	}
	if user == "" || user == SystemActor || len(user) > 40 {
		return Person{}, FieldError("user", "Choose a person.")
	}
	var out Person
	err = s.Store.Update(ctx, func(tx Tx) error {
		person, err := s.personOrNew(tx, user)
		if err != nil {
			return err
		}
		var actorTeam TeamID
		if a, ok, err := tx.Person(actor); err != nil {
			return err
		} else if ok {
			actorTeam = a.Team
		}
		if err := s.Policy.Authorize(actor, act, AuthContext{Subject: user, SubjectTeam: person.Team, ActorTeam: actorTeam}); err != nil {
			return err
		}
		changes, err := change(&person, s.today(now))
		if err != nil {
			return err
		}
		person.UpdatedAt = now
		if err := tx.PutPerson(person); err != nil {
			return err
		}
		ev := Event{At: now, Actor: actor, Type: typ, Subject: user, Changes: changes}
		if err := tx.AppendEvent(ev); err != nil {
			return err
		}
		out = person
		return s.effects(tx, Result{Person: &person, Events: []Event{ev}})
	})
	if err != nil {
		return Person{}, err
	}
	return out, nil
}

// SetCapacity sets a person's weekly points. Returns EFORBIDDEN (not a lead of their team) and EINVALID
// (Field "capacity": outside 0..MaxCapacity; Field "user").
func (s *Service) SetCapacity(ctx context.Context, actor UserID, user UserID, points int) (Person, error) {
	return s.onPerson(ctx, actor, user, ActSetCapacity, EventCapacitySet, func(p *Person, _ Date) ([]Change, error) {
		if points < 0 || points > MaxCapacity {
			return nil, FieldError("capacity", "Capacity must be from 0 to %d points a week.", MaxCapacity)
		}
		before := "default"
		if p.CapacitySet {
			before = strconv.Itoa(p.Capacity)
		}
		p.Capacity, p.CapacitySet = points, true
		return []Change{{Field: "capacity", Before: before, After: strconv.Itoa(points)}}, nil
	})
}

// SetAway marks a person away until the given day (inclusive); the zero date clears it. Returns
// EFORBIDDEN (not themselves or a lead) and EINVALID (Field "until": past or impossible date; Field
// "user").
func (s *Service) SetAway(ctx context.Context, actor UserID, user UserID, until Date) (Person, error) {
	return s.onPerson(ctx, actor, user, ActSetAway, EventAwaySet, func(p *Person, today Date) ([]Change, error) {
		if !until.IsZero() {
			if err := dueDate("until", until, today); err != nil {
				return nil, FieldError("until", "%s", strings.Replace(err.Message, "due date", "date", 1))
			}
		}
		change := Change{Field: "away_until", Before: p.AwayUntil.String(), After: until.String()}
		p.AwayUntil = until
		return []Change{change}, nil
	})
}

// SetPrefs sets a person's notification preferences. Returns EFORBIDDEN (not themselves) and EINVALID
// (Field "user").
func (s *Service) SetPrefs(ctx context.Context, actor UserID, user UserID, nudgesOff, personalDigestOff bool) (Person, error) {
	return s.onPerson(ctx, actor, user, ActSetPrefs, EventPrefsSet, func(p *Person, _ Date) ([]Change, error) {
		changes := []Change{
			{Field: "nudges_off", Before: strconv.FormatBool(p.NudgesOff), After: strconv.FormatBool(nudgesOff)},
			{Field: "personal_digest_off", Before: strconv.FormatBool(p.PersonalDigestOff), After: strconv.FormatBool(personalDigestOff)},
		}
		p.NudgesOff, p.PersonalDigestOff = nudgesOff, personalDigestOff
		return changes, nil
	})
}

// Loads returns the load of every stored person and everyone with open assigned work, most utilised
// first, as of today in the calendar's time zone. It reads the people and the workload aggregates,
// not the open items.
func (s *Service) Loads(ctx context.Context) ([]PersonLoad, error) {
	now, err := s.ready()
	if err != nil {
		return nil, err
	}
	var loads []PersonLoad
	err = s.Store.View(ctx, func(tx ReadTx) error {
		people, work, err := PeopleAndWork(tx)
		if err != nil {
			return err
		}
		loads = s.Policy.LoadsFrom(people, work, s.today(now))
		return nil
	})
	if err != nil {
		return nil, err
	}
	return loads, nil
}

// PeopleAndWork reads every stored person and every workload, what LoadsFrom needs.
func PeopleAndWork(tx ReadTx) ([]Person, map[UserID]Workload, error) {
	var people []Person
	if err := tx.People(func(p Person) bool { people = append(people, p); return true }); err != nil {
		return nil, nil, err
	}
	work := map[UserID]Workload{}
	if err := tx.Workloads(func(u UserID, w Workload) bool { work[u] = w; return true }); err != nil {
		return nil, nil, err
	}
	return people, work, nil
}

// LoadFor returns one person's load, whether or not they are stored.
func (s *Service) LoadFor(ctx context.Context, user UserID) (PersonLoad, error) {
	now, err := s.ready()
	if err != nil {
		return PersonLoad{}, err
	}
	var pl PersonLoad
	err = s.Store.View(ctx, func(tx ReadTx) error {
		person, err := s.personOrNew(tx, user)
		if err != nil {
			return err
		}
		pl, err = s.loadOf(tx, person, s.today(now))
		return err
	})
	if err != nil {
		return PersonLoad{}, err
	}
	return pl, nil
}
