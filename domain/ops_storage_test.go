package domain_test

// These tests run the operations on the real bbolt store, where concurrent writes are grouped into one
// commit and a write function may run more than once.

import (
	"context"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"workbot/domain"
	"workbot/storage"
)

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func newStoredService(t *testing.T) *domain.Service {
	t.Helper()
	db, err := storage.Open(filepath.Join(t.TempDir(), "workbot.db"), storage.Options{})
	if err != nil {
		t.Fatalf("storage.Open: %v", err)
	}
	t.Cleanup(func() {
		if err := db.CheckConsistency(); err != nil {
			t.Errorf("consistency: %v", err)
		}
		if err := db.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	p := domain.DefaultPolicy()
	p.Leads = []domain.UserID{"ULEAD"}
	p.Teams = []domain.Team{
		{ID: "dev", Leads: []domain.UserID{"UDEVLEAD"}, Members: []domain.UserID{"UDEV1", "UDEV2"}},
		{ID: "qa", Leads: []domain.UserID{"UQALEAD"}, Members: []domain.UserID{"UQA1", "UQA2"}},
	}
	c := &clock{now: time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)}
	return &domain.Service{Store: db, Policy: p, Now: c.Now}
}

func TestStoredHandoffLifecycle(t *testing.T) {
	ctx := context.Background()
	svc := newStoredService(t)
	res, err := svc.Create(ctx, "UREQ", domain.NewItem{Title: "Export to CSV", Team: "dev", Size: 5})
	if err != nil {
		t.Fatal(err)
	}
	id := res.Item.ID
	steps := []func() (domain.Result, error){
		func() (domain.Result, error) { return svc.TriageItem(ctx, "UDEVLEAD", id, domain.Triage{Value: 4}) },
		func() (domain.Result, error) { return svc.Assign(ctx, "UDEVLEAD", id, "UDEV1") },
		func() (domain.Result, error) { return svc.Start(ctx, "UDEV1", id) },
		func() (domain.Result, error) { return svc.Move(ctx, "UDEV1", id, "review") },
		func() (domain.Result, error) {
			return svc.RequestHandoff(ctx, "UDEV1", id, domain.HandoffRequest{ToTeam: "qa", NextStage: "testing"})
		},
	}
	for i, step := range steps {
		if _, err := step(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	it, err := svc.Item(ctx, id)
	if err != nil || it.PendingHandoff == 0 {
		t.Fatalf("item %+v, %v", it, err)
	}
	hid := it.PendingHandoff

	// Both QA members click Accept at once: exactly one wins, the other is told it was already accepted.
	var wins, conflicts atomic.Int32
	var wg sync.WaitGroup
	for _, who := range []domain.UserID{"UQA1", "UQA2"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := svc.AcceptHandoff(ctx, who, hid)
			switch domain.ErrorCode(err) {
			case "":
				wins.Add(1)
			case domain.ECONFLICT:
				conflicts.Add(1)
			default:
				t.Errorf("accept by %s: %v", who, err)
			}
		}()
	}
	wg.Wait()
	if wins.Load() != 1 || conflicts.Load() != 1 {
		t.Fatalf("%d accepted, %d conflicts; want 1 and 1", wins.Load(), conflicts.Load())
	}
	it, err = svc.Item(ctx, id)
	if err != nil || it.Stage != "testing" || it.Team != "qa" || (it.Assignee != "UQA1" && it.Assignee != "UQA2") || it.PendingHandoff != 0 {
		t.Fatalf("after accept %+v, %v", it, err)
	}
	if _, err := svc.Done(ctx, it.Assignee, id); err != nil {
		t.Fatal(err)
	}
	var types []domain.EventType
	if err := svc.Store.View(ctx, func(tx domain.ReadTx) error {
		return tx.ItemEvents(id, func(e domain.Event) bool { types = append(types, e.Type); return true })
	}); err != nil {
		t.Fatal(err)
	}
	want := []domain.EventType{
		domain.EventCreated, domain.EventMoved, domain.EventTriaged, domain.EventAssigned, domain.EventMoved, domain.EventMoved,
		domain.EventHandoffRequested, domain.EventHandoffAccepted, domain.EventMoved, domain.EventMoved,
	}
	if len(types) != len(want) {
		t.Fatalf("events %v, want %v", types, want)
	}
	for i := range want {
		if types[i] != want[i] {
			t.Fatalf("events %v, want %v", types, want)
		}
	}
}

// TestStoredConcurrentWrites sends many writes at once, so bbolt groups them; every committed change
// must show exactly once in the version and in the audit log.
func TestStoredConcurrentWrites(t *testing.T) {
	ctx := context.Background()
	svc := newStoredService(t)
	const items, pinsPerItem = 4, 10
	var ids []domain.ItemID
	for i := 0; i < items; i++ {
		res, err := svc.Create(ctx, "UREQ", domain.NewItem{Title: "x", Team: "dev"})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, res.Item.ID)
	}
	var wg sync.WaitGroup
	for _, id := range ids {
		for rank := 1; rank <= pinsPerItem; rank++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				// Ranks differ per goroutine, so none is refused as unchanged.
				if _, err := svc.Pin(ctx, "ULEAD", id, rank); err != nil {
					t.Errorf("pin: %v", err)
				}
			}()
		}
	}
	wg.Wait()
	for _, id := range ids {
		it, err := svc.Item(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		pins := 0
		if err := svc.Store.View(ctx, func(tx domain.ReadTx) error {
			return tx.ItemEvents(id, func(e domain.Event) bool {
				if e.Type == domain.EventPinned {
					pins++
				}
				return true
			})
		}); err != nil {
			t.Fatal(err)
		}
		if it.Version != uint64(1+pins) || pins != pinsPerItem {
			t.Errorf("item %d: version %d with %d pin events", id, it.Version, pins)
		}
	}
}
