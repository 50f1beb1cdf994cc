package domain

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// People of the operation tests.
const (
	opLead     UserID = "ULEAD"    // global lead
	opDevLead  UserID = "UDEVLEAD" // lead of dev
	opQALead   UserID = "UQALEAD"  // lead of qa
	opDev1     UserID = "UDEV1"
	opDev2     UserID = "UDEV2"
	opDev3     UserID = "UDEV3"
	opQA1      UserID = "UQA1"
	opQA2      UserID = "UQA2"
	opReq      UserID = "UREQ"
	opStranger UserID = "USTRANGER"
)

func opsPolicy() *Policy {
	p := DefaultPolicy()
	p.Leads = []UserID{opLead}
	p.Teams = []Team{
		{ID: "dev", Name: "Dev", Leads: []UserID{opDevLead}, Members: []UserID{opDev1, opDev2, opDev3}},
		{ID: "qa", Name: "QA", Leads: []UserID{opQALead}, Members: []UserID{opQA1, opQA2}},
	}
	return p
}

type opsEnv struct {
	t     *testing.T
	svc   *Service
	store *memStore
	now   time.Time
}

// opsStart is a Wednesday morning, so a few working days lie ahead before a weekend.
var opsStart = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

func newOpsEnv(t *testing.T) *opsEnv {
	t.Helper()
	env := &opsEnv{t: t, store: newMemStore(), now: opsStart}
	env.svc = &Service{Store: env.store, Policy: opsPolicy(), Now: func() time.Time { return env.now }}
	return env
}

func (e *opsEnv) advance(d time.Duration) { e.now = e.now.Add(d) }

var bg = context.Background()

func (e *opsEnv) create(title string, edit ...func(*NewItem)) Item {
	e.t.Helper()
	in := NewItem{Title: title, Team: "dev"}
	for _, f := range edit {
		f(&in)
	}
	res, err := e.svc.Create(bg, opReq, in)
	if err != nil {
		e.t.Fatalf("Create(%q): %v", title, err)
	}
	return res.Item
}

// createIn makes an item and walks it, as the global lead, to stage with assignee (which may be "").
func (e *opsEnv) createIn(title string, stage StageID, assignee UserID, edit ...func(*NewItem)) Item {
	e.t.Helper()
	it := e.create(title, edit...)
	path := map[StageID][]StageID{
		"intake": nil, "todo": {"todo"}, "in_progress": {"todo", "in_progress"},
		"review": {"todo", "in_progress", "review"}, "testing": {"todo", "in_progress", "review", "testing"},
		"done": {"todo", "in_progress", "done"}, "rejected": {"rejected"},
	}[stage]
	// Assigning takes an item out of intake, so an item meant to stay there has no owner.
	if assignee != "" && stage != "intake" {
		e.must(e.svc.Assign(bg, opLead, it.ID, assignee))
	}
	for _, st := range path {
		switch st {
		case "todo":
			e.must(e.svc.TriageItem(bg, opLead, it.ID, Triage{}))
		case "rejected":
			e.must(e.svc.Reject(bg, opLead, it.ID, ""))
		default:
			if assignee == "" && st == "in_progress" {
				e.must(e.svc.Assign(bg, opLead, it.ID, opDev3))
				assignee = opDev3
			}
			e.must(e.svc.Move(bg, opLead, it.ID, st))
		}
	}
	got, err := e.svc.Item(bg, it.ID)
	if err != nil || got.Stage != stage {
		e.t.Fatalf("createIn %s: %v, stage %q", stage, err, got.Stage)
	}
	return got
}

func (e *opsEnv) must(res Result, err error) Result {
	e.t.Helper()
	if err != nil {
		e.t.Fatalf("unexpected error: %v", err)
	}
	return res
}

func (e *opsEnv) item(id ItemID) Item {
	e.t.Helper()
	it, err := e.svc.Item(bg, id)
	if err != nil {
		e.t.Fatalf("Item(%d): %v", id, err)
	}
	return it
}

func (e *opsEnv) handoff(id HandoffID) Handoff {
	e.t.Helper()
	return e.store.snapshot().handoffs[id]
}

// refuses runs op and checks that it fails with code and that nothing stored changed.
func (e *opsEnv) refuses(code string, op func() error) error {
	e.t.Helper()
	before := e.store.snapshot()
	err := op()
	if got := ErrorCode(err); got != code {
		e.t.Fatalf("error = %v (code %q), want code %q", err, got, code)
	}
	if after := e.store.snapshot(); !reflect.DeepEqual(before, after) {
		e.t.Fatalf("a refused operation changed the store")
	}
	return err
}

func errOf(_ Result, err error) error { return err }

func hasWarning(ws []Warning, code string) bool {
	return slices.ContainsFunc(ws, func(w Warning) bool { return w.Code == code })
}

func changeOf(ev Event, field string) (Change, bool) {
	for _, c := range ev.Changes {
		if c.Field == field {
			return c, true
		}
	}
	return Change{}, false
}

// checkCommitted checks what every committed item operation promises: the returned events are the ones
// stored (once each, whatever retries the store made), and the item was stored as returned.
func (e *opsEnv) checkCommitted(res Result, types ...EventType) {
	e.t.Helper()
	var gotTypes []EventType
	for _, ev := range res.Events {
		gotTypes = append(gotTypes, ev.Type)
		if ev.At != e.now || ev.Actor == "" {
			e.t.Errorf("event %s at %v by %q", ev.Type, ev.At, ev.Actor)
		}
	}
	if !slices.Equal(gotTypes, types) {
		e.t.Fatalf("events = %v, want %v", gotTypes, types)
	}
	stored := e.store.snapshot()
	tail := stored.events[len(stored.events)-len(res.Events):]
	for i := range tail {
		tail[i].Seq = 0
		if !reflect.DeepEqual(tail[i], res.Events[i]) {
			e.t.Errorf("stored event %d = %+v, returned %+v", i, tail[i], res.Events[i])
		}
	}
	if got := stored.items[res.Item.ID]; !reflect.DeepEqual(cloneItem(got), cloneItem(res.Item)) {
		e.t.Errorf("stored item %+v, returned %+v", got, res.Item)
	}
}

