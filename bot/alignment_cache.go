package bot

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"workbot/domain"
)

// Stored weekly reports of plan versus execution.
//
// A week's report reads every event of the week and the whole history of every item those events
// name: on a file of 1M items that is seconds of work and about a gigabyte of allocations, too much to
// repeat for every digest and every `/work alignment`. A complete week's report does not change
// afterwards: the audit log and the priority snapshots it reads are history, and the policy parts it
// depends on are named by domain.Policy.AlignmentFingerprint. So each complete week's report is
// computed once and kept in the bot's state, for everyone and for every team, keyed by
//
//	<alignmentReportVersion>|<fingerprint>|<week start, RFC 3339 UTC>|<team, "" for everyone>
//
// What a stored report keeps of the items is what renderers show (the plan, the shares, the neglected
// priorities with their key and title as they were when it was computed); the per-item breakdown
// (Alignment.Items) is left out, so reports read from the store and reports just computed look the
// same. A report that does not decode, or was stored under another version or fingerprint, is
// computed again; reports of weeks older than snapshotKeepDays, and any under another version or
// fingerprint, are pruned by warmAlignment.
//
// The scheduler's process computes the last AlignmentTrendWeeks weeks for everyone and every team every
// hour (warmAlignment: a few reads, except once a week), so a digest or a lead reads stored reports.
// A request that finds a week missing computes it itself, under alignMu so that concurrent requests
// compute it once.

const (
	kvAlignmentReports     = "alignment_reports"
	alignmentReportVersion = "1"
	// alignmentSettle is how long after a week's end its report is first stored: long enough for every
	// change stamped before the end to be committed, on any replica.
	alignmentSettle = 10 * time.Minute
)

// alignmentKey is the stored report's key (see above).
func (b *Bot) alignmentKey(week domain.Period, team domain.TeamID) string {
	return b.alignmentKeyPrefix() + week.From.UTC().Format(time.RFC3339) + "|" + string(team)
}

func (b *Bot) alignmentKeyPrefix() string {
	return alignmentReportVersion + "|" + b.alignFingerprint + "|"
}

// storedAlignment reads the stored reports of weeks for team; missing holds the indexes of the weeks
// without one.
func (b *Bot) storedAlignment(ctx context.Context, weeks []domain.Period, team domain.TeamID) (trend []domain.Alignment, missing []int, err error) {
	trend = make([]domain.Alignment, len(weeks))
	err = b.store.ViewState(ctx, func(tx domain.StateReader) error {
		missing = missing[:0]
		for i, w := range weeks {
			raw, err := tx.Get(kvAlignmentReports, b.alignmentKey(w, team))
			if err != nil {
				return err
			}
			if raw == nil || json.Unmarshal(raw, &trend[i]) != nil || !trend[i].Week.From.Equal(w.From) {
				trend[i] = domain.Alignment{}
				missing = append(missing, i)
			}
		}
		return nil
	})
	return trend, missing, err
}

// alignmentReports returns team's reports of weeks, computing and storing the missing ones. extra
// names the other teams to compute in the same pass (their reports are stored, not returned).
func (b *Bot) alignmentReports(ctx context.Context, weeks []domain.Period, team domain.TeamID, extra []domain.TeamID) ([]domain.Alignment, error) {
	trend, missing, err := b.storedAlignment(ctx, weeks, team)
	if err != nil || len(missing) == 0 {
		return trend, err
	}
	b.alignMu.Lock()
	defer b.alignMu.Unlock()
	// Another request may have computed them while this one waited.
	if trend, missing, err = b.storedAlignment(ctx, weeks, team); err != nil || len(missing) == 0 {
		return trend, err
	}
	snaps, err := b.prioritySnapshots(ctx)
	if err != nil {
		return nil, err
	}
	teams := []domain.TeamID{team}
	for _, t := range extra {
		if t != team {
			teams = append(teams, t)
		}
	}
	for _, i := range missing {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		reports, err := b.computeAlignmentWeek(ctx, weeks[i], snaps, teams)
		if err != nil {
			return nil, err
		}
		trend[i] = reports[0]
	}
	return trend, nil
}

