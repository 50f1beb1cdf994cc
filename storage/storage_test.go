package storage

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"workbot/domain"
)

func TestItemRoundTripKeepsEveryField(t *testing.T) {
	db := openTestDB(t)
	want := fullItem(1)
	mustUpdate(t, db, func(tx domain.Tx) error { return tx.PutItem(want) })
	mustView(t, db, func(tx domain.ReadTx) error {
		got, err := tx.Item(1)
		if err != nil {
			return err
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("Item(1) =\n%+v\nwant\n%+v", got, want)
		}
		return nil
	})
}

func TestHandoffPersonEventRoundTrip(t *testing.T) {
	db := openTestDB(t)
	h := domain.Handoff{
		ID: 1, ItemID: 5, From: "UA", To: "UB", ToTeam: "ops",
		Note:      domain.HandoffNote{Done: "d", Next: "n", Links: "l"},
		NextStage: "review", Status: domain.HandoffPending, RequestedBy: "UA", RequestedAt: baseTime,
		ApprovedBy: "ULEAD", ApprovedAt: baseTime.Add(time.Minute), DecidedBy: "UB",
		DecidedAt: baseTime.Add(time.Hour), Reason: "r", EscalatedAt: baseTime.Add(2 * time.Hour),
	}
	p := domain.Person{ID: "UB", Team: "ops", Capacity: 13, CapacitySet: true,
		AwayUntil: domain.Date{Year: 2026, Month: 12, Day: 24}, NudgesOff: true, PersonalDigestOff: true, UpdatedAt: baseTime}
	ev := domain.Event{At: baseTime, Actor: "UA", Type: domain.EventHandoffRequested, ItemID: 5, Subject: "UB", Handoff: 1,
		Changes: []domain.Change{{Field: "assignee", Before: "UA", After: "UB"}}, Note: "please"}
	mustUpdate(t, db, func(tx domain.Tx) error {
		if err := tx.PutHandoff(h); err != nil {
			return err
		}
		if err := tx.PutPerson(p); err != nil {
			return err
		}
		return tx.AppendEvent(ev)
	})
	ev.Seq = 1
	mustView(t, db, func(tx domain.ReadTx) error {
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
		if len(evs) != 1 || !reflect.DeepEqual(evs[0], ev) {
			t.Errorf("ItemEvents = %+v, want [%+v]", evs, ev)
		}
		return nil
	})
}

func TestMissingRecordsAreNotFound(t *testing.T) {
	db := openTestDB(t)
	mustView(t, db, func(tx domain.ReadTx) error {
		if _, err := tx.Item(42); domain.ErrorCode(err) != domain.ENOTFOUND {
			t.Errorf("Item(42) error = %v, want ENOTFOUND", err)
		}
		if _, err := tx.Handoff(42); domain.ErrorCode(err) != domain.ENOTFOUND {
			t.Errorf("Handoff(42) error = %v, want ENOTFOUND", err)
		}
		if _, ok, err := tx.Person("UNOBODY"); ok || err != nil {
			t.Errorf("Person(UNOBODY) = %v, %v; want false, nil", ok, err)
		}
		return nil
	})
}

func TestPutRejectsRecordsWithoutID(t *testing.T) {
	db := openTestDB(t)
	err := db.Update(context.Background(), func(tx domain.Tx) error { return tx.PutItem(domain.Item{Title: "x"}) })
	if domain.ErrorCode(err) != domain.EINVALID {
		t.Errorf("PutItem without ID: %v, want EINVALID", err)
	}
	err = db.Update(context.Background(), func(tx domain.Tx) error { return tx.PutHandoff(domain.Handoff{}) })
	if domain.ErrorCode(err) != domain.EINVALID {
		t.Errorf("PutHandoff without ID: %v, want EINVALID", err)
	}
	err = db.Update(context.Background(), func(tx domain.Tx) error { return tx.PutPerson(domain.Person{}) })
	if domain.ErrorCode(err) != domain.EINVALID {
		t.Errorf("PutPerson without ID: %v, want EINVALID", err)
	}
}

