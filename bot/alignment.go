package bot

import (
	"context"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"workbot/domain"
)

// Plan versus execution in Slack: `/work alignment [team]` and the digest's section. The numbers come
// from domain/alignment.go, which holds the definitions; this file only reads and renders.

// alignmentTrend is the last AlignmentTrendWeeks complete weeks before now, oldest first, for everyone
// or one team: stored reports where there are some, computed (for every team at once) where not; see
// alignment_cache.go.
func (b *Bot) alignmentTrend(ctx context.Context, now time.Time, team domain.TeamID) ([]domain.Alignment, error) {
	weeks := b.policy.Calendar.WeeksBefore(now, domain.AlignmentTrendWeeks)
	return b.alignmentReports(ctx, weeks, team, b.allAlignmentTeams())
}

// digestAlignment is the trend for the digest: nil when it cannot be computed, because the digest
// goes out anyway.
func (b *Bot) digestAlignment(ctx context.Context, now time.Time) []domain.Alignment {
	trend, err := b.alignmentTrend(ctx, now, "")
	if err != nil {
		b.log.Warn().Err(err).Msg("plan versus execution failed; the digest goes out without it")
		return nil
	}
	return trend
}

// lastWeek is the newest week of a trend, or nil.
func lastWeek(trend []domain.Alignment) *domain.Alignment {
	if len(trend) == 0 {
		return nil
	}
	return &trend[len(trend)-1]
}

// cmdAlignment answers `/work alignment [team]`. No rule of the permission table is about reading a
// report, so it is for anyone who leads something, like `/work load`: the numbers are about people's
// work and are read by the people who plan it.
func (b *Bot) cmdAlignment(ctx context.Context, r replier, args []string) {
	if !b.policy.IsAnyLead(r.user) {
		r.say(ctx, "Plan versus execution is for leads, since it looks at everyone's week. Your own work is in `/work mine`.")
		return
	}
	var team domain.Team
	if name := strings.TrimSpace(strings.Join(args, " ")); name != "" {
		t, ok := b.findTeam(name)
		if !ok {
			r.say(ctx, b.unknownTeam(name))
			return
		}
		team = t
	}
	trend, err := b.alignmentTrend(ctx, b.now(), team.ID)
	if err != nil {
		r.fail(ctx, err)
		return
	}
	r.say(ctx, "Plan vs execution", alignmentBlocks(trend, b.policy, teamName(b.policy, team.ID))...)
}

// findTeam matches a team by ID or name, ignoring case.
func (b *Bot) findTeam(name string) (domain.Team, bool) {
	for _, t := range b.policy.Teams {
		if strings.EqualFold(string(t.ID), name) || (t.Name != "" && strings.EqualFold(t.Name, name)) {
			return t, true
		}
	}
	return domain.Team{}, false
}

func (b *Bot) unknownTeam(name string) string {
	msg := "⚠️ There is no team " + esc(cut(name, 40)) + "."
	if len(b.policy.Teams) == 0 {
		return msg + " No teams are configured; `/work alignment` alone shows everyone."
	}
	var teams []string
	for _, t := range b.policy.Teams {
		s := "`" + esc(string(t.ID)) + "`"
		if t.Name != "" && t.Name != string(t.ID) {
			s += " (" + esc(t.Name) + ")"
		}
		teams = append(teams, s)
	}
	return msg + " Teams: " + capList(teams, 40) + "."
}

// Bar characters of the trend: one per category, as in the legend.
const (
	barPlanned   = "█"
	barInterrupt = "▓"
	barOther     = "▒"
	barUnknown   = "░"
	trendBarLen  = 20
)

