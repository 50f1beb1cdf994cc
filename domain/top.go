package domain

import (
	"container/heap"
	"fmt"
	"time"
)

// TopOpen ranks the open items in stage ("" for every stage) that keep accepts (nil accepts all), and
// returns the first n in Rank's order, with their scores and ranks, and how many items were ranked in
// all. It is Rank(all)[:n] without sorting all: briefs stream through a bounded heap that holds the
// best n so far, and only those n are read whole. The order is rankedBefore's, the one every list
// uses.
func (p *Policy) TopOpen(tx ReadTx, stage StageID, keep func(Brief) bool, n int, now time.Time) ([]Ranked, int, error) {
	today := p.Calendar.Today(now)
	cal := p.Calendar.prepare()
	daysLeft := cal.workingDaysBetween
	h := &rankHeap{}
	total := 0
	err := tx.OpenBriefs(stage, func(b Brief) bool {
		if keep != nil && !keep(b) {
			return true
		}
		total++
		if n <= 0 {
			return true
		}
		c := rankCandidate{it: Item{ID: b.ID, Pin: b.Pin, CreatedAt: b.CreatedAt, Value: b.Value,
			Urgency: b.Urgency, Size: b.Size, Due: b.Due}}
		c.total = scoreTotal(&c.it, today, daysLeft)
		switch {
		case h.Len() < n:
			heap.Push(h, c)
		case c.before(&(*h)[0]):
			(*h)[0] = c
			heap.Fix(h, 0)
		}
		return true
	})
	if err != nil {
		return nil, 0, err
	}
	items := make([]Item, 0, h.Len())
	for _, c := range *h {
		it, err := tx.Item(c.it.ID)
		if err != nil {
			return nil, 0, fmt.Errorf("reading ranked item %d: %w", c.it.ID, err)
		}
		items = append(items, it)
	}
	return p.Rank(items, now), total, nil
}

// rankCandidate is an item reduced to what rankedBefore and scoreTotal read.
type rankCandidate struct {
	it    Item
	total float64
}

func (c *rankCandidate) before(o *rankCandidate) bool {
	return rankedBefore(&c.it, &o.it, c.total, o.total)
}

// rankHeap keeps the worst of the best n on top, so a newcomer is compared with it alone.
type rankHeap []rankCandidate

func (h rankHeap) Len() int           { return len(h) }
func (h rankHeap) Less(i, j int) bool { return h[j].before(&h[i]) }
func (h rankHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *rankHeap) Push(x any)        { *h = append(*h, x.(rankCandidate)) }
func (h *rankHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
