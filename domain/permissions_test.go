package domain

import (
	"slices"
	"testing"
)

// The cast of the permission matrix, as they relate to the item W-4 (team dev, assigned to UDEV1,
// requested by UREQ) and its handoff from UDEV1 to UQA1.
const (
	pmGlobalLead UserID = "ULEAD"
	pmDevLead    UserID = "UDEVLEAD" // leads the item's (and the sender's) team
	pmQALead     UserID = "UQALEAD"  // leads the handoff target's team
	pmOpsLead    UserID = "UOPSLEAD" // leads an unrelated team
	pmAssignee   UserID = "UDEV1"    // assignee, handoff sender, subject of people actions
	pmRequester  UserID = "UREQ"
	pmTarget     UserID = "UQA1"
	pmStranger   UserID = "UDEV2"
)

var pmActors = []UserID{pmGlobalLead, pmDevLead, pmQALead, pmOpsLead, pmAssignee, pmRequester, pmTarget, pmStranger, SystemActor}

var pmAllActions = []Action{
	ActCreate, ActView, ActTriage, ActPin, ActReject, ActDuplicate, ActAssign, ActStart, ActMove, ActDone,
	ActBlock, ActUnblock, ActDepend, ActHandoffRequest, ActHandoffApprove, ActHandoffRefuse, ActHandoffAccept,
	ActHandoffDecline, ActHandoffCancel, ActSetCapacity, ActSetAway, ActSetPrefs, ActDigestPost, ActSnooze, ActEscalate,
	ActFollow,
}

func pmPolicy() *Policy {
	p := DefaultPolicy()
	p.Leads = []UserID{pmGlobalLead}
	p.Teams = []Team{
		{ID: "dev", Leads: []UserID{pmDevLead}, Members: []UserID{pmAssignee, pmStranger}},
		{ID: "qa", Leads: []UserID{pmQALead}, Members: []UserID{pmTarget}},
		{ID: "ops", Leads: []UserID{pmOpsLead}},
	}
	return p
}

// pmExpect is the product's permission table written out independently of Rules: who may act and in
// which state. The matrix test derives every expected outcome from it.
var pmExpect = map[Action]struct {
	who      []UserID
	needOpen bool
	states   []HandoffStatus
}{
	ActCreate:         {who: pmActors},
	ActView:           {who: pmActors},
	ActTriage:         {who: []UserID{pmGlobalLead, pmDevLead}, needOpen: true},
	ActPin:            {who: []UserID{pmGlobalLead, pmDevLead}, needOpen: true},
	ActReject:         {who: []UserID{pmGlobalLead, pmDevLead}, needOpen: true},
	ActDuplicate:      {who: []UserID{pmGlobalLead, pmDevLead}, needOpen: true},
	ActAssign:         {who: []UserID{pmGlobalLead, pmDevLead}, needOpen: true},
	ActStart:          {who: []UserID{pmGlobalLead, pmDevLead, pmAssignee}, needOpen: true},
	ActMove:           {who: []UserID{pmGlobalLead, pmDevLead, pmAssignee}, needOpen: true},
	ActDone:           {who: []UserID{pmGlobalLead, pmDevLead, pmAssignee}, needOpen: true},
	ActBlock:          {who: []UserID{pmGlobalLead, pmDevLead, pmAssignee}, needOpen: true},
	ActUnblock:        {who: []UserID{pmGlobalLead, pmDevLead, pmAssignee}, needOpen: true},
	ActDepend:         {who: []UserID{pmGlobalLead, pmDevLead, pmAssignee}, needOpen: true},
	ActHandoffRequest: {who: []UserID{pmGlobalLead, pmDevLead, pmAssignee}, needOpen: true},
	ActSnooze:         {who: []UserID{pmGlobalLead, pmDevLead, pmAssignee}, needOpen: true},
	ActHandoffApprove: {who: []UserID{pmGlobalLead, pmDevLead, pmQALead}, states: []HandoffStatus{HandoffAwaitingApproval}},
	ActHandoffRefuse:  {who: []UserID{pmGlobalLead, pmDevLead, pmQALead}, states: []HandoffStatus{HandoffAwaitingApproval}},
	ActHandoffAccept:  {who: []UserID{pmTarget}, states: []HandoffStatus{HandoffPending}},
	ActHandoffDecline: {who: []UserID{pmTarget}, states: []HandoffStatus{HandoffPending}},
	ActHandoffCancel:  {who: []UserID{pmAssignee, pmGlobalLead, pmDevLead, pmQALead}, states: []HandoffStatus{HandoffAwaitingApproval, HandoffPending}},
	ActSetCapacity:    {who: []UserID{pmGlobalLead, pmDevLead}},
	ActSetAway:        {who: []UserID{pmAssignee, pmGlobalLead, pmDevLead}},
	ActSetPrefs:       {who: []UserID{pmAssignee}},
	ActDigestPost:     {who: []UserID{pmGlobalLead, pmDevLead, pmQALead, pmOpsLead}},
	ActEscalate:       {who: []UserID{SystemActor}},
	ActFollow:         {who: pmActors, needOpen: true},
}

