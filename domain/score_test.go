package domain

import (
	"math"
	"slices"
	"testing"
	"time"
)

// scoreTestPolicy ranks on a Mon–Fri UTC calendar.
func scoreTestPolicy() *Policy {
	return &Policy{Calendar: Calendar{
		WorkingDays: [7]bool{time.Monday: true, time.Tuesday: true, time.Wednesday: true, time.Thursday: true, time.Friday: true},
		Holidays:    map[Date]bool{{2026, time.March, 31}: true},
	}}
}

func TestScore(t *testing.T) {
	p := scoreTestPolicy()
	monday := time.Date(2026, 3, 23, 10, 0, 0, 0, time.UTC)
	friday := time.Date(2026, 3, 27, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		item    Item
		now     time.Time
		total   float64
		explain string
	}{
		{"DueInTwoWorkingDays", Item{Value: 4, Urgency: 3, Size: 8, Due: Date{2026, 3, 25}}, monday,
			76, "76 = value 4 (+40) + urgency 3 (+24) + due in 2 working days (+18) − size 8 (−6)"},
		{"NoDueSizeOne", Item{Value: 3, Urgency: 3, Size: 1}, monday,
			54, "54 = value 3 (+30) + urgency 3 (+24)"},
		{"Overdue", Item{Value: 1, Urgency: 1, Size: 2, Due: Date{2026, 3, 20}}, monday,
			56, "56 = value 1 (+10) + urgency 1 (+8) + overdue since 2026-03-20 (+40) − size 2 (−2)"},
		{"DueToday", Item{Value: 1, Urgency: 1, Size: 1, Due: Date{2026, 3, 23}}, monday,
			48, "48 = value 1 (+10) + urgency 1 (+8) + due today (+30)"},
		{"DueMondayFromFridayIsOneWorkingDay", Item{Value: 1, Urgency: 1, Size: 1, Due: Date{2026, 3, 30}}, friday,
			42, "42 = value 1 (+10) + urgency 1 (+8) + due in 1 working day (+24)"},
		// Tuesday 31 March is a holiday: Fri, Mon, Wed are the three working days before Thursday.
		{"HolidaySkipped", Item{Value: 1, Urgency: 1, Size: 1, Due: Date{2026, 4, 2}}, friday,
			30, "30 = value 1 (+10) + urgency 1 (+8) + due in 3 working days (+12)"},
		{"FourDays", Item{Value: 1, Urgency: 1, Size: 1, Due: Date{2026, 3, 27}}, monday,
			24, "24 = value 1 (+10) + urgency 1 (+8) + due in 4 working days (+6)"},
		{"ElevenDays", Item{Value: 1, Urgency: 1, Size: 1, Due: Date{2026, 4, 8}}, monday,
			20, "20 = value 1 (+10) + urgency 1 (+8) + due in 11 working days (+2)"},
		{"TwentyDaysAddsNothing", Item{Value: 1, Urgency: 1, Size: 1, Due: Date{2026, 4, 21}}, monday,
			18, "18 = value 1 (+10) + urgency 1 (+8)"},
		{"SizeThreeRoundsInText", Item{Value: 5, Urgency: 5, Size: 3}, monday,
			90 - 2*math.Log2(3), "86.8 = value 5 (+50) + urgency 5 (+40) − size 3 (−3.2)"},
		{"OutOfRangeClamped", Item{Value: 9, Urgency: -2, Size: 0}, monday,
			50, "50 = value 5 (+50) + urgency 0 (+0)"},
		{"Pinned", Item{Value: 2, Urgency: 2, Size: 1, Pin: 1}, monday,
			36, "Pinned #1 by a lead (formula: 36 = value 2 (+20) + urgency 2 (+16))"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := p.Score(tt.item, tt.now)
			if math.Abs(s.Total-tt.total) > 1e-9 {
				t.Errorf("Total = %v, want %v", s.Total, tt.total)
			}
			if got := s.Explain(); got != tt.explain {
				t.Errorf("Explain() = %q\n                 want %q", got, tt.explain)
			}
			sum := 0.0
			for _, part := range s.Parts {
				sum += part.Points
			}
			if math.Abs(sum-s.Total) > 1e-9 {
				t.Errorf("parts add up to %v, Total is %v", sum, s.Total)
			}
			if s.Pinned != max(tt.item.Pin, 0) {
				t.Errorf("Pinned = %d, want %d", s.Pinned, tt.item.Pin)
			}
		})
	}
}

