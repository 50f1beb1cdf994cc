package domain

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

func TestDefaultWorkflowIsValid(t *testing.T) {
	if err := DefaultWorkflow().Validate(); err != nil {
		t.Fatalf("DefaultWorkflow().Validate() = %v", err)
	}
	if err := DefaultPolicy().Validate(); err != nil {
		t.Fatalf("DefaultPolicy().Validate() = %v", err)
	}
}

func TestDefaultWorkflowStages(t *testing.T) {
	w := DefaultWorkflow()
	want := []struct {
		id       StageID
		stall    time.Duration
		wip      int
		terminal bool
		res      Resolution
	}{
		{"intake", 24 * time.Hour, 0, false, ResolutionNone},
		{"todo", 72 * time.Hour, 0, false, ResolutionNone},
		{"in_progress", 72 * time.Hour, 8, false, ResolutionNone},
		{"review", 48 * time.Hour, 0, false, ResolutionNone},
		{"testing", 48 * time.Hour, 0, false, ResolutionNone},
		{"done", 0, 0, true, ResolutionDone},
		{"rejected", 0, 0, true, ResolutionRejected},
	}
	if len(w.Stages) != len(want) {
		t.Fatalf("got %d stages, want %d", len(w.Stages), len(want))
	}
	for i, st := range w.Stages {
		wt := want[i]
		if st.ID != wt.id || st.StallAfter != wt.stall || st.WIPLimit != wt.wip || st.Terminal != wt.terminal || st.Resolution != wt.res || st.Name == "" {
			t.Errorf("stage %d = %+v, want %+v", i, st, wt)
		}
	}
	if w.Initial != "intake" || w.Triaged != "todo" || w.Start != "in_progress" || w.Done != "done" || w.Rejected != "rejected" {
		t.Errorf("named stages = %q %q %q %q %q", w.Initial, w.Triaged, w.Start, w.Done, w.Rejected)
	}
	p := DefaultPolicy()
	if p.KeyPrefix != "W" || p.DefaultCapacity != 10 || p.OverloadRatio != 1.0 || p.HandoffEscalateAfter != 24*time.Hour ||
		p.HandoffApproval != ApprovalNever || p.BlockedStallAfter != 48*time.Hour || p.NudgeRatio != 0.75 || p.DueSoonDays != 3 {
		t.Errorf("DefaultPolicy() = %+v", p)
	}
	for d := time.Sunday; d <= time.Saturday; d++ {
		if got, want := p.Calendar.WorkingDays[d], d != time.Saturday && d != time.Sunday; got != want {
			t.Errorf("working day %v = %v, want %v", d, got, want)
		}
	}
	if p.Calendar.Location != time.UTC {
		t.Errorf("calendar location = %v, want UTC", p.Calendar.Location)
	}
}

// TestCanMove checks every ordered pair of default stages against the transitions the product lists.
func TestCanMove(t *testing.T) {
	allowed := map[string]bool{
		"intake>todo": true, "intake>rejected": true,
		"todo>in_progress": true, "todo>rejected": true,
		"in_progress>review": true, "in_progress>todo": true, "in_progress>done": true, "in_progress>rejected": true,
		"review>testing": true, "review>in_progress": true, "review>done": true, "review>rejected": true,
		"testing>done": true, "testing>in_progress": true, "testing>rejected": true,
	}
	w := DefaultWorkflow()
	seen := 0
	for _, from := range w.Stages {
		for _, to := range w.Stages {
			pair := fmt.Sprintf("%s>%s", from.ID, to.ID)
			want := allowed[pair]
			name := "Refused"
			if want {
				name = "Allowed"
				seen++
			}
			t.Run(name+"/"+pair, func(t *testing.T) {
				if got := w.CanMove(from.ID, to.ID); got != want {
					t.Errorf("CanMove(%s, %s) = %v, want %v", from.ID, to.ID, got, want)
				}
			})
		}
	}
	if seen != len(allowed) {
		t.Errorf("matched %d allowed transitions, want %d (a typo in the table?)", seen, len(allowed))
	}
	for _, bad := range [][2]StageID{{"nope", "todo"}, {"intake", "nope"}, {"", ""}} {
		if w.CanMove(bad[0], bad[1]) {
			t.Errorf("CanMove(%q, %q) = true for an unknown stage", bad[0], bad[1])
		}
	}
}

