package domain

import "time"

// Service applies the operations of the work model. Each operation checks permissions (default-deny),
// validates, changes state and appends an audit event in one Store.Update, so a change is reported only
// after it is committed.
type Service struct {
	Store  Store
	Policy *Policy
	Now    func() time.Time // injected clock; never time.Now directly
	// Effects, when set, runs inside the write transaction of every operation that changes state,
	// after the change is staged, with the operation's result. What it enqueues (tx.Enqueue) commits
	// with the change, so the announcements a change owes are as durable as the change. An error
	// aborts the operation. Like the rest of the transaction it may run more than once.
	Effects func(tx Tx, res Result) error
}

// NewItem is the intake form.
type NewItem struct {
	Title   string
	Details string
	Kind    string
	Team    TeamID
	Value   int  // 0 → 3
	Urgency int  // 0 → 3
	Size    int  // 0 → 3
	Due     Date // optional
	// Requester asks for the work when someone else files it (the author of a message turned into a
	// request); empty means the actor. The actor is kept in the audit event as who filed it.
	Requester UserID
	// Source is the message the request comes from, if any; one message becomes at most one item.
	Source Source
}

// Triage is a lead's prioritisation. Zero fields keep their current value; ClearDue removes the due date.
type Triage struct {
	Value    int
	Urgency  int
	Size     int
	Due      Date
	ClearDue bool
	Team     TeamID
	// Pin sets the manual rank (1 first); -1 clears it; 0 leaves it.
	Pin int
}

// Warning is advice that does not stop an operation (overload, WIP limit).
type Warning struct {
	Code    string // "overload", "wip_limit", "away"
	Message string
}

// Warning codes.
const (
	WarnOverload = "overload"
	WarnWIPLimit = "wip_limit"
	WarnAway     = "away"
)

// PersonLoad is one person's open assigned work against capacity.
type PersonLoad struct {
	Person      Person
	Load        int     // total size of open assigned items
	Capacity    int     // effective capacity (0 while away)
	Utilisation float64 // Load/Capacity; +Inf when Capacity is 0 and Load > 0
	Overloaded  bool
	Items       int
}

// AssignPreview tells a lead what an assignment would do before it is confirmed.
type AssignPreview struct {
	Item       Item
	Assignee   PersonLoad // the load before the assignment
	After      PersonLoad // the load if the assignment goes ahead
	Warnings   []Warning
	Suggestion *PersonLoad  // least-loaded teammate who could take it without overload; nil if none
	Candidates []PersonLoad // teammates by ascending utilisation
}

// Result is what a committed operation returns: the item after the change, the events appended and
// any warnings.
type Result struct {
	Item    Item
	Handoff *Handoff
	// Person is set by operations on a person (capacity, away, preferences); Item is then zero.
	Person   *Person
	Events   []Event
	Warnings []Warning
}

// HandoffRequest starts a handoff. Exactly one of To and ToTeam is set.
type HandoffRequest struct {
	To        UserID
	ToTeam    TeamID
	Note      HandoffNote
	NextStage StageID // optional
}

// Operations (bodies in ops.go and handoff.go). Each returns ENOTFOUND for an unknown item or handoff,
// EFORBIDDEN when the actor may not act, ECONFLICT when the state does not allow it (including a second
// decision on a decided handoff), and EINVALID (often with Field set) for bad input.
