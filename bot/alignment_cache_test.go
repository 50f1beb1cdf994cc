package bot

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"workbot/domain"
)

// weeksComputed is how many times a week of plan versus execution was computed from the audit log.
func weeksComputed(t *testing.T, m *Metrics) uint64 {
	t.Helper()
	var out dto.Metric
	if err := m.AlignmentWeek.Write(&out); err != nil {
		t.Fatal(err)
	}
	return out.GetHistogram().GetSampleCount()
}

// storedReports lists the keys of the stored plan-versus-execution reports.
func storedReports(t *testing.T, h *harness) []string {
	t.Helper()
	var stored []string
	if err := h.db.ViewState(context.Background(), func(tx domain.StateReader) error {
		stored = stored[:0]
		return tx.Scan(kvAlignmentReports, "", func(key string, _ []byte) bool { stored = append(stored, key); return true })
	}); err != nil {
		t.Fatal(err)
	}
	return stored
}

// TestAlignmentReportsAreStoredOnce: a complete week is computed from the audit log once, for
// everyone and every team in one pass; later requests, a team's included and after a restart, read
// the stored reports and show exactly what the first request showed. Reports of another policy
// fingerprint are pruned and never read.
func TestAlignmentReportsAreStoredOnce(t *testing.T) {
	m := NewMetrics(prometheus.NewRegistry())
	h := newHarness(t, withConfig(withOpsTeam), withConfig(func(c *Config) { c.Metrics = m }))
	alignmentWeek(t, h)
	before := weeksComputed(t, m)

	all := h.reply(uLead, cGeneral, "alignment")
	contains(t, "everyone", all, "Planned: 7 pts · 58%", "Interrupts: 3 pts · 25%", "Neglected priorities* (1)")
	computed := weeksComputed(t, m) - before
	if computed != 4 {
		t.Errorf("the first request computed %d weeks, want 4", computed)
	}
	eng := h.reply(uLead, cGeneral, "alignment eng")
	contains(t, "eng", eng, "Planned: 5 pts · 50%", "Interrupts: 3 pts · 30%")
	if n := weeksComputed(t, m) - before; n != computed {
		t.Errorf("a team's report was computed again (%d weeks), want it read from the store", n-computed)
	}

	// 4 weeks × (everyone, eng, ops).
	if stored := storedReports(t, h); len(stored) != 12 {
		t.Errorf("%d stored reports, want 12: %q", len(stored), stored)
	}

	// A report under another fingerprint is someone else's (an older config): never read, pruned.
	stale := alignmentReportVersion + "|0000000000000000|" + time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC).Format(time.RFC3339) + "|"
	if err := h.db.UpdateState(context.Background(), func(tx domain.StateTx) error {
		return tx.Put(kvAlignmentReports, stale, []byte(`{"Week":{}}`))
	}); err != nil {
		t.Fatal(err)
	}
	h.restart()
	h.bot.warmAlignment(context.Background(), h.clock())
	if again := h.reply(uLead, cGeneral, "alignment"); again != all {
		t.Errorf("after a restart the stored report reads differently:\n%s\n---\n%s", all, again)
	}
	if again := h.reply(uLead, cGeneral, "alignment eng"); again != eng {
		t.Errorf("after a restart the team's stored report reads differently:\n%s\n---\n%s", eng, again)
	}
	if weeksComputed(t, m)-before != computed {
		t.Errorf("after a restart %d weeks were computed again, want none", weeksComputed(t, m)-before-computed)
	}
	if err := h.db.ViewState(context.Background(), func(tx domain.StateReader) error {
		raw, err := tx.Get(kvAlignmentReports, stale)
		if raw != nil {
			t.Errorf("the report of another fingerprint was not pruned")
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
}

// TestAlignmentWeekNotStoredBeforeItSettles: right after a week ends, a change stamped before the end
// may still be committing, so the week's report is computed but not stored until alignmentSettle has
// passed; then the hourly warm-up stores it.
func TestAlignmentWeekNotStoredBeforeItSettles(t *testing.T) {
	m := NewMetrics(prometheus.NewRegistry())
	h := newHarness(t, withConfig(func(c *Config) { c.Metrics = m }))
	h.setNow(time.Date(2026, 11, 30, 0, 1, 0, 0, time.UTC)) // a minute after the week of Nov 23 ended
	before := weeksComputed(t, m)
	first := h.reply(uLead, cGeneral, "alignment")
	second := h.reply(uLead, cGeneral, "alignment")
	if first != second {
		t.Errorf("two requests a moment apart differ:\n%s\n---\n%s", first, second)
	}
	// Four weeks the first time, three of them stored; the unsettled one again the second time.
	if n := weeksComputed(t, m) - before; n != 5 {
		t.Errorf("two requests computed %d weeks, want 5 (4, then the unsettled one again)", n)
	}
	// The hourly warm-up stores it once it has settled; requests then only read.
	h.setNow(time.Date(2026, 11, 30, 0, 11, 0, 0, time.UTC))
	h.bot.warmAlignment(context.Background(), h.clock())
	h.reply(uLead, cGeneral, "alignment")
	h.reply(uLead, cGeneral, "alignment")
	if n := weeksComputed(t, m) - before; n != 6 {
		t.Errorf("after settling the week was computed %d more times, want 1 (by the warm-up)", n-5)
	}
	if !strings.Contains(first, "Plan vs execution") {
		t.Errorf("no report:\n%s", first)
	}
}
