package bot

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image/png"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"

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

// seededAlignment is last week's plan versus execution by hand: 12 points, 7 planned, 3 interrupts and
// 2 other, with neglected priorities taken from items.
func seededAlignment(items []domain.Item, neglected int) domain.Alignment {
	p := renderPolicy()
	week := p.Calendar.WeeksBefore(renderNow, 1)[0]
	a := domain.Alignment{
		Week: week, PlanKnown: true, SharesDefined: true,
		Plan:   domain.PrioritySnapshot{Date: domain.DateOf(week.From), At: week.From, N: 10},
		Points: domain.AlignmentPoints{Total: 12, Planned: 7, Interrupt: 3, Other: 2},
		Shares: domain.AlignmentShares{Planned: 7.0 / 12, Interrupt: 3.0 / 12, Other: 2.0 / 12},
	}
	for i := range min(neglected, len(items)) {
		it := items[i]
		entry := domain.PlannedItem{ID: it.ID, Rank: i + 1, Size: it.Size}
		a.Plan.Items = append(a.Plan.Items, entry)
		a.Neglected = append(a.Neglected, domain.NeglectedItem{
			Item: it, Planned: entry, LastTouched: week.From.Add(-48 * time.Hour), Idle: 7*24*time.Hour + time.Duration(i)*time.Hour,
			InTopSince: week.From, InTopDate: domain.DateOf(week.From), InTop: 5 * 24 * time.Hour, InTopAtLeast: i%2 == 0,
		})
	}
	a.PlanItems = len(a.Plan.Items)
	return a
}

func TestDigestBlocksGolden(t *testing.T) {
	p := renderPolicy()
	small := seededDigest(4, 12)
	prev := domain.DigestSnapshot{Top: []domain.ItemID{1, 2}, Stalled: []domain.ItemID{2, 999}}
	var items []domain.Item
	for _, r := range small.Top {
		items = append(items, r.Item)
	}
	smallPlan := seededAlignment(items, 2)
	golden(t, "digest_small", digestBlocks(small, small.ChangesSince(prev), true, p, "Work digest · Wed Nov 25", &smallPlan))

	large := seededDigest(2000, 30000)
	items = items[:0]
	for _, r := range large.Top {
		items = append(items, r.Item)
	}
	largePlan := seededAlignment(items, 10)
	blocks := digestBlocks(large, large.ChangesSince(domain.DigestSnapshot{}), true, p, "Work digest · Wed Nov 25", &largePlan)
	checkBlocks(t, "digest large", blocks, maxMessageBlocks)
	golden(t, "digest_large", blocks)
}

// TestAlignmentRenderingLimits: the command's answer stays within Slack's limits however many
// priorities were neglected and however long their titles, and says how many it left out.
func TestAlignmentRenderingLimits(t *testing.T) {
	p := renderPolicy()
	var items []domain.Item
	for i := 1; i <= domain.MaxDigestTop; i++ {
		items = append(items, domain.Item{ID: domain.ItemID(i), Key: fmt.Sprintf("W-%d", i), Title: strings.Repeat("<!channel> & ", 20)})
	}
	a := seededAlignment(items, len(items))
	trend := []domain.Alignment{{Week: a.Week}, a, a, a}
	blocks := alignmentBlocks(trend, p, "Platform")
	checkBlocks(t, "alignment", blocks, maxMessageBlocks)
	text := blocksText(t, blocks)
	for _, want := range []string{"Neglected priorities* (1000)", "more, see `/work list`", "58% · 25% · 17% of 12 pts"} {
		if !strings.Contains(text, want) {
			t.Errorf("missing %q in:\n%s", want, text)
		}
	}
	if strings.Contains(text, "<!channel>") {
		t.Errorf("a title went out unescaped")
	}
	section := alignmentDigestSection(a, p)
	if n := len([]rune(section)); n > maxSectionText || !strings.Contains(section, "…and 997 more, see `/work alignment`.") {
		t.Errorf("digest section (%d runes):\n%s", n, section)
	}
}

func blocksText(t *testing.T, blocks []slack.Block) string {
	t.Helper()
	raw, err := json.Marshal(blocks)
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	var parts []string
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if s, ok := x["text"].(string); ok {
				parts = append(parts, s)
			}
			for _, c := range x {
				walk(c)
			}
		case []any:
			for _, c := range x {
				walk(c)
			}
		}
	}
	walk(v)
	return strings.Join(parts, "\n")
}

func TestShareBar(t *testing.T) {
	tests := []struct {
		shares domain.AlignmentShares
		want   string
	}{
		{domain.AlignmentShares{Planned: 7.0 / 12, Interrupt: 3.0 / 12, Other: 2.0 / 12}, "████████████▓▓▓▓▓▒▒▒"},
		{domain.AlignmentShares{Planned: 1}, "████████████████████"},
		{domain.AlignmentShares{Interrupt: 1.0 / 3, Other: 1.0 / 3, Unknown: 1.0 / 3}, "▓▓▓▓▓▓▓▒▒▒▒▒▒▒░░░░░░"},
		{domain.AlignmentShares{Planned: 0.99, Other: 0.01}, "████████████████████"},
		{domain.AlignmentShares{}, ""},
	}
	for _, tc := range tests {
		if got := shareBar(tc.shares, 20); got != tc.want {
			t.Errorf("shareBar(%+v) = %q, want %q", tc.shares, got, tc.want)
		}
	}
}

func TestDigestChartIsAPNG(t *testing.T) {
	p := renderPolicy()
	d := seededDigest(30, 200)
	days := []domain.Date{{Year: 2026, Month: 11, Day: 23}, {Year: 2026, Month: 11, Day: 24}, {Year: 2026, Month: 11, Day: 25}}
	samples := []map[domain.StageID]int{{domain.StageInProgress: 5}, {domain.StageInProgress: 7, domain.StageReview: 2}, {domain.StageInProgress: 6}}
	plan := seededAlignment(nil, 0)
	trend := []domain.Alignment{{Week: plan.Week}, {Week: plan.Week, SharesDefined: true,
		Points: domain.AlignmentPoints{Total: 4, Interrupt: 1, Unknown: 3}, Shares: domain.AlignmentShares{Interrupt: .25, Unknown: .75}}, plan, plan}
	raw, err := digestChartPNG(d.Loads, days, samples, trend, p)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("not a PNG: %v", err)
	}
	// Three panels stacked: clearly taller than wide.
	if b := img.Bounds(); b.Dx() < 500 || b.Dy() < 4*b.Dx()/3 {
		t.Errorf("chart is %v", b)
	}
	// An empty org still draws, so the digest never loses its picture to a corner case.
	if _, err := digestChartPNG(nil, nil, nil, nil, p); err != nil {
		t.Errorf("empty chart: %v", err)
	}
}

func BenchmarkDigestRender(b *testing.B) {
	p := renderPolicy()
	for _, size := range []struct{ people, items int }{{100, 5000}, {2000, 100000}} {
		d := seededDigest(size.people, size.items)
		b.Run(fmt.Sprintf("people=%d/items=%d", size.people, size.items), func(b *testing.B) {
			for b.Loop() {
				_ = digestBlocks(d, d.ChangesSince(domain.DigestSnapshot{}), true, p, "Work digest", nil)
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
				blocks := digestBlocks(d, d.ChangesSince(domain.DigestSnapshot{}), true, p, "Work digest", nil)
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
