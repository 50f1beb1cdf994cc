package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"workbot/domain"
)

func testItemRoundTrip(t *testing.T, f Factory) {
	s := open(t, f)
	want := FullItem(1)
	mustUpdate(t, s, func(tx domain.Tx) error { return tx.PutItem(want) })
	mustView(t, s, func(tx domain.ReadTx) error {
		got, err := tx.Item(1)
		if err != nil {
			return err
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("Item(1) =\n%+v\nwant\n%+v", got, want)
		}
		// A copy: changing it changes nothing stored.
		got.DependsOn[0] = 99
		again, _ := tx.Item(1)
		if again.DependsOn[0] != 3 {
			t.Error("Item returned a slice shared with the store")
		}
		return nil
	})
	// An item with every field empty comes back empty, not with zero-valued stand-ins.
	empty := domain.Item{ID: 2}
	mustUpdate(t, s, func(tx domain.Tx) error { return tx.PutItem(empty) })
	mustView(t, s, func(tx domain.ReadTx) error {
		got, err := tx.Item(2)
		if err != nil || !reflect.DeepEqual(got, empty) {
			t.Errorf("Item(2) = %+v, %v; want %+v", got, err, empty)
		}
		return nil
	})
}

func testHandoffPersonEventRoundTrip(t *testing.T, f Factory) {
	s := open(t, f)
	h := domain.Handoff{
		ID: 1, ItemID: 5, From: "UA", To: "UB", ToTeam: "ops",
		Note:      domain.HandoffNote{Done: "d", Next: "n", Links: "l"},
		NextStage: "review", Status: domain.HandoffPending, RequestedBy: "UA", RequestedAt: BaseTime,
		ApprovedBy: "ULEAD", ApprovedAt: BaseTime.Add(time.Minute), DecidedBy: "UB",
		DecidedAt: BaseTime.Add(time.Hour), Reason: "r", EscalatedAt: BaseTime.Add(2 * time.Hour),
	}
	p := domain.Person{ID: "UB", Team: "ops", Capacity: 13, CapacitySet: true,
		AwayUntil: domain.Date{Year: 2026, Month: 12, Day: 24}, NudgesOff: true, PersonalDigestOff: true, UpdatedAt: BaseTime}
	ev := domain.Event{At: BaseTime, Actor: "UA", Type: domain.EventHandoffRequested, ItemID: 5, Subject: "UB", Handoff: 1,
		Changes: []domain.Change{{Field: "assignee", Before: "UA", After: "UB"}, {Field: "note", After: `"quoted" ü`}}, Note: "please"}
	mustUpdate(t, s, func(tx domain.Tx) error {
		if err := tx.PutHandoff(h); err != nil {
			return err
		}
		if err := tx.PutPerson(p); err != nil {
			return err
		}
		return tx.AppendEvent(ev)
	})
	mustView(t, s, func(tx domain.ReadTx) error {
		gotH, err := tx.Handoff(1)
		if err != nil {
			return err
		}
		if !reflect.DeepEqual(gotH, h) {
			t.Errorf("Handoff = %+v, want %+v", gotH, h)
		}
		gotP, ok, err := tx.Person("UB")
		if err != nil || !ok || !reflect.DeepEqual(gotP, p) {
			t.Errorf("Person = %+v, %v, %v; want %+v", gotP, ok, err, p)
		}
		var evs []domain.Event
		if err := tx.ItemEvents(5, func(e domain.Event) bool { evs = append(evs, e); return true }); err != nil {
			return err
		}
		if len(evs) != 1 || evs[0].Seq == 0 {
			t.Fatalf("ItemEvents = %+v, want one event with a Seq", evs)
		}
		ev.Seq = evs[0].Seq
		if !reflect.DeepEqual(evs[0], ev) {
			t.Errorf("ItemEvents = %+v, want [%+v]", evs, ev)
		}
		return nil
	})
}

func testMissingRecords(t *testing.T, f Factory) {
	s := open(t, f)
	mustView(t, s, func(tx domain.ReadTx) error {
		if _, err := tx.Item(42); domain.ErrorCode(err) != domain.ENOTFOUND {
			t.Errorf("Item(42) error = %v, want ENOTFOUND", err)
		}
		if _, err := tx.Handoff(42); domain.ErrorCode(err) != domain.ENOTFOUND {
			t.Errorf("Handoff(42) error = %v, want ENOTFOUND", err)
		}
		if _, ok, err := tx.Person("UNOBODY"); ok || err != nil {
			t.Errorf("Person(UNOBODY) = %v, %v; want false, nil", ok, err)
		}
		if _, ok, err := tx.Person(""); ok || err != nil {
			t.Errorf("Person(\"\") = %v, %v; want false, nil", ok, err)
		}
		return nil
	})
	// The same inside a write transaction, where reads lock.
	mustUpdate(t, s, func(tx domain.Tx) error {
		if _, err := tx.Item(42); domain.ErrorCode(err) != domain.ENOTFOUND {
			t.Errorf("Item(42) in Update = %v, want ENOTFOUND", err)
		}
		if _, err := tx.Handoff(42); domain.ErrorCode(err) != domain.ENOTFOUND {
			t.Errorf("Handoff(42) in Update = %v, want ENOTFOUND", err)
		}
		return nil
	})
}

