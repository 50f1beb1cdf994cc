package bot

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	"github.com/rs/zerolog"
	"github.com/slack-go/slack"

	"workbot/domain"
)

// CronParser reads schedules: the standard five fields, an optional leading seconds field (handy for
// tests and the sandbox), and descriptors such as @daily. The config loader validates with it too.
var CronParser = cron.NewParser(cron.SecondOptional | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// Schedules configures the scheduled work. Empty specs turn a job off.
type Schedules struct {
	Digest   string         // leadership digest slots
	Personal string         // the personal morning DM
	Sweep    string         // nudges, escalations and the daily WIP sample (default every 10 minutes)
	Location *time.Location // the zone the specs are read in
	// Grace is how late a missed digest slot may still be posted at start-up (default 2h).
	Grace time.Duration
	// Backup takes a hot backup of the database into BackupDir, keeping the newest BackupKeep.
	Backup     string
	BackupDir  string
	BackupKeep int
}

// cronLogger adapts zerolog to cron's logger interface.
type cronLogger struct{ log zerolog.Logger }

func (l cronLogger) Info(msg string, kv ...any) {
	if msg == "skip" { // a job still running from its last tick: worth knowing
		l.log.Warn().Fields(kv).Msg("cron: skipped a run because the previous one is still going")
		return
	}
	l.log.Debug().Fields(kv).Msg("cron: " + msg)
}

func (l cronLogger) Error(err error, msg string, kv ...any) {
	l.log.Error().Err(err).Fields(kv).Msg("cron: " + msg)
}

// startScheduler registers the jobs and catches up a digest slot missed while the bot was down.
// The returned function stops the scheduler and waits for running jobs.
func (b *Bot) startScheduler(ctx context.Context) (func(), error) {
	s := b.cfg.Schedules
	loc := s.Location
	if loc == nil {
		loc = b.policy.Calendar.Location
	}
	if loc == nil {
		loc = time.UTC
	}
	logger := cronLogger{b.log}
	c := cron.New(
		cron.WithLocation(loc),
		cron.WithParser(CronParser),
		cron.WithLogger(logger),
		cron.WithChain(cron.Recover(logger), cron.SkipIfStillRunning(logger)),
	)
	add := func(name, spec string, fn func(context.Context)) error {
		if spec == "" {
			return nil
		}
		_, err := c.AddFunc(spec, func() {
			jctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
			defer cancel()
			fn(jctx)
		})
		if err != nil {
			return fmt.Errorf("schedule %s %q: %w", name, spec, err)
		}
		return nil
	}
	if err := add("digest", s.Digest, func(ctx context.Context) { b.runDigestSlot(ctx, b.now(), false) }); err != nil {
		return nil, err
	}
	if err := add("personal", s.Personal, func(ctx context.Context) { b.sendPersonalDigests(ctx, b.now()) }); err != nil {
		return nil, err
	}
	sweep := s.Sweep
	if sweep == "" {
		sweep = "0 */10 * * * *"
	}
	if err := add("sweep", sweep, func(ctx context.Context) { b.sweep(ctx, b.now()) }); err != nil {
		return nil, err
	}
	if err := add("backup", s.Backup, func(ctx context.Context) { b.backup(b.now()) }); err != nil {
		return nil, err
	}
	if s.Digest != "" {
		// Off the start-up path: posting can take a while and envelopes must be read meanwhile.
		b.handlerWG.Add(1)
		go func() {
			defer b.handlerWG.Done()
			b.runDigestSlot(ctx, b.now(), true)
		}()
	}
	c.Start()
	return func() { <-c.Stop().Done() }, nil
}

// latestSlot is the newest time at or before now that spec fires, looking back at most lookback.
// It searches growing windows so that a schedule firing every second is as cheap as a daily one.
func latestSlot(spec string, loc *time.Location, now time.Time, lookback time.Duration) (time.Time, bool) {
	sched, err := CronParser.Parse(spec)
	if err != nil {
		return time.Time{}, false
	}
	if loc != nil {
		now = now.In(loc)
	}
	for _, window := range []time.Duration{2 * time.Minute, 2 * time.Hour, 2 * 24 * time.Hour, lookback} {
		window = min(window, lookback)
		var last time.Time
		t := now.Add(-window)
		for range 10000 {
			n := sched.Next(t)
			if n.IsZero() || n.After(now) {
				break
			}
			last, t = n, n
		}
		if !last.IsZero() {
			return last, true
		}
		if window == lookback {
			break
		}
	}
	return time.Time{}, false
}

// slotRecord is the durable state of one digest slot, kept so that no slot is ever posted twice.
// Before posting to a channel the bot records "attempting"; after Slack answers, "posted" with the ts.
// A crash in between leaves "attempting": that channel is then never posted again for the slot, because
// the bot cannot tell whether Slack received it and a duplicate is worse than a gap. The gap is logged.
type slotRecord struct {
	Slot     time.Time               `json:"slot"`
	Channels map[string]slotDelivery `json:"channels"`
}

type slotDelivery struct {
	State string `json:"state"` // attempting | posted | failed
	TS    string `json:"ts,omitempty"`
}

const kvDigestSlot = "slot"

func (b *Bot) loadSlot() (slotRecord, error) {
	var r slotRecord
	raw, err := b.db.GetKV(kvDigest, kvDigestSlot)
	if err != nil {
		return r, err
	}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &r); err != nil {
			return r, fmt.Errorf("digest slot record: %w", err)
		}
	}
	return r, nil
}

