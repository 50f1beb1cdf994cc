package storetest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"reflect"
	"slices"
	"strconv"
	"testing"
	"time"

	"workbot/bot"
	"workbot/domain"
)

// model is the property test's idea of what the store holds, kept with plain maps.
type model struct {
	items      map[domain.ItemID]domain.Item
	handoffs   map[domain.HandoffID]domain.Handoff
	people     map[domain.UserID]domain.Person
	events     []domain.Event // Seq is left zero: stores may skip numbers
	nextItem   domain.ItemID  // the last ID handed out
	nextHO     domain.HandoffID
	itemIDs    []domain.ItemID // in creation order
	handoffIDs []domain.HandoffID
}

func (m *model) clone() *model {
	return &model{
		items: maps(m.items), handoffs: maps(m.handoffs), people: maps(m.people),
		events: slices.Clone(m.events), nextItem: m.nextItem, nextHO: m.nextHO,
		itemIDs: slices.Clone(m.itemIDs), handoffIDs: slices.Clone(m.handoffIDs),
	}
}

func maps[K comparable, V any](in map[K]V) map[K]V {
	out := make(map[K]V, len(in))
	for k, v := range in {
		out[k] = v
	}
	return out
}

var (
	propUsers  = []domain.UserID{"", "UA", "UB", "UC", "UD", "UE"}
	propStages = []domain.StageID{"intake", "todo", "in_progress", "review"}
	propTeams  = []domain.TeamID{"", "core", "web"}
	errAbort   = errors.New("abort this transaction")
)

// TestPropertyIndexesMatchFullScan runs random operations through Update against a model and then
// compares every query the store answers from an index with the model, and runs Check.
func testProperty(t *testing.T, f Factory) {
	seed := uint64(20261125)
	if s := os.Getenv("WORKBOT_PROPERTY_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("WORKBOT_PROPERTY_SEED: %v", err)
		}
		seed = v
	}
	t.Logf("seed %d (WORKBOT_PROPERTY_SEED=<n> runs another)", seed)
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	db := f.New(t)
	m := &model{items: map[domain.ItemID]domain.Item{}, handoffs: map[domain.HandoffID]domain.Handoff{}, people: map[domain.UserID]domain.Person{}}

	const ops = 2000
	for done := 0; done < ops; {
		batch := 1 + rng.IntN(4)
		abort := rng.IntN(10) == 0
		var next *model
		err := db.Update(context.Background(), func(tx domain.Tx) error {
			next = m.clone() // Batch may rerun fn: start from the committed model each time
			r := rand.New(rand.NewPCG(seed, uint64(done)))
			for i := 0; i < batch; i++ {
				if err := randomOp(tx, next, r); err != nil {
					return err
				}
			}
			if abort {
				return errAbort
			}
			return nil
		})
		switch {
		case abort && errors.Is(err, errAbort):
		case err != nil:
			t.Fatalf("op %d: %v", done, err)
		default:
			m = next
		}
		done += batch
		if done%500 < batch {
			compareWithModel(t, db, m, rng)
		}
	}
	compareWithModel(t, db, m, rng)
	check(t, db)
	db = f.Reopen(t, db)
	compareWithModel(t, db, m, rng)
	check(t, db)
}

