package bot

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"workbot/domain"
)

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
// how much it left out, pointing to /work list. plan is last week's plan versus execution; nil leaves
// the section out.
func digestBlocks(d domain.Digest, ch domain.Changes, hasPrev bool, p *domain.Policy, title string, plan *domain.Alignment) []slack.Block {
	today := d.Today
	var b []slack.Block
	b = append(b, header(title))
	loc := p.Calendar.Location
	if loc == nil {
		loc = time.UTC
	}
	b = append(b, contextText(fmt.Sprintf("%d open items · flow over %s → %s", d.OpenItems, d.Period.From.In(loc).Format("Jan 2"), d.Period.To.In(loc).Format("Jan 2 15:04 MST"))))

	// Top priorities.
	lines := make([]string, 0, len(d.Top))
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
	lines, more := linesOf(d.Overloaded, 15, func(o domain.OverloadedPerson) string {
		line := loadLine(o.Load)
		var big []string
		for _, it := range o.Biggest {
			big = append(big, it.Key+" ("+strconv.Itoa(it.Size)+")")
		}
		if len(big) > 0 {
			line += " — biggest: " + strings.Join(big, ", ")
		}
		return line
	})
	if len(lines) == 0 {
		lines = append(lines, "Nobody is over capacity.")
	}
	b = append(b, section(sectionListMore("🔥 *Overloaded*", lines, more, "`/work load`")))

	// Stalled work by reason, in one pass: the list can hold every open item of a large org.
	const stalledShown = 12
	shownStalls := map[domain.StallReason][]domain.Stall{}
	for _, st := range d.Stalled {
		if len(shownStalls[st.Reason]) < stalledShown {
			shownStalls[st.Reason] = append(shownStalls[st.Reason], st)
		}
	}
	stallCount := map[domain.StallReason]int{}
	for _, reason := range []domain.StallReason{domain.StallHandoff, domain.StallBlocked, domain.StallStage} {
		stallCount[reason] = d.StalledTotal(reason)
		if stallCount[reason] == 0 {
			continue
		}
		lines, _ := linesOf(shownStalls[reason], stalledShown, func(s domain.Stall) string {
			return "*" + s.Item.Key + "* " + escCut(oneLine(s.Item.Title), 60) + " · " + mention(s.Item.Assignee) + " · " + esc(stageName(p, s.Item.Stage)) + " · stalled " + fmtDur(s.For) + " (limit " + fmtDur(s.Threshold) + ")"
		})
		more := stallCount[reason] - len(lines)
		b = append(b, section(sectionListMore("🐢 *Stalled: "+reason.Describe()+"* ("+strconv.Itoa(stallCount[reason])+")", lines, more, "`/work list`")))
	}

	// Blocked chains: plain blocks already show under stalled work once they last.
	var chains []domain.BlockedItem
	for _, bl := range d.Blocked {
		if bl.Depth >= 2 || bl.Reason == "" {
			chains = append(chains, bl)
		}
	}
	if len(chains) > 0 {
		lines, more := linesOf(chains, 10, func(bl domain.BlockedItem) string {
			var deps []string
			for _, dep := range bl.DependsOn {
				deps = append(deps, dep.Key)
			}
			line := "*" + bl.Item.Key + "* waits on " + capList(deps, 10)
			if bl.Depth >= 2 {
				line += " (chain of " + strconv.Itoa(bl.Depth) + ")"
			}
			return line
		})
		b = append(b, section(sectionListMore("⛓ *Blocked chains*", lines, more, "`/work list`")))
	}

	// Handoffs waiting.
	if len(d.PendingHandoffs) > 0 {
		lines, more := linesOf(d.PendingHandoffs, 10, func(h domain.HandoffAge) string {
			return "*" + h.Item.Key + "* " + mention(h.Handoff.From) + " → " + handoffTarget(h.Handoff) + " · waiting " + fmtDur(h.Age)
		})
		b = append(b, section(sectionListMore("🔁 *Pending handoffs*", lines, more, "App Home")))
	}

	// Due soon and overdue.
	if len(d.Overdue)+len(d.DueSoon) > 0 {
		lines, more := linesOf(d.Overdue, 15, func(it domain.Item) string {
			return "❗ *" + it.Key + "* " + escCut(oneLine(it.Title), 60) + " · due " + it.Due.String() + " · " + mention(it.Assignee)
		})
		soon, moreSoon := linesOf(d.DueSoon, 15-len(lines), func(it domain.Item) string {
			return "⏳ *" + it.Key + "* " + escCut(oneLine(it.Title), 60) + " · due " + dueLabel(it.Due, today) + " · " + mention(it.Assignee)
		})
		b = append(b, section(sectionListMore("📅 *Overdue and due soon*", append(lines, soon...), more+moreSoon, "`/work list`")))
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
	if plan != nil {
		b = append(b, section(alignmentDigestSection(*plan, p)))
	}

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
		if ch.NewlyStalledCount > 0 || len(ch.NewlyStalled) > 0 {
			var keys []string
			for _, s := range ch.NewlyStalled {
				if len(keys) == 15 {
					break
				}
				keys = append(keys, s.Item.Key)
			}
			line := "Newly stalled: " + strings.Join(keys, ", ")
			if more := max(ch.NewlyStalledCount, len(ch.NewlyStalled)) - len(keys); more > 0 {
				line += " and " + strconv.Itoa(more) + " more"
			}
			parts = append(parts, line)
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

// linesOf renders at most n entries of xs and reports how many it left out, so a list of 100k entries
// costs only what is shown.
func linesOf[T any](xs []T, n int, line func(T) string) ([]string, int) {
	shown, more := listLimit(xs, n)
	out := make([]string, 0, len(shown))
	for _, x := range shown {
		out = append(out, line(x))
	}
	return out, more
}

// sectionListMore joins already-cut lines under a title, with "…and N more" for what was cut before.
func sectionListMore(title string, lines []string, more int, where string) string {
	if len(lines) == 0 && more == 0 {
		return title + "\nNothing."
	}
	for {
		s := title + "\n" + strings.Join(lines, "\n")
		if more > 0 {
			s += "\n" + andMore(more, where)
		}
		if len([]rune(s)) <= maxSectionText || len(lines) <= 1 {
			return cut(s, maxSectionText)
		}
		lines = lines[:len(lines)-1]
		more++
	}
}

// sectionList joins a titled list, cut to n lines and to the section limit, saying how many were left out.
func sectionList(title string, lines []string, n int, where string) string {
	shown, more := listLimit(lines, n)
	return sectionListMore(title, shown, more, where)
}
