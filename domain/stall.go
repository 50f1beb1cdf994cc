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

// stallReasons lists the reasons by severity, so stallReasons[r.severity()] == r.
var stallReasons = [...]StallReason{StallHandoff, StallBlocked, StallStage}

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
	worked := func(since time.Time) time.Duration { return p.Calendar.WorkingTime(since, now) }
	c, ok := p.stallCheck(&it, openDeps, pending, now, worked, stage.StallAfter)
	if !ok {
		return Stall{}, false
	}
	return c.stall(it, pending), true
}

// stallFinding is a stall without the item, so the digest can check every open item without copying
// the ones that are fine.
type stallFinding struct {
	reason    StallReason
	since     time.Time
	worked    time.Duration
	threshold time.Duration
}

func (f stallFinding) stall(it Item, pending *Handoff) Stall {
	s := Stall{Item: it, Reason: f.reason, Since: f.since, For: f.worked, Threshold: f.threshold}
	if f.reason == StallHandoff && pending != nil {
		h := *pending
		s.Handoff = &h
	}
	return s
}

// stallCheck is StallOf with the stage's threshold looked up and the working-time measure (since → now)
// supplied, so the digest can use its prepared calendar.
func (p *Policy) stallCheck(it *Item, openDeps int, pending *Handoff, now time.Time, workedSince func(time.Time) time.Duration, stageStallAfter time.Duration) (stallFinding, bool) {
	if !it.Open() || now.Before(it.SnoozedUntil) {
		return stallFinding{}, false
	}
	check := func(reason StallReason, since time.Time, threshold time.Duration) (stallFinding, bool) {
		if threshold <= 0 || since.IsZero() || !now.After(since) {
			return stallFinding{}, false
		}
		worked := workedSince(since)
		return stallFinding{reason: reason, since: since, worked: worked, threshold: threshold}, worked > threshold
	}
	if pending != nil && !pending.Status.Decided() {
		if f, ok := check(StallHandoff, pending.RequestedAt, p.HandoffEscalateAfter); ok {
			return f, true
		}
	}
	if since := blockedSince(it, openDeps); !since.IsZero() {
		if f, ok := check(StallBlocked, since, p.BlockedStallAfter); ok {
			return f, true
		}
	}
	return check(StallStage, stageClockStart(it), stageStallAfter)
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
// NudgeWanted says whether the assignee should be nudged now: the item nears its stage's stall
// threshold (NudgeDue), or it already passed it without a nudge in this stage, which happens when
// nothing looked while it neared the threshold (the bot was down). A late nudge still gives the
// person a chance before leadership hears of the stall.
func (p *Policy) NudgeWanted(it Item, now time.Time) bool {
	if p.NudgeDue(it, now) {
		return true
	}
	if p.NudgeRatio <= 0 || it.Assignee == "" || NudgedInStage(it) {
		return false
	}
	s, ok := p.StallOf(it, 0, nil, now)
	return ok && s.Reason == StallStage
}

// NudgedInStage reports whether the assignee was nudged since the item entered its current stage.
func NudgedInStage(it Item) bool {
	return !it.NudgedAt.IsZero() && !it.NudgedAt.Before(it.StageEnteredAt)
}

func (p *Policy) NudgeDue(it Item, now time.Time) bool {
	if !it.Open() || it.Assignee == "" || p.NudgeRatio <= 0 || now.Before(it.SnoozedUntil) {
		return false
	}
	stage, ok := p.Workflow.Stage(it.Stage)
	if !ok || stage.StallAfter <= 0 {
		return false
	}
	if NudgedInStage(it) {
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
