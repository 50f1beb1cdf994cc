package domain

import (
	"strings"
	"testing"
	"time"
)

func (e *opsEnv) requestHandoff(actor UserID, id ItemID, req HandoffRequest) Handoff {
	e.t.Helper()
	res := e.must(e.svc.RequestHandoff(bg, actor, id, req))
	if res.Handoff == nil {
		e.t.Fatal("RequestHandoff returned no handoff")
	}
	return *res.Handoff
}

func TestRequestHandoff(t *testing.T) {
	t.Run("OKPendingWithoutApproval", func(t *testing.T) {
		env := newOpsEnv(t)
		it := env.createIn("x", "review", opDev1)
		env.advance(time.Hour)
		res := env.must(env.svc.RequestHandoff(bg, opDev1, it.ID, HandoffRequest{To: opQA1, Note: HandoffNote{Done: "coded", Next: "test it"}, NextStage: "testing"}))
		h := *res.Handoff
		if h.Status != HandoffPending || h.From != opDev1 || h.To != opQA1 || h.RequestedBy != opDev1 || h.RequestedAt != env.now ||
			h.NextStage != "testing" || h.Note.Next != "test it" || h.ID != 1 {
			t.Errorf("handoff %+v", h)
		}
		if res.Item.PendingHandoff != h.ID || res.Item.Assignee != opDev1 {
			t.Errorf("item %+v", res.Item)
		}
		env.checkCommitted(res, EventHandoffRequested)
		if ev := res.Events[0]; ev.Handoff != h.ID || ev.Subject != opQA1 {
			t.Errorf("event %+v", ev)
		}
		if stored := env.handoff(h.ID); stored != h {
			t.Errorf("stored %+v, returned %+v", stored, h)
		}
	})
	t.Run("ErrConflictOnePendingPerItem", func(t *testing.T) {
		env := newOpsEnv(t)
		it := env.createIn("x", "review", opDev1)
		env.requestHandoff(opDev1, it.ID, HandoffRequest{To: opQA1})
		env.refuses(ECONFLICT, func() error { return errOf(env.svc.RequestHandoff(bg, opDev1, it.ID, HandoffRequest{To: opQA2})) })
	})
	t.Run("OKAgainAfterDecline", func(t *testing.T) {
		env := newOpsEnv(t)
		it := env.createIn("x", "review", opDev1)
		h := env.requestHandoff(opDev1, it.ID, HandoffRequest{To: opQA1})
		env.must(env.svc.DeclineHandoff(bg, opQA1, h.ID, "busy"))
		if h2 := env.requestHandoff(opDev1, it.ID, HandoffRequest{To: opQA2}); h2.ID != 2 {
			t.Errorf("second handoff %+v", h2)
		}
	})
	t.Run("ErrInvalidRequests", func(t *testing.T) {
		env := newOpsEnv(t)
		it := env.createIn("x", "review", opDev1)
		long := strings.Repeat("n", MaxNoteLen+1)
		for name, req := range map[string]HandoffRequest{
			"nobody":          {},
			"both":            {To: opQA1, ToTeam: "qa"},
			"current owner":   {To: opDev1},
			"workbot":         {To: SystemActor},
			"unknown team":    {ToTeam: "sales"},
			"long note":       {To: opQA1, Note: HandoffNote{Next: long}},
			"unknown stage":   {To: opQA1, NextStage: "qa"},
			"long done note":  {To: opQA1, Note: HandoffNote{Done: long}},
			"long links note": {To: opQA1, Note: HandoffNote{Links: long}},
		} {
			t.Run(name, func(t *testing.T) {
				env.refuses(EINVALID, func() error { return errOf(env.svc.RequestHandoff(bg, opDev1, it.ID, req)) })
			})
		}
	})
	t.Run("ErrForbiddenNotOwner", func(t *testing.T) {
		env := newOpsEnv(t)
		it := env.createIn("x", "review", opDev1)
		env.refuses(EFORBIDDEN, func() error { return errOf(env.svc.RequestHandoff(bg, opDev2, it.ID, HandoffRequest{To: opQA1})) })
	})
	t.Run("ErrConflictClosedItem", func(t *testing.T) {
		env := newOpsEnv(t)
		it := env.createIn("x", "done", opDev1)
		env.refuses(ECONFLICT, func() error { return errOf(env.svc.RequestHandoff(bg, opDev1, it.ID, HandoffRequest{To: opQA1})) })
	})
}