func TestCreate(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		env := newOpsEnv(t)
		due := DateOf(opsStart).AddDays(10)
		res, err := env.svc.Create(bg, opReq, NewItem{Title: "  Fix the login page  ", Details: "It 500s", Kind: "bug", Team: "dev", Value: 5, Due: due})
		if err != nil {
			t.Fatal(err)
		}
		it := res.Item
		if it.ID != 1 || it.Key != "W-1" || it.Title != "Fix the login page" || it.Requester != opReq || it.Stage != "intake" ||
			it.Value != 5 || it.Urgency != 3 || it.Size != 3 || it.Due != due || it.Version != 1 || !it.Open() ||
			it.CreatedAt != opsStart || it.StageEnteredAt != opsStart || it.LastActivityAt != opsStart || it.UpdatedAt != opsStart {
			t.Errorf("created %+v", it)
		}
		env.checkCommitted(res, EventCreated)
		if c, _ := changeOf(res.Events[0], "stage"); c.After != "intake" {
			t.Errorf("created event stage change %+v", c)
		}
		second := env.create("Another")
		if second.ID != 2 || second.Key != "W-2" {
			t.Errorf("second item %d %q", second.ID, second.Key)
		}
	})
	t.Run("OKLongestTitleInRunes", func(t *testing.T) {
		env := newOpsEnv(t)
		title := strings.Repeat("é", MaxTitleLen)
		if it := env.create(title); it.Title != title {
			t.Error("title changed")
		}
	})
	t.Run("ErrInvalidEveryFieldAtOnce", func(t *testing.T) {
		env := newOpsEnv(t)
		err := env.refuses(EINVALID, func() error {
			return errOf(env.svc.Create(bg, opReq, NewItem{
				Title: "   ", Details: strings.Repeat("x", MaxDetailsLen+1), Kind: strings.Repeat("k", MaxKindLen+1),
				Team: "marketing", Value: 6, Urgency: -1, Size: 4, Due: DateOf(opsStart).AddDays(-1),
			}))
		})
		var fe FieldErrors
		if !errors.As(err, &fe) {
			t.Fatalf("error %T, want FieldErrors", err)
		}
		var fields []string
		for _, e := range fe {
			fields = append(fields, e.Field)
			if e.Code != EINVALID || e.Message == "" {
				t.Errorf("field error %+v", e)
			}
		}
		want := []string{"title", "details", "kind", "team", "value", "urgency", "size", "due"}
		if !slices.Equal(fields, want) {
			t.Errorf("fields = %v, want %v", fields, want)
		}
	})
	t.Run("ErrInvalidTitleTooLong", func(t *testing.T) {
		env := newOpsEnv(t)
		env.refuses(EINVALID, func() error {
			return errOf(env.svc.Create(bg, opReq, NewItem{Title: strings.Repeat("é", MaxTitleLen+1)}))
		})
	})
	t.Run("ErrInvalidImpossibleDue", func(t *testing.T) {
		env := newOpsEnv(t)
		env.refuses(EINVALID, func() error {
			return errOf(env.svc.Create(bg, opReq, NewItem{Title: "x", Due: Date{2027, time.February, 30}}))
		})
	})
	t.Run("OKAnyTeamWhenNoneConfigured", func(t *testing.T) {
		env := newOpsEnv(t)
		env.svc.Policy.Teams = nil
		if it := env.create("x", func(n *NewItem) { n.Team = "growth" }); it.Team != "growth" {
			t.Errorf("team %q", it.Team)
		}
	})
	t.Run("ErrForbiddenNoActor", func(t *testing.T) {
		env := newOpsEnv(t)
		env.refuses(EFORBIDDEN, func() error { return errOf(env.svc.Create(bg, "", NewItem{Title: "x"})) })
	})
	t.Run("ErrInternalStoreFailureLeavesNothing", func(t *testing.T) {
		env := newOpsEnv(t)
		env.store.failAppend = errors.New("disk full")
		env.refuses(EINTERNAL, func() error { return errOf(env.svc.Create(bg, opReq, NewItem{Title: "x"})) })
	})
	t.Run("ErrInternalNoClock", func(t *testing.T) {
		svc := &Service{Store: newMemStore(), Policy: opsPolicy()}
		if _, err := svc.Create(bg, opReq, NewItem{Title: "x"}); ErrorCode(err) != EINTERNAL {
			t.Errorf("Create without a clock = %v", err)
		}
	})
}

func TestItem(t *testing.T) {
	env := newOpsEnv(t)
	it := env.create("x")
	if got := env.item(it.ID); got.Title != "x" {
		t.Errorf("Item = %+v", got)
	}
	_, err := env.svc.Item(bg, 99)
	if ErrorCode(err) != ENOTFOUND || ErrorMessage(err) != "There is no W-99." {
		t.Errorf("Item(99) = %v", err)
	}
}

