package domain

import (
	"cmp"
	"container/heap"
	"fmt"
	"math"
	"slices"
	"time"
)

// DefaultDigestTop is how many items the digest ranks when the caller asks for 0 or fewer.
const DefaultDigestTop = 10

// MaxDigestTop bounds the top list, so a mistyped setting cannot make the digest allocate without
// limit.
const MaxDigestTop = 1000

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
//   - Created: items created in the period (created events, ReadTx.CountEvents).
//   - Completed / Rejected: items whose resolution is done / rejected with DoneAt in the period
//     (ReadTx.ClosedBetween; duplicates count as neither).
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
	// Stalled lists stalled items once each with their most severe reason (see StallOf), grouped by
	// reason (handoff, blocked, stage), longest stalled first within a group, then by ID. It holds at
	// most MaxStalledPerReason of each reason: no reader lists more, and a large org's backlog would
	// otherwise copy every item. StalledCount has the full count per reason, StalledIDs every stalled
	// item in the same order (for change tracking).
	Stalled      []Stall
	StalledCount map[StallReason]int
	StalledIDs   []ItemID
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

// MaxStalledPerReason bounds Digest.Stalled per reason.
const MaxStalledPerReason = 500

// StalledTotal is how many items are stalled for reason, counting those Stalled leaves out.
func (d Digest) StalledTotal(reason StallReason) int {
	if d.StalledCount != nil {
		return d.StalledCount[reason]
	}
	n := 0
	for i := range d.Stalled {
		if d.Stalled[i].Reason == reason {
			n++
		}
	}
	return n
}

// stalledIDs is every stalled item's ID in digest order.
func (d Digest) stalledIDs() []ItemID {
	if d.StalledIDs != nil {
		return d.StalledIDs
	}
	ids := make([]ItemID, len(d.Stalled))
	for i := range d.Stalled {
		ids[i] = d.Stalled[i].Item.ID
	}
	return ids
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
// means DefaultDigestTop; more than MaxDigestTop means MaxDigestTop).
//
// It reads only what is live plus the period's closures: People, PendingHandoffs, one streaming pass
// over the open items' briefs (OpenBriefs), point reads of the open items it reports and of those
// that blocked items wait on, and ClosedBetween(from, to) and CountEvents for the flow. Closed history and the period's events are never walked one by one, so
// the cost follows the open work, not the age of the database or the week's activity. The open items
// are not gathered into one slice, and are never all read whole: only those the digest reports
// (stalled, blocked, due, top, biggest of an overloaded person) are.
//
// Returns EINVALID when to is not after from, and the store's errors wrapped otherwise.
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
	top = min(top, MaxDigestTop)
	d := Digest{Period: Period{From: from, To: to}, Now: now, Today: p.Calendar.Today(now)}

	var people []Person
	if err := tx.People(func(person Person) bool { people = append(people, person); return true }); err != nil {
		return Digest{}, fmt.Errorf("digest: reading people: %w", err)
	}
	b := newDigestBuilder(p, &d, people, top, from, to, now)
	if err := tx.PendingHandoffs(func(h Handoff) bool {
		if !h.Status.Decided() {
			b.pending = append(b.pending, h)
		}
		return true
	}); err != nil {
		return Digest{}, fmt.Errorf("digest: reading pending handoffs: %w", err)
	}
	slices.SortFunc(b.pending, func(x, y Handoff) int { // oldest first, as the digest lists them
		if c := x.RequestedAt.Compare(y.RequestedAt); c != 0 {
			return c
		}
		return cmp.Compare(x.ID, y.ID)
	})
	for i, h := range b.pending { // an item's oldest undecided handoff is the one that stalls it
		if _, seen := b.pendingOf[h.ItemID]; !seen {
			b.pendingOf[h.ItemID] = i
		}
	}
	// The pass reads briefs, not whole items: only the items the digest reports are read whole, once
	// the pass knows which they are.
	if err := tx.OpenBriefs("", func(br Brief) bool {
		it := br.item()
		b.add(&it)
		return true
	}); err != nil {
		return Digest{}, fmt.Errorf("digest: reading open items: %w", err)
	}
	if err := b.readWhole(tx); err != nil {
		return Digest{}, err
	}
	if err := b.finish(tx); err != nil {
		return Digest{}, err
	}
	if err := flowOfPeriod(tx, p, from, to, &d.Flow); err != nil {
		return Digest{}, err
	}
	return d, nil
}

