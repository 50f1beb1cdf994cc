package sandbox

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"workbot/bot"
	"workbot/bot/slackfake"
	"workbot/domain"
)

// The demo company's history: about forty requests over four working weeks, made through the domain
// Service with a clock set back to when each thing happened, so that the audit log, the flow metrics,
// the stall clocks and the loads are the real ones and not painted on. Times are counted in working
// time back from now (see workingBefore), so whatever the day or hour the sandbox starts, the same
// things are stalled, pending, blocked and overloaded.
//
// What a fresh sandbox then shows:
//   - Dana carries 16 points against 10: the one person over capacity;
//   - W-22 (Sam's CI migration) has sat in review for six working days: a stage stall;
//   - W-24 (SSO login timeouts) waits on a handoff from Dana to Quinn, asked a few hours ago;
//   - W-32 waits on W-25, which waits on W-19, which is blocked on a vendor: a blocked chain;
//   - four requests wait in intake for triage, one of them for three days.

// DemoStages are the stages the demo's history moves through; a configured workflow without them gets
// no demo.
var DemoStages = []domain.StageID{
	domain.StageIntake, domain.StageTodo, domain.StageInProgress, domain.StageReview, domain.StageTesting,
	domain.StageDone, domain.StageRejected,
}

// Demo facts the tests and the README rely on.
const (
	DemoOverloaded = Developer // the one person over capacity
	DemoStalled    = "W-22"    // in review, quiet for six working days
	DemoHandoff    = "W-24"    // a handoff from Dana to Quinn awaits Quinn's answer
	DemoBlocked    = "W-19"    // blocked on a vendor; W-25 depends on it and W-32 on W-25
	DemoChainEnd   = "W-32"
)

// day is one working day of working time.
const day = 24 * time.Hour

type demoItem struct {
	ago   float64 // created this many working days before now
	by    domain.UserID
	in    domain.NewItem
	due   int // days after creation; 0 for none
	steps []demoStep
}

type demoStep struct {
	ago float64
	do  func(d *demo, id domain.ItemID) error
}

// demo replays the script through the Service at the step's time.
type demo struct {
	ctx      context.Context
	svc      *domain.Service
	clock    time.Time
	assignee map[domain.ItemID]domain.UserID
	handoff  map[domain.ItemID]domain.HandoffID
	triaged  map[domain.ItemID]bool
}

func (d *demo) result(id domain.ItemID, res domain.Result, err error) error {
	if err != nil {
		return err
	}
	d.assignee[id] = res.Item.Assignee
	d.triaged[id] = res.Item.Triaged
	if res.Handoff != nil {
		d.handoff[id] = res.Handoff.ID
	}
	return nil
}

func triage(ago float64, lead domain.UserID, value, urgency, size int) demoStep {
	return demoStep{ago, func(d *demo, id domain.ItemID) error {
		res, err := d.svc.TriageItem(d.ctx, lead, id, domain.Triage{Value: value, Urgency: urgency, Size: size})
		return d.result(id, res, err)
	}}
}

// assign triages first what nobody triaged: a lead who assigns has looked at the item.
func assign(ago float64, lead, to domain.UserID) demoStep {
	return demoStep{ago, func(d *demo, id domain.ItemID) error {
		if !d.triaged[id] {
			res, err := d.svc.TriageItem(d.ctx, lead, id, domain.Triage{})
			if err := d.result(id, res, err); err != nil {
				return err
			}
		}
		res, err := d.svc.Assign(d.ctx, lead, id, to)
		return d.result(id, res, err)
	}}
}

func start(ago float64) demoStep {
	return demoStep{ago, func(d *demo, id domain.ItemID) error {
		res, err := d.svc.Start(d.ctx, d.assignee[id], id)
		return d.result(id, res, err)
	}}
}

func move(ago float64, to domain.StageID) demoStep {
	return demoStep{ago, func(d *demo, id domain.ItemID) error {
		res, err := d.svc.Move(d.ctx, d.assignee[id], id, to)
		return d.result(id, res, err)
	}}
}

