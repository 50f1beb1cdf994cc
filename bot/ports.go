package bot

import (
	"context"
	"time"

	"workbot/domain"
)

// Store is everything the bot keeps, declared here so the bot depends on no particular store: the
// domain's state, the outbox of Slack side effects, and the bot's own small state (message
// references, digest slots and snapshots, markers). cmd wires in the bbolt file or PostgreSQL.
type Store interface {
	domain.Store

	// UpdateState runs fn in one write transaction over the bot's state and the outbox. fn may run
	// more than once.
	UpdateState(ctx context.Context, fn func(domain.StateTx) error) error
	// ViewState runs fn on a read-only snapshot of the bot's state and the outbox.
	ViewState(ctx context.Context, fn func(domain.StateReader) error) error

	// ClaimEffects returns up to max outbox entries that are ready for delivery, oldest first:
	// unfinished, not held by another live claim, and with no earlier unfinished entry sharing their
	// Key or Channel. owner holds them until it finishes (StateTx.FinishEffect) or releases them, or
	// until lease has passed; an owner that dies therefore releases its claims by expiry.
	ClaimEffects(ctx context.Context, owner string, max int, lease time.Duration) ([]domain.OutboxEntry, error)
	// ReleaseEffect gives up owner's claim on an unfinished entry (at shutdown, say).
	ReleaseEffect(ctx context.Context, owner string, id uint64) error
	// ExtendClaims renews owner's claims on ids for another lease, while their deliveries go on, so a
	// short lease frees a dead owner's entries soon without a live owner losing one mid-delivery.
	// Claims owner no longer holds are left alone.
	ExtendClaims(ctx context.Context, owner string, ids []uint64, lease time.Duration) error
	// MarkAttempt durably records, before the call, that a delivery that may take effect starts at
	// at, so that whoever delivers the entry next looks for its result before acting again. The
	// first attempt's time is kept (OutboxEntry.AttemptedAt); each call counts one more attempt.
	// Only owner's live claim allows it: otherwise it fails with ECONFLICT and records nothing.
	MarkAttempt(ctx context.Context, owner string, id uint64, at time.Time) error
	// OutboxStats reports the number of unfinished entries and when the oldest was enqueued.
	OutboxStats(ctx context.Context) (pending int, oldest time.Time, err error)
	// PruneOutbox deletes at most limit finished entries enqueued before before, oldest first.
	PruneOutbox(ctx context.Context, before time.Time, limit int) (int, error)
}

// EventDeduper records Slack event IDs across replicas: SeenEvent atomically records id and reports
// whether it was already recorded within window before now. Expired records are pruned by the store.
type EventDeduper interface {
	SeenEvent(ctx context.Context, id string, now time.Time, window time.Duration) (bool, error)
}

// Leader elects one replica to run the schedules. Lead blocks until this process leads (or ctx
// ends), then returns a context that is cancelled as soon as leadership is lost.
type Leader interface {
	Lead(ctx context.Context) (context.Context, error)
}
