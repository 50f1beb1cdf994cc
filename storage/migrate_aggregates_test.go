package storage

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"workbot/domain"
)

// downgradeTo4 turns a current file into what version 4 wrote: the same records and indexes without
// the aggregates. Migration 5 must then rebuild them exactly.
func downgradeTo4(t *testing.T, path string) {
	t.Helper()
	bdb, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer bdb.Close()
	if err := bdb.Update(func(tx *bolt.Tx) error {
		if err := toOldEventLayout(tx); err != nil {
			return err
		}
		// Version 4's idx_stage entries were empty.
		byStage := tx.Bucket(bucketByStage)
		var keys [][]byte
		if err := byStage.ForEach(func(k, _ []byte) error { keys = append(keys, slices.Clone(k)); return nil }); err != nil {
			return err
		}
		for _, k := range keys {
			if err := byStage.Put(k, nil); err != nil {
				return err
			}
		}
		for _, name := range [][]byte{bucketAggOpen, bucketClosed, bucketAggEvents, bucketRank} {
			if err := tx.DeleteBucket(name); err != nil {
				return err
			}
		}
		return writeSchemaVersion(tx, 4)
	}); err != nil {
		t.Fatal(err)
	}
}

func TestMigration5BuildsAggregates(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v4.db")
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	at := baseTime
	mustUpdate(t, db, func(tx domain.Tx) error {
		for i := 1; i <= 40; i++ {
			it := fullItem(domain.ItemID(i))
			it.Assignee = []domain.UserID{"", "UA", "UB"}[i%3]
			it.Stage = []domain.StageID{"todo", "in_progress", "review", "done"}[i%4]
			it.Team = []domain.TeamID{"", "core"}[i%2]
			it.Size = i % 9
			it.CreatedAt = at.Add(time.Duration(i) * time.Hour)
			if it.Stage == "done" {
				it.Resolution, it.DoneAt = domain.ResolutionDone, at.Add(time.Duration(50+i)*time.Hour)
			}
			if err := tx.PutItem(it); err != nil {
				return err
			}
			if err := tx.AppendEvent(domain.Event{At: it.CreatedAt, Type: domain.EventCreated, ItemID: it.ID}); err != nil {
				return err
			}
			if !it.Open() {
				if err := tx.AppendEvent(domain.Event{At: it.DoneAt, Type: domain.EventMoved, ItemID: it.ID}); err != nil {
					return err
				}
			}
		}
		return nil
	})
	var want domain.OpenCounts
	var wantWork domain.Workload
	mustView(t, db, func(tx domain.ReadTx) error {
		var err error
		want, err = tx.OpenCounts()
		if err != nil {
			return err
		}
		wantWork, err = tx.Workload("UA")
		return err
	})
	if want.Total != 30 || wantWork.Items == 0 {
		t.Fatalf("setup: %+v, UA %+v", want, wantWork)
	}
	db.Close()

	downgradeTo4(t, path)
	db = openAt(t, path) // migrates; the cleanup runs CheckConsistency, which recounts every aggregate
	if err := db.bolt.View(func(tx *bolt.Tx) error {
		if v, err := readSchemaVersion(tx); v != SchemaVersion || err != nil {
			t.Errorf("version after Open = %d, %v", v, err)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	mustView(t, db, func(tx domain.ReadTx) error {
		got, err := tx.OpenCounts()
		if err != nil {
			return err
		}
		if got.Total != want.Total || len(got.ByStage) != len(want.ByStage) || got.ByTeam["core"] != want.ByTeam["core"] {
			t.Errorf("OpenCounts after migration = %+v, before %+v", got, want)
		}
		if w, err := tx.Workload("UA"); err != nil || w != wantWork {
			t.Errorf("Workload(UA) after migration = %+v, %v; before %+v", w, err, wantWork)
		}
		n := 0
		if err := tx.ClosedBetween(at, at.Add(1000*time.Hour), func(domain.Closure) bool { n++; return true }); err != nil {
			return err
		}
		if n != 10 {
			t.Errorf("ClosedBetween found %d closed items, want 10", n)
		}
		created, err := tx.CountEvents(domain.EventCreated, at.Add(90*time.Minute), at.Add(20*time.Hour+30*time.Minute))
		if err != nil {
			return err
		}
		if created != 19 { // items 2..20
			t.Errorf("CountEvents(created) = %d, want 19", created)
		}
		return nil
	})
}

// A write transaction reads the aggregates as its own writes left them, so an operation that decides
// from a count (a WIP warning, an overload) sees the change it is making.
func TestAggregatesSeeTheirOwnTransaction(t *testing.T) {
	db := openTestDB(t)
	err := db.Update(context.Background(), func(tx domain.Tx) error {
		it := fullItem(1)
		if err := tx.PutItem(it); err != nil {
			return err
		}
		w, err := tx.Workload(it.Assignee)
		if err != nil || w != (domain.Workload{Points: it.Size, Items: 1}) {
			t.Errorf("Workload inside the write = %+v, %v", w, err)
		}
		it.Resolution, it.DoneAt = domain.ResolutionDone, baseTime
		if err := tx.PutItem(it); err != nil {
			return err
		}
		c, err := tx.OpenCounts()
		if err != nil || c.Total != 0 || len(c.ByStage) != 0 {
			t.Errorf("OpenCounts after closing = %+v, %v", c, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// Check finds an aggregate that disagrees with the items.
func TestCheckRecountsAggregates(t *testing.T) {
	path := filepath.Join(t.TempDir(), "workbot.db")
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	mustUpdate(t, db, func(tx domain.Tx) error { return tx.PutItem(fullItem(1)) })
	if err := db.bolt.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketAggOpen)
		if err := b.Put(aggKey(aggStage, "ghost"), []byte{2}); err != nil {
			return err
		}
		return b.Delete([]byte{aggTotal})
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	err = Check(path)
	if err == nil || !IsCheckError(err) {
		t.Fatalf("Check = %v, want problems", err)
	}
	for _, want := range []string{`agg_open/"sghost" is stored`, `agg_open/"n" is missing`} {
		if !containsProblem(err.(*CheckError), want) {
			t.Errorf("Check did not report %q: %v", want, err)
		}
	}
}

func containsProblem(e *CheckError, s string) bool {
	for _, p := range e.Problems {
		if strings.Contains(p, s) {
			return true
		}
	}
	return false
}