func (b *Bot) saveSlot(r slotRecord) error {
	raw, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return b.db.PutKV(kvDigest, kvDigestSlot, raw)
}

// runDigestSlot posts the digest for the latest slot at or before now, once per channel. At start-up
// (catchUp) only a slot within the grace window is posted; a tick posts the slot it fired for.
func (b *Bot) runDigestSlot(ctx context.Context, now time.Time, catchUp bool) {
	b.digestMu.Lock()
	defer b.digestMu.Unlock()
	if b.testCrashed.Load() {
		return
	}
	s := b.cfg.Schedules
	loc := s.Location
	if loc == nil {
		loc = b.policy.Calendar.Location
	}
	if loc == nil {
		loc = time.UTC
	}
	lookback := 8 * 24 * time.Hour
	grace := s.Grace
	if grace <= 0 {
		grace = 2 * time.Hour
	}
	if catchUp {
		lookback = grace
	}
	slot, ok := latestSlot(s.Digest, loc, now, lookback)
	if !ok {
		if catchUp {
			if missed, ok := latestSlot(s.Digest, loc, now, 8*24*time.Hour); ok {
				// A fresh install has no record: nothing was missed, it just had not started yet.
				if rec, err := b.loadSlot(); err == nil && !rec.Slot.IsZero() && rec.Slot.Before(missed) {
					b.log.Warn().Time("slot", missed).Dur("grace", grace).Msg("a digest slot was missed while workbot was down longer than digest.grace; it is not posted late")
				}
			}
		}
		return
	}
	rec, err := b.loadSlot()
	if err != nil {
		b.log.Error().Err(err).Msg("cannot read the digest slot record; skipping the digest rather than risking a duplicate")
		return
	}
	if rec.Slot.After(slot) {
		return
	}
	if !rec.Slot.Equal(slot) {
		rec = slotRecord{Slot: slot, Channels: map[string]slotDelivery{}}
	}
	var pending []string
	for _, ch := range b.cfg.LeadershipChannels {
		switch rec.Channels[ch].State {
		case "posted":
		case "attempting":
			if catchUp {
				b.log.Warn().Str("channel", ch).Time("slot", slot).Msg("a digest post was interrupted; not posting again, as it may have arrived")
			}
		default:
			pending = append(pending, ch)
		}
	}
	if len(pending) == 0 {
		return
	}
	d, err := b.buildDigest(ctx, now, b.digestTop())
	if err != nil {
		b.log.Error().Err(err).Msg("digest build failed")
		return
	}
	d.Stalled = b.afterNudge(ctx, d.Stalled)
	prev, hasPrev := b.lastSnapshot()
	blocks := digestBlocks(d, d.ChangesSince(prev), hasPrev, b.policy, "Work digest · "+slot.In(loc).Format("Mon Jan 2"))
	chart := b.renderChart(ctx, d, now)
	for _, ch := range pending {
		rec.Channels[ch] = slotDelivery{State: "attempting"}
		if err := b.saveSlot(rec); err != nil {
			b.log.Error().Err(err).Msg("cannot record the digest attempt; not posting")
			return
		}
		ts, err := b.out.postWith(ctx, retryRateLimit, ch, "", "Work digest", blocks)
		if err != nil {
			if !definitelyNotDone(err) {
				// A 5xx, a timeout or a dropped connection: the digest may have arrived. The record
				// stays "attempting", so it is never posted twice; the gap, if any, is logged.
				b.log.Error().Err(err).Str("channel", ch).Time("slot", slot).Msg("digest post failed in a way that may have posted it; not retrying this slot")
				continue
			}
			// Slack refused it by name, so nothing was posted: the next run may try again.
			b.log.Error().Err(err).Str("channel", ch).Msg("digest post failed")
			rec.Channels[ch] = slotDelivery{State: "failed"}
			_ = b.saveSlot(rec)
			continue
		}
		if b.testHookAfterDigestPost != nil && b.testHookAfterDigestPost(ch) {
			b.testCrashed.Store(true) // a simulated crash between posting and recording
			return
		}
		rec.Channels[ch] = slotDelivery{State: "posted", TS: ts}
		if err := b.saveSlot(rec); err != nil {
			b.log.Error().Err(err).Msg("cannot record the digest post")
			return
		}
		if chart != nil {
			b.uploadChart(ctx, ch, ts, chart)
		}
	}
	raw, _ := json.Marshal(d.Snapshot())
	if err := b.db.PutKV(kvDigest, kvDigestSnapshot, raw); err != nil {
		b.log.Warn().Err(err).Msg("cannot store the digest snapshot")
	}
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
			!nudgedInStage(it) && s.For-s.Threshold < 24*time.Hour
		if !waiting {
			out = append(out, s)
		}
	}
	return out
}

