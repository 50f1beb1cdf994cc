package domain

import (
	"cmp"
	"iter"
	"maps"
	"slices"
	"time"
)

// The test doubles answer ReadTx's aggregate reads by recounting items and events: that recount is
// what the port promises the reads equal.

func recountOpen(items iter.Seq[Item]) (OpenCounts, map[UserID]Workload) {
	c := OpenCounts{ByStage: map[StageID]int{}, ByTeam: map[TeamID]int{}}
	work := map[UserID]Workload{}
	for it := range items {
		if !it.Open() {
			continue
		}
		c.Total++
		c.ByStage[it.Stage]++
		c.ByTeam[it.Team]++
		if it.Assignee != "" {
			w := work[it.Assignee]
			w.Points += it.Size
			w.Items++
			work[it.Assignee] = w
		}
	}
	return c, work
}

func visitWorkloads(work map[UserID]Workload, fn func(UserID, Workload) bool) {
	for _, u := range slices.Sorted(maps.Keys(work)) {
		if !fn(u, work[u]) {
			return
		}
	}
}

func visitBriefs(items iter.Seq[Item], stage StageID, fn func(Brief) bool) {
	for it := range items {
		if it.Open() && (stage == "" || it.Stage == stage) && !fn(BriefOf(&it)) {
			return
		}
	}
}

func visitClosures(items iter.Seq[Item], from, to time.Time, fn func(Closure) bool) {
	var out []Closure
	for it := range items {
		if !it.Open() && !it.DoneAt.Before(from) && it.DoneAt.Before(to) {
			out = append(out, ClosureOf(&it))
		}
	}
	slices.SortFunc(out, func(a, b Closure) int {
		if c := a.DoneAt.Compare(b.DoneAt); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	for _, c := range out {
		if !fn(c) {
			return
		}
	}
}

func countEvents(events []Event, typ EventType, from, to time.Time) int {
	n := 0
	for _, e := range events {
		if e.Type == typ && !e.At.Before(from) && e.At.Before(to) {
			n++
		}
	}
	return n
}