// digestBuilder holds the state of the one pass over the open items.
type digestBuilder struct {
	p        *Policy
	d        *Digest
	from, to time.Time
	now      time.Time
	cal      preparedCalendar
	nowPt    calPoint

	// stages and their counts and thresholds, by the workflow's order: a handful of string compares
	// per item is cheaper than two map lookups.
	stages       []StageID
	stageCount   []int
	stageAfter   []time.Duration
	pending      []Handoff
	pendingOf    map[ItemID]int
	handoffItems map[ItemID]Item

	ids   []ItemID // every open ID, to tell open dependencies from closed ones
	loads *loadTally

	top      []Item // the best items so far, in rank order
	topTotal []float64

	// Items with dependencies wait for the end of the pass: whether they are blocked depends on items
	// that may come later.
	deferred chunks[Item]
	// blockedPlain are the items blocked by a reason and without dependencies.
	blockedPlain []Item

	// stallOrder has every stalled item; kept holds the full stall only of those that can still be
	// among the first MaxStalledPerReason of their reason, since most of a large backlog's stalls are
	// counted and never listed.
	stallOrder []stallKey
	kept       [len(stallReasons)]stallTop

	// overdue and dueSoon know their items by due day and ID until they are read whole.
	overdue, dueSoon []dueRef
	// whole are the items the digest reports, read at the end of the pass, by ID.
	whole wholeItems
}

type dueRef struct {
	day int64 // daysFromCivil of the due date
	id  ItemID
}

// stallKey is what stalls are sorted by, apart from the stalls themselves so sorting moves 24 bytes
// per stall rather than a whole item.
type stallKey struct {
	severity int32
	slot     int32 // in stallTop.held, for the stalls kept there
	worked   time.Duration
	id       ItemID
}

// listedBefore is the digest's order within one reason: longest stalled first, then by ID.
func (k *stallKey) listedBefore(o *stallKey) bool {
	if k.worked != o.worked {
		return k.worked > o.worked
	}
	return k.id < o.id
}

// stallTop keeps the first MaxStalledPerReason stalls of one reason seen so far: a heap of their keys
// with the one listed last on top, and the stalls themselves in held, whose slots are reused as
// stalls are displaced.
type stallTop struct {
	keys []stallKey
	held []Stall
}

func (t *stallTop) Len() int           { return len(t.keys) }
func (t *stallTop) Less(i, j int) bool { return t.keys[j].listedBefore(&t.keys[i]) }
func (t *stallTop) Swap(i, j int)      { t.keys[i], t.keys[j] = t.keys[j], t.keys[i] }
func (t *stallTop) Push(x any)         { t.keys = append(t.keys, x.(stallKey)) }
func (t *stallTop) Pop() any {
	x := t.keys[len(t.keys)-1]
	t.keys = t.keys[:len(t.keys)-1]
	return x
}

// offer keeps key's stall if it is among the first MaxStalledPerReason; stall is called only then.
func (t *stallTop) offer(key stallKey, stall func() Stall) {
	switch {
	case len(t.keys) < MaxStalledPerReason:
		key.slot = int32(len(t.held))
		t.held = append(t.held, stall())
		heap.Push(t, key)
	case key.listedBefore(&t.keys[0]):
		key.slot = t.keys[0].slot
		t.held[key.slot] = stall()
		t.keys[0] = key
		heap.Fix(t, 0)
	}
}

