package domain

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"sort"
	"time"
)

// DefaultDigestTop is how many items the digest ranks when the caller asks for 0 or fewer.
const DefaultDigestTop = 10

// biggestPerOverloaded is how many of an overloaded person's items the digest names.
const biggestPerOverloaded = 3

// maxBlockedChainDepth bounds the walk down dependency chains, so a pathological chain costs little.
const maxBlockedChainDepth = 100

// Period is the half-open interval [From, To) a digest reports on.
type Period struct {
	From, To time.Time
}

// OverloadedPerson is someone over the overload ratio, with their biggest open items (up to 3, by
// size descending, then by ID) as candidates to move.
type OverloadedPerson struct {
	Load    PersonLoad
	Biggest []Item
}

// HandoffAge is a handoff awaiting approval or a decision, with its age in working time.
type HandoffAge struct {
	Handoff Handoff
	Item    Item
	Age     time.Duration
}

// BlockedItem is an open item that is blocked by a reason or by open dependencies.
type BlockedItem struct {
	Item      Item
	Reason    string    // the free-text reason; "" when only dependencies block it
	Since     time.Time // when it became blocked (see StallOf)
	DependsOn []Item    // its dependencies that are still open, in ID order
	// Depth is the length of the chain of blocked items starting here: 1 when nothing it waits on is
	// itself blocked, 2 when it waits on a blocked item, and so on. Depth ≥ 2 is a blocked chain.
	Depth int
}

// Flow holds the flow metrics of the period.
//
//   - Created: items created in the period (created events).
//   - Completed / Rejected: items whose resolution is done / rejected with DoneAt in the period, found
//     through the period's stage events (duplicates count as neither).
//   - WorkingDays: the period's working time in days (WorkingTime(from, to) / 24h).
//   - Throughput: Completed per working day, dividing by at least one day so a weekend-only period
//     reports its completions rather than infinity.
//   - CycleTimeP50 / P85: created → done wall-clock time of the items completed in the period,
//     nearest-rank percentiles (the value at rank ceil(p·N)); 0 when nothing was completed.
//   - WIPByStage: open items per stage now, with every non-terminal stage present (0 when empty).
//   - OpenCreated: items created in the period that are still open now.
//   - CompletionRate: Completed / (Completed + OpenCreated): of the work that either finished in the
//     period or arrived in it and still waits, the share that finished. 0 when both are 0.
//   - DeadlinesMet / DeadlinesTotal / DeadlineHitRate: of the items completed in the period that had a
//     due date, how many were done on or before it (the done day in the calendar's zone); the rate is 0
//     when DeadlinesTotal is 0.
type Flow struct {
	Created         int
	Completed       int
	Rejected        int
	WorkingDays     float64
	Throughput      float64
	CycleTimeP50    time.Duration
	CycleTimeP85    time.Duration
	WIPByStage      map[StageID]int
	OpenCreated     int
	CompletionRate  float64
	DeadlinesMet    int
	DeadlinesTotal  int
	DeadlineHitRate float64
}

// Digest is the data of one leadership digest. Rendering it is the transport's job.
type Digest struct {
	Period Period
	Now    time.Time
	Today  Date
	// OpenItems is how many items are open now.
	OpenItems int
	// Top are the highest-ranked open items (Rank order) among those a lead has triaged or that have left
	// the initial stage: untriaged intake carries only the requester's own guesses, and the digest shows
	// the triage queue's size instead (through WIPByStage).
	Top []Ranked
	// Loads is everyone's load (ComputeLoads order: utilisation descending); Overloaded the overloaded
	// among them, in the same order.
	Loads      []PersonLoad
	Overloaded []OverloadedPerson
	// Stalled lists each stalled item once with its most severe reason (see StallOf), grouped by reason
	// (handoff, blocked, stage), longest stalled first within a group, then by ID.
	Stalled []Stall
	// PendingHandoffs are handoffs awaiting approval or a decision, oldest first.
	PendingHandoffs []HandoffAge
	// Blocked are the blocked open items, longest chains first, then longest blocked, then by ID.
	Blocked []BlockedItem
	// DueSoon are open items due today or within DueSoonDays working days (WorkingDaysBetween(today,
	// due) ≤ DueSoonDays); Overdue are open items whose due date has passed. Both by due date, then ID.
	DueSoon []Item
	Overdue []Item
	Flow    Flow
}

