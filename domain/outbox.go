package domain

import "time"

// Effect is something a committed change owes the outside world: a post, an edit of a message, a
// DM, an App Home refresh. It is stored in the same transaction as the change (a transactional
// outbox), so a crash can neither lose it nor leave a change that was reported done with nothing
// queued to announce it. The domain never interprets Kind or Payload: the adapter that delivers
// effects gives them meaning.
type Effect struct {
	// Kind names how the effect is delivered.
	Kind string
	// Key and Channel are ordering lanes. An effect is delivered only after every earlier effect that
	// shares its Key, or its Channel, is finished. Key is usually the item ("item:12") or the person
	// the effect is about; Channel is the conversation it appears in. Empty means no lane.
	Key     string
	Channel string
	// At is when the change was made (the clock of the operation that enqueued it).
	At      time.Time
	Payload []byte
}

// Lane limits, so that lanes fit index keys in every store.
const (
	MaxEffectLane    = 255
	MaxEffectKind    = 64
	MaxEffectPayload = 4 << 20
)

// OutboxState is where an outbox entry stands.
type OutboxState uint8

const (
	// OutboxPending entries wait for delivery (or are being delivered).
	OutboxPending OutboxState = iota
	// OutboxDelivered entries reached the outside world; Result says where.
	OutboxDelivered
	// OutboxFailed entries were refused for good (a deleted channel, say); Result.Error says why.
	OutboxFailed
)

func (s OutboxState) String() string {
	switch s {
	case OutboxPending:
		return "pending"
	case OutboxDelivered:
		return "delivered"
	case OutboxFailed:
		return "failed"
	}
	return "unknown"
}

// OutboxEntry is an Effect as stored, with its delivery state.
type OutboxEntry struct {
	// ID is assigned by the store, increasing in commit order.
	ID uint64
	Effect
	State OutboxState
	// AttemptedAt is when the first delivery attempt that might have taken effect began; zero if
	// none did. After a crash it tells the deliverer to look for the result, from that time on,
	// before acting again. Attempts counts them.
	AttemptedAt time.Time
	Attempts    int
	Result      OutboxResult
}

// OutboxResult is what a finished delivery left behind.
type OutboxResult struct {
	Channel string
	TS      string
	Error   string
	At      time.Time
}

// ValidEffect reports what is wrong with an effect before it is stored, or nil.
func ValidEffect(e Effect) error {
	switch {
	case e.Kind == "" || len(e.Kind) > MaxEffectKind:
		return Errorf(EINVALID, "An effect needs a kind of at most %d bytes.", MaxEffectKind)
	case len(e.Key) > MaxEffectLane || len(e.Channel) > MaxEffectLane:
		return Errorf(EINVALID, "An effect's ordering lanes are at most %d bytes.", MaxEffectLane)
	case len(e.Payload) > MaxEffectPayload:
		return Errorf(EINVALID, "An effect's payload is at most %d bytes.", MaxEffectPayload)
	}
	return nil
}

// StateReader reads the adapters' own small state (message references, digest slots, markers) and
// the outbox. The domain never uses it; it lives here because both the adapter that uses it and the
// stores that implement it must name the same type.
type StateReader interface {
	// Get returns a copy of bucket/key's value, or nil when there is none.
	Get(bucket, key string) ([]byte, error)
	// Scan visits bucket's keys that start with prefix, in byte order, with copies of their values;
	// fn returning false stops.
	Scan(bucket, prefix string, fn func(key string, val []byte) bool) error
	// Effect returns an outbox entry by ID, and false when there is none (or it was pruned).
	Effect(id uint64) (OutboxEntry, bool, error)
}

// StateTx writes the adapters' state and the outbox in one transaction. Like domain transactions, a
// function given a StateTx may run more than once and must have no effect outside it.
type StateTx interface {
	StateReader
	// Put stores val under bucket/key. Bucket and key are 1 to 1024 bytes.
	Put(bucket, key string, val []byte) error
	// Delete removes bucket/key; a missing key is not an error.
	Delete(bucket, key string) error
	// Enqueue adds effects to the outbox, as Tx.Enqueue does.
	Enqueue(effects ...Effect) error
	// FinishEffect records the outcome of an entry (OutboxDelivered or OutboxFailed) and releases any
	// claim on it. Returns ENOTFOUND for an unknown entry.
	FinishEffect(id uint64, state OutboxState, res OutboxResult) error
}