func TestHandoffApprovalPolicy(t *testing.T) {
	tests := []struct {
		name     string
		policy   ApprovalPolicy
		assignee UserID
		req      HandoffRequest
		want     HandoffStatus
	}{
		{"NeverCrossTeamPending", ApprovalNever, opDev1, HandoffRequest{To: opQA1}, HandoffPending},
		{"CrossTeamSameTeamPending", ApprovalCrossTeam, opDev1, HandoffRequest{To: opDev2}, HandoffPending},
		{"CrossTeamOtherTeamAwaits", ApprovalCrossTeam, opDev1, HandoffRequest{To: opQA1}, HandoffAwaitingApproval},
		{"CrossTeamToOtherQueueAwaits", ApprovalCrossTeam, opDev1, HandoffRequest{ToTeam: "qa"}, HandoffAwaitingApproval},
		{"CrossTeamToOwnQueuePending", ApprovalCrossTeam, opDev1, HandoffRequest{ToTeam: "dev"}, HandoffPending},
		{"CrossTeamUnassignedUsesItemTeam", ApprovalCrossTeam, "", HandoffRequest{To: opDev2}, HandoffPending},
		{"AlwaysSameTeamAwaits", ApprovalAlways, opDev1, HandoffRequest{To: opDev2}, HandoffAwaitingApproval},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := newOpsEnv(t)
			env.svc.Policy.HandoffApproval = tc.policy
			it := env.createIn("x", "todo", tc.assignee)
			h := env.requestHandoff(opDevLead, it.ID, tc.req)
			if h.Status != tc.want {
				t.Errorf("status %q, want %q", h.Status, tc.want)
			}
		})
	}
	t.Run("OKStoredTeamDecides", func(t *testing.T) {
		env := newOpsEnv(t)
		env.svc.Policy.HandoffApproval = ApprovalCrossTeam
		// qa2 moved to dev; the stored team wins over the configured membership.
		env.store.state.people[opQA2] = Person{ID: opQA2, Team: "dev"}
		it := env.createIn("x", "todo", opDev1)
		if h := env.requestHandoff(opDev1, it.ID, HandoffRequest{To: opQA2}); h.Status != HandoffPending {
			t.Errorf("status %q", h.Status)
		}
	})
}