func TestWorkflowValidate(t *testing.T) {
	tests := []struct {
		name      string
		edit      func(w *Workflow)
		wantField string
		wantText  string
	}{
		{"ErrNoStages", func(w *Workflow) { w.Stages = nil }, "workflow.stages", "at least one"},
		{"ErrEmptyID", func(w *Workflow) { w.Stages[1].ID = "" }, "workflow.stages[1].id", "needs an id"},
		{"ErrBadID", func(w *Workflow) { w.Stages[6].ID = "re jected" }, "workflow.stages[6].id", "letters"},
		{"ErrDuplicateStage", func(w *Workflow) { w.Stages[3].ID = "todo" }, "workflow.stages[3].id", `duplicate stage "todo"`},
		{"ErrNegativeStall", func(w *Workflow) { w.Stages[0].StallAfter = -time.Hour }, "workflow.stages[0].stall_after", "negative"},
		{"ErrNegativeWIP", func(w *Workflow) { w.Stages[2].WIPLimit = -1 }, "workflow.stages[2].wip_limit", "negative"},
		{"ErrResolutionOnOpenStage", func(w *Workflow) { w.Stages[2].Resolution = ResolutionDone }, "workflow.stages[2].resolution", "terminal"},
		{"ErrUnknownResolution", func(w *Workflow) { w.Stages[5].Resolution = "won" }, "workflow.stages[5].resolution", `"won"`},
		{"ErrTransitionFromUnknown", func(w *Workflow) { w.Transitions["qa"] = []StageID{"done"} }, "workflow.transitions.qa", `unknown stage "qa"`},
		{"ErrTransitionToUnknown", func(w *Workflow) { w.Transitions["todo"] = []StageID{"in_progress", "qa"} }, "workflow.transitions.todo[1]", `unknown stage "qa"`},
		{"ErrTransitionToItself", func(w *Workflow) { w.Transitions["todo"] = []StageID{"todo", "in_progress"} }, "workflow.transitions.todo[0]", "itself"},
		{"ErrTransitionFromTerminal", func(w *Workflow) { w.Transitions["done"] = []StageID{"todo"} }, "workflow.transitions.done", "terminal"},
		{"ErrInitialMissing", func(w *Workflow) { w.Initial = "" }, "workflow.initial", "required"},
		{"ErrInitialUnknown", func(w *Workflow) { w.Initial = "inbox" }, "workflow.initial", `unknown stage "inbox"`},
		{"ErrInitialTerminal", func(w *Workflow) { w.Initial = "done" }, "workflow.initial", "must not be terminal"},
		{"ErrStartTerminal", func(w *Workflow) { w.Start = "rejected" }, "workflow.start", "must not be terminal"},
		{"ErrTriagedUnknown", func(w *Workflow) { w.Triaged = "backlog" }, "workflow.triaged", "unknown"},
		{"ErrDoneNotTerminal", func(w *Workflow) { w.Done = "testing" }, "workflow.done", "must be terminal"},
		{"ErrRejectedNotTerminal", func(w *Workflow) { w.Rejected = "review" }, "workflow.rejected", "must be terminal"},
		{"ErrUnreachableStage", func(w *Workflow) {
			w.Transitions["review"] = []StageID{"in_progress", "done", "rejected"}
		}, "workflow.stages[4].id", `"testing" cannot be reached`},
		{"ErrDeadEnd", func(w *Workflow) {
			w.Transitions["testing"] = []StageID{"review"}
			w.Transitions["review"] = []StageID{"testing"}
			w.Transitions["in_progress"] = []StageID{"review", "done"}
		},
			"workflow.stages[3].id", "no way to a terminal"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := DefaultWorkflow()
			w.Transitions = cloneTransitions(w.Transitions)
			tc.edit(&w)
			err := w.Validate()
			e, ok := err.(*Error)
			if !ok {
				t.Fatalf("Validate() = %v, want *Error", err)
			}
			if e.Code != EINVALID || e.Field != tc.wantField || !strings.Contains(e.Message, tc.wantText) || !strings.HasPrefix(e.Message, tc.wantField+": ") {
				t.Errorf("Validate() = {%s %q %q}, want field %q and text %q", e.Code, e.Field, e.Message, tc.wantField, tc.wantText)
			}
		})
	}
	t.Run("ErrSeveralListedTogether", func(t *testing.T) {
		w := DefaultWorkflow()
		w.Stages[1].WIPLimit = -1
		w.Stages[2].StallAfter = -1
		err := w.Validate()
		if msg := ErrorMessage(err); !strings.Contains(msg, "stages[1].wip_limit") || !strings.Contains(msg, "stages[2].stall_after") {
			t.Errorf("Validate() = %q, want both problems", msg)
		}
	})
	t.Run("OKTerminalWithoutResolution", func(t *testing.T) {
		w := DefaultWorkflow()
		w.Stages[5].Resolution, w.Stages[6].Resolution = "", ""
		if err := w.Validate(); err != nil {
			t.Fatalf("Validate() = %v", err)
		}
		if got := w.resolutionFor(w.Stages[6]); got != ResolutionRejected {
			t.Errorf("rejected stage resolves %q", got)
		}
		if got := w.resolutionFor(w.Stages[5]); got != ResolutionDone {
			t.Errorf("done stage resolves %q", got)
		}
	})
}

