package storage

import (
	"context"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"workbot/domain"
)

// TestOpenScanInReadOnlyTransactions covers the pipelined scan: every item in order across batch
// boundaries, an early stop, and a corrupt record reported as an error rather than a crash.
func TestOpenScanInReadOnlyTransactions(t *testing.T) {
	db := openTestDB(t)
	ctx := context.Background()
	const n = 3*openBatch + 17
	err := db.Update(ctx, func(tx domain.Tx) error {
		for i := 1; i <= n; i++ {
			it := fullItem(domain.ItemID(i))
			it.PendingHandoff, it.DependsOn = 0, nil
			if err := tx.PutItem(it); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var ids []domain.ItemID
	if err := db.View(ctx, func(tx domain.ReadTx) error {
		return tx.OpenItems(func(it domain.Item) bool { ids = append(ids, it.ID); return true })
	}); err != nil {
		t.Fatal(err)
	}
	if len(ids) != n {
		t.Fatalf("scanned %d items, want %d", len(ids), n)
	}
	for i, id := range ids {
		if id != domain.ItemID(i+1) {
			t.Fatalf("item %d has ID %d: out of order", i, id)
		}
	}

	seen := 0
	if err := db.View(ctx, func(tx domain.ReadTx) error {
		return tx.OpenItems(func(domain.Item) bool { seen++; return seen < openBatch+3 })
	}); err != nil || seen != openBatch+3 {
		t.Fatalf("early stop: saw %d, err %v", seen, err)
	}

	// Point reads while scanning, as the digest does.
	if err := db.View(ctx, func(tx domain.ReadTx) error {
		return tx.OpenItems(func(it domain.Item) bool {
			_, err := tx.Item(it.ID)
			return err == nil
		})
	}); err != nil {
		t.Fatal(err)
	}

	// A record that does not decode, past the first batch.
	if err := db.bolt.Update(func(btx *bolt.Tx) error {
		return btx.Bucket(bucketOpen).Put(seqKey(2*openBatch+1), []byte{0x7f, 0xff})
	}); err != nil {
		t.Fatal(err)
	}
	err = db.View(ctx, func(tx domain.ReadTx) error {
		return tx.OpenItems(func(domain.Item) bool { return true })
	})
	if err == nil || !strings.Contains(err.Error(), "idx_open") {
		t.Fatalf("corrupt record: err = %v", err)
	}
	// Put it back so the cleanup's consistency check passes.
	if err := db.bolt.Update(func(btx *bolt.Tx) error {
		return btx.Bucket(bucketOpen).Put(seqKey(2*openBatch+1), btx.Bucket(bucketItems).Get(seqKey(2*openBatch+1)))
	}); err != nil {
		t.Fatal(err)
	}
}
