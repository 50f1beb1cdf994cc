package bot

import (
	"context"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/slack-go/slack"

	"workbot/domain"
)

// maxCommandText bounds what we parse; Slack allows far longer text than any /work command needs.
const maxCommandText = 4000

// replier answers the person who ran a command or clicked a button, privately.
type replier struct {
	b           *Bot
	user        domain.UserID
	channel     string
	responseURL string
}

// say sends an ephemeral answer: through the response_url when there is one (it works in every
// conversation, even where the bot is not a member), else as a DM.
func (r replier) say(ctx context.Context, text string, blocks ...slack.Block) {
	text = cut(text, maxMessageText)
	if r.responseURL != "" {
		msg := &slack.WebhookMessage{Text: text, ResponseType: slack.ResponseTypeEphemeral}
		if len(blocks) > 0 {
			msg.Blocks = &slack.Blocks{BlockSet: blocks}
		}
		err := r.b.api.do(ctx, "response_url", retryPost, func(ctx context.Context) error {
			return slack.PostWebhookContext(ctx, r.responseURL, msg)
		})
		if err == nil {
			return
		}
		r.b.log.Warn().Err(err).Msg("response_url failed; answering by DM")
	}
	r.b.answerByDM(ctx, r.user, text, blocks)
}

// answerByDM sends an answer as a DM, when there is no response_url or it failed. An answer is not an
// announcement: it is not owed after a crash, so it skips the outbox.
func (b *Bot) answerByDM(ctx context.Context, user domain.UserID, text string, blocks []slack.Block) {
	ch, err := b.out.imChannel(ctx, user)
	if err == nil {
		_, err = b.api.post(ctx, ch, text, blocks)
	}
	if err != nil {
		b.log.Warn().Err(err).Str("user", string(user)).Msg("could not answer by DM")
	}
}

// commandOpensModal says whether a command's first job is to open a modal, whose trigger_id expires
// in 3 s: such commands run on their own goroutines rather than queue behind other work.
func commandOpensModal(cmd slack.SlashCommand) bool {
	sub, _, _ := strings.Cut(strings.TrimSpace(cmd.Text), " ")
	switch strings.ToLower(sub) {
	case "request", "new", "prioritise", "prioritize", "triage-item":
		return true
	}
	return false
}

// fail answers with the user-facing message of an error; internal errors are logged, not shown.
func (r replier) fail(ctx context.Context, err error) {
	if domain.ErrorCode(err) == domain.EINTERNAL {
		r.b.log.Error().Err(err).Str("user", string(r.user)).Msg("internal error")
	}
	r.say(ctx, "⚠️ "+esc(domain.ErrorMessage(err)))
}

