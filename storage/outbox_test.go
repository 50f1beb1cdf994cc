package storage

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"workbot/domain"
)

func enqueue(t *testing.T, db *DB, effects ...domain.Effect) {
	t.Helper()
	mustUpdate(t, db, func(tx domain.Tx) error { return tx.Enqueue(effects...) })
}

func claimIDs(t *testing.T, db *DB, owner string, max int) []uint64 {
	t.Helper()
	es, err := db.ClaimEffects(context.Background(), owner, max, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	var ids []uint64
	for _, e := range es {
		ids = append(ids, e.ID)
	}
	return ids
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

func TestOutboxLanesKeepOrder(t *testing.T) {
	db := openTestDB(t)
	at := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	enqueue(t, db,
		domain.Effect{Kind: "post", Key: "item:1", Channel: "CINTAKE", At: at, Payload: []byte("a")}, // 1
		domain.Effect{Kind: "thread", Key: "item:1", At: at},                                         // 2: after 1 (key)
		domain.Effect{Kind: "post", Key: "item:2", Channel: "CINTAKE", At: at},                       // 3: after 1 (channel)
		domain.Effect{Kind: "dm", Key: "item:3", Channel: "dm:U1", At: at},                           // 4: free
		domain.Effect{Kind: "home", Key: "home:U1", At: at},                                          // 5: free
	)
	if got := claimIDs(t, db, "a", 10); !slices.Equal(got, []uint64{1, 4, 5}) {
		t.Fatalf("first claim = %v, want [1 4 5]", got)
	}
	// Claimed entries are not handed out twice, and their lanes stay blocked.
	if got := claimIDs(t, db, "b", 10); len(got) != 0 {
		t.Fatalf("second claim = %v, want nothing", got)
	}
	finish(t, db, 1)
	if got := claimIDs(t, db, "b", 10); !slices.Equal(got, []uint64{2, 3}) {
		t.Fatalf("after finishing 1: %v, want [2 3]", got)
	}
	if got := claimIDs(t, db, "b", 1); len(got) != 0 {
		t.Fatalf("nothing else is ready: %v", got)
	}
	// A released claim is ready again at once; a release by someone else changes nothing.
	if err := db.ReleaseEffect(context.Background(), "nobody", 4); err != nil {
		t.Fatal(err)
	}
	if got := claimIDs(t, db, "c", 10); len(got) != 0 {
		t.Fatalf("a stranger's release freed %v", got)
	}
	if err := db.ReleaseEffect(context.Background(), "a", 4); err != nil {
		t.Fatal(err)
	}
	if got := claimIDs(t, db, "c", 10); !slices.Equal(got, []uint64{4}) {
		t.Fatalf("after release: %v, want [4]", got)
	}
	n, oldest, err := db.OutboxStats(context.Background())
	if err != nil || n != 4 || !oldest.Equal(at) {
		t.Errorf("stats = %d, %v, %v; want 4 pending since %v", n, oldest, err, at)
	}
}

func TestOutboxLeaseExpires(t *testing.T) {
	db := openTestDB(t)
	enqueue(t, db, domain.Effect{Kind: "dm", Key: "k"})
	es, err := db.ClaimEffects(context.Background(), "dead", 1, time.Millisecond)
	if err != nil || len(es) != 1 {
		t.Fatalf("claim: %v %v", es, err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if got := claimIDs(t, db, "alive", 1); slices.Equal(got, []uint64{1}) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("an expired claim was never handed out again")
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestOutboxEntryLifecycle(t *testing.T) {
	db := openTestDB(t)
	at := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	enqueue(t, db, domain.Effect{Kind: "post", Key: "item:7", Channel: "C1", At: at, Payload: []byte(`{"x":1}`)})
	ctx := context.Background()
	tried := at.Add(time.Second)
	if err := db.MarkAttempt(ctx, 1, tried); err != nil {
		t.Fatal(err)
	}
	var e domain.OutboxEntry
	if err := db.ViewState(ctx, func(tx domain.StateReader) error {
		var ok bool
		var err error
		e, ok, err = tx.Effect(1)
		if !ok {
			t.Error("entry 1 not found")
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if e.Kind != "post" || e.Key != "item:7" || e.Channel != "C1" || !e.At.Equal(at) || string(e.Payload) != `{"x":1}` ||
		e.State != domain.OutboxPending || !e.AttemptedAt.Equal(tried) || e.Attempts != 1 {
		t.Errorf("entry = %+v", e)
	}
	// Finishing and a state write commit together.
	err := db.UpdateState(ctx, func(tx domain.StateTx) error {
		if err := tx.Put("item_messages", "7", []byte("ref")); err != nil {
			return err
		}
		return tx.FinishEffect(1, domain.OutboxDelivered, domain.OutboxResult{Channel: "C1", TS: "100.1", At: tried})
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.ViewState(ctx, func(tx domain.StateReader) error {
		e, _, _ = tx.Effect(1)
		v, _ := tx.Get("item_messages", "7")
		if string(v) != "ref" {
			t.Errorf("state write lost: %q", v)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if e.State != domain.OutboxDelivered || e.Result.TS != "100.1" || e.Result.Channel != "C1" {
		t.Errorf("finished entry = %+v", e)
	}
	if n, _, _ := db.OutboxStats(ctx); n != 0 {
		t.Errorf("pending after finish = %d", n)
	}
	if err := db.CheckConsistency(); err != nil {
		t.Error(err)
	}
	// Pending entries are never pruned; finished ones older than the cut are.
	enqueue(t, db, domain.Effect{Kind: "post", At: at})
	n, err := db.PruneOutbox(ctx, at.Add(time.Hour), 100)
	if err != nil || n != 1 {
		t.Fatalf("prune = %d, %v; want 1", n, err)
	}
	if got := claimIDs(t, db, "a", 10); !slices.Equal(got, []uint64{2}) {
		t.Errorf("after prune the pending entry is %v, want [2]", got)
	}
	err = db.UpdateState(ctx, func(tx domain.StateTx) error {
		return tx.FinishEffect(1, domain.OutboxDelivered, domain.OutboxResult{})
	})
	if domain.ErrorCode(err) != domain.ENOTFOUND {
		t.Errorf("finishing a pruned entry = %v, want ENOTFOUND", err)
	}
}

func TestOutboxRollsBackWithTheChange(t *testing.T) {
	db := openTestDB(t)
	boom := domain.Errorf(domain.ECONFLICT, "no")
	err := db.Update(context.Background(), func(tx domain.Tx) error {
		if err := tx.Enqueue(domain.Effect{Kind: "post"}); err != nil {
			return err
		}
		return boom
	})
	if err != boom {
		t.Fatalf("Update = %v", err)
	}
	if n, _, _ := db.OutboxStats(context.Background()); n != 0 {
		t.Errorf("an effect of a failed transaction was kept: %d pending", n)
	}
	err = db.Update(context.Background(), func(tx domain.Tx) error { return tx.Enqueue(domain.Effect{}) })
	if domain.ErrorCode(err) != domain.EINVALID {
		t.Errorf("an effect without a kind = %v, want EINVALID", err)
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