func TestHandoffLifecycle(t *testing.T) {
	t.Run("OKAcceptMovesOwnerAndStage", func(t *testing.T) {
		env := newOpsEnv(t)
		it := env.createIn("x", "review", opDev1)
		h := env.requestHandoff(opDev1, it.ID, HandoffRequest{To: opQA1, NextStage: "testing"})
		env.advance(time.Hour)
		res := env.must(env.svc.AcceptHandoff(bg, opQA1, h.ID))
		if res.Item.Assignee != opQA1 || res.Item.Stage != "testing" || res.Item.PendingHandoff != 0 || res.Item.StageEnteredAt != env.now {
			t.Errorf("item %+v", res.Item)
		}
		if got := *res.Handoff; got.Status != HandoffAccepted || got.DecidedBy != opQA1 || got.DecidedAt != env.now {
			t.Errorf("handoff %+v", got)
		}
		env.checkCommitted(res, EventHandoffAccepted, EventMoved)
		if c, _ := changeOf(res.Events[0], "assignee"); c.Before != string(opDev1) || c.After != string(opQA1) {
			t.Errorf("assignee change %+v", c)
		}
		if c, _ := changeOf(res.Events[0], "handoff_status"); c.Before != "pending" || c.After != "accepted" {
			t.Errorf("status change %+v", c)
		}
		if env.handoff(h.ID).Status != HandoffAccepted {
			t.Error("handoff not stored as accepted")
		}
		t.Run("ErrConflictDoubleClick", func(t *testing.T) {
			err := env.refuses(ECONFLICT, func() error { return errOf(env.svc.AcceptHandoff(bg, opQA1, h.ID)) })
			if ErrorMessage(err) != "This handoff was already accepted." {
				t.Errorf("message %q", ErrorMessage(err))
			}
			env.refuses(ECONFLICT, func() error { return errOf(env.svc.DeclineHandoff(bg, opQA1, h.ID, "oops")) })
			env.refuses(ECONFLICT, func() error { return errOf(env.svc.CancelHandoff(bg, opDev1, h.ID)) })
		})
	})
	t.Run("OKAcceptSkipsDisallowedStage", func(t *testing.T) {
		env := newOpsEnv(t)
		it := env.createIn("x", "todo", opDev1)
		h := env.requestHandoff(opDev1, it.ID, HandoffRequest{To: opDev2, NextStage: "testing"})
		res := env.must(env.svc.AcceptHandoff(bg, opDev2, h.ID))
		if res.Item.Stage != "todo" || res.Item.Assignee != opDev2 || !hasWarning(res.Warnings, WarnStageSkipped) {
			t.Errorf("result %+v", res)
		}
		env.checkCommitted(res, EventHandoffAccepted)
	})
	t.Run("OKAcceptWarnsOverload", func(t *testing.T) {
		env := newOpsEnv(t)
		env.createIn("big", "todo", opQA1, func(n *NewItem) { n.Size = 8 })
		it := env.createIn("x", "review", opDev1, func(n *NewItem) { n.Size = 5 })
		h := env.requestHandoff(opDev1, it.ID, HandoffRequest{To: opQA1})
		res := env.must(env.svc.AcceptHandoff(bg, opQA1, h.ID))
		if !hasWarning(res.Warnings, WarnOverload) {
			t.Errorf("warnings %+v", res.Warnings)
		}
	})
	t.Run("OKTeamQueueAcceptedByMember", func(t *testing.T) {
		env := newOpsEnv(t)
		it := env.createIn("x", "review", opDev1)
		h := env.requestHandoff(opDev1, it.ID, HandoffRequest{ToTeam: "qa", NextStage: "testing"})
		env.refuses(EFORBIDDEN, func() error { return errOf(env.svc.AcceptHandoff(bg, opDev2, h.ID)) })
		res := env.must(env.svc.AcceptHandoff(bg, opQA2, h.ID))
		if res.Item.Assignee != opQA2 || res.Item.Team != "qa" || res.Item.Stage != "testing" {
			t.Errorf("item %+v", res.Item)
		}
		if c, _ := changeOf(res.Events[0], "team"); c.Before != "dev" || c.After != "qa" {
			t.Errorf("team change %+v", c)
		}
		env.refuses(ECONFLICT, func() error { return errOf(env.svc.AcceptHandoff(bg, opQA1, h.ID)) })
	})
	t.Run("OKDeclineKeepsOwner", func(t *testing.T) {
		env := newOpsEnv(t)
		it := env.createIn("x", "review", opDev1)
		h := env.requestHandoff(opDev1, it.ID, HandoffRequest{To: opQA1})
		env.refuses(EINVALID, func() error { return errOf(env.svc.DeclineHandoff(bg, opQA1, h.ID, "  ")) })
		env.refuses(EFORBIDDEN, func() error { return errOf(env.svc.DeclineHandoff(bg, opDev1, h.ID, "no")) })
		res := env.must(env.svc.DeclineHandoff(bg, opQA1, h.ID, "no time this week"))
		if res.Item.Assignee != opDev1 || res.Item.PendingHandoff != 0 || res.Handoff.Status != HandoffDeclined || res.Handoff.Reason != "no time this week" {
			t.Errorf("result item %+v handoff %+v", res.Item, res.Handoff)
		}
		env.checkCommitted(res, EventHandoffDeclined)
		if res.Events[0].Note != "no time this week" {
			t.Errorf("note %q", res.Events[0].Note)
		}
		err := env.refuses(ECONFLICT, func() error { return errOf(env.svc.DeclineHandoff(bg, opQA1, h.ID, "again")) })
		if ErrorMessage(err) != "This handoff was already declined." {
			t.Errorf("message %q", ErrorMessage(err))
		}
	})
	t.Run("OKApproveThenAccept", func(t *testing.T) {
		env := newOpsEnv(t)
		env.svc.Policy.HandoffApproval = ApprovalCrossTeam
		it := env.createIn("x", "review", opDev1)
		h := env.requestHandoff(opDev1, it.ID, HandoffRequest{To: opQA1})
		env.refuses(ECONFLICT, func() error { return errOf(env.svc.AcceptHandoff(bg, opQA1, h.ID)) })
		env.refuses(EFORBIDDEN, func() error { return errOf(env.svc.ApproveHandoff(bg, opDev1, h.ID)) })
		env.advance(time.Minute)
		res := env.must(env.svc.ApproveHandoff(bg, opQALead, h.ID))
		if res.Handoff.Status != HandoffPending || res.Handoff.ApprovedBy != opQALead || res.Handoff.ApprovedAt != env.now || res.Item.PendingHandoff != h.ID {
			t.Errorf("approved %+v, item %+v", res.Handoff, res.Item)
		}
		env.checkCommitted(res, EventHandoffApproved)
		env.refuses(ECONFLICT, func() error { return errOf(env.svc.ApproveHandoff(bg, opQALead, h.ID)) })
		res = env.must(env.svc.AcceptHandoff(bg, opQA1, h.ID))
		if res.Item.Assignee != opQA1 {
			t.Errorf("assignee %q", res.Item.Assignee)
		}
	})
	t.Run("OKRefuse", func(t *testing.T) {
		env := newOpsEnv(t)
		env.svc.Policy.HandoffApproval = ApprovalAlways
		it := env.createIn("x", "review", opDev1)
		h := env.requestHandoff(opDev1, it.ID, HandoffRequest{To: opDev2})
		res := env.must(env.svc.RefuseHandoff(bg, opDevLead, h.ID, "keep it with dev1"))
		if res.Handoff.Status != HandoffRejected || res.Item.Assignee != opDev1 || res.Item.PendingHandoff != 0 {
			t.Errorf("refused %+v, item %+v", res.Handoff, res.Item)
		}
		env.checkCommitted(res, EventHandoffRefused)
		err := env.refuses(ECONFLICT, func() error { return errOf(env.svc.RefuseHandoff(bg, opDevLead, h.ID, "")) })
		if ErrorMessage(err) != "This handoff was already refused by a lead." {
			t.Errorf("message %q", ErrorMessage(err))
		}
	})
	t.Run("OKCancelBySender", func(t *testing.T) {
		env := newOpsEnv(t)
		it := env.createIn("x", "review", opDev1)
		h := env.requestHandoff(opDev1, it.ID, HandoffRequest{To: opQA1})
		env.refuses(EFORBIDDEN, func() error { return errOf(env.svc.CancelHandoff(bg, opQA1, h.ID)) })
		res := env.must(env.svc.CancelHandoff(bg, opDev1, h.ID))
		if res.Handoff.Status != HandoffCancelled || res.Item.PendingHandoff != 0 {
			t.Errorf("cancelled %+v", res.Handoff)
		}
		env.checkCommitted(res, EventHandoffCancelled)
		env.refuses(ECONFLICT, func() error { return errOf(env.svc.AcceptHandoff(bg, opQA1, h.ID)) })
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		env := newOpsEnv(t)
		env.refuses(ENOTFOUND, func() error { return errOf(env.svc.AcceptHandoff(bg, opQA1, 9)) })
	})
	t.Run("OKClosingTheItemCancelsIt", func(t *testing.T) {
		env := newOpsEnv(t)
		it := env.createIn("x", "review", opDev1)
		h := env.requestHandoff(opDev1, it.ID, HandoffRequest{To: opQA1})
		res := env.must(env.svc.Done(bg, opDev1, it.ID))
		env.checkCommitted(res, EventHandoffCancelled, EventMoved)
		if got := env.handoff(h.ID); got.Status != HandoffCancelled || res.Item.PendingHandoff != 0 {
			t.Errorf("handoff %+v after done", got)
		}
		env.refuses(ECONFLICT, func() error { return errOf(env.svc.AcceptHandoff(bg, opQA1, h.ID)) })
	})
	t.Run("OKAssigningCancelsIt", func(t *testing.T) {
		env := newOpsEnv(t)
		it := env.createIn("x", "review", opDev1)
		h := env.requestHandoff(opDev1, it.ID, HandoffRequest{To: opQA1})
		res := env.must(env.svc.Assign(bg, opLead, it.ID, opDev2))
		env.checkCommitted(res, EventHandoffCancelled, EventAssigned)
		if got := env.handoff(h.ID); got.Status != HandoffCancelled {
			t.Errorf("handoff %+v after assign", got)
		}
	})
}