// StalledBy returns the stalls with one reason, in digest order.
func (d Digest) StalledBy(reason StallReason) []Stall {
	var out []Stall
	for _, s := range d.Stalled {
		if s.Reason == reason {
			out = append(out, s)
		}
	}
	return out
}

// BuildDigest computes the digest for the period [from, to) as of now, ranking the top items (top ≤ 0
// means DefaultDigestTop).
//
// It reads only what is live plus the period's events: one pass over OpenItems, PendingHandoffs,
// People, EventsBetween(from, to), and point reads of the items those events name. Closed history is
// never scanned, so its cost follows the open work, not the age of the database.
//
// Returns EINVALID when to is not after from, and the store's errors unchanged otherwise.
func BuildDigest(tx ReadTx, p *Policy, from, to, now time.Time, top int) (Digest, error) {
	if tx == nil || p == nil {
		return Digest{}, Errorf(EINTERNAL, "the digest needs a store and a policy")
	}
	if !to.After(from) {
		return Digest{}, Errorf(EINVALID, "the digest period must end after it starts (%s → %s)",
			from.Format(time.RFC3339), to.Format(time.RFC3339))
	}
	if top <= 0 {
		top = DefaultDigestTop
	}
	cal := p.Calendar
	d := Digest{Period: Period{From: from, To: to}, Now: now, Today: cal.Today(now)}

	var people []Person
	if err := tx.People(func(person Person) bool { people = append(people, person); return true }); err != nil {
		return Digest{}, fmt.Errorf("digest: reading people: %w", err)
	}
	var open []Item
	if err := tx.OpenItems(func(it Item) bool {
		if it.Open() {
			open = append(open, it)
		}
		return true
	}); err != nil {
		return Digest{}, fmt.Errorf("digest: reading open items: %w", err)
	}
	// Dependencies are found by binary search, which needs ID order; the port promises it, but a store
	// that breaks the promise should cost a sort, not wrong answers.
	if !slices.IsSortedFunc(open, func(a, b Item) int { return cmp.Compare(a.ID, b.ID) }) {
		slices.SortFunc(open, func(a, b Item) int { return cmp.Compare(a.ID, b.ID) })
	}
	var pending []Handoff
	if err := tx.PendingHandoffs(func(h Handoff) bool {
		if !h.Status.Decided() {
			pending = append(pending, h)
		}
		return true
	}); err != nil {
		return Digest{}, fmt.Errorf("digest: reading pending handoffs: %w", err)
	}
	d.OpenItems = len(open)

	pendingOf := make(map[ItemID]int, len(pending))
	for i, h := range pending {
		if j, seen := pendingOf[h.ItemID]; !seen || h.RequestedAt.Before(pending[j].RequestedAt) {
			pendingOf[h.ItemID] = i
		}
	}
	stallAfter := make(map[StageID]time.Duration, len(p.Workflow.Stages))
	wip := make(map[StageID]int, len(p.Workflow.Stages))
	for _, s := range p.Workflow.Stages {
		stallAfter[s.ID] = s.StallAfter
		if !s.Terminal {
			wip[s.ID] = 0
		}
	}

	d.Loads = p.ComputeLoads(people, open, d.Today)
	overloadedAt := map[UserID]int{}
	for _, pl := range d.Loads {
		if pl.Overloaded {
			overloadedAt[pl.Person.ID] = len(d.Overloaded)
			d.Overloaded = append(d.Overloaded, OverloadedPerson{Load: pl})
		}
	}
	biggest := make([][]int, len(d.Overloaded)) // indexes into open

	nowPt := cal.point(now)
	var (
		topIdx     = make([]int, 0, top)
		topTotal   = make([]float64, 0, top)
		blockedIdx []int
		openDeps   = make([]int32, len(open))
	)
	for i := range open {
		it := &open[i]
		wip[it.Stage]++
		if !it.CreatedAt.Before(from) && it.CreatedAt.Before(to) {
			d.Flow.OpenCreated++
		}
		deps := 0
		for _, dep := range it.DependsOn {
			if dep != it.ID && indexOfOpen(open, dep) >= 0 {
				deps++
			}
		}
		openDeps[i] = int32(deps)

		var h *Handoff
		if j, ok := pendingOf[it.ID]; ok {
			h = &pending[j]
		}
		if s, stalled := p.stallAt(it, deps, h, now, nowPt, stallAfter[it.Stage]); stalled {
			d.Stalled = append(d.Stalled, s)
		}
		if it.Blocked() || deps > 0 {
			blockedIdx = append(blockedIdx, i)
		}
		if !it.Due.IsZero() {
			switch {
			case it.Due.Before(d.Today):
				d.Overdue = append(d.Overdue, *it)
			case p.DueSoonDays >= 0 && cal.WorkingDaysBetween(d.Today, it.Due) <= p.DueSoonDays:
				d.DueSoon = append(d.DueSoon, *it)
			}
		}
		if it.Triaged || it.Stage != p.Workflow.Initial {
			topIdx, topTotal = insertTop(open, topIdx, topTotal, top, i, p.scoreTotal(it, d.Today))
		}
		if j, ok := overloadedAt[it.Assignee]; ok && it.Assignee != "" {
			biggest[j] = insertBiggest(open, biggest[j], i)
		}
	}

	d.Top = make([]Ranked, len(topIdx))
	for r, i := range topIdx {
		d.Top[r] = Ranked{Item: open[i], Score: p.scoreOn(&open[i], d.Today), Rank: r + 1}
	}
	for j := range d.Overloaded {
		for _, i := range biggest[j] {
			d.Overloaded[j].Biggest = append(d.Overloaded[j].Biggest, open[i])
		}
	}
	sort.SliceStable(d.Stalled, func(a, b int) bool {
		x, y := &d.Stalled[a], &d.Stalled[b]
		if x.Reason.severity() != y.Reason.severity() {
			return x.Reason.severity() < y.Reason.severity()
		}
		if x.For != y.For {
			return x.For > y.For
		}
		return x.Item.ID < y.Item.ID
	})
	byDue := func(a, b Item) int {
		if a.Due != b.Due {
			if a.Due.Before(b.Due) {
				return -1
			}
			return 1
		}
		return cmp.Compare(a.ID, b.ID)
	}
	slices.SortFunc(d.Overdue, byDue)
	slices.SortFunc(d.DueSoon, byDue)

	d.Blocked = blockedItems(open, openDeps, blockedIdx)

	for _, h := range pending {
		ha := HandoffAge{Handoff: h, Age: cal.workingBetween(cal.point(h.RequestedAt), nowPt)}
		if !now.After(h.RequestedAt) {
			ha.Age = 0
		}
		if i := indexOfOpen(open, h.ItemID); i >= 0 {
			ha.Item = open[i]
		} else if it, err := tx.Item(h.ItemID); err == nil {
			ha.Item = it
		} else if ErrorCode(err) != ENOTFOUND {
			return Digest{}, fmt.Errorf("digest: reading the item of handoff %d: %w", h.ID, err)
		}
		d.PendingHandoffs = append(d.PendingHandoffs, ha)
	}
	slices.SortStableFunc(d.PendingHandoffs, func(a, b HandoffAge) int {
		if c := a.Handoff.RequestedAt.Compare(b.Handoff.RequestedAt); c != 0 {
			return c
		}
		return cmp.Compare(a.Handoff.ID, b.Handoff.ID)
	})

	d.Flow.WIPByStage = wip
	if err := flowFromEvents(tx, p, from, to, &d.Flow); err != nil {
		return Digest{}, err
	}
	return d, nil
}