func TestTriageItem(t *testing.T) {
	t.Run("OKMovesOutOfIntake", func(t *testing.T) {
		env := newOpsEnv(t)
		it := env.create("x")
		env.advance(time.Hour)
		due := DateOf(opsStart).AddDays(5)
		res := env.must(env.svc.TriageItem(bg, opDevLead, it.ID, Triage{Value: 5, Urgency: 4, Size: 8, Due: due, Team: "qa", Pin: 2}))
		got := res.Item
		if got.Stage != "todo" || !got.Triaged || got.Value != 5 || got.Urgency != 4 || got.Size != 8 || got.Due != due ||
			got.Team != "qa" || got.Pin != 2 || got.Version != 2 || got.StageEnteredAt != env.now || got.LastActivityAt != env.now {
			t.Errorf("triaged %+v", got)
		}
		env.checkCommitted(res, EventMoved, EventTriaged)
		if c, _ := changeOf(res.Events[0], "stage"); c.Before != "intake" || c.After != "todo" {
			t.Errorf("moved change %+v", c)
		}
		if c, _ := changeOf(res.Events[1], "value"); c.Before != "3" || c.After != "5" {
			t.Errorf("value change %+v", c)
		}
	})
	t.Run("OKRetriageKeepsStageAndClears", func(t *testing.T) {
		env := newOpsEnv(t)
		it := env.create("x", func(n *NewItem) { n.Due = DateOf(opsStart).AddDays(3) })
		env.must(env.svc.TriageItem(bg, opLead, it.ID, Triage{Pin: 3}))
		env.must(env.svc.Move(bg, opLead, it.ID, "rejected"))
		it2 := env.createIn("y", "in_progress", opDev1, func(n *NewItem) { n.Due = DateOf(opsStart).AddDays(3) })
		env.must(env.svc.Pin(bg, opLead, it2.ID, 3))
		res := env.must(env.svc.TriageItem(bg, opLead, it2.ID, Triage{ClearDue: true, Pin: -1}))
		if res.Item.Stage != "in_progress" || !res.Item.Due.IsZero() || res.Item.Pin != 0 {
			t.Errorf("retriaged %+v", res.Item)
		}
	})
	t.Run("ErrInvalidFields", func(t *testing.T) {
		env := newOpsEnv(t)
		it := env.create("x")
		err := env.refuses(EINVALID, func() error {
			return errOf(env.svc.TriageItem(bg, opLead, it.ID, Triage{Value: 9, Urgency: 6, Size: 7, Due: DateOf(opsStart).AddDays(-2), Team: "nope", Pin: -5}))
		})
		var fe FieldErrors
		if !errors.As(err, &fe) || len(fe) != 6 {
			t.Errorf("error %v, want 6 field errors", err)
		}
	})
	t.Run("ErrForbiddenNotLead", func(t *testing.T) {
		env := newOpsEnv(t)
		it := env.create("x")
		env.refuses(EFORBIDDEN, func() error { return errOf(env.svc.TriageItem(bg, opQALead, it.ID, Triage{Value: 1})) })
	})
	t.Run("ErrConflictClosed", func(t *testing.T) {
		env := newOpsEnv(t)
		it := env.createIn("x", "rejected", "")
		env.refuses(ECONFLICT, func() error { return errOf(env.svc.TriageItem(bg, opLead, it.ID, Triage{Value: 1})) })
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		env := newOpsEnv(t)
		env.refuses(ENOTFOUND, func() error { return errOf(env.svc.TriageItem(bg, opLead, 42, Triage{})) })
	})
}

func TestRejectAndDuplicate(t *testing.T) {
	t.Run("OKReject", func(t *testing.T) {
		env := newOpsEnv(t)
		it := env.create("x")
		env.advance(time.Hour)
		res := env.must(env.svc.Reject(bg, opLead, it.ID, "  out of scope "))
		got := res.Item
		if got.Stage != "rejected" || got.Resolution != ResolutionRejected || got.DoneAt != env.now || got.Open() {
			t.Errorf("rejected %+v", got)
		}
		env.checkCommitted(res, EventRejected)
		if res.Events[0].Note != "out of scope" {
			t.Errorf("note %q", res.Events[0].Note)
		}
		if c, _ := changeOf(res.Events[0], "resolution"); c.Before != "" || c.After != "rejected" {
			t.Errorf("resolution change %+v", c)
		}
	})
	t.Run("ErrConflictRejectTwice", func(t *testing.T) {
		env := newOpsEnv(t)
		it := env.create("x")
		env.must(env.svc.Reject(bg, opLead, it.ID, ""))
		err := env.refuses(ECONFLICT, func() error { return errOf(env.svc.Reject(bg, opLead, it.ID, "")) })
		if ErrorMessage(err) != "W-1 is already rejected." {
			t.Errorf("message %q", ErrorMessage(err))
		}
	})
	t.Run("ErrInvalidLongReason", func(t *testing.T) {
		env := newOpsEnv(t)
		it := env.create("x")
		env.refuses(EINVALID, func() error { return errOf(env.svc.Reject(bg, opLead, it.ID, strings.Repeat("r", MaxReasonLen+1))) })
	})
	t.Run("ErrForbiddenAssigneeRejects", func(t *testing.T) {
		env := newOpsEnv(t)
		it := env.createIn("x", "in_progress", opDev1)
		env.refuses(EFORBIDDEN, func() error { return errOf(env.svc.Reject(bg, opDev1, it.ID, "")) })
		env.refuses(EFORBIDDEN, func() error { return errOf(env.svc.Move(bg, opDev1, it.ID, "rejected")) })
	})
	t.Run("OKDuplicate", func(t *testing.T) {
		env := newOpsEnv(t)
		orig := env.create("x")
		dup := env.create("x again")
		res := env.must(env.svc.MarkDuplicate(bg, opLead, dup.ID, orig.ID))
		if res.Item.Resolution != ResolutionDuplicate || res.Item.DuplicateOf != orig.ID || res.Item.Stage != "rejected" {
			t.Errorf("duplicate %+v", res.Item)
		}
		env.checkCommitted(res, EventDuplicate)
		if c, _ := changeOf(res.Events[0], "duplicate_of"); c.After != "W-1" {
			t.Errorf("duplicate_of change %+v", c)
		}
	})
	t.Run("ErrInvalidDuplicateOfItself", func(t *testing.T) {
		env := newOpsEnv(t)
		it := env.create("x")
		env.refuses(EINVALID, func() error { return errOf(env.svc.MarkDuplicate(bg, opLead, it.ID, it.ID)) })
	})
	t.Run("ErrNotFoundDuplicateOfNothing", func(t *testing.T) {
		env := newOpsEnv(t)
		it := env.create("x")
		env.refuses(ENOTFOUND, func() error { return errOf(env.svc.MarkDuplicate(bg, opLead, it.ID, 77)) })
	})
}