func TestUpdateReturnsFnErrorUnchangedAndRollsBack(t *testing.T) {
	db := openTestDB(t)
	conflict := domain.Errorf(domain.ECONFLICT, "already decided")
	err := db.Update(context.Background(), func(tx domain.Tx) error {
		if _, err := createItem(tx, fullItem(0)); err != nil {
			return err
		}
		if kv, ok := tx.(KVTx); !ok {
			t.Fatal("the Update tx does not implement KVTx")
		} else if err := kv.PutKV("refs", "W-1", []byte("ts")); err != nil {
			return err
		}
		return conflict
	})
	if err != conflict {
		t.Fatalf("Update error = %v, want the fn's error itself", err)
	}
	mustView(t, db, func(tx domain.ReadTx) error {
		if _, err := tx.Item(1); domain.ErrorCode(err) != domain.ENOTFOUND {
			t.Errorf("item written by a failed Update is visible: %v", err)
		}
		return nil
	})
	if v, err := db.GetKV("refs", "W-1"); err != nil || v != nil {
		t.Errorf("KV written by a failed Update is visible: %q, %v", v, err)
	}
	// The sequence rolled back too, so the next item is still 1.
	mustUpdate(t, db, func(tx domain.Tx) error {
		id, err := createItem(tx, fullItem(0))
		if id != 1 {
			t.Errorf("first committed item ID = %d, want 1", id)
		}
		return err
	})
}

func TestUpdateRecoversPanicsAsErrors(t *testing.T) {
	db := openTestDB(t)
	err := db.Update(context.Background(), func(tx domain.Tx) error {
		var it *domain.Item
		_ = it.Title // a nil dereference in a handler must not take the bot down
		return nil
	})
	if err == nil || !strings.Contains(err.Error(), "panic") {
		t.Errorf("Update with a panicking fn = %v, want an error mentioning the panic", err)
	}
}