func (b *Bot) handleCommand(ctx context.Context, cmd slack.SlashCommand) {
	r := replier{b: b, user: domain.UserID(cmd.UserID), channel: cmd.ChannelID, responseURL: cmd.ResponseURL}
	if cmd.Command != SlashCommand {
		r.say(ctx, "I only know "+SlashCommand+".")
		return
	}
	if utf8.RuneCountInString(cmd.Text) > maxCommandText || !utf8.ValidString(cmd.Text) {
		r.say(ctx, "⚠️ That command is too long (over "+strconv.Itoa(maxCommandText)+" characters). Put long text in the request form: `/work request`.")
		return
	}
	args := strings.Fields(cmd.Text)
	if len(args) == 0 {
		r.say(ctx, usage())
		return
	}
	sub := strings.ToLower(args[0])
	rest := args[1:]
	actor := r.user
	if len(sub) <= 20 {
		defer b.metrics.handled("command", sub, time.Now())
	}
	switch sub {
	case "help", "?":
		r.say(ctx, usage())
	case "request", "new":
		text := b.readable(ctx, strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(cmd.Text), args[0])))
		title, details := titleAndDetails(text)
		b.openModal(ctx, r, cmd.TriggerID, b.intakeModalWithSimilar(ctx, intakeForm{Title: title, Details: details}))
	case "show":
		b.cmdShow(ctx, r, rest)
	case "mine":
		b.cmdMine(ctx, r)
	case "list":
		b.cmdList(ctx, r, rest)
	case "triage":
		b.cmdTriage(ctx, r)
	case "load":
		b.cmdLoad(ctx, r)
	case "prioritise", "prioritize", "triage-item":
		b.withItem(ctx, r, rest, 1, "/work prioritise KEY", func(id domain.ItemID, _ []string) {
			if err := b.policy.Authorize(actor, domain.ActTriage, domain.AuthContext{Item: b.peek(ctx, id)}); err != nil {
				r.fail(ctx, err)
				return
			}
			it, err := b.svc.Item(ctx, id)
			if err != nil {
				r.fail(ctx, err)
				return
			}
			b.openModal(ctx, r, cmd.TriggerID, prioritiseModal(it))
		})
	case "assign":
		b.withItem(ctx, r, rest, 2, "/work assign KEY @user", func(id domain.ItemID, more []string) {
			user, ok := parseUser(more[0])
			if !ok {
				r.say(ctx, "⚠️ "+esc(cut(more[0], 40))+" is not a person. Mention them: `/work assign KEY @name`.")
				return
			}
			b.assignWithCheck(ctx, r, actor, id, user, 0)
		})
	case "start":
		b.withItem(ctx, r, rest, 1, "/work start KEY", func(id domain.ItemID, _ []string) {
			b.apply(ctx, r, func() (domain.Result, error) { return b.svc.Start(ctx, actor, id) }, "Started")
		})
	case "move":
		b.withItem(ctx, r, rest, 2, "/work move KEY STAGE", func(id domain.ItemID, more []string) {
			stage, ok := b.findStage(more[0])
			if !ok {
				r.say(ctx, "⚠️ There is no stage "+esc(cut(more[0], 40))+". Stages: "+b.stageList()+".")
				return
			}
			b.apply(ctx, r, func() (domain.Result, error) { return b.svc.Move(ctx, actor, id, stage) }, "Moved")
		})
	case "done", "finish":
		b.withItem(ctx, r, rest, 1, "/work done KEY", func(id domain.ItemID, _ []string) {
			b.apply(ctx, r, func() (domain.Result, error) { return b.svc.Done(ctx, actor, id) }, "Done")
		})
	case "block":
		b.withItem(ctx, r, rest, 2, "/work block KEY reason", func(id domain.ItemID, more []string) {
			reason := b.readable(ctx, strings.Join(more, " "))
			b.apply(ctx, r, func() (domain.Result, error) { return b.svc.Block(ctx, actor, id, reason) }, "Blocked")
		})
	case "unblock":
		b.withItem(ctx, r, rest, 1, "/work unblock KEY", func(id domain.ItemID, _ []string) {
			b.apply(ctx, r, func() (domain.Result, error) { return b.svc.Unblock(ctx, actor, id) }, "Unblocked")
		})
	case "depends", "depend":
		b.withItem(ctx, r, rest, 2, "/work depends KEY on KEY2", func(id domain.ItemID, more []string) {
			if strings.EqualFold(more[0], "on") {
				more = more[1:]
			}
			if len(more) == 0 {
				r.say(ctx, "Usage: `/work depends KEY on KEY2`")
				return
			}
			on, err := domain.ParseKey(more[0])
			if err != nil {
				r.fail(ctx, err)
				return
			}
			b.apply(ctx, r, func() (domain.Result, error) { return b.svc.AddDependency(ctx, actor, id, on) }, "Dependency added")
		})
	case "handoff", "hand-off":
		b.withItem(ctx, r, rest, 2, "/work handoff KEY @user [note]", func(id domain.ItemID, more []string) {
			to, ok := parseUser(more[0])
			if !ok {
				r.say(ctx, "⚠️ "+esc(cut(more[0], 40))+" is not a person. Usage: `/work handoff KEY @user [note]`.")
				return
			}
			note := domain.HandoffNote{Next: b.readable(ctx, strings.Join(more[1:], " "))}
			b.apply(ctx, r, func() (domain.Result, error) {
				return b.svc.RequestHandoff(ctx, actor, id, domain.HandoffRequest{To: to, Note: note})
			}, "Handoff requested")
		})
	case "reject":
		b.withItem(ctx, r, rest, 1, "/work reject KEY reason", func(id domain.ItemID, more []string) {
			reason := b.readable(ctx, strings.Join(more, " "))
			b.apply(ctx, r, func() (domain.Result, error) { return b.svc.Reject(ctx, actor, id, reason) }, "Rejected")
		})
	case "duplicate":
		b.withItem(ctx, r, rest, 2, "/work duplicate KEY of KEY2", func(id domain.ItemID, more []string) {
			if strings.EqualFold(more[0], "of") && len(more) > 1 {
				more = more[1:]
			}
			of, err := domain.ParseKey(more[0])
			if err != nil {
				r.fail(ctx, err)
				return
			}
			b.apply(ctx, r, func() (domain.Result, error) { return b.svc.MarkDuplicate(ctx, actor, id, of) }, "Closed as a duplicate")
		})
	case "follow":
		b.withItem(ctx, r, rest, 1, "/work follow KEY", func(id domain.ItemID, _ []string) {
			b.apply(ctx, r, func() (domain.Result, error) { return b.svc.Follow(ctx, actor, id) }, "You now hear what its requester hears about")
		})
	case "unfollow":
		b.withItem(ctx, r, rest, 1, "/work unfollow KEY", func(id domain.ItemID, _ []string) {
			b.apply(ctx, r, func() (domain.Result, error) { return b.svc.Unfollow(ctx, actor, id) }, "You no longer follow")
		})
	case "capacity":
		b.cmdCapacity(ctx, r, rest)
	case "away":
		b.cmdAway(ctx, r, rest)
	case "prefs":
		b.cmdPrefs(ctx, r, rest)
	case "digest":
		b.cmdDigest(ctx, r, rest)
	case "alignment", "align":
		b.cmdAlignment(ctx, r, rest)
	default:
		r.say(ctx, "I don't know `"+esc(cut(args[0], 30))+"`.\n\n"+usage())
	}
}

