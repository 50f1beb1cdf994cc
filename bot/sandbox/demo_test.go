package sandbox_test

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"workbot/bot/sandbox"
	"workbot/domain"
	"workbot/storage"
)

// demoDB seeds the demo company into a fresh file as of now, under the sandbox's policy.
func demoDB(t *testing.T, now time.Time) (*storage.DB, *domain.Policy) {
	t.Helper()
	db, err := storage.Open(filepath.Join(t.TempDir(), "demo.db"), storage.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	p := domain.DefaultPolicy()
	sandbox.ApplyWorkspace(p)
	t0 := time.Now()
	if err := sandbox.SeedDemo(context.Background(), db, p, now); err != nil {
		t.Fatal(err)
	}
	t.Logf("seeded in %v", time.Since(t0))
	return db, p
}

// TestDemoCompany: a fresh sandbox has something worth reading, whatever day it starts on: about forty
// items across the stages with weeks of real history, one person over capacity, a stalled item, a
// pending handoff and a blocked chain.
func TestDemoCompany(t *testing.T) {
	for _, now := range []time.Time{
		time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC),   // Monday morning
		time.Date(2026, 3, 6, 17, 30, 0, 0, time.UTC), // Friday evening
		time.Date(2026, 3, 8, 12, 0, 0, 0, time.UTC),  // Sunday
	} {
		t.Run(now.Weekday().String(), func(t *testing.T) {
			db, p := demoDB(t, now)
			ctx := context.Background()
			var d domain.Digest
			items, stages := 0, map[domain.StageID]int{}
			var first time.Time
			err := db.View(ctx, func(tx domain.ReadTx) error {
				var err error
				if d, err = domain.BuildDigest(tx, p, now.Add(-7*24*time.Hour), now, now, 10); err != nil {
					return err
				}
				for id := domain.ItemID(1); ; id++ {
					it, err := tx.Item(id)
					if domain.ErrorCode(err) == domain.ENOTFOUND {
						break
					}
					if err != nil {
						return err
					}
					items++
					stages[it.Stage]++
				}
				return tx.EventsBetween(time.Time{}, now.Add(time.Second), func(e domain.Event) bool {
					first = e.At
					return false
				})
			})
			if err != nil {
				t.Fatal(err)
			}
			if items < 35 || items > 45 {
				t.Errorf("%d items, want about 40", items)
			}
			for _, s := range sandbox.DemoStages {
				if stages[s] == 0 {
					t.Errorf("no item in %s: %v", s, stages)
				}
			}
			if age := now.Sub(first); age < 21*24*time.Hour || age > 35*24*time.Hour {
				t.Errorf("history starts %v before now, want a few weeks", age)
			}

			var over []domain.UserID
			for _, l := range d.Loads {
				if l.Overloaded {
					over = append(over, l.Person.ID)
				}
			}
			if len(over) != 1 || over[0] != sandbox.DemoOverloaded {
				t.Errorf("overloaded: %v, want only %s", over, sandbox.DemoOverloaded)
			}

			reasons := map[string]domain.StallReason{}
			for _, s := range d.Stalled {
				reasons[s.Item.Key] = s.Reason
			}
			if reasons[sandbox.DemoStalled] != domain.StallStage {
				t.Errorf("%s is not stalled in its stage: %v", sandbox.DemoStalled, reasons)
			}
			if len(d.PendingHandoffs) != 1 || d.PendingHandoffs[0].Item.Key != sandbox.DemoHandoff || d.PendingHandoffs[0].Handoff.To != sandbox.QA {
				t.Errorf("pending handoffs: %+v", d.PendingHandoffs)
			}
			depth := 0
			for _, b := range d.Blocked {
				if b.Item.Key == sandbox.DemoChainEnd {
					depth = b.Depth
				}
			}
			if depth < 3 {
				t.Errorf("%s heads a blocked chain of depth %d, want 3: %+v", sandbox.DemoChainEnd, depth, d.Blocked)
			}
			if d.Flow.Completed < 3 || d.Flow.Created < 3 || d.Flow.CycleTimeP50 <= 0 || d.Flow.DeadlinesTotal == 0 {
				t.Errorf("flow over the last week: %+v", d.Flow)
			}
			if len(d.Top) < 5 || len(d.Overdue) == 0 {
				t.Errorf("top %d, overdue %d", len(d.Top), len(d.Overdue))
			}
			if n := d.Flow.WIPByStage[domain.StageIntake]; n < 3 {
				t.Errorf("triage queue %d", n)
			}
		})
	}
}

