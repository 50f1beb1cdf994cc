package domain

import (
	"errors"
	"fmt"
	"iter"
	"maps"
	"math"
	"reflect"
	"slices"
	"sort"
	"testing"
	"time"
)

// digestFixtureTx is an in-memory ReadTx for digest tests and benchmarks. It keeps open items apart
// from closed ones, as the real store's indexes do, and records which items were read one by one, so
// a test can prove that closed history is never scanned.
type digestFixtureTx struct {
	open     []Item // in ID order
	closed   map[ItemID]Item
	handoffs []Handoff
	people   []Person
	events   []Event // in time order

	pointReads []ItemID
	failEvents error
	// reverse breaks the port's ID-order promise, to show the digest does not depend on it.
	reverse bool
}

func newDigestFixture(items []Item, handoffs []Handoff, people []Person, events []Event) *digestFixtureTx {
	tx := &digestFixtureTx{closed: map[ItemID]Item{}, handoffs: handoffs, people: people}
	for _, it := range items {
		if it.Open() {
			tx.open = append(tx.open, it)
		} else {
			tx.closed[it.ID] = it
		}
	}
	sort.Slice(tx.open, func(i, j int) bool { return tx.open[i].ID < tx.open[j].ID })
	tx.events = slices.Clone(events)
	sort.SliceStable(tx.events, func(i, j int) bool { return tx.events[i].At.Before(tx.events[j].At) })
	return tx
}

func (tx *digestFixtureTx) Item(id ItemID) (Item, error) {
	tx.pointReads = append(tx.pointReads, id)
	if i, ok := slices.BinarySearchFunc(tx.open, id, func(it Item, id ItemID) int { return int(it.ID) - int(id) }); ok {
		return tx.open[i], nil
	}
	if it, ok := tx.closed[id]; ok {
		return it, nil
	}
	return Item{}, Errorf(ENOTFOUND, "no item %d", id)
}

func (tx *digestFixtureTx) OpenItems(fn func(Item) bool) error {
	for i := range tx.open {
		it := tx.open[i]
		if tx.reverse {
			it = tx.open[len(tx.open)-1-i]
		}
		if !fn(it) {
			break
		}
	}
	return nil
}

func (tx *digestFixtureTx) OpenItemsByAssignee(user UserID, fn func(Item) bool) error {
	for _, it := range tx.open {
		if it.Assignee == user && !fn(it) {
			break
		}
	}
	return nil
}

func (tx *digestFixtureTx) OpenItemsInStage(stage StageID, fn func(Item) bool) error {
	for _, it := range tx.open {
		if it.Stage == stage && !fn(it) {
			break
		}
	}
	return nil
}

func (tx *digestFixtureTx) ItemsByRequester(UserID, func(Item) bool) error {
	return errors.New("digestFixtureTx: the digest must not list items by requester")
}

func (tx *digestFixtureTx) ItemBySource(string) (ItemID, bool, error) { return 0, false, nil }

func (tx *digestFixtureTx) SimilarOpenItems(string, ItemID, int) ([]Match, error) {
	return nil, errors.New("digestFixtureTx: the digest must not search text")
}

func (tx *digestFixtureTx) Handoff(id HandoffID) (Handoff, error) {
	for _, h := range tx.handoffs {
		if h.ID == id {
			return h, nil
		}
	}
	return Handoff{}, Errorf(ENOTFOUND, "no handoff %d", id)
}

func (tx *digestFixtureTx) PendingHandoffs(fn func(Handoff) bool) error {
	for _, h := range tx.handoffs {
		if !h.Status.Decided() && !fn(h) {
			break
		}
	}
	return nil
}

func (tx *digestFixtureTx) Person(id UserID) (Person, bool, error) {
	for _, p := range tx.people {
		if p.ID == id {
			return p, true, nil
		}
	}
	return Person{}, false, nil
}

func (tx *digestFixtureTx) People(fn func(Person) bool) error {
	for _, p := range tx.people {
		if !fn(p) {
			break
		}
	}
	return nil
}