// withItem parses the key in args[0], checks that at least need arguments were given, and calls fn with
// the item ID and the arguments after the key.
func (b *Bot) withItem(ctx context.Context, r replier, args []string, need int, usageLine string, fn func(domain.ItemID, []string)) {
	if len(args) < need {
		r.say(ctx, "Usage: `"+usageLine+"`")
		return
	}
	id, err := domain.ParseKey(args[0])
	if err != nil {
		r.say(ctx, "⚠️ "+esc(domain.ErrorMessage(err))+"\nUsage: `"+usageLine+"`")
		return
	}
	fn(id, args[1:])
}

// peek reads an item for a permission check before opening a form; nil if it does not exist (the
// domain then answers not-found on its own).
func (b *Bot) peek(ctx context.Context, id domain.ItemID) *domain.Item {
	it, err := b.svc.Item(ctx, id)
	if err != nil {
		return nil
	}
	return &it
}

func (b *Bot) findStage(s string) (domain.StageID, bool) {
	want := strings.ToLower(strings.TrimSpace(s))
	for _, st := range b.policy.Workflow.Stages {
		if strings.ToLower(string(st.ID)) == want || strings.ToLower(st.Name) == want || strings.ReplaceAll(strings.ToLower(st.Name), " ", "_") == want {
			return st.ID, true
		}
	}
	return "", false
}

func (b *Bot) stageList() string {
	var ids []string
	for _, st := range b.policy.Workflow.Stages {
		ids = append(ids, "`"+string(st.ID)+"`")
	}
	return strings.Join(ids, ", ")
}

// apply runs a domain operation, tells the actor the outcome and then announces the change. A second
// click on a decided handoff lands here too: the domain answers ECONFLICT, a friendly note, and nothing
// changes.
func (b *Bot) apply(ctx context.Context, r replier, op func() (domain.Result, error), verb string) {
	res, err := op()
	if err != nil {
		r.fail(ctx, err)
		return
	}
	msg := "✅ " + verb + ": " + itemRef(res.Item)
	for _, w := range res.Warnings {
		msg += "\n⚠️ " + esc(w.Message)
	}
	r.say(ctx, msg)
}