func TestUpdateAndViewHonourCancelledContext(t *testing.T) {
	db := openTestDB(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	ran := false
	if err := db.Update(ctx, func(domain.Tx) error { ran = true; return nil }); !errors.Is(err, context.Canceled) || ran {
		t.Errorf("Update(cancelled) = %v, ran=%v; want context.Canceled without running", err, ran)
	}
	if err := db.View(ctx, func(domain.ReadTx) error { ran = true; return nil }); !errors.Is(err, context.Canceled) || ran {
		t.Errorf("View(cancelled) = %v, ran=%v; want context.Canceled without running", err, ran)
	}
}

func TestKVCommitsWithDomainChange(t *testing.T) {
	db := openTestDB(t)
	mustUpdate(t, db, func(tx domain.Tx) error {
		id, err := createItem(tx, fullItem(0))
		if err != nil {
			return err
		}
		return tx.(KVTx).PutKV("item_msg", domain.FormatKey("W", id), []byte("C1/1700.0001"))
	})
	got, err := db.GetKV("item_msg", "W-1")
	if err != nil || string(got) != "C1/1700.0001" {
		t.Fatalf("GetKV = %q, %v", got, err)
	}
	if err := db.PutKV("dedupe", "Ev1", nil); err != nil {
		t.Fatal(err)
	}
	if got, _ := db.GetKV("dedupe", "Ev1"); got == nil || len(got) != 0 {
		t.Errorf("an empty value reads back as %#v, want a non-nil empty slice", got)
	}
	var keys []string
	if err := db.ForEachKV("item_msg", func(k string, v []byte) bool { keys = append(keys, k); return true }); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(keys, []string{"W-1"}) {
		t.Errorf("ForEachKV keys = %v", keys)
	}
	if err := db.DeleteKV("item_msg", "W-1"); err != nil {
		t.Fatal(err)
	}
	if got, _ := db.GetKV("item_msg", "W-1"); got != nil {
		t.Errorf("after DeleteKV, GetKV = %q", got)
	}
	if got, err := db.GetKV("no_such_bucket", "k"); got != nil || err != nil {
		t.Errorf("GetKV on a missing bucket = %q, %v", got, err)
	}
	if err := db.PutKV("", "k", []byte("v")); domain.ErrorCode(err) != domain.EINVALID {
		t.Errorf("PutKV with empty bucket = %v, want EINVALID", err)
	}
}

func TestIndexesFollowItemChanges(t *testing.T) {
	db := openTestDB(t)
	mustUpdate(t, db, func(tx domain.Tx) error {
		for i := 0; i < 3; i++ {
			it := fullItem(0)
			it.Assignee, it.Stage = "UA", "todo"
			if _, err := createItem(tx, it); err != nil {
				return err
			}
		}
		return nil
	})
	// Reassign 2, move 3, close 1.
	mustUpdate(t, db, func(tx domain.Tx) error {
		it, _ := tx.Item(2)
		it.Assignee = "UB"
		if err := tx.PutItem(it); err != nil {
			return err
		}
		it, _ = tx.Item(3)
		it.Stage = "review"
		if err := tx.PutItem(it); err != nil {
			return err
		}
		it, _ = tx.Item(1)
		it.Resolution, it.Stage, it.DoneAt = domain.ResolutionDone, "done", baseTime
		return tx.PutItem(it)
	})
	mustView(t, db, func(tx domain.ReadTx) error {
		check := func(name string, got []domain.Item, want ...domain.ItemID) {
			if ids := itemIDs(got); !slices.Equal(ids, want) {
				t.Errorf("%s = %v, want %v", name, ids, want)
			}
		}
		check("OpenItems", collectItems(t, tx.OpenItems), 2, 3)
		check("ByAssignee(UA)", collectItems(t, func(f func(domain.Item) bool) error { return tx.OpenItemsByAssignee("UA", f) }), 3)
		check("ByAssignee(UB)", collectItems(t, func(f func(domain.Item) bool) error { return tx.OpenItemsByAssignee("UB", f) }), 2)
		check("InStage(todo)", collectItems(t, func(f func(domain.Item) bool) error { return tx.OpenItemsInStage("todo", f) }), 2)
		check("InStage(done)", collectItems(t, func(f func(domain.Item) bool) error { return tx.OpenItemsInStage("done", f) }))
		check("ByRequester", collectItems(t, func(f func(domain.Item) bool) error { return tx.ItemsByRequester("UREQ", f) }), 3, 2, 1)
		// Early stop.
		n := 0
		if err := tx.ItemsByRequester("UREQ", func(domain.Item) bool { n++; return false }); err != nil || n != 1 {
			t.Errorf("ItemsByRequester did not stop after false: n=%d err=%v", n, err)
		}
		return nil
	})
}

func TestEventsBetweenBounds(t *testing.T) {
	db := openTestDB(t)
	mustUpdate(t, db, func(tx domain.Tx) error {
		// Appended out of time order on purpose: the index, not Seq, orders by time.
		for _, h := range []int{5, 1, 3, 0, 4, 2} {
			if err := tx.AppendEvent(domain.Event{At: baseTime.Add(time.Duration(h) * time.Hour), Type: domain.EventMoved, ItemID: 1}); err != nil {
				return err
			}
		}
		return nil
	})
	mustView(t, db, func(tx domain.ReadTx) error {
		var hours []int
		err := tx.EventsBetween(baseTime.Add(time.Hour), baseTime.Add(4*time.Hour), func(e domain.Event) bool {
			hours = append(hours, int(e.At.Sub(baseTime)/time.Hour))
			return true
		})
		if err != nil {
			return err
		}
		if !slices.Equal(hours, []int{1, 2, 3}) {
			t.Errorf("EventsBetween [1h,4h) hours = %v, want [1 2 3]", hours)
		}
		return nil
	})
}

func TestReopenKeepsEverythingAndSequencesContinue(t *testing.T) {
	path := filepath.Join(t.TempDir(), "workbot.db")
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	mustUpdate(t, db, func(tx domain.Tx) error {
		if _, err := createItem(tx, fullItem(0)); err != nil {
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
		return tx.(KVTx).PutKV("slots", "weekly", []byte("2026-W45"))
	})
	checkAndClose(t, db)

	db, err = Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer checkAndClose(t, db)
	mustView(t, db, func(tx domain.ReadTx) error {
		if it, err := tx.Item(1); err != nil || it.Title != "title-0" {
			t.Errorf("item after reopen: %+v, %v", it, err)
		}
		if h, err := tx.Handoff(1); err != nil || h.Status != domain.HandoffPending {
			t.Errorf("handoff after reopen: %+v, %v", h, err)
		}
		if p, ok, err := tx.Person("UA"); err != nil || !ok || p.Capacity != 8 {
			t.Errorf("person after reopen: %+v, %v, %v", p, ok, err)
		}
		var n int
		_ = tx.PendingHandoffs(func(domain.Handoff) bool { n++; return true })
		if n != 1 {
			t.Errorf("pending handoffs after reopen = %d, want 1", n)
		}
		return nil
	})
	if v, _ := db.GetKV("slots", "weekly"); string(v) != "2026-W45" {
		t.Errorf("KV after reopen = %q", v)
	}
	mustUpdate(t, db, func(tx domain.Tx) error {
		id, err := createItem(tx, fullItem(0))
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
	if err := db.ExportEvents(func(e domain.Event) error { seqs = append(seqs, e.Seq); return nil }); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(seqs, []uint64{1, 2}) {
		t.Errorf("event seqs after reopen = %v, want [1 2]", seqs)
	}
}

func TestNewFileIsPrivateAndExistingModeIsKept(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "new.db")
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	checkAndClose(t, db)
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("new file mode = %v, %v; want 0600", fi.Mode().Perm(), err)
	}
	if err := os.Chmod(path, 0o640); err != nil {
		t.Fatal(err)
	}
	db, err = Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	checkAndClose(t, db)
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o640 {
		t.Errorf("existing file mode changed to %v, want 0640 kept", fi.Mode().Perm())
	}
}

func TestOpenRejectsFilesThatAreNotWorkbotDatabases(t *testing.T) {
	dir := t.TempDir()
	text := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(text, []byte(strings.Repeat("hello, this is not bbolt\n", 1000)), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Open(text, Options{})
	if err == nil || !strings.Contains(err.Error(), "not a workbot database") || !strings.Contains(err.Error(), text) {
		t.Errorf("Open(text file) = %v, want a 'not a workbot database' error naming the file", err)
	}

	other := filepath.Join(dir, "other.db")
	bdb, err := bolt.Open(other, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := bdb.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("something_else")); return err }); err != nil {
		t.Fatal(err)
	}
	bdb.Close()
	if _, err := Open(other, Options{}); !errors.Is(err, errNotWorkbot) {
		t.Errorf("Open(other bbolt file) = %v, want errNotWorkbot", err)
	}
	if _, err := Open(filepath.Join(dir, "missing.db"), Options{ReadOnly: true}); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Open(missing, read-only) = %v, want not-exist", err)
	}
}