// indexOfOpen finds an item in the ID-ordered open slice, or returns -1.
func indexOfOpen(open []Item, id ItemID) int {
	i, found := slices.BinarySearchFunc(open, id, func(it Item, id ItemID) int { return cmp.Compare(it.ID, id) })
	if !found {
		return -1
	}
	return i
}

// insertTop keeps the best n candidates in rank order. Most items lose to the current last entry, so
// the cost is one comparison per item once the list is full.
func insertTop(open []Item, idx []int, totals []float64, n, i int, total float64) ([]int, []float64) {
	if len(idx) == n && !rankedBefore(&open[i], &open[idx[n-1]], total, totals[n-1]) {
		return idx, totals
	}
	pos := sort.Search(len(idx), func(k int) bool { return rankedBefore(&open[i], &open[idx[k]], total, totals[k]) })
	if len(idx) < n {
		idx = append(idx, 0)
		totals = append(totals, 0)
	}
	copy(idx[pos+1:], idx[pos:len(idx)-1])
	copy(totals[pos+1:], totals[pos:len(totals)-1])
	idx[pos], totals[pos] = i, total
	return idx, totals
}

// insertBiggest keeps an overloaded person's biggest items: size descending, then ID ascending (open is
// in ID order, so a later item of equal size goes after).
func insertBiggest(open []Item, idx []int, i int) []int {
	pos := len(idx)
	for pos > 0 && open[i].Size > open[idx[pos-1]].Size {
		pos--
	}
	if pos >= biggestPerOverloaded {
		return idx
	}
	if len(idx) < biggestPerOverloaded {
		idx = append(idx, 0)
	}
	copy(idx[pos+1:], idx[pos:len(idx)-1])
	idx[pos] = i
	return idx
}