// listed returns the kept stalls in the digest's order.
func (t *stallTop) listed() []Stall {
	keys := slices.Clone(t.keys)
	slices.SortFunc(keys, func(a, b stallKey) int {
		if a.listedBefore(&b) {
			return -1
		}
		return 1
	})
	out := make([]Stall, len(keys))
	for i, k := range keys {
		out[i] = t.held[k.slot]
	}
	return out
}

func newDigestBuilder(p *Policy, d *Digest, people []Person, top int, from, to, now time.Time) *digestBuilder {
	b := &digestBuilder{
		p: p, d: d, from: from, to: to, now: now, cal: p.Calendar.prepare(),
		pendingOf:    map[ItemID]int{},
		handoffItems: map[ItemID]Item{},
		loads:        newLoadTally(p, people, d.Today),
		top:          make([]Item, 0, top),
		topTotal:     make([]float64, 0, top),
	}
	b.nowPt = b.cal.point(now)
	d.Flow.WIPByStage = make(map[StageID]int, len(p.Workflow.Stages))
	for _, s := range p.Workflow.Stages {
		b.stages = append(b.stages, s.ID)
		b.stageAfter = append(b.stageAfter, s.StallAfter)
		if !s.Terminal {
			d.Flow.WIPByStage[s.ID] = 0
		}
	}
	b.stageCount = make([]int, len(b.stages))
	return b
}

// stageIndex is the stage's place in the workflow, or -1 for a stage the workflow does not name.
func (b *digestBuilder) stageIndex(id StageID) int {
	for i, s := range b.stages {
		if s == id {
			return i
		}
	}
	return -1
}

func (b *digestBuilder) countStage(id StageID) {
	if i := b.stageIndex(id); i >= 0 {
		b.stageCount[i]++
	} else {
		b.d.Flow.WIPByStage[id]++
	}
}

func (b *digestBuilder) stallAfterOf(id StageID) time.Duration {
	if i := b.stageIndex(id); i >= 0 {
		return b.stageAfter[i]
	}
	return 0
}

func (b *digestBuilder) workedSince(since time.Time) time.Duration {
	return b.cal.between(b.cal.point(since), b.nowPt)
}

func (b *digestBuilder) daysLeft(from, to Date) int { return b.cal.workingDaysBetween(from, to) }

func (b *digestBuilder) handoffOf(id ItemID) *Handoff {
	if len(b.pendingOf) == 0 {
		return nil
	}
	if j, ok := b.pendingOf[id]; ok {
		return &b.pending[j]
	}
	return nil
}

func (b *digestBuilder) add(it *Item) {
	d := b.d
	b.ids = append(b.ids, it.ID)
	d.OpenItems++
	b.countStage(it.Stage)
	if !it.CreatedAt.Before(b.from) && it.CreatedAt.Before(b.to) {
		d.Flow.OpenCreated++
	}
	b.loads.add(it)
	if !it.Due.IsZero() {
		switch {
		case it.Due.Before(d.Today):
			b.overdue = append(b.overdue, dueRef{daysFromCivil(it.Due.Year, it.Due.Month, it.Due.Day), it.ID})
		case b.p.DueSoonDays >= 0 && b.daysLeft(d.Today, it.Due) <= b.p.DueSoonDays:
			b.dueSoon = append(b.dueSoon, dueRef{daysFromCivil(it.Due.Year, it.Due.Month, it.Due.Day), it.ID})
		}
	}
	if it.Triaged || it.Stage != b.p.Workflow.Initial {
		b.considerTop(it, scoreTotal(it, d.Today, b.daysLeft))
	}
	h := b.handoffOf(it.ID)
	if h != nil {
		b.handoffItems[it.ID] = *it
	}
	if len(it.DependsOn) > 0 {
		b.deferred.add(*it)
		return
	}
	b.checkStall(it, 0, h)
	if it.Blocked() {
		b.blockedPlain = append(b.blockedPlain, *it)
	}
}