func testPutRejectsWithoutID(t *testing.T, f Factory) {
	s := open(t, f)
	ctx := context.Background()
	for name, fn := range map[string]func(domain.Tx) error{
		"PutItem":    func(tx domain.Tx) error { return tx.PutItem(domain.Item{Title: "x"}) },
		"PutHandoff": func(tx domain.Tx) error { return tx.PutHandoff(domain.Handoff{}) },
		"PutPerson":  func(tx domain.Tx) error { return tx.PutPerson(domain.Person{}) },
	} {
		if err := s.Update(ctx, fn); domain.ErrorCode(err) != domain.EINVALID {
			t.Errorf("%s without ID: %v, want EINVALID", name, err)
		}
	}
}

func testOverlongNames(t *testing.T, f Factory) {
	s := open(t, f)
	ctx := context.Background()
	long := domain.UserID(strings.Repeat("U", MaxIndexedLen+1))
	for name, fn := range map[string]func(domain.Tx) error{
		"assignee":  func(tx domain.Tx) error { it := FullItem(1); it.Assignee = long; return tx.PutItem(it) },
		"requester": func(tx domain.Tx) error { it := FullItem(1); it.Requester = long; return tx.PutItem(it) },
		"stage":     func(tx domain.Tx) error { it := FullItem(1); it.Stage = domain.StageID(long); return tx.PutItem(it) },
		"person":    func(tx domain.Tx) error { return tx.PutPerson(domain.Person{ID: long}) },
	} {
		if err := s.Update(ctx, fn); domain.ErrorCode(err) != domain.EINVALID {
			t.Errorf("a %d-byte %s = %v, want EINVALID", len(long), name, err)
		}
	}
	// The longest accepted name round-trips.
	edge := domain.UserID(strings.Repeat("U", MaxIndexedLen))
	mustUpdate(t, s, func(tx domain.Tx) error { it := FullItem(1); it.Assignee = edge; return tx.PutItem(it) })
	mustView(t, s, func(tx domain.ReadTx) error {
		got := collectItems(t, func(fn func(domain.Item) bool) error { return tx.OpenItemsByAssignee(edge, fn) })
		if len(got) != 1 {
			t.Errorf("OpenItemsByAssignee(1024-byte name) = %d items", len(got))
		}
		return nil
	})
}

func testUpdateRollsBack(t *testing.T, f Factory) {
	s := open(t, f)
	conflict := domain.Errorf(domain.ECONFLICT, "already decided")
	var failedID domain.ItemID
	err := s.Update(context.Background(), func(tx domain.Tx) error {
		id, err := CreateItem(tx, FullItem(0))
		if err != nil {
			return err
		}
		failedID = id
		if err := tx.PutPerson(domain.Person{ID: "UROLL"}); err != nil {
			return err
		}
		if err := tx.Enqueue(domain.Effect{Kind: "post", Key: "item:1"}); err != nil {
			return err
		}
		return conflict
	})
	if err != conflict {
		t.Fatalf("Update error = %v, want the fn's error itself", err)
	}
	mustView(t, s, func(tx domain.ReadTx) error {
		if _, err := tx.Item(failedID); domain.ErrorCode(err) != domain.ENOTFOUND {
			t.Errorf("item written by a failed Update is visible: %v", err)
		}
		if _, ok, _ := tx.Person("UROLL"); ok {
			t.Error("person written by a failed Update is visible")
		}
		var n int
		_ = tx.EventsBetween(time.Time{}, BaseTime.Add(time.Hour), func(domain.Event) bool { n++; return true })
		if n != 0 {
			t.Errorf("%d events of a failed Update are visible", n)
		}
		return nil
	})
	if n, _, _ := s.OutboxStats(context.Background()); n != 0 {
		t.Errorf("an effect of a failed Update is pending")
	}
	// IDs never repeat (a store may skip the number the failed Update took).
	mustUpdate(t, s, func(tx domain.Tx) error {
		id, err := CreateItem(tx, FullItem(0))
		if id == 0 || id < failedID {
			t.Errorf("first committed item ID = %d after a failed Update took %d", id, failedID)
		}
		return err
	})
}

