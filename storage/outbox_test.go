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
	if err := db.bolt.Update(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketOutboxPending).Delete(seqKey(1)); err != nil {
			return err
		}
		return tx.Bucket(bucketOutboxPending).Put(seqKey(2), encodeLanes("b", ""))
	}); err != nil {
		t.Fatal(err)
	}
	err := db.CheckConsistency()
	ce, ok := err.(*CheckError)
	if !ok || len(ce.Problems) != 2 {
		t.Fatalf("CheckConsistency = %v, want two outbox problems", err)
	}
	// Put it back so the cleanup check passes.
	if err := db.bolt.Update(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketOutboxPending).Put(seqKey(1), encodeLanes("a", "")); err != nil {
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
