package bot

import (
	"context"
	"encoding/json"
	"slices"
	"sort"
	"strconv"
	"sync"

	"github.com/slack-go/slack"

	"workbot/domain"
)

// KV buckets the bot keeps beside the domain state.
const (
	kvItemMessages = "item_messages" // item ID → the canonical message in the intake channel
	kvHandoffDMs   = "handoff_dms"   // handoff ID → the DMs that carry its buttons, to update on decision
)

type messageRef struct {
	Channel string `json:"c"`
	TS      string `json:"ts"`
	// Approval marks a handoff DM sent to a lead for approval rather than to the target.
	Approval bool `json:"a,omitempty"`
}

func idKey(n uint64) string { return strconv.FormatUint(n, 10) }

func (b *Bot) loadRef(bucket, key string) (messageRef, bool) {
	raw, err := b.db.GetKV(bucket, key)
	if err != nil || len(raw) == 0 {
		return messageRef{}, false
	}
	var r messageRef
	if json.Unmarshal(raw, &r) != nil || r.TS == "" {
		return messageRef{}, false
	}
	return r, true
}

func (b *Bot) loadRefs(bucket, key string) []messageRef {
	raw, err := b.db.GetKV(bucket, key)
	if err != nil || len(raw) == 0 {
		return nil
	}
	var rs []messageRef
	_ = json.Unmarshal(raw, &rs)
	return rs
}

func (b *Bot) saveRef(bucket, key string, v any) {
	raw, _ := json.Marshal(v)
	if err := b.db.PutKV(bucket, key, raw); err != nil {
		b.log.Error().Err(err).Str("bucket", bucket).Msg("could not store a message reference")
	}
}

// itemView loads what the item message needs.
func (b *Bot) itemView(ctx context.Context, id domain.ItemID) (itemView, error) {
	v, _, err := b.loadItemView(ctx, id, false)
	return v, err
}

func (b *Bot) itemViewWithEvents(ctx context.Context, id domain.ItemID) (itemView, []domain.Event, error) {
	return b.loadItemView(ctx, id, true)
}

func (b *Bot) loadItemView(ctx context.Context, id domain.ItemID, withEvents bool) (itemView, []domain.Event, error) {
	var (
		v      itemView
		events []domain.Event
	)
	err := b.db.View(ctx, func(tx domain.ReadTx) error {
		it, err := tx.Item(id)
		if err != nil {
			return err
		}
		v = itemView{Item: it, Policy: b.policy, Now: b.now()}
		if it.PendingHandoff != 0 {
			if h, err := tx.Handoff(it.PendingHandoff); err == nil {
				v.Handoff = &h
			}
		}
		for _, dep := range it.DependsOn {
			if d, err := tx.Item(dep); err == nil {
				v.Deps = append(v.Deps, d)
			}
		}
		if withEvents {
			return tx.ItemEvents(id, func(e domain.Event) bool { events = append(events, e); return true })
		}
		return nil
	})
	if err != nil {
		if domain.ErrorCode(err) == domain.ENOTFOUND {
			return v, nil, domain.Errorf(domain.ENOTFOUND, "There is no item %s.", domain.FormatKey(b.policy.KeyPrefix, id))
		}
		return v, nil, err
	}
	v.Score = b.policy.Score(v.Item, v.Now)
	return v, events, nil
}

// announce tells Slack about a committed change: the item message, its thread, the people concerned
// and their App Homes. Failures are logged; the change itself is already durable.
func (b *Bot) announce(ctx context.Context, res domain.Result) {
	if res.Item.ID == 0 {
		return
	}
	// One item's message and thread are written under its lock: the form that created the item and a
	// command on it can run on different workers, and must not both post a first message.
	func() {
		defer b.lockItem(res.Item.ID)() // deferred: a panic below must not leave the item locked
		ref := b.upsertItemMessage(ctx, res.Item.ID)
		for _, e := range res.Events {
			if ref.TS != "" && e.Type != domain.EventCreated {
				if _, err := b.out.post(ctx, ref.Channel, ref.TS, eventLine(e, b.policy), nil); err != nil {
					b.log.Warn().Err(err).Str("item", res.Item.Key).Msg("thread log failed")
				}
			}
		}
	}()
	for _, e := range res.Events {
		b.notifyPeople(ctx, e, res)
	}
	users := []domain.UserID{res.Item.Assignee, res.Item.Requester}
	for _, e := range res.Events {
		users = append(users, e.Actor, e.Subject)
		for _, c := range e.Changes {
			if c.Field == "assignee" {
				users = append(users, domain.UserID(c.Before), domain.UserID(c.After))
			}
		}
	}
	if h := res.Handoff; h != nil {
		users = append(users, h.To, h.From, h.RequestedBy)
	}
	b.refreshHomes(ctx, users)
}