// blockedItems builds the blocked list with chain depths.
func blockedItems(open []Item, openDeps []int32, blockedIdx []int) []BlockedItem {
	if len(blockedIdx) == 0 {
		return nil
	}
	isBlocked := func(i int) bool { return open[i].Blocked() || openDeps[i] > 0 }
	depth := make(map[int]int, len(blockedIdx)) // open index → depth; -1 while being computed (cycles)
	var depthOf func(i, level int) int
	depthOf = func(i, level int) int {
		if v, ok := depth[i]; ok {
			return max(v, 0) // a cycle contributes nothing beyond what is already counted
		}
		if level >= maxBlockedChainDepth {
			return 1
		}
		depth[i] = -1
		best := 0
		for _, dep := range open[i].DependsOn {
			if j := indexOfOpen(open, dep); j >= 0 && j != i && isBlocked(j) {
				best = max(best, depthOf(j, level+1))
			}
		}
		depth[i] = best + 1
		return best + 1
	}

	out := make([]BlockedItem, 0, len(blockedIdx))
	for _, i := range blockedIdx {
		it := &open[i]
		b := BlockedItem{Item: *it, Reason: it.BlockedReason, Since: blockedSince(it, int(openDeps[i])), Depth: depthOf(i, 0)}
		for _, dep := range it.DependsOn {
			if j := indexOfOpen(open, dep); j >= 0 && j != i {
				b.DependsOn = append(b.DependsOn, open[j])
			}
		}
		slices.SortFunc(b.DependsOn, func(a, b Item) int { return cmp.Compare(a.ID, b.ID) })
		b.DependsOn = slices.CompactFunc(b.DependsOn, func(a, b Item) bool { return a.ID == b.ID })
		out = append(out, b)
	}
	slices.SortStableFunc(out, func(a, b BlockedItem) int {
		if a.Depth != b.Depth {
			return cmp.Compare(b.Depth, a.Depth)
		}
		if c := a.Since.Compare(b.Since); c != 0 {
			return c
		}
		return cmp.Compare(a.Item.ID, b.Item.ID)
	})
	return out
}

// closingEvents are the event types that can take an item to a terminal stage; only the items they
// name are read back.
func closingEvent(t EventType) bool {
	switch t {
	case EventMoved, EventRejected, EventDuplicate, EventHandoffAccepted:
		return true
	}
	return false
}

