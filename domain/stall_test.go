package domain

import (
	"testing"
	"time"
)

// stallTestPolicy: Mon–Fri in Berlin with Christmas off; intake stalls after 24h, in_progress after
// 72h, review never; blocked after 48h; handoffs escalate after 24h; nudges at 75%.
func stallTestPolicy(t testing.TB) *Policy {
	return &Policy{
		Workflow: Workflow{
			Stages: []Stage{
				{ID: "intake", StallAfter: 24 * time.Hour},
				{ID: "in_progress", StallAfter: 72 * time.Hour},
				{ID: "review"},
				{ID: "done", Terminal: true, Resolution: ResolutionDone},
			},
			Initial: "intake",
		},
		Calendar:             calTestWeekdays(t),
		HandoffEscalateAfter: 24 * time.Hour,
		BlockedStallAfter:    48 * time.Hour,
		NudgeRatio:           0.75,
	}
}

func TestStallOf(t *testing.T) {
	p := stallTestPolicy(t)
	b := p.Calendar.Location
	at := func(m time.Month, d, h, mi int) time.Time { return calTestAt(b, 2026, m, d, h, mi) }
	friNoon := at(3, 27, 12, 0)
	monNoon := at(3, 30, 12, 0) // after the weekend and the spring DST change: 24h of working time later
	sec := time.Second

	intakeFriday := Item{ID: 1, Stage: "intake", StageEnteredAt: friNoon, LastActivityAt: friNoon}
	pending := &Handoff{ID: 9, ItemID: 1, Status: HandoffPending, RequestedAt: friNoon}

	tests := []struct {
		name     string
		item     Item
		openDeps int
		pending  *Handoff
		now      time.Time
		want     StallReason // "" means not stalled
		wantFor  time.Duration
	}{
		{"StageAtThresholdAcrossWeekendAndDST", intakeFriday, 0, nil, monNoon, "", 0},
		{"StageJustOver", intakeFriday, 0, nil, monNoon.Add(sec), StallStage, 24*time.Hour + sec},
		{"ActivityRestartsTheClock", with(intakeFriday, func(it *Item) { it.LastActivityAt = at(3, 30, 9, 0) }), 0, nil, monNoon.Add(sec), "", 0},
		{"AcrossChristmas", Item{Stage: "intake", StageEnteredAt: at(12, 24, 12, 0)}, 0, nil, at(12, 28, 11, 59), "", 0},
		{"AcrossChristmasOver", Item{Stage: "intake", StageEnteredAt: at(12, 24, 12, 0)}, 0, nil, at(12, 28, 12, 1), StallStage, 24*time.Hour + time.Minute},
		{"StageWithoutThreshold", Item{Stage: "review", StageEnteredAt: at(1, 5, 9, 0)}, 0, nil, monNoon, "", 0},
		{"UnknownStage", Item{Stage: "gone", StageEnteredAt: at(1, 5, 9, 0)}, 0, nil, monNoon, "", 0},
		{"NoStartTime", Item{Stage: "intake"}, 0, nil, monNoon, "", 0},
		{"Closed", with(intakeFriday, func(it *Item) { it.Resolution = ResolutionDone }), 0, pending, at(4, 30, 0, 0), "", 0},
		{"Snoozed", with(intakeFriday, func(it *Item) { it.SnoozedUntil = at(4, 1, 0, 0) }), 0, nil, at(3, 31, 23, 0), "", 0},
		{"SnoozeOver", with(intakeFriday, func(it *Item) { it.SnoozedUntil = at(4, 1, 0, 0) }), 0, nil, at(4, 1, 0, 0), StallStage, 60 * time.Hour},

		{"BlockedAtThreshold", Item{Stage: "review", BlockedReason: "vendor", BlockedAt: at(3, 23, 9, 0)}, 0, nil, at(3, 25, 9, 0), "", 0},
		{"BlockedOver", Item{Stage: "review", BlockedReason: "vendor", BlockedAt: at(3, 23, 9, 0)}, 0, nil, at(3, 25, 9, 1), StallBlocked, 48*time.Hour + time.Minute},
		{"DependsOpen", Item{Stage: "review", DependsOn: []ItemID{4}, DependsSince: at(3, 23, 9, 0)}, 1, nil, at(3, 25, 10, 0), StallBlocked, 49 * time.Hour},
		{"DependsAllClosed", Item{Stage: "review", DependsOn: []ItemID{4}, DependsSince: at(3, 23, 9, 0)}, 0, nil, at(3, 25, 10, 0), "", 0},
		{"BlockedEarliestStartWins", Item{Stage: "review", BlockedReason: "x", BlockedAt: at(3, 25, 9, 0), DependsOn: []ItemID{4}, DependsSince: at(3, 23, 9, 0)}, 1, nil, at(3, 25, 10, 0), StallBlocked, 49 * time.Hour},
		// Friday to Tuesday spans the weekend: 60h of working time, only over the 48h threshold on Tuesday.
		{"BlockedOverWeekend", Item{Stage: "review", BlockedReason: "x", BlockedAt: at(3, 27, 12, 0)}, 0, nil, at(3, 31, 11, 0), "", 0},
		{"BlockedOverWeekendOver", Item{Stage: "review", BlockedReason: "x", BlockedAt: at(3, 27, 12, 0)}, 0, nil, at(3, 31, 12, 1), StallBlocked, 48*time.Hour + time.Minute},

		{"HandoffAtThreshold", Item{Stage: "review"}, 0, pending, monNoon, "", 0},
		{"HandoffOver", Item{Stage: "review"}, 0, pending, monNoon.Add(sec), StallHandoff, 24*time.Hour + sec},
		{"HandoffAwaitingApprovalCounts", Item{Stage: "review"}, 0, &Handoff{Status: HandoffAwaitingApproval, RequestedAt: friNoon}, monNoon.Add(sec), StallHandoff, 24*time.Hour + sec},
		{"HandoffDecided", Item{Stage: "review"}, 0, &Handoff{Status: HandoffAccepted, RequestedAt: friNoon}, monNoon.Add(time.Hour), "", 0},
		{"HandoffOutranksBlockedAndStage", Item{Stage: "intake", StageEnteredAt: friNoon, BlockedReason: "x", BlockedAt: at(3, 20, 9, 0)}, 0, pending, at(3, 31, 9, 0), StallHandoff, 45 * time.Hour},
		{"BlockedOutranksStage", Item{Stage: "intake", StageEnteredAt: at(3, 20, 9, 0), BlockedReason: "x", BlockedAt: at(3, 24, 9, 0)}, 0, nil, at(3, 31, 9, 0), StallBlocked, 120 * time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, stalled := p.StallOf(tt.item, tt.openDeps, tt.pending, tt.now)
			if stalled != (tt.want != "") {
				t.Fatalf("stalled = %v (%+v), want reason %q", stalled, s, tt.want)
			}
			if !stalled {
				return
			}
			if s.Reason != tt.want || s.For != tt.wantFor {
				t.Errorf("stall = %s for %v, want %s for %v", s.Reason, s.For, tt.want, tt.wantFor)
			}
			if s.For <= s.Threshold {
				t.Errorf("For %v is not over Threshold %v", s.For, s.Threshold)
			}
			if s.Item.ID != tt.item.ID {
				t.Errorf("Item.ID = %d, want %d", s.Item.ID, tt.item.ID)
			}
			if (s.Handoff != nil) != (s.Reason == StallHandoff) {
				t.Errorf("Handoff = %v for reason %s", s.Handoff, s.Reason)
			}
		})
	}
}