// alignmentBlocks is the `/work alignment` answer: last week in detail, then the trend.
func alignmentBlocks(trend []domain.Alignment, p *domain.Policy, team string) []slack.Block {
	title := "Plan vs execution"
	if team != "" {
		title += " · " + team
	}
	b := []slack.Block{header(title)}
	a := lastWeek(trend)
	if a == nil {
		return append(b, section("No complete week yet."))
	}
	loc := p.Calendar.Loc()
	b = append(b, contextText("Last week: "+weekSpan(a.Week, loc)+" · "+planLine(*a, loc)))

	lines := []string{"*Last week*"}
	lines = append(lines, shareLines(*a)...)
	b = append(b, section(strings.Join(lines, "\n")))

	if a.PlanKnown {
		neglected, more := linesOf(a.Neglected, 15, func(n domain.NeglectedItem) string {
			return neglectedLine(n, p, 70)
		})
		title := "🕸 *Neglected priorities* (" + strconv.Itoa(len(a.Neglected)) + ")"
		switch {
		case a.PlanItems == 0 && team != "":
			b = append(b, section(title+"\nNone of this team's items was in the plan."))
		case len(a.Neglected) == 0:
			b = append(b, section(title+"\nNone: every priority of the plan was worked on."))
		default:
			b = append(b, section(sectionListMore(title, neglected, more, "`/work list`")))
		}
	}

	b = append(b, section("📈 *Last "+strconv.Itoa(len(trend))+" weeks*\n"+trendChart(trend, loc)))
	b = append(b, contextText("Planned: items in the top N when the week started. Interrupts: work that moved forward "+
		"without ever being triaged. Other: prioritised work outside that top N. Each item scores its size once in "+
		"a week it moved forward; idle and time in the top count working days."))
	return fitBlocks(b, maxMessageBlocks, "")
}

// weekSpan names a week by its first and last day.
func weekSpan(w domain.Period, loc *time.Location) string {
	from, to := w.From.In(loc), w.To.Add(-time.Nanosecond).In(loc)
	return from.Format("Mon Jan 2") + " – " + to.Format("Mon Jan 2")
}

func planLine(a domain.Alignment, loc *time.Location) string {
	if !a.PlanKnown {
		return "plan unknown: no priority snapshot was taken at or before the week's start"
	}
	s := "plan: the top " + strconv.Itoa(a.Plan.N) + " of " + a.Plan.At.In(loc).Format("Mon Jan 2 15:04 MST") +
		" (" + strconv.Itoa(len(a.Plan.Items)) + " items"
	if a.Team != "" {
		s += ", " + strconv.Itoa(a.PlanItems) + " of them this team's"
	}
	return s + ")"
}

func pts(n int) string { return strconv.Itoa(n) + " pts" }

// shareLines are a week's categories as points and shares.
func shareLines(a domain.Alignment) []string {
	if !a.SharesDefined {
		return []string{"Nothing moved forward."}
	}
	pt := a.Points
	var out []string
	if a.PlanKnown {
		out = append(out, "🎯 Planned: "+pts(pt.Planned)+" · "+pct(a.Shares.Planned))
	} else {
		out = append(out, "Plan unknown, so planned and other work cannot be told apart.")
	}
	out = append(out, "🚨 Interrupts: "+pts(pt.Interrupt)+" · "+pct(a.Shares.Interrupt))
	if a.PlanKnown {
		out = append(out, "📦 Other: "+pts(pt.Other)+" · "+pct(a.Shares.Other))
	}
	if pt.Unknown > 0 {
		out = append(out, "❔ Prioritised, plan unknown: "+pts(pt.Unknown)+" · "+pct(a.Shares.Unknown))
	}
	return append(out, pts(pt.Total)+" moved forward in all.")
}

// neglectedLine is one neglected priority: its rank, key, title and how long it waited.
func neglectedLine(n domain.NeglectedItem, p *domain.Policy, titleLen int) string {
	key := n.Item.Key
	if key == "" {
		key = domain.FormatKey(p.KeyPrefix, n.Item.ID)
	}
	s := "#" + strconv.Itoa(n.Planned.Rank) + " *" + key + "*"
	if n.Item.Title != "" {
		s += " " + escCut(oneLine(n.Item.Title), titleLen)
	}
	if n.LastTouched.IsZero() {
		s += " · idle since before the history kept"
	} else {
		s += " · idle " + fmtDur(n.Idle)
	}
	in := fmtDur(n.InTop)
	if n.InTopAtLeast {
		in = "≥ " + in
	}
	return s + " · in the top for " + in
}

