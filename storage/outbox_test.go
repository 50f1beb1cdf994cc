package storage

import (
	"context"
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"

	"workbot/domain"
)

func enqueue(t *testing.T, db *DB, effects ...domain.Effect) {
	t.Helper()
	mustUpdate(t, db, func(tx domain.Tx) error { return tx.Enqueue(effects...) })
}

func finish(t *testing.T, db *DB, id uint64) {
	t.Helper()
	err := db.UpdateState(context.Background(), func(tx domain.StateTx) error {
		return tx.FinishEffect(id, domain.OutboxDelivered, domain.OutboxResult{Channel: "C1", TS: "1.2"})
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestCheckFindsOutboxDamage(t *testing.T) {
	db := openTestDB(t)
	enqueue(t, db, domain.Effect{Kind: "post", Key: "a"}, domain.Effect{Kind: "post", Key: "b"})
	finish(t, db, 2)
	var pendingOne, doneTwo []byte
	if err := db.bolt.Update(func(tx *bolt.Tx) error {
		pending, done := tx.Bucket(bucketOutboxPending), tx.Bucket(bucketOutbox)
		pendingOne, doneTwo = append([]byte(nil), pending.Get(seqKey(1))...), append([]byte(nil), done.Get(seqKey(2))...)
		// Entry 1 is now in both buckets, and a finished record sits among the unfinished.
		if err := done.Put(seqKey(1), doneTwo); err != nil {
			return err
		}
		return pending.Put(seqKey(2), doneTwo)
	}); err != nil {
		t.Fatal(err)
	}
	err := db.CheckConsistency()
	ce, ok := err.(*CheckError)
	if !ok || len(ce.Problems) != 3 {
		t.Errorf("CheckConsistency = %v, want three outbox problems", err)
	}
	// Put it back so the cleanup check passes.
	if err := db.bolt.Update(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketOutbox).Delete(seqKey(1)); err != nil {
			return err
		}
		if err := tx.Bucket(bucketOutboxPending).Put(seqKey(1), pendingOne); err != nil {
			return err
		}
		return tx.Bucket(bucketOutboxPending).Delete(seqKey(2))
	}); err != nil {
		t.Fatal(err)
	}
}

func TestMigration3AddsTheOutbox(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v2.db")
	bdb, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := migrateTo(bdb, 2); err != nil {
		t.Fatal(err)
	}
	bdb.Close()
	db := openAt(t, path)
	enqueue(t, db, domain.Effect{Kind: "post"})
	if n, _, _ := db.OutboxStats(context.Background()); n != 1 {
		t.Errorf("outbox after migrating to 3 holds %d", n)
	}
}

func TestItemBySourceIsIndexedAndChecked(t *testing.T) {
	db := openTestDB(t)
	src := domain.Source{Conversation: "C1", Message: "17.1", Thread: "17.0"}
	mustUpdate(t, db, func(tx domain.Tx) error {
		return tx.PutItem(domain.Item{ID: 1, Key: "W-1", Title: "x", Stage: "intake", Requester: "U1", Source: src, Followers: []domain.UserID{"U2", "U3"}})
	})
	mustView(t, db, func(tx domain.ReadTx) error {
		id, ok, err := tx.ItemBySource(src.Key())
		if err != nil || !ok || id != 1 {
			t.Errorf("ItemBySource = %d, %v, %v", id, ok, err)
		}
		if _, ok, _ := tx.ItemBySource("C1/other"); ok {
			t.Error("found an item for a message nobody filed")
		}
		it, err := tx.Item(1)
		if err != nil || it.Source != src || len(it.Followers) != 2 || it.Followers[1] != "U3" {
			t.Errorf("item = %+v, %v", it, err)
		}
		return nil
	})
	err := db.Update(context.Background(), func(tx domain.Tx) error {
		return tx.PutItem(domain.Item{ID: 2, Key: "W-2", Title: "y", Stage: "intake", Requester: "U1", Source: src})
	})
	if domain.ErrorCode(err) != domain.ECONFLICT {
		t.Errorf("a second item for the same message = %v, want ECONFLICT", err)
	}
	if err := db.CheckConsistency(); err != nil {
		t.Error(err)
	}
}
