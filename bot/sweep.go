package bot

import (
	"context"
	"encoding/json"
	"strconv"
	"time"

	"github.com/slack-go/slack"

	"workbot/domain"
)

// sweep runs the periodic checks: nudges, handoff escalations and the daily WIP sample. Their
// messages are queued by the domain operations' transactions (effects.go).
func (b *Bot) sweep(ctx context.Context, now time.Time) {
	b.sendNudges(ctx, now)
	if _, err := b.svc.EscalateHandoffs(ctx); err != nil {
		b.log.Error().Err(err).Msg("handoff escalation failed")
	}
	b.sampleWIP(ctx, now)
	b.measureWork(ctx, now)
	b.prune(ctx, now)
}

// measureWork sets the gauges of open, overloaded and stalled work, from the digest's own reading.
func (b *Bot) measureWork(ctx context.Context, now time.Time) {
	if b.metrics == nil {
		return
	}
	d, err := b.buildDigest(ctx, now, 1)
	if err != nil {
		b.log.Warn().Err(err).Msg("cannot measure open work")
		return
	}
	b.metrics.OpenItems.Reset()
	for _, st := range b.policy.Workflow.Stages {
		if !st.Terminal {
			b.metrics.OpenItems.WithLabelValues(string(st.ID)).Set(float64(d.Flow.WIPByStage[st.ID]))
		}
	}
	b.metrics.Overloaded.Set(float64(len(d.Overloaded)))
	b.metrics.Stalled.Set(float64(len(d.StalledIDs))) // each stalled item once, whatever its reasons
}

// sendNudges nudges assignees whose items near (or passed unnoticed) their stage's stall threshold.
// MarkNudged decides again inside its transaction, and queues the DM there, so an item that moved on
// since the scan is left alone and a nudge is never sent twice.
func (b *Bot) sendNudges(ctx context.Context, now time.Time) {
	if b.policy.NudgeRatio <= 0 {
		return
	}
	var due []domain.Item
	optedOut := b.nudgesOff(ctx)
	err := b.store.View(ctx, func(tx domain.ReadTx) error {
		return tx.OpenItems(func(it domain.Item) bool {
			if !optedOut[it.Assignee] && b.policy.NudgeWanted(it, now) {
				due = append(due, it)
			}
			return true
		})
	})
	if err != nil {
		b.log.Error().Err(err).Msg("nudge scan failed")
		return
	}
	for _, it := range due {
		if _, err := b.svc.MarkNudged(ctx, it.ID); err != nil && domain.ErrorCode(err) != domain.ECONFLICT {
			b.log.Warn().Err(err).Str("item", it.Key).Msg("could not record a nudge")
		}
	}
}

// nudgeBlocks is the nudge DM: what is stalling and three ways to act.
func nudgeBlocks(it domain.Item, p *domain.Policy, now time.Time) []slack.Block {
	st, _ := p.Workflow.Stage(it.Stage)
	since := it.StageEnteredAt
	if it.LastActivityAt.After(since) {
		since = it.LastActivityAt
	}
	quiet := p.Calendar.WorkingTime(since, now)
	id := strconv.FormatUint(uint64(it.ID), 10)
	els := []slack.BlockElement{
		button(ActionSnooze, id, "Snooze 1 day"),
		button(ActionBlock, id, "Mark blocked"),
	}
	if moves := moveOptions(it, p); len(moves) > 0 {
		els = append(els, slack.NewOptionsSelectBlockElement(slack.OptTypeStatic, plain("Move to…"), ActionMove, moves...))
	}
	if p.Workflow.CanMove(it.Stage, p.Workflow.Done) {
		els = append(els, primary(button(ActionDone, id, "Done")))
	}
	return []slack.Block{
		section("⏳ " + itemRef(it) + " has been quiet in *" + esc(stageName(p, it.Stage)) + "* for " + fmtDur(quiet) + " of working time; it counts as stalled after " + fmtDur(st.StallAfter) + " and then shows in the leadership digest."),
		actions("nudge", els...),
	}
}

// sampleWIP stores today's open items per stage, the series behind the digest's WIP chart. The counts
// are the store's aggregate, kept with the items, so the sample reads a few keys, not every open item.
func (b *Bot) sampleWIP(ctx context.Context, now time.Time) {
	var wip map[domain.StageID]int
	err := b.store.View(ctx, func(tx domain.ReadTx) error {
		counts, err := tx.OpenCounts()
		wip = counts.ByStage
		return err
	})
	if err != nil {
		return
	}
	if wip == nil {
		wip = map[domain.StageID]int{} // stored as {}, like a day with counts
	}
	raw, _ := json.Marshal(wip)
	err = b.store.UpdateState(ctx, func(tx domain.StateTx) error {
		return tx.Put(kvWIPSamples, b.policy.Calendar.Today(now).String(), raw)
	})
	if err != nil {
		b.log.Warn().Err(err).Msg("cannot store the WIP sample")
	}
}
