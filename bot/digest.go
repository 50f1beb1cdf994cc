package bot

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"workbot/domain"
)

// digestWindow is the period the flow metrics cover. A single day is too noisy to read a trend from,
// so every digest looks back a week; "changes since the last digest" covers the time between digests.
const digestWindow = 7 * 24 * time.Hour

// buildDigest computes the digest data as of now.
func (b *Bot) buildDigest(ctx context.Context, now time.Time, top int) (domain.Digest, error) {
	var d domain.Digest
	err := b.db.View(ctx, func(tx domain.ReadTx) error {
		var err error
		d, err = domain.BuildDigest(tx, b.policy, now.Add(-digestWindow), now, now, top)
		return err
	})
	return d, err
}

func fmtDur(d time.Duration) string {
	switch {
	case d <= 0:
		return "—"
	case d < time.Hour:
		return strconv.Itoa(int(math.Ceil(d.Minutes()))) + "m"
	case d < 24*time.Hour:
		return strconv.FormatFloat(math.Round(d.Hours()*10)/10, 'f', -1, 64) + "h"
	}
	return strconv.FormatFloat(math.Round(d.Hours()/24*10)/10, 'f', -1, 64) + "d"
}

func pct(f float64) string { return strconv.Itoa(int(math.Round(f*100))) + "%" }

// digestBlocks renders the leadership digest. It always fits one message: each section is capped and says
// how much it left out, pointing to /work list.
func digestBlocks(d domain.Digest, ch domain.Changes, hasPrev bool, p *domain.Policy, title string) []slack.Block {
	today := d.Today
	var b []slack.Block
	b = append(b, header(title))
	b = append(b, contextText(fmt.Sprintf("%d open items · flow over %s → %s", d.OpenItems, d.Period.From.In(p.Calendar.Location).Format("Jan 2"), d.Period.To.In(p.Calendar.Location).Format("Jan 2 15:04 MST"))))

	// Top priorities.
	var lines []string
	for _, r := range d.Top {
		it := r.Item
		age := fmtDur(d.Now.Sub(it.CreatedAt))
		line := strconv.Itoa(r.Rank) + ". *" + it.Key + "* " + escCut(oneLine(it.Title), 70) + " · " + mention(it.Assignee) + " · " + esc(stageName(p, it.Stage)) + " · age " + age
		if !it.Due.IsZero() {
			line += " · due " + dueLabel(it.Due, today)
		}
		lines = append(lines, line)
	}
	b = append(b, section(sectionList("🎯 *Top priorities*", lines, 20, "`/work list`")))

	// Overloaded people.
	lines = lines[:0]
	for _, o := range d.Overloaded {
		line := loadLine(o.Load)
		var big []string
		for _, it := range o.Biggest {
			big = append(big, it.Key+" ("+strconv.Itoa(it.Size)+")")
		}
		if len(big) > 0 {
			line += " — biggest: " + strings.Join(big, ", ")
		}
		lines = append(lines, line)
	}
	if len(lines) == 0 {
		lines = append(lines, "Nobody is over capacity.")
	}
	b = append(b, section(sectionList("🔥 *Overloaded*", lines, 15, "`/work load`")))

	// Stalled work by reason.
	for _, reason := range []domain.StallReason{domain.StallHandoff, domain.StallBlocked, domain.StallStage} {
		stalls := d.StalledBy(reason)
		if len(stalls) == 0 {
			continue
		}
		lines = lines[:0]
		for _, s := range stalls {
			lines = append(lines, "*"+s.Item.Key+"* "+escCut(oneLine(s.Item.Title), 60)+" · "+mention(s.Item.Assignee)+" · "+esc(stageName(p, s.Item.Stage))+" · stalled "+fmtDur(s.For)+" (limit "+fmtDur(s.Threshold)+")")
		}
		b = append(b, section(sectionList("🐢 *Stalled: "+reason.Describe()+"* ("+strconv.Itoa(len(stalls))+")", lines, 12, "`/work list`")))
	}

	// Blocked chains.
	lines = lines[:0]
	for _, bl := range d.Blocked {
		if bl.Depth < 2 && bl.Reason != "" {
			continue // plain blocks are in the stalled section once they last; chains are shown here
		}
		var deps []string
		for _, dep := range bl.DependsOn {
			deps = append(deps, dep.Key)
		}
		line := "*" + bl.Item.Key + "* waits on " + strings.Join(deps, ", ")
		if bl.Depth >= 2 {
			line += " (chain of " + strconv.Itoa(bl.Depth) + ")"
		}
		lines = append(lines, line)
	}
	if len(lines) > 0 {
		b = append(b, section(sectionList("⛓ *Blocked chains*", lines, 10, "`/work list`")))
	}

	// Handoffs waiting.
	if len(d.PendingHandoffs) > 0 {
		lines = lines[:0]
		for _, h := range d.PendingHandoffs {
			lines = append(lines, "*"+h.Item.Key+"* "+mention(h.Handoff.From)+" → "+handoffTarget(h.Handoff)+" · waiting "+fmtDur(h.Age))
		}
		b = append(b, section(sectionList("🔁 *Pending handoffs*", lines, 10, "App Home")))
	}

	// Due soon and overdue.
	if len(d.Overdue)+len(d.DueSoon) > 0 {
		lines = lines[:0]
		for _, it := range d.Overdue {
			lines = append(lines, "❗ *"+it.Key+"* "+escCut(oneLine(it.Title), 60)+" · due "+it.Due.String()+" · "+mention(it.Assignee))
		}
		for _, it := range d.DueSoon {
			lines = append(lines, "⏳ *"+it.Key+"* "+escCut(oneLine(it.Title), 60)+" · due "+dueLabel(it.Due, today)+" · "+mention(it.Assignee))
		}
		b = append(b, section(sectionList("📅 *Overdue and due soon*", lines, 15, "`/work list`")))
	}

	// Flow metrics.
	f := d.Flow
	b = append(b, fields(
		"Created / completed", strconv.Itoa(f.Created)+" / "+strconv.Itoa(f.Completed),
		"Throughput", strconv.FormatFloat(math.Round(f.Throughput*10)/10, 'f', -1, 64)+" per working day",
		"Cycle time p50 / p85", fmtDur(f.CycleTimeP50)+" / "+fmtDur(f.CycleTimeP85),
		"Completion rate", pct(f.CompletionRate),
		"Deadline hit-rate", deadlineLabel(f),
		"WIP by stage", wipLabel(f.WIPByStage, p),
	))

	// Changes since the last digest.
	if hasPrev {
		var parts []string
		if len(ch.NewTop) > 0 {
			var keys []string
			for _, r := range ch.NewTop {
				keys = append(keys, r.Item.Key)
			}
			parts = append(parts, "New in the top: "+capList(keys, 15))
		}
		if len(ch.NewlyStalled) > 0 {
			var keys []string
			for _, s := range ch.NewlyStalled {
				keys = append(keys, s.Item.Key)
			}
			parts = append(parts, "Newly stalled: "+capList(keys, 15))
		}
		if len(ch.Resolved) > 0 {
			var keys []string
			for _, id := range ch.Resolved {
				keys = append(keys, domain.FormatKey(p.KeyPrefix, id))
			}
			parts = append(parts, "No longer stalled: "+capList(keys, 15))
		}
		if len(parts) == 0 {
			parts = append(parts, "No change in the top or in stalled work.")
		}
		b = append(b, section("🔄 *Since the last digest*\n"+strings.Join(parts, "\n")))
	}
	return fitBlocks(b, maxMessageBlocks, "See `/work list`.")
}

