package domain

import (
	"cmp"
	"context"
	"iter"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"
)

// memStore is an in-memory Store for tests. Every Update runs fn twice on private copies and keeps only
// the second, the way a grouped bbolt commit may retry it, so code that leaks results out of a discarded
// run (appending to outer slices) shows up as duplicates.
type memStore struct {
	mu      sync.Mutex
	state   memState
	updates int // committed Updates
	// failAppend makes AppendEvent fail, to check that a failed write leaves nothing behind.
	failAppend error
}

type memState struct {
	items      map[ItemID]Item
	handoffs   map[HandoffID]Handoff
	people     map[UserID]Person
	events     []Event
	effects    []Effect
	kv         map[string]string
	itemSeq    uint64
	handoffSeq uint64
	eventSeq   uint64
}

func newMemStore() *memStore {
	return &memStore{state: memState{items: map[ItemID]Item{}, handoffs: map[HandoffID]Handoff{}, people: map[UserID]Person{}}}
}

func cloneItem(it Item) Item {
	it.DependsOn = slices.Clone(it.DependsOn)
	it.Followers = slices.Clone(it.Followers)
	return it
}

func cloneEvent(e Event) Event {
	e.Changes = slices.Clone(e.Changes)
	return e
}

func (s memState) clone() memState {
	out := s
	out.items = make(map[ItemID]Item, len(s.items))
	for k, v := range s.items {
		out.items[k] = cloneItem(v)
	}
	out.handoffs = maps.Clone(s.handoffs)
	out.people = maps.Clone(s.people)
	out.effects = slices.Clone(s.effects)
	out.kv = maps.Clone(s.kv)
	out.events = make([]Event, len(s.events))
	for i, e := range s.events {
		out.events[i] = cloneEvent(e)
	}
	return out
}