// assignWithCheck assigns, but first shows the overload warning and the suggestion. A confirmation from
// that warning carries the item version it was shown for (confirmed != 0), and is refused once the item
// has changed.
func (b *Bot) assignWithCheck(ctx context.Context, r replier, actor domain.UserID, id domain.ItemID, user domain.UserID, confirmed uint64) {
	if confirmed == 0 {
		pv, err := b.svc.PreviewAssign(ctx, actor, id, user)
		if err != nil {
			r.fail(ctx, err)
			return
		}
		if hasWarning(pv.Warnings, domain.WarnOverload) || hasWarning(pv.Warnings, domain.WarnAway) {
			r.say(ctx, "overload warning", overloadBlocks(pv)...)
			return
		}
	}
	b.apply(ctx, r, func() (domain.Result, error) { return b.svc.ConfirmAssign(ctx, actor, id, user, confirmed) }, "Assigned to "+mention(user))
}

func hasWarning(ws []domain.Warning, code string) bool {
	for _, w := range ws {
		if w.Code == code {
			return true
		}
	}
	return false
}

// assignValue is a confirmation button's value: the item, the person and the item version the
// warning describes.
func assignValue(it domain.Item, user domain.UserID) string {
	return strconv.FormatUint(uint64(it.ID), 10) + "|" + string(user) + "|" + strconv.FormatUint(it.Version, 10)
}

// overloadBlocks is the ephemeral warning with buttons to go ahead or take the suggestion. The two
// buttons have their own action_ids: Slack refuses a block whose elements share one.
func overloadBlocks(pv domain.AssignPreview) []slack.Block {
	var lines []string
	for _, w := range pv.Warnings {
		lines = append(lines, "⚠️ "+esc(w.Message))
	}
	lines = append(lines, mention(pv.Assignee.Person.ID)+" would carry "+strconv.Itoa(pv.After.Load)+" of "+strconv.Itoa(pv.After.Capacity)+" pts.")
	els := []slack.BlockElement{danger(button(ActionAssignConfirm, assignValue(pv.Item, pv.Assignee.Person.ID), "Assign anyway"))}
	if s := pv.Suggestion; s != nil {
		lines = append(lines, "💡 "+mention(s.Person.ID)+" has room: "+strconv.Itoa(s.Load)+"/"+strconv.Itoa(s.Capacity)+" pts.")
		els = append(els, primary(button(ActionAssignSuggested, assignValue(pv.Item, s.Person.ID), "Assign suggested")))
	}
	return []slack.Block{section(itemRef(pv.Item)), section(strings.Join(lines, "\n")), actions("assign_confirm", els...)}
}

func (b *Bot) openModal(ctx context.Context, r replier, triggerID string, view slack.ModalViewRequest) {
	if triggerID == "" {
		r.say(ctx, "⚠️ Slack did not send a way to open the form; please try again.")
		return
	}
	if _, err := b.api.openView(ctx, triggerID, view); err != nil {
		b.log.Warn().Err(err).Str("callback_id", view.CallbackID).Msg("views.open failed")
		r.say(ctx, "⚠️ I could not open the form in time. Please try again.")
	}
}

func (b *Bot) cmdShow(ctx context.Context, r replier, args []string) {
	if len(args) < 1 {
		r.say(ctx, "Usage: `/work show KEY`")
		return
	}
	id, err := domain.ParseKey(args[0])
	if err != nil {
		r.fail(ctx, err)
		return
	}
	v, events, err := b.itemViewWithEvents(ctx, id)
	if err != nil {
		r.fail(ctx, err)
		return
	}
	r.say(ctx, itemText(v), showBlocks(v, events)...)
}

