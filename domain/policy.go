package domain

import "time"

// Stage is one step of a workflow.
type Stage struct {
	ID   StageID
	Name string
	// StallAfter is how much working time an item may spend in the stage without activity before it
	// counts as stalled. 0 disables stall detection for the stage.
	StallAfter time.Duration
	// WIPLimit is the most open items the stage should hold. 0 means no limit.
	WIPLimit int
	Terminal bool
	// Resolution is how items that reach a terminal stage end (done or rejected).
	Resolution Resolution
}

// Workflow is the set of stages and the transitions allowed between them.
type Workflow struct {
	Stages []Stage
	// Transitions lists, for each stage, the stages an item may move to from it. A move not listed here
	// is refused with ECONFLICT.
	Transitions map[StageID][]StageID
	// Initial is where new items start (the first stage by default).
	Initial StageID
	// Start is the stage "start" moves to (in_progress by default).
	Start StageID
	// Done and Rejected are the terminal stages "done" and "reject" move to.
	Done     StageID
	Rejected StageID
	// Triaged is where a triaged intake item goes (todo by default).
	Triaged StageID
}

// Calendar says which days count as working time, in which time zone.
type Calendar struct {
	WorkingDays [7]bool // indexed by time.Weekday
	Holidays    map[Date]bool
	Location    *time.Location
}

// ApprovalPolicy says when a handoff needs a lead's approval before the target sees it.
type ApprovalPolicy string

const (
	ApprovalNever     ApprovalPolicy = "never"
	ApprovalCrossTeam ApprovalPolicy = "cross_team"
	ApprovalAlways    ApprovalPolicy = "always"
)

// Policy is every configured rule the domain applies. It is built once from the config and not changed
// while the bot runs.
type Policy struct {
	KeyPrefix string
	Leads     []UserID // global leads
	Teams     []Team
	Workflow  Workflow
	Calendar  Calendar

	DefaultCapacity int     // points per week
	OverloadRatio   float64 // utilisation above this is overloaded

	HandoffEscalateAfter time.Duration // working time
	HandoffApproval      ApprovalPolicy

	// BlockedStallAfter is how long (working time) an item may stay blocked before it counts as stalled.
	BlockedStallAfter time.Duration
	// NudgeRatio is the share of a stage's StallAfter after which the assignee is nudged (e.g. 0.75).
	NudgeRatio float64
	// DueSoon is how many working days ahead a due date counts as "due soon".
	DueSoonDays int
}