// flowFromEvents fills the event-derived metrics (see Flow).
func flowFromEvents(tx ReadTx, p *Policy, from, to time.Time, f *Flow) error {
	candidates := map[ItemID]struct{}{}
	var order []ItemID
	if err := tx.EventsBetween(from, to, func(e Event) bool {
		switch {
		case e.Type == EventCreated:
			f.Created++
		case closingEvent(e.Type) && e.ItemID != 0:
			if _, seen := candidates[e.ItemID]; !seen {
				candidates[e.ItemID] = struct{}{}
				order = append(order, e.ItemID)
			}
		}
		return true
	}); err != nil {
		return fmt.Errorf("digest: reading events: %w", err)
	}

	loc := p.Calendar.loc()
	var cycle []time.Duration
	for _, id := range order {
		it, err := tx.Item(id)
		if ErrorCode(err) == ENOTFOUND {
			continue
		}
		if err != nil {
			return fmt.Errorf("digest: reading item %d: %w", id, err)
		}
		if it.DoneAt.Before(from) || !it.DoneAt.Before(to) {
			continue
		}
		switch it.Resolution {
		case ResolutionDone:
			f.Completed++
			cycle = append(cycle, max(it.DoneAt.Sub(it.CreatedAt), 0))
			if !it.Due.IsZero() {
				f.DeadlinesTotal++
				if !it.Due.Before(DateOf(it.DoneAt.In(loc))) {
					f.DeadlinesMet++
				}
			}
		case ResolutionRejected:
			f.Rejected++
		}
	}

	slices.Sort(cycle)
	f.CycleTimeP50 = nearestRank(cycle, 50)
	f.CycleTimeP85 = nearestRank(cycle, 85)
	f.WorkingDays = float64(p.Calendar.WorkingTime(from, to)) / float64(day)
	f.Throughput = float64(f.Completed) / math.Max(f.WorkingDays, 1)
	if n := f.Completed + f.OpenCreated; n > 0 {
		f.CompletionRate = float64(f.Completed) / float64(n)
	}
	if f.DeadlinesTotal > 0 {
		f.DeadlineHitRate = float64(f.DeadlinesMet) / float64(f.DeadlinesTotal)
	}
	return nil
}

// nearestRank is the pct-th percentile of sorted by the nearest-rank method: the value at rank
// ceil(pct/100·N), 1-based. 0 for an empty slice.
func nearestRank(sorted []time.Duration, pct int) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	rank := (pct*n + 99) / 100
	return sorted[min(max(rank, 1), n)-1]
}

// DigestSnapshot is what a digest leaves behind for the next one to compare against.
type DigestSnapshot struct {
	Top     []ItemID
	Stalled []ItemID
	At      time.Time
}

// Snapshot records the digest's top and stalled items.
func (d Digest) Snapshot() DigestSnapshot {
	s := DigestSnapshot{At: d.Now, Top: make([]ItemID, len(d.Top)), Stalled: make([]ItemID, len(d.Stalled))}
	for i, r := range d.Top {
		s.Top[i] = r.Item.ID
	}
	for i, st := range d.Stalled {
		s.Stalled[i] = st.Item.ID
	}
	return s
}

// Changes is what changed since the previous digest.
type Changes struct {
	NewTop       []Ranked // in the top now, not before (in rank order)
	NewlyStalled []Stall  // stalled now, not before (in digest order)
	Resolved     []ItemID // stalled before, not now (closed, unblocked or moving again), in snapshot order
}

// ChangesSince compares the digest with an earlier snapshot. A zero snapshot (no previous digest)
// makes everything new.
func (d Digest) ChangesSince(prev DigestSnapshot) Changes {
	var c Changes
	wasTop := make(map[ItemID]bool, len(prev.Top))
	for _, id := range prev.Top {
		wasTop[id] = true
	}
	for _, r := range d.Top {
		if !wasTop[r.Item.ID] {
			c.NewTop = append(c.NewTop, r)
		}
	}
	wasStalled := make(map[ItemID]bool, len(prev.Stalled))
	for _, id := range prev.Stalled {
		wasStalled[id] = true
	}
	stalledNow := make(map[ItemID]bool, len(d.Stalled))
	for _, s := range d.Stalled {
		stalledNow[s.Item.ID] = true
		if !wasStalled[s.Item.ID] {
			c.NewlyStalled = append(c.NewlyStalled, s)
		}
	}
	for _, id := range prev.Stalled {
		if !stalledNow[id] {
			c.Resolved = append(c.Resolved, id)
			stalledNow[id] = true // report each once even if the snapshot repeats it
		}
	}
	return c
}

// DigestChanges is cur.ChangesSince(prev.Snapshot()).
func DigestChanges(prev, cur Digest) Changes {
	return cur.ChangesSince(prev.Snapshot())
}