func (tx *digestFixtureTx) EventsBetween(from, to time.Time, fn func(Event) bool) error {
	if tx.failEvents != nil {
		return tx.failEvents
	}
	for _, e := range tx.events {
		if !e.At.Before(from) && e.At.Before(to) && !fn(e) {
			break
		}
	}
	return nil
}

// all visits every item, open and closed.
func (tx *digestFixtureTx) all() iter.Seq[Item] {
	return func(yield func(Item) bool) {
		for _, it := range tx.open {
			if !yield(it) {
				return
			}
		}
		for _, id := range slices.Sorted(maps.Keys(tx.closed)) {
			if !yield(tx.closed[id]) {
				return
			}
		}
	}
}

func (tx *digestFixtureTx) OpenCounts() (OpenCounts, error) {
	c, _ := recountOpen(slices.Values(tx.open))
	return c, nil
}

func (tx *digestFixtureTx) Workload(user UserID) (Workload, error) {
	_, work := recountOpen(slices.Values(tx.open))
	return work[user], nil
}

func (tx *digestFixtureTx) Workloads(fn func(UserID, Workload) bool) error {
	_, work := recountOpen(slices.Values(tx.open))
	visitWorkloads(work, fn)
	return nil
}

func (tx *digestFixtureTx) OpenBriefs(stage StageID, fn func(Brief) bool) error {
	visitBriefs(slices.Values(tx.open), stage, fn)
	return nil
}

func (tx *digestFixtureTx) ClosedBetween(from, to time.Time, fn func(Closure) bool) error {
	visitClosures(tx.all(), from, to, fn)
	return nil
}

func (tx *digestFixtureTx) CountEvents(typ EventType, from, to time.Time) (int, error) {
	if tx.failEvents != nil {
		return 0, tx.failEvents
	}
	return countEvents(tx.events, typ, from, to), nil
}

func (tx *digestFixtureTx) ItemEvents(ItemID, func(Event) bool) error {
	return errors.New("digestFixtureTx: the digest must not read per-item history")
}

// digestTestPolicy is a full workflow on the Mon–Fri Berlin calendar.
func digestTestPolicy(t testing.TB) *Policy {
	return &Policy{
		KeyPrefix: "W",
		Workflow: Workflow{
			Stages: []Stage{
				{ID: "intake", StallAfter: 24 * time.Hour},
				{ID: "todo"},
				{ID: "in_progress", StallAfter: 72 * time.Hour, WIPLimit: 8},
				{ID: "review", StallAfter: 48 * time.Hour},
				{ID: "testing"},
				{ID: "done", Terminal: true, Resolution: ResolutionDone},
				{ID: "rejected", Terminal: true, Resolution: ResolutionRejected},
			},
			Initial: "intake", Start: "in_progress", Done: "done", Rejected: "rejected", Triaged: "todo",
		},
		Calendar:             calTestWeekdays(t),
		DefaultCapacity:      10,
		OverloadRatio:        1.0,
		HandoffEscalateAfter: 24 * time.Hour,
		BlockedStallAfter:    48 * time.Hour,
		NudgeRatio:           0.75,
		DueSoonDays:          3,
	}
}

