package storage

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"workbot/domain"
)

// openTestDB opens a fresh database in t.TempDir and, on cleanup, fails the test if the indexes
// disagree with the records, then closes it.
func openTestDB(t testing.TB, opts ...Options) *DB {
	t.Helper()
	var o Options
	if len(opts) > 0 {
		o = opts[0]
	}
	db, err := Open(filepath.Join(t.TempDir(), "workbot.db"), o)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { checkAndClose(t, db) })
	return db
}

func checkAndClose(t testing.TB, db *DB) {
	t.Helper()
	if err := db.CheckConsistency(); err != nil {
		t.Errorf("CheckConsistency: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}

var baseTime = time.Date(2026, 11, 2, 9, 30, 0, 0, time.UTC)

// fullItem sets every field, so a round trip proves each one is stored.
func fullItem(id domain.ItemID) domain.Item {
	return domain.Item{
		ID: id, Key: fmt.Sprintf("W-%d", id), Title: fmt.Sprintf("title-%d", id), Details: "details with ünïcode",
		Kind: "bug", Requester: "UREQ", Team: "platform", Value: 4, Urgency: 5, Size: 8,
		Due: domain.Date{Year: 2026, Month: time.December, Day: 1}, Stage: "in_progress", Assignee: "UASSIGNEE",
		BlockedReason: "waiting on vendor", BlockedAt: baseTime.Add(time.Hour),
		DependsOn: []domain.ItemID{3, 1 << 40}, DependsSince: baseTime.Add(2 * time.Hour),
		Pin: 2, Triaged: true, DuplicateOf: 7, PendingHandoff: 9,
		NudgedAt: baseTime.Add(3 * time.Hour), SnoozedUntil: baseTime.Add(4 * time.Hour),
		CreatedAt: baseTime, StageEnteredAt: baseTime.Add(time.Minute), LastActivityAt: baseTime.Add(5 * time.Hour),
		UpdatedAt: baseTime.Add(6 * time.Hour), Version: 12,
	}
}

// createItem is what the service does on intake: allocate, store, audit.
func createItem(tx domain.Tx, it domain.Item) (domain.ItemID, error) {
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

func mustUpdate(t testing.TB, db *DB, fn func(domain.Tx) error) {
	t.Helper()
	if err := db.Update(context.Background(), fn); err != nil {
		t.Fatalf("Update: %v", err)
	}
}

func mustView(t testing.TB, db *DB, fn func(domain.ReadTx) error) {
	t.Helper()
	if err := db.View(context.Background(), fn); err != nil {
		t.Fatalf("View: %v", err)
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