func TestEscalateHandoffs(t *testing.T) {
	// Requested on Friday 17:00; with a 24h threshold and a Mon–Fri calendar the weekend does not count:
	// by Monday 16:00 only 23 working hours have passed, by Monday 18:00 25 have.
	friday := time.Date(2026, 11, 27, 17, 0, 0, 0, time.UTC)
	env := newOpsEnv(t)
	env.now = friday
	it := env.createIn("x", "review", opDev1)
	h := env.requestHandoff(opDev1, it.ID, HandoffRequest{To: opQA1})
	decided := env.createIn("y", "review", opDev1)
	hd := env.requestHandoff(opDev1, decided.ID, HandoffRequest{To: opQA1})
	env.must(env.svc.DeclineHandoff(bg, opQA1, hd.ID, "no"))

	env.now = time.Date(2026, 11, 30, 16, 0, 0, 0, time.UTC)
	got, err := env.svc.EscalateHandoffs(bg)
	if err != nil || len(got) != 0 {
		t.Fatalf("Monday 16:00: %v, %v; want nothing yet", got, err)
	}
	env.now = time.Date(2026, 11, 30, 18, 0, 0, 0, time.UTC)
	before := len(env.store.snapshot().events)
	got, err = env.svc.EscalateHandoffs(bg)
	if err != nil || len(got) != 1 || got[0].ID != h.ID || got[0].EscalatedAt != env.now {
		t.Fatalf("Monday 18:00: %+v, %v; want handoff %d escalated", got, err, h.ID)
	}
	evs := env.store.snapshot().events
	if len(evs) != before+1 || evs[before].Type != EventHandoffEscalated || evs[before].Actor != SystemActor || evs[before].Handoff != h.ID || evs[before].ItemID != it.ID {
		t.Errorf("events %+v", evs[before:])
	}
	if env.handoff(h.ID).EscalatedAt != env.now {
		t.Error("escalation not stored")
	}
	env.advance(24 * time.Hour)
	snap := env.store.snapshot()
	got, err = env.svc.EscalateHandoffs(bg)
	if err != nil || len(got) != 0 {
		t.Errorf("second run escalated %+v, %v", got, err)
	}
	if len(env.store.snapshot().events) != len(snap.events) {
		t.Error("second run appended events")
	}

	t.Run("OKDisabledByZero", func(t *testing.T) {
		env := newOpsEnv(t)
		env.svc.Policy.HandoffEscalateAfter = 0
		it := env.createIn("x", "review", opDev1)
		env.requestHandoff(opDev1, it.ID, HandoffRequest{To: opQA1})
		env.advance(30 * 24 * time.Hour)
		if got, err := env.svc.EscalateHandoffs(bg); err != nil || len(got) != 0 {
			t.Errorf("escalated %+v, %v with escalation off", got, err)
		}
	})
}