func unblock(ago float64) demoStep {
	return demoStep{ago, func(d *demo, id domain.ItemID) error {
		res, err := d.svc.Unblock(d.ctx, d.assignee[id], id)
		return d.result(id, res, err)
	}}
}

func done(ago float64) demoStep {
	return demoStep{ago, func(d *demo, id domain.ItemID) error {
		res, err := d.svc.Done(d.ctx, d.assignee[id], id)
		return d.result(id, res, err)
	}}
}

func block(ago float64, reason string) demoStep {
	return demoStep{ago, func(d *demo, id domain.ItemID) error {
		res, err := d.svc.Block(d.ctx, d.assignee[id], id, reason)
		return d.result(id, res, err)
	}}
}

func dependsOn(ago float64, on domain.ItemID) demoStep {
	return demoStep{ago, func(d *demo, id domain.ItemID) error {
		res, err := d.svc.AddDependency(d.ctx, Lead, id, on)
		return d.result(id, res, err)
	}}
}

func handoff(ago float64, to domain.UserID, doneNote, next string, stage domain.StageID) demoStep {
	return demoStep{ago, func(d *demo, id domain.ItemID) error {
		res, err := d.svc.RequestHandoff(d.ctx, d.assignee[id], id, domain.HandoffRequest{
			To: to, Note: domain.HandoffNote{Done: doneNote, Next: next}, NextStage: stage,
		})
		return d.result(id, res, err)
	}}
}

func accept(ago float64, by domain.UserID) demoStep {
	return demoStep{ago, func(d *demo, id domain.ItemID) error {
		res, err := d.svc.AcceptHandoff(d.ctx, by, d.handoff[id])
		return d.result(id, res, err)
	}}
}

func decline(ago float64, by domain.UserID, reason string) demoStep {
	return demoStep{ago, func(d *demo, id domain.ItemID) error {
		res, err := d.svc.DeclineHandoff(d.ctx, by, d.handoff[id], reason)
		return d.result(id, res, err)
	}}
}

func reject(ago float64, reason string) demoStep {
	return demoStep{ago, func(d *demo, id domain.ItemID) error {
		res, err := d.svc.Reject(d.ctx, Lead, id, reason)
		return d.result(id, res, err)
	}}
}

func duplicate(ago float64, of domain.ItemID) demoStep {
	return demoStep{ago, func(d *demo, id domain.ItemID) error {
		res, err := d.svc.MarkDuplicate(d.ctx, Lead, id, of)
		return d.result(id, res, err)
	}}
}

func item(ago float64, by domain.UserID, title, kind string, team domain.TeamID, value, urgency, size int, steps ...demoStep) demoItem {
	return demoItem{ago: ago, by: by, in: domain.NewItem{Title: title, Kind: kind, Team: team, Value: value, Urgency: urgency, Size: size}, steps: steps}
}

func (it demoItem) dueIn(days int) demoItem { it.due = days; return it }

func (it demoItem) details(s string) demoItem { it.in.Details = s; return it }