// TestDemoHasItsPlans: the demo takes the daily priority snapshot at each midnight of its history,
// as the bot would have, so every week it covers has a plan to measure against.
func TestDemoHasItsPlans(t *testing.T) {
	now := time.Date(2026, 3, 6, 17, 30, 0, 0, time.UTC) // Friday evening
	db, _ := demoDB(t, now)
	var dates []string
	var latest struct {
		Items []struct{ ID uint64 } `json:"items"`
	}
	if err := db.ViewState(context.Background(), func(tx domain.StateReader) error {
		return tx.Scan("priority_snapshots", "", func(key string, val []byte) bool {
			dates = append(dates, key)
			latest.Items = nil
			if err := json.Unmarshal(val, &latest); err != nil {
				t.Errorf("snapshot %s: %v", key, err)
			}
			return true
		})
	}); err != nil {
		t.Fatal(err)
	}
	// Four working weeks back from Friday reach into the first days of February: one a day since.
	if len(dates) < 28 || dates[len(dates)-1] != "2026-03-06" {
		t.Errorf("%d snapshots, the last of %q; want one a day up to today", len(dates), dates[len(dates)-1:])
	}
	if len(latest.Items) == 0 {
		t.Errorf("today's snapshot holds no items")
	}
}

// TestDemoIsDeterministic: two seeds at the same instant write the same items.
func TestDemoIsDeterministic(t *testing.T) {
	now := time.Date(2026, 3, 4, 11, 0, 0, 0, time.UTC)
	read := func() []domain.Item {
		db, _ := demoDB(t, now)
		var out []domain.Item
		_ = db.View(context.Background(), func(tx domain.ReadTx) error {
			return tx.OpenItems(func(it domain.Item) bool { out = append(out, it); return true })
		})
		return out
	}
	a, b := read(), read()
	if len(a) != len(b) {
		t.Fatalf("%d vs %d open items", len(a), len(b))
	}
	for i := range a {
		if a[i].Key != b[i].Key || a[i].Assignee != b[i].Assignee || !a[i].LastActivityAt.Equal(b[i].LastActivityAt) {
			t.Errorf("%s differs: %+v vs %+v", a[i].Key, a[i], b[i])
		}
	}
}

// TestDemoNeedsTheDefaultStages: a configured workflow without the demo's stages gets no demo, and says
// why, rather than half a history.
func TestDemoNeedsTheDefaultStages(t *testing.T) {
	db, err := storage.Open(filepath.Join(t.TempDir(), "demo.db"), storage.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	p := domain.DefaultPolicy()
	sandbox.ApplyWorkspace(p)
	var stages []domain.Stage
	for _, s := range p.Workflow.Stages {
		if s.ID != domain.StageReview {
			stages = append(stages, s)
		}
	}
	p.Workflow.Stages = stages
	err = sandbox.SeedDemo(context.Background(), db, p, time.Now())
	if !errors.Is(err, sandbox.ErrNoDemo) || !strings.Contains(err.Error(), "review") {
		t.Fatalf("got %v", err)
	}
	var events int
	_ = db.View(context.Background(), func(tx domain.ReadTx) error {
		return tx.EventsBetween(time.Time{}, time.Now().Add(time.Hour), func(domain.Event) bool { events++; return true })
	})
	if events != 0 {
		t.Errorf("%d events written", events)
	}
}
