package storage

import (
	"context"
	"fmt"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"workbot/domain"
)

// The outbox: side effects owed to Slack, written in the transaction of the change that owes them
// (domain.Tx.Enqueue) and delivered afterwards by the bot. An unfinished entry lives in
// outbox_pending; finishing moves it, with its result, to outbox, where it stays until PruneOutbox
// removes it. Enqueueing is one write, because it happens inside every change.
//
//	outbox_pending/<seq BE>  outboxRecord of an unfinished entry; bucket sequence = last entry ID
//	outbox/<seq BE>          outboxRecord of a finished entry, with its result
//
// A record starts with its kind and lanes, so a claim scan decodes only those of the entries it skips.
//
// Claims (who is delivering what) live in memory: one process owns a bbolt file, so a claim cannot
// outlive the process that holds it, and a crash releases every claim with it.

const outboxRecordV1 byte = 1

type outboxRecord struct {
	Kind        string
	Key         string
	Channel     string
	At          time.Time
	Payload     []byte
	State       uint64
	AttemptedAt time.Time
	Attempts    uint64
	ResChannel  string
	ResTS       string
	ResError    string
	ResAt       time.Time
}

func effectToRecord(e domain.Effect) outboxRecord {
	return outboxRecord{Kind: e.Kind, Key: e.Key, Channel: e.Channel, At: e.At, Payload: e.Payload}
}

func (r outboxRecord) toDomain(id uint64) domain.OutboxEntry {
	return domain.OutboxEntry{
		ID:          id,
		Effect:      domain.Effect{Kind: r.Kind, Key: r.Key, Channel: r.Channel, At: r.At, Payload: r.Payload},
		State:       domain.OutboxState(r.State),
		AttemptedAt: r.AttemptedAt,
		Attempts:    int(r.Attempts),
		Result:      domain.OutboxResult{Channel: r.ResChannel, TS: r.ResTS, Error: r.ResError, At: r.ResAt},
	}
}

func (r outboxRecord) encode() []byte {
	e := newEncoder(64 + len(r.Payload))
	e.str(r.Kind)
	e.str(r.Key)
	e.str(r.Channel)
	e.timestamp(r.At)
	e.str(string(r.Payload))
	e.uvarint(r.State)
	e.timestamp(r.AttemptedAt)
	e.uvarint(r.Attempts)
	e.str(r.ResChannel)
	e.str(r.ResTS)
	e.str(r.ResError)
	e.timestamp(r.ResAt)
	return e.finish(outboxRecordV1)
}

func decodeOutbox(b []byte) (outboxRecord, error) {
	var d decoder
	d.init(b)
	if d.err == nil && d.version != outboxRecordV1 {
		return outboxRecord{}, fmt.Errorf("%w: outbox record version %d is not supported", errCorrupt, d.version)
	}
	r := outboxRecord{
		Kind: d.str(), Key: d.str(), Channel: d.str(), At: d.timestamp(), Payload: []byte(d.str()),
		State: d.uvarint(), AttemptedAt: d.timestamp(), Attempts: d.uvarint(),
		ResChannel: d.str(), ResTS: d.str(), ResError: d.str(), ResAt: d.timestamp(),
	}
	if d.err != nil {
		return outboxRecord{}, fmt.Errorf("outbox: %w", d.err)
	}
	return r, nil
}

// recordLanes reads only the kind and lanes at the front of an encoded outboxRecord.
func recordLanes(b []byte) (key, channel string, err error) {
	var d decoder
	d.init(b)
	if d.err == nil && d.version != outboxRecordV1 {
		return "", "", fmt.Errorf("%w: outbox record version %d is not supported", errCorrupt, d.version)
	}
	_ = d.str()
	key, channel = d.str(), d.str()
	return key, channel, d.err
}

// Enqueue implements domain.Tx.
func (t *txn) Enqueue(effects ...domain.Effect) error {
	if len(effects) == 0 {
		return nil
	}
	pending, err := t.bucket(bucketOutboxPending)
	if err != nil {
		return err
	}
	for _, e := range effects {
		if err := domain.ValidEffect(e); err != nil {
			return err
		}
		id, err := pending.NextSequence()
		if err != nil {
			return err
		}
		if err := pending.Put(seqKey(id), effectToRecord(e).encode()); err != nil {
			return err
		}
	}
	return nil
}