// demoScript is the company's history, oldest request first, so that keys follow creation order (the
// comment before each item is its key).
var demoScript = []demoItem{
	// W-1
	item(20, Requester, "Laptop and accounts for the new sales hire", "support", TeamIT, 3, 4, 2,
		assign(19.8, ITLead, Helpdesk), start(19.5), done(18)).dueIn(5),
	// W-2
	item(19.5, Developer, "Upgrade PostgreSQL 14 → 16 on billing-db", "ops", TeamPlatform, 4, 3, 8,
		triage(19.4, Lead, 4, 3, 8), assign(19.3, Lead, SRE), start(18), move(14, domain.StageReview), done(12)),
	// W-3
	item(19, Finance, "Renew the Microsoft 365 licences before they lapse", "ops", TeamIT, 4, 4, 1,
		assign(18.9, ITLead, Sysadmin), start(18), done(16.5)).dueIn(6),
	// W-4
	item(18, WebLead, "Checkout button hidden on small screens", "bug", TeamWeb, 5, 5, 3,
		triage(17.9, WebLead, 5, 5, 3), assign(17.8, WebLead, Frontend), start(17.5), move(16, domain.StageReview),
		handoff(15.5, QA, "Fixed the breakpoint; reviewed by Marco.", "Test on the small Android phones.", domain.StageTesting),
		accept(15.3, QA), done(14.5)),
	// W-5
	item(17, Requester, "Replace the CRM export with a live sync", "feature", TeamPlatform, 2, 2, 13,
		reject(16, "Not this quarter: the CRM vendor's API changes in the autumn.")),
	// W-6
	item(16, SRE, "Nightly backup job fails on Sundays", "bug", TeamPlatform, 4, 4, 2,
		assign(15.8, Lead, SRE), start(15), done(13)),
	// W-7
	item(15, Mobile, "iOS app crashes when uploading photos", "bug", TeamWeb, 5, 5, 5,
		triage(14.9, WebLead, 5, 5, 5), assign(14.8, WebLead, Mobile), start(14.5), move(11, domain.StageReview),
		move(9, domain.StageTesting), done(7.5)),
	// W-8
	item(14, Helpdesk, "Printer on the 3rd floor jams on tray 2", "support", TeamIT, 1, 2, 1,
		assign(13.8, ITLead, Helpdesk), start(13), block(12.5, "waiting for a spare part from the vendor"), unblock(5), done(4.5)),
	// W-9
	item(13, Requester, "Password reset emails land in spam", "bug", TeamPlatform, 5, 4, 2,
		triage(12.8, Lead, 5, 4, 2), assign(8, Lead, Developer), start(6), move(4.5, domain.StageReview), done(3.5)).dueIn(12),
	// W-10
	item(12, Finance, "Invoice numbers skip after a failed payment", "bug", TeamPlatform, 4, 3, 3,
		triage(11.8, Lead, 4, 3, 3), assign(11.7, Lead, Developer2), start(11), move(9.5, domain.StageReview), done(8.5)),
	// W-11
	item(11, Requester, "Dark mode for the customer portal", "feature", TeamWeb, 3, 2, 5,
		triage(10.8, WebLead, 3, 2, 5), assign(10.7, WebLead, Frontend), start(2)),
	// W-12
	item(10, Finance, "Audit-log export for SOC 2", "feature", TeamPlatform, 3, 3, 3,
		triage(9.8, Lead, 3, 3, 3), assign(1, Lead, Developer)).
		details("The auditors want every change to customer data since January, as CSV."),
	// W-13
	item(9.5, Frontend, "Pricing page typo in the German version", "bug", TeamWeb, 2, 4, 1,
		assign(9.4, WebLead, Frontend), start(3), done(2)).dueIn(1),
	// W-14
	item(9, Requester, "Add rate limiting to the public API", "feature", TeamPlatform, 4, 3, 5,
		triage(8.9, Lead, 4, 3, 5), assign(8.8, Lead, Developer), start(1.4)),
	// W-15
	item(8, Sysadmin, "VPN drops every 30 minutes from the Lisbon office", "bug", TeamIT, 4, 4, 3,
		assign(7.9, ITLead, Sysadmin), start(1.2)),
	// W-16
	item(7.5, Helpdesk, "Monitor for the new support hire", "support", TeamIT, 2, 3, 1,
		assign(7.4, ITLead, Helpdesk), start(2), done(1)).dueIn(14),
	// W-17
	item(7, WebLead, "Update the pricing page for Q3", "feature", TeamWeb, 4, 4, 3,
		triage(6.9, WebLead, 4, 4, 3), assign(1.5, WebLead, Frontend)).dueIn(14),
	// W-18
	item(6.8, Mobile, "Android push notifications arrive twice", "bug", TeamWeb, 4, 4, 3,
		assign(6.7, WebLead, Mobile), start(4),
		handoff(2.5, Frontend, "Found the duplicate registration in the web push path.", "Fix the service worker registration.", ""),
		decline(2, Frontend, "I'm on the Q3 pricing page until Thursday; can Tom keep it?")),
	// W-19
	item(6.5, Finance, "Expose invoice PDFs through the API", "feature", TeamPlatform, 4, 4, 5,
		triage(6.4, Lead, 4, 4, 5), assign(6.3, Lead, Developer), start(3.5),
		block(3, "waiting for the PDF vendor's API keys")),
	// W-20
	item(6.5, SRE, "Alert when disk usage passes 85%", "ops", TeamPlatform, 3, 3, 2,
		assign(6.2, Lead, SRE), start(0.6)),
	// W-21
	item(6.2, Developer2, "Rotate the TLS certificates on the API gateway", "ops", TeamPlatform, 4, 5, 2,
		assign(6.1, Lead, Developer2), start(0.5)).dueIn(10),
	// W-22
	item(6, SRE, "Migrate CI runners to the new cluster", "ops", TeamPlatform, 3, 2, 5,
		assign(5.9, Lead, SRE), start(5.8), move(5.7, domain.StageReview)),
	// W-23
	item(5.5, Helpdesk, "Offboard the Q2 contractors' accounts", "support", TeamIT, 3, 4, 1,
		assign(5.4, ITLead, Helpdesk), start(1.5)).dueIn(2),
	// W-24
	item(5, Requester, "Fix login timeouts on SSO", "bug", TeamPlatform, 5, 4, 3,
		triage(4.9, Lead, 5, 4, 3), assign(4.8, Lead, Developer), start(2.5), move(0.5, domain.StageReview),
		handoff(0.2, QA, "Raised the session timeout and fixed the token refresh; reviewed.", "Test sign-in with Okta and Google, idle for an hour.", domain.StageTesting)),
	// W-25
	item(5, Developer2, "Retire the legacy FTP import", "ops", TeamPlatform, 2, 1, 3,
		assign(4.9, Lead, Developer2), dependsOn(2.5, 19)),
	// W-26
	item(4.8, WebLead, "Regression test plan for checkout", "support", TeamWeb, 3, 3, 2,
		assign(4.7, WebLead, QA), start(1)),
	// W-27
	item(4.5, Mobile, "Onboarding tour for new customers", "feature", TeamWeb, 3, 2, 2,
		triage(4.4, WebLead, 3, 2, 2), assign(2.2, WebLead, Mobile)),
	// W-28
	item(4, Requester, "Login is slow on SSO", "bug", "", 3, 3, 3,
		duplicate(3.9, 24)),
	// W-29
	item(4, Sysadmin, "Set up SSO for the HR tool", "ops", TeamIT, 3, 3, 2,
		assign(2, ITLead, Sysadmin)),
	// W-30
	item(3.8, Mobile, "App store screenshots for the new release", "support", TeamWeb, 2, 3, 2,
		assign(3.7, WebLead, Mobile), start(3), move(1.5, domain.StageReview), move(0.8, domain.StageTesting)),
	// W-31
	item(3.5, Developer2, "Reduce p95 latency of /search", "feature", TeamPlatform, 3, 3, 1,
		triage(3.4, Lead, 3, 3, 1), assign(1.8, Lead, Developer2)),
	// W-32
	item(3.2, Requester, "Customer import tool for the partner portal", "feature", TeamPlatform, 3, 2, 8,
		triage(3.1, Lead, 3, 2, 8), dependsOn(2.2, 25)),
	// W-33
	item(3, Finance, "Shared mailbox for billing questions", "support", "", 2, 2, 1),
	// W-34
	item(3, QA, "Accessibility audit of the sign-up form", "feature", TeamWeb, 3, 2, 1,
		assign(1.2, WebLead, QA)),
	// W-35
	item(2.5, WebLead, "Cookie banner text from legal", "support", TeamWeb, 2, 3, 2,
		assign(2.4, WebLead, WebLead), start(2), move(1, domain.StageReview)),
	// W-36
	item(2, Helpdesk, "Guest Wi-Fi password rotation", "ops", TeamIT, 1, 2, 1,
		assign(1.9, ITLead, Helpdesk)),
	// W-37
	item(1.8, ITLead, "Badge access for the new office floor", "support", TeamIT, 2, 3, 1,
		assign(1.7, ITLead, ITLead), start(0.9)),
	// W-38
	item(0.4, Finance, "Export of last year's invoices for the auditors", "support", "", 3, 3, 2),
	// W-39
	item(0.15, Requester, "Sales dashboard shows yesterday's numbers twice", "bug", "", 4, 4, 2),
	// W-40
	item(0.05, Requester, "Add a \"contact sales\" button to the pricing page", "feature", "", 2, 2, 1),
}