func testUpdateRecoversPanics(t *testing.T, f Factory) {
	s := open(t, f)
	err := s.Update(context.Background(), func(tx domain.Tx) error {
		var it *domain.Item
		_ = it.Title // a nil dereference in a handler must not take the bot down
		return nil
	})
	if err == nil || !strings.Contains(err.Error(), "panic") {
		t.Errorf("Update with a panicking fn = %v, want an error mentioning the panic", err)
	}
	err = s.View(context.Background(), func(domain.ReadTx) error { panic("boom") })
	if err == nil || !strings.Contains(err.Error(), "panic") {
		t.Errorf("View with a panicking fn = %v, want an error mentioning the panic", err)
	}
	// The store still works.
	mustUpdate(t, s, func(tx domain.Tx) error { _, err := CreateItem(tx, FullItem(0)); return err })
}

func testCancelledContext(t *testing.T, f Factory) {
	s := open(t, f)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	ran := false
	if err := s.Update(ctx, func(domain.Tx) error { ran = true; return nil }); !errors.Is(err, context.Canceled) || ran {
		t.Errorf("Update(cancelled) = %v, ran=%v; want context.Canceled without running", err, ran)
	}
	if err := s.View(ctx, func(domain.ReadTx) error { ran = true; return nil }); !errors.Is(err, context.Canceled) || ran {
		t.Errorf("View(cancelled) = %v, ran=%v; want context.Canceled without running", err, ran)
	}
	if err := s.UpdateState(ctx, func(domain.StateTx) error { ran = true; return nil }); !errors.Is(err, context.Canceled) || ran {
		t.Errorf("UpdateState(cancelled) = %v, ran=%v", err, ran)
	}
	if _, err := s.ClaimEffects(ctx, "a", 1, time.Minute); !errors.Is(err, context.Canceled) {
		t.Errorf("ClaimEffects(cancelled) = %v", err)
	}
}

func testReadYourWrites(t *testing.T, f Factory) {
	s := open(t, f)
	mustUpdate(t, s, func(tx domain.Tx) error {
		id, err := CreateItem(tx, FullItem(0))
		if err != nil {
			return err
		}
		it, err := tx.Item(id)
		if err != nil || it.Title != "title-0" {
			t.Errorf("Item(%d) in its own transaction = %+v, %v", id, it, err)
		}
		it.Assignee = "UNEW"
		if err := tx.PutItem(it); err != nil {
			return err
		}
		got := collectItems(t, func(fn func(domain.Item) bool) error { return tx.OpenItemsByAssignee("UNEW", fn) })
		if len(got) != 1 {
			t.Errorf("OpenItemsByAssignee in the writing transaction = %v", itemIDs(got))
		}
		if err := tx.PutPerson(domain.Person{ID: "UNEW", Capacity: 3}); err != nil {
			return err
		}
		if p, ok, err := tx.Person("UNEW"); !ok || err != nil || p.Capacity != 3 {
			t.Errorf("Person in the writing transaction = %+v, %v, %v", p, ok, err)
		}
		return nil
	})
}

func testIndexesFollowItemChanges(t *testing.T, f Factory) {
	s := open(t, f)
	mustUpdate(t, s, func(tx domain.Tx) error {
		for i := 0; i < 3; i++ {
			it := FullItem(0)
			it.Assignee, it.Stage = "UA", "todo"
			if _, err := CreateItem(tx, it); err != nil {
				return err
			}
		}
		return nil
	})
	// Reassign 2, move 3, close 1, change 3's requester.
	mustUpdate(t, s, func(tx domain.Tx) error {
		it, _ := tx.Item(2)
		it.Assignee = "UB"
		if err := tx.PutItem(it); err != nil {
			return err
		}
		it, _ = tx.Item(3)
		it.Stage = "review"
		it.Requester = "UOTHER"
		if err := tx.PutItem(it); err != nil {
			return err
		}
		it, _ = tx.Item(1)
		it.Resolution, it.Stage, it.DoneAt = domain.ResolutionDone, "done", BaseTime
		return tx.PutItem(it)
	})
	mustView(t, s, func(tx domain.ReadTx) error {
		check := func(name string, got []domain.Item, want ...domain.ItemID) {
			if ids := itemIDs(got); !slices.Equal(ids, want) {
				t.Errorf("%s = %v, want %v", name, ids, want)
			}
		}
		check("OpenItems", collectItems(t, tx.OpenItems), 2, 3)
		check("ByAssignee(UA)", collectItems(t, func(f func(domain.Item) bool) error { return tx.OpenItemsByAssignee("UA", f) }), 3)
		check("ByAssignee(UB)", collectItems(t, func(f func(domain.Item) bool) error { return tx.OpenItemsByAssignee("UB", f) }), 2)
		check("InStage(todo)", collectItems(t, func(f func(domain.Item) bool) error { return tx.OpenItemsInStage("todo", f) }), 2)
		check("InStage(review)", collectItems(t, func(f func(domain.Item) bool) error { return tx.OpenItemsInStage("review", f) }), 3)
		check("InStage(done)", collectItems(t, func(f func(domain.Item) bool) error { return tx.OpenItemsInStage("done", f) }))
		check("ByRequester(UREQ)", collectItems(t, func(f func(domain.Item) bool) error { return tx.ItemsByRequester("UREQ", f) }), 2, 1)
		check("ByRequester(UOTHER)", collectItems(t, func(f func(domain.Item) bool) error { return tx.ItemsByRequester("UOTHER", f) }), 3)
		return nil
	})
	// Reopening a closed item puts it back in the open indexes.
	mustUpdate(t, s, func(tx domain.Tx) error {
		it, _ := tx.Item(1)
		it.Resolution, it.Stage, it.DoneAt = domain.ResolutionNone, "todo", time.Time{}
		return tx.PutItem(it)
	})
	mustView(t, s, func(tx domain.ReadTx) error {
		if ids := itemIDs(collectItems(t, func(f func(domain.Item) bool) error { return tx.OpenItemsInStage("todo", f) })); !slices.Equal(ids, []domain.ItemID{1, 2}) {
			t.Errorf("InStage(todo) after reopening 1 = %v", ids)
		}
		return nil
	})
}

