package bot

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/robfig/cron/v3"

	"workbot/domain"
)

// Priority snapshots: the plan that plan versus execution (domain/alignment.go) measures against.
//
// Once a day, at local midnight in the calendar's time zone, the job records the digest's top N open
// items under the day's date. A week's plan is the latest snapshot taken at or before the week's
// start, so each snapshot is stamped with its slot (00:00) rather than with the moment the job ran:
// Monday's, a few seconds late, is still the plan of the week that starts at Monday 00:00. The
// calendar's zone is used even when digest.timezone differs, because that is where weeks start.
//
// A date gets at most one snapshot: a second run on the same day, a catch-up racing a tick, or a
// second slot of a custom schedule leaves the first one alone. Each run also prunes the snapshots
// older than snapshotKeepDays, in the same transaction.
//
// Missed days. If workbot was down at the latest slot, it takes that snapshot at start-up, stamped
// with the slot's time. While workbot is down nothing changes (one process owns the data), so the
// order found at start-up is the order that stood at the slot. Only the latest missed day is taken:
// earlier missed days stay without a snapshot, so a week that started during the outage gets the last
// snapshot from before it as its plan, and what changed between that snapshot and the outage is not
// in that plan. A first start, with no snapshot stored at all, takes none at start-up: the database
// may have been changed since the slot by a version without snapshots, so the order found is not the
// order at the slot; the first snapshot comes at the next slot.
//
// Only the scheduler's process takes snapshots; today that is the only process.

const (
	kvPrioritySnapshots = "priority_snapshots" // "YYYY-MM-DD" (calendar date) → snapshotRecord
	// snapshotKeepDays is how many days of snapshots are kept: the 4-week trend needs the plan of five
	// weeks back, and the rest shows how long a neglected priority has been in the top N.
	snapshotKeepDays    = 90
	defaultSnapshotSpec = "0 0 0 * * *"
	// snapshotLookback is how far back the latest slot is looked for; a daily or weekly schedule always
	// has one within it.
	snapshotLookback = 8 * 24 * time.Hour
)

// snapshotRecord is a stored PrioritySnapshot. The bot's state keeps its own JSON shape, so renaming a
// domain field cannot make stored snapshots unreadable.
type snapshotRecord struct {
	Date  string          `json:"date"`
	At    time.Time       `json:"at"`
	N     int             `json:"n"`
	Items []plannedRecord `json:"items"`
}

type plannedRecord struct {
	ID   uint64 `json:"id"`
	Rank int    `json:"rank"`
	Size int    `json:"size"`
	Team string `json:"team,omitempty"`
}

func snapshotRecordOf(s domain.PrioritySnapshot) snapshotRecord {
	r := snapshotRecord{Date: s.Date.String(), At: s.At.UTC(), N: s.N, Items: make([]plannedRecord, 0, len(s.Items))}
	for _, e := range s.Items {
		r.Items = append(r.Items, plannedRecord{ID: uint64(e.ID), Rank: e.Rank, Size: e.Size, Team: string(e.Team)})
	}
	return r
}

func (r snapshotRecord) snapshot() (domain.PrioritySnapshot, error) {
	d, err := domain.ParseDate(r.Date)
	if err != nil {
		return domain.PrioritySnapshot{}, err
	}
	s := domain.PrioritySnapshot{Date: d, At: r.At, N: r.N}
	for _, e := range r.Items {
		s.Items = append(s.Items, domain.PlannedItem{ID: domain.ItemID(e.ID), Rank: e.Rank, Size: e.Size, Team: domain.TeamID(e.Team)})
	}
	return s, nil
}

func (b *Bot) snapshotSpec() string {
	if s := b.cfg.Schedules.Snapshot; s != "" {
		return s
	}
	return defaultSnapshotSpec
}

// snapshotLocation is the calendar's zone, where weeks start (see above).
func (b *Bot) snapshotLocation() *time.Location {
	if loc := b.policy.Calendar.Location; loc != nil {
		return loc
	}
	return b.scheduleLocation()
}

// inZone reads a schedule in a zone of its own, whatever zone the cron runs in.
type inZone struct {
	sched cron.Schedule
	loc   *time.Location
}

func (z inZone) Next(t time.Time) time.Time { return z.sched.Next(t.In(z.loc)) }

// scheduleSnapshots registers the daily snapshot and starts the catch-up of a missed one.
func (b *Bot) scheduleSnapshots(ctx context.Context, c *cron.Cron) error {
	spec := b.snapshotSpec()
	sched, err := CronParser.Parse(spec)
	if err != nil {
		return fmt.Errorf("schedule snapshot %q: %w", spec, err)
	}
	c.Schedule(inZone{sched, b.snapshotLocation()}, cron.FuncJob(func() {
		jctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
		defer cancel()
		b.runSnapshot(jctx, b.now(), false)
	}))
	// Hourly, so that a week's reports are stored soon after it settles (alignment_cache.go); an hour
	// with nothing missing costs a few reads. Not at start-up: start-up stays light, and a digest or a
	// lead that needs a missing week before the next tick computes it.
	c.Schedule(cron.Every(time.Hour), cron.FuncJob(func() {
		jctx, cancel := context.WithTimeout(ctx, 30*time.Minute)
		defer cancel()
		b.warmAlignment(jctx, b.now())
	}))
	// Off the start-up path, like the digest's catch-up: envelopes must be read meanwhile.
	b.handlerWG.Add(1)
	go func() {
		defer b.handlerWG.Done()
		b.runSnapshot(ctx, b.now(), true)
	}()
	return nil
}