// lockItem serialises Slack writes about one item and returns the unlock function.
func (b *Bot) lockItem(id domain.ItemID) func() {
	m, _ := b.itemLocks.LoadOrStore(id, &sync.Mutex{})
	mu := m.(*sync.Mutex)
	mu.Lock()
	return mu.Unlock
}

// refreshItemMessage brings the item message up to date, under the item's lock.
func (b *Bot) refreshItemMessage(ctx context.Context, id domain.ItemID) {
	defer b.lockItem(id)()
	b.upsertItemMessage(ctx, id)
}

// upsertItemMessage posts the canonical message the first time and edits it in place afterwards. The
// caller holds the item's lock.
func (b *Bot) upsertItemMessage(ctx context.Context, id domain.ItemID) messageRef {
	v, err := b.itemView(ctx, id)
	if err != nil {
		b.log.Warn().Err(err).Uint64("item", uint64(id)).Msg("item message: cannot load the item")
		return messageRef{}
	}
	blocks := itemMessage(v)
	key := idKey(uint64(id))
	if ref, ok := b.loadRef(kvItemMessages, key); ok {
		if err := b.out.update(ctx, ref.Channel, ref.TS, itemText(v), blocks); err != nil {
			b.log.Warn().Err(err).Str("item", v.Item.Key).Msg("chat.update of the item message failed")
		}
		return ref
	}
	if b.cfg.IntakeChannel == "" {
		return messageRef{}
	}
	ts, err := b.out.post(ctx, b.cfg.IntakeChannel, "", itemText(v), blocks)
	if err != nil {
		b.log.Error().Err(err).Str("item", v.Item.Key).Msg("could not post the item message")
		return messageRef{}
	}
	ref := messageRef{Channel: b.cfg.IntakeChannel, TS: ts}
	b.saveRef(kvItemMessages, key, ref)
	return ref
}

// dm sends a direct message; it returns the message reference so buttons can be updated later.
func (b *Bot) dm(ctx context.Context, user domain.UserID, text string, blocks []slack.Block) messageRef {
	if user == "" || user == domain.SystemActor {
		return messageRef{}
	}
	ch, err := b.out.dmChannel(ctx, string(user))
	if err != nil {
		b.log.Warn().Err(err).Str("user", string(user)).Msg("could not open a DM")
		return messageRef{}
	}
	ts, err := b.out.post(ctx, ch, "", cut(text, maxMessageText), blocks)
	if err != nil {
		b.log.Warn().Err(err).Str("user", string(user)).Msg("could not send a DM")
		return messageRef{}
	}
	return messageRef{Channel: ch, TS: ts}
}

func changeOf(e domain.Event, field string) (string, string) {
	for _, c := range e.Changes {
		if c.Field == field {
			return c.Before, c.After
		}
	}
	return "", ""
}

// notifyPeople sends the DMs an event calls for.
func (b *Bot) notifyPeople(ctx context.Context, e domain.Event, res domain.Result) {
	it := res.Item
	ref := itemRef(it)
	switch e.Type {
	case domain.EventCreated:
		b.dm(ctx, it.Requester, "📥 Got it: "+ref+" is in the intake queue. I'll tell you when it is decided and when it is done.", nil)
	case domain.EventTriaged:
		if e.Actor != it.Requester {
			b.dm(ctx, it.Requester, "🗂 "+mention(e.Actor)+" prioritised your request "+ref+".", nil)
		}
	case domain.EventAssigned:
		_, after := changeOf(e, "assignee")
		if to := domain.UserID(after); to != "" && to != e.Actor {
			v, err := b.itemView(ctx, it.ID)
			if err == nil {
				b.dm(ctx, to, "👋 "+mention(e.Actor)+" assigned you "+ref, append([]slack.Block{section("👋 " + mention(e.Actor) + " assigned you this:")}, itemMessage(v)...))
			}
		}
		if it.Requester != e.Actor && it.Requester != domain.UserID(after) {
			b.dm(ctx, it.Requester, "👤 Your request "+ref+" is now with "+mention(domain.UserID(after))+".", nil)
		}
	case domain.EventMoved:
		if it.Resolution == domain.ResolutionDone && it.Requester != e.Actor {
			b.dm(ctx, it.Requester, "✅ Your request "+ref+" is done.", nil)
		}
	case domain.EventRejected:
		b.dm(ctx, it.Requester, "Your request "+ref+" was not accepted by "+mention(e.Actor)+". "+reasonSuffix(e.Note), nil)
	case domain.EventDuplicate:
		b.dm(ctx, it.Requester, "Your request "+ref+" was closed as a duplicate of "+domain.FormatKey(b.policy.KeyPrefix, it.DuplicateOf)+".", nil)
	case domain.EventHandoffRequested, domain.EventHandoffApproved:
		if res.Handoff != nil {
			b.sendHandoffRequest(ctx, *res.Handoff, it)
		}
	case domain.EventHandoffAccepted, domain.EventHandoffDeclined, domain.EventHandoffCancelled, domain.EventHandoffRefused:
		h := res.Handoff
		if (h == nil || h.ID != e.Handoff) && e.Handoff != 0 {
			// Assigning or closing an item cancels its handoff as a side effect; that result carries
			// the item, not the handoff, so read it.
			_ = b.db.View(ctx, func(tx domain.ReadTx) error {
				if got, err := tx.Handoff(e.Handoff); err == nil {
					h = &got
				}
				return nil
			})
		}
		if h != nil {
			b.closeHandoffDMs(ctx, *h, it)
			if h.RequestedBy != e.Actor {
				b.dm(ctx, h.RequestedBy, "🔁 Your handoff of "+ref+": "+handoffOutcome(*h), nil)
			}
			if h.From != "" && h.From != h.RequestedBy && h.From != e.Actor {
				b.dm(ctx, h.From, "🔁 Handoff of "+ref+": "+handoffOutcome(*h), nil)
			}
		}
	case domain.EventHandoffEscalated:
		if h := res.Handoff; h != nil {
			for _, lead := range b.leadsFor(*h, it) {
				b.dm(ctx, lead, "⏰ The handoff of "+ref+" to "+handoffTarget(*h)+" has waited since "+h.RequestedAt.UTC().Format("Jan 2 15:04 UTC")+" without an answer.", nil)
			}
		}
	}
}