// DemoChatter is what people said in #general lately: something to try the ⋯ menu and the :ticket:
// reaction on. Two are requests waiting to be filed; one is not a request at all.
var DemoChatter = []struct{ User, Text string }{
	{Requester, "The quote PDF from the CRM still has the old logo. Could someone swap it before Friday's call with Acme?"},
	{Finance, "Reminder: October expense reports are due on Monday."},
	{Helpdesk, "Meeting room 2's screen no longer takes HDMI from the new MacBooks. Adapter or firmware? Someone should look."},
}

// SeedChatter posts DemoChatter in #general.
func SeedChatter(fake *slackfake.Fake) error {
	for _, m := range DemoChatter {
		if _, err := fake.PostAsUser(m.User, GeneralChannel, m.Text, ""); err != nil {
			return fmt.Errorf("demo: a message in #general: %w", err)
		}
	}
	return nil
}

// demoCapacities are set by the lead before the story starts: Kim works part-time.
var demoCapacities = map[domain.UserID]int{Sysadmin: 6}

// ErrNoDemo says the configured workflow lacks a stage the demo's history moves through.
var ErrNoDemo = errors.New("the demo company needs the default workflow's stages")

// SeedDemo writes the demo company's history into store under policy, as of now. It expects an empty
// store. Handoffs in the history need no approval, whatever policy says: they happened before that
// rule, and the demo should not depend on it.
func SeedDemo(ctx context.Context, store domain.Store, policy *domain.Policy, now time.Time) error {
	return SeedDemoEffects(ctx, store, policy, now, nil)
}

