package domain

import (
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// The priority score, one formula (WSJF-like: value and time pressure over size):
//
//	score = 10·value + 8·urgency + duePressure − sizePenalty
//
//	value, urgency  1..5 (out-of-range values are clamped to 0..5, so a missing one adds nothing)
//	duePressure     from n, the working days left before the due date (Calendar.WorkingDaysBetween(today, due)):
//	                  overdue (due date before today)  40
//	                  n = 0 (due today, or no working day left)  30
//	                  n = 1, 2, 3                        24, 18, 12   (30 − 6n)
//	                  n = 4..10                           6
//	                  n = 11..19                          2
//	                  n ≥ 20, or no due date              0
//	sizePenalty     2·log2(size): 1 → 0, 2 → 2, 3 → 3.2, 5 → 4.6, 8 → 6, 13 → 7.4 (0 for a size below 1)
//
// So value dominates, urgency follows closely, a deadline this week outweighs two steps of value, and
// size only breaks near-ties in favour of small items. A lead's pin overrides the score entirely: pinned
// items rank first, by pin number.
const (
	valueWeight   = 10
	urgencyWeight = 8
	sizeWeight    = 2

	overduePressure  = 40
	dueTodayPressure = 30
)

// ScorePart is one term of the score, for explanations.
type ScorePart struct {
	Name   string  // "value", "urgency", "due" or "size"
	Points float64 // signed contribution
	Detail string  // "value 4", "due in 2 working days", "overdue", "size 8"
}

// Score is an item's priority with its breakdown. Pinned is the lead's pin (0 when not pinned); Total
// is always the formula's result, pinned or not.
type Score struct {
	Total  float64
	Parts  []ScorePart
	Pinned int
}

// Explain says why the item ranks where it does, e.g.
// "62 = value 4 (+40) + urgency 3 (+24) + due in 2 working days (+18) − size 8 (−6)", or for a pinned
// item "Pinned #1 by a lead (formula: 62 = …)".
func (s Score) Explain() string {
	var b strings.Builder
	if s.Pinned > 0 {
		b.WriteString("Pinned #")
		b.WriteString(strconv.Itoa(s.Pinned))
		b.WriteString(" by a lead (formula: ")
	}
	b.WriteString(formatPoints(s.Total))
	b.WriteString(" =")
	for i, part := range s.Parts {
		switch {
		case i == 0 && part.Points >= 0:
			b.WriteString(" ")
		case part.Points < 0:
			b.WriteString(" − ")
		default:
			b.WriteString(" + ")
		}
		b.WriteString(part.Detail)
		if part.Points < 0 {
			b.WriteString(" (−" + formatPoints(-part.Points) + ")")
		} else {
			b.WriteString(" (+" + formatPoints(part.Points) + ")")
		}
	}
	if len(s.Parts) == 0 {
		b.WriteString(" 0")
	}
	if s.Pinned > 0 {
		b.WriteString(")")
	}
	return b.String()
}

// formatPoints rounds to one decimal and drops a trailing ".0".
func formatPoints(f float64) string {
	return strconv.FormatFloat(math.Round(f*10)/10, 'f', -1, 64)
}

func clampRating(v int) int {
	return min(max(v, 0), 5)
}

func sizePenalty(size int) float64 {
	if size <= 1 {
		return 0
	}
	return sizeWeight * math.Log2(float64(size))
}

// duePressure returns the due-date term and n, the working days left (-1 when overdue or no due date).
// daysLeft counts working days like Calendar.WorkingDaysBetween.
func duePressure(due, today Date, daysLeft func(from, to Date) int) (points float64, left int) {
	if due.IsZero() {
		return 0, -1
	}
	if due.Before(today) {
		return overduePressure, -1
	}
	n := daysLeft(today, due)
	switch {
	case n == 0:
		return dueTodayPressure, 0
	case n <= 3:
		return float64(dueTodayPressure - 6*n), n
	case n <= 10:
		return 6, n
	case n <= 19:
		return 2, n
	}
	return 0, n
}

// scoreTotal is the formula without the breakdown, for ranking many items without allocating.
func scoreTotal(it *Item, today Date, daysLeft func(from, to Date) int) float64 {
	due, _ := duePressure(it.Due, today, daysLeft)
	return float64(valueWeight*clampRating(it.Value)+urgencyWeight*clampRating(it.Urgency)) + due - sizePenalty(it.Size)
}

// Score computes the item's priority at now, with its breakdown (see the formula above).
func (p *Policy) Score(it Item, now time.Time) Score {
	return p.scoreOn(&it, p.Calendar.Today(now))
}

func (p *Policy) scoreOn(it *Item, today Date) Score {
	value, urgency := clampRating(it.Value), clampRating(it.Urgency)
	parts := make([]ScorePart, 0, 4)
	parts = append(parts,
		ScorePart{Name: "value", Points: float64(valueWeight * value), Detail: "value " + strconv.Itoa(value)},
		ScorePart{Name: "urgency", Points: float64(urgencyWeight * urgency), Detail: "urgency " + strconv.Itoa(urgency)},
	)
	if due, left := duePressure(it.Due, today, p.Calendar.WorkingDaysBetween); due > 0 {
		var detail string
		switch {
		case it.Due.Before(today):
			detail = "overdue since " + it.Due.String()
		case left == 0:
			detail = "due today"
		case left == 1:
			detail = "due in 1 working day"
		default:
			detail = "due in " + strconv.Itoa(left) + " working days"
		}
		parts = append(parts, ScorePart{Name: "due", Points: due, Detail: detail})
	}
	if pen := sizePenalty(it.Size); pen > 0 {
		parts = append(parts, ScorePart{Name: "size", Points: -pen, Detail: "size " + strconv.Itoa(it.Size)})
	}
	s := Score{Parts: parts}
	for _, part := range parts {
		s.Total += part.Points
	}
	if it.Pin > 0 {
		s.Pinned = it.Pin
	}
	return s
}

// Ranked is an item with its score and 1-based rank in a list.
type Ranked struct {
	Item  Item
	Score Score
	Rank  int
}

// rankedBefore is the one ordering of the product: pinned items first by pin, then by score descending,
// then older first, then by ID, so every list is deterministic.
func rankedBefore(a, b *Item, aTotal, bTotal float64) bool {
	return rankKeyBefore(rankKey{a.Pin, aTotal, a.CreatedAt, a.ID}, rankKey{b.Pin, bTotal, b.CreatedAt, b.ID})
}

// rankKey is what rankedBefore reads of an item: its pin, score, creation and ID.
type rankKey struct {
	pin     int
	total   float64
	created time.Time
	id      ItemID
}

func rankKeyBefore(a, b rankKey) bool {
	aPinned, bPinned := a.pin > 0, b.pin > 0
	switch {
	case aPinned != bPinned:
		return aPinned
	case aPinned && a.pin != b.pin:
		return a.pin < b.pin
	case a.total != b.total:
		return a.total > b.total
	case !a.created.Equal(b.created):
		return a.created.Before(b.created)
	}
	return a.id < b.id
}

// Rank scores items at now and returns them in priority order with ranks from 1. The input is not
// modified.
func (p *Policy) Rank(items []Item, now time.Time) []Ranked {
	today := p.Calendar.Today(now)
	out := make([]Ranked, len(items))
	for i := range items {
		out[i] = Ranked{Item: items[i], Score: p.scoreOn(&items[i], today)}
	}
	sort.SliceStable(out, func(i, j int) bool {
		return rankedBefore(&out[i].Item, &out[j].Item, out[i].Score.Total, out[j].Score.Total)
	})
	for i := range out {
		out[i].Rank = i + 1
	}
	return out
}
