package bot

import (
	"encoding/json"
	"slices"

	"workbot/domain"
)

// What a committed change owes Slack is decided here, inside the change's own transaction (the
// domain calls effectsFor through Service.Effects), and stored as outbox entries that commit with it.
// outbox.go delivers them. Content that should show the latest state (the item message, App Home) is
// rendered at delivery; content that describes one moment (a thread line, a DM about a decision) is
// written now.

// Effect kinds. They are stored: never rename one.
const (
	effItemMessage  = "item_message"  // post the item's canonical message, or edit it in place
	effThread       = "thread"        // a line in the item message's thread
	effDM           = "dm"            // a direct message
	effHandoffDM    = "handoff_dm"    // a handoff request with its buttons; its reference is kept
	effHandoffClose = "handoff_close" // replace a handoff's buttons in every DM with its outcome
	effHome         = "home"          // publish a person's App Home
	effDigest       = "digest"        // a leadership digest in one channel
	effChart        = "chart"         // the digest's chart, in the digest's thread
	effPost         = "post"          // a fixed message in a given conversation (and thread)
	effSourceReply  = "source_reply"  // a line in the thread of the message an item was filed from
)

// effect is an outbox entry's payload. Fields are stored as JSON: add, never rename.
type effect struct {
	Item    domain.ItemID    `json:"item,omitempty"`
	Version uint64           `json:"version,omitempty"` // item_message: the item version that asked for it
	User    domain.UserID    `json:"user,omitempty"`
	Handoff domain.HandoffID `json:"handoff,omitempty"`
	Channel string           `json:"channel,omitempty"` // digest: where it goes
	Text    string           `json:"text,omitempty"`
	// Intro, on a DM, is a line shown above the item's current message.
	Intro string `json:"intro,omitempty"`
	// Nudge, on a DM, renders the item's nudge with its buttons.
	Nudge bool `json:"nudge,omitempty"`
	// Approval, on a handoff DM, asks a lead to approve rather than the target to accept.
	Approval bool `json:"approval,omitempty"`
	// Blocks is content fixed when it was queued (digests, morning DMs).
	Blocks json.RawMessage `json:"blocks,omitempty"`
	// Slot names a digest (its slot, or a post by hand); a chart goes in that digest's thread.
	Slot string `json:"slot,omitempty"`
	PNG  []byte `json:"png,omitempty"`
	// Thread, on a post, is the thread it goes in.
	Thread string `json:"thread,omitempty"`
	// Link, on a source reply, adds a link to the item message.
	Link bool `json:"link,omitempty"`
}

// State buckets the bot keeps.
const (
	kvItemMessages   = "item_messages"   // item ID → the canonical message (messageRef)
	kvHandoffDMs     = "handoff_dms"     // handoff ID → the DMs that carry its buttons ([]messageRef)
	kvPendingHome    = "pending_home"    // user → an App Home publish is queued and not yet started
	kvPendingItemMsg = "pending_itemmsg" // item ID → an item message edit is queued and not yet started
	kvSourceGone     = "source_gone"     // item ID → its source thread refused a reply; stop trying
)

func dmLane(user domain.UserID) string   { return "dm:" + string(user) }
func homeLane(user domain.UserID) string { return "home:" + string(user) }

// effects collects the entries one change owes, in the order they must be delivered.
type effects struct {
	b   *Bot
	st  domain.StateTx
	key string
	out []domain.Effect
	err error
}

func (e *effects) add(kind, key, channel string, p effect) {
	if e.err != nil {
		return
	}
	raw, err := json.Marshal(p)
	if err != nil {
		e.err = err
		return
	}
	e.out = append(e.out, domain.Effect{Kind: kind, Key: key, Channel: channel, At: e.b.now(), Payload: raw})
}

// once adds an effect unless one queued earlier, under marker bucket/key, has not started yet: that
// one will render the latest state anyway. The deliverer clears the marker before it renders, so a
// change committed after the render started queues a new one. At most one is in flight and one waits.
func (e *effects) once(bucket, markerKey, kind, key, channel string, p effect) {
	if e.err != nil {
		return
	}
	v, err := e.st.Get(bucket, markerKey)
	if err != nil {
		e.err = err
		return
	}
	if v != nil {
		return
	}
	if e.err = e.st.Put(bucket, markerKey, []byte{1}); e.err != nil {
		return
	}
	e.add(kind, key, channel, p)
}

func (e *effects) dm(user domain.UserID, p effect) {
	if user == "" || user == domain.SystemActor {
		return
	}
	p.User = user
	e.add(effDM, e.key, dmLane(user), p)
}