func testOpenVersusClosed(t *testing.T, f Factory) {
	s := open(t, f)
	resolutions := []domain.Resolution{domain.ResolutionNone, domain.ResolutionDone, domain.ResolutionRejected, domain.ResolutionDuplicate}
	mustUpdate(t, s, func(tx domain.Tx) error {
		for i := 0; i < 12; i++ {
			it := FullItem(0)
			it.Resolution = resolutions[i%4]
			it.Assignee = "UA"
			if _, err := CreateItem(tx, it); err != nil {
				return err
			}
		}
		return nil
	})
	mustView(t, s, func(tx domain.ReadTx) error {
		for name, iter := range map[string]func(func(domain.Item) bool) error{
			"OpenItems":           tx.OpenItems,
			"OpenItemsByAssignee": func(f func(domain.Item) bool) error { return tx.OpenItemsByAssignee("UA", f) },
			"OpenItemsInStage":    func(f func(domain.Item) bool) error { return tx.OpenItemsInStage("in_progress", f) },
		} {
			got := collectItems(t, iter)
			if ids := itemIDs(got); !slices.Equal(ids, []domain.ItemID{1, 5, 9}) {
				t.Errorf("%s = %v, want only the open items [1 5 9]", name, ids)
			}
		}
		if n := len(collectItems(t, func(f func(domain.Item) bool) error { return tx.ItemsByRequester("UREQ", f) })); n != 12 {
			t.Errorf("ItemsByRequester lists %d items, want all 12 (open and closed)", n)
		}
		return nil
	})
}