var pmAllStatuses = []HandoffStatus{HandoffAwaitingApproval, HandoffPending, HandoffAccepted, HandoffDeclined, HandoffCancelled, HandoffRejected}

// pmScenario is one state of the world an action may meet.
type pmScenario struct {
	name string
	ctx  AuthContext
	open bool
	hs   HandoffStatus
}

func pmScenarios(act Action) []pmScenario {
	item := func(res Resolution) *Item {
		return &Item{ID: 4, Key: "W-4", Team: "dev", Assignee: pmAssignee, Requester: pmRequester, Resolution: res, PendingHandoff: 7}
	}
	want := pmExpect[act]
	switch {
	case len(want.states) > 0:
		var out []pmScenario
		for _, st := range pmAllStatuses {
			h := &Handoff{ID: 7, ItemID: 4, From: pmAssignee, To: pmTarget, RequestedBy: pmAssignee, Status: st}
			out = append(out, pmScenario{name: string(st), ctx: AuthContext{Item: item(ResolutionNone), Handoff: h}, open: true, hs: st})
		}
		return out
	case want.needOpen:
		return []pmScenario{
			{name: "open", ctx: AuthContext{Item: item(ResolutionNone)}, open: true},
			{name: "done", ctx: AuthContext{Item: item(ResolutionDone)}},
			{name: "rejected", ctx: AuthContext{Item: item(ResolutionRejected)}},
			{name: "duplicate", ctx: AuthContext{Item: item(ResolutionDuplicate)}},
		}
	case act == ActSetCapacity || act == ActSetAway || act == ActSetPrefs:
		return []pmScenario{{name: "subject", ctx: AuthContext{Subject: pmAssignee}, open: true}}
	case act == ActView:
		return []pmScenario{
			{name: "open", ctx: AuthContext{Item: item(ResolutionNone)}, open: true},
			{name: "done", ctx: AuthContext{Item: item(ResolutionDone)}, open: true},
		}
	default:
		return []pmScenario{{name: "none", open: true}}
	}
}

func TestAuthorizeMatrix(t *testing.T) {
	p := pmPolicy()
	if len(pmExpect) != len(pmAllActions) || len(Rules) != len(pmAllActions) {
		t.Fatalf("%d expectations and %d rules for %d actions", len(pmExpect), len(Rules), len(pmAllActions))
	}
	counts := map[string]int{}
	for _, act := range pmAllActions {
		want := pmExpect[act]
		for _, sc := range pmScenarios(act) {
			for _, actor := range pmActors {
				wantCode := ""
				switch {
				case !slices.Contains(want.who, actor):
					wantCode = EFORBIDDEN
				case !sc.open:
					wantCode = ECONFLICT
				case len(want.states) > 0 && !slices.Contains(want.states, sc.hs):
					wantCode = ECONFLICT
				}
				outcome := map[string]string{"": "Allowed", EFORBIDDEN: "ErrForbidden", ECONFLICT: "ErrConflict"}[wantCode]
				counts[outcome]++
				t.Run(string(act)+"/"+sc.name+"/"+string(actor)+"/"+outcome, func(t *testing.T) {
					err := p.Authorize(actor, act, sc.ctx)
					if got := ErrorCode(err); got != wantCode {
						t.Fatalf("Authorize(%s, %s, %s) = %v, want code %q", actor, act, sc.name, err, wantCode)
					}
					if err != nil && ErrorMessage(err) == "" {
						t.Error("refusal without a message")
					}
					if got := p.Allowed(actor, act, sc.ctx); got != (wantCode == "") {
						t.Errorf("Allowed = %v, Authorize code %q", got, wantCode)
					}
				})
			}
		}
	}
	for _, outcome := range []string{"Allowed", "ErrForbidden", "ErrConflict"} {
		if counts[outcome] == 0 {
			t.Errorf("the matrix never expects %s", outcome)
		}
	}
}

