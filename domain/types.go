// Package domain is workbot's work model: items, people, teams, handoffs, workflows and calendars, the
// operations on them, the priority score, load and stall rules, digest data and permissions.
//
// It imports only the standard library (a test enforces this), so every rule can be read and tested
// without Slack or bbolt. Time always comes from an injected clock; nothing here calls time.Now.
package domain

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ItemID is the item's sequence number. The user-facing key is "<prefix>-<ID>".
type ItemID uint64

// HandoffID is a handoff's sequence number.
type HandoffID uint64

// UserID is a Slack user ID such as "U0123ABC". The domain treats it as an opaque string.
type UserID string

// TeamID names a team or project, as configured.
type TeamID string

// StageID names a workflow stage, as configured ("intake", "in_progress", ...).
type StageID string

// Limits on user-entered text, from the product definition.
const (
	MaxTitleLen   = 150
	MaxDetailsLen = 3000
	MaxNoteLen    = 3000
	MaxReasonLen  = 500
	MaxKindLen    = 40
)

// Sizes are story points; only these values are accepted.
var Sizes = []int{1, 2, 3, 5, 8, 13}

// Resolution says how a terminal item ended.
type Resolution string

const (
	ResolutionNone      Resolution = ""
	ResolutionDone      Resolution = "done"
	ResolutionRejected  Resolution = "rejected"
	ResolutionDuplicate Resolution = "duplicate"
)

// SystemActor is the actor of changes the bot makes on its own (escalations, scheduled work).
const SystemActor UserID = "workbot"

// Item is one piece of work from intake to a terminal stage.
type Item struct {
	ID        ItemID
	Key       string // "<prefix>-<ID>", fixed at creation
	Title     string
	Details   string
	Kind      string
	Requester UserID
	Team      TeamID

	Value   int  // 1..5
	Urgency int  // 1..5
	Size    int  // one of Sizes
	Due     Date // zero when there is no due date

	Stage    StageID
	Assignee UserID // "" when unassigned

	// Blocked is set while the item is blocked by a free-text reason.
	BlockedReason string
	BlockedAt     time.Time // zero when not blocked by a reason
	// DependsOn lists items that must reach a terminal stage first. The item counts as blocked while any
	// of them is open; DependsSince is when the first open dependency was added.
	DependsOn    []ItemID
	DependsSince time.Time

	// Pin is a lead's manual rank: 1 ranks first. 0 means not pinned.
	Pin int

	Triaged        bool // a lead prioritised it (value/urgency/size confirmed)
	Resolution     Resolution
	DuplicateOf    ItemID
	PendingHandoff HandoffID // 0 when none is pending

	// NudgedAt is when the assignee was last nudged about a nearing stall in the current stage; it is
	// cleared on every stage change. SnoozedUntil holds nudges and stall reports back until then.
	NudgedAt     time.Time
	SnoozedUntil time.Time

	CreatedAt      time.Time
	StageEnteredAt time.Time
	LastActivityAt time.Time
	DoneAt         time.Time // when it reached a terminal stage
	UpdatedAt      time.Time

	// Version increases by one on every committed change. Buttons may carry it to detect stale clicks.
	Version uint64

	// Source is the message the request was filed from; zero for a request typed into the form.
	Source Source
	// Followers hear what the requester hears about the item.
	Followers []UserID
}

// Source is a chat message a request came from. One message becomes at most one item.
type Source struct {
	Conversation string // where the message is (a channel or DM ID)
	Message      string // the message's ID (Slack's ts)
	Thread       string // the thread the message is in, when it is a reply; "" otherwise
}

// Limits on sources and followers.
const (
	MaxSourceLen = 64
	MaxFollowers = 200
)

// IsZero reports whether there is no source.
func (s Source) IsZero() bool { return s.Conversation == "" && s.Message == "" }

// Key identifies the source message, whatever thread it is in.
func (s Source) Key() string { return s.Conversation + "/" + s.Message }

// ThreadRoot is the message whose thread holds the conversation about the source: its thread's
// parent when it is a reply, else the message itself.
func (s Source) ThreadRoot() string {
	if s.Thread != "" {
		return s.Thread
	}
	return s.Message
}

// Open reports whether the item is not yet in a terminal stage.
func (it Item) Open() bool { return it.Resolution == ResolutionNone }

// Blocked reports whether the item has a blocking reason. Open dependencies are checked by the caller,
// which can see other items.
func (it Item) Blocked() bool { return it.BlockedReason != "" }

// Person is someone who can be assigned work.
type Person struct {
	ID   UserID
	Team TeamID
	// Capacity is points per week. It applies only when CapacitySet is true; otherwise the configured
	// default applies.
	Capacity    int
	CapacitySet bool
	// AwayUntil is the last day of an absence (inclusive); zero when not away. Capacity is 0 while away.
	AwayUntil Date

	NudgesOff         bool
	PersonalDigestOff bool
	UpdatedAt         time.Time
}

// Team groups people. Leads of a team may triage, assign and approve for it.
type Team struct {
	ID      TeamID
	Name    string
	Leads   []UserID
	Members []UserID
}

// HandoffStatus is a handoff's place in its lifecycle.
type HandoffStatus string

const (
	HandoffAwaitingApproval HandoffStatus = "awaiting_approval" // a lead must approve before the target sees it
	HandoffPending          HandoffStatus = "pending"           // the target must accept or decline
	HandoffAccepted         HandoffStatus = "accepted"
	HandoffDeclined         HandoffStatus = "declined"
	HandoffCancelled        HandoffStatus = "cancelled"
	HandoffRejected         HandoffStatus = "rejected" // a lead refused approval
)