func cloneTransitions(m map[StageID][]StageID) map[StageID][]StageID {
	out := make(map[StageID][]StageID, len(m))
	for k, v := range m {
		out[k] = append([]StageID(nil), v...)
	}
	return out
}

func TestPolicyValidate(t *testing.T) {
	tests := []struct {
		name      string
		edit      func(p *Policy)
		wantField string
	}{
		{"ErrEmptyPrefix", func(p *Policy) { p.KeyPrefix = "" }, "key_prefix"},
		{"ErrPrefixWithDash", func(p *Policy) { p.KeyPrefix = "W-" }, "key_prefix"},
		{"ErrPrefixTooLong", func(p *Policy) { p.KeyPrefix = "ABCDEFGHIJK" }, "key_prefix"},
		{"ErrPrefixNotASCII", func(p *Policy) { p.KeyPrefix = "Ж" }, "key_prefix"},
		{"ErrEmptyLead", func(p *Policy) { p.Leads = []UserID{"U1", ""} }, "leads[1]"},
		{"ErrTeamWithoutID", func(p *Policy) { p.Teams = []Team{{ID: ""}} }, "teams[0].id"},
		{"ErrDuplicateTeam", func(p *Policy) { p.Teams = []Team{{ID: "dev"}, {ID: "dev"}} }, "teams[1].id"},
		{"ErrEmptyTeamLead", func(p *Policy) { p.Teams = []Team{{ID: "dev", Leads: []UserID{""}}} }, "teams[0].leads[0]"},
		{"ErrEmptyTeamMember", func(p *Policy) { p.Teams = []Team{{ID: "dev", Members: []UserID{"U1", ""}}} }, "teams[0].members[1]"},
		{"ErrWorkflow", func(p *Policy) { p.Workflow.Done = "nope" }, "workflow.done"},
		{"ErrNoTimezone", func(p *Policy) { p.Calendar.Location = nil }, "calendar.timezone"},
		{"ErrNoWorkingDays", func(p *Policy) { p.Calendar.WorkingDays = [7]bool{} }, "calendar.working_days"},
		{"ErrNegativeCapacity", func(p *Policy) { p.DefaultCapacity = -1 }, "capacity.default_points"},
		{"ErrHugeCapacity", func(p *Policy) { p.DefaultCapacity = 201 }, "capacity.default_points"},
		{"ErrZeroOverloadRatio", func(p *Policy) { p.OverloadRatio = 0 }, "capacity.overload_ratio"},
		{"ErrNegativeEscalateAfter", func(p *Policy) { p.HandoffEscalateAfter = -1 }, "handoff.escalate_after"},
		{"ErrUnknownApproval", func(p *Policy) { p.HandoffApproval = "sometimes" }, "handoff.approval"},
		{"ErrNegativeBlockedStall", func(p *Policy) { p.BlockedStallAfter = -1 }, "blocked_stall_after"},
		{"ErrNudgeRatioAboveOne", func(p *Policy) { p.NudgeRatio = 1.5 }, "nudge_ratio"},
		{"ErrNegativeDueSoon", func(p *Policy) { p.DueSoonDays = -1 }, "due_soon_days"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := DefaultPolicy()
			tc.edit(p)
			err := p.Validate()
			if ErrorCode(err) != EINVALID {
				t.Fatalf("Validate() = %v, want EINVALID", err)
			}
			if e := err.(*Error); e.Field != tc.wantField || !strings.HasPrefix(e.Message, tc.wantField+": ") {
				t.Errorf("Validate() field %q message %q, want field %q", e.Field, e.Message, tc.wantField)
			}
		})
	}
	t.Run("OKTeamsAndLeads", func(t *testing.T) {
		p := opsPolicy()
		if err := p.Validate(); err != nil {
			t.Fatalf("Validate() = %v", err)
		}
	})
	t.Run("ErrNilPolicy", func(t *testing.T) {
		var p *Policy
		if ErrorCode(p.Validate()) != EINVALID {
			t.Error("nil policy validated")
		}
	})
}