func randomOp(tx domain.Tx, m *model, r *rand.Rand) error {
	pick := func(s []domain.UserID) domain.UserID { return s[r.IntN(len(s))] }
	at := BaseTime.Add(time.Duration(r.IntN(30*24)) * time.Hour)
	anyItem := func() (domain.Item, bool) {
		if m.nextItem == 0 {
			return domain.Item{}, false
		}
		if len(m.itemIDs) == 0 {
			return domain.Item{}, false
		}
		it, ok := m.items[m.itemIDs[r.IntN(len(m.itemIDs))]]
		return it, ok
	}
	switch op := r.IntN(100); {
	case op < 30: // create
		id, err := tx.NextItemID()
		if err != nil {
			return err
		}
		// IDs only increase: a store may skip numbers taken by transactions that rolled back.
		if id <= m.nextItem {
			return fmt.Errorf("NextItemID = %d, after %d", id, m.nextItem)
		}
		m.nextItem = id
		it := domain.Item{
			ID: id, Key: domain.FormatKey("W", id), Title: fmt.Sprintf("item %d", id), Requester: pick(propUsers[1:]),
			Stage: propStages[r.IntN(len(propStages))], Assignee: pick(propUsers), Size: r.IntN(14), CreatedAt: at, UpdatedAt: at,
			Team: propTeams[r.IntN(len(propTeams))], Value: r.IntN(6), Urgency: r.IntN(6), Pin: r.IntN(3), Triaged: r.IntN(2) == 0,
		}
		if r.IntN(4) == 0 {
			it.Due = domain.DateOf(at.Add(time.Duration(r.IntN(20)) * 24 * time.Hour))
		}
		if err := tx.PutItem(it); err != nil {
			return err
		}
		m.items[id] = it
		m.itemIDs = append(m.itemIDs, id)
		return appendEvent(tx, m, domain.Event{At: at, Actor: it.Requester, Type: domain.EventCreated, ItemID: id})
	case op < 60: // change stage, assignee, requester or close/reopen
		it, ok := anyItem()
		if !ok {
			return nil
		}
		switch r.IntN(7) {
		case 5:
			it.Size = r.IntN(14)
		case 6:
			it.Team = propTeams[r.IntN(len(propTeams))]
		case 0:
			it.Stage = propStages[r.IntN(len(propStages))]
		case 1:
			it.Assignee = pick(propUsers)
		case 2:
			it.Requester = pick(propUsers)
		case 3:
			it.Resolution, it.DoneAt = domain.ResolutionDone, at
		case 4:
			it.Resolution, it.DoneAt = domain.ResolutionNone, time.Time{}
		}
		it.Version++
		it.UpdatedAt = at
		if err := tx.PutItem(it); err != nil {
			return err
		}
		m.items[it.ID] = it
		return appendEvent(tx, m, domain.Event{At: at, Actor: pick(propUsers), Type: domain.EventMoved, ItemID: it.ID})
	case op < 75: // request a handoff
		it, ok := anyItem()
		if !ok {
			return nil
		}
		id, err := tx.NextHandoffID()
		if err != nil {
			return err
		}
		if id <= m.nextHO {
			return fmt.Errorf("NextHandoffID = %d, after %d", id, m.nextHO)
		}
		m.nextHO = id
		status := domain.HandoffPending
		if r.IntN(3) == 0 {
			status = domain.HandoffAwaitingApproval
		}
		h := domain.Handoff{ID: id, ItemID: it.ID, From: it.Assignee, To: pick(propUsers[1:]), Status: status, RequestedAt: at}
		if err := tx.PutHandoff(h); err != nil {
			return err
		}
		m.handoffs[id] = h
		m.handoffIDs = append(m.handoffIDs, id)
		return appendEvent(tx, m, domain.Event{At: at, Type: domain.EventHandoffRequested, ItemID: it.ID, Handoff: id})
	case op < 88: // decide a handoff (or approve one)
		if len(m.handoffIDs) == 0 {
			return nil
		}
		h := m.handoffs[m.handoffIDs[r.IntN(len(m.handoffIDs))]]
		statuses := []domain.HandoffStatus{domain.HandoffPending, domain.HandoffAccepted, domain.HandoffDeclined, domain.HandoffCancelled, domain.HandoffRejected}
		h.Status = statuses[r.IntN(len(statuses))]
		h.DecidedAt = at
		if err := tx.PutHandoff(h); err != nil {
			return err
		}
		m.handoffs[h.ID] = h
		return nil
	case op < 95: // people
		p := domain.Person{ID: pick(propUsers[1:]), Capacity: r.IntN(20), CapacitySet: r.IntN(2) == 0, UpdatedAt: at}
		if err := tx.PutPerson(p); err != nil {
			return err
		}
		m.people[p.ID] = p
		return appendEvent(tx, m, domain.Event{At: at, Type: domain.EventCapacitySet, Subject: p.ID})
	default: // a read inside the write transaction sees the writes so far
		it, ok := anyItem()
		if !ok {
			return nil
		}
		got, err := tx.Item(it.ID)
		if err != nil {
			return err
		}
		if !reflect.DeepEqual(got, it) {
			return fmt.Errorf("Item(%d) inside Update = %+v, model %+v", it.ID, got, it)
		}
		return nil
	}
}

