package pgstore

import (
	"context"
	"fmt"
	"testing"
	"time"

	"workbot/domain"
	"workbot/storage/pgstore/pgtest"
)

// Every iterator lets its fn read through the same transaction, as bbolt does: the bot's App Home
// reads each pending handoff's item while visiting the handoffs. A transaction has one connection,
// which serves one statement at a time, so an iterator must not hold it while fn runs; when it did,
// the read inside failed with "conn busy" and every App Home with a pending handoff in the database
// failed to render.
func TestIteratorsAllowReadsInside(t *testing.T) {
	s := openURL(t, pgtest.URL(t))
	ctx := context.Background()
	at := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	const n = 3
	if err := s.Update(ctx, func(tx domain.Tx) error {
		for i := 1; i <= n; i++ {
			id := domain.ItemID(i)
			if err := tx.PutItem(domain.Item{ID: id, Version: 1, Key: fmt.Sprintf("W-%d", i), Title: "x", Stage: "todo",
				Assignee: "U1", Requester: "U2", CreatedAt: at}); err != nil {
				return err
			}
			if err := tx.PutHandoff(domain.Handoff{ID: domain.HandoffID(i), ItemID: id, Status: domain.HandoffPending, To: "U3"}); err != nil {
				return err
			}
			if err := tx.PutPerson(domain.Person{ID: domain.UserID(fmt.Sprintf("U%d", i))}); err != nil {
				return err
			}
			if err := tx.AppendEvent(domain.Event{At: at, Actor: "U2", Type: domain.EventCreated, ItemID: id}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.UpdateState(ctx, func(tx domain.StateTx) error {
		for i := 1; i <= n; i++ {
			if err := tx.Put("b", fmt.Sprint(i), []byte{1}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	// readInside reads an item, a handoff and a person from inside an iterator's fn.
	check := func(name string, tx domain.ReadTx, iterate func(visit func() bool) error) {
		t.Helper()
		visited := 0
		var inner error
		err := iterate(func() bool {
			visited++
			if _, err := tx.Item(1); err != nil {
				inner = err
			} else if _, err := tx.Handoff(1); err != nil {
				inner = err
			} else if _, _, err := tx.Person("U1"); err != nil {
				inner = err
			}
			return inner == nil
		})
		if err != nil || inner != nil || visited != n {
			t.Errorf("%s: visited %d of %d; iterator: %v; read inside: %v", name, visited, n, err, inner)
		}
	}
	iterators := func(tx domain.ReadTx) {
		check("OpenItems", tx, func(v func() bool) error { return tx.OpenItems(func(domain.Item) bool { return v() }) })
		check("OpenItemsByAssignee", tx, func(v func() bool) error {
			return tx.OpenItemsByAssignee("U1", func(domain.Item) bool { return v() })
		})
		check("OpenItemsInStage", tx, func(v func() bool) error {
			return tx.OpenItemsInStage("todo", func(domain.Item) bool { return v() })
		})
		check("ItemsByRequester", tx, func(v func() bool) error {
			return tx.ItemsByRequester("U2", func(domain.Item) bool { return v() })
		})
		check("PendingHandoffs", tx, func(v func() bool) error { return tx.PendingHandoffs(func(domain.Handoff) bool { return v() }) })
		check("People", tx, func(v func() bool) error { return tx.People(func(domain.Person) bool { return v() }) })
		check("EventsBetween", tx, func(v func() bool) error {
			return tx.EventsBetween(at, at.Add(time.Hour), func(domain.Event) bool { return v() })
		})
	}
	if err := s.View(ctx, func(tx domain.ReadTx) error { iterators(tx); return nil }); err != nil {
		t.Fatal(err)
	}
	if err := s.Update(ctx, func(tx domain.Tx) error { iterators(tx); return nil }); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= n; i++ {
		id := domain.ItemID(i)
		_ = s.View(ctx, func(tx domain.ReadTx) error {
			check(fmt.Sprintf("ItemEvents(%d)", i), tx, func(v func() bool) error {
				// One event per item: visit it n times over, so visited comes out as n.
				for range n {
					if err := tx.ItemEvents(id, func(domain.Event) bool { return v() }); err != nil {
						return err
					}
				}
				return nil
			})
			return nil
		})
	}
	if err := s.UpdateState(ctx, func(tx domain.StateTx) error {
		visited := 0
		var inner error
		err := tx.Scan("b", "", func(string, []byte) bool {
			visited++
			_, inner = tx.Get("b", "1")
			return inner == nil
		})
		if err != nil || inner != nil || visited != n {
			t.Errorf("Scan: visited %d of %d; iterator: %v; read inside: %v", visited, n, err, inner)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}
