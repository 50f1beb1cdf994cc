// Package storetest is the contract every workbot store keeps: the bbolt file (package storage) and
// PostgreSQL (package pgstore) run the same tests through Run, so the bot cannot tell them apart.
//
// A new store behaviour gets its test here, once, and both stores run it. Tests of what only one
// store has (bbolt's file lock and page checks, PostgreSQL's migrations and replica hooks) stay in
// that store's package.
package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"workbot/bot"
	"workbot/domain"
)

// Factory opens stores for the suite.
type Factory interface {
	// New returns a fresh, empty store. The factory closes it when t ends.
	New(t *testing.T) bot.Store
	// Reopen closes s and opens the same database again, as a restart would.
	Reopen(t *testing.T, s bot.Store) bot.Store
}

// Exporter is implemented by both stores: every item and every event, for export and migration.
type Exporter interface {
	ExportItems(fn func(domain.Item) error) error
	ExportEvents(fn func(domain.Event) error) error
}

// Checker is implemented by stores that can verify their own indexes and invariants. The suite
// runs it after every test.
type Checker interface {
	CheckConsistency() error
}

// MaxIndexedLen is the longest user, stage or state name both stores accept.
const MaxIndexedLen = 1024

// Run runs the whole contract against the stores f makes.
func Run(t *testing.T, f Factory) {
	tests := []struct {
		name string
		fn   func(t *testing.T, f Factory)
	}{
		{"ItemRoundTripKeepsEveryField", testItemRoundTrip},
		{"HandoffPersonEventRoundTrip", testHandoffPersonEventRoundTrip},
		{"MissingRecordsAreNotFound", testMissingRecords},
		{"PutRejectsRecordsWithoutID", testPutRejectsWithoutID},
		{"OverlongNamesAreRejected", testOverlongNames},
		{"UpdateReturnsFnErrorUnchangedAndRollsBack", testUpdateRollsBack},
		{"UpdateRecoversPanics", testUpdateRecoversPanics},
		{"CancelledContext", testCancelledContext},
		{"WritesAreVisibleInsideTheirTransaction", testReadYourWrites},
		{"IndexesFollowItemChanges", testIndexesFollowItemChanges},
		{"OpenItemsNeverListClosedOnes", testOpenVersusClosed},
		{"IteratorsStopEarly", testIteratorsStopEarly},
		{"IteratorsCrossPageBoundaries", testLongIterations},
		{"OrderOfPeopleAndRequesters", testOrdering},
		{"EventsBetweenBounds", testEventsBetweenBounds},
		{"EventsOfTheZeroTime", testZeroTimeEvents},
		{"PutItemBeyondSequenceMovesTheSequence", testPutBeyondSequence},
		{"ReopenKeepsEverythingAndSequencesContinue", testReopen},
		{"ConcurrentCreatesAllCommit", testConcurrentCreates},
		{"ConcurrentUpdatesWithFailuresKeepExactlyTheSuccessfulOnes", testConcurrentFailures},
		{"OperationsOnOneItemLoseNoUpdate", testHotItem},
		{"ReadModifyWriteOfOnePersonLosesNoUpdate", testHotPerson},
		{"StateGetPutDeleteScan", testState},
		{"StateReadModifyWriteLosesNoUpdate", testHotState},
		{"OutboxLanesKeepOrder", testOutboxLanes},
		{"OutboxLeaseExpires", testOutboxLease},
		{"OutboxEntryLifecycle", testOutboxLifecycle},
		{"OutboxRollsBackWithTheChange", testOutboxRollback},
		{"OutboxRefusals", testOutboxRefusals},
		{"OutboxStatsAndPrune", testOutboxStatsAndPrune},
		{"OutboxConcurrentClaimersNeverShareALane", testOutboxConcurrentClaimers},
		{"Export", testExport},
		{"PropertyIndexesMatchAModel", testProperty},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, f) })
	}
	for _, tc := range addedTests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, f) })
	}
}

// open is f.New plus a consistency check when the test ends.
func open(t *testing.T, f Factory) bot.Store {
	t.Helper()
	s := f.New(t)
	t.Cleanup(func() { check(t, s) })
	return s
}