func TestFieldErrorsCarryTheirCode(t *testing.T) {
	fe := FieldErrors{FieldError("title", "Give it a title."), FieldError("size", "Bad size.")}
	if got := ErrorCode(fe); got != EINVALID {
		t.Errorf("ErrorCode(FieldErrors) = %q, want %q", got, EINVALID)
	}
	if got := ErrorMessage(fe); got != "Give it a title." {
		t.Errorf("ErrorMessage(FieldErrors) = %q", got)
	}
}

// TestWorkflowValidateRandom builds many random workflows: Validate must never panic, and whatever it
// accepts must keep its promises (named stages in place, every open stage reachable and able to finish).
func TestWorkflowValidateRandom(t *testing.T) {
	ids := []StageID{"a", "b", "c", "d", "e", ""}
	rng := rand.New(rand.NewPCG(1, 2))
	accepted := 0
	for n := 0; n < 20000; n++ {
		var w Workflow
		// Mostly distinct ids, the last two terminal most of the time, so some workflows are valid.
		size := 3 + rng.IntN(3)
		for i := 0; i < size; i++ {
			id := ids[i]
			if rng.IntN(20) == 0 {
				id = ids[rng.IntN(len(ids))]
			}
			w.Stages = append(w.Stages, Stage{ID: id, Terminal: i >= size-2 && rng.IntN(8) != 0 || rng.IntN(10) == 0})
		}
		w.Transitions = map[StageID][]StageID{}
		for i := 0; i < rng.IntN(12); i++ {
			from := ids[rng.IntN(size)]
			w.Transitions[from] = append(w.Transitions[from], ids[rng.IntN(len(ids))])
		}
		pick := func(from, to int) StageID {
			if rng.IntN(30) == 0 {
				return ids[rng.IntN(len(ids))]
			}
			return ids[from+rng.IntN(to-from)]
		}
		w.Initial, w.Triaged, w.Start = pick(0, 1), pick(0, size-2), pick(0, size-2)
		w.Done, w.Rejected = pick(size-2, size), pick(size-2, size)
		if w.Validate() != nil {
			continue
		}
		accepted++
		reach := w.reachableFrom(w.Initial)
		for _, st := range w.Stages {
			if !st.Terminal && !reach[st.ID] {
				t.Fatalf("accepted %+v with %q unreachable", w, st.ID)
			}
			for _, to := range w.Transitions[st.ID] {
				if !w.CanMove(st.ID, to) {
					t.Fatalf("accepted %+v but CanMove(%q, %q) is false", w, st.ID, to)
				}
			}
		}
		if d, _ := w.Stage(w.Done); !d.Terminal {
			t.Fatalf("accepted %+v with a non-terminal done stage", w)
		}
	}
	t.Logf("%d valid workflows", accepted)
	if accepted < 50 {
		t.Errorf("only %d random workflows were valid; the generator no longer exercises the property", accepted)
	}
}
