package domain

import (
	"container/heap"
	"fmt"
	"time"
)

// Scope narrows a ranking to one stage or one team; the zero Scope is every open item.
type Scope struct {
	Stage StageID
	Team  TeamID
}

func (s Scope) admits(b *Brief) bool {
	return (s.Stage == "" || b.Stage == s.Stage) && (s.Team == "" || b.Team == s.Team)
}

// StaticScore is the part of an item's score that does not depend on the day: value and urgency
// less the size penalty (score.go). An item's score is at most StaticScore plus the overdue pressure.
func StaticScore(value, urgency, size int) float64 {
	it := Item{Value: value, Urgency: urgency, Size: size}
	return scoreTotal(&it, Date{}, nil)
}

// maxDuePressure is the most a due date adds to a score (overdue).
const maxDuePressure = overduePressure

// RankEntry is an open item as a ranking index holds it: what its score and rank are made of.
type RankEntry struct {
	ID                   ItemID
	Pin                  int
	Value, Urgency, Size int
	Due                  Date
	CreatedAt            time.Time
}

// RankReader is an optional addition to ReadTx for stores that keep the open items in an index
// ordered for ranking. OpenByRank visits the open items in scope: pinned ones first, by pin, then the
// rest by StaticScore, highest first (ties in any order); fn returning false stops. TopOpen then reads
// only the items that can still reach the first n, instead of every open item.
type RankReader interface {
	OpenByRank(scope Scope, fn func(RankEntry) bool) error
}

// TopOpen ranks the open items in scope and returns the first n in Rank's order, with their scores and
// ranks, and how many are in scope. It is Rank(all)[:n] without sorting all: candidates stream through
// a bounded heap that holds the best n so far, and only those n are read whole. The order is
// rankedBefore's, the one every list uses.
//
// With a RankReader the stream stops as soon as no item left can reach the heap: items come by
// StaticScore, and a due date adds at most maxDuePressure, so once the next item's StaticScore plus
// that falls below the n-th best score nothing after it can rank higher. Without one, every open
// item's brief is visited.
func (p *Policy) TopOpen(tx ReadTx, scope Scope, n int, now time.Time) ([]Ranked, int, error) {
	today := p.Calendar.Today(now)
	cal := p.Calendar.prepare()
	daysLeft := cal.workingDaysBetween
	h := &rankHeap{}
	var scratch Item // scoreTotal's argument, reused
	consider := func(id ItemID, pin, value, urgency, size int, due Date, created time.Time) {
		scratch.Value, scratch.Urgency, scratch.Size, scratch.Due = value, urgency, size, due
		c := rankKey{pin: pin, total: scoreTotal(&scratch, today, daysLeft), created: created, id: id}
		switch {
		case h.Len() < n:
			heap.Push(h, c)
		case rankKeyBefore(c, (*h)[0]):
			(*h)[0] = c
			heap.Fix(h, 0)
		}
	}
	r, ok := tx.(RankReader)
	if !ok || (scope.Stage != "" && scope.Team != "") {
		return p.topByBriefs(tx, scope, n, now)
	}
	counts, err := tx.OpenCounts()
	if err != nil {
		return nil, 0, err
	}
	total := counts.Total
	switch {
	case scope.Stage != "":
		total = counts.ByStage[scope.Stage]
	case scope.Team != "":
		total = counts.ByTeam[scope.Team]
	}
	if n > 0 {
		err = r.OpenByRank(scope, func(e RankEntry) bool {
			if e.Pin <= 0 && h.Len() == n {
				worst := (*h)[0]
				// A pinned item outranks every unpinned one; otherwise compare the most this item
				// (and so every later one) could score. The margin covers rounding between the two
				// ways of adding the same terms.
				if worst.pin > 0 || StaticScore(e.Value, e.Urgency, e.Size)+maxDuePressure < worst.total-1e-6 {
					return false
				}
			}
			consider(e.ID, e.Pin, e.Value, e.Urgency, e.Size, e.Due, e.CreatedAt)
			return true
		})
		if err != nil {
			return nil, 0, err
		}
	}
	return p.readRanked(tx, h, now, total)
}

// topByBriefs is TopOpen over every open item's brief.
func (p *Policy) topByBriefs(tx ReadTx, scope Scope, n int, now time.Time) ([]Ranked, int, error) {
	today := p.Calendar.Today(now)
	cal := p.Calendar.prepare()
	daysLeft := cal.workingDaysBetween
	h := &rankHeap{}
	var scratch Item
	total := 0
	err := tx.OpenBriefs(scope.Stage, func(b Brief) bool {
		if !scope.admits(&b) {
			return true
		}
		total++
		if n <= 0 {
			return true
		}
		scratch.Value, scratch.Urgency, scratch.Size, scratch.Due = b.Value, b.Urgency, b.Size, b.Due
		c := rankKey{pin: b.Pin, total: scoreTotal(&scratch, today, daysLeft), created: b.CreatedAt, id: b.ID}
		switch {
		case h.Len() < n:
			heap.Push(h, c)
		case rankKeyBefore(c, (*h)[0]):
			(*h)[0] = c
			heap.Fix(h, 0)
		}
		return true
	})
	if err != nil {
		return nil, 0, err
	}
	return p.readRanked(tx, h, now, total)
}

// readRanked reads the heap's items whole and ranks them.
func (p *Policy) readRanked(tx ReadTx, h *rankHeap, now time.Time, total int) ([]Ranked, int, error) {
	items := make([]Item, 0, h.Len())
	for _, c := range *h {
		it, err := tx.Item(c.id)
		if err != nil {
			return nil, 0, fmt.Errorf("reading ranked item %d: %w", c.id, err)
		}
		items = append(items, it)
	}
	return p.Rank(items, now), total, nil
}

// rankHeap keeps the worst of the best n on top, so a newcomer is compared with it alone.
type rankHeap []rankKey

func (h rankHeap) Len() int           { return len(h) }
func (h rankHeap) Less(i, j int) bool { return rankKeyBefore(h[j], h[i]) }
func (h rankHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *rankHeap) Push(x any)        { *h = append(*h, x.(rankKey)) }
func (h *rankHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