// trendChart draws the weeks as stacked text bars with their numbers, in a code block so the bars
// line up.
func trendChart(trend []domain.Alignment, loc *time.Location) string {
	lines := []string{barPlanned + " planned  " + barInterrupt + " interrupts  " + barOther + " other  " + barUnknown + " plan unknown"}
	for _, a := range trend {
		label := a.Week.From.In(loc).Format("Jan 2")
		line := label + strings.Repeat(" ", max(1, 7-len(label)))
		switch {
		case !a.SharesDefined && !a.PlanKnown:
			line += "nothing moved · plan unknown"
		case !a.SharesDefined:
			line += "nothing moved"
		default:
			line += shareBar(a.Shares, trendBarLen) + "  "
			if a.PlanKnown {
				line += pct(a.Shares.Planned) + " · " + pct(a.Shares.Interrupt) + " · " + pct(a.Shares.Other)
			} else {
				line += "plan unknown · " + pct(a.Shares.Interrupt) + " interrupts"
			}
			line += " of " + pts(a.Points.Total)
		}
		lines = append(lines, line)
	}
	return "```\n" + strings.Join(lines, "\n") + "\n```"
}

// shareBar is a bar of width characters split between the categories by their shares; rounding by
// largest remainder keeps the bar exactly width long.
func shareBar(s domain.AlignmentShares, width int) string {
	shares := []float64{s.Planned, s.Interrupt, s.Other, s.Unknown}
	chars := []string{barPlanned, barInterrupt, barOther, barUnknown}
	n := make([]int, len(shares))
	rest := make([]float64, len(shares))
	used := 0
	for i, f := range shares {
		exact := f * float64(width)
		n[i] = int(math.Floor(exact))
		rest[i] = exact - float64(n[i])
		used += n[i]
	}
	for used < width {
		best := -1
		for i := range rest {
			if shares[i] > 0 && (best < 0 || rest[i] > rest[best]) {
				best = i
			}
		}
		if best < 0 {
			break
		}
		n[best]++
		rest[best] = -1
		used++
	}
	var b strings.Builder
	for i, c := range chars {
		b.WriteString(strings.Repeat(c, n[i]))
	}
	return b.String()
}

// alignmentDigestSection is the digest's few lines on last week: the three shares and the first
// neglected priorities.
func alignmentDigestSection(a domain.Alignment, p *domain.Policy) string {
	loc := p.Calendar.Loc()
	lines := []string{"📐 *Plan vs execution* (last week, " + weekSpan(a.Week, loc) + ")"}
	switch {
	case !a.SharesDefined && !a.PlanKnown:
		lines = append(lines, "Nothing moved forward; plan unknown (no priority snapshot from the week's start).")
	case !a.SharesDefined:
		lines = append(lines, "Nothing moved forward.")
	case !a.PlanKnown:
		lines = append(lines, "Plan unknown (no priority snapshot from the week's start) · interrupts "+
			pct(a.Shares.Interrupt)+" ("+pts(a.Points.Interrupt)+") of "+pts(a.Points.Total))
	default:
		lines = append(lines, "Planned "+pct(a.Shares.Planned)+" ("+pts(a.Points.Planned)+") · interrupts "+
			pct(a.Shares.Interrupt)+" ("+pts(a.Points.Interrupt)+") · other "+pct(a.Shares.Other)+" ("+pts(a.Points.Other)+")")
	}
	if a.PlanKnown && len(a.Neglected) > 0 {
		shown, more := linesOf(a.Neglected, 3, func(n domain.NeglectedItem) string { return neglectedLine(n, p, 50) })
		lines = append(lines, "Neglected priorities ("+strconv.Itoa(len(a.Neglected))+"):")
		lines = append(lines, shown...)
		if more > 0 {
			lines = append(lines, andMore(more, "`/work alignment`"))
		}
	}
	lines = append(lines, "Trend and teams: `/work alignment [team]`.")
	return cut(strings.Join(lines, "\n"), maxSectionText)
}
