package domain

import (
	"context"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// TestTopOpenEqualsFullRank checks the bounded ranking against sorting everything, on random items
// built to collide: few distinct values, shared creation times, pins and due dates around today, so
// every tie-break of rankedBefore decides somewhere.
func TestTopOpenEqualsFullRank(t *testing.T) {
	p := digestTestPolicy(t)
	now := calTestAt(p.Calendar.Location, 2026, 3, 25, 9, 0)
	today := p.Calendar.Today(now)
	stages := []StageID{"intake", "todo", "in_progress", "done"}
	teams := []TeamID{"", "core", "web"}
	for seed := uint64(1); seed <= 30; seed++ {
		rng := rand.New(rand.NewPCG(seed, 99))
		store := newMemStore()
		var all []Item
		n := 1 + rng.IntN(400)
		for i := 1; i <= n; i++ {
			it := Item{
				ID: ItemID(i), Stage: stages[rng.IntN(len(stages))], Team: teams[rng.IntN(len(teams))],
				Value: rng.IntN(6), Urgency: rng.IntN(6), Size: Sizes[rng.IntN(len(Sizes))],
				CreatedAt: now.Add(-time.Duration(rng.IntN(5)) * time.Hour),
			}
			if rng.IntN(8) == 0 {
				it.Pin = 1 + rng.IntN(3)
			}
			if rng.IntN(3) == 0 {
				it.Due = today.AddDays(rng.IntN(30) - 5)
			}
			if it.Stage == "done" {
				it.Resolution, it.DoneAt = ResolutionDone, now
			}
			store.state.items[it.ID] = it
			all = append(all, it)
		}
		for _, tc := range []struct {
			scope Scope
			want  func(Item) bool
		}{
			{Scope{}, func(it Item) bool { return it.Open() }},
			{Scope{Stage: "todo"}, func(it Item) bool { return it.Open() && it.Stage == "todo" }},
			{Scope{Team: "core"}, func(it Item) bool { return it.Open() && it.Team == "core" }},
		} {
			var eligible []Item
			for _, it := range all {
				if tc.want(it) {
					eligible = append(eligible, it)
				}
			}
			full := p.Rank(eligible, now)
			for _, limit := range []int{0, 1, 3, 20, n + 5} {
				for _, path := range []string{"rank index", "briefs"} {
					var got []Ranked
					var total int
					err := store.View(context.Background(), func(tx ReadTx) error {
						if path == "briefs" {
							tx = briefsOnly{tx}
						} else if _, ok := tx.(RankReader); !ok {
							t.Fatal("the memory store has no rank index")
						}
						var err error
						got, total, err = p.TopOpen(tx, tc.scope, limit, now)
						return err
					})
					if err != nil {
						t.Fatal(err)
					}
					want := full[:min(limit, len(full))]
					if total != len(full) || !slices.EqualFunc(got, want, func(a, b Ranked) bool {
						return a.Item.ID == b.Item.ID && a.Rank == b.Rank && a.Score.Total == b.Score.Total
					}) {
						t.Fatalf("seed %d %+v limit %d by %s: TopOpen = %v (total %d), Rank = %v (total %d)",
							seed, tc.scope, limit, path, rankedIDs(got), total, rankedIDs(want), len(full))
					}
				}
			}
		}
	}
}

// briefsOnly hides a store's rank index, so TopOpen takes its other path.
type briefsOnly struct{ ReadTx }

func rankedIDs(rs []Ranked) []ItemID {
	out := make([]ItemID, len(rs))
	for i, r := range rs {
		out[i] = r.Item.ID
	}
	return out
}

// TestLoadsFromEqualsComputeLoads: the loads built from workloads are the ones built from the items.
func TestLoadsFromEqualsComputeLoads(t *testing.T) {
	p := digestTestPolicy(t)
	today := Date{2026, 3, 25}
	rng := rand.New(rand.NewPCG(5, 5))
	users := []UserID{"a", "b", "c", "d", "e"}
	var people []Person
	for i, u := range users[:3] {
		people = append(people, Person{ID: u, Capacity: i * 4, CapacitySet: i > 0, AwayUntil: Date{2026, 3, 20 + 5*i}})
	}
	var items []Item
	for i := 1; i <= 60; i++ {
		it := Item{ID: ItemID(i), Assignee: users[rng.IntN(len(users))], Size: Sizes[rng.IntN(len(Sizes))]}
		if rng.IntN(6) == 0 {
			it.Assignee = ""
		}
		if rng.IntN(5) == 0 {
			it.Resolution = ResolutionDone
		}
		items = append(items, it)
	}
	c, work := recountOpen(slices.Values(items))
	if c.Total == 0 {
		t.Fatal("no open items")
	}
	got, want := p.LoadsFrom(people, work, today), p.ComputeLoads(people, items, today)
	if !slices.Equal(got, want) {
		t.Fatalf("LoadsFrom = %+v\nComputeLoads = %+v", got, want)
	}
	for _, person := range people {
		if p.LoadWith(person, work[person.ID], today) != p.LoadOf(person, items, today) {
			t.Errorf("LoadWith(%s) differs from LoadOf", person.ID)
		}
	}
}