// digestScenario is a small team on Wednesday 25 March 2026, 09:00 Berlin, reporting on Monday and
// Tuesday. The expected numbers in TestBuildDigest are worked out by hand in the comments here.
func digestScenario(t testing.TB) (*Policy, *digestFixtureTx, time.Time, time.Time, time.Time) {
	p := digestTestPolicy(t)
	b := p.Calendar.Location
	at := func(m time.Month, d, h int) time.Time { return calTestAt(b, 2026, m, d, h, 0) }
	from, to, now := at(3, 23, 0), at(3, 25, 0), at(3, 25, 9)

	people := []Person{
		{ID: "alice"}, // default capacity 10
		{ID: "bob", Capacity: 5, CapacitySet: true},   // 5
		{ID: "carol", AwayUntil: Date{2026, 3, 27}},   // away: 0
		{ID: "dave", Capacity: 20, CapacitySet: true}, // idle
	}
	items := []Item{
		// Untriaged intake, created in the period: left out of Top; intake stalls after 24h → 48h, stalled.
		{ID: 1, Stage: "intake", Value: 5, Urgency: 5, Size: 3, CreatedAt: at(3, 23, 9), StageEnteredAt: at(3, 23, 9)},
		// Score 30+24+18(due Friday: Wed, Thu left)−3.17 = 68.8; due soon.
		{ID: 2, Stage: "todo", Triaged: true, Assignee: "alice", Value: 3, Urgency: 3, Size: 3, Due: Date{2026, 3, 27}, CreatedAt: at(3, 10, 9), StageEnteredAt: at(3, 10, 9)},
		// 40+32−6 = 66; in progress 48h of 72h: not stalled.
		{ID: 3, Stage: "in_progress", Triaged: true, Assignee: "alice", Value: 4, Urgency: 4, Size: 8, CreatedAt: at(3, 1, 9), StageEnteredAt: at(3, 23, 9)},
		// Blocked since Friday 09:00: 15+24+24+9 = 72h > 48h → blocked stall.
		{ID: 4, Stage: "in_progress", Triaged: true, Assignee: "alice", Value: 2, Urgency: 2, Size: 5, BlockedReason: "waiting for the vendor", BlockedAt: at(3, 20, 9), CreatedAt: at(3, 2, 9), StageEnteredAt: at(3, 23, 9)},
		// Waits on 4, which is blocked itself (a chain of depth 2), on 9 (open, not blocked) and on 20
		// (closed); waiting 48h, not over. Bob: 13 of 5.
		{ID: 5, Stage: "review", Triaged: true, Assignee: "bob", Value: 3, Urgency: 2, Size: 13, DependsOn: []ItemID{9, 4, 20, 4}, DependsSince: at(3, 23, 9), CreatedAt: at(3, 3, 9), StageEnteredAt: at(3, 24, 9)},
		// Overdue; its handoff from Monday 08:00 has waited 49h > 24h → handoff stall.
		{ID: 6, Stage: "todo", Triaged: true, Value: 1, Urgency: 1, Size: 1, Due: Date{2026, 3, 20}, PendingHandoff: 1, CreatedAt: at(3, 4, 9), StageEnteredAt: at(3, 4, 9), LastActivityAt: at(3, 23, 8)},
		// Pinned first; created in the period, still open; its dependency 99 is closed, so not blocked.
		{ID: 7, Stage: "todo", Triaged: true, Pin: 1, Value: 1, Urgency: 1, Size: 2, DependsOn: []ItemID{99}, DependsSince: at(3, 20, 9), CreatedAt: at(3, 24, 12), StageEnteredAt: at(3, 24, 12)},
		// Carol is away: 3 points on 0 capacity. In progress since Thursday 09:00: 96h > 72h → stage stall.
		{ID: 8, Stage: "in_progress", Triaged: true, Assignee: "carol", Value: 5, Urgency: 1, Size: 3, CreatedAt: at(3, 5, 9), StageEnteredAt: at(3, 19, 9)},
		// Alice's fourth item, the smallest: not among her three biggest.
		{ID: 9, Stage: "todo", Triaged: true, Assignee: "alice", Value: 2, Urgency: 2, Size: 1, CreatedAt: at(3, 6, 9), StageEnteredAt: at(3, 6, 9)},

		// Closed: 20, 21, 22 done and 23 rejected in the period; 24 done before it; 99 long ago.
		{ID: 20, Stage: "done", Resolution: ResolutionDone, Size: 2, Due: Date{2026, 3, 24}, CreatedAt: at(3, 13, 9), DoneAt: at(3, 23, 15)},
		{ID: 21, Stage: "done", Resolution: ResolutionDone, Size: 2, Due: Date{2026, 3, 23}, CreatedAt: at(3, 20, 9), DoneAt: at(3, 24, 11)},
		{ID: 22, Stage: "done", Resolution: ResolutionDone, Size: 1, CreatedAt: at(3, 24, 9), DoneAt: at(3, 24, 12)},
		{ID: 23, Stage: "rejected", Resolution: ResolutionRejected, Size: 1, CreatedAt: at(3, 2, 9), DoneAt: at(3, 24, 16)},
		{ID: 24, Stage: "done", Resolution: ResolutionDone, Size: 1, CreatedAt: at(3, 2, 9), DoneAt: at(3, 20, 16)},
		{ID: 25, Stage: "done", Resolution: ResolutionDuplicate, Size: 1, CreatedAt: at(3, 2, 9), DoneAt: at(3, 24, 16)},
		{ID: 99, Stage: "done", Resolution: ResolutionDone, Size: 1, CreatedAt: at(1, 2, 9), DoneAt: at(1, 20, 16)},
	}
	handoffs := []Handoff{
		{ID: 1, ItemID: 6, From: "alice", To: "bob", Status: HandoffPending, RequestedAt: at(3, 23, 8)},
		{ID: 2, ItemID: 3, From: "alice", To: "dave", Status: HandoffAccepted, RequestedAt: at(3, 2, 8)},
		{ID: 3, ItemID: 9, From: "alice", To: "dave", Status: HandoffAwaitingApproval, RequestedAt: at(3, 25, 8)},
	}
	events := []Event{
		{At: at(3, 10, 9), Type: EventCreated, ItemID: 2}, // before the period
		{At: at(3, 23, 9), Type: EventCreated, ItemID: 1},
		{At: at(3, 24, 12), Type: EventCreated, ItemID: 7},
		{At: at(3, 24, 9), Type: EventCreated, ItemID: 22},
		{At: at(3, 23, 15), Type: EventMoved, ItemID: 20, Changes: []Change{{Field: "stage", Before: "review", After: "done"}, {Field: "resolution", After: "done"}}},
		{At: at(3, 24, 11), Type: EventMoved, ItemID: 21, Changes: []Change{{Field: "stage", Before: "testing", After: "done"}}},
		{At: at(3, 23, 9), Type: EventMoved, ItemID: 3, Changes: []Change{{Field: "stage", Before: "todo", After: "in_progress"}}}, // an ordinary move: never read
		{At: at(3, 24, 12), Type: EventMoved, ItemID: 22},
		{At: at(3, 24, 13), Type: EventMoved, ItemID: 22}, // read once however often it is named
		{At: at(3, 24, 16), Type: EventRejected, ItemID: 23},
		{At: at(3, 24, 16), Type: EventDuplicate, ItemID: 25},
		{At: at(3, 24, 17), Type: EventEdited, ItemID: 24}, // not a closing event: never read
		{At: at(3, 24, 17), Type: EventMoved, ItemID: 404}, // an item that is gone: skipped
		{At: at(3, 24, 17), Type: EventCapacitySet, Subject: "bob"},
		{At: at(3, 25, 8), Type: EventMoved, ItemID: 24}, // after the period
	}
	return p, newDigestFixture(items, handoffs, people, events), from, to, now
}

