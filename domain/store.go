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
}

// Match is one answer of SimilarOpenItems. Score is the item's text-similarity score relative to
// the text's score against itself: about 1 for the same wording, lower the less the two share. It
// ranks the matches of one query; it is not a probability and means little across queries.
type Match struct {
	Item  ItemID
	Score float64
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