func deadlineLabel(f domain.Flow) string {
	if f.DeadlinesTotal == 0 {
		return "no deadlines due"
	}
	return pct(f.DeadlineHitRate) + " (" + strconv.Itoa(f.DeadlinesMet) + " of " + strconv.Itoa(f.DeadlinesTotal) + ")"
}

func wipLabel(wip map[domain.StageID]int, p *domain.Policy) string {
	var parts []string
	for _, st := range p.Workflow.Stages {
		if n, ok := wip[st.ID]; ok && !st.Terminal {
			s := esc(st.Name) + " " + strconv.Itoa(n)
			if st.WIPLimit > 0 {
				s += "/" + strconv.Itoa(st.WIPLimit)
			}
			parts = append(parts, s)
		}
	}
	return orDash(strings.Join(parts, " · "))
}

func capList(keys []string, n int) string {
	shown, more := listLimit(keys, n)
	s := strings.Join(shown, ", ")
	if more > 0 {
		s += " and " + strconv.Itoa(more) + " more"
	}
	return s
}

// sectionList joins a titled list, cut to n lines and to the section limit, saying how many were left out.
func sectionList(title string, lines []string, n int, where string) string {
	if len(lines) == 0 {
		return title + "\nNothing."
	}
	shown, more := listLimit(lines, n)
	for {
		s := title + "\n" + strings.Join(shown, "\n")
		if more > 0 {
			s += "\n" + andMore(more, where)
		}
		if len([]rune(s)) <= maxSectionText || len(shown) <= 1 {
			return cut(s, maxSectionText)
		}
		shown = shown[:len(shown)-1]
		more++
	}
}

// cmdDigest previews the digest for anyone (ephemeral) and posts it now for leads.
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
	now := b.now()
	d, err := b.buildDigest(ctx, now, b.digestTop())
	if err != nil {
		r.fail(ctx, err)
		return
	}
	prev, hasPrev := b.lastSnapshot()
	blocks := digestBlocks(d, d.ChangesSince(prev), hasPrev, b.policy, "Work digest")
	if !post {
		r.say(ctx, "Work digest preview", blocks...)
		return
	}
	for _, ch := range b.cfg.LeadershipChannels {
		if _, err := b.out.post(ctx, ch, "", "Work digest", blocks); err != nil {
			b.log.Error().Err(err).Str("channel", ch).Msg("digest post failed")
			r.say(ctx, "⚠️ Posting to <#"+ch+"> failed: "+esc(err.Error()))
			return
		}
	}
	r.say(ctx, "✅ Digest posted to "+strconv.Itoa(len(b.cfg.LeadershipChannels))+" channel(s).")
}

func (b *Bot) digestTop() int {
	if b.cfg.DigestTop > 0 {
		return b.cfg.DigestTop
	}
	return domain.DefaultDigestTop
}

const (
	kvDigest         = "digest"
	kvDigestSnapshot = "snapshot" // the last posted digest's top and stalled items
)

func (b *Bot) lastSnapshot() (domain.DigestSnapshot, bool) {
	var s domain.DigestSnapshot
	raw, err := b.db.GetKV(kvDigest, kvDigestSnapshot)
	if err != nil || len(raw) == 0 || json.Unmarshal(raw, &s) != nil {
		return domain.DigestSnapshot{}, false
	}
	return s, true
}