func (m *memStore) Update(ctx context.Context, fn func(tx Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for run := 0; run < 2; run++ {
		work := m.state.clone()
		tx := &memTx{st: &work, failAppend: m.failAppend}
		if err := fn(tx); err != nil {
			return err
		}
		if run == 1 {
			m.state = work
			m.updates++
		}
	}
	return nil
}

func (m *memStore) View(ctx context.Context, fn func(tx ReadTx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	snap := m.state.clone()
	m.mu.Unlock()
	return fn(&memTx{st: &snap})
}

// snapshot returns a copy of everything stored, for before/after comparisons.
func (m *memStore) snapshot() memState {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.state.clone()
}

type memTx struct {
	st         *memState
	failAppend error
}

func (t *memTx) Item(id ItemID) (Item, error) {
	it, ok := t.st.items[id]
	if !ok {
		return Item{}, Errorf(ENOTFOUND, "There is no item %d.", id)
	}
	return cloneItem(it), nil
}

func (t *memTx) itemsWhere(keep func(Item) bool, fn func(Item) bool) error {
	ids := slices.Sorted(maps.Keys(t.st.items))
	for _, id := range ids {
		it := t.st.items[id]
		if keep(it) && !fn(cloneItem(it)) {
			return nil
		}
	}
	return nil
}

func (t *memTx) OpenItems(fn func(Item) bool) error {
	return t.itemsWhere(func(it Item) bool { return it.Open() }, fn)
}

func (t *memTx) OpenItemsByAssignee(user UserID, fn func(Item) bool) error {
	return t.itemsWhere(func(it Item) bool { return it.Open() && it.Assignee == user }, fn)
}

func (t *memTx) OpenItemsInStage(stage StageID, fn func(Item) bool) error {
	return t.itemsWhere(func(it Item) bool { return it.Open() && it.Stage == stage }, fn)
}

func (t *memTx) ItemsByRequester(user UserID, fn func(Item) bool) error {
	ids := slices.Sorted(maps.Keys(t.st.items))
	slices.Reverse(ids)
	for _, id := range ids {
		if it := t.st.items[id]; it.Requester == user && !fn(cloneItem(it)) {
			return nil
		}
	}
	return nil
}

func (t *memTx) ItemBySource(key string) (ItemID, bool, error) {
	for _, id := range slices.Sorted(maps.Keys(t.st.items)) {
		if it := t.st.items[id]; !it.Source.IsZero() && it.Source.Key() == key {
			return id, true, nil
		}
	}
	return 0, false, nil
}

// SimilarOpenItems ranks open items by the share of text's words they contain. It is a stand-in
// for the store's BM25, enough for a domain test to see a duplicate come back.
func (t *memTx) SimilarOpenItems(text string, except ItemID, limit int) ([]Match, error) {
	words := strings.Fields(strings.ToLower(text))
	var out []Match
	for _, id := range slices.Sorted(maps.Keys(t.st.items)) {
		it := t.st.items[id]
		if !it.Open() || id == except || len(words) == 0 {
			continue
		}
		have := strings.Fields(strings.ToLower(it.Title + " " + it.Details))
		shared := 0
		for _, w := range words {
			if slices.Contains(have, w) {
				shared++
			}
		}
		if score := float64(shared) / float64(len(words)); score >= 0.5 {
			out = append(out, Match{Item: id, Score: score})
		}
	}
	slices.SortStableFunc(out, func(a, b Match) int { return cmp.Compare(b.Score, a.Score) })
	return out[:min(len(out), max(limit, 0))], nil
}

func (t *memTx) Handoff(id HandoffID) (Handoff, error) {
	h, ok := t.st.handoffs[id]
	if !ok {
		return Handoff{}, Errorf(ENOTFOUND, "There is no handoff %d.", id)
	}
	return h, nil
}

func (t *memTx) PendingHandoffs(fn func(Handoff) bool) error {
	for _, id := range slices.Sorted(maps.Keys(t.st.handoffs)) {
		if h := t.st.handoffs[id]; !h.Status.Decided() && !fn(h) {
			return nil
		}
	}
	return nil
}

func (t *memTx) Person(id UserID) (Person, bool, error) {
	p, ok := t.st.people[id]
	return p, ok, nil
}

func (t *memTx) People(fn func(Person) bool) error {
	for _, id := range slices.Sorted(maps.Keys(t.st.people)) {
		if !fn(t.st.people[id]) {
			return nil
		}
	}
	return nil
}

func (t *memTx) EventsBetween(from, to time.Time, fn func(Event) bool) error {
	for _, e := range t.st.events {
		if !e.At.Before(from) && e.At.Before(to) && !fn(cloneEvent(e)) {
			return nil
		}
	}
	return nil
}

func (t *memTx) ItemEvents(id ItemID, fn func(Event) bool) error {
	for _, e := range t.st.events {
		if e.ItemID == id && !fn(cloneEvent(e)) {
			return nil
		}
	}
	return nil
}

// items visits the items in ID order.
func (t *memTx) items() iter.Seq[Item] {
	return func(yield func(Item) bool) {
		for _, id := range slices.Sorted(maps.Keys(t.st.items)) {
			if !yield(cloneItem(t.st.items[id])) {
				return
			}
		}
	}
}

func (t *memTx) OpenCounts() (OpenCounts, error) {
	c, _ := recountOpen(t.items())
	return c, nil
}

func (t *memTx) Workload(user UserID) (Workload, error) {
	_, work := recountOpen(t.items())
	return work[user], nil
}

func (t *memTx) Workloads(fn func(UserID, Workload) bool) error {
	_, work := recountOpen(t.items())
	visitWorkloads(work, fn)
	return nil
}

func (t *memTx) OpenBriefs(stage StageID, fn func(Brief) bool) error {
	visitBriefs(t.items(), stage, fn)
	return nil
}

// OpenByRank sorts what a ranking index would hold: pinned first by pin, then StaticScore highest
// first, ties by ID (any order is allowed).
func (t *memTx) OpenByRank(scope Scope, fn func(RankEntry) bool) error {
	var es []RankEntry
	for it := range t.items() {
		if b := BriefOf(&it); it.Open() && scope.admits(&b) {
			es = append(es, RankEntry{ID: it.ID, Pin: it.Pin, Value: it.Value, Urgency: it.Urgency, Size: it.Size, Due: it.Due, CreatedAt: it.CreatedAt})
		}
	}
	slices.SortFunc(es, func(a, b RankEntry) int {
		ap, bp := a.Pin > 0, b.Pin > 0
		switch {
		case ap != bp:
			if ap {
				return -1
			}
			return 1
		case ap && a.Pin != b.Pin:
			return a.Pin - b.Pin
		}
		if sa, sb := StaticScore(a.Value, a.Urgency, a.Size), StaticScore(b.Value, b.Urgency, b.Size); sa != sb {
			if sa > sb {
				return -1
			}
			return 1
		}
		return int(a.ID) - int(b.ID)
	})
	for _, e := range es {
		if !fn(e) {
			return nil
		}
	}
	return nil
}

func (t *memTx) ClosedBetween(from, to time.Time, fn func(Closure) bool) error {
	visitClosures(t.items(), from, to, fn)
	return nil
}

func (t *memTx) CountEvents(typ EventType, from, to time.Time) (int, error) {
	return countEvents(t.st.events, typ, from, to), nil
}

func (t *memTx) NextItemID() (ItemID, error) {
	t.st.itemSeq++
	return ItemID(t.st.itemSeq), nil
}

func (t *memTx) NextHandoffID() (HandoffID, error) {
	t.st.handoffSeq++
	return HandoffID(t.st.handoffSeq), nil
}

func (t *memTx) PutItem(it Item) error {
	t.st.items[it.ID] = cloneItem(it)
	return nil
}

func (t *memTx) PutHandoff(h Handoff) error {
	t.st.handoffs[h.ID] = h
	return nil
}

func (t *memTx) PutPerson(p Person) error {
	t.st.people[p.ID] = p
	return nil
}

func (t *memTx) AppendEvent(e Event) error {
	if t.failAppend != nil {
		return t.failAppend
	}
	t.st.eventSeq++
	e.Seq = t.st.eventSeq
	t.st.events = append(t.st.events, cloneEvent(e))
	return nil
}

func (t *memTx) Enqueue(effects ...Effect) error {
	for _, e := range effects {
		if err := ValidEffect(e); err != nil {
			return err
		}
	}
	t.st.effects = append(t.st.effects, effects...)
	return nil
}

func (t *memTx) State() StateTx { return memKV{t} }

// memKV is the adapters' state of a memTx, enough for hooks under test.
type memKV struct{ t *memTx }

func (m memKV) Get(bucket, key string) ([]byte, error) {
	if v, ok := m.t.st.kv[bucket+"/"+key]; ok {
		return []byte(v), nil
	}
	return nil, nil
}

func (m memKV) Scan(bucket, prefix string, fn func(string, []byte) bool) error {
	for _, k := range slices.Sorted(maps.Keys(m.t.st.kv)) {
		if rest, ok := strings.CutPrefix(k, bucket+"/"); ok && strings.HasPrefix(rest, prefix) && !fn(rest, []byte(m.t.st.kv[k])) {
			return nil
		}
	}
	return nil
}

func (m memKV) Effect(uint64) (OutboxEntry, bool, error) { return OutboxEntry{}, false, nil }

func (m memKV) Put(bucket, key string, val []byte) error {
	if m.t.st.kv == nil {
		m.t.st.kv = map[string]string{}
	}
	m.t.st.kv[bucket+"/"+key] = string(val)
	return nil
}

func (m memKV) Delete(bucket, key string) error {
	delete(m.t.st.kv, bucket+"/"+key)
	return nil
}

func (m memKV) Enqueue(effects ...Effect) error { return m.t.Enqueue(effects...) }

func (m memKV) FinishEffect(uint64, OutboxState, OutboxResult) error { return nil }
