package bot

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"workbot/domain"
	"workbot/storage"
	"workbot/storage/fixture"
)

func TestPruneKeepsOnlyWhatIsStillNeeded(t *testing.T) {
	ctx := context.Background()
	db, err := storage.Open(filepath.Join(t.TempDir(), "workbot.db"), storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	day := func(d int) string { return domain.DateOf(now.AddDate(0, 0, d)).String() }

	// Items: 1 open, 2 closed 40 days ago, 3 closed 10 days ago, 4..3003 closed 60 days ago (more
	// than one transaction's worth).
	err = db.Update(ctx, func(tx domain.Tx) error {
		for id := 1; id <= 3003; id++ {
			it := domain.Item{ID: domain.ItemID(id), Key: fmt.Sprint("W-", id), Stage: "todo", CreatedAt: now.AddDate(0, -3, 0)}
			switch {
			case id == 2:
				it.Stage, it.Resolution, it.DoneAt = "done", domain.ResolutionDone, now.AddDate(0, 0, -40)
			case id == 3:
				it.Stage, it.Resolution, it.DoneAt = "done", domain.ResolutionDone, now.AddDate(0, 0, -10)
			case id > 3:
				it.Stage, it.Resolution, it.DoneAt = "rejected", domain.ResolutionRejected, now.AddDate(0, 0, -60).Add(time.Duration(id%7)*time.Second)
			}
			if err := tx.PutItem(it); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	err = db.UpdateState(ctx, func(tx domain.StateTx) error {
		for id := 1; id <= 3003; id++ {
			if err := tx.Put(kvItemMessages, idKey(uint64(id)), []byte(`{"c":"C1","ts":"1.1"}`)); err != nil {
				return err
			}
		}
		for d := -20; d <= 0; d++ {
			for u := 0; u < 150; u++ {
				user := domain.UserID(fmt.Sprintf("U%03d", u))
				if err := tx.Put(kvPersonalSent, personalKey(domain.DateOf(now.AddDate(0, 0, d)), user), []byte{1}); err != nil {
					return err
				}
				if err := tx.Put(kvPersonalSent, string(user)+"|"+day(d-30), []byte{1}); err != nil { // the old form
					return err
				}
			}
		}
		for d := -120; d <= 0; d++ {
			if err := tx.Put(kvWIPSamples, day(d), []byte(`{}`)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Outbox: finished 10 days ago, unfinished 10 days ago, finished yesterday.
	for i, e := range []domain.Effect{
		{Kind: "dm", At: now.AddDate(0, 0, -10)}, {Kind: "dm", At: now.AddDate(0, 0, -10)}, {Kind: "dm", At: now.AddDate(0, 0, -1)},
	} {
		if err := db.UpdateState(ctx, func(tx domain.StateTx) error { return tx.Enqueue(e) }); err != nil {
			t.Fatal(err)
		}
		if i == 1 {
			continue
		}
		got, err := db.ClaimEffects(ctx, "test", 10, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		for _, g := range got {
			if g.At.Equal(e.At) {
				if err := db.UpdateState(ctx, func(tx domain.StateTx) error {
					return tx.FinishEffect(g.ID, domain.OutboxDelivered, domain.OutboxResult{})
				}); err != nil {
					t.Fatal(err)
				}
			}
			_ = db.ReleaseEffect(ctx, "test", g.ID)
		}
	}

	st, err := Prune(ctx, db, now)
	if err != nil {
		t.Fatal(err)
	}
	if st.PersonalMarkers != 13*150+21*150 || st.WIPSamples != 30 || st.ItemMessages != 3001 || st.OutboxEntries != 1 {
		t.Errorf("first prune: %+v", st)
	}
	keys := func(bucket string) []string {
		var out []string
		if err := db.ViewState(ctx, func(tx domain.StateReader) error {
			return tx.Scan(bucket, "", func(k string, _ []byte) bool { out = append(out, k); return true })
		}); err != nil {
			t.Fatal(err)
		}
		return out
	}
	if got := keys(kvItemMessages); !slices.Equal(got, []string{"1", "3"}) {
		t.Errorf("item messages left: %v, want the open item and the one closed 10 days ago", got)
	}
	personal := keys(kvPersonalSent)
	if len(personal) != 8*150 || personal[0] != personalKey(domain.DateOf(now.AddDate(0, 0, -7)), "U000") {
		t.Errorf("personal markers left: %d from %q", len(personal), personal[0])
	}
	if wip := keys(kvWIPSamples); len(wip) != 91 || wip[0] != day(-90) {
		t.Errorf("WIP samples left: %d from %q", len(wip), wip[0])
	}
	if pending, _, err := db.OutboxStats(ctx); err != nil || pending != 1 {
		t.Errorf("unfinished outbox entries: %d, %v; want the one", pending, err)
	}

	// Nothing more is due; a later run picks up what closed since.
	if st, err := Prune(ctx, db, now); err != nil || st != (PruneStats{}) {
		t.Errorf("second prune: %+v, %v", st, err)
	}
	if st, err := Prune(ctx, db, now.AddDate(0, 0, 21)); err != nil || st.ItemMessages != 1 {
		t.Errorf("three weeks later: %+v, %v; want item 3's reference", st, err)
	}
	if got := keys(kvItemMessages); !slices.Equal(got, []string{"1"}) {
		t.Errorf("item messages left: %v", got)
	}
	if err := db.CheckConsistency(); err != nil {
		t.Fatal(err)
	}
}

// The benchmark fixture holds the state this retention leaves (storage/fixture repeats its periods):
// pruning it as of its own clock finds nothing to do.
func TestFixtureStateIsWithinRetention(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fixture.db")
	if _, err := fixture.Build(path, fixture.Tiny); err != nil {
		t.Fatal(err)
	}
	db, err := storage.Open(path, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	st, err := Prune(context.Background(), db, fixture.Now)
	if err != nil || st != (PruneStats{}) {
		t.Fatalf("Prune on the fixture: %+v, %v; want nothing pruned", st, err)
	}
	items := 0
	if err := db.ViewState(context.Background(), func(tx domain.StateReader) error {
		return tx.Scan(kvItemMessages, "", func(string, []byte) bool { items++; return true })
	}); err != nil || items == 0 {
		t.Fatalf("the fixture keeps %d message references (%v)", items, err)
	}
}
