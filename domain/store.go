package domain

import (
	"context"
	"time"
)

// Store is the persistence port. The storage package implements it on bbolt; the domain only sees
// these interfaces.
type Store interface {
	// Update runs fn in one write transaction: everything fn writes (state, indexes, events) commits
	// together or not at all. Concurrent Updates may be grouped into one commit, so fn may run more than
	// once and must have no effect outside tx; results must be captured by assignment, not appended.
	// Update returns fn's error unchanged (so *Error codes survive), or EINTERNAL-class I/O errors.
	Update(ctx context.Context, fn func(tx Tx) error) error
	// View runs fn in a read-only snapshot.
	View(ctx context.Context, fn func(tx ReadTx) error) error
}

// ReadTx reads a consistent snapshot. Returned values are copies owned by the caller.
// Iterators stop early when fn returns false.
type ReadTx interface {
	// Item returns ENOTFOUND if there is no item with that ID.
	Item(id ItemID) (Item, error)
	// OpenItems visits every item not in a terminal stage, in ID order, without touching closed history.
	OpenItems(fn func(Item) bool) error
	// OpenItemsByAssignee visits the open items assigned to user, in ID order.
	OpenItemsByAssignee(user UserID, fn func(Item) bool) error
	// OpenItemsInStage visits the open items in stage, in ID order.
	OpenItemsInStage(stage StageID, fn func(Item) bool) error
	// ItemsByRequester visits the items requested by user (open and closed), newest first.
	ItemsByRequester(user UserID, fn func(Item) bool) error
	// ItemBySource returns the item filed from the source message with that Source.Key, and false
	// when none was.
	ItemBySource(key string) (ItemID, bool, error)

	// Handoff returns ENOTFOUND if there is no handoff with that ID.
	Handoff(id HandoffID) (Handoff, error)
	// PendingHandoffs visits handoffs awaiting approval or a decision, in ID order.
	PendingHandoffs(fn func(Handoff) bool) error

	// Person returns the stored person and true, or a zero Person and false if none is stored.
	Person(id UserID) (Person, bool, error)
	// People visits every stored person in ID order.
	People(fn func(Person) bool) error

	// EventsBetween visits events with from <= At < to, oldest first.
	EventsBetween(from, to time.Time, fn func(Event) bool) error
	// ItemEvents visits one item's events, oldest first.
	ItemEvents(id ItemID, fn func(Event) bool) error

	// SimilarOpenItems returns up to limit open items whose title and details read like text, best
	// first: the likely duplicates of a request being written (text = its title and details) or
	// triaged. except is left out of the answer, so an item can look for its own duplicates; 0 leaves
	// nothing out. Only matches above the store's threshold are returned, so the answer is often
	// empty: that means "no likely duplicate", not an error. Closed items are never returned.
	SimilarOpenItems(text string, except ItemID, limit int) ([]Match, error)

	// The reads below answer the questions that would otherwise scan every open item or every event
	// of a period. The store keeps what they read in step with the items and events, in the same
	// transaction as each PutItem and AppendEvent, so they always equal a recount: a read-only
	// transaction sees the same answer as a scan would, and a write transaction sees its own changes.

	// OpenCounts counts the open items, in all, per stage and per team.
	OpenCounts() (OpenCounts, error)
	// Workload is the open work assigned to user; zero for someone with none (and for user "").
	Workload(user UserID) (Workload, error)
	// Workloads visits everyone with open assigned work (Items > 0), in user ID order.
	Workloads(fn func(UserID, Workload) bool) error
	// OpenBriefs visits the brief of every open item in stage, or of every open item when stage is
	// "", in no particular order. It is for ranking and filtering many items: a store may produce
	// briefs without reading whole items.
	OpenBriefs(stage StageID, fn func(Brief) bool) error
	// ClosedBetween visits the items whose DoneAt is in [from, to), by DoneAt, then ID.
	ClosedBetween(from, to time.Time, fn func(Closure) bool) error
	// CountEvents counts the events of type typ with from <= At < to.
	CountEvents(typ EventType, from, to time.Time) (int, error)
}

// Match is one answer of SimilarOpenItems. Score is the item's text-similarity score relative to
// the text's score against itself: about 1 for the same wording, lower the less the two share. It
// ranks the matches of one query; it is not a probability and means little across queries.
type Match struct {
	Item  ItemID
	Score float64
}