func TestStallOfSevenDayCalendarAcrossDST(t *testing.T) {
	p := stallTestPolicy(t)
	p.Calendar = calTestEveryDay(t)
	b := p.Calendar.Location
	for _, tc := range []struct {
		name              string
		entered, notYet   time.Time
		stalled           time.Time
		realHoursAtNotYet time.Duration
	}{
		// Noon to noon is exactly one working day whatever the real hours (23 in spring, 25 in autumn), so
		// a 24h threshold is reached at noon and passed just after.
		{"Spring", calTestAt(b, 2026, 3, 28, 12, 0), calTestAt(b, 2026, 3, 29, 12, 0), calTestAt(b, 2026, 3, 29, 12, 1), 23 * time.Hour},
		{"Autumn", calTestAt(b, 2026, 10, 24, 12, 0), calTestAt(b, 2026, 10, 25, 12, 0), calTestAt(b, 2026, 10, 25, 12, 1), 25 * time.Hour},
	} {
		t.Run(tc.name, func(t *testing.T) {
			it := Item{Stage: "intake", StageEnteredAt: tc.entered}
			if real := tc.notYet.Sub(tc.entered); real != tc.realHoursAtNotYet {
				t.Fatalf("premise: %v real hours, want %v", real, tc.realHoursAtNotYet)
			}
			if s, stalled := p.StallOf(it, 0, nil, tc.notYet); stalled {
				t.Errorf("stalled at %v after exactly one working day: %+v", tc.notYet, s)
			}
			if _, stalled := p.StallOf(it, 0, nil, tc.stalled); !stalled {
				t.Errorf("not stalled at %v, one working day and a minute in", tc.stalled)
			}
		})
	}
}

