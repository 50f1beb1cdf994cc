package domain

import (
	"slices"
	"strings"
)

// Action is something a user asks workbot to do. Permissions are data (see Rules), so the table can be
// read, tested exhaustively and shown in help.
type Action string

const (
	ActCreate         Action = "create"
	ActView           Action = "view"
	ActTriage         Action = "triage"
	ActPin            Action = "pin"
	ActReject         Action = "reject"
	ActDuplicate      Action = "duplicate"
	ActAssign         Action = "assign"
	ActStart          Action = "start"
	ActMove           Action = "move"
	ActDone           Action = "done"
	ActBlock          Action = "block"
	ActUnblock        Action = "unblock"
	ActDepend         Action = "depend"
	ActHandoffRequest Action = "handoff_request"
	ActHandoffApprove Action = "handoff_approve"
	ActHandoffRefuse  Action = "handoff_refuse"
	ActHandoffAccept  Action = "handoff_accept"
	ActHandoffDecline Action = "handoff_decline"
	ActHandoffCancel  Action = "handoff_cancel"
	ActSetCapacity    Action = "set_capacity"
	ActSetAway        Action = "set_away"
	ActSetPrefs       Action = "set_prefs"
	ActDigestPost     Action = "digest_post"
	ActSnooze         Action = "snooze"
	ActEscalate       Action = "escalate"
	ActFollow         Action = "follow"
)

// Role is a relation between the actor and the thing acted on.
type Role string

const (
	// RoleAnyone is any identified user.
	RoleAnyone Role = "anyone"
	// RoleLead is a global lead, or a lead of the item's team, the subject's team, or the handoff's source
	// or target team. With no item, handoff or subject in the context, a lead of any team.
	RoleLead Role = "lead"
	// RoleAssignee is the item's current assignee.
	RoleAssignee Role = "assignee"
	// RoleRequester is who asked for the item.
	RoleRequester Role = "requester"
	// RoleHandoffTarget is the handoff's To, or for a team-queue handoff a member or lead of ToTeam.
	RoleHandoffTarget Role = "handoff_target"
	// RoleHandoffSender is who requested the handoff.
	RoleHandoffSender Role = "handoff_sender"
	// RoleSelf is the actor acting on themselves (the subject).
	RoleSelf Role = "self"
	// RoleSystem is workbot acting on its own schedule.
	RoleSystem Role = "system"
)

// Rule grants an action to any of Roles. ItemOpen requires an open item; HandoffStates, when set, lists
// the handoff states in which the action still makes sense. A role that fits in the wrong state is a
// conflict, not a refusal, so a late click is told what happened instead of being told off.
type Rule struct {
	Action        Action
	Roles         []Role
	ItemOpen      bool
	HandoffStates []HandoffStatus
}

var (
	leadOnly         = []Role{RoleLead}
	assigneeOrLead   = []Role{RoleAssignee, RoleLead}
	awaitingApproval = []HandoffStatus{HandoffAwaitingApproval}
	pendingOnly      = []HandoffStatus{HandoffPending}
	undecided        = []HandoffStatus{HandoffAwaitingApproval, HandoffPending}
)

// Rules is the permission table. Anything not granted here is forbidden.
var Rules = []Rule{
	{Action: ActCreate, Roles: []Role{RoleAnyone}},
	{Action: ActView, Roles: []Role{RoleAnyone}},
	{Action: ActTriage, Roles: leadOnly, ItemOpen: true},
	{Action: ActPin, Roles: leadOnly, ItemOpen: true},
	{Action: ActReject, Roles: leadOnly, ItemOpen: true},
	{Action: ActDuplicate, Roles: leadOnly, ItemOpen: true},
	{Action: ActAssign, Roles: leadOnly, ItemOpen: true},
	{Action: ActStart, Roles: assigneeOrLead, ItemOpen: true},
	{Action: ActMove, Roles: assigneeOrLead, ItemOpen: true},
	{Action: ActDone, Roles: assigneeOrLead, ItemOpen: true},
	{Action: ActBlock, Roles: assigneeOrLead, ItemOpen: true},
	{Action: ActUnblock, Roles: assigneeOrLead, ItemOpen: true},
	{Action: ActDepend, Roles: assigneeOrLead, ItemOpen: true},
	{Action: ActHandoffRequest, Roles: assigneeOrLead, ItemOpen: true},
	{Action: ActHandoffApprove, Roles: leadOnly, HandoffStates: awaitingApproval},
	{Action: ActHandoffRefuse, Roles: leadOnly, HandoffStates: awaitingApproval},
	{Action: ActHandoffAccept, Roles: []Role{RoleHandoffTarget}, HandoffStates: pendingOnly},
	{Action: ActHandoffDecline, Roles: []Role{RoleHandoffTarget}, HandoffStates: pendingOnly},
	{Action: ActHandoffCancel, Roles: []Role{RoleHandoffSender, RoleLead}, HandoffStates: undecided},
	{Action: ActSetCapacity, Roles: leadOnly},
	{Action: ActSetAway, Roles: []Role{RoleSelf, RoleLead}},
	{Action: ActSetPrefs, Roles: []Role{RoleSelf}},
	{Action: ActDigestPost, Roles: leadOnly},
	{Action: ActSnooze, Roles: assigneeOrLead, ItemOpen: true},
	{Action: ActEscalate, Roles: []Role{RoleSystem}},
	{Action: ActFollow, Roles: []Role{RoleAnyone}, ItemOpen: true},
}