func TestDuePressureNeverFallsAsTheDateNears(t *testing.T) {
	p := scoreTestPolicy()
	due := Date{2026, 5, 29}
	prev := -1.0
	for now := time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC); now.Before(time.Date(2026, 6, 10, 0, 0, 0, 0, time.UTC)); now = now.Add(24 * time.Hour) {
		s := p.Score(Item{Value: 1, Urgency: 1, Size: 1, Due: due}, now)
		if s.Total < prev {
			t.Fatalf("score fell from %v to %v on %v as the due date %v neared", prev, s.Total, now, due)
		}
		prev = s.Total
	}
}

func TestRank(t *testing.T) {
	p := scoreTestPolicy()
	now := time.Date(2026, 3, 23, 10, 0, 0, 0, time.UTC)
	old := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	newer := old.Add(time.Hour)
	items := []Item{
		{ID: 7, Value: 3, Urgency: 3, Size: 1, CreatedAt: old},                           // 54, same time as 6 → after it by ID
		{ID: 1, Value: 1, Urgency: 1, Size: 1, Pin: 2, CreatedAt: newer},                 // pinned second
		{ID: 5, Value: 3, Urgency: 3, Size: 1, CreatedAt: newer},                         // 54, newer → after 6 and 7
		{ID: 3, Value: 5, Urgency: 5, Size: 1, CreatedAt: newer},                         // 90
		{ID: 6, Value: 3, Urgency: 3, Size: 1, CreatedAt: old},                           // 54, oldest, lowest ID of the two
		{ID: 2, Value: 1, Urgency: 1, Size: 13, Pin: 1, CreatedAt: newer},                // pinned first despite the lowest score
		{ID: 4, Value: 2, Urgency: 1, Size: 2, CreatedAt: old},                           // 26
		{ID: 8, Value: 3, Urgency: 3, Size: 1, Due: Date{2026, 3, 20}, CreatedAt: newer}, // 94: overdue beats value
	}
	input := slices.Clone(items)
	ranked := p.Rank(items, now)

	var got []ItemID
	for i, r := range ranked {
		got = append(got, r.Item.ID)
		if r.Rank != i+1 {
			t.Errorf("%d: Rank = %d, want %d", r.Item.ID, r.Rank, i+1)
		}
		if want := p.Score(r.Item, now); r.Score.Total != want.Total || r.Score.Pinned != want.Pinned {
			t.Errorf("%d: Score = %+v, want %+v", r.Item.ID, r.Score, want)
		}
	}
	if want := []ItemID{2, 1, 8, 3, 6, 7, 5, 4}; !slices.Equal(got, want) {
		t.Errorf("order = %v, want %v", got, want)
	}
	for i := range items {
		if items[i].ID != input[i].ID {
			t.Fatalf("Rank reordered its input")
		}
	}

	// The order does not depend on the input order.
	for seed := 0; seed < 10; seed++ {
		shuffled := slices.Clone(items)
		for i := range shuffled {
			j := (i*7 + seed*3) % len(shuffled)
			shuffled[i], shuffled[j] = shuffled[j], shuffled[i]
		}
		var again []ItemID
		for _, r := range p.Rank(shuffled, now) {
			again = append(again, r.Item.ID)
		}
		if !slices.Equal(again, got) {
			t.Fatalf("shuffled input ranked %v, want %v", again, got)
		}
	}
}

func TestRankEmpty(t *testing.T) {
	if got := scoreTestPolicy().Rank(nil, time.Date(2026, 3, 23, 0, 0, 0, 0, time.UTC)); len(got) != 0 {
		t.Fatalf("Rank(nil) = %v, want empty", got)
	}
}
