package domain

import (
	"math"
	"reflect"
	"slices"
	"testing"
	"time"
)

// alignRow is what the tests compare of an AlignedItem.
type alignRow struct {
	ID        ItemID
	Category  AlignmentCategory
	Points    int
	Team      TeamID
	Moves     int
	Completed bool
	PlanRank  int
}

func alignRows(a Alignment) []alignRow {
	var out []alignRow
	for _, it := range a.Items {
		out = append(out, alignRow{it.Item.ID, it.Category, it.Points, it.Team, it.Moves, it.Completed, it.PlanRank})
	}
	return out
}

// neglectRow is what the tests compare of a NeglectedItem.
type neglectRow struct {
	ID           ItemID
	Rank         int
	LastTouched  time.Time
	Idle         time.Duration
	InTopSince   time.Time
	InTopDate    Date
	InTop        time.Duration
	InTopAtLeast bool
}

func neglectRows(a Alignment) []neglectRow {
	var out []neglectRow
	for _, n := range a.Neglected {
		out = append(out, neglectRow{n.Item.ID, n.Planned.Rank, n.LastTouched, n.Idle, n.InTopSince, n.InTopDate, n.InTop, n.InTopAtLeast})
	}
	return out
}

// alignEvents builds events with increasing Seq, the way the store appends them.
type alignEvents struct {
	seq uint64
	evs []Event
}

func (b *alignEvents) add(e Event) {
	b.seq++
	e.Seq = b.seq
	b.evs = append(b.evs, e)
}

// move records a stage move the way ops.go does: EventMoved with the stage change, and for a terminal
// stage the resolution too (EventRejected for rejected).
func (b *alignEvents) move(id ItemID, at time.Time, actor UserID, from, to StageID) {
	e := Event{At: at, Actor: actor, Type: EventMoved, ItemID: id, Changes: []Change{{Field: "stage", Before: string(from), After: string(to)}}}
	switch to {
	case "done":
		e.Changes = append(e.Changes, Change{Field: "resolution", After: string(ResolutionDone)})
	case "rejected":
		e.Type = EventRejected
		e.Changes = append(e.Changes, Change{Field: "resolution", After: string(ResolutionRejected)})
	}
	b.add(e)
}

func (b *alignEvents) event(id ItemID, at time.Time, actor UserID, typ EventType, changes ...Change) {
	b.add(Event{At: at, Actor: actor, Type: typ, ItemID: id, Changes: changes})
}

func snapOf(at time.Time, ids ...ItemID) PrioritySnapshot {
	sizes := map[ItemID]int{1: 5, 2: 3, 3: 8, 4: 2, 5: 13, 6: 3}
	teams := map[ItemID]TeamID{1: "core", 2: "web", 3: "core", 4: "web", 5: "core", 6: "web"}
	s := PrioritySnapshot{Date: DateOf(at), At: at, N: 5}
	for i, id := range ids {
		s.Items = append(s.Items, PlannedItem{ID: id, Rank: i + 1, Size: sizes[id], Team: teams[id]})
	}
	return s
}