// AuthContext is what an action is about. Item and Handoff may be nil; Subject is the person concerned
// by people actions (capacity, away, prefs).
type AuthContext struct {
	Item    *Item
	Handoff *Handoff
	Subject UserID
	// SubjectTeam and ActorTeam are the stored teams of the subject and the actor, when the caller has
	// them; when empty, the configured team membership is used.
	SubjectTeam TeamID
	ActorTeam   TeamID
}

// RuleFor returns the rule for act and true, or false when the action is not granted to anyone.
func RuleFor(act Action) (Rule, bool) {
	for _, r := range Rules {
		if r.Action == act {
			return r, true
		}
	}
	return Rule{}, false
}

// Authorize decides whether actor may do act in context c. Returns nil when allowed; EFORBIDDEN, with a
// message saying who may do it, when no role of the rule fits (or the action is unknown); ECONFLICT when
// a role fits but the item is closed or the handoff is no longer in a state for this; ENOTFOUND when the
// rule needs an item or handoff and c has none.
func (p *Policy) Authorize(actor UserID, act Action, c AuthContext) error {
	rule, ok := RuleFor(act)
	if !ok || actor == "" {
		return Errorf(EFORBIDDEN, "That action is not allowed.")
	}
	if !slices.ContainsFunc(rule.Roles, func(r Role) bool { return p.hasRole(actor, r, c) }) {
		return Errorf(EFORBIDDEN, "Only %s can %s.", rolesPhrase(rule.Roles), p.actionPhrase(act, c))
	}
	if rule.ItemOpen {
		if c.Item == nil {
			return Errorf(ENOTFOUND, "There is no such item.")
		}
		if !c.Item.Open() {
			return Errorf(ECONFLICT, "%s is already %s.", p.keyOf(c.Item), closedPhrase(c.Item.Resolution))
		}
	}
	if len(rule.HandoffStates) > 0 {
		if c.Handoff == nil {
			return Errorf(ENOTFOUND, "There is no such handoff.")
		}
		if !slices.Contains(rule.HandoffStates, c.Handoff.Status) {
			return Errorf(ECONFLICT, "%s", handoffStatePhrase(c.Handoff.Status))
		}
	}
	return nil
}

// Allowed reports whether Authorize would allow the action, for UIs choosing which buttons to show.
func (p *Policy) Allowed(actor UserID, act Action, c AuthContext) bool {
	return p.Authorize(actor, act, c) == nil
}

func (p *Policy) hasRole(actor UserID, r Role, c AuthContext) bool {
	switch r {
	case RoleAnyone:
		return true
	case RoleLead:
		return p.leadsContext(actor, c)
	case RoleAssignee:
		return c.Item != nil && c.Item.Assignee == actor
	case RoleRequester:
		return c.Item != nil && c.Item.Requester == actor
	case RoleHandoffTarget:
		h := c.Handoff
		if h == nil {
			return false
		}
		if h.To != "" {
			return h.To == actor
		}
		return h.ToTeam != "" && p.memberOf(actor, c.ActorTeam, h.ToTeam)
	case RoleHandoffSender:
		return c.Handoff != nil && c.Handoff.RequestedBy == actor
	case RoleSelf:
		return c.Subject != "" && c.Subject == actor
	case RoleSystem:
		return actor == SystemActor
	}
	return false
}