// SeedDemoEffects is SeedDemo with the Service's Effects hook: the bot's (bot.Bot.Effects) queues in the
// outbox what each step of the history owes Slack (the items' messages and threads, the DMs), delivered
// once the bot runs.
func SeedDemoEffects(ctx context.Context, store domain.Store, policy *domain.Policy, now time.Time, effects func(domain.Tx, domain.Result) error) error {
	for _, s := range DemoStages {
		if _, ok := policy.Workflow.Stage(s); !ok {
			return fmt.Errorf("%w (%s is missing)", ErrNoDemo, s)
		}
	}
	p := *policy
	p.HandoffApproval = domain.ApprovalNever
	d := &demo{ctx: ctx, assignee: map[domain.ItemID]domain.UserID{}, handoff: map[domain.ItemID]domain.HandoffID{}, triaged: map[domain.ItemID]bool{}}
	d.svc = &domain.Service{Store: store, Policy: &p, Now: func() time.Time { return d.clock }, Effects: effects}
	at := func(ago float64) time.Time { return workingBefore(p.Calendar, now, time.Duration(ago*float64(day))) }

	d.clock = at(demoScript[0].ago + 0.5)
	for u, pts := range demoCapacities {
		if _, err := d.svc.SetCapacity(ctx, Lead, u, pts); err != nil {
			return fmt.Errorf("demo: capacity of %s: %w", u, err)
		}
	}
	// Every request and every step at its own time, oldest first, so that the audit log reads as the
	// weeks went, and so do the announcements queued with each change (a requester hears "Got it" for
	// a request, then what became of it, before the next request).
	type pending struct {
		ago    float64
		item   int // index in demoScript
		create bool
		step   demoStep
	}
	var todo []pending
	for i, it := range demoScript {
		if i > 0 && it.ago > demoScript[i-1].ago {
			return fmt.Errorf("demo: item %d is older than the one before it", i+1)
		}
		todo = append(todo, pending{ago: it.ago, item: i, create: true})
		for _, s := range it.steps {
			if s.ago > it.ago {
				return fmt.Errorf("demo: item %d has a step before it was created", i+1)
			}
			todo = append(todo, pending{ago: s.ago, item: i, step: s})
		}
	}
	// Stable: a request comes before its own steps, and requests keep their order (their keys).
	sort.SliceStable(todo, func(i, j int) bool { return todo[i].ago > todo[j].ago })
	ids := make([]domain.ItemID, len(demoScript))
	snapshots := newDemoSnapshots(store, &p, d.clock)
	for _, s := range todo {
		d.clock = at(s.ago)
		if err := snapshots.until(ctx, d.clock); err != nil {
			return err
		}
		if !s.create {
			if err := s.step.do(d, ids[s.item]); err != nil {
				return fmt.Errorf("demo: %s: %w", domain.FormatKey(p.KeyPrefix, ids[s.item]), err)
			}
			continue
		}
		it := demoScript[s.item]
		in := it.in
		if it.due > 0 {
			in.Due = p.Calendar.Today(d.clock).AddDays(it.due)
		}
		res, err := d.svc.Create(ctx, it.by, in)
		if err != nil {
			return fmt.Errorf("demo: creating %q: %w", in.Title, err)
		}
		ids[s.item] = res.Item.ID
	}
	return snapshots.until(ctx, now)
}