func ids[T any](xs []T, id func(T) ItemID) []ItemID {
	out := []ItemID{}
	for _, x := range xs {
		out = append(out, id(x))
	}
	return out
}

func TestBuildDigest(t *testing.T) {
	p, tx, from, to, now := digestScenario(t)
	d, err := BuildDigest(tx, p, from, to, now, 3)
	if err != nil {
		t.Fatalf("BuildDigest: %v", err)
	}
	h := time.Hour

	if d.Period != (Period{from, to}) || !d.Now.Equal(now) || d.Today != (Date{2026, 3, 25}) || d.OpenItems != 9 {
		t.Errorf("header = %v %v %v open %d", d.Period, d.Now, d.Today, d.OpenItems)
	}
	if got, want := ids(d.Top, func(r Ranked) ItemID { return r.Item.ID }), []ItemID{7, 2, 3}; !slices.Equal(got, want) {
		t.Errorf("Top = %v, want %v", got, want)
	}
	for i, r := range d.Top {
		if r.Rank != i+1 || r.Score.Explain() != p.Score(r.Item, now).Explain() {
			t.Errorf("Top[%d] = rank %d, %q", i, r.Rank, r.Score.Explain())
		}
	}
	// Top agrees with ranking every eligible item in full.
	var eligible []Item
	for _, it := range tx.open {
		if it.Triaged || it.Stage != p.Workflow.Initial {
			eligible = append(eligible, it)
		}
	}
	if got, want := ids(d.Top, func(r Ranked) ItemID { return r.Item.ID }), ids(p.Rank(eligible, now)[:3], func(r Ranked) ItemID { return r.Item.ID }); !slices.Equal(got, want) {
		t.Errorf("Top = %v, Rank says %v", got, want)
	}

	type load struct {
		id         UserID
		load, cap  int
		overloaded bool
		biggest    []ItemID
	}
	var gotLoads []load
	for _, pl := range d.Loads {
		gotLoads = append(gotLoads, load{pl.Person.ID, pl.Load, pl.Capacity, pl.Overloaded, nil})
	}
	wantLoads := []load{{"carol", 3, 0, true, nil}, {"bob", 13, 5, true, nil}, {"alice", 17, 10, true, nil}, {"dave", 0, 20, false, nil}}
	if !slices.EqualFunc(gotLoads, wantLoads, func(a, b load) bool {
		return a.id == b.id && a.load == b.load && a.cap == b.cap && a.overloaded == b.overloaded
	}) {
		t.Errorf("Loads = %+v, want %+v", gotLoads, wantLoads)
	}
	var gotOver []load
	for _, o := range d.Overloaded {
		gotOver = append(gotOver, load{id: o.Load.Person.ID, biggest: ids(o.Biggest, func(it Item) ItemID { return it.ID })})
	}
	wantOver := []load{{id: "carol", biggest: []ItemID{8}}, {id: "bob", biggest: []ItemID{5}}, {id: "alice", biggest: []ItemID{3, 4, 2}}}
	if !slices.EqualFunc(gotOver, wantOver, func(a, b load) bool { return a.id == b.id && slices.Equal(a.biggest, b.biggest) }) {
		t.Errorf("Overloaded = %+v, want %+v", gotOver, wantOver)
	}

	type stall struct {
		id     ItemID
		reason StallReason
		dur    time.Duration
	}
	var gotStalls []stall
	for _, s := range d.Stalled {
		gotStalls = append(gotStalls, stall{s.Item.ID, s.Reason, s.For})
	}
	wantStalls := []stall{{6, StallHandoff, 49 * h}, {4, StallBlocked, 72 * h}, {8, StallStage, 96 * h}, {1, StallStage, 48 * h}}
	if !slices.Equal(gotStalls, wantStalls) {
		t.Errorf("Stalled = %+v, want %+v", gotStalls, wantStalls)
	}
	if got := d.StalledBy(StallStage); len(got) != 2 || got[0].Item.ID != 8 || got[1].Item.ID != 1 {
		t.Errorf("StalledBy(stage) = %+v", got)
	}
	if d.Stalled[0].Handoff == nil || d.Stalled[0].Handoff.ID != 1 {
		t.Errorf("handoff stall carries %+v, want handoff 1", d.Stalled[0].Handoff)
	}

	var gotHandoffs []string
	for _, ha := range d.PendingHandoffs {
		gotHandoffs = append(gotHandoffs, fmt.Sprintf("H%d W-%d %v", ha.Handoff.ID, ha.Item.ID, ha.Age))
	}
	if want := []string{"H1 W-6 49h0m0s", "H3 W-9 1h0m0s"}; !slices.Equal(gotHandoffs, want) {
		t.Errorf("PendingHandoffs = %v, want %v", gotHandoffs, want)
	}

	if len(d.Blocked) != 2 {
		t.Fatalf("Blocked = %+v, want items 5 and 4", d.Blocked)
	}
	if b := d.Blocked[0]; b.Item.ID != 5 || b.Depth != 2 || b.Reason != "" || !b.Since.Equal(calTestAt(p.Calendar.Location, 2026, 3, 23, 9, 0)) ||
		!slices.Equal(ids(b.DependsOn, func(it Item) ItemID { return it.ID }), []ItemID{4, 9}) {
		t.Errorf("Blocked[0] = item %d depth %d reason %q since %v deps %v", b.Item.ID, b.Depth, b.Reason, b.Since, ids(b.DependsOn, func(it Item) ItemID { return it.ID }))
	}
	if b := d.Blocked[1]; b.Item.ID != 4 || b.Depth != 1 || b.Reason != "waiting for the vendor" || len(b.DependsOn) != 0 {
		t.Errorf("Blocked[1] = item %d depth %d reason %q deps %d", b.Item.ID, b.Depth, b.Reason, len(b.DependsOn))
	}

	if got := ids(d.DueSoon, func(it Item) ItemID { return it.ID }); !slices.Equal(got, []ItemID{2}) {
		t.Errorf("DueSoon = %v, want [2]", got)
	}
	if got := ids(d.Overdue, func(it Item) ItemID { return it.ID }); !slices.Equal(got, []ItemID{6}) {
		t.Errorf("Overdue = %v, want [6]", got)
	}

	f := d.Flow
	if f.Created != 3 || f.Completed != 3 || f.Rejected != 1 || f.OpenCreated != 2 {
		t.Errorf("Flow counts: created %d completed %d rejected %d open-created %d, want 3 3 1 2", f.Created, f.Completed, f.Rejected, f.OpenCreated)
	}
	// Cycle times 3h, 4d2h, 10d6h: P50 is rank ceil(1.5) = 2, P85 rank ceil(2.55) = 3.
	if f.CycleTimeP50 != 98*h || f.CycleTimeP85 != 246*h {
		t.Errorf("cycle time P50 %v P85 %v, want 98h and 246h", f.CycleTimeP50, f.CycleTimeP85)
	}
	if f.WorkingDays != 2 || f.Throughput != 1.5 {
		t.Errorf("working days %v throughput %v, want 2 and 1.5", f.WorkingDays, f.Throughput)
	}
	if f.CompletionRate != 0.6 {
		t.Errorf("CompletionRate = %v, want 3/(3+2) = 0.6", f.CompletionRate)
	}
	if f.DeadlinesMet != 1 || f.DeadlinesTotal != 2 || f.DeadlineHitRate != 0.5 {
		t.Errorf("deadlines %d/%d rate %v, want 1/2 0.5", f.DeadlinesMet, f.DeadlinesTotal, f.DeadlineHitRate)
	}
	wantWIP := map[StageID]int{"intake": 1, "todo": 4, "in_progress": 3, "review": 1, "testing": 0}
	if len(f.WIPByStage) != len(wantWIP) {
		t.Errorf("WIPByStage = %v, want %v", f.WIPByStage, wantWIP)
	}
	for s, n := range wantWIP {
		if got, ok := f.WIPByStage[s]; !ok || got != n {
			t.Errorf("WIPByStage[%s] = %d (present %v), want %d", s, got, ok, n)
		}
	}

	// Only open items were read one by one (those the digest reports, and item 9 that blocked item 5
	// waits on); the period's closed items come from ClosedBetween, never one read per event.
	for _, id := range tx.pointReads {
		if _, closed := tx.closed[id]; closed {
			t.Errorf("point reads = %v: %d is closed", tx.pointReads, id)
		}
	}
	if !slices.Contains(tx.pointReads, 9) {
		t.Errorf("point reads = %v, want 9 among them", tx.pointReads)
	}
	// Reported items are whole, not the briefs the pass saw.
	if d.Blocked[1].Reason != "waiting for the vendor" || d.Top[0].Item.Key == "" && tx.open[0].Key != "" {
		t.Errorf("a reported item lacks its text: %+v", d.Blocked[1])
	}
}