func TestAuthorizeMessages(t *testing.T) {
	p := pmPolicy()
	it := &Item{ID: 4, Key: "W-4", Team: "dev", Assignee: pmAssignee}
	tests := []struct {
		name   string
		actor  UserID
		act    Action
		ctx    AuthContext
		code   string
		wanted string
	}{
		{"ErrForbiddenMove", pmStranger, ActMove, AuthContext{Item: it}, EFORBIDDEN, "Only the assignee or a lead can move W-4."},
		{"ErrForbiddenTriage", pmAssignee, ActTriage, AuthContext{Item: it}, EFORBIDDEN, "Only a lead can prioritise W-4."},
		{"ErrForbiddenKeyFromPrefix", pmStranger, ActDone, AuthContext{Item: &Item{ID: 9}}, EFORBIDDEN, "Only the assignee or a lead can mark W-9 done."},
		{"ErrConflictClosed", pmAssignee, ActMove, AuthContext{Item: &Item{ID: 4, Key: "W-4", Assignee: pmAssignee, Resolution: ResolutionDone}}, ECONFLICT, "W-4 is already done."},
		{"ErrConflictAccepted", pmTarget, ActHandoffAccept, AuthContext{Handoff: &Handoff{To: pmTarget, Status: HandoffAccepted}}, ECONFLICT, "This handoff was already accepted."},
		{"ErrConflictDeclined", pmTarget, ActHandoffAccept, AuthContext{Handoff: &Handoff{To: pmTarget, Status: HandoffDeclined}}, ECONFLICT, "This handoff was already declined."},
		{"ErrConflictAwaitingApproval", pmTarget, ActHandoffAccept, AuthContext{Handoff: &Handoff{To: pmTarget, Status: HandoffAwaitingApproval}}, ECONFLICT, "This handoff is still waiting for a lead's approval."},
		{"ErrForbiddenUnknownAction", pmGlobalLead, Action("launch_rockets"), AuthContext{}, EFORBIDDEN, "That action is not allowed."},
		{"ErrForbiddenNoActor", "", ActView, AuthContext{}, EFORBIDDEN, "That action is not allowed."},
		{"ErrNotFoundNoItem", pmGlobalLead, ActAssign, AuthContext{}, ENOTFOUND, "There is no such item."},
		{"ErrNotFoundNoHandoff", pmGlobalLead, ActHandoffApprove, AuthContext{}, ENOTFOUND, "There is no such handoff."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := p.Authorize(tc.actor, tc.act, tc.ctx)
			if ErrorCode(err) != tc.code || ErrorMessage(err) != tc.wanted {
				t.Errorf("Authorize = %v, want %s %q", err, tc.code, tc.wanted)
			}
		})
	}
}

func TestAuthorizeTeamQueueHandoff(t *testing.T) {
	p := pmPolicy()
	h := &Handoff{ID: 1, From: pmAssignee, ToTeam: "qa", RequestedBy: pmAssignee, Status: HandoffPending}
	tests := []struct {
		name      string
		actor     UserID
		actorTeam TeamID
		allowed   bool
	}{
		{"AllowedConfiguredMember", pmTarget, "", true},
		{"AllowedTeamLead", pmQALead, "", true},
		{"AllowedStoredMember", "UNEWQA", "qa", true},
		{"ErrForbiddenOtherTeam", pmStranger, "", false},
		{"ErrForbiddenStoredElsewhere", "UNEWDEV", "dev", false},
		{"ErrForbiddenSender", pmAssignee, "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := p.Authorize(tc.actor, ActHandoffAccept, AuthContext{Handoff: h, ActorTeam: tc.actorTeam})
			if (err == nil) != tc.allowed {
				t.Errorf("Authorize = %v, want allowed %v", err, tc.allowed)
			}
		})
	}
}

func TestAuthorizeStoredSubjectTeam(t *testing.T) {
	p := pmPolicy()
	// A person stored in qa is led by the qa lead, whatever the configured membership says.
	ctx := AuthContext{Subject: pmStranger, SubjectTeam: "qa"}
	if err := p.Authorize(pmQALead, ActSetCapacity, ctx); err != nil {
		t.Errorf("qa lead on a qa person: %v", err)
	}
	if err := p.Authorize(pmDevLead, ActSetCapacity, ctx); ErrorCode(err) != EFORBIDDEN {
		t.Errorf("dev lead on a qa person: %v, want EFORBIDDEN", err)
	}
}

func TestRulesCoverEveryActionOnce(t *testing.T) {
	seen := map[Action]int{}
	for _, r := range Rules {
		seen[r.Action]++
		if len(r.Roles) == 0 {
			t.Errorf("rule %s grants nobody", r.Action)
		}
	}
	for _, act := range pmAllActions {
		if seen[act] != 1 {
			t.Errorf("action %s has %d rules, want 1", act, seen[act])
		}
	}
}

// BenchmarkAuthorize measures the check every button click and every rendered button makes.
func BenchmarkAuthorize(b *testing.B) {
	p := pmPolicy()
	it := &Item{ID: 4, Key: "W-4", Team: "dev", Assignee: pmAssignee}
	h := &Handoff{ID: 7, From: pmAssignee, To: pmTarget, RequestedBy: pmAssignee, Status: HandoffPending}
	b.ReportAllocs()
	for b.Loop() {
		_ = p.Authorize(pmDevLead, ActMove, AuthContext{Item: it})
		_ = p.Authorize(pmStranger, ActHandoffCancel, AuthContext{Item: it, Handoff: h})
	}
}
