package bot

import (
	"context"
	"encoding/json"
	"sort"
	"time"

	"github.com/slack-go/slack"

	"workbot/domain"
)

// sendPersonalDigests DMs each person who has work and did not opt out: top items, pending handoffs and
// what of theirs is stalling. Each DM is queued in the outbox in the same transaction as a marker for
// that person and day, so everyone gets exactly one, whether the job runs twice, is cut short by a
// deadline or a stop, or the process dies halfway: what was queued is delivered after a restart, and
// whoever was not queued yet is queued by the next run that day.
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
	err := b.store.View(ctx, func(tx domain.ReadTx) error {
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
	var batch []personalDM
	for _, u := range users {
		if optedOut[u] {
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
		batch = append(batch, personalDM{user: u, blocks: personalBlocks(b.policy.Rank(p.items, now), p.incoming, stalling, b.policy)})
		if len(batch) == personalBatch {
			if !b.queuePersonal(ctx, today, batch) {
				return
			}
			batch = batch[:0]
		}
	}
	b.queuePersonal(ctx, today, batch)
}

// personalBatch is how many morning DMs one transaction queues: enough to keep commits few, small
// enough that a transaction stays short.
const personalBatch = 200

type personalDM struct {
	user   domain.UserID
	blocks []slack.Block
}

// queuePersonal queues the DMs of people not yet queued today, with their markers, in one transaction.
func (b *Bot) queuePersonal(ctx context.Context, today domain.Date, dms []personalDM) bool {
	if len(dms) == 0 {
		return true
	}
	payloads := make([][]byte, len(dms))
	for i, dm := range dms {
		raw, err := json.Marshal(dm.blocks)
		if err != nil {
			b.log.Error().Err(err).Msg("personal digest blocks")
			return false
		}
		payloads[i] = raw
	}
	err := b.store.UpdateState(ctx, func(tx domain.StateTx) error {
		e := &effects{b: b, st: tx}
		for i, dm := range dms {
			marker := personalKey(today, dm.user)
			if v, err := tx.Get(kvPersonalSent, marker); err != nil {
				return err
			} else if v != nil {
				continue
			}
			if err := tx.Put(kvPersonalSent, marker, []byte{1}); err != nil {
				return err
			}
			e.key = "user:" + string(dm.user)
			e.dm(dm.user, effect{Text: "☀️ Your work today", Blocks: payloads[i]})
		}
		return e.flush(tx)
	})
	if err != nil {
		b.log.Error().Err(err).Msg("cannot queue the morning DMs")
		return false
	}
	return true
}

// personalKey marks one person's morning DM of one day. The date comes first so that pruning old
// markers reads only the old ones.
func personalKey(day domain.Date, user domain.UserID) string {
	return day.String() + "|" + string(user)
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