func TestBuildDigestEdges(t *testing.T) {
	p, tx, from, _, now := digestScenario(t)

	t.Run("ErrInvalidPeriod", func(t *testing.T) {
		_, err := BuildDigest(tx, p, from, from, now, 3)
		if ErrorCode(err) != EINVALID {
			t.Fatalf("err = %v, want %s", err, EINVALID)
		}
	})
	t.Run("StoreErrorSurfaces", func(t *testing.T) {
		broken := *tx
		broken.failEvents = errors.New("disk on fire")
		_, err := BuildDigest(&broken, p, from, now, now, 3)
		if err == nil || ErrorCode(err) != EINTERNAL {
			t.Fatalf("err = %v, want an internal error", err)
		}
	})
	t.Run("DefaultTop", func(t *testing.T) {
		d, err := BuildDigest(tx, p, from, now, now, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(d.Top) != 8 { // every eligible item: fewer than DefaultDigestTop
			t.Fatalf("len(Top) = %d, want 8", len(d.Top))
		}
	})
	t.Run("EmptyStore", func(t *testing.T) {
		d, err := BuildDigest(newDigestFixture(nil, nil, nil, nil), p, from, now, now, 5)
		if err != nil {
			t.Fatal(err)
		}
		if len(d.Top)+len(d.Stalled)+len(d.Loads)+d.Flow.Completed != 0 || d.Flow.CycleTimeP50 != 0 ||
			d.Flow.CompletionRate != 0 || math.IsNaN(d.Flow.Throughput) || d.Flow.WIPByStage["todo"] != 0 {
			t.Fatalf("empty digest = %+v", d)
		}
	})
	t.Run("WeekendPeriodDividesByOneDay", func(t *testing.T) {
		b := p.Calendar.Location
		sat, mon := calTestAt(b, 2026, 3, 21, 0, 0), calTestAt(b, 2026, 3, 23, 0, 0)
		items := []Item{{ID: 1, Resolution: ResolutionDone, CreatedAt: sat, DoneAt: sat.Add(time.Hour)}}
		events := []Event{{At: sat.Add(time.Hour), Type: EventMoved, ItemID: 1}}
		d, err := BuildDigest(newDigestFixture(items, nil, nil, events), p, sat, mon, mon, 5)
		if err != nil {
			t.Fatal(err)
		}
		if d.Flow.WorkingDays != 0 || d.Flow.Throughput != 1 || d.Flow.CompletionRate != 1 {
			t.Fatalf("flow = %+v, want 0 working days, throughput 1, completion 1", d.Flow)
		}
	})
	t.Run("OpenItemsOutOfOrder", func(t *testing.T) {
		want, err := BuildDigest(tx, p, from, now, now, 5)
		if err != nil {
			t.Fatal(err)
		}
		reversed := *tx
		reversed.reverse = true
		got, err := BuildDigest(&reversed, p, from, now, now, 5)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("digest depends on the order of OpenItems:\n got %+v\nwant %+v", got, want)
		}
	})
	t.Run("DependencyCycleTerminates", func(t *testing.T) {
		at := calTestAt(p.Calendar.Location, 2026, 3, 20, 9, 0)
		items := []Item{
			{ID: 1, Stage: "todo", DependsOn: []ItemID{2}, DependsSince: at},
			{ID: 2, Stage: "todo", DependsOn: []ItemID{3}, DependsSince: at},
			{ID: 3, Stage: "todo", DependsOn: []ItemID{1, 3}, DependsSince: at},
		}
		d, err := BuildDigest(newDigestFixture(items, nil, nil, nil), p, from, now, now, 5)
		if err != nil {
			t.Fatal(err)
		}
		// The walk starts at the lowest ID: 1 waits on 2, which waits on 3, whose wait on 1 closes the
		// cycle and counts nothing; so 3 has depth 1, 2 depth 2 and 1 depth 3, every time.
		var got []string
		for _, b := range d.Blocked {
			got = append(got, fmt.Sprintf("%d:%d", b.Item.ID, b.Depth))
		}
		if want := []string{"1:3", "2:2", "3:1"}; !slices.Equal(got, want) {
			t.Fatalf("Blocked = %v, want %v", got, want)
		}
	})
}