func check(t *testing.T, s bot.Store) {
	t.Helper()
	if c, ok := s.(Checker); ok {
		if err := c.CheckConsistency(); err != nil {
			t.Errorf("CheckConsistency: %v", err)
		}
	}
}

// BaseTime is whole seconds: both stores keep times to the microsecond at least.
var BaseTime = time.Date(2026, 11, 2, 9, 30, 0, 0, time.UTC)

// FullItem sets every field, so a round trip proves each one is stored.
func FullItem(id domain.ItemID) domain.Item {
	return domain.Item{
		ID: id, Key: fmt.Sprintf("W-%d", id), Title: fmt.Sprintf("title-%d", id), Details: "details with ünïcode",
		Kind: "bug", Requester: "UREQ", Team: "platform", Value: 4, Urgency: 5, Size: 8,
		Due: domain.Date{Year: 2026, Month: time.December, Day: 1}, Stage: "in_progress", Assignee: "UASSIGNEE",
		BlockedReason: "waiting on vendor", BlockedAt: BaseTime.Add(time.Hour),
		DependsOn: []domain.ItemID{3, 1 << 40}, DependsSince: BaseTime.Add(2 * time.Hour),
		Pin: 2, Triaged: true, DuplicateOf: 7, PendingHandoff: 9,
		NudgedAt: BaseTime.Add(3 * time.Hour), SnoozedUntil: BaseTime.Add(4*time.Hour + 123456*time.Microsecond),
		CreatedAt: BaseTime, StageEnteredAt: BaseTime.Add(time.Minute), LastActivityAt: BaseTime.Add(5 * time.Hour),
		UpdatedAt: BaseTime.Add(6 * time.Hour), Version: 12,
	}
}

// CreateItem is what the service does on intake: allocate, store, audit.
func CreateItem(tx domain.Tx, it domain.Item) (domain.ItemID, error) {
	id, err := tx.NextItemID()
	if err != nil {
		return 0, err
	}
	it.ID = id
	it.Key = domain.FormatKey("W", id)
	if err := tx.PutItem(it); err != nil {
		return 0, err
	}
	return id, tx.AppendEvent(domain.Event{At: it.CreatedAt, Actor: it.Requester, Type: domain.EventCreated, ItemID: id})
}

func mustUpdate(t testing.TB, s domain.Store, fn func(domain.Tx) error) {
	t.Helper()
	if err := s.Update(context.Background(), fn); err != nil {
		t.Fatalf("Update: %v", err)
	}
}

func mustView(t testing.TB, s domain.Store, fn func(domain.ReadTx) error) {
	t.Helper()
	if err := s.View(context.Background(), fn); err != nil {
		t.Fatalf("View: %v", err)
	}
}

func mustState(t testing.TB, s bot.Store, fn func(domain.StateTx) error) {
	t.Helper()
	if err := s.UpdateState(context.Background(), fn); err != nil {
		t.Fatalf("UpdateState: %v", err)
	}
}

func collectItems(t testing.TB, iter func(func(domain.Item) bool) error) []domain.Item {
	t.Helper()
	var out []domain.Item
	if err := iter(func(it domain.Item) bool { out = append(out, it); return true }); err != nil {
		t.Fatalf("iterating items: %v", err)
	}
	return out
}

func itemIDs(items []domain.Item) []domain.ItemID {
	out := make([]domain.ItemID, len(items))
	for i, it := range items {
		out[i] = it.ID
	}
	return out
}

func exportItems(t testing.TB, s bot.Store) []domain.Item {
	t.Helper()
	e, ok := s.(Exporter)
	if !ok {
		t.Fatalf("%T does not export", s)
	}
	var out []domain.Item
	if err := e.ExportItems(func(it domain.Item) error { out = append(out, it); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

func exportEvents(t testing.TB, s bot.Store) []domain.Event {
	t.Helper()
	e, ok := s.(Exporter)
	if !ok {
		t.Fatalf("%T does not export", s)
	}
	var out []domain.Event
	if err := e.ExportEvents(func(ev domain.Event) error { out = append(out, ev); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}