func (e *effects) home(users ...domain.UserID) {
	for _, u := range users {
		if u == "" || u == domain.SystemActor {
			continue
		}
		e.once(kvPendingHome, string(u), effHome, homeLane(u), "", effect{User: u})
	}
}

// effectsFor is the domain's Effects hook: it queues what res owes Slack in res's transaction.
func (b *Bot) effectsFor(tx domain.Tx, res domain.Result) error {
	e := &effects{b: b, st: tx.State()}
	if res.Person != nil {
		// Capacity, away and preferences show on that person's App Home.
		e.home(res.Person.ID)
		return e.flush(tx)
	}
	it := res.Item
	if it.ID == 0 {
		return nil
	}
	e.key = itemKey(it.ID)
	if onlyNudged(res.Events) {
		// A nudge is bookkeeping: it changes nothing people see except the nudge itself.
		e.dm(it.Assignee, effect{Item: it.ID, Nudge: true, Text: "⏳ " + it.Key + " is close to stalling"})
		return e.flush(tx)
	}
	created := slices.ContainsFunc(res.Events, func(ev domain.Event) bool { return ev.Type == domain.EventCreated })
	msg := effect{Item: it.ID, Version: it.Version}
	if created {
		// The first post goes in the intake channel's lane, so new items appear in the order they came.
		e.add(effItemMessage, e.key, b.cfg.IntakeChannel, msg)
	} else {
		e.once(kvPendingItemMsg, idKey(uint64(it.ID)), effItemMessage, e.key, "", msg)
	}
	for _, ev := range res.Events {
		if ev.Type != domain.EventCreated {
			e.add(effThread, e.key, "", effect{Item: it.ID, Text: eventLine(ev, b.policy)})
		}
	}
	for _, ev := range res.Events {
		b.notifyEffects(e, tx, ev, res)
	}
	users := []domain.UserID{it.Assignee, it.Requester}
	for _, ev := range res.Events {
		users = append(users, ev.Actor, ev.Subject)
		if before, after, ok := eventChange(ev, "assignee"); ok {
			users = append(users, domain.UserID(before), domain.UserID(after))
		}
	}
	if h := res.Handoff; h != nil {
		users = append(users, h.To, h.From, h.RequestedBy)
	}
	e.home(users...)
	return e.flush(tx)
}

// enqueuer is a transaction that takes outbox entries: a domain operation's or a state transaction.
type enqueuer interface {
	Enqueue(effects ...domain.Effect) error
}

func (e *effects) flush(tx enqueuer) error {
	if e.err != nil {
		return e.err
	}
	return tx.Enqueue(e.out...)
}

func onlyNudged(events []domain.Event) bool {
	return len(events) > 0 && !slices.ContainsFunc(events, func(ev domain.Event) bool { return ev.Type != domain.EventNudged })
}

// eventChange is one field's before and after in an event, and whether the event changed it.
func eventChange(e domain.Event, field string) (before, after string, ok bool) {
	for _, c := range e.Changes {
		if c.Field == field {
			return c.Before, c.After, true
		}
	}
	return "", "", false
}