func TestDigestChanges(t *testing.T) {
	p, tx, from, to, now := digestScenario(t)
	cur, err := BuildDigest(tx, p, from, to, now, 3)
	if err != nil {
		t.Fatal(err)
	}
	prev := DigestSnapshot{Top: []ItemID{7, 3, 9}, Stalled: []ItemID{1, 3, 3}, At: now.Add(-24 * time.Hour)}
	c := cur.ChangesSince(prev)
	if got := ids(c.NewTop, func(r Ranked) ItemID { return r.Item.ID }); !slices.Equal(got, []ItemID{2}) {
		t.Errorf("NewTop = %v, want [2]", got)
	}
	if got := ids(c.NewlyStalled, func(s Stall) ItemID { return s.Item.ID }); !slices.Equal(got, []ItemID{6, 4, 8}) {
		t.Errorf("NewlyStalled = %v, want [6 4 8]", got)
	}
	if !slices.Equal(c.Resolved, []ItemID{3}) {
		t.Errorf("Resolved = %v, want [3]", c.Resolved)
	}

	snap := cur.Snapshot()
	if !slices.Equal(snap.Top, []ItemID{7, 2, 3}) || !slices.Equal(snap.Stalled, []ItemID{6, 4, 8, 1}) || !snap.At.Equal(now) {
		t.Errorf("Snapshot = %+v", snap)
	}
	if same := DigestChanges(cur, cur); len(same.NewTop)+len(same.NewlyStalled)+len(same.Resolved) != 0 {
		t.Errorf("a digest compared with itself changed: %+v", same)
	}
	if first := cur.ChangesSince(DigestSnapshot{}); len(first.NewTop) != 3 || len(first.NewlyStalled) != 4 || len(first.Resolved) != 0 {
		t.Errorf("against no previous digest: %+v", first)
	}
}