func (b *digestBuilder) checkStall(it *Item, openDeps int, pending *Handoff) {
	if f, ok := b.p.stallCheck(it, openDeps, pending, b.now, b.workedSince, b.stallAfterOf(it.Stage)); ok {
		key := stallKey{severity: int32(f.reason.severity()), worked: f.worked, id: it.ID}
		b.stallOrder = append(b.stallOrder, key)
		b.kept[key.severity].offer(key, func() Stall { return f.stall(*it, pending) })
	}
}

// considerTop keeps the best items in rank order. Once the list is full most items lose to its last
// entry, so the cost is one comparison per item.
func (b *digestBuilder) considerTop(it *Item, total float64) {
	n := cap(b.top)
	if len(b.top) == n && !rankedBefore(it, &b.top[n-1], total, b.topTotal[n-1]) {
		return
	}
	pos := len(b.top)
	for pos > 0 && rankedBefore(it, &b.top[pos-1], total, b.topTotal[pos-1]) {
		pos--
	}
	if len(b.top) < n {
		b.top = append(b.top, Item{})
		b.topTotal = append(b.topTotal, 0)
	}
	copy(b.top[pos+1:], b.top[pos:len(b.top)-1])
	copy(b.topTotal[pos+1:], b.topTotal[pos:len(b.topTotal)-1])
	b.top[pos], b.topTotal[pos] = *it, total
}