func nudgedInStage(it domain.Item) bool {
	return !it.NudgedAt.IsZero() && !it.NudgedAt.Before(it.StageEnteredAt)
}

func (b *Bot) nudgesOff(ctx context.Context) map[domain.UserID]bool {
	off := map[domain.UserID]bool{}
	_ = b.db.View(ctx, func(tx domain.ReadTx) error {
		return tx.People(func(p domain.Person) bool {
			if p.NudgesOff {
				off[p.ID] = true
			}
			return true
		})
	})
	return off
}

// sweep runs the periodic checks: nudges, handoff escalations and the daily WIP sample.
func (b *Bot) sweep(ctx context.Context, now time.Time) {
	b.sendNudges(ctx, now)
	escalated, err := b.svc.EscalateHandoffs(ctx)
	if err != nil {
		b.log.Error().Err(err).Msg("handoff escalation failed")
	}
	for _, h := range escalated {
		it, err := b.svc.Item(ctx, h.ItemID)
		if err != nil {
			continue
		}
		for _, lead := range b.leadsFor(h, it) {
			b.dm(ctx, lead, "⏰ The handoff of "+itemRef(it)+" to "+handoffTarget(h)+" has waited since "+h.RequestedAt.UTC().Format("Jan 2 15:04 UTC")+" without an answer.", nil)
		}
		b.announce(ctx, domain.Result{Item: it, Events: []domain.Event{{Type: domain.EventHandoffEscalated, Actor: domain.SystemActor, ItemID: it.ID, Handoff: h.ID}}})
	}
	b.sampleWIP(ctx, now)
}

