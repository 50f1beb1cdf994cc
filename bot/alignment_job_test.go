package bot

import (
	"context"
	"encoding/json"
	"maps"
	"slices"
	"testing"
	"time"

	"workbot/bot/slackfake"
	"workbot/domain"
)

func (h *harness) setNow(t time.Time) {
	h.mu.Lock()
	h.now = t
	h.mu.Unlock()
}

// snapshotsIn reads the stored priority snapshots by date from a running bot's store.
func snapshotsIn(t *testing.T, st interface {
	ViewState(context.Context, func(domain.StateReader) error) error
}) map[string]snapshotRecord {
	t.Helper()
	out := map[string]snapshotRecord{}
	err := st.ViewState(context.Background(), func(tx domain.StateReader) error {
		return tx.Scan(kvPrioritySnapshots, "", func(key string, val []byte) bool {
			var r snapshotRecord
			if err := json.Unmarshal(val, &r); err != nil {
				t.Errorf("snapshot %s: %v", key, err)
			}
			out[key] = r
			return true
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// storedSnapshots reads them from the file of a stopped bot: the stop waited for every job, the
// start-up catch-up included, so what is there is final.
func storedSnapshots(t *testing.T, h *harness) map[string]snapshotRecord {
	t.Helper()
	db, err := openE2E(h.dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	return snapshotsIn(t, db)
}

func snapshotIDs(r snapshotRecord) []domain.ItemID {
	var ids []domain.ItemID
	for _, e := range r.Items {
		ids = append(ids, domain.ItemID(e.ID))
	}
	return ids
}

// prioritise triages an item as the lead, through `/work prioritise` and its modal.
func (h *harness) prioritise(id domain.ItemID, value, urgency, size string) {
	h.t.Helper()
	h.command(uLead, cGeneral, "prioritise "+domain.FormatKey("W", id))
	v := h.modal(uLead, ViewPrioritise)
	h.submit(uLead, v, map[string]slackfake.Value{
		BlockValue:   slackfake.OptionValue(value),
		BlockUrgency: slackfake.OptionValue(urgency),
		BlockSize:    slackfake.OptionValue(size),
	})
	if it := h.item(id); !it.Triaged {
		h.t.Fatalf("not triaged after the form: %+v", it)
	}
}

// TestPrioritySnapshotOncePerDayAtTheSlot: the midnight job stores one snapshot per date, stamped with
// the slot rather than the moment it ran; a start-up after a missed midnight takes the latest missed
// day only; a first start takes none; each run prunes what is older than 90 days.
func TestPrioritySnapshotOncePerDayAtTheSlot(t *testing.T) {
	h := newHarness(t) // the default schedule: local midnight, which never comes during the test
	x := h.request(uReq, "First priority", "3")
	h.prioritise(x, "4", "4", "3")

	h.stop()
	if got := storedSnapshots(t, h); len(got) != 0 {
		t.Fatalf("a first start took snapshots: %v", slices.Sorted(maps.Keys(got)))
	}
	h.start()

	// Wednesday's midnight tick, seven seconds late.
	h.setNow(time.Date(2026, 11, 25, 0, 0, 7, 0, time.UTC))
	h.bot.runSnapshot(context.Background(), h.clock(), false)
	got := snapshotsIn(t, h.db)
	wed := got["2026-11-25"]
	if len(got) != 1 || !wed.At.Equal(time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)) || wed.N != domain.DefaultDigestTop ||
		!slices.Equal(snapshotIDs(wed), []domain.ItemID{x}) {
		t.Fatalf("after the first tick: %+v", got)
	}

	// Later the same day the order changes; the date keeps its first snapshot.
	y := h.request(uReq, "Second priority", "1")
	h.prioritise(y, "5", "5", "1")
	h.setNow(time.Date(2026, 11, 25, 15, 0, 0, 0, time.UTC))
	h.bot.runSnapshot(context.Background(), h.clock(), false)
	if got := snapshotsIn(t, h.db); len(got) != 1 || !slices.Equal(snapshotIDs(got["2026-11-25"]), []domain.ItemID{x}) {
		t.Fatalf("a second run on the same date changed the snapshots: %+v", got)
	}

	// Down from Wednesday afternoon to Saturday 10:00: three midnights missed; start-up takes
	// Saturday's, at its slot, and only that one.
	h.stop()
	h.setNow(time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC))
	h.start()
	h.pollFor("the missed snapshot", func() bool { _, ok := snapshotsIn(t, h.db)["2026-11-28"]; return ok })
	h.restart() // a second start the same day adds nothing
	h.stop()
	got = storedSnapshots(t, h)
	if dates := slices.Sorted(maps.Keys(got)); !slices.Equal(dates, []string{"2026-11-25", "2026-11-28"}) {
		t.Fatalf("dates after the outage: %v, want 2026-11-25 and 2026-11-28", dates)
	}
	sat := got["2026-11-28"]
	if !sat.At.Equal(time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC)) || !slices.Equal(snapshotIDs(sat), []domain.ItemID{y, x}) {
		t.Errorf("caught-up snapshot: %+v, want at Saturday 00:00 with %d then %d", sat, y, x)
	}
	h.start()

	// Sunday's tick keeps the 90 days ending with Sunday (from 1 September) and prunes the rest.
	old := snapshotRecord{N: 10}
	if err := h.db.UpdateState(context.Background(), func(tx domain.StateTx) error {
		for _, d := range []string{"2026-07-15", "2026-08-31", "2026-09-01"} {
			old.Date = d
			if err := putJSON(tx, kvPrioritySnapshots, d, old); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	h.setNow(time.Date(2026, 11, 29, 0, 0, 1, 0, time.UTC))
	h.bot.runSnapshot(context.Background(), h.clock(), false)
	if dates := slices.Sorted(maps.Keys(snapshotsIn(t, h.db))); !slices.Equal(dates, []string{"2026-09-01", "2026-11-25", "2026-11-28", "2026-11-29"}) {
		t.Errorf("after pruning: %v", dates)
	}

	// What the reports read back is the domain's snapshot.
	snaps, err := h.bot.prioritySnapshots(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := domain.PrioritySnapshot{Date: domain.Date{Year: 2026, Month: 11, Day: 28}, At: time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC), N: domain.DefaultDigestTop,
		Items: []domain.PlannedItem{{ID: y, Rank: 1, Size: 1}, {ID: x, Rank: 2, Size: 3}}}
	found := false
	for _, s := range snaps {
		if s.Date == want.Date {
			found = true
			if !s.At.Equal(want.At) || s.N != want.N || !slices.Equal(s.Items, want.Items) {
				t.Errorf("read back %+v, want %+v", s, want)
			}
		}
	}
	if len(snaps) != 4 || !found {
		t.Errorf("read back %d snapshots (Saturday's found: %v), want 4", len(snaps), found)
	}
}

// TestPrioritySnapshotInTheCalendarZone: weeks start at midnight where the calendar is, so that is
// where the default schedule is read, whatever zone the other schedules use.
func TestPrioritySnapshotInTheCalendarZone(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, withConfig(func(c *Config) {
		c.Policy.Calendar.Location = berlin
		c.Schedules = Schedules{Location: time.UTC}
	}))
	h.setNow(time.Date(2026, 11, 24, 23, 30, 0, 0, time.UTC)) // 00:30 on Wednesday in Berlin
	h.bot.runSnapshot(context.Background(), h.clock(), false)
	got := snapshotsIn(t, h.db)
	if s, ok := got["2026-11-25"]; len(got) != 1 || !ok || !s.At.Equal(time.Date(2026, 11, 25, 0, 0, 0, 0, berlin)) {
		t.Errorf("snapshots %+v, want one for 2026-11-25 at Berlin midnight", got)
	}
}

// TestPrioritySnapshotScheduled: the job is registered with the scheduler and its ticks store one
// snapshot per date, at the slot the spec names.
func TestPrioritySnapshotScheduled(t *testing.T) {
	h := newHarness(t, withConfig(func(c *Config) {
		c.Schedules = Schedules{Snapshot: "* * * * * *", Location: time.UTC}
	}))
	h.pollFor("Tuesday's snapshot", func() bool { _, ok := snapshotsIn(t, h.db)["2026-11-24"]; return ok })
	h.advance(24 * time.Hour)
	h.pollFor("Wednesday's snapshot", func() bool { _, ok := snapshotsIn(t, h.db)["2026-11-25"]; return ok })
	h.stop()
	got := storedSnapshots(t, h)
	if len(got) != 2 || !got["2026-11-24"].At.Equal(time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)) ||
		!got["2026-11-25"].At.Equal(time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)) {
		t.Errorf("snapshots %+v, want Tuesday and Wednesday at 09:00, the slots the spec named", got)
	}
}