func reasonSuffix(note string) string {
	if note == "" {
		return ""
	}
	return "Reason: " + escCut(note, 500)
}

// sendHandoffRequest DMs the people who must act: leads while approval is pending, else the target.
func (b *Bot) sendHandoffRequest(ctx context.Context, h domain.Handoff, it domain.Item) {
	key := idKey(uint64(h.ID))
	refs := b.loadRefs(kvHandoffDMs, key)
	if h.Status == domain.HandoffAwaitingApproval {
		for _, lead := range b.leadsFor(h, it) {
			if r := b.dm(ctx, lead, "Handoff approval needed for "+it.Key, handoffDM(h, it, b.policy, true)); r.TS != "" {
				r.Approval = true
				refs = append(refs, r)
			}
		}
	} else if h.Status == domain.HandoffPending {
		b.closeHandoffDMs(ctx, h, it) // approval buttons, if any, are done with
		refs = nil
		targets := []domain.UserID{h.To}
		if h.To == "" {
			if t, ok := b.policy.Team(h.ToTeam); ok {
				targets = append(slices.Clone(t.Members), t.Leads...)
			}
		}
		for _, to := range targets {
			if r := b.dm(ctx, to, "Handoff request for "+it.Key, handoffDM(h, it, b.policy, false)); r.TS != "" {
				refs = append(refs, r)
			}
		}
	}
	b.saveRef(kvHandoffDMs, key, refs)
}

// closeHandoffDMs replaces the buttons in every DM about a handoff with where it stands now.
func (b *Bot) closeHandoffDMs(ctx context.Context, h domain.Handoff, it domain.Item) {
	for _, r := range b.loadRefs(kvHandoffDMs, idKey(uint64(h.ID))) {
		if err := b.out.update(ctx, r.Channel, r.TS, "Handoff of "+it.Key, handoffDM(h, it, b.policy, r.Approval)); err != nil {
			b.log.Warn().Err(err).Msg("could not update a handoff DM")
		}
	}
}

// leadsFor lists the leads who may approve or should hear about a handoff.
func (b *Bot) leadsFor(h domain.Handoff, it domain.Item) []domain.UserID {
	var out []domain.UserID
	add := func(us ...domain.UserID) {
		for _, u := range us {
			if u != "" && !slices.Contains(out, u) {
				out = append(out, u)
			}
		}
	}
	for _, team := range []domain.TeamID{it.Team, h.ToTeam} {
		if t, ok := b.policy.Team(team); ok {
			add(t.Leads...)
		}
	}
	add(b.policy.Leads...)
	return out
}

// refreshHomes republishes the App Home of each distinct user.
func (b *Bot) refreshHomes(ctx context.Context, users []domain.UserID) {
	var done []domain.UserID
	for _, u := range users {
		if u == "" || u == domain.SystemActor || slices.Contains(done, u) {
			continue
		}
		done = append(done, u)
		b.refreshHome(ctx, u)
	}
}

// refreshHomeLater republishes a user's App Home on the announcement workers.
func (b *Bot) refreshHomeLater(ctx context.Context, user domain.UserID) {
	b.later(ctx, "user:"+string(user), "home", func(ctx context.Context) { b.refreshHome(ctx, user) })
}