// computeAlignmentWeek computes one week's reports for teams in one pass and stores them. A report
// that cannot be stored is still returned: the next request computes it again.
func (b *Bot) computeAlignmentWeek(ctx context.Context, week domain.Period, snaps []domain.PrioritySnapshot, teams []domain.TeamID) ([]domain.Alignment, error) {
	start := time.Now()
	var reports []domain.Alignment
	err := b.store.View(ctx, func(tx domain.ReadTx) error {
		var err error
		reports, err = domain.BuildAlignmentReports(tx, b.policy, week, snaps, teams)
		return err
	})
	if err != nil {
		return nil, err
	}
	took := time.Since(start)
	b.metrics.alignmentWeek(took)
	if b.now().Before(week.To.Add(alignmentSettle)) {
		// A change committed just before the week's end may not be readable yet; keep this one unstored.
		return reports, nil
	}
	raws := make([][]byte, len(reports))
	for i := range reports {
		reports[i].Items = nil
		if raws[i], err = json.Marshal(reports[i]); err != nil {
			return nil, err
		}
	}
	err = b.store.UpdateState(ctx, func(tx domain.StateTx) error {
		for i, t := range teams {
			if err := tx.Put(kvAlignmentReports, b.alignmentKey(week, t), raws[i]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.log.Warn().Err(err).Time("week", week.From).Msg("cannot store the week's plan-versus-execution reports; they will be computed again")
	}
	b.log.Info().Time("week", week.From).Int("teams", len(teams)).Dur("took", took).Msg("computed a week of plan versus execution")
	return reports, nil
}

// allAlignmentTeams is everyone ("") and every configured team.
func (b *Bot) allAlignmentTeams() []domain.TeamID {
	out := []domain.TeamID{""}
	for _, t := range b.policy.Teams {
		out = append(out, t.ID)
	}
	return out
}

// warmAlignment makes sure the last AlignmentTrendWeeks complete weeks are stored for everyone and
// every team, and prunes reports that can no longer be asked for. It runs on the scheduler's process,
// off the envelope path.
func (b *Bot) warmAlignment(ctx context.Context, now time.Time) {
	weeks := b.policy.Calendar.WeeksBefore(now, domain.AlignmentTrendWeeks)
	teams := b.allAlignmentTeams()
	for _, w := range weeks {
		if now.Before(w.To.Add(alignmentSettle)) {
			continue
		}
		lacking, found := b.missingAlignmentTeam(ctx, w, teams)
		if !found {
			continue
		}
		if _, err := b.alignmentReports(ctx, []domain.Period{w}, lacking, teams); err != nil {
			if ctx.Err() == nil {
				b.log.Warn().Err(err).Time("week", w.From).Msg("cannot compute the week's plan versus execution; a digest will try again")
			}
			return
		}
	}
	b.pruneAlignment(ctx, now)
}

// missingAlignmentTeam is the first of teams whose report of week is not stored, read in one
// transaction; found is false when all are there. A read that fails counts as missing.
func (b *Bot) missingAlignmentTeam(ctx context.Context, week domain.Period, teams []domain.TeamID) (team domain.TeamID, found bool) {
	err := b.store.ViewState(ctx, func(tx domain.StateReader) error {
		found = false
		for _, t := range teams {
			raw, err := tx.Get(kvAlignmentReports, b.alignmentKey(week, t))
			if err != nil {
				return err
			}
			if raw == nil {
				team, found = t, true
				return nil
			}
		}
		return nil
	})
	if err != nil {
		return teams[0], true
	}
	return team, found
}

// pruneAlignment deletes stored reports of weeks that started more than snapshotKeepDays ago, and
// those stored under another version or fingerprint.
func (b *Bot) pruneAlignment(ctx context.Context, now time.Time) {
	prefix := b.alignmentKeyPrefix()
	oldest := now.Add(-snapshotKeepDays * 24 * time.Hour)
	err := b.store.UpdateState(ctx, func(tx domain.StateTx) error {
		var stale []string
		if err := tx.Scan(kvAlignmentReports, "", func(key string, _ []byte) bool {
			rest, ours := strings.CutPrefix(key, prefix)
			if !ours {
				stale = append(stale, key)
				return true
			}
			from, _, _ := strings.Cut(rest, "|")
			if t, err := time.Parse(time.RFC3339, from); err != nil || t.Before(oldest) {
				stale = append(stale, key)
			}
			return true
		}); err != nil {
			return err
		}
		for _, key := range stale {
			if err := tx.Delete(kvAlignmentReports, key); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.log.Warn().Err(err).Msg("cannot prune the stored plan-versus-execution reports")
	}
}