// alignScenario is one week of two teams, core and web, on the Mon–Fri Berlin calendar: Monday
// 2 March 2026 00:00 to Monday 9 March 00:00 (CET throughout). The plan is the snapshot taken at the
// week's start, Monday 00:00: W-1 (core, 5), W-2 (web, 3), W-3 (core, 8), W-4 (web, 2), W-5 (core, 13).
// What happens to each item, and what it scores, is worked out by hand next to its events; the totals
// are in TestAlignmentHandComputedWeek.
func alignScenario(t testing.TB) (*Policy, Period, AlignmentData) {
	p := digestTestPolicy(t)
	b := p.Calendar.Location
	at := func(m time.Month, d, h, mi int) time.Time { return calTestAt(b, 2026, m, d, h, mi) }
	week := Period{From: at(3, 2, 0, 0), To: at(3, 9, 0, 0)}
	const lead, dev1, dev2, web1, req UserID = "ULEAD", "UDEV1", "UDEV2", "UWEB1", "UREQ"

	var ev alignEvents
	// History before the week. W-3 was last touched on Friday 27 February at 15:00 (a handoff
	// request); W-6 and W-10 were triaged, W-10 at size 2; W-9's Sunday 23:59 move is last week's.
	ev.move(3, at(2, 24, 10, 0), dev1, "todo", "in_progress")
	ev.event(3, at(2, 27, 15, 0), dev1, EventHandoffRequested)
	ev.event(6, at(2, 25, 11, 0), lead, EventTriaged, Change{Field: "triaged", Before: "false", After: "true"})
	ev.event(10, at(2, 27, 17, 0), lead, EventTriaged, Change{Field: "size", Before: "3", After: "2"},
		Change{Field: "triaged", Before: "false", After: "true"})
	ev.move(9, at(3, 1, 23, 59), dev2, "in_progress", "review")

	// The week: 27 events.
	// W-1 (plan #1, core, 5): three forward moves, the last completes it → scores 5 once, planned.
	ev.move(1, at(3, 2, 9, 0), dev1, "todo", "in_progress")
	ev.move(1, at(3, 3, 14, 0), dev1, "in_progress", "review")
	ev.move(1, at(3, 5, 11, 0), dev1, "review", "done")
	// W-2 (plan #2, web, 3): forward, back, forward again → scores 3 once (2 forward moves), planned.
	ev.move(2, at(3, 3, 10, 0), web1, "in_progress", "review")
	ev.move(2, at(3, 4, 15, 0), web1, "review", "in_progress")
	ev.move(2, at(3, 5, 16, 0), web1, "in_progress", "review")
	// W-3 (plan #3, core, 8): only bookkeeping → untouched → neglected.
	ev.event(3, at(3, 4, 9, 0), SystemActor, EventNudged, Change{Field: "nudged_at", After: "x"})
	ev.event(3, at(3, 4, 10, 0), dev1, EventSnoozed, Change{Field: "snoozed_until", After: "x"})
	ev.event(3, at(3, 5, 9, 0), SystemActor, EventHandoffEscalated, Change{Field: "escalated_at", After: "x"})
	// W-4 (plan #4, web, 2): forward on Monday, rejected on Wednesday → scores nothing; touched.
	ev.move(4, at(3, 2, 10, 0), web1, "todo", "in_progress")
	ev.move(4, at(3, 4, 11, 0), lead, "in_progress", "rejected")
	// W-5 (plan #5, core, 13): a lead pins it → touched, not neglected; no move → scores nothing.
	ev.event(5, at(3, 3, 9, 30), lead, EventPinned, Change{Field: "pin", Before: "0", After: "1"})
	// W-6 (not in the plan, triaged in February): handed from web to core on Wednesday, done on Friday →
	// scores its 3 for core (its team at the week's end), other. It enters the top N in Wednesday's
	// snapshot, which does not make it planned.
	ev.move(6, at(3, 2, 11, 0), web1, "todo", "in_progress")
	ev.event(6, at(3, 4, 9, 0), dev2, EventHandoffAccepted, Change{Field: "handoff_status", Before: "pending", After: "accepted"},
		Change{Field: "assignee", Before: string(web1), After: string(dev2)}, Change{Field: "team", Before: "web", After: "core"})
	ev.move(6, at(3, 4, 14, 0), dev2, "in_progress", "review")
	ev.move(6, at(3, 6, 10, 0), dev2, "review", "done")
	// W-7 (web, 1): arrives on Tuesday and is done on Wednesday without triage. The lead's move
	// intake → todo is before the start stage, so not forward; todo → in_progress and → done are:
	// 2 moves, 1 point, interrupt.
	ev.event(7, at(3, 3, 9, 0), req, EventCreated, Change{Field: "title", After: "VPN down"}, Change{Field: "stage", After: "intake"})
	ev.event(7, at(3, 3, 9, 20), lead, EventAssigned, Change{Field: "assignee", After: string(web1)})
	ev.move(7, at(3, 3, 9, 21), lead, "intake", "todo")
	ev.move(7, at(3, 3, 9, 30), web1, "todo", "in_progress")
	ev.move(7, at(3, 4, 12, 0), web1, "in_progress", "done")
	// W-8 (core): created Wednesday at size 3, triaged the same morning at size 5 (triage's own move out
	// of intake is not forward), started Thursday → 1 move, 5 points (size at the week's end), other.
	ev.event(8, at(3, 4, 8, 0), req, EventCreated, Change{Field: "title", After: "Export"}, Change{Field: "stage", After: "intake"})
	ev.move(8, at(3, 4, 9, 0), lead, "intake", "todo")
	ev.event(8, at(3, 4, 9, 0), lead, EventTriaged, Change{Field: "size", Before: "3", After: "5"}, Change{Field: "triaged", Before: "false", After: "true"})
	ev.move(8, at(3, 5, 10, 0), dev1, "todo", "in_progress")
	// W-9 (core, 8): only a backward move this week → scores nothing.
	ev.move(9, at(3, 5, 15, 0), dev2, "review", "in_progress")
	// W-10 (web): started Monday at size 2 → 2 points for web, other, although after the week (below)
	// it was re-sized to 3 and moved to core, and the item now says so.
	ev.move(10, at(3, 2, 13, 0), web1, "todo", "in_progress")

	// After the week.
	ev.move(9, at(3, 9, 0, 0), dev2, "in_progress", "review") // Monday 00:00 is next week's
	ev.event(10, at(3, 10, 9, 0), lead, EventTriaged, Change{Field: "size", Before: "2", After: "3"},
		Change{Field: "team", Before: "web", After: "core"})

	items := []Item{
		{ID: 1, Team: "core", Size: 5, Triaged: true, Stage: "done", Resolution: ResolutionDone, DoneAt: at(3, 5, 11, 0)},
		{ID: 2, Team: "web", Size: 3, Triaged: true, Stage: "review"},
		{ID: 3, Team: "core", Size: 8, Triaged: true, Stage: "in_progress", LastActivityAt: at(2, 27, 15, 0)},
		{ID: 4, Team: "web", Size: 2, Triaged: true, Stage: "rejected", Resolution: ResolutionRejected, DoneAt: at(3, 4, 11, 0)},
		{ID: 5, Team: "core", Size: 13, Triaged: true, Stage: "todo", Pin: 1},
		{ID: 6, Team: "core", Size: 3, Triaged: true, Stage: "done", Resolution: ResolutionDone, DoneAt: at(3, 6, 10, 0)},
		{ID: 7, Team: "web", Size: 1, Stage: "done", Resolution: ResolutionDone, DoneAt: at(3, 4, 12, 0)},
		{ID: 8, Team: "core", Size: 5, Triaged: true, Stage: "in_progress"},
		{ID: 9, Team: "core", Size: 8, Triaged: true, Stage: "review"},
		{ID: 10, Team: "core", Size: 3, Triaged: true, Stage: "in_progress"},
	}
	snaps := []PrioritySnapshot{
		snapOf(at(3, 4, 0, 0), 1, 2, 3, 5, 6), // mid-week: after the start, not the plan
		snapOf(at(2, 23, 0, 0), 3, 1, 2, 5, 4),
		snapOf(at(3, 2, 0, 0), 1, 2, 3, 4, 5), // the plan: taken exactly at the week's start
		snapOf(at(2, 20, 0, 0), 1, 2, 5, 6, 4),
		snapOf(at(2, 26, 0, 0), 1, 3, 2, 4, 5),
	}
	// The order events arrive in must not matter.
	events := slices.Clone(ev.evs)
	slices.Reverse(events)
	return p, week, AlignmentData{Snapshots: snaps, Events: events, Items: items}
}

