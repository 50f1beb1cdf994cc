package domain

import "time"

// StallReason says why an item counts as stalled.
type StallReason string

// Stall reasons, most severe first: a dropped handoff leaves nobody owning the item, a blocker needs
// someone else to act, and a quiet stage may only need a nudge.
const (
	StallHandoff StallReason = "handoff" // a handoff has waited for a decision longer than handoff.escalate_after
	StallBlocked StallReason = "blocked" // blocked (by a reason or open dependencies) longer than the blocked threshold
	StallStage   StallReason = "stage"   // no activity in the stage for longer than its stall_after
)

// Describe is the reason in words, for digests and notices.
func (r StallReason) Describe() string {
	switch r {
	case StallHandoff:
		return "handoff waiting for a decision"
	case StallBlocked:
		return "blocked too long"
	case StallStage:
		return "stage over its threshold"
	}
	return string(r)
}

// severity orders reasons for sorting: lower is more severe.
func (r StallReason) severity() int {
	switch r {
	case StallHandoff:
		return 0
	case StallBlocked:
		return 1
	}
	return 2
}

// Stall is one stalled item. For is working time since Since; Threshold is the limit it passed.
// Handoff is set for StallHandoff.
type Stall struct {
	Item      Item
	Reason    StallReason
	Since     time.Time
	For       time.Duration
	Threshold time.Duration
	Handoff   *Handoff
}

// StallOf reports whether the item is stalled at now, and why. openDeps is how many of its
// dependencies are still open (the caller can see other items; the item cannot); pending is its pending
// handoff, or nil.
//
// An item may be stalled for several reasons at once; StallOf reports only the most severe (handoff,
// then blocked, then stage), so each item appears once in a digest. Closed items never stall, and nor
// does an item before its SnoozedUntil. A threshold of 0 disables that kind of stall. Each check needs
// a start time; a zero start time means that check does not apply.
//
//   - handoff: working time since the handoff's RequestedAt > HandoffEscalateAfter, while it awaits
//     approval or a decision;
//   - blocked: working time since it became blocked > BlockedStallAfter; it became blocked at BlockedAt
//     for a reason and at DependsSince for open dependencies, whichever is earlier;
//   - stage: working time since the later of StageEnteredAt and LastActivityAt > the stage's StallAfter.
func (p *Policy) StallOf(it Item, openDeps int, pending *Handoff, now time.Time) (Stall, bool) {
	stage, _ := p.Workflow.Stage(it.Stage)
	return p.stallAt(&it, openDeps, pending, now, p.Calendar.point(now), stage.StallAfter)
}

// stallAt is StallOf with now already converted and the stage's threshold looked up, so the digest can
// check many items cheaply. It copies the item only when it is stalled.
func (p *Policy) stallAt(it *Item, openDeps int, pending *Handoff, now time.Time, nowPt calPoint, stageStallAfter time.Duration) (Stall, bool) {
	if !it.Open() || now.Before(it.SnoozedUntil) {
		return Stall{}, false
	}
	cal := p.Calendar
	over := func(since time.Time, threshold time.Duration) (time.Duration, bool) {
		if threshold <= 0 || since.IsZero() || !now.After(since) {
			return 0, false
		}
		worked := cal.workingBetween(cal.point(since), nowPt)
		return worked, worked > threshold
	}

	if pending != nil && !pending.Status.Decided() {
		if worked, ok := over(pending.RequestedAt, p.HandoffEscalateAfter); ok {
			h := *pending
			return Stall{Item: *it, Reason: StallHandoff, Since: h.RequestedAt, For: worked, Threshold: p.HandoffEscalateAfter, Handoff: &h}, true
		}
	}

	if since := blockedSince(it, openDeps); !since.IsZero() {
		if worked, ok := over(since, p.BlockedStallAfter); ok {
			return Stall{Item: *it, Reason: StallBlocked, Since: since, For: worked, Threshold: p.BlockedStallAfter}, true
		}
	}

	since := stageClockStart(it)
	if worked, ok := over(since, stageStallAfter); ok {
		return Stall{Item: *it, Reason: StallStage, Since: since, For: worked, Threshold: stageStallAfter}, true
	}
	return Stall{}, false
}

// blockedSince is when the item became blocked, or zero when it is not blocked.
func blockedSince(it *Item, openDeps int) time.Time {
	var since time.Time
	if it.Blocked() {
		since = it.BlockedAt
	}
	if openDeps > 0 && !it.DependsSince.IsZero() && (since.IsZero() || it.DependsSince.Before(since)) {
		since = it.DependsSince
	}
	return since
}

// stageClockStart is when the stage's stall clock started: activity restarts it.
func stageClockStart(it *Item) time.Time {
	if it.LastActivityAt.After(it.StageEnteredAt) {
		return it.LastActivityAt
	}
	return it.StageEnteredAt
}

// NudgeDue reports whether the assignee should be nudged now about a nearing stage stall: the item is
// open and assigned, its stage has a StallAfter, the stage clock (as in StallOf) has run for at least
// NudgeRatio·StallAfter but not past StallAfter, nobody nudged since the item entered the stage, and it
// is not snoozed. A NudgeRatio of 0 or less disables nudges.
func (p *Policy) NudgeDue(it Item, now time.Time) bool {
	if !it.Open() || it.Assignee == "" || p.NudgeRatio <= 0 || now.Before(it.SnoozedUntil) {
		return false
	}
	stage, ok := p.Workflow.Stage(it.Stage)
	if !ok || stage.StallAfter <= 0 {
		return false
	}
	if !it.NudgedAt.IsZero() && !it.NudgedAt.Before(it.StageEnteredAt) {
		return false
	}
	since := stageClockStart(&it)
	if since.IsZero() {
		return false
	}
	worked := p.Calendar.WorkingTime(since, now)
	nudgeAt := time.Duration(p.NudgeRatio * float64(stage.StallAfter))
	return worked >= nudgeAt && worked <= stage.StallAfter
}