// refreshHome reads and publishes a user's App Home. Reading and publishing happen under the user's
// lock, so an older snapshot can never be published after a newer one.
func (b *Bot) refreshHome(ctx context.Context, user domain.UserID) {
	m, _ := b.homeLocks.LoadOrStore(user, &sync.Mutex{})
	mu := m.(*sync.Mutex)
	mu.Lock()
	defer mu.Unlock()
	d, err := b.homeData(ctx, user)
	if err != nil {
		b.log.Warn().Err(err).Str("user", string(user)).Msg("could not build App Home")
		return
	}
	if err := b.out.publishHome(ctx, string(user), homeView(d)); err != nil {
		b.log.Warn().Err(err).Str("user", string(user)).Msg("views.publish failed")
	}
}

func (b *Bot) homeData(ctx context.Context, user domain.UserID) (homeData, error) {
	d := homeData{User: user, Policy: b.policy, IsLead: b.policy.IsAnyLead(user)}
	now := b.now()
	today := b.policy.Calendar.Today(now)
	var (
		mine, open []domain.Item
		people     []domain.Person
	)
	err := b.db.View(ctx, func(tx domain.ReadTx) error {
		p, ok, err := tx.Person(user)
		if err != nil {
			return err
		}
		if !ok {
			p = domain.Person{ID: user}
		}
		d.Person = p
		if err := tx.OpenItemsByAssignee(user, func(it domain.Item) bool { mine = append(mine, it); return true }); err != nil {
			return err
		}
		myTeam := b.policy.TeamOf(p)
		err = tx.PendingHandoffs(func(h domain.Handoff) bool {
			it, err := tx.Item(h.ItemID)
			if err != nil {
				return true
			}
			incoming := h.Status == domain.HandoffPending && (h.To == user || (h.To == "" && h.ToTeam != "" && h.ToTeam == myTeam))
			if incoming {
				d.Incoming = append(d.Incoming, handoffWithItem{h, it})
			}
			if h.RequestedBy == user {
				d.Outgoing = append(d.Outgoing, handoffWithItem{h, it})
			}
			return true
		})
		if err != nil {
			return err
		}
		n := 0
		if err := tx.ItemsByRequester(user, func(it domain.Item) bool {
			d.Requests = append(d.Requests, it)
			n++
			return n < 20
		}); err != nil {
			return err
		}
		if d.IsLead {
			if err := tx.People(func(p domain.Person) bool { people = append(people, p); return true }); err != nil {
				return err
			}
			if err := tx.OpenItems(func(it domain.Item) bool { open = append(open, it); return true }); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return d, err
	}
	d.Mine = b.policy.Rank(mine, now)
	d.Load = b.policy.LoadOf(d.Person, mine, today)
	if d.IsLead {
		var triage []domain.Item
		for _, it := range open {
			if it.Stage == b.policy.Workflow.Initial {
				triage = append(triage, it)
			}
		}
		d.TriageSize = len(triage)
		d.TriageQueue = b.policy.Rank(triage, now)
		d.TeamLoad = b.teamLoad(user, people, open, today)
	}
	return d, nil
}

// teamLoad is the load a lead oversees: everyone for a global lead, their teams' people otherwise.
func (b *Bot) teamLoad(lead domain.UserID, people []domain.Person, open []domain.Item, today domain.Date) []domain.PersonLoad {
	loads := b.policy.ComputeLoads(people, open, today)
	if slices.Contains(b.policy.Leads, lead) {
		return loads
	}
	var teams []domain.TeamID
	for _, t := range b.policy.Teams {
		if slices.Contains(t.Leads, lead) {
			teams = append(teams, t.ID)
		}
	}
	var out []domain.PersonLoad
	for _, l := range loads {
		if slices.Contains(teams, b.policy.TeamOf(l.Person)) {
			out = append(out, l)
		}
	}
	return out
}

func sortByUtilisation(loads []domain.PersonLoad) []domain.PersonLoad {
	out := slices.Clone(loads)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Utilisation < out[j].Utilisation })
	return out
}

// catchUp posts the canonical message of open items that have none: items committed just before a
// crash, or while Slack was unreachable.
func (b *Bot) catchUp(ctx context.Context) error {
	var open []domain.ItemID
	err := b.db.View(ctx, func(tx domain.ReadTx) error {
		return tx.OpenItems(func(it domain.Item) bool { open = append(open, it.ID); return true })
	})
	if err != nil {
		return err
	}
	// Reading the references outside the View: bbolt may deadlock on nested transactions.
	posted := 0
	for _, id := range open {
		if _, ok := b.loadRef(kvItemMessages, idKey(uint64(id))); ok {
			continue
		}
		if posted++; posted > 200 {
			b.log.Warn().Msg("more than 200 items have no message; posting the first 200 now")
			break
		}
		b.later(ctx, itemKey(id), "catch_up", func(ctx context.Context) { b.refreshItemMessage(ctx, id) })
	}
	return nil
}