// notifyEffects queues the DMs an event calls for.
func (b *Bot) notifyEffects(e *effects, tx domain.Tx, ev domain.Event, res domain.Result) {
	it := res.Item
	ref := itemRef(it)
	switch ev.Type {
	case domain.EventCreated:
		e.dm(it.Requester, effect{Text: "📥 Got it: " + ref + " is in the intake queue. I'll tell you when it is decided and when it is done."})
		if !it.Source.IsZero() {
			// The filer hears where it went, in the thread they filed it from.
			e.add(effSourceReply, e.key, "", effect{Item: it.ID, User: ev.Actor, Link: true,
				Text: "📥 Filed as *" + it.Key + "* by " + mention(ev.Actor) + ". Updates will follow in this thread."})
		}
	case domain.EventTriaged:
		b.tellRequester(e, ev, it, "🗂 "+mention(ev.Actor)+" prioritised your request "+ref+".", "prioritised by "+mention(ev.Actor))
	case domain.EventAssigned:
		_, after, _ := eventChange(ev, "assignee")
		if to := domain.UserID(after); to != "" && to != ev.Actor {
			e.dm(to, effect{Item: it.ID, Text: "👋 " + mention(ev.Actor) + " assigned you " + ref, Intro: "👋 " + mention(ev.Actor) + " assigned you this:"})
		}
		if it.Requester != domain.UserID(after) {
			b.tellRequester(e, ev, it, "👤 Your request "+ref+" is now with "+mention(domain.UserID(after))+".", "now with "+mention(domain.UserID(after)))
		}
	case domain.EventMoved:
		if _, after, ok := eventChange(ev, "resolution"); ok && after == string(domain.ResolutionDone) {
			b.tellRequester(e, ev, it, "✅ Your request "+ref+" is done.", "done ✅")
		}
	case domain.EventRejected:
		b.tellRequester(e, ev, it, "Your request "+ref+" was not accepted by "+mention(ev.Actor)+". "+reasonSuffix(ev.Note), "not accepted by "+mention(ev.Actor)+". "+reasonSuffix(ev.Note))
	case domain.EventDuplicate:
		of := domain.FormatKey(b.policy.KeyPrefix, it.DuplicateOf)
		b.tellRequester(e, ev, it, "Your request "+ref+" was closed as a duplicate of "+of+".", "closed as a duplicate of "+of)
	case domain.EventHandoffRequested, domain.EventHandoffApproved:
		if h := res.Handoff; h != nil {
			b.handoffRequestEffects(e, *h, it)
		}
	case domain.EventHandoffAccepted, domain.EventHandoffDeclined, domain.EventHandoffCancelled, domain.EventHandoffRefused:
		h := res.Handoff
		if (h == nil || h.ID != ev.Handoff) && ev.Handoff != 0 {
			// Assigning or closing an item cancels its handoff as a side effect; that result carries
			// the item, not the handoff, so read it.
			if got, err := tx.Handoff(ev.Handoff); err == nil {
				h = &got
			}
		}
		if h == nil {
			return
		}
		e.add(effHandoffClose, e.key, "", effect{Item: it.ID, Handoff: h.ID})
		if h.RequestedBy != ev.Actor {
			e.dm(h.RequestedBy, effect{Text: "🔁 Your handoff of " + ref + ": " + handoffOutcome(*h)})
		}
		if h.From != "" && h.From != h.RequestedBy && h.From != ev.Actor {
			e.dm(h.From, effect{Text: "🔁 Handoff of " + ref + ": " + handoffOutcome(*h)})
		}
	case domain.EventHandoffEscalated:
		if h := res.Handoff; h != nil {
			for _, lead := range b.leadsFor(*h, it) {
				e.dm(lead, effect{Text: "⏰ The handoff of " + ref + " to " + handoffTarget(*h) + " has waited since " + h.RequestedAt.UTC().Format("Jan 2 15:04 UTC") + " without an answer."})
			}
		}
	}
}

// tellRequester queues what the requester hears about a change, and so do the item's followers and, if
// the item was filed from a message, that message's thread. Nobody is told of their own action.
func (b *Bot) tellRequester(e *effects, ev domain.Event, it domain.Item, toRequester, what string) {
	if it.Requester != ev.Actor {
		e.dm(it.Requester, effect{Text: toRequester})
	}
	for _, f := range it.Followers {
		if f != ev.Actor && f != it.Requester {
			e.dm(f, effect{Text: "🔔 " + itemRef(it) + " (you follow it): " + what + "."})
		}
	}
	if !it.Source.IsZero() && b.cfg.NotifySourceThread {
		e.add(effSourceReply, e.key, "", effect{Item: it.ID, Text: "*" + it.Key + "* " + what + "."})
	}
}

// handoffRequestEffects queues the DMs of the people who must act: leads while approval is pending,
// else the target (a person, or everyone in the target team's queue).
func (b *Bot) handoffRequestEffects(e *effects, h domain.Handoff, it domain.Item) {
	switch h.Status {
	case domain.HandoffAwaitingApproval:
		for _, lead := range b.leadsFor(h, it) {
			e.add(effHandoffDM, e.key, dmLane(lead), effect{Item: it.ID, Handoff: h.ID, User: lead, Approval: true})
		}
	case domain.HandoffPending:
		e.add(effHandoffClose, e.key, "", effect{Item: it.ID, Handoff: h.ID}) // approval buttons are done with
		targets := []domain.UserID{h.To}
		if h.To == "" {
			if t, ok := b.policy.Team(h.ToTeam); ok {
				targets = append(slices.Clone(t.Members), t.Leads...)
			}
		}
		for i, to := range targets {
			if to != "" && !slices.Contains(targets[:i], to) {
				e.add(effHandoffDM, e.key, dmLane(to), effect{Item: it.ID, Handoff: h.ID, User: to})
			}
		}
	}
}