// outboxEntry finds an entry, unfinished or finished.
func (t *txn) outboxEntry(id uint64) (domain.OutboxEntry, bool, error) {
	k := seqKey(id)
	var v []byte
	for _, name := range [][]byte{bucketOutboxPending, bucketOutbox} {
		if b := t.btx.Bucket(name); b != nil {
			if v = b.Get(k); v != nil {
				break
			}
		}
	}
	if v == nil {
		return domain.OutboxEntry{}, false, nil
	}
	r, err := decodeOutbox(v)
	if err != nil {
		return domain.OutboxEntry{}, false, fmt.Errorf("outbox/%d: %w", id, err)
	}
	e := r.toDomain(id)
	e.Payload = append([]byte(nil), e.Payload...)
	return e, true, nil
}

// finishEffect records a delivery's outcome, moving the entry from outbox_pending to outbox.
func (t *txn) finishEffect(id uint64, state domain.OutboxState, res domain.OutboxResult) error {
	if state == domain.OutboxPending {
		return domain.Errorf(domain.EINVALID, "An outbox entry is finished as delivered or failed.")
	}
	pending, err := t.bucket(bucketOutboxPending)
	if err != nil {
		return err
	}
	done, err := t.bucket(bucketOutbox)
	if err != nil {
		return err
	}
	k := seqKey(id)
	v := pending.Get(k)
	if v == nil {
		return domain.Errorf(domain.ENOTFOUND, "There is no unfinished outbox entry %d.", id)
	}
	r, err := decodeOutbox(v)
	if err != nil {
		return fmt.Errorf("outbox/%d: %w", id, err)
	}
	r.State = uint64(state)
	r.ResChannel, r.ResTS, r.ResError, r.ResAt = res.Channel, res.TS, res.Error, res.At
	if err := done.Put(k, r.encode()); err != nil {
		return err
	}
	return pending.Delete(k)
}

// claims tracks which unfinished entries a deliverer holds, so two deliverers never take the same
// entry and an entry's lanes stay blocked while it is in flight.
type claims struct {
	mu sync.Mutex
	by map[uint64]claim
}

type claim struct {
	owner string
	until time.Time
}

// maxClaimScan bounds one ClaimEffects scan, so a huge backlog costs a bounded read per call; entries
// beyond it are reached as the ones before them finish.
const maxClaimScan = 50000

