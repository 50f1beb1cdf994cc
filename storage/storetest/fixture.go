package storetest

import (
	"fmt"
	"time"

	"workbot/domain"
)

// FixtureSpec is the shape of a benchmark database: Open open items spread among Closed closed ones.
type FixtureSpec struct {
	Open, Closed int
}

func (f FixtureSpec) String() string {
	if f.Closed == 0 {
		return "open=" + count(f.Open)
	}
	return "open=" + count(f.Open) + "+closed=" + count(f.Closed)
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

// BenchNow is the fixtures' "now": a Wednesday noon, so the digest week has working days behind it.
var BenchNow = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

// FixtureSink receives a fixture's records in the order a store would write them.
type FixtureSink interface {
	PutPerson(domain.Person) error
	PutItem(domain.Item) error
	PutHandoff(domain.Handoff) error
	AppendEvent(domain.Event) error
}

// Fixture emits the benchmark database the bbolt benchmarks use (storage/bench_test.go builds the same
// shapes through its own transactions): 50 people; spec.Closed items closed before the digest week;
// then spec.Open open items that arrived over the last month, with 2,000 items finished during the
// week spread among them; pending handoffs on 1% of open items; and the week's events (creations
// and completions). The week's activity is the same whatever the history, so fixtures compare the
// cost of history alone.
func Fixture(spec FixtureSpec, sink FixtureSink) error {
	people := make([]domain.UserID, 50)
	for i := range people {
		people[i] = domain.UserID(fmt.Sprintf("U%08d", i))
		if err := sink.PutPerson(domain.Person{ID: people[i], Team: "eng", Capacity: 8 + i%8, CapacitySet: true}); err != nil {
			return err
		}
	}
	openStages := []domain.StageID{domain.StageIntake, domain.StageTodo, domain.StageInProgress, domain.StageReview, domain.StageTesting}
	sizes := domain.Sizes
	const recentDone = 2_000
	live := spec.Open + recentDone
	total := spec.Closed + live
	doneEvery := max(1, live/recentDone)
	weekAgo := BenchNow.Add(-7 * 24 * time.Hour)
	liveSpan := 30 * 24 * time.Hour
	handoffs, done := 0, 0
	for id := 1; id <= total; id++ {
		var created time.Time
		history := id <= spec.Closed
		if history {
			created = weekAgo.Add(-48*time.Hour - time.Duration(spec.Closed-id+1)*time.Minute)
		} else {
			k := id - spec.Closed
			created = BenchNow.Add(-liveSpan + time.Duration(k)*liveSpan/time.Duration(live+1))
		}
		it := domain.Item{
			ID: domain.ItemID(id), Key: domain.FormatKey("W", domain.ItemID(id)), Title: fmt.Sprintf("Item %d", id),
			Requester: people[id%len(people)], Team: "eng", Value: 1 + id%5, Urgency: 1 + id%3, Size: sizes[id%len(sizes)],
			CreatedAt: created, StageEnteredAt: created, LastActivityAt: created, UpdatedAt: created, Version: 1,
		}
		finishedThisWeek := !history && (id-spec.Closed)%doneEvery == 0 && done < recentDone
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
				it.Due = domain.DateOf(BenchNow.Add(time.Duration(id%10-3) * 24 * time.Hour))
			}
			if id%29 == 0 {
				it.BlockedReason, it.BlockedAt = "waiting on another team", created
			}
			if id%100 == 0 {
				handoffs++
				h := domain.Handoff{ID: domain.HandoffID(handoffs), ItemID: it.ID, From: it.Assignee,
					To: people[(id+1)%len(people)], Status: domain.HandoffPending, RequestedBy: it.Assignee, RequestedAt: created}
				it.PendingHandoff = h.ID
				if err := sink.PutHandoff(h); err != nil {
					return err
				}
			}
		}
		if err := sink.PutItem(it); err != nil {
			return err
		}
		if created.After(weekAgo) {
			if err := sink.AppendEvent(domain.Event{At: created, Actor: it.Requester, Type: domain.EventCreated, ItemID: it.ID}); err != nil {
				return err
			}
		}
		if finishedThisWeek {
			if err := sink.AppendEvent(domain.Event{At: it.DoneAt, Actor: it.Requester, Type: domain.EventMoved, ItemID: it.ID,
				Changes: []domain.Change{{Field: "stage", Before: string(domain.StageInProgress), After: string(domain.StageDone)}}}); err != nil {
				return err
			}
		}
	}
	return nil
}
