package domain

import (
	"slices"
	"time"
)

// Default stage IDs. Configured workflows may use any IDs; these only name the built-in one.
const (
	StageIntake     StageID = "intake"
	StageTodo       StageID = "todo"
	StageInProgress StageID = "in_progress"
	StageReview     StageID = "review"
	StageTesting    StageID = "testing"
	StageDone       StageID = "done"
	StageRejected   StageID = "rejected"
)

// DefaultWorkflow is intake → todo → in_progress → review → testing → done, with rejected reachable from
// every open stage. Work can go back from review or testing to in_progress, and from in_progress to todo,
// because reviews and tests find problems.
func DefaultWorkflow() Workflow {
	const day = 24 * time.Hour
	return Workflow{
		Stages: []Stage{
			{ID: StageIntake, Name: "Intake", StallAfter: day},
			{ID: StageTodo, Name: "To do", StallAfter: 3 * day},
			{ID: StageInProgress, Name: "In progress", StallAfter: 3 * day, WIPLimit: 8},
			{ID: StageReview, Name: "Review", StallAfter: 2 * day},
			{ID: StageTesting, Name: "Testing", StallAfter: 2 * day},
			{ID: StageDone, Name: "Done", Terminal: true, Resolution: ResolutionDone},
			{ID: StageRejected, Name: "Rejected", Terminal: true, Resolution: ResolutionRejected},
		},
		Transitions: map[StageID][]StageID{
			StageIntake:     {StageTodo, StageRejected},
			StageTodo:       {StageInProgress, StageRejected},
			StageInProgress: {StageReview, StageTodo, StageDone, StageRejected},
			StageReview:     {StageTesting, StageInProgress, StageDone, StageRejected},
			StageTesting:    {StageDone, StageInProgress, StageRejected},
		},
		Initial:  StageIntake,
		Triaged:  StageTodo,
		Start:    StageInProgress,
		Done:     StageDone,
		Rejected: StageRejected,
	}
}

// DefaultPolicy is the policy used when the config leaves everything to its default: no leads or teams,
// the default workflow and a Monday-to-Friday calendar in UTC.
func DefaultPolicy() *Policy {
	var days [7]bool
	for d := time.Monday; d <= time.Friday; d++ {
		days[d] = true
	}
	return &Policy{
		KeyPrefix:            "W",
		Workflow:             DefaultWorkflow(),
		Calendar:             Calendar{WorkingDays: days, Holidays: map[Date]bool{}, Location: time.UTC},
		DefaultCapacity:      10,
		OverloadRatio:        1.0,
		HandoffEscalateAfter: 24 * time.Hour,
		HandoffApproval:      ApprovalNever,
		BlockedStallAfter:    48 * time.Hour,
		NudgeRatio:           0.75,
		DueSoonDays:          3,
	}
}

// CanMove reports whether the workflow lists to as an allowed next stage of from. Staying put is not a
// move, and nothing leaves a terminal stage.
func (w Workflow) CanMove(from, to StageID) bool {
	if from == to {
		return false
	}
	if st, ok := w.Stage(from); !ok || st.Terminal {
		return false
	}
	if _, ok := w.Stage(to); !ok {
		return false
	}
	return slices.Contains(w.Transitions[from], to)
}

// resolutionFor is how an item ends when it reaches the terminal stage st. A configured stage may leave
// Resolution empty; then the Rejected stage rejects and every other terminal stage completes.
func (w Workflow) resolutionFor(st Stage) Resolution {
	switch {
	case !st.Terminal:
		return ResolutionNone
	case st.Resolution != ResolutionNone:
		return st.Resolution
	case st.ID == w.Rejected:
		return ResolutionRejected
	default:
		return ResolutionDone
	}
}