func TestAssign(t *testing.T) {
	// dev1 carries 8 of 10 points, dev2 3 of 10, dev3 is away; a 5-point item would overload dev1.
	setup := func(t *testing.T) (*opsEnv, Item) {
		env := newOpsEnv(t)
		env.createIn("a", "in_progress", opDev1, func(n *NewItem) { n.Size = 5 })
		env.createIn("b", "todo", opDev1, func(n *NewItem) { n.Size = 3 })
		env.createIn("c", "todo", opDev2, func(n *NewItem) { n.Size = 3 })
		if _, err := env.svc.SetAway(bg, opDev3, opDev3, DateOf(opsStart).AddDays(7)); err != nil {
			t.Fatal(err)
		}
		return env, env.create("big", func(n *NewItem) { n.Size = 5 })
	}
	t.Run("OKPreviewWarnsOverloadAndSuggests", func(t *testing.T) {
		env, it := setup(t)
		before := env.store.snapshot()
		pv, err := env.svc.PreviewAssign(bg, opDevLead, it.ID, opDev1)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(before, env.store.snapshot()) {
			t.Error("preview changed the store")
		}
		if pv.Assignee.Load != 8 || pv.After.Load != 13 || !pv.After.Overloaded || pv.Assignee.Overloaded {
			t.Errorf("loads before %+v after %+v", pv.Assignee, pv.After)
		}
		if !hasWarning(pv.Warnings, WarnOverload) || hasWarning(pv.Warnings, WarnAway) {
			t.Errorf("warnings %+v", pv.Warnings)
		}
		if pv.Suggestion == nil || pv.Suggestion.Person.ID != opDev2 {
			t.Fatalf("suggestion %+v, want %s", pv.Suggestion, opDev2)
		}
		var order []UserID
		for _, c := range pv.Candidates {
			order = append(order, c.Person.ID)
		}
		// dev3 is away: no capacity, utilisation 0 with no load, so first, but never suggested.
		if !slices.Equal(order, []UserID{opDev3, opDev2}) {
			t.Errorf("candidates %v", order)
		}
	})
	t.Run("OKNoSuggestionWhenEveryoneFull", func(t *testing.T) {
		env, it := setup(t)
		if _, err := env.svc.SetCapacity(bg, opLead, opDev2, 4); err != nil {
			t.Fatal(err)
		}
		pv, err := env.svc.PreviewAssign(bg, opLead, it.ID, opDev1)
		if err != nil {
			t.Fatal(err)
		}
		if pv.Suggestion != nil {
			t.Errorf("suggested %+v though nobody has room", pv.Suggestion.Person.ID)
		}
	})
	t.Run("OKPreviewWarnsAway", func(t *testing.T) {
		env, it := setup(t)
		pv, err := env.svc.PreviewAssign(bg, opLead, it.ID, opDev3)
		if err != nil {
			t.Fatal(err)
		}
		if !hasWarning(pv.Warnings, WarnAway) || !hasWarning(pv.Warnings, WarnOverload) {
			t.Errorf("warnings %+v", pv.Warnings)
		}
	})
	t.Run("OKNoWarningWithinCapacity", func(t *testing.T) {
		env, it := setup(t)
		res := env.must(env.svc.Assign(bg, opLead, it.ID, opDev2))
		if len(res.Warnings) != 0 || res.Item.Assignee != opDev2 {
			t.Errorf("assign %+v", res)
		}
	})
	t.Run("OKAssignCommitsWithWarnings", func(t *testing.T) {
		env, it := setup(t)
		env.advance(time.Minute)
		res := env.must(env.svc.Assign(bg, opDevLead, it.ID, opDev1))
		if res.Item.Assignee != opDev1 || res.Item.Version != it.Version+1 || !hasWarning(res.Warnings, WarnOverload) {
			t.Errorf("assign %+v", res)
		}
		env.checkCommitted(res, EventAssigned, EventMoved) // the item was still in intake
		if c, _ := changeOf(res.Events[0], "assignee"); c.Before != "" || c.After != string(opDev1) || res.Events[0].Subject != opDev1 {
			t.Errorf("assigned event %+v", res.Events[0])
		}
		load, err := env.svc.LoadFor(bg, opDev1)
		if err != nil || load.Load != 13 || !load.Overloaded {
			t.Errorf("LoadFor = %+v, %v", load, err)
		}
	})
	t.Run("ErrConflictAlreadyTheirs", func(t *testing.T) {
		env, it := setup(t)
		env.must(env.svc.Assign(bg, opLead, it.ID, opDev2))
		env.refuses(ECONFLICT, func() error { return errOf(env.svc.Assign(bg, opLead, it.ID, opDev2)) })
	})
	t.Run("ErrForbiddenNotLead", func(t *testing.T) {
		env, it := setup(t)
		env.refuses(EFORBIDDEN, func() error { return errOf(env.svc.Assign(bg, opDev1, it.ID, opDev1)) })
		if _, err := env.svc.PreviewAssign(bg, opQALead, it.ID, opDev1); ErrorCode(err) != EFORBIDDEN {
			t.Errorf("preview by another team's lead: %v", err)
		}
	})
	t.Run("ErrInvalidNobody", func(t *testing.T) {
		env, it := setup(t)
		env.refuses(EINVALID, func() error { return errOf(env.svc.Assign(bg, opLead, it.ID, "")) })
		env.refuses(EINVALID, func() error { return errOf(env.svc.Assign(bg, opLead, it.ID, SystemActor)) })
	})
}

// A lead who assigns an item still in intake has decided it goes ahead: it leaves intake, so its new
// owner can start it, and history says why it moved.
func TestAssignTakesAnItemOutOfIntake(t *testing.T) {
	env := newOpsEnv(t)
	it := env.create("untriaged")
	res := env.must(env.svc.Assign(bg, opLead, it.ID, opDev1))
	if res.Item.Stage != "todo" || res.Item.Triaged || res.Item.Assignee != opDev1 {
		t.Fatalf("after assign: stage %q, triaged %v, assignee %q", res.Item.Stage, res.Item.Triaged, res.Item.Assignee)
	}
	if len(res.Events) != 2 || res.Events[0].Type != EventAssigned || res.Events[1].Type != EventMoved ||
		!strings.Contains(res.Events[1].Note, "straight from Intake") {
		t.Errorf("events %+v", res.Events)
	}
	env.must(env.svc.Start(bg, opDev1, it.ID))
}

// An overload warning confirmed after the item changed no longer describes it.
func TestConfirmAssignRefusesAStaleWarning(t *testing.T) {
	env := newOpsEnv(t)
	it := env.createIn("x", "todo", "")
	shown := it.Version
	env.must(env.svc.Assign(bg, opLead, it.ID, opDev2))
	err := env.refuses(ECONFLICT, func() error { return errOf(env.svc.ConfirmAssign(bg, opLead, it.ID, opDev1, shown)) })
	if !strings.Contains(ErrorMessage(err), "out of date") {
		t.Errorf("message %q", ErrorMessage(err))
	}
	now, _ := env.svc.Item(bg, it.ID)
	env.must(env.svc.ConfirmAssign(bg, opLead, it.ID, opDev1, now.Version))
}

