package storage

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"workbot/domain"
)

func TestPutItemBeyondSequenceMovesTheSequence(t *testing.T) {
	db := openTestDB(t)
	mustUpdate(t, db, func(tx domain.Tx) error {
		it := fullItem(100) // an import that keeps its old numbers
		if err := tx.PutItem(it); err != nil {
			return err
		}
		if err := tx.PutHandoff(domain.Handoff{ID: 50, ItemID: 100, Status: domain.HandoffAccepted}); err != nil {
			return err
		}
		id, err := tx.NextItemID()
		if err != nil || id != 101 {
			t.Errorf("NextItemID after importing 100 = %d, %v; want 101", id, err)
		}
		hid, err := tx.NextHandoffID()
		if err != nil || hid != 51 {
			t.Errorf("NextHandoffID after importing 50 = %d, %v; want 51", hid, err)
		}
		return nil
	})
}

func TestOverlongNamesAreRejectedNotStored(t *testing.T) {
	db := openTestDB(t)
	long := domain.UserID(strings.Repeat("U", maxIndexedLen+1))
	err := db.Update(context.Background(), func(tx domain.Tx) error {
		it := fullItem(1)
		it.Assignee = long
		return tx.PutItem(it)
	})
	if domain.ErrorCode(err) != domain.EINVALID {
		t.Errorf("PutItem with a %d-byte assignee = %v, want EINVALID", len(long), err)
	}
	err = db.Update(context.Background(), func(tx domain.Tx) error { return tx.PutPerson(domain.Person{ID: long}) })
	if domain.ErrorCode(err) != domain.EINVALID {
		t.Errorf("PutPerson with a %d-byte ID = %v, want EINVALID", len(long), err)
	}
}

// Every iterator stops at the first false.
func TestIteratorsStopEarly(t *testing.T) {
	db := openTestDB(t)
	mustUpdate(t, db, func(tx domain.Tx) error {
		for i := 0; i < 3; i++ {
			id, err := createItem(tx, fullItem(0))
			if err != nil {
				return err
			}
			if err := tx.PutHandoff(domain.Handoff{ID: domain.HandoffID(id), ItemID: id, Status: domain.HandoffPending}); err != nil {
				return err
			}
			if err := tx.AppendEvent(domain.Event{At: baseTime, ItemID: 1, Type: domain.EventMoved}); err != nil {
				return err
			}
			if err := tx.PutPerson(domain.Person{ID: domain.UserID("U" + string(rune('A'+i)))}); err != nil {
				return err
			}
		}
		return nil
	})
	mustView(t, db, func(tx domain.ReadTx) error {
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
				return tx.EventsBetween(baseTime, baseTime.Add(time.Hour), func(domain.Event) bool { return s() })
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
}

func TestCheckOnFilesThatAreNotDatabases(t *testing.T) {
	dir := t.TempDir()
	if err := Check(filepath.Join(dir, "missing.db")); err == nil || !os.IsNotExist(unwrapAll(err)) {
		t.Errorf("Check(missing) = %v, want a not-exist error", err)
	}
	text := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(text, []byte(strings.Repeat("not a database\n", 2000)), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Check(text); err == nil || !strings.Contains(err.Error(), "not a workbot database") {
		t.Errorf("Check(text file) = %v, want 'not a workbot database'", err)
	}
}

func unwrapAll(err error) error {
	for {
		u, ok := err.(interface{ Unwrap() error })
		if !ok || u.Unwrap() == nil {
			return err
		}
		err = u.Unwrap()
	}
}
