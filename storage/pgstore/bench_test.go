package pgstore_test

import (
	"context"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"workbot/domain"
	"workbot/storage"
	"workbot/storage/pgstore"
	"workbot/storage/pgstore/pgtest"
	"workbot/storage/storetest"
)

// The benchmarks mirror storage/bench_test.go's, so docs/benchmarks.md can put the two stores side by
// side: creates with 1 and 64 writers, and reading open work and building the digest over the same
// fixtures.

func benchCreate(tx domain.Tx) error {
	it := storetest.FullItem(0)
	it.Details = "A short description of the work."
	_, err := storetest.CreateItem(tx, it)
	return err
}

// benchCreateAnnounced is a create as the bot makes it: the item, its event and its announcement in
// the intake channel, which every create shares.
func benchCreateAnnounced(tx domain.Tx) error {
	it := storetest.FullItem(0)
	it.Details = "A short description of the work."
	id, err := storetest.CreateItem(tx, it)
	if err != nil {
		return err
	}
	return tx.Enqueue(domain.Effect{Kind: "post", Key: "item:" + domain.FormatKey("W", id), Channel: "CINTAKE",
		At: storetest.BaseTime, Payload: []byte(`{"text":"new request"}`)})
}

func openBench(b *testing.B, conns int32) *pgstore.Store {
	s, err := pgstore.Open(context.Background(), pgtest.URL(b), pgstore.Options{MaxConns: conns})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	return s
}

func BenchmarkCreate(b *testing.B) {
	ctx := context.Background()
	b.Run("writers-1", func(b *testing.B) {
		s := openBench(b, 0)
		for b.Loop() {
			if err := s.Update(ctx, benchCreate); err != nil {
				b.Fatal(err)
			}
		}
		reportRate(b, "items/s")
	})
	for _, c := range []struct {
		name  string
		conns int32
		fn    func(domain.Tx) error
	}{
		{"writers-64-conns-4", 4, benchCreate},
		{"writers-64-conns-16", 16, benchCreate},
		{"writers-64-conns-64", 64, benchCreate},
		{"writers-64-conns-16-announced", 16, benchCreateAnnounced},
	} {
		b.Run(c.name, func(b *testing.B) {
			s := openBench(b, c.conns)
			runWriters(b, 64, func() error { return s.Update(ctx, c.fn) })
			reportRate(b, "items/s")
		})
	}
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

// memSource holds a fixture in memory for pgstore.Import, which loads it with COPY.
type memSource struct {
	items    []domain.Item
	handoffs []domain.Handoff
	people   []domain.Person
	events   []domain.Event
}

func (m *memSource) PutPerson(p domain.Person) error { m.people = append(m.people, p); return nil }
func (m *memSource) PutItem(it domain.Item) error    { m.items = append(m.items, it); return nil }
func (m *memSource) PutHandoff(h domain.Handoff) error {
	m.handoffs = append(m.handoffs, h)
	return nil
}
func (m *memSource) AppendEvent(e domain.Event) error {
	e.Seq = uint64(len(m.events) + 1)
	m.events = append(m.events, e)
	return nil
}

func each[T any](xs []T, fn func(T) error) error {
	for _, x := range xs {
		if err := fn(x); err != nil {
			return err
		}
	}
	return nil
}

func (m *memSource) ExportItems(fn func(domain.Item) error) error       { return each(m.items, fn) }
func (m *memSource) ExportHandoffs(fn func(domain.Handoff) error) error { return each(m.handoffs, fn) }
func (m *memSource) ExportPeople(fn func(domain.Person) error) error    { return each(m.people, fn) }
func (m *memSource) ExportEvents(fn func(domain.Event) error) error     { return each(m.events, fn) }
func (m *memSource) ExportState(func(string, string, []byte) error) error {
	return nil
}
func (m *memSource) ExportOutbox(func(domain.OutboxEntry) error) error { return nil }
func (m *memSource) Sequences() (storage.Sequences, error) {
	return storage.Sequences{Items: uint64(len(m.items)), Handoffs: uint64(len(m.handoffs)), Events: uint64(len(m.events))}, nil
}

func benchFixtures() []storetest.FixtureSpec {
	specs := []storetest.FixtureSpec{{Open: 1_000}, {Open: 10_000}, {Open: 100_000}}
	if os.Getenv("WORKBOT_BENCH_HISTORY") != "" {
		specs = append(specs, storetest.FixtureSpec{Open: 10_000, Closed: 1_000_000})
	}
	return specs
}

// openFixture loads spec into a fresh schema, analyzes it and returns the store.
func openFixture(b *testing.B, spec storetest.FixtureSpec) *pgstore.Store {
	start := time.Now()
	src := &memSource{}
	if err := storetest.Fixture(spec, src); err != nil {
		b.Fatal(err)
	}
	s := openBench(b, 0)
	ctx := context.Background()
	if err := s.Import(ctx, src, pgstore.ImportOptions{}); err != nil {
		b.Fatal(err)
	}
	if _, err := s.Pool().Exec(ctx, "VACUUM ANALYZE"); err != nil {
		b.Fatal(err)
	}
	b.Logf("loaded fixture %s in %v", spec, time.Since(start).Round(time.Millisecond))
	return s
}

func BenchmarkOpenScan(b *testing.B) {
	ctx := context.Background()
	for _, spec := range benchFixtures() {
		b.Run(spec.String(), func(b *testing.B) {
			s := openFixture(b, spec)
			var seen int
			scan := func() {
				seen = 0
				if err := s.View(ctx, func(tx domain.ReadTx) error {
					return tx.OpenItems(func(domain.Item) bool { seen++; return true })
				}); err != nil {
					b.Fatal(err)
				}
			}
			scan()
			if seen != spec.Open {
				b.Fatalf("scanned %d open items, want %d", seen, spec.Open)
			}
			for b.Loop() {
				scan()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(spec.Open), "ns/item")
		})
	}
}

func BenchmarkDigest(b *testing.B) {
	ctx := context.Background()
	policy := domain.DefaultPolicy()
	from, to := storetest.BenchNow.Add(-7*24*time.Hour), storetest.BenchNow
	for _, spec := range benchFixtures() {
		b.Run(spec.String(), func(b *testing.B) {
			s := openFixture(b, spec)
			var d domain.Digest
			build := func() {
				if err := s.View(ctx, func(tx domain.ReadTx) error {
					var err error
					d, err = domain.BuildDigest(tx, policy, from, to, storetest.BenchNow, 10)
					return err
				}); err != nil {
					b.Fatal(err)
				}
			}
			build()
			if d.OpenItems != spec.Open || len(d.Top) == 0 || d.Flow.Completed == 0 {
				b.Fatalf("digest saw %d open items, %d top items, %d completed; want %d and some", d.OpenItems, len(d.Top), d.Flow.Completed, spec.Open)
			}
			for b.Loop() {
				build()
			}
		})
	}
}
