package bot

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"workbot/domain"
)

// Leadership digests. At each slot of digest.schedule (and on `/work digest post`) the digest is built,
// rendered once, and queued for every leadership channel together with its chart, in one transaction
// with the record of the slot and the snapshot that the next digest's "since the last digest" starts
// from. The outbox posts each exactly once. A slot is therefore queued at most once, and every queued
// digest arrives, even across crashes.

const (
	kvDigest         = "digest"
	kvDigestSlot     = "slot"         // slotRecord: the latest slot queued
	kvDigestSnapshot = "snapshot"     // the last queued digest's top and stalled items
	kvDigestPosts    = "digest_posts" // "<name>|<channel>" → the digest message (messageRef), for its chart
)

// digestWindow is the period the flow metrics cover. A single day is too noisy to read a trend from,
// so every digest looks back a week; "changes since the last digest" covers the time between digests.
const digestWindow = 7 * 24 * time.Hour

// slotRecord is the latest digest slot that was queued. Versions before the outbox also kept a state
// per channel; it is ignored.
type slotRecord struct {
	Slot time.Time `json:"slot"`
}

// buildDigest computes the digest data as of now.
func (b *Bot) buildDigest(ctx context.Context, now time.Time, top int) (domain.Digest, error) {
	var d domain.Digest
	err := b.store.View(ctx, func(tx domain.ReadTx) error {
		var err error
		d, err = domain.BuildDigest(tx, b.policy, now.Add(-digestWindow), now, now, top)
		return err
	})
	return d, err
}

func (b *Bot) digestTop() int {
	if b.cfg.DigestTop > 0 {
		return b.cfg.DigestTop
	}
	return domain.DefaultDigestTop
}

func (b *Bot) lastSnapshot(ctx context.Context) (domain.DigestSnapshot, bool) {
	var s domain.DigestSnapshot
	var raw []byte
	err := b.store.ViewState(ctx, func(tx domain.StateReader) error {
		var err error
		raw, err = tx.Get(kvDigest, kvDigestSnapshot)
		return err
	})
	if err != nil || len(raw) == 0 || json.Unmarshal(raw, &s) != nil {
		return domain.DigestSnapshot{}, false
	}
	return s, true
}

// renderedDigest is a digest ready to queue: its blocks, its chart and the snapshot it leaves behind.
type renderedDigest struct {
	blocks   []slack.Block
	chart    []byte
	snapshot domain.DigestSnapshot
}

func (b *Bot) renderDigest(ctx context.Context, now time.Time, title string) (renderedDigest, error) {
	d, err := b.buildDigest(ctx, now, b.digestTop())
	if err != nil {
		return renderedDigest{}, err
	}
	d.Stalled = b.afterNudge(ctx, d.Stalled)
	prev, hasPrev := b.lastSnapshot(ctx)
	trend := b.digestAlignment(ctx, now)
	return renderedDigest{
		blocks:   digestBlocks(d, d.ChangesSince(prev), hasPrev, b.policy, title, lastWeek(trend)),
		chart:    b.renderChart(ctx, d, now, trend),
		snapshot: d.Snapshot(),
	}, nil
}

// queueDigest queues a rendered digest for every leadership channel, named name (unique per digest),
// unless guard (run in the same transaction) says no. It reports whether it queued.
func (b *Bot) queueDigest(ctx context.Context, name string, r renderedDigest, guard func(domain.StateTx) (bool, error)) (bool, error) {
	blocks, err := json.Marshal(r.blocks)
	if err != nil {
		return false, err
	}
	queued := false
	err = b.store.UpdateState(ctx, func(tx domain.StateTx) error {
		queued = false
		if guard != nil {
			if ok, err := guard(tx); err != nil || !ok {
				return err
			}
		}
		e := &effects{b: b, st: tx}
		for _, ch := range b.cfg.LeadershipChannels {
			lane := "digest:" + ch
			e.add(effDigest, lane, ch, effect{Channel: ch, Slot: name, Text: "Work digest", Blocks: blocks})
			if r.chart != nil {
				e.add(effChart, lane, "", effect{Channel: ch, Slot: name, PNG: r.chart})
			}
		}
		if err := e.flush(tx); err != nil {
			return err
		}
		// Leadership will see this state: the next digest's "since the last digest" starts here.
		if err := putJSON(tx, kvDigest, kvDigestSnapshot, r.snapshot); err != nil {
			return err
		}
		queued = true
		return nil
	})
	return queued, err
}

// digestPostKey names a posted digest in kvDigestPosts.
func digestPostKey(name, channel string) string { return name + "|" + channel }

