package domain

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// digestBenchFixture builds a busy tracker: n open items over n/20 people and five stages, with due
// dates, blockers, dependencies and pending handoffs in realistic shares, and a day of events naming
// n/50 closed items. Items last entered their stage up to quietDays ago: 30 makes a stale backlog
// where over half the items are stalled (the digest's worst case), 4 an active team. Generation is
// seeded, so runs compare.
func digestBenchFixture(tb testing.TB, n, quietDays int) (*Policy, *digestFixtureTx, time.Time, time.Time, time.Time) {
	p := digestTestPolicy(tb)
	b := p.Calendar.Location
	now := calTestAt(b, 2026, 3, 25, 9, 0)
	from, to := calTestAt(b, 2026, 3, 24, 9, 0), now
	r := rand.New(rand.NewPCG(42, uint64(n)))
	stages := []StageID{"intake", "todo", "in_progress", "review", "testing"}
	nPeople := max(n/20, 5)

	people := make([]Person, nPeople)
	for i := range people {
		people[i] = Person{ID: UserID(fmt.Sprintf("U%05d", i))}
		if i%7 == 0 {
			people[i].Capacity, people[i].CapacitySet = 20, true
		}
	}
	past := func(maxDays int) time.Time {
		return now.Add(-time.Duration(r.Int64N(int64(maxDays) * int64(24*time.Hour))))
	}
	items := make([]Item, 0, n+n/50)
	var handoffs []Handoff
	for i := 1; i <= n; i++ {
		entered := past(quietDays)
		it := Item{
			ID: ItemID(i), Key: FormatKey("W", ItemID(i)), Title: "benchmark item",
			Stage: stages[r.IntN(len(stages))], Triaged: r.IntN(4) > 0,
			Value: 1 + r.IntN(5), Urgency: 1 + r.IntN(5), Size: Sizes[r.IntN(len(Sizes))],
			CreatedAt: entered.Add(-time.Duration(r.IntN(30)) * 24 * time.Hour), StageEnteredAt: entered, LastActivityAt: entered,
		}
		if r.IntN(10) < 8 {
			it.Assignee = people[r.IntN(nPeople)].ID
		}
		if r.IntN(5) == 0 {
			it.Due = DateOf(now.In(b)).AddDays(r.IntN(60) - 15)
		}
		if r.IntN(20) == 0 {
			it.BlockedReason, it.BlockedAt = "waiting", past(10)
		}
		if r.IntN(50) == 0 && i > 1 {
			it.DependsOn, it.DependsSince = []ItemID{ItemID(1 + r.IntN(n))}, past(10)
		}
		if r.IntN(100) == 0 {
			h := Handoff{ID: HandoffID(len(handoffs) + 1), ItemID: it.ID, Status: HandoffPending, RequestedAt: past(5)}
			handoffs = append(handoffs, h)
			it.PendingHandoff = h.ID
		}
		if r.IntN(200) == 0 {
			it.Pin = 1 + r.IntN(5)
		}
		items = append(items, it)
	}
	var events []Event
	for i := 0; i < n/50; i++ {
		id := ItemID(n + 1 + i)
		done := from.Add(time.Duration(r.Int64N(int64(to.Sub(from)))))
		items = append(items, Item{ID: id, Stage: "done", Resolution: ResolutionDone, Size: 3, CreatedAt: past(40), DoneAt: done})
		events = append(events,
			Event{At: done, Type: EventMoved, ItemID: id},
			Event{At: done.Add(-time.Minute), Type: EventEdited, ItemID: id},
			Event{At: done.Add(-2 * time.Minute), Type: EventCreated, ItemID: ItemID(1 + r.IntN(n))})
	}
	return p, newDigestFixture(items, handoffs, people, events), from, to, now
}

func BenchmarkBuildDigest(b *testing.B) {
	for _, bc := range []struct {
		n, quietDays int
		name         string
	}{{1_000, 30, "stale"}, {10_000, 30, "stale"}, {100_000, 30, "stale"}, {100_000, 4, "active"}} {
		n := bc.n
		b.Run(fmt.Sprintf("open=%d/%s", n, bc.name), func(b *testing.B) {
			p, tx, from, to, now := digestBenchFixture(b, n, bc.quietDays)
			b.ReportAllocs()
			for b.Loop() {
				tx.pointReads = tx.pointReads[:0]
				d, err := BuildDigest(tx, p, from, to, now, 10)
				if err != nil {
					b.Fatal(err)
				}
				if len(d.Top) != 10 || d.OpenItems != n {
					b.Fatalf("digest of %d items has %d top and %d open", n, len(d.Top), d.OpenItems)
				}
				b.ReportMetric(float64(len(d.Stalled))/float64(n)*100, "%stalled")
			}
		})
	}
}

func BenchmarkWorkingTime(b *testing.B) {
	cal := calTestWeekdays(b)
	from := calTestAt(cal.Location, 2026, 3, 2, 9, 0)
	for _, span := range []time.Duration{8 * time.Hour, 10 * 24 * time.Hour, 400 * 24 * time.Hour} {
		b.Run(span.String(), func(b *testing.B) {
			to := from.Add(span)
			for b.Loop() {
				if cal.WorkingTime(from, to) <= 0 {
					b.Fatal("no working time")
				}
			}
		})
	}
}