// TestMoveEveryTransition tries every ordered pair of default stages through Move.
func TestMoveEveryTransition(t *testing.T) {
	w := DefaultWorkflow()
	for _, from := range w.Stages {
		for _, to := range w.Stages {
			ok := w.CanMove(from.ID, to.ID)
			name := "ErrConflict"
			if ok {
				name = "OK"
			}
			t.Run(name+"/"+string(from.ID)+">"+string(to.ID), func(t *testing.T) {
				env := newOpsEnv(t)
				it := env.createIn("x", from.ID, opDev1)
				env.advance(time.Hour)
				if !ok {
					env.refuses(ECONFLICT, func() error { return errOf(env.svc.Move(bg, opLead, it.ID, to.ID)) })
					return
				}
				res := env.must(env.svc.Move(bg, opLead, it.ID, to.ID))
				got := res.Item
				if got.Stage != to.ID || got.StageEnteredAt != env.now || got.LastActivityAt != env.now || got.Version != it.Version+1 {
					t.Errorf("moved %+v", got)
				}
				if to.Terminal != !got.Open() || (to.Terminal && got.DoneAt != env.now) {
					t.Errorf("terminal %v but resolution %q done at %v", to.Terminal, got.Resolution, got.DoneAt)
				}
				env.checkCommitted(res, EventMoved)
				if c, _ := changeOf(res.Events[0], "stage"); c.Before != string(from.ID) || c.After != string(to.ID) {
					t.Errorf("stage change %+v", c)
				}
			})
		}
	}
}

func TestMoveRefusals(t *testing.T) {
	t.Run("ErrInvalidUnknownStage", func(t *testing.T) {
		env := newOpsEnv(t)
		it := env.createIn("x", "todo", opDev1)
		err := env.refuses(EINVALID, func() error { return errOf(env.svc.Move(bg, opDev1, it.ID, "qa")) })
		if e := (*Error)(nil); !errors.As(err, &e) || e.Field != "stage" {
			t.Errorf("error %v, want field stage", err)
		}
	})
	t.Run("ErrConflictSaysWhereItCanGo", func(t *testing.T) {
		env := newOpsEnv(t)
		it := env.createIn("x", "todo", opDev1)
		err := env.refuses(ECONFLICT, func() error { return errOf(env.svc.Move(bg, opDev1, it.ID, "review")) })
		if want := "W-1 cannot move from To do to Review. From To do it can go to: In progress, Rejected."; ErrorMessage(err) != want {
			t.Errorf("message %q, want %q", ErrorMessage(err), want)
		}
	})
	t.Run("ErrConflictSameStage", func(t *testing.T) {
		env := newOpsEnv(t)
		it := env.createIn("x", "todo", opDev1)
		env.refuses(ECONFLICT, func() error { return errOf(env.svc.Move(bg, opDev1, it.ID, "todo")) })
	})
	t.Run("ErrConflictUnassignedIntoStart", func(t *testing.T) {
		env := newOpsEnv(t)
		it := env.createIn("x", "todo", "")
		err := env.refuses(ECONFLICT, func() error { return errOf(env.svc.Move(bg, opLead, it.ID, "in_progress")) })
		if !strings.Contains(ErrorMessage(err), "Assign W-1 first") {
			t.Errorf("message %q", ErrorMessage(err))
		}
	})
	t.Run("ErrForbiddenStranger", func(t *testing.T) {
		env := newOpsEnv(t)
		it := env.createIn("x", "todo", opDev1)
		env.refuses(EFORBIDDEN, func() error { return errOf(env.svc.Move(bg, opDev2, it.ID, "in_progress")) })
	})
	t.Run("ErrConflictClosed", func(t *testing.T) {
		env := newOpsEnv(t)
		it := env.createIn("x", "done", opDev1)
		env.refuses(ECONFLICT, func() error { return errOf(env.svc.Move(bg, opDev1, it.ID, "in_progress")) })
	})
}

func TestStartAndDone(t *testing.T) {
	t.Run("OKStartThenDone", func(t *testing.T) {
		env := newOpsEnv(t)
		it := env.createIn("x", "todo", opDev1)
		res := env.must(env.svc.Start(bg, opDev1, it.ID))
		if res.Item.Stage != "in_progress" {
			t.Errorf("started into %q", res.Item.Stage)
		}
		env.checkCommitted(res, EventMoved)
		env.advance(time.Hour)
		res = env.must(env.svc.Done(bg, opDev1, it.ID))
		if res.Item.Stage != "done" || res.Item.Resolution != ResolutionDone || res.Item.DoneAt != env.now {
			t.Errorf("done %+v", res.Item)
		}
		env.checkCommitted(res, EventMoved)
	})
	t.Run("ErrConflictStartUnassigned", func(t *testing.T) {
		env := newOpsEnv(t)
		it := env.createIn("x", "todo", "")
		err := env.refuses(ECONFLICT, func() error { return errOf(env.svc.Start(bg, opLead, it.ID)) })
		if !strings.Contains(ErrorMessage(err), "Assign W-1 first") {
			t.Errorf("message %q", ErrorMessage(err))
		}
	})
	t.Run("ErrConflictStartFromIntake", func(t *testing.T) {
		env := newOpsEnv(t)
		it := env.createIn("x", "intake", "")
		env.refuses(ECONFLICT, func() error { return errOf(env.svc.Start(bg, opLead, it.ID)) })
	})
	t.Run("ErrConflictStartTwice", func(t *testing.T) {
		env := newOpsEnv(t)
		it := env.createIn("x", "in_progress", opDev1)
		env.refuses(ECONFLICT, func() error { return errOf(env.svc.Start(bg, opDev1, it.ID)) })
	})
	t.Run("ErrConflictDoneFromTodo", func(t *testing.T) {
		env := newOpsEnv(t)
		it := env.createIn("x", "todo", opDev1)
		env.refuses(ECONFLICT, func() error { return errOf(env.svc.Done(bg, opDev1, it.ID)) })
	})
	t.Run("ErrConflictDoneTwice", func(t *testing.T) {
		env := newOpsEnv(t)
		it := env.createIn("x", "done", opDev1)
		err := env.refuses(ECONFLICT, func() error { return errOf(env.svc.Done(bg, opDev1, it.ID)) })
		if ErrorMessage(err) != "W-1 is already done." {
			t.Errorf("message %q", ErrorMessage(err))
		}
	})
}