func TestAlignmentHandComputedWeek(t *testing.T) {
	p, week, data := alignScenario(t)
	b := p.Calendar.Location
	at := func(m time.Month, d, h, mi int) time.Time { return calTestAt(b, 2026, m, d, h, mi) }

	// W-3 is the one neglected priority.
	//   Last touch: Fri 27 Feb 15:00 (the handoff request; nudge, snooze and escalation are bookkeeping).
	//   Idle to Mon 9 Mar 00:00: Fri 15:00→24:00 = 9h, Mon 2–Fri 6 Mar = 5 × 24h = 120h → 129h.
	//   In the top N: snapshots 23 Feb, 26 Feb and 2 Mar hold it, 20 Feb does not → since Mon 23 Feb
	//   00:00; working days 23–27 Feb and 2–6 Mar = 10 × 24h = 240h.
	w3 := neglectRow{ID: 3, Rank: 3, LastTouched: at(2, 27, 15, 0), Idle: 129 * time.Hour,
		InTopSince: at(2, 23, 0, 0), InTopDate: Date{2026, 2, 23}, InTop: 240 * time.Hour}

	tests := []struct {
		name      string
		team      TeamID
		points    AlignmentPoints
		planItems int
		rows      []alignRow
		neglected []neglectRow
	}{
		{
			// Planned   W-1 5 + W-2 3          =  8   →  8/19
			// Interrupt W-7 1                  =  1   →  1/19
			// Other     W-6 3 + W-8 5 + W-10 2 = 10   → 10/19
			// Total                              19
			// W-4 (rejected), W-5 (pin only), W-9 (backward only) and W-3 (untouched) score nothing.
			name:      "Everyone",
			points:    AlignmentPoints{Total: 19, Planned: 8, Interrupt: 1, Other: 10},
			planItems: 5,
			rows: []alignRow{
				{1, AlignPlanned, 5, "core", 3, true, 1},
				{2, AlignPlanned, 3, "web", 2, false, 2},
				{7, AlignInterrupt, 1, "web", 2, true, 0},
				{6, AlignOther, 3, "core", 3, true, 0},
				{8, AlignOther, 5, "core", 1, false, 0},
				{10, AlignOther, 2, "web", 1, false, 0},
			},
			neglected: []neglectRow{w3},
		},
		{
			// core: W-1 5 planned; W-6 3 (core since Wednesday) + W-8 5 other → 5/13, 0/13, 8/13.
			// Its plan items: W-1, W-3, W-5.
			name:      "Core",
			team:      "core",
			points:    AlignmentPoints{Total: 13, Planned: 5, Other: 8},
			planItems: 3,
			rows: []alignRow{
				{1, AlignPlanned, 5, "core", 3, true, 1},
				{6, AlignOther, 3, "core", 3, true, 0},
				{8, AlignOther, 5, "core", 1, false, 0},
			},
			neglected: []neglectRow{w3},
		},
		{
			// web: W-2 3 planned, W-7 1 interrupt, W-10 2 other → 3/6, 1/6, 2/6. W-6 left web mid-week.
			// Its plan items: W-2, W-4; both touched, so nothing neglected.
			name:      "Web",
			team:      "web",
			points:    AlignmentPoints{Total: 6, Planned: 3, Interrupt: 1, Other: 2},
			planItems: 2,
			rows: []alignRow{
				{2, AlignPlanned, 3, "web", 2, false, 2},
				{7, AlignInterrupt, 1, "web", 2, true, 0},
				{10, AlignOther, 2, "web", 1, false, 0},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := p.Alignment(week, data, tt.team)
			if a.Week != week || a.Team != tt.team {
				t.Errorf("week, team = %v, %q", a.Week, a.Team)
			}
			if !a.PlanKnown || !a.Plan.At.Equal(at(3, 2, 0, 0)) || a.PlanItems != tt.planItems {
				t.Errorf("plan known %v at %v with %d items, want true at %v with %d", a.PlanKnown, a.Plan.At, a.PlanItems, at(3, 2, 0, 0), tt.planItems)
			}
			if a.Points != tt.points {
				t.Errorf("points = %+v, want %+v", a.Points, tt.points)
			}
			total := float64(tt.points.Total)
			wantShares := AlignmentShares{
				Planned:   float64(tt.points.Planned) / total,
				Interrupt: float64(tt.points.Interrupt) / total,
				Other:     float64(tt.points.Other) / total,
			}
			if !a.SharesDefined || a.Shares != wantShares {
				t.Errorf("shares = %v %+v, want %+v", a.SharesDefined, a.Shares, wantShares)
			}
			if got := alignRows(a); !reflect.DeepEqual(got, tt.rows) {
				t.Errorf("items:\n got %+v\nwant %+v", got, tt.rows)
			}
			if got := neglectRows(a); !reflect.DeepEqual(got, tt.neglected) {
				t.Errorf("neglected:\n got %+v\nwant %+v", got, tt.neglected)
			}
		})
	}

	// The shares as a reader sees them: 8/19 = 42.1%, 1/19 = 5.3%, 10/19 = 52.6%.
	a := p.Alignment(week, data, "")
	for _, c := range []struct {
		name      string
		got, want float64
	}{{"planned", a.Shares.Planned, 0.421}, {"interrupt", a.Shares.Interrupt, 0.053}, {"other", a.Shares.Other, 0.526}} {
		if math.Round(c.got*1000)/1000 != c.want {
			t.Errorf("%s share = %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestAlignmentEdgeCases(t *testing.T) {
	p := digestTestPolicy(t)
	b := p.Calendar.Location
	at := func(m time.Month, d, h int) time.Time { return calTestAt(b, 2026, m, d, h, 0) }
	week := Period{From: at(3, 2, 0), To: at(3, 9, 0)}
	const dev UserID = "UDEV"
	mv := func(id ItemID, when time.Time, from, to StageID) Event {
		e := Event{At: when, Actor: dev, Type: EventMoved, ItemID: id, Changes: []Change{{Field: "stage", Before: string(from), After: string(to)}}}
		if to == "done" {
			e.Changes = append(e.Changes, Change{Field: "resolution", After: "done"})
		}
		return e
	}
	triaged := func(id ItemID, size int) Item {
		return Item{ID: id, Team: "core", Size: size, Triaged: true, Stage: "in_progress"}
	}
	plan := snapOf(at(3, 2, 0), 1, 2)

	tests := []struct {
		name      string
		data      AlignmentData
		planKnown bool
		points    AlignmentPoints
		rows      []alignRow
		neglected []ItemID
	}{
		{
			name:      "EmptyWeekWithoutAPlan",
			data:      AlignmentData{},
			planKnown: false,
		},
		{
			// Nothing moved: 0 points, shares undefined, and the whole plan was neglected.
			name:      "EmptyWeekWithAPlan",
			data:      AlignmentData{Snapshots: []PrioritySnapshot{plan}, Items: []Item{triaged(1, 5), triaged(2, 3)}},
			planKnown: true,
			neglected: []ItemID{1, 2},
		},
		{
			// No snapshot at or before Monday 00:00 (Tuesday's is too late): the plan is unknown, so
			// triaged work is "unknown" rather than 0% planned; the untriaged item is still an interrupt.
			name: "NoSnapshot",
			data: AlignmentData{
				Snapshots: []PrioritySnapshot{snapOf(at(3, 3, 0), 1)},
				Events:    []Event{mv(1, at(3, 3, 10), "in_progress", "review"), mv(7, at(3, 4, 10), "in_progress", "done")},
				Items:     []Item{triaged(1, 5), {ID: 7, Team: "core", Size: 2, Stage: "done", Resolution: ResolutionDone}},
			},
			points: AlignmentPoints{Total: 7, Interrupt: 2, Unknown: 5},
			rows:   []alignRow{{7, AlignInterrupt, 2, "core", 1, true, 0}, {1, AlignUnknown, 5, "core", 1, false, 0}},
		},
		{
			// todo → in_progress → review: two forward moves, the size once.
			name: "MovedForwardTwice",
			data: AlignmentData{
				Snapshots: []PrioritySnapshot{plan},
				Events:    []Event{mv(1, at(3, 2, 10), "todo", "in_progress"), mv(1, at(3, 3, 10), "in_progress", "review"), mv(2, at(3, 4, 10), "todo", "in_progress")},
				Items:     []Item{triaged(1, 5), triaged(2, 3)},
			},
			planKnown: true,
			points:    AlignmentPoints{Total: 8, Planned: 8},
			rows:      []alignRow{{1, AlignPlanned, 5, "core", 2, false, 1}, {2, AlignPlanned, 3, "core", 1, false, 2}},
		},
		{
			// Item 1 leaves the top N on Wednesday and item 3 enters it: the plan is Monday's, so 1 stays
			// planned and 3 is other.
			name: "LeavingAndEnteringTheTopMidWeek",
			data: AlignmentData{
				Snapshots: []PrioritySnapshot{plan, snapOf(at(3, 4, 0), 3, 2)},
				Events: []Event{mv(1, at(3, 5, 10), "in_progress", "review"), mv(3, at(3, 5, 11), "in_progress", "review"),
					{At: at(3, 3, 9), Actor: "ULEAD", Type: EventPinned, ItemID: 2, Changes: []Change{{Field: "pin", Before: "0", After: "1"}}}},
				Items: []Item{triaged(1, 5), triaged(2, 3), triaged(3, 8)},
			},
			planKnown: true,
			points:    AlignmentPoints{Total: 13, Planned: 5, Other: 8},
			rows:      []alignRow{{1, AlignPlanned, 5, "core", 1, false, 1}, {3, AlignOther, 8, "core", 1, false, 0}},
		},
		{
			// Item 1 was done before the week although the plan (an older snapshot) lists it: not
			// neglected. Item 2 was only nudged: neglected.
			name: "ClosedBeforeTheWeekIsNotNeglected",
			data: AlignmentData{
				Snapshots: []PrioritySnapshot{snapOf(at(2, 27, 0), 1, 2)},
				Events:    []Event{{At: at(3, 3, 9), Actor: SystemActor, Type: EventNudged, ItemID: 2}},
				Items:     []Item{{ID: 1, Team: "core", Size: 5, Triaged: true, Stage: "done", Resolution: ResolutionDone, DoneAt: at(2, 27, 16)}, triaged(2, 3)},
			},
			planKnown: true,
			neglected: []ItemID{2},
		},
		{
			// Triaged on Tuesday after the week: it was untriaged all week, so an interrupt. An item
			// marked triaged with no triage event in sight counts as prioritised earlier: other.
			name: "TriagedAfterTheWeekWasAnInterrupt",
			data: AlignmentData{
				Snapshots: []PrioritySnapshot{plan},
				Events: []Event{mv(5, at(3, 3, 10), "todo", "in_progress"), mv(6, at(3, 3, 11), "todo", "in_progress"),
					{At: at(3, 10, 9), Actor: "ULEAD", Type: EventTriaged, ItemID: 5, Changes: []Change{{Field: "triaged", Before: "false", After: "true"}}}},
				Items: []Item{triaged(1, 5), triaged(2, 3), triaged(5, 2), triaged(6, 1)},
			},
			planKnown: true,
			points:    AlignmentPoints{Total: 3, Interrupt: 2, Other: 1},
			rows:      []alignRow{{5, AlignInterrupt, 2, "core", 1, false, 0}, {6, AlignOther, 1, "core", 1, false, 0}},
			neglected: []ItemID{1, 2},
		},
		{
			// Closed as a duplicate after a forward move: nothing. A move between stages the workflow no
			// longer has: not forward, but it is a touch. Completion into a stage the workflow no longer
			// has still counts through its resolution.
			name: "DuplicatesAndUnknownStages",
			data: AlignmentData{
				Snapshots: []PrioritySnapshot{plan},
				Events: []Event{
					mv(1, at(3, 2, 10), "todo", "in_progress"),
					{At: at(3, 3, 10), Actor: "ULEAD", Type: EventDuplicate, ItemID: 1, Changes: []Change{{Field: "stage", Before: "in_progress", After: "rejected"}, {Field: "resolution", After: "duplicate"}}},
					mv(2, at(3, 3, 10), "design", "build"),
					{At: at(3, 4, 10), Actor: dev, Type: EventMoved, ItemID: 6, Changes: []Change{{Field: "stage", Before: "build", After: "shipped"}, {Field: "resolution", After: "done"}}},
				},
				Items: []Item{triaged(1, 5), triaged(2, 3), triaged(6, 1)},
			},
			planKnown: true,
			points:    AlignmentPoints{Total: 1, Other: 1},
			rows:      []alignRow{{6, AlignOther, 1, "core", 1, true, 0}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := p.Alignment(week, tt.data, "")
			if a.PlanKnown != tt.planKnown {
				t.Errorf("PlanKnown = %v, want %v", a.PlanKnown, tt.planKnown)
			}
			if a.Points != tt.points {
				t.Errorf("points = %+v, want %+v", a.Points, tt.points)
			}
			if a.SharesDefined != (tt.points.Total > 0) {
				t.Errorf("SharesDefined = %v with %d points", a.SharesDefined, tt.points.Total)
			}
			for _, s := range []float64{a.Shares.Planned, a.Shares.Interrupt, a.Shares.Other, a.Shares.Unknown} {
				if math.IsNaN(s) || s < 0 || s > 1 {
					t.Errorf("share %v out of range", s)
				}
			}
			if tt.points.Total == 0 && a.Shares != (AlignmentShares{}) {
				t.Errorf("shares = %+v with nothing scored, want zero", a.Shares)
			}
			if got := alignRows(a); !reflect.DeepEqual(got, tt.rows) {
				t.Errorf("items:\n got %+v\nwant %+v", got, tt.rows)
			}
			var neglected []ItemID
			for _, n := range a.Neglected {
				neglected = append(neglected, n.Item.ID)
			}
			if !slices.Equal(neglected, tt.neglected) {
				t.Errorf("neglected = %v, want %v", neglected, tt.neglected)
			}
		})
	}
}

func TestAlignmentNeglectedHistory(t *testing.T) {
	p := digestTestPolicy(t)
	b := p.Calendar.Location
	at := func(m time.Month, d, h int) time.Time { return calTestAt(b, 2026, m, d, h, 0) }
	week := Period{From: at(3, 2, 0), To: at(3, 9, 0)}
	// Item 1 is in every snapshot given, so its run reaches the oldest: at least since 16 Feb. A missing
	// day (no snapshot on 18–19 Feb) does not break the run. Without its history, the last touch comes
	// from LastActivityAt (Thu 26 Feb 12:00): 12h + Fri 24h + 5 × 24h = 156h.
	snaps := []PrioritySnapshot{snapOf(at(2, 16, 0), 1), snapOf(at(2, 17, 0), 1), snapOf(at(2, 20, 0), 1), snapOf(at(3, 2, 0), 1)}
	items := []Item{{ID: 1, Team: "core", Size: 5, Triaged: true, Stage: "todo", LastActivityAt: at(2, 26, 12)}}
	a := p.Alignment(week, AlignmentData{Snapshots: snaps, Items: items}, "")
	want := []neglectRow{{ID: 1, Rank: 1, LastTouched: at(2, 26, 12), Idle: 156 * time.Hour,
		InTopSince: at(2, 16, 0), InTopDate: Date{2026, 2, 16}, InTop: 15 * 24 * time.Hour, InTopAtLeast: true}}
	if got := neglectRows(a); !reflect.DeepEqual(got, want) {
		t.Errorf("neglected:\n got %+v\nwant %+v", got, want)
	}

	// An item the store no longer knows is described by its snapshot entry; its last touch is unknown.
	a = p.Alignment(week, AlignmentData{Snapshots: snaps}, "core")
	if len(a.Neglected) != 1 || a.Neglected[0].Item.ID != 1 || !a.Neglected[0].LastTouched.IsZero() || a.Neglected[0].Idle != 0 || a.PlanItems != 1 {
		t.Errorf("unknown item: %+v (plan items %d)", a.Neglected, a.PlanItems)
	}
	if a := p.Alignment(week, AlignmentData{Snapshots: snaps}, "web"); len(a.Neglected) != 0 || a.PlanItems != 0 {
		t.Errorf("another team's priority was reported: %+v", a.Neglected)
	}
}

func TestWeekOf(t *testing.T) {
	weekdays := calTestWeekdays(t)
	b := weekdays.Location
	at := func(y int, m time.Month, d, h, mi int) time.Time { return calTestAt(b, y, m, d, h, mi) }
	easter := calTestWeekdays(t)
	easter.Holidays = map[Date]bool{{2026, 4, 6}: true} // Easter Monday
	shutdown := calTestWeekdays(t)
	shutdown.Holidays = map[Date]bool{}
	for d := 28; d <= 31; d++ {
		shutdown.Holidays[Date{2026, 12, d}] = true
	}
	shutdown.Holidays[Date{2027, 1, 1}] = true
	sunThu := Calendar{WorkingDays: [7]bool{time.Sunday: true, time.Monday: true, time.Tuesday: true, time.Wednesday: true, time.Thursday: true}, Location: time.UTC}
	utc := func(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

	tests := []struct {
		name     string
		cal      Calendar
		t        time.Time
		from, to time.Time
		hours    float64
	}{
		{"Midweek", weekdays, at(2026, 3, 4, 12, 0), at(2026, 3, 2, 0, 0), at(2026, 3, 9, 0, 0), 168},
		{"SundayNight", weekdays, at(2026, 3, 8, 23, 59), at(2026, 3, 2, 0, 0), at(2026, 3, 9, 0, 0), 168},
		{"MondayMidnight", weekdays, at(2026, 3, 9, 0, 0), at(2026, 3, 9, 0, 0), at(2026, 3, 16, 0, 0), 168},
		// Clocks go forward on Sunday 29 March: that week is an hour short, and Monday 00:00 CEST is
		// 22:00 UTC on Sunday, not the 23:00 UTC that 7 × 24h after the start would give.
		{"SpringDST", weekdays, at(2026, 3, 29, 12, 0), at(2026, 3, 23, 0, 0), time.Date(2026, 3, 29, 22, 0, 0, 0, time.UTC), 167},
		{"AfterSpringDST", weekdays, time.Date(2026, 3, 29, 22, 30, 0, 0, time.UTC), at(2026, 3, 30, 0, 0), at(2026, 4, 6, 0, 0), 168},
		{"AutumnDST", weekdays, at(2026, 10, 25, 12, 0), at(2026, 10, 19, 0, 0), at(2026, 10, 26, 0, 0), 169},
		// Easter Monday is off: the week starts on Tuesday, and the Monday belongs to the week before.
		{"HolidayMonday", easter, at(2026, 4, 6, 10, 0), at(2026, 3, 30, 0, 0), at(2026, 4, 7, 0, 0), 192},
		{"AfterHolidayMonday", easter, at(2026, 4, 7, 9, 0), at(2026, 4, 7, 0, 0), at(2026, 4, 13, 0, 0), 144},
		// A week with no working day keeps its nominal start, so weeks still tile.
		{"ShutdownWeek", shutdown, at(2026, 12, 30, 9, 0), at(2026, 12, 28, 0, 0), at(2027, 1, 4, 0, 0), 168},
		{"SundayToThursday", sunThu, utc(2026, 3, 6).Add(9 * time.Hour), utc(2026, 3, 1), utc(2026, 3, 8), 168},
		{"EveryDayStartsMonday", Calendar{}, utc(2026, 3, 8), utc(2026, 3, 2), utc(2026, 3, 9), 168},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.cal.WeekOf(tt.t)
			if !got.From.Equal(tt.from) || !got.To.Equal(tt.to) {
				t.Errorf("WeekOf(%v) = [%v, %v), want [%v, %v)", tt.t, got.From, got.To, tt.from, tt.to)
			}
			if h := got.To.Sub(got.From).Hours(); h != tt.hours {
				t.Errorf("the week lasts %vh, want %vh", h, tt.hours)
			}
			if got.From.After(tt.t) || !got.To.After(tt.t) {
				t.Errorf("WeekOf(%v) = [%v, %v) does not hold it", tt.t, got.From, got.To)
			}
		})
	}

	// Weeks tile: each one starts where the one before ended, through DST changes and holidays.
	for _, cal := range []Calendar{weekdays, easter, shutdown, sunThu} {
		w := cal.WeekOf(at(2026, 1, 1, 12, 0))
		for range 60 {
			next := cal.WeekOf(w.To)
			if !next.From.Equal(w.To) {
				t.Fatalf("week after [%v, %v) starts at %v", w.From, w.To, next.From)
			}
			w = next
		}
	}
}

func TestWeeksBefore(t *testing.T) {
	cal := calTestWeekdays(t)
	b := cal.Location
	at := func(m time.Month, d int) time.Time { return calTestAt(b, 2026, m, d, 0, 0) }
	got := cal.WeeksBefore(calTestAt(b, 2026, 3, 11, 9, 0), AlignmentTrendWeeks)
	want := []Period{{at(2, 9), at(2, 16)}, {at(2, 16), at(2, 23)}, {at(2, 23), at(3, 2)}, {at(3, 2), at(3, 9)}}
	if len(got) != len(want) {
		t.Fatalf("WeeksBefore = %v, want %v", got, want)
	}
	for i := range want {
		if !got[i].From.Equal(want[i].From) || !got[i].To.Equal(want[i].To) {
			t.Errorf("week %d = [%v, %v), want [%v, %v)", i, got[i].From, got[i].To, want[i].From, want[i].To)
		}
	}
	if cal.WeeksBefore(at(3, 11), 0) != nil {
		t.Errorf("WeeksBefore(0) is not empty")
	}
}

// TestAlignmentAcrossDSTAndHoliday puts forward moves either side of two week boundaries: the spring
// DST change (Monday 30 March 00:00 CEST is Sunday 22:00 UTC) and Easter Monday, a holiday that belongs
// to the week before it.
func TestAlignmentAcrossDSTAndHoliday(t *testing.T) {
	p := digestTestPolicy(t)
	p.Calendar.Holidays = map[Date]bool{{2026, 4, 6}: true}
	b := p.Calendar.Location
	utc := func(d, h, mi int) time.Time { return time.Date(2026, 3, d, h, mi, 0, 0, time.UTC) }
	mv := func(id ItemID, when time.Time) Event {
		return Event{At: when, Actor: "UDEV", Type: EventMoved, ItemID: id, Changes: []Change{{Field: "stage", Before: "todo", After: "in_progress"}}}
	}
	data := AlignmentData{
		Snapshots: []PrioritySnapshot{
			snapOf(calTestAt(b, 2026, 3, 23, 0, 0), 1),
			snapOf(calTestAt(b, 2026, 3, 30, 0, 0), 2),
			snapOf(calTestAt(b, 2026, 4, 6, 0, 0), 1), // the holiday: after the 30 March week's start, before the next
			snapOf(calTestAt(b, 2026, 4, 7, 0, 0), 3),
		},
		Events: []Event{
			mv(1, utc(29, 21, 30)),                                      // Sunday 23:30 CEST: week of 23 March
			mv(2, utc(29, 22, 30)),                                      // Monday 00:30 CEST: week of 30 March
			mv(3, calTestAt(b, 2026, 4, 6, 10, 0)),                      // Easter Monday: week of 30 March
			mv(4, calTestAt(b, 2026, 4, 7, 0, 0).Add(-time.Nanosecond)), // the last instant of that week
			mv(5, calTestAt(b, 2026, 4, 7, 0, 0)),                       // the first of the next
		},
		Items: []Item{
			{ID: 1, Size: 1, Triaged: true}, {ID: 2, Size: 2, Triaged: true}, {ID: 3, Size: 3, Triaged: true},
			{ID: 4, Size: 5, Triaged: true}, {ID: 5, Size: 8, Triaged: true},
		},
	}
	weeks := []Period{
		p.Calendar.WeekOf(calTestAt(b, 2026, 3, 25, 12, 0)),
		p.Calendar.WeekOf(calTestAt(b, 2026, 4, 1, 12, 0)),
		p.Calendar.WeekOf(calTestAt(b, 2026, 4, 8, 12, 0)),
	}
	got := p.AlignmentTrend(weeks, data, "")
	want := []AlignmentPoints{
		{Total: 1, Planned: 1}, // item 1 (1 point), in 23 March's plan
		// Item 2 (2 points) in 30 March's plan; items 3 (3) and 4 (5) are not: 2 + 3 + 5 = 10. The
		// snapshot taken on the holiday is after this week's start, so it is not the plan.
		{Total: 10, Planned: 2, Other: 8},
		{Total: 8, Other: 8}, // item 5 (8 points); 7 April's plan holds only item 3
	}
	for i := range want {
		if got[i].Points != want[i] {
			t.Errorf("week %d [%v, %v): points %+v, want %+v", i, got[i].Week.From, got[i].Week.To, got[i].Points, want[i])
		}
	}
	if !got[1].Plan.At.Equal(calTestAt(b, 2026, 3, 30, 0, 0)) || !got[2].Plan.At.Equal(calTestAt(b, 2026, 4, 7, 0, 0)) {
		t.Errorf("plans at %v and %v", got[1].Plan.At, got[2].Plan.At)
	}
}

func TestNewPrioritySnapshot(t *testing.T) {
	p := digestTestPolicy(t)
	now := calTestAt(p.Calendar.Location, 2026, 3, 2, 0, 0)
	open := []Item{
		{ID: 1, Stage: "intake", Value: 5, Urgency: 5, Size: 1, Team: "web"},                    // untriaged intake: left out
		{ID: 2, Stage: "todo", Triaged: true, Value: 3, Urgency: 3, Size: 3, Team: "core"},      // 54 − 3.17
		{ID: 3, Stage: "todo", Triaged: true, Value: 4, Urgency: 4, Size: 8, Team: "web"},       // 72 − 6 = 66
		{ID: 4, Stage: "in_progress", Value: 1, Urgency: 1, Size: 2, Team: "core"},              // out of intake: 16
		{ID: 5, Stage: "todo", Triaged: true, Value: 1, Urgency: 1, Size: 13, Pin: 2},           // pinned: first
		{ID: 6, Stage: "done", Triaged: true, Value: 5, Urgency: 5, Resolution: ResolutionDone}, // closed: left out
	}
	got := p.SnapshotPriorities(open, now, 3)
	want := PrioritySnapshot{Date: Date{2026, 3, 2}, At: now, N: 3, Items: []PlannedItem{
		{ID: 5, Rank: 1, Size: 13}, {ID: 3, Rank: 2, Size: 8, Team: "web"}, {ID: 2, Rank: 3, Size: 3, Team: "core"},
	}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("snapshot:\n got %+v\nwant %+v", got, want)
	}
	// A digest's Top (already ranked, already without intake) gives the same list.
	if got := p.NewPrioritySnapshot(p.Rank(open, now), now, 3); !reflect.DeepEqual(got, want) {
		t.Errorf("from ranked:\n got %+v\nwant %+v", got, want)
	}
	// Re-sizing the item later does not change the stored entry.
	open[2].Size = 1
	if got.Items[1].Size != 8 {
		t.Errorf("the snapshot follows the item's size: %d", got.Items[1].Size)
	}
	if got := p.SnapshotPriorities(open, now, 0); got.N != DefaultDigestTop || len(got.Items) != 4 {
		t.Errorf("n=0: N %d with %d items, want %d with 4", got.N, len(got.Items), DefaultDigestTop)
	}
	if got := p.SnapshotPriorities(nil, now, MaxDigestTop+1); got.N != MaxDigestTop || got.Items != nil {
		t.Errorf("n too big: %+v", got)
	}
}

// TestBuildAlignmentFromOperations runs a week through the real operations and store port, so the
// report reads the events that ops.go actually writes.
func TestBuildAlignmentFromOperations(t *testing.T) {
	e := newOpsEnv(t)
	e.now = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC) // Wednesday before the week
	p := e.svc.Policy
	a := e.create("planned", func(n *NewItem) { n.Value = 5 })
	bItem := e.create("later priority")
	c := e.create("neglected", func(n *NewItem) { n.Value = 4 })
	d := e.create("interrupt")
	e.must(e.svc.TriageItem(bg, opLead, a.ID, Triage{Size: 5}))
	e.must(e.svc.TriageItem(bg, opLead, c.ID, Triage{Size: 8}))
	e.must(e.svc.Assign(bg, opLead, a.ID, opDev1))
	e.advance(time.Hour)
	e.must(e.svc.Assign(bg, opLead, c.ID, opDev2)) // C's last touch: Wednesday 11:00

	week := p.Calendar.WeekOf(time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)) // Mon 30 Nov – Mon 7 Dec
	var open []Item
	if err := e.store.View(bg, func(tx ReadTx) error {
		return tx.OpenItems(func(it Item) bool { open = append(open, it); return true })
	}); err != nil {
		t.Fatal(err)
	}
	snap := p.SnapshotPriorities(open, week.From, 2) // the scheduler's Monday 00:00 slot
	if len(snap.Items) != 2 || snap.Items[0].ID != a.ID || snap.Items[1].ID != c.ID {
		t.Fatalf("snapshot = %+v, want A then C", snap.Items)
	}

	e.now = week.From.Add(9 * time.Hour) // Monday 09:00
	e.must(e.svc.Start(bg, opDev1, a.ID))
	e.must(e.svc.Move(bg, opDev1, a.ID, "review"))
	e.must(e.svc.Done(bg, opDev1, a.ID)) // A: 3 forward moves, 5 points, planned
	e.advance(time.Hour)
	e.must(e.svc.Assign(bg, opLead, d.ID, opDev1))
	// Assigning moved D out of intake to todo: not triage, and not forward.
	e.must(e.svc.Start(bg, opDev1, d.ID))
	e.must(e.svc.Done(bg, opDev1, d.ID)) // D: untriaged, default size 3 → interrupt
	e.advance(24 * time.Hour)
	e.must(e.svc.TriageItem(bg, opLead, bItem.ID, Triage{Size: 2})) // B: triaged this week → other
	e.must(e.svc.Assign(bg, opLead, bItem.ID, opDev2))
	e.must(e.svc.Start(bg, opDev2, bItem.ID))
	e.must(e.svc.MarkNudged(bg, c.ID)) // bookkeeping: C stays neglected

	var got Alignment
	if err := e.store.View(bg, func(tx ReadTx) error {
		var err error
		got, err = BuildAlignment(tx, p, week, []PrioritySnapshot{snap}, "")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	wantPoints := AlignmentPoints{Total: 10, Planned: 5, Interrupt: 3, Other: 2}
	wantRows := []alignRow{
		{a.ID, AlignPlanned, 5, "dev", 3, true, 1},
		{d.ID, AlignInterrupt, 3, "dev", 2, true, 0},
		{bItem.ID, AlignOther, 2, "dev", 1, false, 0},
	}
	if got.Points != wantPoints || !reflect.DeepEqual(alignRows(got), wantRows) {
		t.Errorf("points %+v, items %+v\nwant %+v, %+v", got.Points, alignRows(got), wantPoints, wantRows)
	}
	// C: idle from Wednesday 25 Nov 11:00 to Monday 7 Dec 00:00 (UTC, Mon–Fri): 13h + Thu + Fri +
	// 5 days = 13 + 7 × 24 = 181h; in the top N since the Monday snapshot: 5 × 24 = 120h.
	wantNeglected := []neglectRow{{ID: c.ID, Rank: 2, LastTouched: time.Date(2026, 11, 25, 11, 0, 0, 0, time.UTC), Idle: 181 * time.Hour,
		InTopSince: week.From, InTopDate: Date{2026, 11, 30}, InTop: 120 * time.Hour, InTopAtLeast: true}}
	if !reflect.DeepEqual(neglectRows(got), wantNeglected) {
		t.Errorf("neglected:\n got %+v\nwant %+v", neglectRows(got), wantNeglected)
	}

	// The one-item-at-a-time reading gives every team the same report as the whole-history one, less
	// the per-item breakdown.
	teams := []TeamID{"", "dev", "ops"}
	var reports []Alignment
	if err := e.store.View(bg, func(tx ReadTx) error {
		var err error
		reports, err = BuildAlignmentReports(tx, p, week, []PrioritySnapshot{snap}, teams)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	for i, team := range teams {
		var whole Alignment
		if err := e.store.View(bg, func(tx ReadTx) error {
			var err error
			whole, err = BuildAlignment(tx, p, week, []PrioritySnapshot{snap}, team)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if team == "" && whole.Points != wantPoints {
			t.Fatalf("everyone's points %+v, want %+v", whole.Points, wantPoints)
		}
		r := reports[i]
		if r.Team != team || r.Points != whole.Points || r.Shares != whole.Shares || r.PlanItems != whole.PlanItems ||
			r.PlanKnown != whole.PlanKnown || !reflect.DeepEqual(neglectRows(r), neglectRows(whole)) || len(r.Items) != 0 {
			t.Errorf("team %q: one item at a time %+v\nwhole history %+v", team, r, whole)
		}
	}

	if err := e.store.View(bg, func(tx ReadTx) error {
		_, err := BuildAlignment(tx, p, Period{From: week.To, To: week.From}, nil, "")
		return err
	}); ErrorCode(err) != EINVALID {
		t.Errorf("a backwards week: %v, want EINVALID", err)
	}
	if err := e.store.View(bg, func(tx ReadTx) error {
		_, err := BuildAlignmentReports(tx, p, Period{From: week.To, To: week.From}, nil, teams)
		return err
	}); ErrorCode(err) != EINVALID {
		t.Errorf("a backwards week, one item at a time: %v, want EINVALID", err)
	}
}