// sendNudges DMs assignees whose items near their stage's stall threshold. The nudge is recorded before
// the DM, so a crash can lose a nudge but never send it twice.
func (b *Bot) sendNudges(ctx context.Context, now time.Time) {
	if b.policy.NudgeRatio <= 0 {
		return
	}
	var due []domain.Item
	optedOut := b.nudgesOff(ctx)
	err := b.db.View(ctx, func(tx domain.ReadTx) error {
		return tx.OpenItems(func(it domain.Item) bool {
			if optedOut[it.Assignee] {
				return true
			}
			if b.policy.NudgeDue(it, now) {
				due = append(due, it)
			} else if s, ok := b.policy.StallOf(it, 0, nil, now); ok && s.Reason == domain.StallStage && it.Assignee != "" && !nudgedInStage(it) {
				// Stalled before any sweep saw it nearing the limit (the bot was down): nudge now anyway.
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
		res, err := b.svc.MarkNudged(ctx, it.ID)
		if err != nil {
			b.log.Warn().Err(err).Str("item", it.Key).Msg("could not record a nudge")
			continue
		}
		b.dm(ctx, res.Item.Assignee, "⏳ "+it.Key+" is close to stalling", nudgeBlocks(res.Item, b.policy, now))
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

// sampleWIP stores today's open items per stage, the series behind the digest's WIP chart.
func (b *Bot) sampleWIP(ctx context.Context, now time.Time) {
	wip := map[domain.StageID]int{}
	err := b.db.View(ctx, func(tx domain.ReadTx) error {
		return tx.OpenItems(func(it domain.Item) bool { wip[it.Stage]++; return true })
	})
	if err != nil {
		return
	}
	raw, _ := json.Marshal(wip)
	if err := b.db.PutKV(kvWIPSamples, b.policy.Calendar.Today(now).String(), raw); err != nil {
		b.log.Warn().Err(err).Msg("cannot store the WIP sample")
	}
}

const kvWIPSamples = "wip_samples" // date → open items per stage

// wipSeries reads the stored samples of the last days, oldest first.
func (b *Bot) wipSeries(from domain.Date) ([]domain.Date, []map[domain.StageID]int) {
	var days []domain.Date
	var samples []map[domain.StageID]int
	_ = b.db.ForEachKV(kvWIPSamples, func(key string, val []byte) bool {
		d, err := domain.ParseDate(key)
		if err != nil || d.Before(from) {
			return true
		}
		var m map[domain.StageID]int
		if json.Unmarshal(val, &m) == nil {
			days = append(days, d)
			samples = append(samples, m)
		}
		return true
	})
	idx := make([]int, len(days))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(i, j int) bool { return days[idx[i]].Before(days[idx[j]]) })
	sd := make([]domain.Date, len(idx))
	ss := make([]map[domain.StageID]int, len(idx))
	for i, k := range idx {
		sd[i], ss[i] = days[k], samples[k]
	}
	return sd, ss
}

// sendPersonalDigests DMs each person who has work and did not opt out: top items, pending handoffs and
// what of theirs is stalling. A per-day marker keeps it to one DM a day per person.
func (b *Bot) sendPersonalDigests(ctx context.Context, now time.Time) {
	today := b.policy.Calendar.Today(now)
	if !b.policy.Calendar.IsWorkingDay(today) {
		return
	}
	type personal struct {
		items    []domain.Item
		incoming []handoffWithItem
	}
	byUser := map[domain.UserID]*personal{}
	optedOut := map[domain.UserID]bool{}
	pendingOf := map[domain.ItemID]*domain.Handoff{}
	open := map[domain.ItemID]bool{}
	err := b.db.View(ctx, func(tx domain.ReadTx) error {
		if err := tx.People(func(p domain.Person) bool {
			optedOut[p.ID] = p.PersonalDigestOff
			return true
		}); err != nil {
			return err
		}
		if err := tx.OpenItems(func(it domain.Item) bool {
			open[it.ID] = true
			if it.Assignee != "" {
				if byUser[it.Assignee] == nil {
					byUser[it.Assignee] = &personal{}
				}
				byUser[it.Assignee].items = append(byUser[it.Assignee].items, it)
			}
			return true
		}); err != nil {
			return err
		}
		return tx.PendingHandoffs(func(h domain.Handoff) bool {
			hc := h
			pendingOf[h.ItemID] = &hc
			if h.Status != domain.HandoffPending || h.To == "" {
				return true
			}
			it, err := tx.Item(h.ItemID)
			if err != nil {
				return true
			}
			if byUser[h.To] == nil {
				byUser[h.To] = &personal{}
			}
			byUser[h.To].incoming = append(byUser[h.To].incoming, handoffWithItem{h, it})
			return true
		})
	})
	if err != nil {
		b.log.Error().Err(err).Msg("personal digest scan failed")
		return
	}
	users := make([]domain.UserID, 0, len(byUser))
	for u := range byUser {
		users = append(users, u)
	}
	sort.Slice(users, func(i, j int) bool { return users[i] < users[j] })
	for _, u := range users {
		if optedOut[u] {
			continue
		}
		key := string(u) + "|" + today.String()
		if raw, _ := b.db.GetKV(kvPersonalSent, key); len(raw) > 0 {
			continue
		}
		if err := b.db.PutKV(kvPersonalSent, key, []byte("1")); err != nil {
			continue
		}
		p := byUser[u]
		var stalling []string
		for _, it := range p.items {
			openDeps := 0
			for _, dep := range it.DependsOn {
				if open[dep] {
					openDeps++
				}
			}
			if s, ok := b.policy.StallOf(it, openDeps, pendingOf[it.ID], now); ok {
				stalling = append(stalling, "*"+it.Key+"* "+escCut(oneLine(it.Title), 60)+" · "+s.Reason.Describe()+" for "+fmtDur(s.For))
			} else if b.policy.NudgeDue(it, now) {
				stalling = append(stalling, "*"+it.Key+"* "+escCut(oneLine(it.Title), 60)+" · close to its stage limit")
			}
		}
		b.dm(ctx, u, "☀️ Your work today", personalBlocks(b.policy.Rank(p.items, now), p.incoming, stalling, b.policy))
	}
}

const kvPersonalSent = "personal_sent" // "<user>|<date>" → sent

func personalBlocks(top []domain.Ranked, incoming []handoffWithItem, stalling []string, p *domain.Policy) []slack.Block {
	var lines []string
	for _, r := range top {
		lines = append(lines, rankedLine(r, p))
	}
	b := []slack.Block{section(sectionList("☀️ *Your top items today*", lines, 10, "App Home"))}
	if len(incoming) > 0 {
		var hl []string
		for _, h := range incoming {
			hl = append(hl, itemRef(h.Item)+" from "+mention(h.Handoff.RequestedBy))
		}
		b = append(b, section(sectionList("🔁 *Handoffs waiting for you*", hl, 10, "App Home")))
	}
	if len(stalling) > 0 {
		b = append(b, section(sectionList("🐢 *Stalling*", stalling, 10, "App Home")))
	}
	b = append(b, contextText("Turn this off with `/work prefs digest off` or in App Home."))
	return b
}

// backup writes a hot backup named by its time and removes the oldest beyond BackupKeep. Backups are
// consistent snapshots (bbolt's Tx.WriteTo) taken while the bot keeps serving.
func (b *Bot) backup(now time.Time) {
	s := b.cfg.Schedules
	if err := os.MkdirAll(s.BackupDir, 0o700); err != nil {
		b.log.Error().Err(err).Str("dir", s.BackupDir).Msg("backup directory")
		return
	}
	name := filepath.Join(s.BackupDir, "workbot-"+now.UTC().Format("20060102T150405Z")+".db")
	if err := b.db.BackupFile(name); err != nil {
		b.log.Error().Err(err).Str("file", name).Msg("backup failed")
		return
	}
	b.log.Info().Str("file", name).Msg("backup written")
	// Only files this job named are pruned: never the live database, never anything else in the folder.
	entries, err := os.ReadDir(s.BackupDir)
	if err != nil {
		return
	}
	live, _ := filepath.Abs(b.db.Path())
	var old []string
	for _, e := range entries {
		stamp, ok := strings.CutPrefix(e.Name(), "workbot-")
		stamp, ok2 := strings.CutSuffix(stamp, ".db")
		if !ok || !ok2 || e.IsDir() {
			continue
		}
		if _, err := time.Parse("20060102T150405Z", stamp); err != nil {
			continue
		}
		path := filepath.Join(s.BackupDir, e.Name())
		if abs, _ := filepath.Abs(path); abs == live {
			continue
		}
		old = append(old, path)
	}
	sort.Strings(old) // the names sort by time
	keep := max(s.BackupKeep, 1)
	for len(old) > keep {
		if err := os.Remove(old[0]); err != nil {
			b.log.Warn().Err(err).Str("file", old[0]).Msg("could not remove an old backup")
		}
		old = old[1:]
	}
}