func TestNudgeDue(t *testing.T) {
	p := stallTestPolicy(t)
	b := p.Calendar.Location
	entered := calTestAt(b, 2026, 3, 23, 9, 0) // Monday; in_progress stalls after 72h, nudge at 54h
	nudgeTime := calTestAt(b, 2026, 3, 25, 15, 0)
	base := Item{ID: 1, Stage: "in_progress", Assignee: "U1", StageEnteredAt: entered, LastActivityAt: entered}
	tests := []struct {
		name string
		item Item
		now  time.Time
		p    func(*Policy)
		want bool
	}{
		{"AtRatio", base, nudgeTime, nil, true},
		{"BeforeRatio", base, nudgeTime.Add(-time.Minute), nil, false},
		{"AtStallThreshold", base, calTestAt(b, 2026, 3, 26, 9, 0), nil, true},
		{"AlreadyStalled", base, calTestAt(b, 2026, 3, 26, 9, 1), nil, false},
		{"NudgedInThisStage", with(base, func(it *Item) { it.NudgedAt = entered.Add(time.Hour) }), nudgeTime, nil, false},
		{"NudgedInAnEarlierStage", with(base, func(it *Item) { it.NudgedAt = entered.Add(-time.Hour) }), nudgeTime, nil, true},
		{"Unassigned", with(base, func(it *Item) { it.Assignee = "" }), nudgeTime, nil, false},
		{"Closed", with(base, func(it *Item) { it.Resolution = ResolutionDone }), nudgeTime, nil, false},
		{"Snoozed", with(base, func(it *Item) { it.SnoozedUntil = nudgeTime.Add(time.Minute) }), nudgeTime, nil, false},
		{"RecentActivity", with(base, func(it *Item) { it.LastActivityAt = nudgeTime.Add(-time.Hour) }), nudgeTime, nil, false},
		{"StageWithoutThreshold", with(base, func(it *Item) { it.Stage = "review" }), nudgeTime, nil, false},
		{"NudgesOffInPolicy", base, nudgeTime, func(p *Policy) { p.NudgeRatio = 0 }, false},
		// The weekend does not count: entered Friday noon, 54h of working time is Tuesday 18:00.
		{"OverWeekendNotYet", with(base, func(it *Item) {
			it.StageEnteredAt, it.LastActivityAt = calTestAt(b, 2026, 3, 27, 12, 0), calTestAt(b, 2026, 3, 27, 12, 0)
		}), calTestAt(b, 2026, 3, 31, 17, 59), nil, false},
		{"OverWeekendDue", with(base, func(it *Item) {
			it.StageEnteredAt, it.LastActivityAt = calTestAt(b, 2026, 3, 27, 12, 0), calTestAt(b, 2026, 3, 27, 12, 0)
		}), calTestAt(b, 2026, 3, 31, 18, 0), nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pol := *p
			if tt.p != nil {
				tt.p(&pol)
			}
			if got := pol.NudgeDue(tt.item, tt.now); got != tt.want {
				t.Errorf("NudgeDue = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestStallReasonDescribe(t *testing.T) {
	for r, want := range map[StallReason]string{
		StallStage:   "stage over its threshold",
		StallBlocked: "blocked too long",
		StallHandoff: "handoff waiting for a decision",
		"other":      "other",
	} {
		if got := r.Describe(); got != want {
			t.Errorf("%q.Describe() = %q, want %q", r, got, want)
		}
	}
}

// with returns a copy of it changed by fn, so table rows can share a base item.
func with(it Item, fn func(*Item)) Item {
	fn(&it)
	it.DependsOn = append([]ItemID(nil), it.DependsOn...)
	return it
}