// runDigestSlot queues the digest of the latest slot at or before now, once. At start-up (catchUp)
// only a slot within the grace window is queued; a tick queues the slot it fired for.
func (b *Bot) runDigestSlot(ctx context.Context, now time.Time, catchUp bool) {
	b.digestMu.Lock()
	defer b.digestMu.Unlock()
	s := b.cfg.Schedules
	loc := b.scheduleLocation()
	lookback := 8 * 24 * time.Hour
	grace := s.Grace
	if grace <= 0 {
		grace = 2 * time.Hour
	}
	if catchUp {
		lookback = grace
	}
	rec, err := b.loadSlot(ctx)
	if err != nil {
		b.log.Error().Err(err).Msg("cannot read the digest slot record; skipping the digest rather than risking a duplicate")
		b.metrics.digest("failed")
		return
	}
	slot, ok := latestSlot(s.Digest, loc, now, lookback)
	if !ok {
		if catchUp {
			// A fresh install has no record: nothing was missed, it just had not started yet.
			if missed, ok := latestSlot(s.Digest, loc, now, 8*24*time.Hour); ok && !rec.Slot.IsZero() && rec.Slot.Before(missed) {
				b.log.Warn().Time("slot", missed).Dur("grace", grace).Msg("a digest slot was missed while workbot was down longer than digest.grace; it is not posted late")
				b.metrics.digest("missed")
			}
		}
		return
	}
	if !rec.Slot.Before(slot) {
		if !catchUp {
			b.metrics.digest("already_queued")
		}
		return // queued already: the outbox delivers it
	}
	r, err := b.renderDigest(ctx, now, "Work digest · "+slot.In(loc).Format("Mon Jan 2"))
	if err != nil {
		b.log.Error().Err(err).Msg("digest build failed")
		b.metrics.digest("failed")
		return
	}
	name := "slot-" + slot.UTC().Format(time.RFC3339)
	queued, err := b.queueDigest(ctx, name, r, func(tx domain.StateTx) (bool, error) {
		var cur slotRecord
		if err := getJSON(tx, kvDigest, kvDigestSlot, &cur); err != nil {
			return false, fmt.Errorf("digest slot record: %w", err)
		}
		if !cur.Slot.Before(slot) {
			return false, nil
		}
		return true, putJSON(tx, kvDigest, kvDigestSlot, slotRecord{Slot: slot})
	})
	switch {
	case err != nil:
		b.log.Error().Err(err).Time("slot", slot).Msg("cannot queue the digest")
		b.metrics.digest("failed")
	case queued:
		b.metrics.digest("queued")
	default:
		b.metrics.digest("already_queued")
	}
}

func (b *Bot) loadSlot(ctx context.Context) (slotRecord, error) {
	var r slotRecord
	err := b.store.ViewState(ctx, func(tx domain.StateReader) error { return getJSON(tx, kvDigest, kvDigestSlot, &r) })
	if err != nil {
		return r, fmt.Errorf("digest slot record: %w", err)
	}
	return r, nil
}

// afterNudge keeps a fresh stage stall out of the digest until its assignee has been nudged: people get
// a chance to act before leadership hears of it. Unassigned items, people who opted out of nudges, a
// nudge ratio of 0, and stalls older than a working day (the bot was down, say) are reported at once.
func (b *Bot) afterNudge(ctx context.Context, stalls []domain.Stall) []domain.Stall {
	if b.policy.NudgeRatio <= 0 {
		return stalls
	}
	out := stalls[:0:0]
	optedOut := b.nudgesOff(ctx)
	for _, s := range stalls {
		it := s.Item
		waiting := s.Reason == domain.StallStage && it.Assignee != "" && !optedOut[it.Assignee] &&
			!domain.NudgedInStage(it) && s.For-s.Threshold < 24*time.Hour
		if !waiting {
			out = append(out, s)
		}
	}
	return out
}

func (b *Bot) nudgesOff(ctx context.Context) map[domain.UserID]bool {
	off := map[domain.UserID]bool{}
	_ = b.store.View(ctx, func(tx domain.ReadTx) error {
		return tx.People(func(p domain.Person) bool {
			if p.NudgesOff {
				off[p.ID] = true
			}
			return true
		})
	})
	return off
}

// cmdDigest previews the digest for anyone (ephemeral) and posts it now for leads, chart included,
// through the same outbox as the scheduled digest.
func (b *Bot) cmdDigest(ctx context.Context, r replier, args []string) {
	post := len(args) > 0 && strings.EqualFold(args[0], "post")
	if len(args) > 0 && !post {
		r.say(ctx, "Usage: `/work digest` (preview) or `/work digest post` (leads)")
		return
	}
	if post {
		if err := b.policy.Authorize(r.user, domain.ActDigestPost, domain.AuthContext{}); err != nil {
			r.fail(ctx, err)
			return
		}
		if len(b.cfg.LeadershipChannels) == 0 {
			r.say(ctx, "⚠️ No leadership_channels are configured, so there is nowhere to post.")
			return
		}
	}
	if !post {
		now := b.now()
		d, err := b.buildDigest(ctx, now, b.digestTop())
		if err != nil {
			r.fail(ctx, err)
			return
		}
		d.Stalled = b.afterNudge(ctx, d.Stalled)
		prev, hasPrev := b.lastSnapshot(ctx)
		plan := lastWeek(b.digestAlignment(ctx, now))
		r.say(ctx, "Work digest preview", digestBlocks(d, d.ChangesSince(prev), hasPrev, b.policy, "Work digest", plan)...)
		return
	}
	// Under the digest lock, like a scheduled run: the two must not interleave their baselines.
	b.digestMu.Lock()
	defer b.digestMu.Unlock()
	now := b.now()
	rd, err := b.renderDigest(ctx, now, "Work digest")
	if err != nil {
		r.fail(ctx, err)
		return
	}
	name := "manual-" + strconv.FormatInt(now.UnixNano(), 36) + "-" + randomOwner()
	if _, err := b.queueDigest(ctx, name, rd, nil); err != nil {
		r.fail(ctx, err)
		return
	}
	r.say(ctx, "✅ Posting the digest to "+strconv.Itoa(len(b.cfg.LeadershipChannels))+" channel(s), with its chart in the thread.")
}