// demoSnapshots takes the daily priority snapshot at each midnight the history passes, as the bot's
// job would have, so that plan versus execution knows the plan of every week the demo covers. A store
// without the bot's state (a bare domain store in a test) gets none.
type demoSnapshots struct {
	store bot.Store
	p     *domain.Policy
	next  time.Time // the next midnight to take
}

func newDemoSnapshots(store domain.Store, p *domain.Policy, from time.Time) *demoSnapshots {
	s, _ := store.(bot.Store)
	loc := p.Calendar.Loc()
	y, m, d := from.In(loc).Date()
	return &demoSnapshots{store: s, p: p, next: time.Date(y, m, d+1, 0, 0, 0, 0, loc)}
}

// until takes the snapshots of every midnight up to t.
func (s *demoSnapshots) until(ctx context.Context, t time.Time) error {
	for s.store != nil && !s.next.After(t) {
		if _, err := bot.StorePrioritySnapshot(ctx, s.store, s.p, s.next, domain.DefaultDigestTop); err != nil {
			return fmt.Errorf("demo: the priority snapshot of %s: %w", s.next.Format(time.DateOnly), err)
		}
		s.next = s.next.AddDate(0, 0, 1)
	}
	return nil
}

// workingBefore is the instant d of working time before now: WorkingTime(result, now) == d. Counting
// back in working time keeps the demo's stall clocks the same whichever day it starts on.
func workingBefore(cal domain.Calendar, now time.Time, d time.Duration) time.Time {
	loc := cal.Loc()
	now = now.In(loc)
	date := domain.DateOf(now)
	end := now
	for range 3660 { // ten years of days: a calendar with no working days cannot loop forever
		start := date.Start(loc)
		if cal.IsWorkingDay(date) {
			if avail := end.Sub(start); d <= avail {
				return end.Add(-d)
			} else {
				d -= avail
			}
		}
		end = start
		date = date.AddDays(-1)
	}
	return end
}