func TestWIPLimitWarning(t *testing.T) {
	env := newOpsEnv(t)
	env.svc.Policy.Workflow.Stages[2].WIPLimit = 2
	env.createIn("a", "in_progress", opDev1)
	second := env.createIn("b", "todo", opDev1)
	res := env.must(env.svc.Start(bg, opDev1, second.ID))
	if hasWarning(res.Warnings, WarnWIPLimit) {
		t.Errorf("warned at the limit: %+v", res.Warnings)
	}
	third := env.createIn("c", "todo", opDev2)
	res = env.must(env.svc.Move(bg, opDev2, third.ID, "in_progress"))
	if !hasWarning(res.Warnings, WarnWIPLimit) || res.Item.Stage != "in_progress" {
		t.Errorf("over the limit: %+v", res)
	}
	if !strings.Contains(res.Warnings[0].Message, "3 items") {
		t.Errorf("warning %q", res.Warnings[0].Message)
	}
}

func TestStageChangeResetsNudge(t *testing.T) {
	env := newOpsEnv(t)
	it := env.createIn("x", "in_progress", opDev1)
	env.advanceUntilNudge(it)
	res := env.must(env.svc.MarkNudged(bg, it.ID))
	if res.Item.NudgedAt != env.now || res.Item.LastActivityAt != it.LastActivityAt || res.Item.Version != it.Version+1 {
		t.Errorf("nudged %+v", res.Item)
	}
	env.checkCommitted(res, EventNudged)
	if res.Events[0].Actor != SystemActor {
		t.Errorf("nudge actor %q", res.Events[0].Actor)
	}
	env.advance(time.Hour)
	res = env.must(env.svc.Move(bg, opDev1, it.ID, "review"))
	if !res.Item.NudgedAt.IsZero() {
		t.Errorf("NudgedAt survived a stage change: %v", res.Item.NudgedAt)
	}
	closed := env.createIn("y", "done", opDev1)
	env.refuses(ECONFLICT, func() error { return errOf(env.svc.MarkNudged(bg, closed.ID)) })
	env.refuses(ENOTFOUND, func() error { return errOf(env.svc.MarkNudged(bg, 99)) })
}

// advanceUntilNudge moves the clock to the first hour at which it wants a nudge.
func (env *opsEnv) advanceUntilNudge(it Item) {
	env.t.Helper()
	for range 24 * 60 {
		if env.svc.Policy.NudgeWanted(it, env.now) {
			return
		}
		env.advance(time.Hour)
	}
	env.t.Fatalf("%s never wanted a nudge", it.Key)
}