// OpenItemsReader is an optional addition to ReadTx for stores that read many open items faster
// together than one by one (a bbolt store walks its index of open items once instead of descending it
// for each). OpenItemsByID visits the open items among ids, which are sorted and distinct, in ID
// order; ids that are not open items are skipped. The digest uses it when the store offers it, and
// Item otherwise.
type OpenItemsReader interface {
	OpenItemsByID(ids []ItemID, fn func(Item) bool) error
}

// OpenCounts are counts of open items. Stages and teams without open items are absent from the maps;
// ByTeam[""] counts the open items without a team.
type OpenCounts struct {
	Total   int
	ByStage map[StageID]int
	ByTeam  map[TeamID]int
}

// Workload is the open work assigned to one person: the sum of the items' Size, and how many.
type Workload struct {
	Points int
	Items  int
}

// Brief is the part of an open item that ranking (score.go), list filters and the digest's pass over
// every open item (load, due dates, stall checks) read: everything but its text and bookkeeping.
type Brief struct {
	ID        ItemID
	Stage     StageID
	Assignee  UserID
	Team      TeamID
	Value     int
	Urgency   int
	Size      int
	Pin       int
	Due       Date
	Triaged   bool
	CreatedAt time.Time

	Blocked        bool // BlockedReason != ""
	BlockedAt      time.Time
	DependsOn      []ItemID
	DependsSince   time.Time
	SnoozedUntil   time.Time
	StageEnteredAt time.Time
	LastActivityAt time.Time
}

// BriefOf is the brief of an item.
func BriefOf(it *Item) Brief {
	return Brief{ID: it.ID, Stage: it.Stage, Assignee: it.Assignee, Team: it.Team, Value: it.Value,
		Urgency: it.Urgency, Size: it.Size, Pin: it.Pin, Due: it.Due, Triaged: it.Triaged, CreatedAt: it.CreatedAt,
		Blocked: it.Blocked(), BlockedAt: it.BlockedAt, DependsOn: it.DependsOn, DependsSince: it.DependsSince,
		SnoozedUntil: it.SnoozedUntil, StageEnteredAt: it.StageEnteredAt, LastActivityAt: it.LastActivityAt}
}

// briefReason stands in for the blocking reason of an item known only by its brief; the digest reads
// the whole item before it reports one.
const briefReason = "\x00blocked"

// item is an Item with the brief's fields, and no text: enough for ranking and stall checks.
func (b *Brief) item() Item {
	it := Item{ID: b.ID, Stage: b.Stage, Assignee: b.Assignee, Team: b.Team, Value: b.Value, Urgency: b.Urgency,
		Size: b.Size, Pin: b.Pin, Due: b.Due, Triaged: b.Triaged, CreatedAt: b.CreatedAt, BlockedAt: b.BlockedAt,
		DependsOn: b.DependsOn, DependsSince: b.DependsSince, SnoozedUntil: b.SnoozedUntil,
		StageEnteredAt: b.StageEnteredAt, LastActivityAt: b.LastActivityAt}
	if b.Blocked {
		it.BlockedReason = briefReason
	}
	return it
}

// Closure is a closed item as flow metrics see it.
type Closure struct {
	ID         ItemID
	Resolution Resolution
	CreatedAt  time.Time
	DoneAt     time.Time
	Due        Date
}

// ClosureOf is the closure of a closed item.
func ClosureOf(it *Item) Closure {
	return Closure{ID: it.ID, Resolution: it.Resolution, CreatedAt: it.CreatedAt, DoneAt: it.DoneAt, Due: it.Due}
}

// Tx is a write transaction.
type Tx interface {
	ReadTx
	// NextItemID allocates the next item sequence number.
	NextItemID() (ItemID, error)
	// NextHandoffID allocates the next handoff sequence number.
	NextHandoffID() (HandoffID, error)
	// PutItem stores the item and brings every index in line with it (the store reads the previous
	// version itself to know which index entries to drop).
	PutItem(it Item) error
	// PutHandoff stores the handoff and maintains the pending index.
	PutHandoff(h Handoff) error
	// PutPerson stores the person.
	PutPerson(p Person) error
	// AppendEvent appends an audit event; the store assigns Seq. Events are never changed or removed.
	AppendEvent(e Event) error
	// Enqueue adds effects to the outbox, in order, committed with the rest of the transaction.
	// Returns EINVALID for an effect ValidEffect refuses.
	Enqueue(effects ...Effect) error
	// State is the adapters' own state inside this same transaction, for an Effects hook that must
	// read or write it together with the change (to coalesce announcements, say).
	State() StateTx
}