// ClaimEffects returns up to max entries that are ready, oldest first: unfinished, not held by a live
// claim, and with no earlier unfinished entry sharing their Key or Channel. The caller holds them
// until it finishes or releases them, or until lease has passed.
func (db *DB) ClaimEffects(ctx context.Context, owner string, max int, lease time.Duration) ([]domain.OutboxEntry, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if max <= 0 {
		return nil, nil
	}
	db.claims.mu.Lock()
	defer db.claims.mu.Unlock()
	now := time.Now()
	var out []domain.OutboxEntry
	err := db.bolt.View(func(btx *bolt.Tx) error {
		pending := btx.Bucket(bucketOutboxPending)
		if pending == nil {
			return nil
		}
		blockedKey, blockedChan := map[string]bool{}, map[string]bool{}
		c := pending.Cursor()
		scanned := 0
		for k, v := c.First(); k != nil && len(out) < max && scanned < maxClaimScan; k, v = c.Next() {
			scanned++
			id, ok := keySeq(k)
			if !ok {
				return fmt.Errorf("%w: outbox_pending/%x", errCorrupt, k)
			}
			key, channel, err := recordLanes(v)
			if err != nil {
				return fmt.Errorf("outbox_pending/%d: %w", id, err)
			}
			held := false
			if cl, ok := db.claims.by[id]; ok && now.Before(cl.until) {
				held = true
			}
			blocked := (key != "" && blockedKey[key]) || (channel != "" && blockedChan[channel])
			if key != "" {
				blockedKey[key] = true
			}
			if channel != "" {
				blockedChan[channel] = true
			}
			if held || blocked {
				continue
			}
			r, err := decodeOutbox(v)
			if err != nil {
				return fmt.Errorf("outbox_pending/%d: %w", id, err)
			}
			e := r.toDomain(id)
			e.Payload = append([]byte(nil), e.Payload...)
			out = append(out, e)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if db.claims.by == nil {
		db.claims.by = map[uint64]claim{}
	}
	for _, e := range out {
		db.claims.by[e.ID] = claim{owner: owner, until: now.Add(lease)}
	}
	return out, nil
}

// ReleaseEffect gives up owner's claim on an unfinished entry, so it can be claimed again at once.
func (db *DB) ReleaseEffect(_ context.Context, owner string, id uint64) error {
	db.claims.mu.Lock()
	defer db.claims.mu.Unlock()
	if cl, ok := db.claims.by[id]; ok && cl.owner == owner {
		delete(db.claims.by, id)
	}
	return nil
}

// ExtendClaims renews owner's live claims on ids for another lease.
func (db *DB) ExtendClaims(_ context.Context, owner string, ids []uint64, lease time.Duration) error {
	db.claims.mu.Lock()
	defer db.claims.mu.Unlock()
	until := time.Now().Add(lease)
	for _, id := range ids {
		if cl, ok := db.claims.by[id]; ok && cl.owner == owner {
			db.claims.by[id] = claim{owner: owner, until: until}
		}
	}
	return nil
}

func (db *DB) dropClaims(ids []uint64) {
	if len(ids) == 0 {
		return
	}
	db.claims.mu.Lock()
	defer db.claims.mu.Unlock()
	for _, id := range ids {
		delete(db.claims.by, id)
	}
}

// MarkAttempt durably records that a delivery which may take effect is about to start, so that after
// a crash the deliverer looks for its result before acting again. The first attempt's time is kept:
// a search for an earlier attempt's result must start from it. Only the entry's live claimant may
// start an attempt: a deliverer whose lease ran out must not post beside the one that took over.
func (db *DB) MarkAttempt(ctx context.Context, owner string, id uint64, at time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	db.claims.mu.Lock()
	cl, held := db.claims.by[id]
	db.claims.mu.Unlock()
	mine := held && cl.owner == owner && time.Now().Before(cl.until)
	return db.write(func(btx *bolt.Tx) error {
		return CallSafely(func() error {
			box := btx.Bucket(bucketOutboxPending)
			k := seqKey(id)
			v := box.Get(k)
			if v == nil {
				return domain.Errorf(domain.ENOTFOUND, "There is no unfinished outbox entry %d.", id)
			}
			if !mine {
				return domain.Errorf(domain.ECONFLICT, "Outbox entry %d is not claimed by %s.", id, owner)
			}
			r, err := decodeOutbox(v)
			if err != nil {
				return fmt.Errorf("outbox/%d: %w", id, err)
			}
			if r.AttemptedAt.IsZero() {
				r.AttemptedAt = at
			}
			r.Attempts++
			return box.Put(k, r.encode())
		})
	})
}

// OutboxStats reports how many entries are unfinished and when the oldest of them was enqueued.
func (db *DB) OutboxStats(ctx context.Context) (pending int, oldest time.Time, err error) {
	if err := ctx.Err(); err != nil {
		return 0, time.Time{}, err
	}
	err = db.bolt.View(func(btx *bolt.Tx) error {
		p := btx.Bucket(bucketOutboxPending)
		if p == nil {
			return nil
		}
		pending = p.Stats().KeyN
		if k, v := p.Cursor().First(); k != nil {
			r, err := decodeOutbox(v)
			if err != nil {
				return fmt.Errorf("outbox_pending/%x: %w", k, err)
			}
			oldest = r.At
		}
		return nil
	})
	return pending, oldest, err
}

// PruneOutbox deletes finished entries enqueued before before, oldest first, at most limit of them,
// and returns how many it deleted. Unfinished entries are never pruned. An entry finished late may sit
// behind a newer one; it is pruned once every entry enqueued before it is old enough too.
func (db *DB) PruneOutbox(ctx context.Context, before time.Time, limit int) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	n := 0
	err := db.write(func(btx *bolt.Tx) error {
		n = 0
		box := btx.Bucket(bucketOutbox)
		var doomed [][]byte
		c := box.Cursor()
		for k, v := c.First(); k != nil && len(doomed) < limit; k, v = c.Next() {
			r, err := decodeOutbox(v)
			if err != nil {
				return fmt.Errorf("outbox/%x: %w", k, err)
			}
			if !r.At.Before(before) {
				break
			}
			doomed = append(doomed, append([]byte(nil), k...))
		}
		for _, k := range doomed {
			if err := box.Delete(k); err != nil {
				return err
			}
		}
		n = len(doomed)
		return nil
	})
	return n, err
}