// The sweep reads items, then marks each nudged in a later transaction. An item that moved on in
// between must not be stamped, or the nudge its new stage needs would never come.
func TestMarkNudgedRechecksTheItem(t *testing.T) {
	env := newOpsEnv(t)
	it := env.createIn("x", "in_progress", opDev1)
	env.advanceUntilNudge(it)
	env.must(env.svc.Move(bg, opDev1, it.ID, "review"))
	env.refuses(ECONFLICT, func() error { return errOf(env.svc.MarkNudged(bg, it.ID)) })
	now, err := env.svc.Item(bg, it.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !now.NudgedAt.IsZero() {
		t.Errorf("a nudge was stamped on the new stage: %v", now.NudgedAt)
	}
}

func TestBlockAndUnblock(t *testing.T) {
	t.Run("OKBlockReblockUnblock", func(t *testing.T) {
		env := newOpsEnv(t)
		it := env.createIn("x", "in_progress", opDev1)
		res := env.must(env.svc.Block(bg, opDev1, it.ID, "waiting for the vendor"))
		blockedAt := env.now
		if res.Item.BlockedReason != "waiting for the vendor" || res.Item.BlockedAt != blockedAt || !res.Item.Blocked() {
			t.Errorf("blocked %+v", res.Item)
		}
		env.checkCommitted(res, EventBlocked)
		env.advance(time.Hour)
		res = env.must(env.svc.Block(bg, opDevLead, it.ID, "vendor on holiday"))
		if res.Item.BlockedAt != blockedAt {
			t.Errorf("re-blocking moved BlockedAt to %v", res.Item.BlockedAt)
		}
		if c, _ := changeOf(res.Events[0], "blocked_reason"); c.Before != "waiting for the vendor" || c.After != "vendor on holiday" {
			t.Errorf("change %+v", c)
		}
		dep := env.create("vendor contract")
		env.must(env.svc.AddDependency(bg, opDev1, it.ID, dep.ID))
		res = env.must(env.svc.Unblock(bg, opDev1, it.ID))
		if res.Item.Blocked() || !res.Item.BlockedAt.IsZero() || len(res.Item.DependsOn) != 0 || !res.Item.DependsSince.IsZero() {
			t.Errorf("unblocked %+v", res.Item)
		}
		env.checkCommitted(res, EventUnblocked)
		if c, _ := changeOf(res.Events[0], "depends_on"); c.Before != "W-2" || c.After != "" {
			t.Errorf("depends_on change %+v", c)
		}
	})
	t.Run("ErrInvalidNoReason", func(t *testing.T) {
		env := newOpsEnv(t)
		it := env.createIn("x", "in_progress", opDev1)
		env.refuses(EINVALID, func() error { return errOf(env.svc.Block(bg, opDev1, it.ID, "   ")) })
	})
	t.Run("ErrConflictSameReason", func(t *testing.T) {
		env := newOpsEnv(t)
		it := env.createIn("x", "in_progress", opDev1)
		env.must(env.svc.Block(bg, opDev1, it.ID, "r"))
		env.refuses(ECONFLICT, func() error { return errOf(env.svc.Block(bg, opDev1, it.ID, "r")) })
	})
	t.Run("ErrConflictNotBlocked", func(t *testing.T) {
		env := newOpsEnv(t)
		it := env.createIn("x", "in_progress", opDev1)
		env.refuses(ECONFLICT, func() error { return errOf(env.svc.Unblock(bg, opDev1, it.ID)) })
	})
	t.Run("ErrForbiddenRequester", func(t *testing.T) {
		env := newOpsEnv(t)
		it := env.createIn("x", "in_progress", opDev1)
		env.refuses(EFORBIDDEN, func() error { return errOf(env.svc.Block(bg, opReq, it.ID, "r")) })
	})
}

func TestAddDependency(t *testing.T) {
	t.Run("OKAndDependsSince", func(t *testing.T) {
		env := newOpsEnv(t)
		a := env.createIn("a", "in_progress", opDev1)
		b := env.create("b")
		c := env.create("c")
		res := env.must(env.svc.AddDependency(bg, opDev1, a.ID, b.ID))
		first := env.now
		if !slices.Equal(res.Item.DependsOn, []ItemID{b.ID}) || res.Item.DependsSince != first {
			t.Errorf("after first %+v", res.Item)
		}
		env.checkCommitted(res, EventDependencyAdded)
		env.advance(time.Hour)
		res = env.must(env.svc.AddDependency(bg, opDev1, a.ID, c.ID))
		if !slices.Equal(res.Item.DependsOn, []ItemID{b.ID, c.ID}) || res.Item.DependsSince != first {
			t.Errorf("after second %+v", res.Item)
		}
		if ch, _ := changeOf(res.Events[0], "depends_on"); ch.Before != "W-2" || ch.After != "W-2,W-3" {
			t.Errorf("change %+v", ch)
		}
	})
	t.Run("OKClockRestartsWhenOldDependenciesClosed", func(t *testing.T) {
		env := newOpsEnv(t)
		a := env.createIn("a", "in_progress", opDev1)
		b := env.create("b")
		env.must(env.svc.AddDependency(bg, opDev1, a.ID, b.ID))
		env.must(env.svc.Reject(bg, opLead, b.ID, ""))
		env.advance(48 * time.Hour)
		c := env.create("c")
		res := env.must(env.svc.AddDependency(bg, opDev1, a.ID, c.ID))
		if res.Item.DependsSince != env.now {
			t.Errorf("DependsSince %v, want %v", res.Item.DependsSince, env.now)
		}
	})
	t.Run("ErrInvalidSelf", func(t *testing.T) {
		env := newOpsEnv(t)
		a := env.createIn("a", "in_progress", opDev1)
		env.refuses(EINVALID, func() error { return errOf(env.svc.AddDependency(bg, opDev1, a.ID, a.ID)) })
	})
	t.Run("ErrConflictCycle", func(t *testing.T) {
		env := newOpsEnv(t)
		a := env.createIn("a", "in_progress", opDev1)
		b := env.createIn("b", "in_progress", opDev1)
		c := env.createIn("c", "in_progress", opDev1)
		env.must(env.svc.AddDependency(bg, opDev1, a.ID, b.ID))
		env.must(env.svc.AddDependency(bg, opDev1, b.ID, c.ID))
		err := env.refuses(ECONFLICT, func() error { return errOf(env.svc.AddDependency(bg, opDev1, c.ID, a.ID)) })
		if !strings.Contains(ErrorMessage(err), "W-1 already waits for W-3") {
			t.Errorf("message %q", ErrorMessage(err))
		}
	})
	t.Run("ErrConflictDuplicate", func(t *testing.T) {
		env := newOpsEnv(t)
		a := env.createIn("a", "in_progress", opDev1)
		b := env.create("b")
		env.must(env.svc.AddDependency(bg, opDev1, a.ID, b.ID))
		env.refuses(ECONFLICT, func() error { return errOf(env.svc.AddDependency(bg, opDev1, a.ID, b.ID)) })
	})
	t.Run("ErrConflictOnClosed", func(t *testing.T) {
		env := newOpsEnv(t)
		a := env.createIn("a", "in_progress", opDev1)
		b := env.createIn("b", "rejected", "")
		env.refuses(ECONFLICT, func() error { return errOf(env.svc.AddDependency(bg, opDev1, a.ID, b.ID)) })
	})
	t.Run("ErrNotFoundOn", func(t *testing.T) {
		env := newOpsEnv(t)
		a := env.createIn("a", "in_progress", opDev1)
		env.refuses(ENOTFOUND, func() error { return errOf(env.svc.AddDependency(bg, opDev1, a.ID, 50)) })
	})
}

func TestPin(t *testing.T) {
	env := newOpsEnv(t)
	it := env.create("x")
	res := env.must(env.svc.Pin(bg, opDevLead, it.ID, 1))
	if res.Item.Pin != 1 {
		t.Errorf("pin %d", res.Item.Pin)
	}
	env.checkCommitted(res, EventPinned)
	env.refuses(ECONFLICT, func() error { return errOf(env.svc.Pin(bg, opLead, it.ID, 1)) })
	env.refuses(EINVALID, func() error { return errOf(env.svc.Pin(bg, opLead, it.ID, -1)) })
	env.refuses(EINVALID, func() error { return errOf(env.svc.Pin(bg, opLead, it.ID, MaxPin+1)) })
	env.refuses(EFORBIDDEN, func() error { return errOf(env.svc.Pin(bg, opReq, it.ID, 2)) })
	res = env.must(env.svc.Pin(bg, opLead, it.ID, 0))
	if res.Item.Pin != 0 {
		t.Errorf("unpinned to %d", res.Item.Pin)
	}
	env.refuses(ECONFLICT, func() error { return errOf(env.svc.Pin(bg, opLead, it.ID, 0)) })
}

func TestSnooze(t *testing.T) {
	env := newOpsEnv(t)
	it := env.createIn("x", "in_progress", opDev1)
	env.advance(time.Hour)
	until := env.now.Add(48 * time.Hour)
	res := env.must(env.svc.Snooze(bg, opDev1, it.ID, until))
	if res.Item.SnoozedUntil != until || res.Item.LastActivityAt != it.LastActivityAt || res.Item.UpdatedAt != env.now {
		t.Errorf("snoozed %+v", res.Item)
	}
	env.checkCommitted(res, EventSnoozed)
	env.refuses(EINVALID, func() error { return errOf(env.svc.Snooze(bg, opDev1, it.ID, env.now)) })
	env.refuses(EINVALID, func() error { return errOf(env.svc.Snooze(bg, opDev1, it.ID, env.now.Add(MaxSnooze+time.Hour))) })
	env.refuses(EFORBIDDEN, func() error { return errOf(env.svc.Snooze(bg, opDev2, it.ID, until)) })
}

func TestPeople(t *testing.T) {
	t.Run("OKSetCapacity", func(t *testing.T) {
		env := newOpsEnv(t)
		p, err := env.svc.SetCapacity(bg, opDevLead, opDev1, 6)
		if err != nil || p.Capacity != 6 || !p.CapacitySet || p.UpdatedAt != env.now {
			t.Fatalf("SetCapacity = %+v, %v", p, err)
		}
		evs := env.store.snapshot().events
		last := evs[len(evs)-1]
		if len(evs) != 1 || last.Type != EventCapacitySet || last.Subject != opDev1 || last.Actor != opDevLead {
			t.Fatalf("events %+v", evs)
		}
		if c, _ := changeOf(last, "capacity"); c.Before != "default" || c.After != "6" {
			t.Errorf("change %+v", c)
		}
		load, err := env.svc.LoadFor(bg, opDev1)
		if err != nil || load.Capacity != 6 {
			t.Errorf("LoadFor = %+v, %v", load, err)
		}
	})
	t.Run("ErrCapacityRefusals", func(t *testing.T) {
		env := newOpsEnv(t)
		pe := func(_ Person, err error) error { return err }
		env.refuses(EINVALID, func() error { return pe(env.svc.SetCapacity(bg, opLead, opDev1, MaxCapacity+1)) })
		env.refuses(EINVALID, func() error { return pe(env.svc.SetCapacity(bg, opLead, opDev1, -1)) })
		env.refuses(EINVALID, func() error { return pe(env.svc.SetCapacity(bg, opLead, "", 5)) })
		env.refuses(EFORBIDDEN, func() error { return pe(env.svc.SetCapacity(bg, opDev1, opDev1, 5)) })
		env.refuses(EFORBIDDEN, func() error { return pe(env.svc.SetCapacity(bg, opQALead, opDev1, 5)) })
	})
	t.Run("OKSetAwayAndClear", func(t *testing.T) {
		env := newOpsEnv(t)
		until := DateOf(opsStart).AddDays(3)
		p, err := env.svc.SetAway(bg, opDev1, opDev1, until)
		if err != nil || p.AwayUntil != until {
			t.Fatalf("SetAway = %+v, %v", p, err)
		}
		load, _ := env.svc.LoadFor(bg, opDev1)
		if load.Capacity != 0 {
			t.Errorf("capacity while away %d", load.Capacity)
		}
		p, err = env.svc.SetAway(bg, opDevLead, opDev1, Date{})
		if err != nil || !p.AwayUntil.IsZero() {
			t.Fatalf("clear = %+v, %v", p, err)
		}
		if evs := env.store.snapshot().events; len(evs) != 2 || evs[1].Type != EventAwaySet {
			t.Errorf("events %+v", evs)
		}
	})
	t.Run("ErrAwayRefusals", func(t *testing.T) {
		env := newOpsEnv(t)
		pe := func(_ Person, err error) error { return err }
		env.refuses(EINVALID, func() error { return pe(env.svc.SetAway(bg, opDev1, opDev1, DateOf(opsStart).AddDays(-1))) })
		env.refuses(EFORBIDDEN, func() error { return pe(env.svc.SetAway(bg, opDev2, opDev1, DateOf(opsStart).AddDays(1))) })
	})
	t.Run("OKSetPrefsSelfOnly", func(t *testing.T) {
		env := newOpsEnv(t)
		p, err := env.svc.SetPrefs(bg, opDev1, opDev1, true, false)
		if err != nil || !p.NudgesOff || p.PersonalDigestOff {
			t.Fatalf("SetPrefs = %+v, %v", p, err)
		}
		env.refuses(EFORBIDDEN, func() error { _, err := env.svc.SetPrefs(bg, opLead, opDev1, false, false); return err })
	})
	t.Run("OKLoads", func(t *testing.T) {
		env := newOpsEnv(t)
		env.createIn("a", "in_progress", opDev1, func(n *NewItem) { n.Size = 8 })
		env.createIn("b", "todo", opDev2, func(n *NewItem) { n.Size = 2 })
		env.createIn("c", "done", opDev2, func(n *NewItem) { n.Size = 13 })
		if _, err := env.svc.SetCapacity(bg, opLead, opQA1, 5); err != nil {
			t.Fatal(err)
		}
		loads, err := env.svc.Loads(bg)
		if err != nil {
			t.Fatal(err)
		}
		got := map[UserID]int{}
		var order []UserID
		for _, l := range loads {
			got[l.Person.ID] = l.Load
			order = append(order, l.Person.ID)
		}
		if !reflect.DeepEqual(got, map[UserID]int{opDev1: 8, opDev2: 2, opQA1: 0}) || order[0] != opDev1 {
			t.Errorf("loads %v in order %v", got, order)
		}
	})
}

// BenchmarkPreviewAssign measures the capacity check with 500 open items spread over 50 people. The
// in-memory store copies its state on every read, so this is an upper bound on the domain's own cost.
func BenchmarkPreviewAssign(b *testing.B) {
	store := newMemStore()
	p := opsPolicy()
	members := make([]UserID, 50)
	for i := range members {
		members[i] = UserID("UM" + strings.Repeat("x", i%5) + string(rune('A'+i%26)) + string(rune('a'+i/26)))
	}
	p.Teams[0].Members = members
	now := opsStart
	for i := 1; i <= 500; i++ {
		store.state.items[ItemID(i)] = Item{ID: ItemID(i), Stage: "todo", Team: "dev", Size: 3, Assignee: members[i%50]}
	}
	store.state.itemSeq = 500
	svc := &Service{Store: store, Policy: p, Now: func() time.Time { return now }}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := svc.PreviewAssign(bg, opLead, 1, members[3]); err != nil {
			b.Fatal(err)
		}
	}
}
