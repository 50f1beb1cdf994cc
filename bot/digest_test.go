package bot

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"path/filepath"
	"testing"
	"time"

	"workbot/domain"
	"workbot/storage"
)

func TestLatestSlot(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		spec     string
		now      time.Time
		lookback time.Duration
		want     time.Time
		ok       bool
	}{
		{"OK/same minute", "0 9 * * 1-5", time.Date(2026, 11, 25, 9, 0, 30, 0, berlin), time.Hour, time.Date(2026, 11, 25, 9, 0, 0, 0, berlin), true},
		{"OK/later that day", "0 9 * * 1-5", time.Date(2026, 11, 25, 10, 30, 0, 0, berlin), 2 * time.Hour, time.Date(2026, 11, 25, 9, 0, 0, 0, berlin), true},
		{"Missed/outside grace", "0 9 * * 1-5", time.Date(2026, 11, 25, 12, 0, 0, 0, berlin), 2 * time.Hour, time.Time{}, false},
		{"OK/weekend looks back to Friday", "0 9 * * 1-5", time.Date(2026, 11, 29, 12, 0, 0, 0, berlin), 8 * 24 * time.Hour, time.Date(2026, 11, 27, 9, 0, 0, 0, berlin), true},
		{"OK/seconds field", "*/5 * * * * *", time.Date(2026, 11, 25, 9, 0, 7, 0, time.UTC), time.Minute, time.Date(2026, 11, 25, 9, 0, 5, 0, time.UTC), true},
		// 02:30 does not exist on the spring-forward day, so cron skips it: the latest slot is the day before.
		{"Skipped/DST spring forward", "30 2 * * *", time.Date(2026, 3, 29, 12, 0, 0, 0, berlin), 36 * time.Hour, time.Date(2026, 3, 28, 2, 30, 0, 0, berlin), true},
		{"Bad spec", "not a spec", time.Now(), time.Hour, time.Time{}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := latestSlot(tc.spec, berlin, tc.now, tc.lookback)
			if ok != tc.ok || !got.Equal(tc.want) {
				t.Errorf("latestSlot = %v, %v; want %v, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

// seededDigest builds digest data by hand for a small or a very large org.
func seededDigest(people, items int) domain.Digest {
	p := renderPolicy()
	var open []domain.Item
	for i := 1; i <= items; i++ {
		it := domain.Item{
			ID: domain.ItemID(i), Key: fmt.Sprintf("W-%d", i), Title: fmt.Sprintf("Item %d <b>&", i), Value: 1 + i%5, Urgency: 1 + i%3,
			Size: domain.Sizes[i%len(domain.Sizes)], Stage: domain.StageInProgress, Assignee: domain.UserID(fmt.Sprintf("U%05d", i%people)),
			CreatedAt: renderNow.Add(-time.Duration(i) * time.Hour), Triaged: true,
		}
		if i%7 == 0 {
			it.Due = domain.Date{Year: 2026, Month: 11, Day: 20 + i%10}
		}
		open = append(open, it)
	}
	var loads []domain.PersonLoad
	var overloaded []domain.OverloadedPerson
	for i := 0; i < people; i++ {
		l := domain.PersonLoad{Person: domain.Person{ID: domain.UserID(fmt.Sprintf("U%05d", i))}, Load: 5 + i%20, Capacity: 10, Items: 3}
		l.Utilisation = float64(l.Load) / 10
		l.Overloaded = l.Utilisation > 1
		loads = append(loads, l)
		if l.Overloaded {
			overloaded = append(overloaded, domain.OverloadedPerson{Load: l, Biggest: open[i%len(open) : i%len(open)+1]})
		}
	}
	var stalled []domain.Stall
	var blocked []domain.BlockedItem
	for i, it := range open {
		switch i % 10 {
		case 1:
			stalled = append(stalled, domain.Stall{Item: it, Reason: domain.StallStage, For: 80 * time.Hour, Threshold: 72 * time.Hour})
		case 2:
			stalled = append(stalled, domain.Stall{Item: it, Reason: domain.StallBlocked, For: 50 * time.Hour, Threshold: 48 * time.Hour})
			blocked = append(blocked, domain.BlockedItem{Item: it, DependsOn: []domain.Item{open[(i+1)%len(open)]}, Depth: 2})
		case 3:
			stalled = append(stalled, domain.Stall{Item: it, Reason: domain.StallHandoff, For: 30 * time.Hour, Threshold: 24 * time.Hour})
		}
	}
	top := p.Rank(open, renderNow)
	if len(top) > 10 {
		top = top[:10]
	}
	return domain.Digest{
		Period: domain.Period{From: renderNow.Add(-7 * 24 * time.Hour), To: renderNow}, Now: renderNow, Today: domain.DateOf(renderNow),
		OpenItems: items, Top: top, Loads: loads, Overloaded: overloaded, Stalled: stalled, Blocked: blocked,
		DueSoon: open[:min(len(open), 3)], Overdue: open[min(len(open), 3):min(len(open), 5)],
		Flow: domain.Flow{Created: 12, Completed: 9, Throughput: 1.8, CycleTimeP50: 50 * time.Hour, CycleTimeP85: 120 * time.Hour,
			WIPByStage: map[domain.StageID]int{domain.StageIntake: 3, domain.StageInProgress: items}, CompletionRate: 0.6, DeadlinesMet: 3, DeadlinesTotal: 4, DeadlineHitRate: 0.75},
	}
}

func TestDigestBlocksGolden(t *testing.T) {
	p := renderPolicy()
	small := seededDigest(4, 12)
	prev := domain.DigestSnapshot{Top: []domain.ItemID{1, 2}, Stalled: []domain.ItemID{2, 999}}
	golden(t, "digest_small", digestBlocks(small, small.ChangesSince(prev), true, p, "Work digest · Wed Nov 25"))

	large := seededDigest(2000, 30000)
	blocks := digestBlocks(large, large.ChangesSince(domain.DigestSnapshot{}), true, p, "Work digest · Wed Nov 25")
	checkBlocks(t, "digest large", blocks, maxMessageBlocks)
	golden(t, "digest_large", blocks)
}

func TestDigestChartIsAPNG(t *testing.T) {
	p := renderPolicy()
	d := seededDigest(30, 200)
	days := []domain.Date{{Year: 2026, Month: 11, Day: 23}, {Year: 2026, Month: 11, Day: 24}, {Year: 2026, Month: 11, Day: 25}}
	samples := []map[domain.StageID]int{{domain.StageInProgress: 5}, {domain.StageInProgress: 7, domain.StageReview: 2}, {domain.StageInProgress: 6}}
	raw, err := digestChartPNG(d.Loads, days, samples, p)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("not a PNG: %v", err)
	}
	if b := img.Bounds(); b.Dx() < 500 || b.Dy() < 500 {
		t.Errorf("chart is %v", b)
	}
	// An empty org still draws, so the digest never loses its picture to a corner case.
	if _, err := digestChartPNG(nil, nil, nil, p); err != nil {
		t.Errorf("empty chart: %v", err)
	}
}

func BenchmarkDigestRender(b *testing.B) {
	p := renderPolicy()
	for _, size := range []struct{ people, items int }{{100, 5000}, {2000, 100000}} {
		d := seededDigest(size.people, size.items)
		b.Run(fmt.Sprintf("people=%d/items=%d", size.people, size.items), func(b *testing.B) {
			for b.Loop() {
				_ = digestBlocks(d, d.ChangesSince(domain.DigestSnapshot{}), true, p, "Work digest")
			}
		})
	}
}

// BenchmarkDigestBuildAndRender measures what a scheduled digest costs before it is posted: building
// the data from a real bbolt file and rendering the blocks.
func BenchmarkDigestBuildAndRender(b *testing.B) {
	for _, size := range []struct{ people, items int }{{100, 5000}, {2000, 100000}} {
		b.Run(fmt.Sprintf("people=%d/open=%d", size.people, size.items), func(b *testing.B) {
			db := digestFixture(b, size.people, size.items)
			p := renderPolicy()
			bot := &Bot{store: kickingStore{Store: db}, policy: p, now: func() time.Time { return renderNow }}
			for b.Loop() {
				d, err := bot.buildDigest(context.Background(), renderNow, 10)
				if err != nil {
					b.Fatal(err)
				}
				blocks := digestBlocks(d, d.ChangesSince(domain.DigestSnapshot{}), true, p, "Work digest")
				if len(blocks) == 0 || d.OpenItems != size.items {
					b.Fatalf("digest of %d open items, %d blocks", d.OpenItems, len(blocks))
				}
			}
		})
	}
}

// digestFixture writes people and open items straight through the store, in large transactions.
func digestFixture(b *testing.B, people, items int) *storage.DB {
	db, err := storage.Open(filepath.Join(b.TempDir(), "digest.db"), storage.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	stages := []domain.StageID{domain.StageIntake, domain.StageTodo, domain.StageInProgress, domain.StageReview, domain.StageTesting}
	const chunk = 20000
	for lo := 1; lo <= items; lo += chunk {
		err := db.Update(context.Background(), func(tx domain.Tx) error {
			if lo == 1 {
				for i := 0; i < people; i++ {
					if err := tx.PutPerson(domain.Person{ID: domain.UserID(fmt.Sprintf("U%05d", i)), Capacity: 5 + i%15, CapacitySet: true}); err != nil {
						return err
					}
				}
			}
			for id := lo; id < lo+chunk && id <= items; id++ {
				created := renderNow.Add(-time.Duration(id%(30*24)) * time.Hour)
				it := domain.Item{
					ID: domain.ItemID(id), Key: fmt.Sprintf("W-%d", id), Title: fmt.Sprintf("Item %d", id), Requester: "UREQ",
					Value: 1 + id%5, Urgency: 1 + id%3, Size: domain.Sizes[id%len(domain.Sizes)], Stage: stages[id%len(stages)],
					Assignee: domain.UserID(fmt.Sprintf("U%05d", id%people)), Triaged: true,
					CreatedAt: created, StageEnteredAt: created, LastActivityAt: created, UpdatedAt: created,
				}
				if id%31 == 0 {
					it.BlockedReason, it.BlockedAt = "waiting", created
				}
				if id%17 == 0 {
					it.Due = domain.DateOf(renderNow.Add(time.Duration(id%9-4) * 24 * time.Hour))
				}
				if err := tx.PutItem(it); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	return db
}