// TestDigestCapsStalledListsButCountsAll: a backlog where everything is stalled keeps the digest's
// lists bounded, while the counts, the IDs and the changes still cover every stalled item.
func TestDigestCapsStalledListsButCountsAll(t *testing.T) {
	p := DefaultPolicy()
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	long := now.Add(-30 * 24 * time.Hour)
	n := MaxStalledPerReason + 123
	var items []Item
	for i := 1; i <= n; i++ {
		items = append(items, Item{ID: ItemID(i), Key: FormatKey("W", ItemID(i)), Title: "t", Stage: StageInProgress, Assignee: "U1",
			Value: 3, Urgency: 3, Size: 3, Triaged: true, CreatedAt: long, StageEnteredAt: long, LastActivityAt: long})
	}
	d, err := BuildDigest(newDigestFixture(items, nil, nil, nil), p, now.Add(-7*24*time.Hour), now, now, 10)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(d.StalledBy(StallStage)); got != MaxStalledPerReason {
		t.Errorf("listed %d stage stalls, want the cap %d", got, MaxStalledPerReason)
	}
	if got := d.StalledTotal(StallStage); got != n {
		t.Errorf("counted %d stage stalls, want %d", got, n)
	}
	if len(d.Snapshot().Stalled) != n {
		t.Errorf("snapshot holds %d stalled IDs, want %d", len(d.Snapshot().Stalled), n)
	}
	c := d.ChangesSince(DigestSnapshot{})
	if c.NewlyStalledCount != n || len(c.NewlyStalled) != MaxStalledPerReason {
		t.Errorf("changes: %d newly stalled counted, %d listed", c.NewlyStalledCount, len(c.NewlyStalled))
	}
	if c2 := d.ChangesSince(d.Snapshot()); c2.NewlyStalledCount != 0 || len(c2.Resolved) != 0 {
		t.Errorf("against itself: %+v", c2)
	}
}
