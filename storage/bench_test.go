package storage

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"go.uber.org/goleak"

	"workbot/domain"
)

// fixtureDir holds the scan fixtures for the whole test binary run; they take seconds to build, so
// every benchmark (and each -count repetition) shares them.
var (
	fixtureDir  string
	fixtureMu   sync.Mutex
	fixtureByID = map[string]string{}
)

func TestMain(m *testing.M) {
	code := m.Run()
	if fixtureDir != "" {
		os.RemoveAll(fixtureDir)
	}
	// Batches, Check and the helper processes all start goroutines; none may outlive its test.
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "goroutine leak: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

func benchCreate(tx domain.Tx) error {
	it := fullItem(0)
	it.Details = "A short description of the work."
	_, err := createItem(tx, it)
	return err
}

// benchCreateAnnounced is benchCreate with what an intake owes Slack, written in the same transaction:
// the item message in the intake channel, the requester's DM and App Home refresh.
func benchCreateAnnounced(tx domain.Tx) error {
	it := fullItem(0)
	it.Details = "A short description of the work."
	id, err := createItem(tx, it)
	if err != nil {
		return err
	}
	key := "item:" + domain.FormatKey("W", id)
	return tx.Enqueue(
		domain.Effect{Kind: "post", Key: key, Channel: "CINTAKE", At: it.CreatedAt, Payload: []byte(`{"text":"new request"}`)},
		domain.Effect{Kind: "dm", Key: key, Channel: "U0REQUESTER", At: it.CreatedAt, Payload: []byte(`{"text":"filed"}`)},
		domain.Effect{Kind: "home", Key: "home:U0REQUESTER", Channel: "U0REQUESTER", At: it.CreatedAt, Payload: []byte(`{}`)},
	)
}

// BenchmarkCreate measures creating an item (NextItemID + PutItem + AppendEvent, one commit each) with
// grouped commits (Update = bbolt Batch) for 1 and 64 concurrent writers, against one plain bbolt
// Update per write.
func BenchmarkCreate(b *testing.B) {
	ctx := context.Background()
	b.Run("batched-1", func(b *testing.B) {
		db := openBenchDB(b)
		for b.Loop() {
			if err := db.Update(ctx, benchCreate); err != nil {
				b.Fatal(err)
			}
		}
		reportRate(b, "items/s")
	})
	b.Run("batched-64", func(b *testing.B) {
		db := openBenchDB(b)
		runWriters(b, 64, func() error { return db.Update(ctx, benchCreate) })
		reportRate(b, "items/s")
	})
	b.Run("batched-64-announced", func(b *testing.B) {
		db := openBenchDB(b)
		runWriters(b, 64, func() error { return db.Update(ctx, benchCreateAnnounced) })
		reportRate(b, "items/s")
	})
	b.Run("update-per-write", func(b *testing.B) {
		db := openBenchDB(b)
		for b.Loop() {
			if err := db.updateSolo(func(tx *txn) error { return benchCreate(tx) }); err != nil {
				b.Fatal(err)
			}
		}
		reportRate(b, "items/s")
	})
	b.Run("update-per-write-64", func(b *testing.B) {
		db := openBenchDB(b)
		runWriters(b, 64, func() error { return db.updateSolo(func(tx *txn) error { return benchCreate(tx) }) })
		reportRate(b, "items/s")
	})
}

func openBenchDB(b *testing.B) *DB {
	db, err := Open(filepath.Join(b.TempDir(), "bench.db"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	return db
}

// runWriters shares b.N writes among n goroutines.
func runWriters(b *testing.B, n int, write func() error) {
	var left atomic.Int64
	left.Store(int64(b.N))
	var wg sync.WaitGroup
	var failed atomic.Value
	b.ResetTimer()
	for w := 0; w < n; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for left.Add(-1) >= 0 {
				if err := write(); err != nil {
					failed.Store(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	if err, _ := failed.Load().(error); err != nil {
		b.Fatal(err)
	}
}

func reportRate(b *testing.B, unit string) {
	if s := b.Elapsed().Seconds(); s > 0 {
		b.ReportMetric(float64(b.N)/s, unit)
	}
}

type fixtureSpec struct {
	open, closed int
}

func (f fixtureSpec) String() string {
	if f.closed == 0 {
		return fmt.Sprintf("open=%s", count(f.open))
	}
	return fmt.Sprintf("open=%s+closed=%s", count(f.open), count(f.closed))
}

func count(n int) string {
	switch {
	case n >= 1_000_000 && n%1_000_000 == 0:
		return fmt.Sprintf("%dM", n/1_000_000)
	case n >= 1000 && n%1000 == 0:
		return fmt.Sprintf("%dk", n/1000)
	}
	return fmt.Sprint(n)
}

var scanFixtures = []fixtureSpec{{1_000, 0}, {10_000, 0}, {100_000, 0}, {10_000, 1_000_000}}

// benchNow is the fixtures' "now": a Wednesday noon, so the digest week has working days behind it.
var benchNow = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

// fixture builds (once per test binary) a database with spec.open open items spread evenly among
// spec.closed closed ones, 50 people, pending handoffs for 1% of open items and the events of the
// newest week (creations, and completions of closed items), and returns its path. It writes through
// txn in transactions of 50k items, so the indexes are exactly what the bot would have written.
func fixture(b *testing.B, spec fixtureSpec) string {
	fixtureMu.Lock()
	defer fixtureMu.Unlock()
	if p, ok := fixtureByID[spec.String()]; ok {
		return p
	}
	if fixtureDir == "" {
		dir, err := os.MkdirTemp("", "workbot-bench-")
		if err != nil {
			b.Fatal(err)
		}
		fixtureDir = dir
	}
	path := filepath.Join(fixtureDir, spec.String()+".db")
	start := time.Now()
	db, err := Open(path, Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()

	people := make([]domain.UserID, 50)
	for i := range people {
		people[i] = domain.UserID(fmt.Sprintf("U%08d", i))
	}
	openStages := []domain.StageID{domain.StageIntake, domain.StageTodo, domain.StageInProgress, domain.StageReview, domain.StageTesting}
	sizes := domain.Sizes
	// Layout, oldest first: spec.closed items closed before the digest week (the history), then the
	// live part every fixture shares the shape of: spec.open open items with recentDone items finished
	// during the week spread among them. The week's activity is therefore the same whatever the history
	// length, so comparing fixtures isolates the cost of history.
	const recentDone = 2_000
	live := spec.open + recentDone
	total := spec.closed + live
	doneEvery := max(1, live/recentDone) // in the live part, every doneEvery-th item was finished this week
	const chunk = 50_000
	weekAgo := benchNow.Add(-7 * 24 * time.Hour)
	liveSpan := 30 * 24 * time.Hour // open work arrived over the last month
	handoffs, done := 0, 0

	for lo := 1; lo <= total; lo += chunk {
		err := db.bolt.Update(func(btx *bolt.Tx) error {
			tx := &txn{btx: btx}
			if lo == 1 {
				for i, u := range people {
					if err := tx.PutPerson(domain.Person{ID: u, Team: "eng", Capacity: 8 + i%8, CapacitySet: true}); err != nil {
						return err
					}
				}
			}
			for id := lo; id < lo+chunk && id <= total; id++ {
				var created time.Time
				history := id <= spec.closed
				if history {
					created = weekAgo.Add(-48*time.Hour - time.Duration(spec.closed-id+1)*time.Minute)
				} else {
					k := id - spec.closed // 1..live
					created = benchNow.Add(-liveSpan + time.Duration(k)*liveSpan/time.Duration(live+1))
				}
				it := domain.Item{
					ID: domain.ItemID(id), Key: domain.FormatKey("W", domain.ItemID(id)), Title: fmt.Sprintf("Item %d", id),
					Requester: people[id%len(people)], Team: "eng", Value: 1 + id%5, Urgency: 1 + id%3, Size: sizes[id%len(sizes)],
					CreatedAt: created, StageEnteredAt: created, LastActivityAt: created, UpdatedAt: created, Version: 1,
				}
				finishedThisWeek := !history && (id-spec.closed)%doneEvery == 0 && done < recentDone
				switch {
				case history:
					it.Stage, it.Resolution, it.DoneAt = domain.StageDone, domain.ResolutionDone, created.Add(24*time.Hour)
				case finishedThisWeek:
					done++
					it.Stage, it.Resolution = domain.StageDone, domain.ResolutionDone
					it.DoneAt = weekAgo.Add(time.Duration(done) * 7 * 24 * time.Hour / (recentDone + 1))
				default:
					it.Details = "Some details about the work, as a person would type them into the intake form."
					it.Stage = openStages[id%len(openStages)]
					it.Assignee = people[(id/7)%len(people)]
					it.Triaged = it.Stage != domain.StageIntake
					if id%13 == 0 {
						it.Due = domain.DateOf(benchNow.Add(time.Duration(id%10-3) * 24 * time.Hour))
					}
					if id%29 == 0 {
						it.BlockedReason, it.BlockedAt = "waiting on another team", created
					}
					if id%100 == 0 {
						handoffs++
						h := domain.Handoff{ID: domain.HandoffID(handoffs), ItemID: it.ID, From: it.Assignee,
							To: people[(id+1)%len(people)], Status: domain.HandoffPending, RequestedBy: it.Assignee, RequestedAt: created}
						it.PendingHandoff = h.ID
						if err := tx.PutHandoff(h); err != nil {
							return err
						}
					}
				}
				if err := tx.PutItem(it); err != nil {
					return err
				}
				// The digest week's events: creations in it, and the completions of the week.
				if created.After(weekAgo) {
					if err := tx.AppendEvent(domain.Event{At: created, Actor: it.Requester, Type: domain.EventCreated, ItemID: it.ID}); err != nil {
						return err
					}
				}
				if finishedThisWeek {
					if err := tx.AppendEvent(domain.Event{At: it.DoneAt, Actor: it.Requester, Type: domain.EventMoved, ItemID: it.ID,
						Changes: []domain.Change{{Field: "stage", Before: string(domain.StageInProgress), After: string(domain.StageDone)}}}); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	fi, _ := os.Stat(path)
	b.Logf("built fixture %s in %v (%d MB)", spec, time.Since(start).Round(time.Millisecond), fi.Size()>>20)
	fixtureByID[spec.String()] = path
	return path
}

func openFixture(b *testing.B, spec fixtureSpec) *DB {
	path := fixture(b, spec)
	db, err := Open(path, Options{ReadOnly: true})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	return db
}

// BenchmarkOpenScan reads every open item through View + OpenItems, as the digest and App Home do.
func BenchmarkOpenScan(b *testing.B) {
	ctx := context.Background()
	for _, spec := range scanFixtures {
		b.Run(spec.String(), func(b *testing.B) {
			db := openFixture(b, spec)
			var seen int
			scan := func() {
				seen = 0
				if err := db.View(ctx, func(tx domain.ReadTx) error {
					return tx.OpenItems(func(domain.Item) bool { seen++; return true })
				}); err != nil {
					b.Fatal(err)
				}
			}
			scan() // warm the page cache: the bot's file is hot
			if seen != spec.open {
				b.Fatalf("scanned %d open items, want %d", seen, spec.open)
			}
			for b.Loop() {
				scan()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(spec.open), "ns/item")
		})
	}
}

// BenchmarkDigest builds the leadership digest for the last week over the same fixtures.
func BenchmarkDigest(b *testing.B) {
	ctx := context.Background()
	policy := domain.DefaultPolicy()
	from, to := benchNow.Add(-7*24*time.Hour), benchNow
	for _, spec := range scanFixtures {
		b.Run(spec.String(), func(b *testing.B) {
			db := openFixture(b, spec)
			var d domain.Digest
			build := func() {
				if err := db.View(ctx, func(tx domain.ReadTx) error {
					var err error
					d, err = domain.BuildDigest(tx, policy, from, to, benchNow, 10)
					return err
				}); err != nil {
					b.Fatal(err)
				}
			}
			build()
			if d.OpenItems != spec.open || len(d.Top) == 0 {
				b.Fatalf("digest saw %d open items and %d top items; want %d and some", d.OpenItems, len(d.Top), spec.open)
			}
			for b.Loop() {
				build()
			}
		})
	}
}