func appendEvent(tx domain.Tx, m *model, e domain.Event) error {
	if err := tx.AppendEvent(e); err != nil {
		return err
	}
	m.events = append(m.events, e)
	return nil
}

func compareWithModel(t *testing.T, db bot.Store, m *model, rng *rand.Rand) {
	t.Helper()
	var ids []domain.ItemID
	for id := range m.items {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	filter := func(keep func(domain.Item) bool) []domain.Item {
		var out []domain.Item
		for _, id := range ids {
			if it := m.items[id]; keep(it) {
				out = append(out, it)
			}
		}
		return out
	}
	same := func(what string, got, want any) {
		t.Helper()
		if reflect.DeepEqual(got, want) {
			return
		}
		// Item lists are long; their IDs say what went wrong.
		if g, ok := got.([]domain.Item); ok {
			got, want = itemIDs(g), itemIDs(want.([]domain.Item))
		}
		t.Errorf("%s:\n got  %v\n want %v", what, got, want)
	}
	err := db.View(context.Background(), func(tx domain.ReadTx) error {
		same("OpenItems", collectItems(t, tx.OpenItems), filter(domain.Item.Open))
		for _, u := range propUsers {
			same("OpenItemsByAssignee("+string(u)+")",
				collectItems(t, func(f func(domain.Item) bool) error { return tx.OpenItemsByAssignee(u, f) }),
				filter(func(it domain.Item) bool { return it.Open() && it.Assignee == u }))
			want := filter(func(it domain.Item) bool { return it.Requester == u })
			slices.Reverse(want)
			same("ItemsByRequester("+string(u)+")",
				collectItems(t, func(f func(domain.Item) bool) error { return tx.ItemsByRequester(u, f) }), want)
		}
		for _, s := range propStages {
			same("OpenItemsInStage("+string(s)+")",
				collectItems(t, func(f func(domain.Item) bool) error { return tx.OpenItemsInStage(s, f) }),
				filter(func(it domain.Item) bool { return it.Open() && it.Stage == s }))
		}
		for _, id := range ids {
			got, err := tx.Item(id)
			if err != nil {
				return err
			}
			same(fmt.Sprintf("Item(%d)", id), got, m.items[id])
		}

		var gotPending, wantPending []domain.Handoff
		if err := tx.PendingHandoffs(func(h domain.Handoff) bool { gotPending = append(gotPending, h); return true }); err != nil {
			return err
		}
		hids := slices.Clone(m.handoffIDs)
		slices.Sort(hids)
		for _, id := range hids {
			if h := m.handoffs[id]; !h.Status.Decided() {
				wantPending = append(wantPending, h)
			}
		}
		same("PendingHandoffs", gotPending, wantPending)

		var gotPeople, wantPeople []domain.Person
		if err := tx.People(func(p domain.Person) bool { gotPeople = append(gotPeople, p); return true }); err != nil {
			return err
		}
		for _, u := range propUsers {
			if p, ok := m.people[u]; ok {
				wantPeople = append(wantPeople, p)
			}
		}
		same("People", gotPeople, wantPeople)

		for i := 0; i < 5; i++ {
			from := BaseTime.Add(time.Duration(rng.IntN(30*24)) * time.Hour)
			to := from.Add(time.Duration(rng.IntN(10*24)) * time.Hour)
			var got, want []domain.Event
			if err := tx.EventsBetween(from, to, func(e domain.Event) bool { e.Seq = 0; got = append(got, e); return true }); err != nil {
				return err
			}
			for _, e := range m.events {
				if !e.At.Before(from) && e.At.Before(to) {
					want = append(want, e)
				}
			}
			slices.SortStableFunc(want, func(a, b domain.Event) int { return a.At.Compare(b.At) })
			same(fmt.Sprintf("EventsBetween(%v, %v)", from, to), got, want)
		}
		compareAggregates(t, tx, m, ids, rng, same)
		for _, id := range ids[:min(len(ids), 20)] {
			var got, want []domain.Event
			if err := tx.ItemEvents(id, func(e domain.Event) bool { e.Seq = 0; got = append(got, e); return true }); err != nil {
				return err
			}
			for _, e := range m.events {
				if e.ItemID == id {
					want = append(want, e)
				}
			}
			same(fmt.Sprintf("ItemEvents(%d)", id), got, want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var all []domain.Event
	var last domain.Event
	for i, e := range exportEvents(t, db) {
		if i > 0 && (e.At.Before(last.At) || (e.At.Equal(last.At) && e.Seq <= last.Seq)) {
			t.Errorf("ExportEvents: %v/%d after %v/%d: not in time order", e.At, e.Seq, last.At, last.Seq)
		}
		last = e
		e.Seq = 0
		all = append(all, e)
	}
	inTime := slices.Clone(m.events)
	slices.SortStableFunc(inTime, func(a, b domain.Event) int { return a.At.Compare(b.At) })
	if !reflect.DeepEqual(all, inTime) {
		t.Errorf("ExportEvents: %d events, not the model's %d in time order", len(all), len(inTime))
	}
}

// compareAggregates checks every aggregate read against a recount of the model.
func compareAggregates(t *testing.T, tx domain.ReadTx, m *model, ids []domain.ItemID, rng *rand.Rand, same func(string, any, any)) {
	t.Helper()
	wantCounts := domain.OpenCounts{ByStage: map[domain.StageID]int{}, ByTeam: map[domain.TeamID]int{}}
	wantWork := map[domain.UserID]domain.Workload{}
	var wantBriefs []domain.Brief
	for _, id := range ids {
		it := m.items[id]
		if !it.Open() {
			continue
		}
		wantCounts.Total++
		wantCounts.ByStage[it.Stage]++
		wantCounts.ByTeam[it.Team]++
		wantBriefs = append(wantBriefs, domain.BriefOf(&it))
		if it.Assignee != "" {
			w := wantWork[it.Assignee]
			w.Points += it.Size
			w.Items++
			wantWork[it.Assignee] = w
		}
	}
	counts, err := tx.OpenCounts()
	if err != nil {
		t.Fatal(err)
	}
	same("OpenCounts", counts, wantCounts)
	gotWork := map[domain.UserID]domain.Workload{}
	if err := tx.Workloads(func(u domain.UserID, w domain.Workload) bool { gotWork[u] = w; return true }); err != nil {
		t.Fatal(err)
	}
	same("Workloads", gotWork, wantWork)
	for _, u := range propUsers {
		w, err := tx.Workload(u)
		if err != nil {
			t.Fatal(err)
		}
		same("Workload("+string(u)+")", w, wantWork[u])
	}
	byID := func(bs []domain.Brief) []domain.Brief {
		slices.SortFunc(bs, func(a, b domain.Brief) int { return cmp.Compare(a.ID, b.ID) })
		return bs
	}
	var gotBriefs []domain.Brief
	if err := tx.OpenBriefs("", func(b domain.Brief) bool { gotBriefs = append(gotBriefs, b); return true }); err != nil {
		t.Fatal(err)
	}
	same("OpenBriefs", byID(gotBriefs), wantBriefs)
	for _, st := range propStages {
		var got, want []domain.Brief
		if err := tx.OpenBriefs(st, func(b domain.Brief) bool { got = append(got, b); return true }); err != nil {
			t.Fatal(err)
		}
		for _, b := range wantBriefs {
			if b.Stage == st {
				want = append(want, b)
			}
		}
		same("OpenBriefs("+string(st)+")", byID(got), want)
	}
	// OpenByRank, for stores that offer it: every open item in scope, pinned first by pin, then by
	// static score.
	rr, ranks := tx.(domain.RankReader)
	scopes := []domain.Scope{{}}
	for _, st := range propStages {
		scopes = append(scopes, domain.Scope{Stage: st})
	}
	for _, tm := range propTeams[1:] {
		scopes = append(scopes, domain.Scope{Team: tm})
	}
	for _, sc := range scopes {
		if !ranks {
			break
		}
		var got []domain.ItemID
		var prev *domain.RankEntry
		if err := rr.OpenByRank(sc, func(e domain.RankEntry) bool {
			got = append(got, e.ID)
			it := m.items[e.ID]
			if e.Pin != it.Pin || e.Value != it.Value || e.Urgency != it.Urgency || e.Size != it.Size || e.Due != it.Due || !e.CreatedAt.Equal(it.CreatedAt) {
				t.Errorf("OpenByRank(%+v): entry %+v differs from item %d", sc, e, it.ID)
			}
			if prev != nil {
				pp, ep := prev.Pin > 0, e.Pin > 0
				ps, es := domain.StaticScore(prev.Value, prev.Urgency, prev.Size), domain.StaticScore(e.Value, e.Urgency, e.Size)
				if (!pp && ep) || (pp && ep && prev.Pin > e.Pin) || (!pp && !ep && ps < es) {
					t.Errorf("OpenByRank(%+v): %+v before %+v", sc, *prev, e)
				}
			}
			prev = &e
			return true
		}); err != nil {
			t.Fatal(err)
		}
		var want []domain.ItemID
		for _, id := range ids {
			if it := m.items[id]; it.Open() && (sc.Stage == "" || it.Stage == sc.Stage) && (sc.Team == "" || it.Team == sc.Team) {
				want = append(want, id)
			}
		}
		slices.Sort(got)
		same(fmt.Sprintf("OpenByRank(%+v)", sc), got, want)
	}

	// OpenItemsByID: a sorted sample of IDs, open, closed and unknown, gaps short and long.
	var sample []domain.ItemID
	for id := domain.ItemID(1); id <= m.nextItem+3; id++ {
		if rng.IntN(3) == 0 || (id > 50 && id < 90) {
			sample = append(sample, id)
		}
	}
	var gotOpen, wantOpen []domain.Item
	if err := tx.(domain.OpenItemsReader).OpenItemsByID(sample, func(it domain.Item) bool { gotOpen = append(gotOpen, it); return true }); err != nil {
		t.Fatal(err)
	}
	for _, id := range sample {
		if it, ok := m.items[id]; ok && it.Open() {
			wantOpen = append(wantOpen, it)
		}
	}
	same("OpenItemsByID", gotOpen, wantOpen)
	for i := 0; i < 5; i++ {
		from := BaseTime.Add(time.Duration(rng.IntN(30*24*60)) * time.Minute)
		to := from.Add(time.Duration(rng.IntN(10*24*60)) * time.Minute)
		var got, want []domain.Closure
		if err := tx.ClosedBetween(from, to, func(c domain.Closure) bool { got = append(got, c); return true }); err != nil {
			t.Fatal(err)
		}
		for _, id := range ids {
			if it := m.items[id]; !it.Open() && !it.DoneAt.Before(from) && it.DoneAt.Before(to) {
				want = append(want, domain.ClosureOf(&it))
			}
		}
		slices.SortStableFunc(want, func(a, b domain.Closure) int { return a.DoneAt.Compare(b.DoneAt) })
		same(fmt.Sprintf("ClosedBetween(%v, %v)", from, to), got, want)
		for _, typ := range []domain.EventType{domain.EventCreated, domain.EventMoved, domain.EventCapacitySet} {
			n, err := tx.CountEvents(typ, from, to)
			if err != nil {
				t.Fatal(err)
			}
			want := 0
			for _, e := range m.events {
				if e.Type == typ && !e.At.Before(from) && e.At.Before(to) {
					want++
				}
			}
			same(fmt.Sprintf("CountEvents(%s, %v, %v)", typ, from, to), n, want)
		}
	}
}
