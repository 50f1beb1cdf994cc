package bot

import (
	"context"
	"time"

	"workbot/domain"
)

// Retention of the bot's own state. Each kind is deleted once it has served its purpose; nothing the
// domain keeps (items, events, people) is ever pruned.
//
//	what                       kept for   why it is no longer needed after that
//	personal_sent markers      7 days     the morning job only asks whether today's DM went out
//	                                      (markers of the older "<user>|<date>" form are never asked)
//	item_messages references   30 days    after the item closed: a closed item does not change, so
//	                                      its message is not edited again
//	wip_samples                90 days    the digest chart draws the last weeks
//	finished outbox entries    7 days     after they were enqueued: a retry looks back minutes,
//	                                      not days; unfinished entries are never pruned
//
// Pruning runs with every sweep and deletes at most prunePerTx keys per transaction, so the first run
// on a file with a year of state (a million markers) proceeds in short transactions between other
// writers instead of holding the writer for seconds; whatever it leaves is taken by the next sweep.
const (
	keepPersonalSent = 7 * 24 * time.Hour
	keepItemMessages = 30 * 24 * time.Hour
	keepWIPSamples   = 90 * 24 * time.Hour
	keepOutbox       = 7 * 24 * time.Hour

	prunePerTx  = 2000
	prunePerRun = 400_000
)

const (
	kvPrune              = "prune"
	kvPruneItemMessages  = "item_messages_closed_before" // RFC 3339 time: refs of items closed before it are gone
	kvPruneDateKeyFormat = time.DateOnly
)

// PruneStats counts the keys one Prune deleted.
type PruneStats struct {
	PersonalMarkers, ItemMessages, WIPSamples, OutboxEntries int
}

// prune applies the retention; sweep calls it.
func (b *Bot) prune(ctx context.Context, now time.Time) {
	st, err := Prune(ctx, b.store, now)
	if err != nil {
		b.log.Warn().Err(err).Msg("pruning the bot's state failed; the next sweep tries again")
	}
	if st != (PruneStats{}) {
		b.log.Info().Int("personal_markers", st.PersonalMarkers).Int("item_messages", st.ItemMessages).
			Int("wip_samples", st.WIPSamples).Int("outbox_entries", st.OutboxEntries).Msg("pruned the bot's state")
	}
}

// Prune deletes the bot state that has served its purpose as of now (see the table above), at most
// prunePerRun keys in all. It is exported for tools that replay a bot's life, such as the benchmark
// fixture.
func Prune(ctx context.Context, store Store, now time.Time) (PruneStats, error) {
	var st PruneStats
	budget := prunePerRun
	var err error
	if st.PersonalMarkers, err = pruneBefore(ctx, store, kvPersonalSent, now.Add(-keepPersonalSent), &budget, true); err != nil {
		return st, err
	}
	if st.WIPSamples, err = pruneBefore(ctx, store, kvWIPSamples, now.Add(-keepWIPSamples), &budget, false); err != nil {
		return st, err
	}
	if st.ItemMessages, err = pruneItemMessages(ctx, store, now.Add(-keepItemMessages), &budget); err != nil {
		return st, err
	}
	for budget > 0 {
		limit := min(prunePerTx, budget)
		n, err := store.PruneOutbox(ctx, now.Add(-keepOutbox), limit)
		st.OutboxEntries += n
		budget -= n
		if err != nil || n < limit {
			return st, err
		}
	}
	return st, nil
}

// pruneBefore deletes the keys of bucket that start with a date before cutoff's day ("2006-01-02…",
// which sort by day). With legacy set it also deletes keys that do not start with a digit: the
// personal markers of the older "<user>|<date>" form, which nothing reads any more.
func pruneBefore(ctx context.Context, store Store, bucket string, cutoff time.Time, budget *int, legacy bool) (int, error) {
	day := cutoff.UTC().Format(kvPruneDateKeyFormat)
	total := 0
	for *budget > 0 {
		var doomed []string
		limit := min(prunePerTx, *budget)
		err := store.ViewState(ctx, func(tx domain.StateReader) error {
			doomed = doomed[:0]
			// Dated keys come first (digits sort before letters) and in date order.
			err := tx.Scan(bucket, "", func(key string, _ []byte) bool {
				if key == "" || key[0] < '0' || key[0] > '9' || key >= day || len(doomed) == limit {
					return false
				}
				doomed = append(doomed, key)
				return true
			})
			if err != nil || !legacy {
				return err
			}
			for _, p := range []string{"U", "W"} { // Slack user IDs
				err := tx.Scan(bucket, p, func(key string, _ []byte) bool {
					if len(doomed) == limit {
						return false
					}
					doomed = append(doomed, key)
					return true
				})
				if err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil || len(doomed) == 0 {
			return total, err
		}
		if err := deleteKeys(ctx, store, bucket, doomed); err != nil {
			return total, err
		}
		total += len(doomed)
		*budget -= len(doomed)
		if len(doomed) < limit {
			return total, nil
		}
	}
	return total, nil
}

// pruneItemMessages deletes the message references of items closed before cutoff. Closed items are
// found by when they closed (ReadTx.ClosedBetween) from where the last run stopped, so a run reads
// only what closed since, not the whole history.
func pruneItemMessages(ctx context.Context, store Store, cutoff time.Time, budget *int) (int, error) {
	var from time.Time
	err := store.ViewState(ctx, func(tx domain.StateReader) error {
		raw, err := tx.Get(kvPrune, kvPruneItemMessages)
		if err == nil && len(raw) > 0 {
			from, err = time.Parse(time.RFC3339Nano, string(raw))
		}
		return err
	})
	if err != nil || !from.Before(cutoff) {
		return 0, err
	}
	total := 0
	var after domain.ItemID // within this run: closures at from up to this ID are done
	for *budget > 0 && from.Before(cutoff) {
		limit := min(prunePerTx, *budget)
		var ids []string
		next, nextAfter := cutoff, domain.ItemID(0)
		err := store.View(ctx, func(tx domain.ReadTx) error {
			ids = ids[:0]
			return tx.ClosedBetween(from, cutoff, func(c domain.Closure) bool {
				if c.DoneAt.Equal(from) && c.ID <= after {
					return true
				}
				if len(ids) == limit {
					return false
				}
				ids = append(ids, idKey(uint64(c.ID)))
				next, nextAfter = c.DoneAt, c.ID
				return true
			})
		})
		if err != nil {
			return total, err
		}
		if len(ids) < limit {
			next, nextAfter = cutoff, 0 // everything before cutoff is done
		}
		deleted := 0
		err = store.UpdateState(ctx, func(tx domain.StateTx) error {
			deleted = 0
			for _, id := range ids {
				if v, err := tx.Get(kvItemMessages, id); err != nil || v == nil {
					if err != nil {
						return err
					}
					continue
				}
				if err := tx.Delete(kvItemMessages, id); err != nil {
					return err
				}
				deleted++
			}
			// A restart resumes at next and may redo the closures of that one instant: deleting twice
			// is harmless.
			return tx.Put(kvPrune, kvPruneItemMessages, []byte(next.UTC().Format(time.RFC3339Nano)))
		})
		if err != nil {
			return total, err
		}
		total += deleted
		*budget -= len(ids)
		from, after = next, nextAfter
	}
	return total, nil
}

func deleteKeys(ctx context.Context, store Store, bucket string, keys []string) error {
	return store.UpdateState(ctx, func(tx domain.StateTx) error {
		for _, k := range keys {
			if err := tx.Delete(bucket, k); err != nil {
				return err
			}
		}
		return nil
	})
}