// Decided reports whether the handoff has reached a final state.
func (s HandoffStatus) Decided() bool {
	return s != HandoffAwaitingApproval && s != HandoffPending
}

// HandoffNote is what the sender tells the receiver.
type HandoffNote struct {
	Done  string
	Next  string
	Links string
}

// Handoff moves an item from its owner to another person (or to a team queue, when To is empty and
// ToTeam is set). It must be accepted to take effect.
type Handoff struct {
	ID          HandoffID
	ItemID      ItemID
	From        UserID // the assignee when it was requested ("" if unassigned)
	To          UserID
	ToTeam      TeamID
	Note        HandoffNote
	NextStage   StageID // optional stage to move to on acceptance
	Status      HandoffStatus
	RequestedBy UserID
	RequestedAt time.Time
	ApprovedBy  UserID
	ApprovedAt  time.Time
	DecidedBy   UserID
	DecidedAt   time.Time
	Reason      string    // decline, rejection or cancel reason
	EscalatedAt time.Time // zero until escalated to the leads
}

// EventType names what happened in an audit event.
type EventType string

const (
	EventCreated          EventType = "created"
	EventTriaged          EventType = "triaged"
	EventPinned           EventType = "pinned"
	EventAssigned         EventType = "assigned"
	EventMoved            EventType = "moved"
	EventBlocked          EventType = "blocked"
	EventUnblocked        EventType = "unblocked"
	EventDependencyAdded  EventType = "dependency_added"
	EventRejected         EventType = "rejected"
	EventDuplicate        EventType = "duplicate"
	EventEdited           EventType = "edited"
	EventHandoffRequested EventType = "handoff_requested"
	EventHandoffApproved  EventType = "handoff_approved"
	EventHandoffRefused   EventType = "handoff_refused" // a lead refused approval
	EventHandoffAccepted  EventType = "handoff_accepted"
	EventHandoffDeclined  EventType = "handoff_declined"
	EventHandoffCancelled EventType = "handoff_cancelled"
	EventHandoffEscalated EventType = "handoff_escalated"
	EventCapacitySet      EventType = "capacity_set"
	EventAwaySet          EventType = "away_set"
	EventPrefsSet         EventType = "prefs_set"
	EventSnoozed          EventType = "snoozed"
	EventFollowed         EventType = "followed"
	EventUnfollowed       EventType = "unfollowed"
)

// Change is one field's before → after in an event.
type Change struct {
	Field  string
	Before string
	After  string
}

// Event is an immutable audit record. ItemID is 0 for events about people (capacity, away).
type Event struct {
	Seq     uint64 // assigned by the store on append; strictly increasing
	At      time.Time
	Actor   UserID
	Type    EventType
	ItemID  ItemID
	Subject UserID // the person concerned, for people events and assignments
	Handoff HandoffID
	Changes []Change
	Note    string
}

// Date is a calendar day without a time or zone.
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

// ParseDate reads "2006-01-02".
func ParseDate(s string) (Date, error) {
	t, err := time.Parse(time.DateOnly, strings.TrimSpace(s))
	if err != nil {
		return Date{}, Errorf(EINVALID, "%q is not a date; use YYYY-MM-DD", s)
	}
	return DateOf(t), nil
}

// DateOf is the calendar day of t in t's own location.
func DateOf(t time.Time) Date {
	y, m, d := t.Date()
	return Date{y, m, d}
}

// IsZero reports whether the date is unset.
func (d Date) IsZero() bool { return d == Date{} }

// String formats as "2006-01-02", or "" for the zero date.
func (d Date) String() string {
	if d.IsZero() {
		return ""
	}
	return fmt.Sprintf("%04d-%02d-%02d", d.Year, d.Month, d.Day)
}

// Start is midnight at the start of the day in loc.
func (d Date) Start(loc *time.Location) time.Time {
	return time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, loc)
}

// Before reports whether d is an earlier day than o.
func (d Date) Before(o Date) bool {
	if d.Year != o.Year {
		return d.Year < o.Year
	}
	if d.Month != o.Month {
		return d.Month < o.Month
	}
	return d.Day < o.Day
}

// AddDays moves the date by n days.
func (d Date) AddDays(n int) Date {
	return DateOf(time.Date(d.Year, d.Month, d.Day+n, 12, 0, 0, 0, time.UTC))
}

// FormatKey builds an item key from a prefix and an ID.
func FormatKey(prefix string, id ItemID) string {
	return prefix + "-" + strconv.FormatUint(uint64(id), 10)
}

// ParseKey reads "W-42" (any prefix, case-insensitive, "#" and spaces tolerated) into the ID 42.
// The prefix is not checked against the configured one so that keys survive a prefix change.
func ParseKey(s string) (ItemID, error) {
	s = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(s), "#"))
	i := strings.LastIndexByte(s, '-')
	num := s
	if i >= 0 {
		num = s[i+1:]
	}
	n, err := strconv.ParseUint(num, 10, 64)
	if err != nil || n == 0 || len(s) > 40 {
		return 0, Errorf(EINVALID, "%q is not an item key like W-42", truncateForMessage(s))
	}
	return ItemID(n), nil
}

func truncateForMessage(s string) string {
	const max = 40
	r := []rune(s)
	if len(r) <= max {
		return s
	}
	return string(r[:max]) + "…"
}