func (b *Bot) cmdMine(ctx context.Context, r replier) {
	d, err := b.homeData(ctx, r.user)
	if err != nil {
		r.fail(ctx, err)
		return
	}
	blocks := listBlocks("My items by priority", d.Mine, b.policy, true)
	blocks = append(blocks, section("*My load:* "+loadLine(d.Load)))
	if len(d.Incoming) > 0 {
		var lines []string
		for _, h := range d.Incoming {
			lines = append(lines, itemRef(h.Item)+" from "+mention(h.Handoff.RequestedBy))
		}
		shown, more := listLimit(lines, 10)
		s := "*Handoffs waiting for you*\n" + strings.Join(shown, "\n")
		if more > 0 {
			s += "\n" + andMore(more, "App Home")
		}
		blocks = append(blocks, section(cut(s, maxSectionText)))
	}
	r.say(ctx, "My work", fitBlocks(blocks, maxMessageBlocks, "")...)
}

// cmdList ranks the open items a filter selects. Only the first page is ranked in full
// (Policy.TopOpen), so the whole backlog is never sorted to show twenty lines; a person's own items
// are few and ranked as they are.
func (b *Bot) cmdList(ctx context.Context, r replier, args []string) {
	filter := strings.Join(args, " ")
	var (
		top   []domain.Ranked
		total int
		title = "Open items by priority"
	)
	now := b.now()
	err := b.store.View(ctx, func(tx domain.ReadTx) error {
		var err error
		switch {
		case filter == "":
			top, total, err = b.policy.TopOpen(tx, domain.Scope{}, listShown, now)
			return err
		default:
			if u, ok := parseUser(filter); ok {
				title = "Open items of " + mention(u)
				var items []domain.Item
				err := tx.OpenItemsByAssignee(u, func(it domain.Item) bool { items = append(items, it); return true })
				top, total = b.policy.Rank(items, now), len(items)
				return err
			}
			if st, ok := b.findStage(filter); ok {
				title = "Open items in " + esc(stageName(b.policy, st))
				top, total, err = b.policy.TopOpen(tx, domain.Scope{Stage: st}, listShown, now)
				return err
			}
			if _, ok := b.policy.Team(domain.TeamID(filter)); ok {
				title = "Open items of team " + esc(filter)
				top, total, err = b.policy.TopOpen(tx, domain.Scope{Team: domain.TeamID(filter)}, listShown, now)
				return err
			}
			return domain.Errorf(domain.EINVALID, "%q is not a stage, a person or a team. Stages: %s.", cut(filter, 40), strings.ReplaceAll(b.stageList(), "`", ""))
		}
	})
	if err != nil {
		r.fail(ctx, err)
		return
	}
	r.say(ctx, title, topListBlocks(title, top, total, b.policy, true)...)
}

func (b *Bot) cmdTriage(ctx context.Context, r replier) {
	if !b.policy.IsAnyLead(r.user) {
		r.say(ctx, "⚠️ Only leads see the triage queue. Your own work is in `/work mine`.")
		return
	}
	var (
		top   []domain.Ranked
		total int
	)
	err := b.store.View(ctx, func(tx domain.ReadTx) error {
		var err error
		top, total, err = b.policy.TopOpen(tx, domain.Scope{Stage: b.policy.Workflow.Initial}, listShown, b.now())
		return err
	})
	if err != nil {
		r.fail(ctx, err)
		return
	}
	title := "Triage queue (" + strconv.Itoa(total) + ")"
	r.say(ctx, title, topListBlocks(title, top, total, b.policy, true)...)
}

func (b *Bot) cmdLoad(ctx context.Context, r replier) {
	if !b.policy.IsAnyLead(r.user) {
		r.say(ctx, "⚠️ Only leads see everyone's load. Yours is in `/work mine`.")
		return
	}
	loads, err := b.svc.Loads(ctx)
	if err != nil {
		r.fail(ctx, err)
		return
	}
	shown, more := listLimit(loads, 40)
	var lines []string
	for _, l := range shown {
		lines = append(lines, loadLine(l))
	}
	if len(lines) == 0 {
		lines = append(lines, "No one has work assigned yet.")
	}
	if more > 0 {
		lines = append(lines, andMore(more, ""))
	}
	r.say(ctx, "Load", section(cut("*Load against capacity*\n"+strings.Join(lines, "\n"), maxSectionText)))
}

