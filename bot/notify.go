package bot

import (
	"context"
	"slices"
	"sort"
	"strconv"

	"workbot/domain"
)

// messageRef names a message the bot posted and may edit later.
type messageRef struct {
	Channel string `json:"c"`
	TS      string `json:"ts"`
	// Approval marks a handoff DM sent to a lead for approval rather than to the target.
	Approval bool `json:"a,omitempty"`
	// Version, on an item message, is the item version it shows.
	Version uint64 `json:"v,omitempty"`
}

func idKey(n uint64) string { return strconv.FormatUint(n, 10) }

// loadRef reads one message reference from the bot's state.
func (b *Bot) loadRef(ctx context.Context, bucket, key string) (messageRef, bool) {
	var r messageRef
	err := b.store.ViewState(ctx, func(tx domain.StateReader) error { return getJSON(tx, bucket, key, &r) })
	if err != nil || r.TS == "" {
		return messageRef{}, false
	}
	return r, true
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
	err := b.store.View(ctx, func(tx domain.ReadTx) error {
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
		if it.Open() && it.Stage == b.policy.Workflow.Initial {
			var err error
			if v.Similar, err = similarIn(tx, it.Title+"\n"+it.Details, it.ID); err != nil {
				return err
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

func reasonSuffix(note string) string {
	if note == "" {
		return ""
	}
	return "Reason: " + escCut(note, 500)
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

// queueHome asks for a fresh App Home for user, through the outbox like every other publish, so it
// is coalesced with those a change queued.
func (b *Bot) queueHome(ctx context.Context, user domain.UserID) {
	err := b.store.UpdateState(ctx, func(tx domain.StateTx) error {
		e := &effects{b: b, st: tx}
		e.home(user)
		return e.flush(tx)
	})
	if err != nil {
		b.log.Warn().Err(err).Str("user", string(user)).Msg("could not queue an App Home publish")
	}
}

// handoffAndItem reads a handoff and its item in one snapshot.
func (b *Bot) handoffAndItem(ctx context.Context, id domain.HandoffID) (domain.Handoff, domain.Item, error) {
	var (
		h  domain.Handoff
		it domain.Item
	)
	err := b.store.View(ctx, func(tx domain.ReadTx) error {
		var err error
		if h, err = tx.Handoff(id); err != nil {
			return err
		}
		it, err = tx.Item(h.ItemID)
		return err
	})
	return h, it, err
}

// homeTriageShown is how many triage items App Home lists (home.go); the rest are counted.
const homeTriageShown = 8

// homeData reads what one App Home shows in one snapshot. Nothing here scans the open items: a lead's
// team load comes from the workload aggregates and the triage queue from a bounded ranking of the
// initial stage, so a lead's Home costs about what a member's does.
func (b *Bot) homeData(ctx context.Context, user domain.UserID) (homeData, error) {
	d := homeData{User: user, Policy: b.policy, IsLead: b.policy.IsAnyLead(user)}
	now := b.now()
	today := b.policy.Calendar.Today(now)
	var mine []domain.Item
	err := b.store.View(ctx, func(tx domain.ReadTx) error {
		mine, d.Incoming, d.Outgoing, d.Requests = nil, nil, nil, nil
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
			incoming := h.Status == domain.HandoffPending && (h.To == user || (h.To == "" && h.ToTeam != "" && h.ToTeam == myTeam))
			outgoing := h.RequestedBy == user
			if !incoming && !outgoing {
				return true // someone else's: not worth reading its item
			}
			it, err := tx.Item(h.ItemID)
			if err != nil {
				return true
			}
			if incoming {
				d.Incoming = append(d.Incoming, handoffWithItem{h, it})
			}
			if outgoing {
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
			d.TriageQueue, d.TriageSize, err = b.policy.TopOpen(tx, domain.Scope{Stage: b.policy.Workflow.Initial}, homeTriageShown, now)
			if err != nil {
				return err
			}
			people, work, err := domain.PeopleAndWork(tx)
			if err != nil {
				return err
			}
			d.TeamLoad = b.teamLoad(user, people, work, today)
		}
		return nil
	})
	if err != nil {
		return d, err
	}
	d.Mine = b.policy.Rank(mine, now)
	d.Load = b.policy.LoadOf(d.Person, mine, today)
	return d, nil
}

// teamLoad is the load a lead oversees: everyone for a global lead, their teams' people otherwise.
func (b *Bot) teamLoad(lead domain.UserID, people []domain.Person, work map[domain.UserID]domain.Workload, today domain.Date) []domain.PersonLoad {
	loads := b.policy.LoadsFrom(people, work, today)
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