// runSnapshot stores the snapshot of the latest slot at or before now unless its date has one (or a
// later date does: a clock set back must not write history), and prunes old ones. At start-up
// (catchUp) it does nothing on a first start (see above).
func (b *Bot) runSnapshot(ctx context.Context, now time.Time, catchUp bool) {
	slot, ok := latestSlot(b.snapshotSpec(), b.snapshotLocation(), now, snapshotLookback)
	if !ok {
		return
	}
	date := b.policy.Calendar.Today(slot)
	latest, found, err := b.latestSnapshotDate(ctx)
	if err != nil {
		b.log.Error().Err(err).Msg("cannot read the priority snapshots; skipping this one")
		return
	}
	if (catchUp && !found) || (found && !latest.Before(date)) {
		return
	}
	stored, err := StorePrioritySnapshot(ctx, b.store, b.policy, slot, b.digestTop())
	if err != nil {
		b.log.Error().Err(err).Time("slot", slot).Msg("cannot store the priority snapshot")
		return
	}
	if stored && catchUp {
		b.log.Info().Time("slot", slot).Msg("took the priority snapshot missed while workbot was down")
	}
}

// StorePrioritySnapshot records the top n open items as the plan at slot, under the slot's calendar
// date, unless that date or a later one has a snapshot already, and prunes snapshots older than
// snapshotKeepDays, in one transaction. It reports whether it stored one. The daily job calls it, and
// so do tools that replay past weeks (the sandbox's demo company, at each of its past midnights).
func StorePrioritySnapshot(ctx context.Context, store Store, p *domain.Policy, slot time.Time, n int) (bool, error) {
	var open []domain.Item
	err := store.View(ctx, func(tx domain.ReadTx) error {
		return tx.OpenItems(func(it domain.Item) bool { open = append(open, it); return true })
	})
	if err != nil {
		return false, fmt.Errorf("reading the open items: %w", err)
	}
	snap := p.SnapshotPriorities(open, slot, n)
	raw, err := json.Marshal(snapshotRecordOf(snap))
	if err != nil {
		return false, err
	}
	keepFrom := snap.Date.AddDays(-(snapshotKeepDays - 1))
	stored := false
	err = store.UpdateState(ctx, func(tx domain.StateTx) error {
		stored = false
		var stale []string
		newer := false
		if err := tx.Scan(kvPrioritySnapshots, "", func(key string, _ []byte) bool {
			d, err := domain.ParseDate(key)
			switch {
			case err != nil:
			case !d.Before(snap.Date):
				newer = true
			case d.Before(keepFrom):
				stale = append(stale, key)
			}
			return true
		}); err != nil {
			return err
		}
		for _, key := range stale {
			if err := tx.Delete(kvPrioritySnapshots, key); err != nil {
				return err
			}
		}
		if newer {
			return nil
		}
		stored = true
		return tx.Put(kvPrioritySnapshots, snap.Date.String(), raw)
	})
	return stored, err
}

// latestSnapshotDate is the newest date with a stored snapshot; found is false when there is none.
func (b *Bot) latestSnapshotDate(ctx context.Context) (latest domain.Date, found bool, err error) {
	err = b.store.ViewState(ctx, func(tx domain.StateReader) error {
		return tx.Scan(kvPrioritySnapshots, "", func(key string, _ []byte) bool {
			if d, err := domain.ParseDate(key); err == nil && (!found || latest.Before(d)) {
				latest, found = d, true
			}
			return true
		})
	})
	return latest, found, err
}

// prioritySnapshots reads every stored snapshot; one that does not decode is logged and left out.
func (b *Bot) prioritySnapshots(ctx context.Context) ([]domain.PrioritySnapshot, error) {
	var out []domain.PrioritySnapshot
	err := b.store.ViewState(ctx, func(tx domain.StateReader) error {
		out = out[:0]
		return tx.Scan(kvPrioritySnapshots, "", func(key string, val []byte) bool {
			var r snapshotRecord
			s, err := domain.PrioritySnapshot{}, json.Unmarshal(val, &r)
			if err == nil {
				s, err = r.snapshot()
			}
			if err != nil {
				b.log.Warn().Err(err).Str("date", key).Msg("a stored priority snapshot does not decode; leaving it out")
				return true
			}
			out = append(out, s)
			return true
		})
	})
	return out, err
}