func testIteratorsStopEarly(t *testing.T, f Factory) {
	s := open(t, f)
	mustUpdate(t, s, func(tx domain.Tx) error {
		for i := 0; i < 3; i++ {
			id, err := CreateItem(tx, FullItem(0))
			if err != nil {
				return err
			}
			if err := tx.PutHandoff(domain.Handoff{ID: domain.HandoffID(id), ItemID: id, Status: domain.HandoffPending}); err != nil {
				return err
			}
			if err := tx.AppendEvent(domain.Event{At: BaseTime, ItemID: 1, Type: domain.EventMoved}); err != nil {
				return err
			}
			if err := tx.PutPerson(domain.Person{ID: domain.UserID("U" + string(rune('A'+i)))}); err != nil {
				return err
			}
		}
		return nil
	})
	mustState(t, s, func(tx domain.StateTx) error {
		for _, k := range []string{"a1", "a2", "a3"} {
			if err := tx.Put("b", k, []byte("v")); err != nil {
				return err
			}
		}
		return nil
	})
	mustView(t, s, func(tx domain.ReadTx) error {
		for name, iter := range map[string]func(stop func() bool) error{
			"OpenItems": func(s func() bool) error { return tx.OpenItems(func(domain.Item) bool { return s() }) },
			"OpenItemsByAssignee": func(s func() bool) error {
				return tx.OpenItemsByAssignee("UASSIGNEE", func(domain.Item) bool { return s() })
			},
			"OpenItemsInStage": func(s func() bool) error {
				return tx.OpenItemsInStage("in_progress", func(domain.Item) bool { return s() })
			},
			"ItemsByRequester": func(s func() bool) error { return tx.ItemsByRequester("UREQ", func(domain.Item) bool { return s() }) },
			"PendingHandoffs":  func(s func() bool) error { return tx.PendingHandoffs(func(domain.Handoff) bool { return s() }) },
			"People":           func(s func() bool) error { return tx.People(func(domain.Person) bool { return s() }) },
			"EventsBetween": func(s func() bool) error {
				return tx.EventsBetween(BaseTime, BaseTime.Add(time.Hour), func(domain.Event) bool { return s() })
			},
			"ItemEvents": func(s func() bool) error { return tx.ItemEvents(1, func(domain.Event) bool { return s() }) },
		} {
			calls := 0
			if err := iter(func() bool { calls++; return false }); err != nil {
				t.Errorf("%s: %v", name, err)
			}
			if calls != 1 {
				t.Errorf("%s called fn %d times after it returned false, want 1", name, calls)
			}
		}
		return nil
	})
	if err := s.ViewState(context.Background(), func(tx domain.StateReader) error {
		calls := 0
		err := tx.Scan("b", "a", func(string, []byte) bool { calls++; return false })
		if err != nil || calls != 1 {
			t.Errorf("Scan called fn %d times after false (%v)", calls, err)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// testLongIterations crosses any paging a store does: every iterator sees every record once, in order.
func testLongIterations(t *testing.T, f Factory) {
	s := open(t, f)
	const n = 700
	mustUpdate(t, s, func(tx domain.Tx) error {
		for i := 1; i <= n; i++ {
			it := FullItem(domain.ItemID(i))
			if i%7 == 0 {
				it.Resolution = domain.ResolutionDone
			}
			if err := tx.PutItem(it); err != nil {
				return err
			}
			if err := tx.PutHandoff(domain.Handoff{ID: domain.HandoffID(i), ItemID: 1, Status: domain.HandoffPending}); err != nil {
				return err
			}
			if err := tx.PutPerson(domain.Person{ID: domain.UserID(fmt.Sprintf("U%04d", i))}); err != nil {
				return err
			}
			// Many events share one time, so ties are broken by Seq across pages.
			if err := tx.AppendEvent(domain.Event{At: BaseTime.Add(time.Duration(i/100) * time.Minute), ItemID: 1, Type: domain.EventMoved, Note: fmt.Sprint(i)}); err != nil {
				return err
			}
		}
		return nil
	})
	mustState(t, s, func(tx domain.StateTx) error {
		for i := 1; i <= n; i++ {
			if err := tx.Put("long", fmt.Sprintf("k%04d", i), []byte{byte(i)}); err != nil {
				return err
			}
		}
		return tx.Put("long", "l0001", []byte("other prefix"))
	})
	mustView(t, s, func(tx domain.ReadTx) error {
		open := itemIDs(collectItems(t, tx.OpenItems))
		if len(open) != n-n/7 || !slices.IsSorted(open) {
			t.Errorf("OpenItems: %d items (sorted %v), want %d", len(open), slices.IsSorted(open), n-n/7)
		}
		byReq := itemIDs(collectItems(t, func(f func(domain.Item) bool) error { return tx.ItemsByRequester("UREQ", f) }))
		if len(byReq) != n || byReq[0] != n || byReq[n-1] != 1 || !slices.IsSortedFunc(byReq, func(a, b domain.ItemID) int { return int(b) - int(a) }) {
			t.Errorf("ItemsByRequester: %d items, not newest first", len(byReq))
		}
		var hs, ps, evs int
		var lastSeq uint64
		_ = tx.PendingHandoffs(func(domain.Handoff) bool { hs++; return true })
		_ = tx.People(func(domain.Person) bool { ps++; return true })
		_ = tx.EventsBetween(BaseTime, BaseTime.Add(time.Hour), func(e domain.Event) bool {
			if e.Seq <= lastSeq {
				t.Errorf("EventsBetween: Seq %d after %d within the same times", e.Seq, lastSeq)
			}
			lastSeq = e.Seq
			evs++
			return true
		})
		var itemEvs int
		_ = tx.ItemEvents(1, func(domain.Event) bool { itemEvs++; return true })
		if hs != n || ps != n || evs != n || itemEvs != n {
			t.Errorf("pending handoffs %d, people %d, events %d, item events %d; want %d each", hs, ps, evs, itemEvs, n)
		}
		return nil
	})
	if err := s.ViewState(context.Background(), func(tx domain.StateReader) error {
		var keys []string
		if err := tx.Scan("long", "k", func(k string, _ []byte) bool { keys = append(keys, k); return true }); err != nil {
			return err
		}
		if len(keys) != n || !slices.IsSorted(keys) {
			t.Errorf("Scan(long, k) = %d keys, want %d in order", len(keys), n)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

func testOrdering(t *testing.T, f Factory) {
	s := open(t, f)
	users := []domain.UserID{"U2", "U12", "U1", "u1", "U10"}
	mustUpdate(t, s, func(tx domain.Tx) error {
		for _, u := range users {
			if err := tx.PutPerson(domain.Person{ID: u}); err != nil {
				return err
			}
			it := FullItem(0)
			it.Requester = u
			if _, err := CreateItem(tx, it); err != nil {
				return err
			}
		}
		return nil
	})
	mustView(t, s, func(tx domain.ReadTx) error {
		var got []domain.UserID
		_ = tx.People(func(p domain.Person) bool { got = append(got, p.ID); return true })
		// Byte order, as bbolt keys sort: upper case before lower case, "U1" < "U10" < "U12" < "U2".
		if want := []domain.UserID{"U1", "U10", "U12", "U2", "u1"}; !slices.Equal(got, want) {
			t.Errorf("People order = %v, want %v", got, want)
		}
		// A requester's group never includes another whose name it prefixes.
		if ids := itemIDs(collectItems(t, func(f func(domain.Item) bool) error { return tx.ItemsByRequester("U1", f) })); !slices.Equal(ids, []domain.ItemID{3}) {
			t.Errorf("ItemsByRequester(U1) = %v, want [3]", ids)
		}
		return nil
	})
}

func testEventsBetweenBounds(t *testing.T, f Factory) {
	s := open(t, f)
	mustUpdate(t, s, func(tx domain.Tx) error {
		// Appended out of time order on purpose: the index, not Seq, orders by time.
		for _, h := range []int{5, 1, 3, 0, 4, 2, 1} {
			if err := tx.AppendEvent(domain.Event{At: BaseTime.Add(time.Duration(h) * time.Hour), Type: domain.EventMoved, ItemID: 1}); err != nil {
				return err
			}
		}
		return nil
	})
	mustView(t, s, func(tx domain.ReadTx) error {
		var hours []int
		var seqs []uint64
		err := tx.EventsBetween(BaseTime.Add(time.Hour), BaseTime.Add(4*time.Hour), func(e domain.Event) bool {
			hours = append(hours, int(e.At.Sub(BaseTime)/time.Hour))
			seqs = append(seqs, e.Seq)
			return true
		})
		if err != nil {
			return err
		}
		if !slices.Equal(hours, []int{1, 1, 2, 3}) {
			t.Errorf("EventsBetween [1h,4h) hours = %v, want [1 1 2 3]", hours)
		}
		if seqs[0] >= seqs[1] {
			t.Errorf("events at the same time are not in Seq order: %v", seqs)
		}
		var n int
		_ = tx.EventsBetween(BaseTime.Add(4*time.Hour), BaseTime.Add(time.Hour), func(domain.Event) bool { n++; return true })
		if n != 0 {
			t.Errorf("EventsBetween with from after to visited %d", n)
		}
		var all []uint64
		_ = tx.ItemEvents(1, func(e domain.Event) bool { all = append(all, e.Seq); return true })
		if len(all) != 7 || !slices.IsSorted(all) {
			t.Errorf("ItemEvents seqs = %v, want 7 in Seq order", all)
		}
		return nil
	})
}

// The zero time sorts before every other time, and is in range only from the zero time.
func testZeroTimeEvents(t *testing.T, f Factory) {
	s := open(t, f)
	mustUpdate(t, s, func(tx domain.Tx) error {
		if err := tx.AppendEvent(domain.Event{At: BaseTime, Type: domain.EventMoved}); err != nil {
			return err
		}
		return tx.AppendEvent(domain.Event{Type: domain.EventCreated})
	})
	mustView(t, s, func(tx domain.ReadTx) error {
		var got []domain.EventType
		_ = tx.EventsBetween(time.Time{}, BaseTime.Add(time.Hour), func(e domain.Event) bool { got = append(got, e.Type); return true })
		if !slices.Equal(got, []domain.EventType{domain.EventCreated, domain.EventMoved}) {
			t.Errorf("EventsBetween(zero, …) = %v, want the zero-time event first", got)
		}
		got = nil
		_ = tx.EventsBetween(BaseTime.Add(-time.Hour), BaseTime.Add(time.Hour), func(e domain.Event) bool { got = append(got, e.Type); return true })
		if !slices.Equal(got, []domain.EventType{domain.EventMoved}) {
			t.Errorf("EventsBetween(t, …) = %v, want only the timed event", got)
		}
		return nil
	})
}

func testPutBeyondSequence(t *testing.T, f Factory) {
	s := open(t, f)
	mustUpdate(t, s, func(tx domain.Tx) error {
		it := FullItem(100) // an import that keeps its old numbers
		if err := tx.PutItem(it); err != nil {
			return err
		}
		return tx.PutHandoff(domain.Handoff{ID: 50, ItemID: 100, Status: domain.HandoffAccepted})
	})
	mustUpdate(t, s, func(tx domain.Tx) error {
		id, err := tx.NextItemID()
		if err != nil || id != 101 {
			t.Errorf("NextItemID after importing 100 = %d, %v; want 101", id, err)
		}
		hid, err := tx.NextHandoffID()
		if err != nil || hid != 51 {
			t.Errorf("NextHandoffID after importing 50 = %d, %v; want 51", hid, err)
		}
		// Storing an older ID does not move the sequence back.
		if err := tx.PutItem(FullItem(5)); err != nil {
			return err
		}
		id, _ = tx.NextItemID()
		if id != 102 {
			t.Errorf("NextItemID after storing 5 = %d, want 102", id)
		}
		return nil
	})
}

func testReopen(t *testing.T, f Factory) {
	s := f.New(t)
	mustUpdate(t, s, func(tx domain.Tx) error {
		if _, err := CreateItem(tx, FullItem(0)); err != nil {
			return err
		}
		hid, err := tx.NextHandoffID()
		if err != nil {
			return err
		}
		if err := tx.PutHandoff(domain.Handoff{ID: hid, ItemID: 1, Status: domain.HandoffPending}); err != nil {
			return err
		}
		if err := tx.PutPerson(domain.Person{ID: "UA", Capacity: 8, CapacitySet: true}); err != nil {
			return err
		}
		return tx.Enqueue(domain.Effect{Kind: "post", Key: "item:1", At: BaseTime})
	})
	mustState(t, s, func(tx domain.StateTx) error { return tx.Put("slots", "weekly", []byte("2026-W45")) })
	check(t, s)
	s = f.Reopen(t, s)
	t.Cleanup(func() { check(t, s) })
	mustView(t, s, func(tx domain.ReadTx) error {
		if it, err := tx.Item(1); err != nil || it.Title != "title-0" {
			t.Errorf("item after reopen: %+v, %v", it, err)
		}
		if h, err := tx.Handoff(1); err != nil || h.Status != domain.HandoffPending {
			t.Errorf("handoff after reopen: %+v, %v", h, err)
		}
		if p, ok, err := tx.Person("UA"); err != nil || !ok || p.Capacity != 8 {
			t.Errorf("person after reopen: %+v, %v, %v", p, ok, err)
		}
		return nil
	})
	if err := s.ViewState(context.Background(), func(tx domain.StateReader) error {
		if v, _ := tx.Get("slots", "weekly"); string(v) != "2026-W45" {
			t.Errorf("state after reopen = %q", v)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if n, _, _ := s.OutboxStats(context.Background()); n != 1 {
		t.Errorf("pending effects after reopen = %d, want 1", n)
	}
	mustUpdate(t, s, func(tx domain.Tx) error {
		id, err := CreateItem(tx, FullItem(0))
		if id != 2 {
			t.Errorf("item ID after reopen = %d, want 2", id)
		}
		hid, _ := tx.NextHandoffID()
		if hid != 2 {
			t.Errorf("handoff ID after reopen = %d, want 2", hid)
		}
		return err
	})
	var seqs []uint64
	for _, e := range exportEvents(t, s) {
		seqs = append(seqs, e.Seq)
	}
	if !slices.Equal(seqs, []uint64{1, 2}) {
		t.Errorf("event seqs after reopen = %v, want [1 2]", seqs)
	}
	mustUpdate(t, s, func(tx domain.Tx) error { return tx.Enqueue(domain.Effect{Kind: "post", At: BaseTime}) })
	es, err := s.ClaimEffects(context.Background(), "a", 10, time.Minute)
	if err != nil || len(es) != 2 || es[0].ID != 1 || es[1].ID != 2 {
		t.Errorf("outbox IDs after reopen = %+v, %v; want 1 then 2", es, err)
	}
}

func testConcurrentCreates(t *testing.T, f Factory) {
	s := open(t, f)
	const writers, perWriter = 16, 15
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < perWriter; i++ {
				err := s.Update(context.Background(), func(tx domain.Tx) error {
					_, err := CreateItem(tx, FullItem(0))
					return err
				})
				if err != nil {
					errs <- err
					return
				}
				_ = s.View(context.Background(), func(tx domain.ReadTx) error {
					return tx.OpenItems(func(domain.Item) bool { return true })
				})
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	items := exportItems(t, s)
	seen := map[domain.ItemID]bool{}
	for _, it := range items {
		if seen[it.ID] {
			t.Errorf("item ID %d handed out twice", it.ID)
		}
		seen[it.ID] = true
	}
	if len(items) != writers*perWriter {
		t.Errorf("got %d items, want %d", len(items), writers*perWriter)
	}
	if evs := exportEvents(t, s); len(evs) != writers*perWriter {
		t.Errorf("got %d events, want %d", len(evs), writers*perWriter)
	}
}

// One failing transaction among concurrent ones rolls back alone, even when a store groups
// transactions and runs the others again.
func testConcurrentFailures(t *testing.T, f Factory) {
	s := open(t, f)
	const writers = 48
	var wg sync.WaitGroup
	results := make([]error, writers)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[w] = s.Update(context.Background(), func(tx domain.Tx) error {
				it := FullItem(0)
				it.Title = fmt.Sprintf("writer %d", w)
				if _, err := CreateItem(tx, it); err != nil {
					return err
				}
				if err := tx.Enqueue(domain.Effect{Kind: "post", Key: fmt.Sprintf("writer:%d", w)}); err != nil {
					return err
				}
				if w%3 == 0 {
					return domain.Errorf(domain.ECONFLICT, "writer %d refuses", w)
				}
				return nil
			})
		}()
	}
	wg.Wait()
	titles := map[string]bool{}
	for _, it := range exportItems(t, s) {
		titles[it.Title] = true
	}
	for w, err := range results {
		wantFail := w%3 == 0
		if wantFail != (domain.ErrorCode(err) == domain.ECONFLICT) || (!wantFail && err != nil) {
			t.Errorf("writer %d: Update = %v", w, err)
		}
		if stored := titles[fmt.Sprintf("writer %d", w)]; stored == wantFail {
			t.Errorf("writer %d (failed=%v): item stored=%v", w, wantFail, stored)
		}
	}
	if len(titles) != writers-writers/3 {
		t.Errorf("%d items stored, want %d", len(titles), writers-writers/3)
	}
	if n, _, _ := s.OutboxStats(context.Background()); n != writers-writers/3 {
		t.Errorf("%d effects pending, want %d", n, writers-writers/3)
	}
}

// testHotItem: many goroutines change one item at once, as the domain does (read, change, write,
// audit). The store must serialise them: the version grows by exactly the number of successful
// operations, and every one left its event.
func testHotItem(t *testing.T, f Factory) {
	s := open(t, f)
	mustUpdate(t, s, func(tx domain.Tx) error {
		it := FullItem(1)
		it.Version = 1
		return tx.PutItem(it)
	})
	const workers = 50
	var wg sync.WaitGroup
	errs := make([]error, workers)
	runs := make([]int, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[w] = s.Update(context.Background(), func(tx domain.Tx) error {
				runs[w]++
				it, err := tx.Item(1)
				if err != nil {
					return err
				}
				before := it.Version
				it.Version++
				it.Title = fmt.Sprintf("by %d", w)
				if err := tx.PutItem(it); err != nil {
					return err
				}
				return tx.AppendEvent(domain.Event{At: BaseTime, Type: domain.EventEdited, ItemID: 1, Note: fmt.Sprint(w),
					Changes: []domain.Change{{Field: "version", Before: fmt.Sprint(before), After: fmt.Sprint(it.Version)}}})
			})
		}()
	}
	wg.Wait()
	ok := 0
	for w, err := range errs {
		if err != nil {
			t.Errorf("worker %d: %v", w, err)
			continue
		}
		ok++
	}
	var evs []domain.Event
	mustView(t, s, func(tx domain.ReadTx) error {
		it, err := tx.Item(1)
		if err != nil {
			return err
		}
		if it.Version != uint64(1+ok) {
			t.Errorf("version = %d after %d successful operations, want %d", it.Version, ok, 1+ok)
		}
		return tx.ItemEvents(1, func(e domain.Event) bool { evs = append(evs, e); return true })
	})
	if len(evs) != ok {
		t.Fatalf("%d events for %d operations", len(evs), ok)
	}
	// In Seq order, each event starts where the previous one ended: no two operations saw the same version.
	for i, e := range evs {
		if want := fmt.Sprint(2 + i); e.Changes[0].After != want {
			t.Errorf("event %d (Seq %d) moved the version to %s, want %s", i, e.Seq, e.Changes[0].After, want)
			break
		}
	}
}

// testHotPerson: read-modify-write of a person who does not exist yet, from many goroutines.
func testHotPerson(t *testing.T, f Factory) {
	s := open(t, f)
	const workers = 20
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := s.Update(context.Background(), func(tx domain.Tx) error {
				p, _, err := tx.Person("UHOT")
				if err != nil {
					return err
				}
				p.ID = "UHOT"
				p.Capacity++
				return tx.PutPerson(p)
			})
			if err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	mustView(t, s, func(tx domain.ReadTx) error {
		p, _, err := tx.Person("UHOT")
		if p.Capacity != workers {
			t.Errorf("capacity = %d after %d increments", p.Capacity, workers)
		}
		return err
	})
}