func TestReadOnlyOpenRefusesWrites(t *testing.T) {
	path := filepath.Join(t.TempDir(), "workbot.db")
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	mustUpdate(t, db, func(tx domain.Tx) error { _, err := createItem(tx, fullItem(0)); return err })
	checkAndClose(t, db)

	ro, err := Open(path, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	var n int
	if err := ro.ExportItems(func(domain.Item) error { n++; return nil }); err != nil || n != 1 {
		t.Errorf("ExportItems read-only = %d items, %v", n, err)
	}
	if err := ro.Update(context.Background(), func(tx domain.Tx) error { _, err := createItem(tx, fullItem(0)); return err }); err == nil {
		t.Error("Update on a read-only DB succeeded")
	}
}

func TestConcurrentUpdatesAreRaceFreeAndAllCommit(t *testing.T) {
	db := openTestDB(t)
	const writers, perWriter = 32, 20
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < perWriter; i++ {
				err := db.Update(context.Background(), func(tx domain.Tx) error {
					_, err := createItem(tx, fullItem(0))
					return err
				})
				if err != nil {
					errs <- err
					return
				}
				_ = db.View(context.Background(), func(tx domain.ReadTx) error {
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
	var ids []domain.ItemID
	if err := db.ExportItems(func(it domain.Item) error { ids = append(ids, it.ID); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(ids) != writers*perWriter || ids[len(ids)-1] != writers*perWriter {
		t.Errorf("got %d items, last ID %d; want %d dense IDs", len(ids), ids[len(ids)-1], writers*perWriter)
	}
}

// In a batch, one failing function rolls the shared transaction back and bbolt reruns the others;
// nothing a failed Update wrote may survive, and every successful one must.
func TestConcurrentUpdatesWithFailuresKeepExactlyTheSuccessfulOnes(t *testing.T) {
	db := openTestDB(t)
	const writers = 48
	var wg sync.WaitGroup
	results := make([]error, writers)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[w] = db.Update(context.Background(), func(tx domain.Tx) error {
				it := fullItem(0)
				it.Title = fmt.Sprintf("writer %d", w)
				if _, err := createItem(tx, it); err != nil {
					return err
				}
				if err := tx.(KVTx).PutKV("writers", strconv.Itoa(w), []byte("done")); err != nil {
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
	if err := db.ExportItems(func(it domain.Item) error { titles[it.Title] = true; return nil }); err != nil {
		t.Fatal(err)
	}
	for w, err := range results {
		wantFail := w%3 == 0
		if wantFail != (domain.ErrorCode(err) == domain.ECONFLICT) || (!wantFail && err != nil) {
			t.Errorf("writer %d: Update = %v", w, err)
		}
		kv, _ := db.GetKV("writers", strconv.Itoa(w))
		if stored := titles[fmt.Sprintf("writer %d", w)]; stored == wantFail || (kv != nil) == wantFail {
			t.Errorf("writer %d (failed=%v): item stored=%v, KV stored=%v", w, wantFail, stored, kv != nil)
		}
	}
	if len(titles) != writers-writers/3 {
		t.Errorf("%d items stored, want %d", len(titles), writers-writers/3)
	}
}