// readWhole reads, in ID order and once each, every item the digest reports, and replaces the briefs
// the pass kept of them with the whole items.
func (b *digestBuilder) readWhole(tx ReadTx) error {
	var ids []ItemID
	var kept []*Item // briefs to replace
	keep := func(it *Item) {
		kept = append(kept, it)
		ids = append(ids, it.ID)
	}
	for i := range b.top {
		keep(&b.top[i])
	}
	for i := 0; i < b.deferred.n; i++ {
		keep(b.deferred.at(i))
	}
	for i := range b.blockedPlain {
		keep(&b.blockedPlain[i])
	}
	for r := range b.kept {
		for i := range b.kept[r].held {
			keep(&b.kept[r].held[i].Item)
		}
	}
	for _, list := range [][]dueRef{b.overdue, b.dueSoon} {
		for _, ref := range list {
			ids = append(ids, ref.id)
		}
	}
	ids = append(ids, b.loads.overloadedBiggest()...)
	for id := range b.handoffItems {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	b.whole = wholeItems{ids: ids, items: make([]Item, len(ids))}
	if r, ok := tx.(OpenItemsReader); ok {
		n := 0
		err := r.OpenItemsByID(ids, func(it Item) bool {
			if n < len(ids) && ids[n] == it.ID {
				b.whole.items[n] = it
				n++
			}
			return true
		})
		if err != nil {
			return fmt.Errorf("digest: reading the items it reports: %w", err)
		}
		if n != len(ids) {
			return Errorf(EINTERNAL, "digest: %d of the %d items it reports were not open", len(ids)-n, len(ids))
		}
	} else {
		for i, id := range ids {
			it, err := tx.Item(id)
			if err != nil {
				return fmt.Errorf("digest: reading item %d: %w", id, err)
			}
			b.whole.items[i] = it
		}
	}
	for _, it := range kept {
		*it = b.whole.copyOf(it.ID)
	}
	for id := range b.handoffItems {
		b.handoffItems[id] = *b.whole.get(id)
	}
	return nil
}

// wholeItems are items read whole, sorted by ID.
type wholeItems struct {
	ids   []ItemID
	items []Item
}

func (w *wholeItems) get(id ItemID) *Item {
	i, _ := slices.BinarySearch(w.ids, id)
	return &w.items[i]
}

// copyOf is a copy of the item with its own DependsOn, as the digest's pass hands out.
func (w *wholeItems) copyOf(id ItemID) Item {
	it := *w.get(id)
	it.DependsOn = slices.Clone(it.DependsOn)
	return it
}

func (b *digestBuilder) isOpen(id ItemID) bool {
	_, found := slices.BinarySearch(b.ids, id)
	return found
}

// finish settles what needed the whole pass and orders every list.
func (b *digestBuilder) finish(tx ReadTx) error {
	d := b.d
	for i, n := range b.stageCount {
		if n > 0 {
			d.Flow.WIPByStage[b.stages[i]] += n
		}
	}
	if !slices.IsSorted(b.ids) { // briefs come in no particular order
		slices.Sort(b.ids)
		b.deferred.unordered = true
	}

	// Items with dependencies: count the open ones, then check for stalls and blocks.
	openDeps := make([]int, b.deferred.n)
	blockedDeferred := map[ItemID]int{} // ID → slot in deferred, for blocked ones
	for i := 0; i < b.deferred.n; i++ {
		it := b.deferred.at(i)
		for _, dep := range it.DependsOn {
			if dep != it.ID && b.isOpen(dep) {
				openDeps[i]++
			}
		}
		b.checkStall(it, openDeps[i], b.handoffOf(it.ID))
		if it.Blocked() || openDeps[i] > 0 {
			blockedDeferred[it.ID] = i
		}
	}
	blocked, err := b.blockedList(tx, openDeps, blockedDeferred)
	if err != nil {
		return err
	}
	d.Blocked = blocked

	// Sorting small records and copying each stalled item once keeps a digest with many stalls cheap.
	slices.SortFunc(b.stallOrder, func(x, y stallKey) int {
		if x.severity != y.severity {
			return cmp.Compare(x.severity, y.severity)
		}
		if x.worked != y.worked {
			return cmp.Compare(y.worked, x.worked)
		}
		return cmp.Compare(x.id, y.id)
	})
	if len(b.stallOrder) > 0 {
		d.StalledIDs = make([]ItemID, len(b.stallOrder))
		d.StalledCount = map[StallReason]int{}
		for k, key := range b.stallOrder {
			d.StalledIDs[k] = key.id
			d.StalledCount[stallReasons[key.severity]]++
		}
		for i := range b.kept {
			d.Stalled = append(d.Stalled, b.kept[i].listed()...)
		}
	}

	d.Top = make([]Ranked, len(b.top))
	for r := range b.top {
		d.Top[r] = Ranked{Item: b.top[r], Score: b.p.scoreOn(&b.top[r], d.Today), Rank: r + 1}
	}
	d.Loads, d.Overloaded = b.loads.result(&b.whole)

	d.Overdue = b.byDue(b.overdue)
	d.DueSoon = b.byDue(b.dueSoon)

	for _, h := range b.pending {
		ha := HandoffAge{Handoff: h}
		if b.now.After(h.RequestedAt) {
			ha.Age = b.workedSince(h.RequestedAt)
		}
		if it, ok := b.handoffItems[h.ItemID]; ok {
			ha.Item = it
		} else if it, err := tx.Item(h.ItemID); err == nil {
			ha.Item = it
		} else if ErrorCode(err) != ENOTFOUND {
			return fmt.Errorf("digest: reading the item of handoff %d: %w", h.ID, err)
		}
		d.PendingHandoffs = append(d.PendingHandoffs, ha)
	}
	return nil
}

// blockedList builds the blocked items with their open dependencies and chain depths. A blocked item
// without dependencies has depth 1; one with dependencies is one deeper than its deepest blocked open
// dependency (cycles count once).
func (b *digestBuilder) blockedList(tx ReadTx, openDeps []int, blockedDeferred map[ItemID]int) ([]BlockedItem, error) {
	if len(b.blockedPlain)+len(blockedDeferred) == 0 {
		return nil, nil
	}
	plainAt := make(map[ItemID]int, len(b.blockedPlain))
	for i := range b.blockedPlain {
		plainAt[b.blockedPlain[i].ID] = i
	}
	depth := map[ItemID]int{} // -1 while being computed, so a cycle ends
	var depthOf func(id ItemID, level int) int
	depthOf = func(id ItemID, level int) int {
		if v, ok := depth[id]; ok {
			return max(v, 0)
		}
		i, ok := blockedDeferred[id]
		if !ok || level >= maxBlockedChainDepth {
			return 1 // blocked by a reason only (or too deep to follow)
		}
		depth[id] = -1
		best := 0
		for _, dep := range b.deferred.at(i).DependsOn {
			_, plain := plainAt[dep]
			_, chained := blockedDeferred[dep]
			if dep != id && (plain || chained) {
				best = max(best, depthOf(dep, level+1))
			}
		}
		depth[id] = best + 1
		return best + 1
	}
	// openItem finds an open item the digest kept, or reads it.
	openItem := func(id ItemID) (Item, bool, error) {
		if i, ok := plainAt[id]; ok {
			return b.blockedPlain[i], true, nil
		}
		if i, ok := indexByID(&b.deferred, id); ok {
			return *b.deferred.at(i), true, nil
		}
		it, err := tx.Item(id)
		if ErrorCode(err) == ENOTFOUND {
			return Item{}, false, nil
		}
		if err != nil {
			return Item{}, false, fmt.Errorf("digest: reading dependency %d: %w", id, err)
		}
		return it, it.Open(), nil
	}

	// Order small records first and build each BlockedItem once in place.
	type rec struct {
		depth int
		since time.Time
		id    ItemID
		item  *Item
		deps  int
	}
	recs := make([]rec, 0, len(b.blockedPlain)+len(blockedDeferred))
	for i := range b.blockedPlain {
		it := &b.blockedPlain[i]
		recs = append(recs, rec{depth: 1, since: blockedSince(it, 0), id: it.ID, item: it})
	}
	// Depths inside a cycle depend on where the walk starts, so start in ID order to be deterministic.
	order := make([]ItemID, 0, len(blockedDeferred))
	for id := range blockedDeferred {
		order = append(order, id)
	}
	slices.Sort(order)
	for _, id := range order {
		i := blockedDeferred[id]
		it := b.deferred.at(i)
		recs = append(recs, rec{depth: depthOf(id, 0), since: blockedSince(it, openDeps[i]), id: id, item: it, deps: openDeps[i]})
	}
	slices.SortFunc(recs, func(a, b rec) int {
		if a.depth != b.depth {
			return cmp.Compare(b.depth, a.depth)
		}
		if c := a.since.Compare(b.since); c != 0 {
			return c
		}
		return cmp.Compare(a.id, b.id)
	})
	out := make([]BlockedItem, len(recs))
	for k, r := range recs {
		out[k] = BlockedItem{Item: *r.item, Reason: r.item.BlockedReason, Since: r.since, Depth: r.depth}
		if r.deps == 0 {
			continue
		}
		deps := slices.Clone(r.item.DependsOn)
		slices.Sort(deps)
		for _, dep := range slices.Compact(deps) {
			if dep == r.id || !b.isOpen(dep) {
				continue
			}
			depItem, open, err := openItem(dep)
			if err != nil {
				return nil, err
			}
			if open {
				out[k].DependsOn = append(out[k].DependsOn, depItem)
			}
		}
	}
	return out, nil
}

// chunkSize is how many values one chunk of a chunks list holds.
const chunkSize = 1024

// chunks is an append-only list in fixed-size chunks: growing one flat slice to many thousands of
// items would allocate and copy it several times over.
type chunks[T any] struct {
	parts [][]T
	n     int
	// unordered is set when items were not added in ID order, so indexByID must scan.
	unordered bool
}

func (c *chunks[T]) add(v T) {
	// The first chunk grows like any slice, so a short list costs no more than a slice; later chunks
	// are allocated at full size and never copied.
	if len(c.parts) == 0 {
		c.parts = append(c.parts, nil)
	} else if len(c.parts[len(c.parts)-1]) == chunkSize {
		c.parts = append(c.parts, make([]T, 0, chunkSize))
	}
	last := &c.parts[len(c.parts)-1]
	*last = append(*last, v)
	c.n++
}

func (c *chunks[T]) at(i int) *T { return &c.parts[i/chunkSize][i%chunkSize] }

// byDue returns the whole items of refs ordered by due date, then ID. It sorts day numbers, not
// items, so a long list is cheap to order.
func (b *digestBuilder) byDue(refs []dueRef) []Item {
	if len(refs) == 0 {
		return nil
	}
	slices.SortFunc(refs, func(x, y dueRef) int {
		if x.day != y.day {
			return cmp.Compare(x.day, y.day)
		}
		return cmp.Compare(x.id, y.id)
	})
	out := make([]Item, len(refs))
	for k, ref := range refs {
		out[k] = b.whole.copyOf(ref.id)
	}
	return out
}

// indexByID finds an item by ID in a list added in ID order (or scans one marked unordered).
func indexByID(c *chunks[Item], id ItemID) (int, bool) {
	lo, hi := 0, c.n
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if c.at(mid).ID < id {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	if lo < c.n && c.at(lo).ID == id {
		return lo, true
	}
	if c.unordered {
		for i := 0; i < c.n; i++ {
			if c.at(i).ID == id {
				return i, true
			}
		}
	}
	return 0, false
}

// loadTally accumulates ComputeLoads' result while the open items stream past, so they need not be
// gathered into one slice first, and keeps each person's biggest items (by size and ID, read whole at
// the end) in case they turn out to be overloaded. The rules are ComputeLoads': every stored person
// plus everyone with open assigned work, the configured capacities, and the same order. What the pass
// touches per item is kept in small arrays, so it stays in cache across thousands of people.
type loadTally struct {
	p      *Policy
	today  Date
	loads  []PersonLoad // person and capacity; Load and Items are filled by result
	points []int
	items  []int
	big    [][biggestPerOverloaded]bigRef // size descending, then ID ascending
	nbig   []uint8
	at     map[UserID]int
}

type bigRef struct {
	size int
	id   ItemID
}

// before is keepBiggest's order: bigger first, then the lower ID.
func (r bigRef) before(o bigRef) bool { return r.size > o.size || (r.size == o.size && r.id < o.id) }

func newLoadTally(p *Policy, people []Person, today Date) *loadTally {
	t := &loadTally{p: p, today: today, loads: p.ComputeLoads(people, nil, today)}
	n := len(t.loads)
	t.points, t.items = make([]int, n), make([]int, n)
	t.big, t.nbig = make([][biggestPerOverloaded]bigRef, n), make([]uint8, n)
	t.at = make(map[UserID]int, n)
	for i, pl := range t.loads {
		t.at[pl.Person.ID] = i
	}
	return t
}

func (t *loadTally) add(it *Item) {
	if it.Assignee == "" {
		return
	}
	i, ok := t.at[it.Assignee]
	if !ok {
		i = len(t.loads)
		t.loads = append(t.loads, t.p.LoadOf(Person{ID: it.Assignee}, nil, t.today))
		t.points, t.items = append(t.points, 0), append(t.items, 0)
		t.big, t.nbig = append(t.big, [biggestPerOverloaded]bigRef{}), append(t.nbig, 0)
		t.at[it.Assignee] = i
	}
	t.points[i] += it.Size
	t.items[i]++
	ref, kept, n := bigRef{it.Size, it.ID}, &t.big[i], int(t.nbig[i])
	if n == biggestPerOverloaded && !ref.before(kept[n-1]) {
		return // the usual case, once a person's list is full
	}
	pos := n
	for pos > 0 && ref.before(kept[pos-1]) {
		pos--
	}
	if n < biggestPerOverloaded {
		n++
		t.nbig[i] = uint8(n)
	}
	copy(kept[pos+1:n], kept[pos:n-1])
	kept[pos] = ref
}

// settle fills the loads; it is idempotent.
func (t *loadTally) settle() {
	for i := range t.loads {
		pl := &t.loads[i]
		pl.Load, pl.Items = t.points[i], t.items[i]
		pl.Utilisation = utilisation(pl.Load, pl.Capacity)
		pl.Overloaded = pl.Load > 0 && pl.Utilisation > t.p.OverloadRatio
	}
}

// overloadedBiggest lists the biggest items of everyone overloaded: the items the digest names.
func (t *loadTally) overloadedBiggest() []ItemID {
	t.settle()
	var ids []ItemID
	for i := range t.loads {
		if t.loads[i].Overloaded {
			for _, r := range t.big[i][:t.nbig[i]] {
				ids = append(ids, r.id)
			}
		}
	}
	return ids
}

// result returns every load in ComputeLoads' order and the overloaded people among them, their
// biggest items taken from whole.
func (t *loadTally) result(whole *wholeItems) ([]PersonLoad, []OverloadedPerson) {
	t.settle()
	order := make([]int, len(t.loads))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(i, j int) int {
		a, b := &t.loads[i], &t.loads[j]
		if a.Utilisation != b.Utilisation {
			return cmp.Compare(b.Utilisation, a.Utilisation)
		}
		return cmp.Compare(a.Person.ID, b.Person.ID)
	})
	loads := make([]PersonLoad, len(order))
	var over []OverloadedPerson
	for k, i := range order {
		loads[k] = t.loads[i]
		if t.loads[i].Overloaded {
			o := OverloadedPerson{Load: t.loads[i]}
			for _, r := range t.big[i][:t.nbig[i]] {
				o.Biggest = append(o.Biggest, whole.copyOf(r.id))
			}
			over = append(over, o)
		}
	}
	return loads, over
}

// flowOfPeriod fills the period's metrics (see Flow) from two indexed reads: the count of its created
// events and the items closed in it. Neither walks the period's events one by one, so a busy week
// costs no more than a quiet one.
func flowOfPeriod(tx ReadTx, p *Policy, from, to time.Time, f *Flow) error {
	created, err := tx.CountEvents(EventCreated, from, to)
	if err != nil {
		return fmt.Errorf("digest: counting created events: %w", err)
	}
	f.Created = created
	loc := p.Calendar.Loc()
	var cycle []time.Duration
	if err := tx.ClosedBetween(from, to, func(c Closure) bool {
		switch c.Resolution {
		case ResolutionDone:
			f.Completed++
			cycle = append(cycle, max(c.DoneAt.Sub(c.CreatedAt), 0))
			if !c.Due.IsZero() {
				f.DeadlinesTotal++
				if !c.Due.Before(DateOf(c.DoneAt.In(loc))) {
					f.DeadlinesMet++
				}
			}
		case ResolutionRejected:
			f.Rejected++
		}
		return true
	}); err != nil {
		return fmt.Errorf("digest: reading the items closed in the period: %w", err)
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
	s := DigestSnapshot{At: d.Now, Top: make([]ItemID, len(d.Top)), Stalled: slices.Clone(d.stalledIDs())}
	for i, r := range d.Top {
		s.Top[i] = r.Item.ID
	}
	return s
}

// Changes is what changed since the previous digest.
type Changes struct {
	NewTop       []Ranked // in the top now, not before (in rank order)
	NewlyStalled []Stall  // stalled now, not before (in digest order), among the stalls Digest.Stalled holds
	// NewlyStalledCount counts every newly stalled item, including those Digest.Stalled leaves out.
	NewlyStalledCount int
	Resolved          []ItemID // stalled before, not now (closed, unblocked or moving again), in snapshot order
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
	ids := d.stalledIDs()
	stalledNow := make(map[ItemID]bool, len(ids))
	for _, id := range ids {
		stalledNow[id] = true
		if !wasStalled[id] {
			c.NewlyStalledCount++
		}
	}
	fresh := 0
	for i := range d.Stalled {
		if !wasStalled[d.Stalled[i].Item.ID] {
			fresh++
		}
	}
	if fresh > 0 {
		c.NewlyStalled = make([]Stall, 0, fresh) // stalls are large: grow the slice once
		for i := range d.Stalled {
			if !wasStalled[d.Stalled[i].Item.ID] {
				c.NewlyStalled = append(c.NewlyStalled, d.Stalled[i])
			}
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
