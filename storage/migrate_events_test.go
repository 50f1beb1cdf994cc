package storage

import (
	"context"
	"encoding/binary"
	"fmt"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"workbot/domain"
)

// toOldEventLayout rewrites the audit log as versions 1–5 kept it (migrate_events.go), so a test can
// start from a file of that time.
func toOldEventLayout(tx *bolt.Tx) error {
	log := tx.Bucket(bucketEventLog)
	evs, err := tx.CreateBucket(bucketEvents)
	if err != nil {
		return err
	}
	byTime, err := tx.CreateBucket(bucketEventsByTime)
	if err != nil {
		return err
	}
	byItem, err := tx.CreateBucket(bucketEventsByItem)
	if err != nil {
		return err
	}
	dict := &dictionary{btx: tx, cache: newDictCache()}
	err = log.ForEach(func(k, v []byte) error {
		e, err := eventFromLog(k, v, dict)
		if err != nil {
			return err
		}
		if err := evs.Put(seqKey(e.Seq), encodeEventV1(eventToRecord(e))); err != nil {
			return err
		}
		if err := byTime.Put(eventTimeKey(e.At, e.Seq), nil); err != nil {
			return err
		}
		if e.ItemID != 0 {
			k := binary.BigEndian.AppendUint64(seqKey(uint64(e.ItemID)), e.Seq)
			return byItem.Put(k, nil)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := evs.SetSequence(log.Sequence()); err != nil {
		return err
	}
	for _, name := range [][]byte{bucketEventLog, bucketEventByItem, bucketDict, bucketDictIDs} {
		if err := tx.DeleteBucket(name); err != nil {
			return err
		}
	}
	return nil
}

// eventsFixture writes items and events (some of them out of time order, some without an item, one
// item with more events than a chunk holds) and returns what the store says about them.
func eventsFixture(t *testing.T, db *DB) (all []domain.Event, perItem map[domain.ItemID][]domain.Event) {
	t.Helper()
	mustUpdate(t, db, func(tx domain.Tx) error {
		for i := 1; i <= 30; i++ {
			it := fullItem(domain.ItemID(i))
			if err := tx.PutItem(it); err != nil {
				return err
			}
			n := 3
			if i == 7 {
				n = 2*refsPerChunk + 5
			}
			for j := 0; j < n; j++ {
				at := baseTime.Add(time.Duration(i*7+j*13%5) * time.Minute)
				e := domain.Event{At: at, Actor: "U1", Type: domain.EventMoved, ItemID: it.ID, Note: fmt.Sprint(j),
					Changes: []domain.Change{{Field: "stage", Before: "todo", After: "review"}}}
				if err := tx.AppendEvent(e); err != nil {
					return err
				}
			}
			if err := tx.AppendEvent(domain.Event{At: baseTime, Type: domain.EventCapacitySet, Subject: "U2"}); err != nil {
				return err
			}
		}
		return nil
	})
	perItem = map[domain.ItemID][]domain.Event{}
	if err := db.ExportEvents(func(e domain.Event) error { all = append(all, e); return nil }); err != nil {
		t.Fatal(err)
	}
	mustView(t, db, func(tx domain.ReadTx) error {
		for i := 1; i <= 30; i++ {
			id := domain.ItemID(i)
			if err := tx.ItemEvents(id, func(e domain.Event) bool { perItem[id] = append(perItem[id], e); return true }); err != nil {
				return err
			}
		}
		return nil
	})
	return all, perItem
}

func TestMigration6MovesTheAuditLog(t *testing.T) {
	defer func(n int) { eventsPerStep = n }(eventsPerStep)
	eventsPerStep = 17 // many steps

	path := filepath.Join(t.TempDir(), "v5.db")
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	wantAll, wantItems := eventsFixture(t, db)
	if len(wantItems[7]) != 2*refsPerChunk+5 {
		t.Fatalf("item 7 has %d events", len(wantItems[7]))
	}
	db.Close()

	bdb, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := bdb.Update(func(tx *bolt.Tx) error {
		if err := toOldEventLayout(tx); err != nil {
			return err
		}
		return writeSchemaVersion(tx, 5)
	}); err != nil {
		t.Fatal(err)
	}
	// A crash after the first steps: the version and marker are written and part of the log moved.
	if err := migrateTo(bdb, 5); err != nil {
		t.Fatal(err)
	}
	m := migrations[5]
	if err := bdb.Update(func(tx *bolt.Tx) error {
		if err := m.apply(tx); err != nil {
			return err
		}
		if err := tx.Bucket(bucketMeta).Put(keyIncomplete, binary.BigEndian.AppendUint64(nil, 6)); err != nil {
			return err
		}
		return writeSchemaVersion(tx, 6)
	}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if err := bdb.Update(func(tx *bolt.Tx) error { _, err := m.resume(tx); return err }); err != nil {
			t.Fatal(err)
		}
	}
	bdb.Close()
	if err := Check(path); err == nil || !IsCheckError(err) {
		t.Errorf("Check of a half-migrated file = %v, want a problem", err)
	}
	if _, err := Open(path, Options{ReadOnly: true}); err == nil {
		t.Error("a read-only Open accepted a half-migrated file")
	}

	db = openAt(t, path) // finishes; CheckConsistency runs at cleanup
	var gotAll []domain.Event
	if err := db.ExportEvents(func(e domain.Event) error { gotAll = append(gotAll, e); return nil }); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(gotAll, wantAll) {
		t.Errorf("events after migration differ: %d events, want %d", len(gotAll), len(wantAll))
	}
	mustView(t, db, func(tx domain.ReadTx) error {
		for id, want := range wantItems {
			var got []domain.Event
			if err := tx.ItemEvents(id, func(e domain.Event) bool { got = append(got, e); return true }); err != nil {
				return err
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("ItemEvents(%d) after migration differ", id)
			}
		}
		return nil
	})
	err = db.bolt.View(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bucketEvents, bucketEventsByTime, bucketEventsByItem} {
			if tx.Bucket(name) != nil {
				t.Errorf("bucket %s is still there", name)
			}
		}
		if m, _ := readIncomplete(tx); m != 0 {
			t.Errorf("meta/incomplete = %d after Open", m)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// New events continue the old sequence.
	mustUpdate(t, db, func(tx domain.Tx) error {
		return tx.AppendEvent(domain.Event{At: baseTime, Type: domain.EventCreated, ItemID: 1})
	})
	var last domain.Event
	mustView(t, db, func(tx domain.ReadTx) error {
		return tx.ItemEvents(1, func(e domain.Event) bool { last = e; return true })
	})
	if want := wantAll[len(wantAll)-1].Seq; last.Seq <= uint64(len(wantAll)) || last.Seq <= want {
		t.Errorf("the first new event got Seq %d after %d events", last.Seq, len(wantAll))
	}
	_ = context.Background()
}