func (b *Bot) cmdCapacity(ctx context.Context, r replier, args []string) {
	if len(args) < 2 {
		r.say(ctx, "Usage: `/work capacity @user POINTS`")
		return
	}
	user, ok := parseUser(args[0])
	if !ok {
		r.say(ctx, "⚠️ "+esc(cut(args[0], 40))+" is not a person. Usage: `/work capacity @user POINTS`")
		return
	}
	points, err := strconv.Atoi(args[1])
	if err != nil {
		r.say(ctx, "⚠️ "+esc(cut(args[1], 20))+" is not a number of points.")
		return
	}
	if _, err := b.svc.SetCapacity(ctx, r.user, user, points); err != nil {
		r.fail(ctx, err)
		return
	}
	r.say(ctx, "✅ "+mention(user)+" now has "+strconv.Itoa(points)+" pts a week.")
}

func (b *Bot) cmdAway(ctx context.Context, r replier, args []string) {
	if len(args) < 2 {
		r.say(ctx, "Usage: `/work away @user until YYYY-MM-DD` or `/work away @user off`")
		return
	}
	user, ok := parseUser(args[0])
	if !ok {
		r.say(ctx, "⚠️ "+esc(cut(args[0], 40))+" is not a person.")
		return
	}
	rest := args[1:]
	if strings.EqualFold(rest[0], "until") {
		rest = rest[1:]
	}
	var until domain.Date
	if len(rest) == 0 {
		r.say(ctx, "Usage: `/work away @user until YYYY-MM-DD`")
		return
	}
	if !strings.EqualFold(rest[0], "off") && !strings.EqualFold(rest[0], "back") {
		d, err := domain.ParseDate(rest[0])
		if err != nil {
			r.fail(ctx, err)
			return
		}
		until = d
	}
	if _, err := b.svc.SetAway(ctx, r.user, user, until); err != nil {
		r.fail(ctx, err)
		return
	}
	if until.IsZero() {
		r.say(ctx, "✅ "+mention(user)+" is back.")
	} else {
		r.say(ctx, "✅ "+mention(user)+" is away until "+until.String()+"; their capacity is 0 until then.")
	}
}

func (b *Bot) cmdPrefs(ctx context.Context, r replier, args []string) {
	p, _, err := b.person(ctx, r.user)
	if err != nil {
		r.fail(ctx, err)
		return
	}
	if len(args) < 2 {
		r.say(ctx, "Your preferences: stall nudges "+onOff(!p.NudgesOff)+", morning digest "+onOff(!p.PersonalDigestOff)+".\nChange them with `/work prefs nudges on|off` or `/work prefs digest on|off`.")
		return
	}
	on := strings.EqualFold(args[1], "on")
	if !on && !strings.EqualFold(args[1], "off") {
		r.say(ctx, "Usage: `/work prefs nudges on|off` or `/work prefs digest on|off`")
		return
	}
	nudgesOff, digestOff := p.NudgesOff, p.PersonalDigestOff
	switch strings.ToLower(args[0]) {
	case "nudges", "nudge":
		nudgesOff = !on
	case "digest":
		digestOff = !on
	default:
		r.say(ctx, "Usage: `/work prefs nudges on|off` or `/work prefs digest on|off`")
		return
	}
	if _, err := b.svc.SetPrefs(ctx, r.user, r.user, nudgesOff, digestOff); err != nil {
		r.fail(ctx, err)
		return
	}
	r.say(ctx, "✅ Stall nudges "+onOff(!nudgesOff)+", morning digest "+onOff(!digestOff)+".")
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

func (b *Bot) person(ctx context.Context, user domain.UserID) (domain.Person, bool, error) {
	var (
		p  domain.Person
		ok bool
	)
	err := b.store.View(ctx, func(tx domain.ReadTx) error {
		var err error
		p, ok, err = tx.Person(user)
		return err
	})
	if !ok {
		p.ID = user
	}
	return p, ok, err
}