// leadsContext reports whether actor leads anything the context touches.
func (p *Policy) leadsContext(actor UserID, c AuthContext) bool {
	if actor == SystemActor {
		return false
	}
	if p.IsLead(actor, "") {
		return true
	}
	if c.Item == nil && c.Handoff == nil && c.Subject == "" {
		return p.IsAnyLead(actor)
	}
	var teams []TeamID
	if c.Item != nil {
		teams = append(teams, c.Item.Team)
	}
	if c.Subject != "" {
		teams = append(teams, p.teamOrConfigured(c.Subject, c.SubjectTeam))
	}
	if h := c.Handoff; h != nil {
		teams = append(teams, h.ToTeam, p.TeamOf(Person{ID: h.From}), p.TeamOf(Person{ID: h.To}))
	}
	return slices.ContainsFunc(teams, func(t TeamID) bool { return t != "" && p.IsLead(actor, t) })
}

func (p *Policy) teamOrConfigured(user UserID, stored TeamID) TeamID {
	if stored != "" {
		return stored
	}
	return p.TeamOf(Person{ID: user})
}

// memberOf reports whether user belongs to team, by their stored team or the configured membership.
func (p *Policy) memberOf(user UserID, storedTeam, team TeamID) bool {
	if storedTeam != "" && storedTeam == team {
		return true
	}
	t, ok := p.Team(team)
	return ok && (slices.Contains(t.Members, user) || slices.Contains(t.Leads, user))
}

func (p *Policy) keyOf(it *Item) string {
	if it == nil {
		return "this item"
	}
	if it.Key != "" {
		return it.Key
	}
	return FormatKey(p.KeyPrefix, it.ID)
}

var rolePhrases = map[Role]string{
	RoleAnyone:        "a known user",
	RoleLead:          "a lead",
	RoleAssignee:      "the assignee",
	RoleRequester:     "the requester",
	RoleHandoffTarget: "the person it is handed to",
	RoleHandoffSender: "the person who asked for it",
	RoleSelf:          "the person themselves",
	RoleSystem:        "workbot itself",
}

func rolesPhrase(roles []Role) string {
	parts := make([]string, len(roles))
	for i, r := range roles {
		parts[i] = rolePhrases[r]
	}
	return strings.Join(parts, " or ")
}

func (p *Policy) actionPhrase(act Action, c AuthContext) string {
	key := p.keyOf(c.Item)
	switch act {
	case ActCreate:
		return "create requests"
	case ActFollow:
		return "follow " + key
	case ActView:
		return "view " + key
	case ActTriage:
		return "prioritise " + key
	case ActPin:
		return "pin " + key
	case ActReject:
		return "reject " + key
	case ActDuplicate:
		return "mark " + key + " as a duplicate"
	case ActAssign:
		return "assign " + key
	case ActStart:
		return "start " + key
	case ActMove:
		return "move " + key
	case ActDone:
		return "mark " + key + " done"
	case ActBlock:
		return "block " + key
	case ActUnblock:
		return "unblock " + key
	case ActDepend:
		return "add dependencies to " + key
	case ActHandoffRequest:
		return "hand off " + key
	case ActHandoffApprove:
		return "approve this handoff"
	case ActHandoffRefuse:
		return "refuse this handoff"
	case ActHandoffAccept:
		return "accept this handoff"
	case ActHandoffDecline:
		return "decline this handoff"
	case ActHandoffCancel:
		return "cancel this handoff"
	case ActSetCapacity:
		return "change capacities"
	case ActSetAway:
		return "set someone's away dates"
	case ActSetPrefs:
		return "change someone's notification preferences"
	case ActDigestPost:
		return "post the digest"
	case ActSnooze:
		return "snooze " + key
	case ActEscalate:
		return "escalate handoffs"
	}
	return "do that"
}

func closedPhrase(r Resolution) string {
	switch r {
	case ResolutionRejected:
		return "rejected"
	case ResolutionDuplicate:
		return "closed as a duplicate"
	default:
		return "done"
	}
}

func handoffStatePhrase(s HandoffStatus) string {
	switch s {
	case HandoffAwaitingApproval:
		return "This handoff is still waiting for a lead's approval."
	case HandoffPending:
		return "This handoff was already approved; it is waiting for the recipient."
	case HandoffAccepted:
		return "This handoff was already accepted."
	case HandoffDeclined:
		return "This handoff was already declined."
	case HandoffCancelled:
		return "This handoff was cancelled."
	case HandoffRejected:
		return "This handoff was already refused by a lead."
	}
	return "This handoff can no longer be changed."
}
