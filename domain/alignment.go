package domain

import (
	"cmp"
	"fmt"
	"hash/fnv"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Plan versus execution ("alignment").
//
// workbot exists because of the gap between planning and doing. Once a week it measures that gap from
// two records nobody edits after the fact: the audit log (events) and a daily PrioritySnapshot of the
// priority order. The definitions below are the product's; the README quotes them.
//
//   - Week. A week starts at midnight, in the calendar's time zone, of its first working day, and ends
//     where the next week starts (Calendar.WeekOf). The nominal week begins on the working weekday that
//     follows the longest run of days off: Monday for Mon–Fri, Sunday for Sun–Thu, Monday when every day
//     is a working day. A holiday on that day moves the start to the next working day, and the holiday
//     belongs to the week before, where nobody planned for it either. Weeks neither overlap nor leave
//     gaps, so every event falls in exactly one week; across a DST change a week lasts 167 or 169 hours.
//   - Plan. The top N at the start of the week: the latest snapshot taken at or before the week's start.
//     Without one the plan is unknown (Alignment.PlanKnown is false), and the report says so rather than
//     claim that 0% of the work was planned.
//   - Moved forward. An event with a stage change to a later stage in the workflow's order that is at or
//     after the start stage (in_progress by default), or one that completes the item (a terminal stage
//     whose resolution is done, or a resolution set to done). Triage's move out of intake (intake →
//     todo) is prioritisation, not execution, so it does not count; backward moves (review →
//     in_progress) and moves to rejected never count.
//   - Done. Completing an item (resolution done) is a forward move. An item closed in the week as
//     rejected or as a duplicate scores nothing, even if it moved forward earlier that week: it was not
//     delivered, and counting it would let abandoned work pass for progress.
//   - Points. An item that moved forward at least once in the week scores its size once, however many
//     moves it made. The points say where the week's effort went: scoring every move would make a
//     six-stage workflow look three times as busy as a two-stage one and would pay an item again each
//     time it bounced between review and in_progress; scored once, a week's points compare with
//     capacity (points per week). The size is the one the item had at the end of the week, rebuilt from
//     the events' before → after values, so a later re-estimate never rewrites an old week.
//   - Triaged or prioritised. A lead triaged the item (EventTriaged: the one operation that sets value,
//     urgency, size and due date as a lead) or pinned or unpinned it (EventPinned). Assigning it is not
//     prioritising it. Judged as of the end of the week, so triage after the week changes nothing.
//   - Categories. Each item that scores falls in one:
//     planned: in the plan. Rank changes during the week do not matter: an item that leaves the top N
//     mid-week stays planned and one that enters it mid-week does not become planned, because the
//     question is whether the week went the way it was planned when it started;
//     interrupt: not in the plan and not prioritised by the end of the week: work that arrived and was
//     done (or pushed forward) around triage;
//     other: not in the plan but prioritised: lower priorities, or work prioritised during the week;
//     unknown: prioritised work in a week whose plan is unknown, where planned and other cannot be told
//     apart.
//   - Shares. Each category's points over all points. When nothing scored, every share is 0 and
//     SharesDefined is false: no NaN, and no pretend 0%.
//   - Team filter. An item belongs to the team it had at the end of the week. The plan stays the
//     organisation's top N: a team's planned share is the share of its points that went to the
//     organisation's priorities, and its neglected priorities are those of its items in that top N.
//   - Touched. Any event on the item except bookkeeping: nudges, snoozes, handoff escalations and
//     anything the bot did on its own (SystemActor). These are the events that count as activity for
//     stall detection too.
//   - Neglected priorities. Items of the plan, still open at the week's start, that nobody touched during
//     the week, in plan order. Each says how long it has waited in working time (Calendar.WorkingTime) up
//     to the week's end: since its last touch, and since it entered the top N, which is the earliest
//     snapshot of the unbroken run of snapshots holding it that ends with the plan. Days without a
//     snapshot do not break a run; a snapshot without the item does.

// AlignmentTrendWeeks is how many complete weeks the alignment trend shows.
const AlignmentTrendWeeks = 4

// PlannedItem is one entry of a PrioritySnapshot: an item's rank, size and team when the snapshot was
// taken, so the record stands on its own even if the item changes or disappears later.
type PlannedItem struct {
	ID   ItemID
	Rank int // 1-based position in the snapshot
	Size int
	Team TeamID
}

// PrioritySnapshot is the priority order at one moment: the top N open items, in rank order. The bot
// stores one a day; a week's plan is the latest one taken at or before the week's start.
type PrioritySnapshot struct {
	Date  Date      // At's day in the calendar's time zone
	At    time.Time // the moment the order describes
	N     int       // how many items were asked for; Items may hold fewer
	Items []PlannedItem
}

// rankForPlan reports whether an open item may be in the plan. It is the digest's rule for its top
// list (Digest.Top): untriaged intake carries only the requester's guesses, and the plan should be the
// list leadership actually reads.
func (p *Policy) rankForPlan(it *Item) bool {
	return it.Open() && (it.Triaged || it.Stage != p.Workflow.Initial)
}

// NewPrioritySnapshot builds the snapshot at at from items already in priority order (Policy.Rank, or
// a digest's Top). Closed items and untriaged intake are skipped, as the digest's top list skips them;
// the first n that remain are kept and numbered from 1. n ≤ 0 means DefaultDigestTop and more than
// MaxDigestTop means MaxDigestTop; use the digest's top setting, so the plan is the list leadership
// reads.
//
// at is the moment the order describes. A scheduler should pass its slot time (local midnight, say)
// rather than the instant the job happened to run, so that a job starting a few seconds late is still
// the snapshot "at the start of the week".
func (p *Policy) NewPrioritySnapshot(ranked []Ranked, at time.Time, n int) PrioritySnapshot {
	n = alignTop(n)
	s := PrioritySnapshot{Date: p.Calendar.Today(at), At: at, N: n}
	for i := range ranked {
		if len(s.Items) == n {
			break
		}
		it := &ranked[i].Item
		if !p.rankForPlan(it) {
			continue
		}
		s.Items = append(s.Items, PlannedItem{ID: it.ID, Rank: len(s.Items) + 1, Size: it.Size, Team: it.Team})
	}
	return s
}

// SnapshotPriorities ranks the open items at at and returns the snapshot of the top n (see
// NewPrioritySnapshot). The input is not modified.
func (p *Policy) SnapshotPriorities(open []Item, at time.Time, n int) PrioritySnapshot {
	eligible := make([]Item, 0, len(open))
	for i := range open {
		if p.rankForPlan(&open[i]) {
			eligible = append(eligible, open[i])
		}
	}
	return p.NewPrioritySnapshot(p.Rank(eligible, at), at, n)
}

func alignTop(n int) int {
	if n <= 0 {
		return DefaultDigestTop
	}
	return min(n, MaxDigestTop)
}

// WeekOf is the week that holds t (see "Week" above): [midnight of its first working day, midnight of
// the next week's first working day), in the calendar's time zone.
func (c Calendar) WeekOf(t time.Time) Period {
	n := c.point(t).day
	anchor := c.weekStartWeekday()
	s := n - int64((int(weekdayOfDay(n))-int(anchor)+7)%7)
	if n < c.firstWorkingDay(s) {
		s -= 7 // a holiday at the start of the nominal week still belongs to the week before
	}
	return Period{
		From: c.instant(calPoint{day: c.firstWorkingDay(s)}),
		To:   c.instant(calPoint{day: c.firstWorkingDay(s + 7)}),
	}
}

// WeeksBefore is the n complete weeks before the week that holds now, oldest first. The week in
// progress is left out: its points are not comparable with a whole week's yet.
func (c Calendar) WeeksBefore(now time.Time, n int) []Period {
	if n <= 0 {
		return nil
	}
	out := make([]Period, n)
	w := c.WeekOf(now)
	for i := n - 1; i >= 0; i-- {
		w = c.WeekOf(w.From.Add(-time.Nanosecond))
		out[i] = w
	}
	return out
}

// weekStartWeekday is the working weekday that follows the longest run of days off; ties go to the
// earliest from Monday on, and a calendar without days off starts on Monday.
func (c Calendar) weekStartWeekday() time.Weekday {
	best, bestRun := time.Monday, 0
	for i := range 7 {
		w := time.Weekday((int(time.Monday) + i) % 7)
		if !c.weekdayOn(w) {
			continue
		}
		run := 0
		for run < 6 && !c.weekdayOn(time.Weekday((int(w)+6-run)%7)) {
			run++
		}
		if run > bestRun {
			best, bestRun = w, run
		}
	}
	return best
}

// firstWorkingDay is the first working day of the nominal week starting on day s, or s itself when the
// whole week is off, so that weeks keep tiling the calendar.
func (c Calendar) firstWorkingDay(s int64) int64 {
	for d := s; d < s+7; d++ {
		if c.workingDayNumber(d) {
			return d
		}
	}
	return s
}

// AlignmentCategory says where an item's points went (see "Categories" above).
type AlignmentCategory string

const (
	AlignPlanned   AlignmentCategory = "planned"
	AlignInterrupt AlignmentCategory = "interrupt"
	AlignOther     AlignmentCategory = "other"
	AlignUnknown   AlignmentCategory = "unknown"
)

func (c AlignmentCategory) order() int {
	switch c {
	case AlignPlanned:
		return 0
	case AlignInterrupt:
		return 1
	case AlignOther:
		return 2
	}
	return 3
}

// AlignmentPoints splits a week's points by category. Total is their sum; Unknown is 0 whenever the
// plan is known.
type AlignmentPoints struct {
	Total, Planned, Interrupt, Other, Unknown int
}

// AlignmentShares are the categories' points over the total, each from 0 to 1. They are all 0 when
// nothing scored (see Alignment.SharesDefined).
type AlignmentShares struct {
	Planned, Interrupt, Other, Unknown float64
}

// AlignedItem is one item that scored in the week, with why.
type AlignedItem struct {
	Item      Item // its current state (for key and title); only ID is set when the item is unknown
	Category  AlignmentCategory
	Points    int    // its size at the end of the week
	Team      TeamID // its team at the end of the week
	Moves     int    // forward moves in the week, completion included
	Completed bool   // completed (resolution done) in the week
	PlanRank  int    // its rank in the plan; 0 when it was not in it
}

// NeglectedItem is an item of the plan that nobody touched all week.
type NeglectedItem struct {
	Item    Item        // its current state; only ID is set when the item is unknown
	Planned PlannedItem // its entry in the plan: rank, size and team at the week's start
	// LastTouched is its last touch before the week's end, and Idle the working time from then to the
	// week's end. Both are zero when the events given do not reach back that far.
	LastTouched time.Time
	Idle        time.Duration
	// InTopSince is when the snapshot that first held it, in the run ending with the plan, was taken,
	// and InTop the working time from then to the week's end. InTopAtLeast is set when that run reaches
	// the oldest snapshot given, so it may have been in the top N for longer.
	InTopSince   time.Time
	InTopDate    Date
	InTop        time.Duration
	InTopAtLeast bool
}

// Alignment is one week's plan versus execution (see the definitions above).
type Alignment struct {
	Week Period
	Team TeamID // "" for everyone
	// PlanKnown is false when no snapshot was taken at or before the week's start; Plan is then zero.
	PlanKnown bool
	Plan      PrioritySnapshot // the whole snapshot, whatever the team filter
	// PlanItems is how many of the plan's items belong to the report's team (all of them without a
	// filter), so a renderer can tell "no priorities" from "priorities ignored".
	PlanItems int
	Points    AlignmentPoints
	// SharesDefined is false when nothing scored: the shares are then 0 and mean nothing.
	SharesDefined bool
	Shares        AlignmentShares
	// Items are the items that scored: planned ones in plan order, then interrupts, other and unknown,
	// each by ID.
	Items []AlignedItem
	// Neglected are the plan's untouched items, in plan order.
	Neglected []NeglectedItem
}

// AlignmentData is what the alignment functions read.
//
//   - Snapshots: the stored priority snapshots, in any order. Older ones only serve InTopSince, so a
//     quarter's worth is plenty.
//   - Events: every event of the weeks reported on and, for each item they name and each item of a
//     plan, that item's whole history (ItemEvents), each event once. Events outside the weeks serve as
//     history only: whether an item was triaged, when it was last touched, and what its size and team
//     were at the end of a week (later events roll those back). Without the history the report still
//     works but knows less: an item marked Triaged or pinned with no such event in sight is taken as
//     prioritised before the history given, and a last touch outside the events given is unknown.
//   - Items: the current state of those items, for their key, title, and size and team where no event
//     changed them. Missing items fall back on their snapshot entry.
type AlignmentData struct {
	Snapshots []PrioritySnapshot
	Events    []Event
	Items     []Item
}

// Alignment computes the report for week, for everyone when team is "" or for one team.
func (p *Policy) Alignment(week Period, data AlignmentData, team TeamID) Alignment {
	return p.newAlignIndex(data).week(week, team)
}

// AlignmentTrend computes the report for each week, in the order given (Calendar.WeeksBefore(now,
// AlignmentTrendWeeks) gives the last four complete weeks, oldest first): the data behind the trend
// chart.
func (p *Policy) AlignmentTrend(weeks []Period, data AlignmentData, team TeamID) []Alignment {
	x := p.newAlignIndex(data)
	out := make([]Alignment, len(weeks))
	for i, w := range weeks {
		out[i] = x.week(w, team)
	}
	return out
}

// BuildAlignment reads what one week's report needs from the store and computes it (see
// BuildAlignmentTrend).
func BuildAlignment(tx ReadTx, p *Policy, week Period, snaps []PrioritySnapshot, team TeamID) (Alignment, error) {
	out, err := BuildAlignmentTrend(tx, p, []Period{week}, snaps, team)
	if err != nil {
		return Alignment{}, err
	}
	return out[0], nil
}

// BuildAlignmentTrend reads what the weeks' reports need and computes them (see readAlignmentData). The
// cost follows the weeks' activity and the plan's size, not the age of the database. Returns EINVALID
// for a week that does not end after it starts, and the store's errors wrapped.
func BuildAlignmentTrend(tx ReadTx, p *Policy, weeks []Period, snaps []PrioritySnapshot, team TeamID) ([]Alignment, error) {
	if tx == nil || p == nil {
		return nil, Errorf(EINTERNAL, "the alignment report needs a store and a policy")
	}
	if len(weeks) == 0 {
		return nil, nil
	}
	data, err := readAlignmentData(tx, weeks, snaps)
	if err != nil {
		return nil, err
	}
	return p.AlignmentTrend(weeks, data, team), nil
}

// BuildAlignmentReports computes one week's report for each of teams ("" is everyone), in that order,
// from one reading of the store. Unlike BuildAlignmentTrend it holds one item's history at a time
// (and the plan's), so its memory follows the number of items the week touched rather than their
// events; the reports' Items are left empty. Reading is most of the cost, so a caller that keeps
// reports computes every team's in one pass.
func BuildAlignmentReports(tx ReadTx, p *Policy, week Period, snaps []PrioritySnapshot, teams []TeamID) ([]Alignment, error) {
	if tx == nil || p == nil {
		return nil, Errorf(EINTERNAL, "the alignment report needs a store and a policy")
	}
	sorted := alignSnapshotsByTime(snaps)
	ids, err := alignmentItemIDs(tx, []Period{week}, sorted)
	if err != nil {
		return nil, err
	}
	x := p.newAlignIndex(AlignmentData{Snapshots: sorted})
	out := make([]Alignment, len(teams))
	pi, plan := -1, map[ItemID]PlannedItem(nil)
	for i, team := range teams {
		out[i], pi, plan = x.startWeek(week, team)
	}
	touched := map[ItemID]bool{}
	err = readAlignmentItems(tx, ids, func(it Item, evs []Event) {
		it.Details = "" // reports show an item's key and title
		_, planned := plan[it.ID]
		hist := evs
		if planned {
			hist = slices.Clone(evs) // kept for the plan's pass; evs is reused
		}
		alignSortHistory(hist)
		x.items[it.ID], x.hist[it.ID] = it, hist
		for i := range out {
			if x.scoreItem(&out[i], it.ID, plan, false) {
				touched[it.ID] = true
			}
		}
		if !planned {
			delete(x.items, it.ID)
			delete(x.hist, it.ID)
		}
	})
	if err != nil {
		return nil, err
	}
	for i := range out {
		x.finishWeek(&out[i], pi, touched)
	}
	return out, nil
}

// alignmentItemIDs lists, in ascending order, the items named by the events of the weeks and the items
// of the weeks' plans (sorted is the snapshots by time). Returns EINVALID for a week that does not end
// after it starts.
func alignmentItemIDs(tx ReadTx, weeks []Period, sorted []PrioritySnapshot) ([]ItemID, error) {
	from, to := weeks[0].From, weeks[0].To
	for _, w := range weeks {
		if !w.To.After(w.From) {
			return nil, Errorf(EINVALID, "an alignment week must end after it starts (%s → %s)",
				w.From.Format(time.RFC3339), w.To.Format(time.RFC3339))
		}
		if w.From.Before(from) {
			from = w.From
		}
		if w.To.After(to) {
			to = w.To
		}
	}
	ids := map[ItemID]bool{}
	if err := tx.EventsBetween(from, to, func(e Event) bool {
		if e.ItemID != 0 {
			ids[e.ItemID] = true
		}
		return true
	}); err != nil {
		return nil, fmt.Errorf("alignment: reading events: %w", err)
	}
	for _, w := range weeks {
		if i := alignPlanIndex(sorted, w.From); i >= 0 {
			for _, e := range sorted[i].Items {
				ids[e.ID] = true
			}
		}
	}
	return slices.Sorted(maps.Keys(ids)), nil
}

// readAlignmentData reads, for every item alignmentItemIDs names, the item and its history
// (ItemEvents).
func readAlignmentData(tx ReadTx, weeks []Period, snaps []PrioritySnapshot) (AlignmentData, error) {
	sorted := alignSnapshotsByTime(snaps)
	ids, err := alignmentItemIDs(tx, weeks, sorted)
	if err != nil {
		return AlignmentData{}, err
	}
	data := AlignmentData{Snapshots: sorted}
	err = readAlignmentItems(tx, ids, func(it Item, evs []Event) {
		data.Items = append(data.Items, it)
		data.Events = append(data.Events, evs...)
	})
	return data, err
}

// readAlignmentItems calls fn with each of ids that exists and its history (ItemEvents), in order. fn
// must not keep evs: its array is reused for the next item.
func readAlignmentItems(tx ReadTx, ids []ItemID, fn func(it Item, evs []Event)) error {
	var evs []Event
	for _, id := range ids {
		it, err := tx.Item(id)
		if ErrorCode(err) == ENOTFOUND {
			continue
		}
		if err != nil {
			return fmt.Errorf("alignment: reading item %d: %w", id, err)
		}
		evs = evs[:0]
		if err := tx.ItemEvents(id, func(e Event) bool {
			evs = append(evs, e)
			return true
		}); err != nil {
			return fmt.Errorf("alignment: reading the history of item %d: %w", id, err)
		}
		fn(it, evs)
	}
	return nil
}

// AlignmentFingerprint names the parts of the policy a week's report depends on: the stages' order
// and the start and initial stages (what counts as moving forward) and the calendar (where weeks
// start, working time). A complete week's report changes only when these do, since the audit log
// and the snapshots it reads are history, so a stored report is reused while its fingerprint matches.
func (p *Policy) AlignmentFingerprint() string {
	h := fnv.New64a()
	for _, s := range p.Workflow.Stages {
		fmt.Fprintf(h, "%s,%t,%s;", s.ID, s.Terminal, s.Resolution)
	}
	fmt.Fprintf(h, "|%s|%s|%s|%s|%v|", p.Workflow.Initial, p.Workflow.Start, p.Workflow.Done, p.Workflow.Rejected, p.Calendar.WorkingDays)
	for _, d := range slices.SortedFunc(maps.Keys(p.Calendar.Holidays), func(a, b Date) int { return strings.Compare(a.String(), b.String()) }) {
		if p.Calendar.Holidays[d] {
			fmt.Fprintf(h, "%s,", d)
		}
	}
	if p.Calendar.Location != nil {
		h.Write([]byte(p.Calendar.Location.String()))
	}
	return fmt.Sprintf("%016x", h.Sum64())
}

// alignSortHistory orders one item's events by time, then by sequence.
func alignSortHistory(evs []Event) {
	slices.SortStableFunc(evs, func(a, b Event) int {
		if c := a.At.Compare(b.At); c != 0 {
			return c
		}
		return cmp.Compare(a.Seq, b.Seq)
	})
}

// alignSnapshotsByTime is a copy of snaps ordered by the moment they describe.
func alignSnapshotsByTime(snaps []PrioritySnapshot) []PrioritySnapshot {
	out := slices.Clone(snaps)
	slices.SortStableFunc(out, func(a, b PrioritySnapshot) int { return a.At.Compare(b.At) })
	return out
}

// alignPlanIndex is the index of the latest snapshot taken at or before start, or -1.
func alignPlanIndex(sorted []PrioritySnapshot, start time.Time) int {
	return sort.Search(len(sorted), func(i int) bool { return sorted[i].At.After(start) }) - 1
}

// alignIndex is the data arranged once for any number of weeks.
type alignIndex struct {
	p     *Policy
	snaps []PrioritySnapshot       // by At
	ranks []map[ItemID]PlannedItem // per snapshot
	items map[ItemID]Item
	hist  map[ItemID][]Event // per item, by At then Seq
	ids   []ItemID           // hist's keys, ascending

	stageOrder map[StageID]int
	startOrder int // moves into stages before this one are not execution
}

func (p *Policy) newAlignIndex(data AlignmentData) *alignIndex {
	x := &alignIndex{
		p:          p,
		snaps:      alignSnapshotsByTime(data.Snapshots),
		items:      make(map[ItemID]Item, len(data.Items)),
		hist:       map[ItemID][]Event{},
		stageOrder: make(map[StageID]int, len(p.Workflow.Stages)),
	}
	x.ranks = make([]map[ItemID]PlannedItem, len(x.snaps))
	for i, s := range x.snaps {
		x.ranks[i] = make(map[ItemID]PlannedItem, len(s.Items))
		for _, e := range s.Items {
			if _, dup := x.ranks[i][e.ID]; !dup {
				x.ranks[i][e.ID] = e
			}
		}
	}
	for _, it := range data.Items {
		x.items[it.ID] = it
	}
	for _, e := range data.Events {
		if e.ItemID != 0 {
			x.hist[e.ItemID] = append(x.hist[e.ItemID], e)
		}
	}
	for id, evs := range x.hist {
		alignSortHistory(evs)
		x.ids = append(x.ids, id)
	}
	slices.Sort(x.ids)
	for i, s := range p.Workflow.Stages {
		x.stageOrder[s.ID] = i
	}
	x.startOrder = 1
	if i, ok := x.stageOrder[p.Workflow.Start]; ok {
		x.startOrder = i
	} else if i, ok := x.stageOrder[p.Workflow.Initial]; ok {
		x.startOrder = i + 1
	}
	return x
}

// progress classifies one event: a forward move (completion included), and whether it closed the item
// without delivering it.
func (x *alignIndex) progress(e *Event) (forward, completes, discards bool) {
	for _, c := range e.Changes {
		switch c.Field {
		case "resolution":
			switch Resolution(c.After) {
			case ResolutionDone:
				completes = true
			case ResolutionRejected, ResolutionDuplicate:
				discards = true
			}
		case "stage":
			if c.Before == "" {
				continue // creation, not a move
			}
			to, toKnown := x.p.Workflow.Stage(StageID(c.After))
			if toKnown && to.Terminal {
				if x.p.Workflow.resolutionFor(to) == ResolutionDone {
					completes = true
				} else {
					discards = true
				}
				continue
			}
			fromAt, fromOrdered := x.stageOrder[StageID(c.Before)]
			toAt, toOrdered := x.stageOrder[StageID(c.After)]
			if fromOrdered && toOrdered && toAt > fromAt && toAt >= x.startOrder {
				forward = true
			}
		}
	}
	if discards {
		return false, false, true
	}
	return forward || completes, completes, false
}

// alignBookkeeping reports whether an event is one that does not count as touching its item.
func alignBookkeeping(e *Event) bool {
	switch e.Type {
	case EventNudged, EventSnoozed, EventHandoffEscalated:
		return true
	}
	return e.Actor == SystemActor
}

// alignPrioritises reports whether an event is a lead prioritising the item.
func alignPrioritises(e *Event) bool {
	if e.Type == EventTriaged || e.Type == EventPinned {
		return true
	}
	for _, c := range e.Changes {
		if c.Field == "triaged" && c.After == "true" {
			return true
		}
	}
	return false
}

// alignFieldAt is the value a field had just before t: the latest change before t, else what the first
// change at or after t replaced. ok is false when no event changes the field.
func alignFieldAt(evs []Event, field string, t time.Time) (string, bool) {
	val, found := "", false
	for i := range evs {
		for _, c := range evs[i].Changes {
			if c.Field != field {
				continue
			}
			if !evs[i].At.Before(t) {
				if found {
					return val, true
				}
				return c.Before, true
			}
			val, found = c.After, true
		}
	}
	return val, found
}

// sizeAt and teamAt rebuild the item's size and team just before t, falling back on its current state
// and then on its snapshot entry.
func (x *alignIndex) sizeAt(id ItemID, t time.Time, entry PlannedItem) int {
	if v, ok := alignFieldAt(x.hist[id], "size", t); ok {
		if n, err := strconv.Atoi(v); err == nil {
			return n
		}
	}
	if it, ok := x.items[id]; ok {
		return it.Size
	}
	return entry.Size
}

func (x *alignIndex) teamAt(id ItemID, t time.Time, entry PlannedItem) TeamID {
	if v, ok := alignFieldAt(x.hist[id], "team", t); ok {
		return TeamID(v)
	}
	if it, ok := x.items[id]; ok {
		return it.Team
	}
	return entry.Team
}

func (x *alignIndex) item(id ItemID) Item {
	if it, ok := x.items[id]; ok {
		return it
	}
	return Item{ID: id}
}

// prioritisedBy reports whether the item was triaged or pinned before t (see "Triaged or prioritised").
func (x *alignIndex) prioritisedBy(id ItemID, t time.Time) bool {
	seen := false
	for i := range x.hist[id] {
		e := &x.hist[id][i]
		if alignPrioritises(e) {
			if e.At.Before(t) {
				return true
			}
			seen = true
		}
	}
	if seen {
		return false
	}
	// No prioritising event in sight: the history given is too short to say, so trust the item's state.
	it, ok := x.items[id]
	return ok && (it.Triaged || it.Pin > 0)
}

// week computes one week's report.
func (x *alignIndex) week(week Period, team TeamID) Alignment {
	a, pi, plan := x.startWeek(week, team)
	touched := map[ItemID]bool{}
	for _, id := range x.ids {
		if x.scoreItem(&a, id, plan, true) {
			touched[id] = true
		}
	}
	x.finishWeek(&a, pi, touched)
	return a
}

// startWeek is a week's report before any item is scored, with the index of its plan's snapshot (-1
// when there is none) and the plan by item.
func (x *alignIndex) startWeek(week Period, team TeamID) (Alignment, int, map[ItemID]PlannedItem) {
	a := Alignment{Week: week, Team: team}
	pi := alignPlanIndex(x.snaps, week.From)
	var plan map[ItemID]PlannedItem
	if pi >= 0 {
		a.PlanKnown, a.Plan, plan = true, x.snaps[pi], x.ranks[pi]
	}
	return a, pi, plan
}

// scoreItem adds one item's forward moves in a's week to a's points (and to a.Items when keep), if the
// item is a's team's; it reports whether anyone touched the item in the week, whatever its team.
func (x *alignIndex) scoreItem(a *Alignment, id ItemID, plan map[ItemID]PlannedItem, keep bool) (touched bool) {
	week, team := a.Week, a.Team
	evs := x.hist[id]
	lo := sort.Search(len(evs), func(i int) bool { return !evs[i].At.Before(week.From) })
	var moves int
	var completed, discarded bool
	for i := lo; i < len(evs) && evs[i].At.Before(week.To); i++ {
		e := &evs[i]
		if !alignBookkeeping(e) {
			touched = true
		}
		f, c, d := x.progress(e)
		if f {
			moves++
		}
		completed = completed || c
		discarded = discarded || d
	}
	if moves == 0 || discarded {
		return touched
	}
	entry, planned := plan[id]
	ai := AlignedItem{
		Points: x.sizeAt(id, week.To, entry), Team: x.teamAt(id, week.To, entry),
		Moves: moves, Completed: completed, PlanRank: entry.Rank,
	}
	if team != "" && ai.Team != team {
		return touched
	}
	switch {
	case planned:
		ai.Category = AlignPlanned
		a.Points.Planned += ai.Points
	case !x.prioritisedBy(id, week.To):
		ai.Category = AlignInterrupt
		a.Points.Interrupt += ai.Points
	case a.PlanKnown:
		ai.Category = AlignOther
		a.Points.Other += ai.Points
	default:
		ai.Category = AlignUnknown
		a.Points.Unknown += ai.Points
	}
	a.Points.Total += ai.Points
	if keep {
		ai.Item = x.item(id)
		a.Items = append(a.Items, ai)
	}
	return touched
}

// finishWeek orders a's items, computes the shares and, when the week has a plan (pi ≥ 0), lists the
// plan's items nobody touched. touched must hold at least the plan's items that were.
func (x *alignIndex) finishWeek(a *Alignment, pi int, touched map[ItemID]bool) {
	week, team := a.Week, a.Team
	slices.SortStableFunc(a.Items, func(p, q AlignedItem) int {
		if c := cmp.Compare(p.Category.order(), q.Category.order()); c != 0 {
			return c
		}
		if c := cmp.Compare(p.PlanRank, q.PlanRank); c != 0 {
			return c
		}
		return cmp.Compare(p.Item.ID, q.Item.ID)
	})
	if a.Points.Total > 0 {
		total := float64(a.Points.Total)
		a.SharesDefined = true
		a.Shares = AlignmentShares{
			Planned:   float64(a.Points.Planned) / total,
			Interrupt: float64(a.Points.Interrupt) / total,
			Other:     float64(a.Points.Other) / total,
			Unknown:   float64(a.Points.Unknown) / total,
		}
	}

	if pi < 0 {
		return
	}
	for _, entry := range a.Plan.Items {
		id := entry.ID
		if team != "" && x.teamAt(id, week.To, entry) != team {
			continue
		}
		a.PlanItems++
		it, known := x.items[id]
		if touched[id] || (known && !it.Open() && it.DoneAt.Before(week.From)) {
			continue
		}
		n := NeglectedItem{Item: x.item(id), Planned: entry}
		n.LastTouched = x.lastTouch(id, week)
		if !n.LastTouched.IsZero() {
			n.Idle = x.p.Calendar.WorkingTime(n.LastTouched, week.To)
		}
		first := pi
		for first > 0 {
			if _, in := x.ranks[first-1][id]; !in {
				break
			}
			first--
		}
		n.InTopSince, n.InTopDate = x.snaps[first].At, x.snaps[first].Date
		n.InTop = x.p.Calendar.WorkingTime(n.InTopSince, week.To)
		n.InTopAtLeast = first == 0
		a.Neglected = append(a.Neglected, n)
	}
}

// lastTouch is the item's last touch before the week's end, from its history, else from its
// LastActivityAt when that lies before the week; zero when neither knows.
func (x *alignIndex) lastTouch(id ItemID, week Period) time.Time {
	evs := x.hist[id]
	for i := len(evs) - 1; i >= 0; i-- {
		if evs[i].At.Before(week.To) && !alignBookkeeping(&evs[i]) {
			return evs[i].At
		}
	}
	if it, ok := x.items[id]; ok && !it.LastActivityAt.IsZero() && it.LastActivityAt.Before(week.From) {
		return it.LastActivityAt
	}
	return time.Time{}
}
